// PageTokens: seals the cursor a list call hands out as next_page_token, so that the call takes it
// back only as it was written: for the same call, with the same filters, unedited. A token is
// base64url("p1" || tag || cursor), the tag a 16-byte keyed BLAKE2b (crypto::KeyedTag) over the
// call, the filters and the cursor under a key derived from the master key
// (crypto::DerivePurposeKey "page-tokens"): tokens stay good across restarts and between
// gateways that share the master key, and a client can neither edit a cursor nor make one. The
// cursor itself is readable (it names only where the caller's own listing stopped), never a
// secret. Immutable; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"
#include "crypto/secret_key.h"

namespace sov::gateway {

// Appends `part` to `key` with its length in front, so that no two sequences of parts read
// alike: how the calls spell their filters, and how a tag covers call, filters and cursor.
void AppendKeyPart(std::string& key, std::string_view part);

class PageTokens {
 public:
  explicit PageTokens(crypto::SecretKey key) : key_(std::move(key)) {}

  // The token for `cursor` of `call` (e.g. "ListArtifacts") under `filters` (the request's
  // filters in a canonical form the call chooses).
  std::string Seal(std::string_view call, std::string_view filters, std::string_view cursor) const;
  // The cursor of a token Seal wrote for the same call and filters. INVALID_ARGUMENT otherwise
  // (malformed, edited, written for other filters or another call, or under another master key),
  // with a message that says what to do.
  Result<std::string> Open(std::string_view call, std::string_view filters,
                           std::string_view token) const;

 private:
  std::string Tag(std::string_view call, std::string_view filters, std::string_view cursor) const;

  crypto::SecretKey key_;
};

}  // namespace sov::gateway
