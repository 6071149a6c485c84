// Bearer tokens for tenants that cannot use mTLS (CI pipelines, notebooks): "sovt_" followed by
// 32 random bytes in unpadded URL-safe base64 (48 characters in all). The gateway stores only
// "sha256:<hex>" of the whole token string in its tenants file and compares in constant time.
// Called by `sovctl token create`. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace sov::cli {

inline constexpr std::string_view kTokenPrefix = "sovt_";
inline constexpr size_t kTokenRandomBytes = 32;
inline constexpr size_t kTokenLength = 48;  // 5 + 43 base64url characters

// Returns a fresh token from libsodium's CSPRNG; INTERNAL when libsodium cannot start.
Result<std::string> GenerateToken();

// Returns "sha256:<hex>" of `token`, the form the tenants file stores.
std::string TokenHash(std::string_view token);

// Returns true when `name` may name a token in the tenants file: 1 to 64 characters of
// [A-Za-z0-9._-], beginning with a letter or digit (so it needs no YAML quoting).
bool IsValidTokenName(std::string_view name);

// Returns the lines to paste under the tenant in tenants.yaml for a token `name` with `hash`.
std::string TenantsFileEntry(std::string_view name, std::string_view hash);

}  // namespace sov::cli
