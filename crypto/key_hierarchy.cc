#include "crypto/key_hierarchy.h"
#include "crypto/internal/sodium.h"

#include <sodium.h>

#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/file.h"

namespace sov::crypto {
namespace {

// Master key file (docs/crypto.md): the line "sov-master-key-v1", then the 32 key bytes in
// standard padded base64 (44 characters) on one line, each line ending in "\n" (the last newline
// may be missing on load). Nothing else.
constexpr std::string_view kMasterKeyHeader = "sov-master-key-v1\n";
constexpr int kBase64Variant = sodium_base64_VARIANT_ORIGINAL;
constexpr size_t kBase64KeyLen = sodium_base64_ENCODED_LEN(SecretKey::kSize, kBase64Variant) - 1;

// Tenant keys: crypto_kdf subkey 1 of the master under this context, then keyed BLAKE2b-256 of
// the tenant id. A context is exactly crypto_kdf_CONTEXTBYTES (8) characters.
constexpr char kTenantKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "sovtenan";
constexpr uint64_t kKdfSubkeyId = 1;  // the subkey of every context
// Keys for the gateway's own purposes come from another context, so that no purpose string can
// yield a tenant's key.
constexpr char kPurposeKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "sovpurps";

constexpr size_t kNonceSize = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagSize = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr size_t kWrappedSize = kNonceSize + SecretKey::kSize + kTagSize;
static_assert(kNonceSize == 24 && kTagSize == 16 && kWrappedSize == 72,
              "the documented wrapped-key format fixes these sizes");
static_assert(crypto_kdf_KEYBYTES == SecretKey::kSize);


// Failures that cannot happen for valid sizes (which the static_asserts and types guarantee)
// leave the process unable to keep its crypto promises, so they abort rather than return.
void CheckSodium(int rc, const char* call) {
  if (rc == 0) return;
  std::fprintf(stderr, "sovereign: %s failed\n", call);
  std::abort();
}

// Decodes the contents of a master key file. Messages never quote the contents.
Result<SecretKey> ParseMasterKey(std::string_view text) {
  if (text.substr(0, kMasterKeyHeader.size()) != kMasterKeyHeader) {
    return InvalidArgument("not a Sovereign master key file (the first line must be \"" +
                           std::string(kMasterKeyHeader.substr(0, kMasterKeyHeader.size() - 1)) +
                           "\")");
  }
  std::string_view body = text.substr(kMasterKeyHeader.size());
  // The final newline may be missing (a key pasted with `printf %s`), nothing else may vary.
  if (body.size() == kBase64KeyLen + 1 && body.back() == '\n') body.remove_suffix(1);
  if (body.size() != kBase64KeyLen) {
    return InvalidArgument("malformed master key file: the second line must be " +
                           std::to_string(kBase64KeyLen) +
                           " base64 characters encoding 32 bytes, and nothing may follow it");
  }
  uint8_t raw[SecretKey::kSize];
  size_t raw_len = 0;
  const char* end = nullptr;
  int rc = sodium_base642bin(raw, sizeof raw, body.data(), kBase64KeyLen, nullptr, &raw_len,
                             &end, kBase64Variant);
  if (rc != 0 || raw_len != sizeof raw || end != body.data() + kBase64KeyLen) {
    sodium_memzero(raw, sizeof raw);
    return InvalidArgument("malformed master key file: the second line is not base64 of 32 bytes");
  }
  auto key = SecretKey::FromBytes(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
  sodium_memzero(raw, sizeof raw);
  return key;
}

}  // namespace

Result<SecretKey> CreateMasterKeyFile(const std::string& path) {
  SecretKey key = SecretKey::Random();
  char b64[kBase64KeyLen + 1];
  sodium_bin2base64(b64, sizeof b64, key.data(), SecretKey::kSize, kBase64Variant);
  std::string contents;
  contents.reserve(kMasterKeyHeader.size() + kBase64KeyLen + 1);
  contents.append(kMasterKeyHeader).append(b64, kBase64KeyLen).push_back('\n');
  sodium_memzero(b64, sizeof b64);
  Status status = WriteNewFile(path, contents, 0600);
  sodium_memzero(contents.data(), contents.size());
  if (!status.ok()) return status;
  return key;
}

Result<SecretKey> LoadMasterKeyFile(const std::string& path) {
  SOV_ASSIGN_OR_RETURN(std::string contents, ReadPrivateFile(path));
  auto key = ParseMasterKey(contents);
  sodium_memzero(contents.data(), contents.size());
  if (!key.ok()) return key.status().WithContext(path);
  return key;
}

namespace {

// crypto_kdf subkey `(context, 1)` of the master key, then keyed BLAKE2b over `label`.
SecretKey DeriveLabelledKey(const SecretKey& master, const char* context, std::string_view label) {
  internal::InitSodium();
  uint8_t subkey[crypto_kdf_KEYBYTES];
  CheckSodium(crypto_kdf_derive_from_key(subkey, sizeof subkey, kKdfSubkeyId, context,
                                         master.data()),
              "crypto_kdf_derive_from_key");
  uint8_t derived[SecretKey::kSize];
  CheckSodium(crypto_generichash(derived, sizeof derived,
                                 reinterpret_cast<const unsigned char*>(label.data()),
                                 label.size(), subkey, sizeof subkey),
              "crypto_generichash");
  sodium_memzero(subkey, sizeof subkey);
  auto key = SecretKey::FromBytes(
      std::string_view(reinterpret_cast<const char*>(derived), sizeof derived));
  sodium_memzero(derived, sizeof derived);
  return std::move(key).value();
}

}  // namespace

SecretKey DeriveTenantKey(const SecretKey& master, std::string_view tenant_id) {
  return DeriveLabelledKey(master, kTenantKdfContext, tenant_id);
}

SecretKey DerivePurposeKey(const SecretKey& master, std::string_view purpose) {
  return DeriveLabelledKey(master, kPurposeKdfContext, purpose);
}

std::string KeyedTag(const SecretKey& key, std::string_view message) {
  internal::InitSodium();
  unsigned char tag[kKeyedTagSize];
  CheckSodium(crypto_generichash(tag, sizeof tag,
                                 reinterpret_cast<const unsigned char*>(message.data()),
                                 message.size(), key.data(), SecretKey::kSize),
              "crypto_generichash");
  return std::string(reinterpret_cast<const char*>(tag), sizeof tag);
}

bool TagsEqual(std::string_view a, std::string_view b) {
  internal::InitSodium();
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

SecretKey NewDataKey() { return SecretKey::Random(); }

std::string WrapDataKey(const SecretKey& tenant_key, const SecretKey& data_key,
                        std::string_view context) {
  internal::InitSodium();
  std::string wrapped(kWrappedSize, '\0');
  auto* out = reinterpret_cast<unsigned char*>(wrapped.data());
  // 24-byte random nonces make collisions negligible for any number of wraps under one key.
  randombytes_buf(out, kNonceSize);
  unsigned long long written = 0;
  CheckSodium(crypto_aead_xchacha20poly1305_ietf_encrypt(
                  out + kNonceSize, &written, data_key.data(), SecretKey::kSize,
                  reinterpret_cast<const unsigned char*>(context.data()), context.size(),
                  nullptr, out, tenant_key.data()),
              "crypto_aead_xchacha20poly1305_ietf_encrypt");
  assert(written == SecretKey::kSize + kTagSize);
  return wrapped;
}

Result<SecretKey> UnwrapDataKey(const SecretKey& tenant_key, std::string_view wrapped,
                                std::string_view context) {
  if (wrapped.size() != kWrappedSize) {
    return DataLoss("wrapped data key must be " + std::to_string(kWrappedSize) + " bytes, got " +
                    std::to_string(wrapped.size()));
  }
  internal::InitSodium();
  const auto* in = reinterpret_cast<const unsigned char*>(wrapped.data());
  uint8_t raw[SecretKey::kSize];
  unsigned long long raw_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          raw, &raw_len, nullptr, in + kNonceSize, kWrappedSize - kNonceSize,
          reinterpret_cast<const unsigned char*>(context.data()), context.size(), in,
          tenant_key.data()) != 0 ||
      raw_len != sizeof raw) {
    sodium_memzero(raw, sizeof raw);
    return DataLoss(
        "wrapped data key does not authenticate (wrong tenant key or context, or corrupted)");
  }
  auto key = SecretKey::FromBytes(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
  sodium_memzero(raw, sizeof raw);
  return key;
}

}  // namespace sov::crypto
