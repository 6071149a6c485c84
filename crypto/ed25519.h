// Ed25519 signing keys (libsodium) and their files on disk. Private keys are PEM PKCS#8
// ("-----BEGIN PRIVATE KEY-----", OID 1.3.101.112) and public keys PEM SubjectPublicKeyInfo
// ("-----BEGIN PUBLIC KEY-----"), the formats `openssl pkey` reads and writes;
// docs/crypto.md documents them. Keys are immutable values: safe to share between threads.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sov::crypto {

struct Ed25519PublicKey {
  std::array<uint8_t, 32> bytes{};

  // The key id used in DSSE signatures: "sha256:<hex>" of the 32 raw public-key bytes.
  std::string KeyId() const;
  // Parses 32 raw bytes; INVALID_ARGUMENT otherwise.
  static Result<Ed25519PublicKey> FromBytes(std::string_view raw);

  friend bool operator==(const Ed25519PublicKey&, const Ed25519PublicKey&) = default;
};

class Ed25519PrivateKey {
 public:
  // Returns a fresh random key pair.
  static Ed25519PrivateKey Generate();
  // Returns the key pair for a 32-byte seed (RFC 8032's "secret key"); INVALID_ARGUMENT otherwise.
  static Result<Ed25519PrivateKey> FromSeed(std::string_view seed);

  Ed25519PrivateKey(const Ed25519PrivateKey&) = default;
  Ed25519PrivateKey& operator=(const Ed25519PrivateKey&) = default;
  ~Ed25519PrivateKey();  // wipes the secret

  const Ed25519PublicKey& public_key() const { return public_key_; }
  // The 32-byte seed; never log or print it.
  std::string_view seed() const;

  // Returns the 64-byte detached signature of `message`.
  std::string Sign(std::string_view message) const;

 private:
  Ed25519PrivateKey() = default;
  std::array<uint8_t, 64> secret_{};  // libsodium's seed || public key
  Ed25519PublicKey public_key_;
};

// Returns true when `signature` (64 bytes) is a valid signature of `message` by `key`.
bool Ed25519Verify(const Ed25519PublicKey& key, std::string_view message,
                   std::string_view signature);

// PEM encodings (see the header comment).
std::string EncodePrivateKeyPem(const Ed25519PrivateKey& key);
Result<Ed25519PrivateKey> ParsePrivateKeyPem(std::string_view pem);
std::string EncodePublicKeyPem(const Ed25519PublicKey& key);
Result<Ed25519PublicKey> ParsePublicKeyPem(std::string_view pem);

// Writes the private key to a new file with mode 0600; ALREADY_EXISTS rather than overwrite.
Status WritePrivateKeyFile(const std::string& path, const Ed25519PrivateKey& key);
// Loads a private key file; PERMISSION_DENIED when group or others may access it.
Result<Ed25519PrivateKey> LoadPrivateKeyFile(const std::string& path);
// Writes the public key with mode 0644 (replacing an existing file).
Status WritePublicKeyFile(const std::string& path, const Ed25519PublicKey& key);
Result<Ed25519PublicKey> LoadPublicKeyFile(const std::string& path);

}  // namespace sov::crypto
