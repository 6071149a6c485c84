// Signed-file attestations: what `sovctl sign-blob` puts in a DSSE envelope and what
// `sovctl verify-blob` checks. The payload is an in-toto Statement v1 whose one subject is the file (its base name and
// sha256) and whose predicate, of type kSignedFilePredicateType, is
//   {"size": <bytes>, "signed_at": "<RFC 3339 UTC>"}.
// Verification accepts any in-toto statement (registry manifests too), not only this predicate.
// Pure functions of their arguments and the files they read: thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "crypto/ed25519.h"
#include "crypto/intoto.h"
#include "crypto/sha256.h"

namespace sov::cli {

inline constexpr std::string_view kSignedFilePredicateType =
    "https://sovereign.dev/attestations/signed-file/v1";

// A file's name (without directories), size and sha256, measured in one pass.
struct FileFacts {
  std::string name;
  uint64_t size = 0;
  crypto::Digest digest;
};

// Streams the regular file at `path` through SHA-256. INVALID_ARGUMENT when it is not a regular
// file; ABORTED when it changed size or modification time while being hashed; file errors name it.
// `on_progress`, when given, is called with the bytes hashed so far after each block.
Result<FileFacts> DescribeFile(const std::string& path,
                               const std::function<void(uint64_t done)>& on_progress = nullptr);

// Returns the statement `sovctl sign-blob` signs for `file` at `signed_at`.
crypto::Statement SignedFileStatement(const FileFacts& file, SystemTime signed_at);

// What a verification found; `error` is empty exactly when `verified` is true.
struct VerificationReport {
  bool verified = false;
  std::vector<std::string> key_ids;  // trusted keys with a valid signature
  std::vector<crypto::ResourceDescriptor> subjects;
  std::string predicate_type;
  std::string matched_subject;  // the subject FILE matched, when a file was checked
  std::string file_digest;      // "sha256:<hex>" of FILE, when a file was checked
  std::string error;
};

// Verifies `envelope_json` (a DSSE envelope of an in-toto statement) against `trusted` keys with
// at least `threshold` distinct valid signatures; when `file` is given, also requires its sha256
// to equal one subject's sha256 digest. Never fails: problems are reported in `error`.
VerificationReport VerifySignedFile(std::string_view envelope_json,
                                    const std::vector<crypto::Ed25519PublicKey>& trusted,
                                    size_t threshold, const std::optional<std::string>& file);

}  // namespace sov::cli
