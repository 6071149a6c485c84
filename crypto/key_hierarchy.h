// The key hierarchy that protects stored artifacts: one master key (a 0600 file), a key per
// tenant derived from it (crypto_kdf, then keyed BLAKE2b over the tenant id), and a random data
// key per artifact, stored only wrapped (XChaCha20-Poly1305-IETF AEAD) under its tenant's key.
// Destroying a wrapped data key crypto-shreds the artifact. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "crypto/secret_key.h"

namespace sov::crypto {

// Creates a new master key file (0600, documented format); ALREADY_EXISTS rather than overwrite.
Result<SecretKey> CreateMasterKeyFile(const std::string& path);
// Loads a master key file; PERMISSION_DENIED when group or others may access it,
// INVALID_ARGUMENT naming the file when its contents are malformed.
Result<SecretKey> LoadMasterKeyFile(const std::string& path);

// Derives the tenant's key encryption key. Distinct tenant ids give independent keys.
SecretKey DeriveTenantKey(const SecretKey& master, std::string_view tenant_id);

// Derives the key of one purpose of the gateway's own, e.g. "page-tokens": independent of every
// tenant key and of every other purpose, and the same wherever the master key is.
SecretKey DerivePurposeKey(const SecretKey& master, std::string_view purpose);

// A 16-byte authentication tag of `message` under `key` (keyed BLAKE2b). Compare tags with
// TagsEqual, never with ==.
inline constexpr size_t kKeyedTagSize = 16;
std::string KeyedTag(const SecretKey& key, std::string_view message);
// Constant-time comparison of two tags (false when their sizes differ).
bool TagsEqual(std::string_view a, std::string_view b);

// Returns a fresh random data key for one artifact.
SecretKey NewDataKey();

// Wraps `data_key` under `tenant_key`, binding `context` (e.g. the artifact id) as associated
// data. The result (nonce || ciphertext || tag) is safe to store.
std::string WrapDataKey(const SecretKey& tenant_key, const SecretKey& data_key,
                        std::string_view context);
// Unwraps a key made by WrapDataKey; DATA_LOSS when the tenant key, context or bytes differ.
Result<SecretKey> UnwrapDataKey(const SecretKey& tenant_key, std::string_view wrapped,
                                std::string_view context);

}  // namespace sov::crypto
