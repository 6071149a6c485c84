// What sovctl checks before it trusts an artifact: the registry's signature on its manifest
// (a DSSE envelope of an in-toto Statement v1 with the manifest predicate), that the statement's
// subject is the record's name and digest, that the record's manifest_digest is the payload's
// SHA-256, and, for `sovctl verify`, the publishers' signatures, the stage, and a local copy.
// `sovctl pull` runs the manifest checks before it writes a byte and checks the bytes against
// the verified digest at the end. Each check is reported separately so that `sovctl verify` can
// print all of them. Pure functions: thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "crypto/ed25519.h"
#include "crypto/intoto.h"
#include "sov/v1/artifact.pb.h"

namespace sov::cli {

inline constexpr std::string_view kManifestPredicateType =
    "https://sovereign.dev/attestations/manifest/v1";

// One check and its outcome; `detail` says what was found either way.
struct ArtifactCheck {
  std::string name;  // "registry signature", "subject", ...
  bool ok = false;
  std::string detail;
};

// The outcome of the manifest checks.
struct ManifestVerification {
  std::vector<ArtifactCheck> checks;
  std::vector<std::string> registry_key_ids;  // registry keys whose signature verified
  std::optional<crypto::Statement> statement;  // once the signature verified

  // Returns true when every check passed.
  bool ok() const;
  // Returns "CHECK: DETAIL" of the first failed check; empty when all passed.
  std::string FirstFailure() const;
};

// Checks `manifest` against the record `artifact` with the trusted registry keys: "registry
// signature" (at least one trusted key signed it, payload type in-toto), "statement" (the
// manifest predicate type), "subject" (a subject named the artifact's name, or name@version,
// with its sha256 digest) and "manifest digest" (when the record gives one). Checks after a
// failed signature are not run: an unsigned payload says nothing.
ManifestVerification VerifyManifest(const v1::Artifact& artifact, const v1::DsseEnvelope& manifest,
                                     const std::vector<crypto::Ed25519PublicKey>& registry_keys);

// A publisher key sovctl trusts for `verify`: from --pub files, or listed by the gateway.
struct PublisherKey {
  crypto::Ed25519PublicKey key;
  std::string owner;  // tenant id, or the file it came from
  v1::KeyState state = v1::KEY_STATE_ACTIVE;
};

// Checks the manifest's publisher signatures: every signature by a known publisher key must
// verify; signatures by revoked keys do not count; each signature the record lists (role
// PUBLISHER, key not revoked) whose key is known must be in the manifest and verify; and at
// least `threshold` distinct publisher keys must have valid signatures. `publishers` is keyed by
// key id. Returns the "publisher signatures" check; `valid_key_ids` receives the keys counted.
ArtifactCheck CheckPublisherSignatures(const v1::Artifact& artifact,
                                       const v1::DsseEnvelope& manifest,
                                       const std::map<std::string, PublisherKey>& publishers,
                                       size_t threshold,
                                       std::vector<std::string>* valid_key_ids = nullptr);

// The "stage" check: passes for pending, validating and released (saying which), fails for
// rejected, revoked and erased with the last recorded reason.
ArtifactCheck CheckStage(const v1::Artifact& artifact);

// The "file" check: `file_digest` ("sha256:<hex>" of a local copy named `path`) must equal the
// record's digest.
ArtifactCheck CheckFileDigest(const v1::Artifact& artifact, const std::string& path,
                              const std::string& file_digest);

}  // namespace sov::cli
