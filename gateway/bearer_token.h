// Bearer tokens: "sovt_" followed by the unpadded base64url encoding of 32 random bytes. The
// gateway stores only a token's SHA-256 ("sha256:<hex>" in the tenants file); the token itself
// is shown once to whoever creates it and never logged. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "crypto/sha256.h"

namespace sov::gateway {

inline constexpr std::string_view kBearerTokenPrefix = "sovt_";

// Returns a new random token. Secret: give it to its holder once, store only HashBearerToken.
std::string GenerateBearerToken();

// Returns the SHA-256 of the whole token string, as stored in the tenants file.
crypto::Digest HashBearerToken(std::string_view token);

// Returns true when `token` has the shape of a token: the prefix and 43 base64url characters.
bool IsWellFormedBearerToken(std::string_view token);

}  // namespace sov::gateway
