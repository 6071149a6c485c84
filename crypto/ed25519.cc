#include "crypto/ed25519.h"
#include "crypto/internal/sodium.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "common/file.h"
#include "crypto/sha256.h"

namespace sov::crypto {
namespace {


// RFC 8410 encodings are fixed-length for Ed25519, so encoding is a constant DER prefix followed
// by the raw key: PKCS#8 v1 PrivateKeyInfo { version 0, AlgorithmIdentifier { 1.3.101.112 },
// OCTET STRING { OCTET STRING seed } } and SubjectPublicKeyInfo { AlgorithmIdentifier
// { 1.3.101.112 }, BIT STRING public key }. This is byte-for-byte what OpenSSL writes.
constexpr uint8_t kPkcs8Prefix[] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                    0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
constexpr uint8_t kSpkiPrefix[] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                   0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

// Returns the PEM armour of `der` with 64-character lines. The caller wipes `der`; the base64
// scratch buffer is wiped here because for private keys it is the secret in another form.
std::string Pem(std::string_view label, const uint8_t* der, size_t der_len) {
  constexpr size_t kMaxDer = 64;
  assert(der_len <= kMaxDer);
  char b64[sodium_base64_ENCODED_LEN(kMaxDer, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(b64, sizeof b64, der, der_len, sodium_base64_VARIANT_ORIGINAL);
  std::string_view body(b64);
  std::string out;
  out.reserve(2 * (label.size() + 16) + body.size() + body.size() / 64 + 2);
  out.append("-----BEGIN ").append(label).append("-----\n");
  for (size_t i = 0; i < body.size(); i += 64) {
    out.append(body.substr(i, 64)).push_back('\n');
  }
  out.append("-----END ").append(label).append("-----\n");
  sodium_memzero(b64, sizeof b64);
  return out;
}

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* pkey) const { EVP_PKEY_free(pkey); }
};

// Returns the reason of the oldest queued OpenSSL error and clears the thread's queue, so that a
// parse failure leaves nothing behind for an unrelated later call to trip over.
std::string TakeOpenSslError() {
  unsigned long err = ERR_get_error();
  char reason[256] = "no detail";
  if (err != 0) ERR_error_string_n(err, reason, sizeof reason);
  ERR_clear_error();
  return reason;
}

// Refuses encrypted PEM instead of letting OpenSSL prompt on the terminal.
int NoPassphrase(char*, int, int, void*) { return -1; }

Result<std::unique_ptr<BIO, BioFree>> ReadOnlyBio(std::string_view pem) {
  if (pem.size() > static_cast<size_t>(INT32_MAX)) return InvalidArgument("PEM input too large");
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Internal("BIO_new_mem_buf failed: " + TakeOpenSslError());
  return bio;
}

}  // namespace

std::string Ed25519PublicKey::KeyId() const {
  return Sha256Of(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()))
      .ToString();
}

Result<Ed25519PublicKey> Ed25519PublicKey::FromBytes(std::string_view raw) {
  Ed25519PublicKey key;
  if (raw.size() != key.bytes.size()) {
    return InvalidArgument("Ed25519 public key must be 32 bytes, got " +
                           std::to_string(raw.size()));
  }
  std::memcpy(key.bytes.data(), raw.data(), key.bytes.size());
  return key;
}

Ed25519PrivateKey Ed25519PrivateKey::Generate() {
  internal::InitSodium();
  Ed25519PrivateKey key;
  crypto_sign_keypair(key.public_key_.bytes.data(), key.secret_.data());
  return key;
}

Result<Ed25519PrivateKey> Ed25519PrivateKey::FromSeed(std::string_view seed) {
  if (seed.size() != crypto_sign_SEEDBYTES) {
    return InvalidArgument("Ed25519 seed must be 32 bytes, got " + std::to_string(seed.size()));
  }
  internal::InitSodium();
  Ed25519PrivateKey key;
  if (crypto_sign_seed_keypair(key.public_key_.bytes.data(), key.secret_.data(),
                               reinterpret_cast<const unsigned char*>(seed.data())) != 0) {
    return Internal("crypto_sign_seed_keypair failed");
  }
  return key;
}

Ed25519PrivateKey::~Ed25519PrivateKey() { sodium_memzero(secret_.data(), secret_.size()); }

std::string_view Ed25519PrivateKey::seed() const {
  return {reinterpret_cast<const char*>(secret_.data()), crypto_sign_SEEDBYTES};
}

std::string Ed25519PrivateKey::Sign(std::string_view message) const {
  std::string signature(crypto_sign_BYTES, '\0');
  // crypto_sign_detached cannot fail for a well-formed secret key, which this class guarantees.
  int rc = crypto_sign_detached(reinterpret_cast<unsigned char*>(signature.data()), nullptr,
                                reinterpret_cast<const unsigned char*>(message.data()),
                                message.size(), secret_.data());
  assert(rc == 0);
  (void)rc;
  return signature;
}

bool Ed25519Verify(const Ed25519PublicKey& key, std::string_view message,
                   std::string_view signature) {
  if (signature.size() != crypto_sign_BYTES) return false;
  internal::InitSodium();
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), key.bytes.data()) == 0;
}

std::string EncodePrivateKeyPem(const Ed25519PrivateKey& key) {
  uint8_t der[sizeof kPkcs8Prefix + crypto_sign_SEEDBYTES];
  std::memcpy(der, kPkcs8Prefix, sizeof kPkcs8Prefix);
  std::memcpy(der + sizeof kPkcs8Prefix, key.seed().data(), crypto_sign_SEEDBYTES);
  std::string pem = Pem("PRIVATE KEY", der, sizeof der);
  sodium_memzero(der, sizeof der);
  return pem;
}

Result<Ed25519PrivateKey> ParsePrivateKeyPem(std::string_view pem) {
  SOV_ASSIGN_OR_RETURN(auto bio, ReadOnlyBio(pem));
  // OpenSSL's reader accepts every PKCS#8 form (v1, and v2 with the public key attached).
  std::unique_ptr<EVP_PKEY, PkeyFree> pkey(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!pkey) {
    return InvalidArgument("not an unencrypted PEM PKCS#8 private key (" + TakeOpenSslError() +
                           ")");
  }
  if (!EVP_PKEY_is_a(pkey.get(), "ED25519")) {
    ERR_clear_error();
    return InvalidArgument(std::string("PEM private key is ") + EVP_PKEY_get0_type_name(pkey.get()) +
                           ", not Ed25519");
  }
  uint8_t seed[crypto_sign_SEEDBYTES];
  size_t seed_len = sizeof seed;
  if (EVP_PKEY_get_raw_private_key(pkey.get(), seed, &seed_len) != 1 ||
      seed_len != sizeof seed) {
    sodium_memzero(seed, sizeof seed);
    return InvalidArgument("cannot extract Ed25519 private key (" + TakeOpenSslError() + ")");
  }
  auto key = Ed25519PrivateKey::FromSeed(
      std::string_view(reinterpret_cast<const char*>(seed), sizeof seed));
  sodium_memzero(seed, sizeof seed);
  return key;
}

std::string EncodePublicKeyPem(const Ed25519PublicKey& key) {
  uint8_t der[sizeof kSpkiPrefix + 32];
  std::memcpy(der, kSpkiPrefix, sizeof kSpkiPrefix);
  std::memcpy(der + sizeof kSpkiPrefix, key.bytes.data(), key.bytes.size());
  return Pem("PUBLIC KEY", der, sizeof der);
}

Result<Ed25519PublicKey> ParsePublicKeyPem(std::string_view pem) {
  SOV_ASSIGN_OR_RETURN(auto bio, ReadOnlyBio(pem));
  std::unique_ptr<EVP_PKEY, PkeyFree> pkey(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!pkey) {
    return InvalidArgument("not a PEM SubjectPublicKeyInfo public key (" + TakeOpenSslError() +
                           ")");
  }
  if (!EVP_PKEY_is_a(pkey.get(), "ED25519")) {
    ERR_clear_error();
    return InvalidArgument(std::string("PEM public key is ") + EVP_PKEY_get0_type_name(pkey.get()) +
                           ", not Ed25519");
  }
  Ed25519PublicKey key;
  size_t len = key.bytes.size();
  if (EVP_PKEY_get_raw_public_key(pkey.get(), key.bytes.data(), &len) != 1 ||
      len != key.bytes.size()) {
    return InvalidArgument("cannot extract Ed25519 public key (" + TakeOpenSslError() + ")");
  }
  return key;
}

Status WritePrivateKeyFile(const std::string& path, const Ed25519PrivateKey& key) {
  std::string pem = EncodePrivateKeyPem(key);
  Status status = WriteNewFile(path, pem, 0600);
  sodium_memzero(pem.data(), pem.size());
  return status;
}

Result<Ed25519PrivateKey> LoadPrivateKeyFile(const std::string& path) {
  SOV_ASSIGN_OR_RETURN(std::string pem, ReadPrivateFile(path));
  auto key = ParsePrivateKeyPem(pem);
  sodium_memzero(pem.data(), pem.size());
  if (!key.ok()) return key.status().WithContext(path);
  return key;
}

Status WritePublicKeyFile(const std::string& path, const Ed25519PublicKey& key) {
  return WriteFileAtomic(path, EncodePublicKeyPem(key), 0644);
}

Result<Ed25519PublicKey> LoadPublicKeyFile(const std::string& path) {
  SOV_ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  auto key = ParsePublicKeyPem(pem);
  if (!key.ok()) return key.status().WithContext(path);
  return key;
}

}  // namespace sov::crypto
