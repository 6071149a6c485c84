#include "crypto/secret_key.h"
#include "crypto/internal/sodium.h"

#include <sodium.h>

#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <string>

namespace sov::crypto {
namespace {


}  // namespace

SecretKey SecretKey::Random() {
  internal::InitSodium();
  SecretKey key;
  randombytes_buf(key.bytes_.data(), key.bytes_.size());
  return key;
}

Result<SecretKey> SecretKey::FromBytes(std::string_view bytes) {
  if (bytes.size() != kSize) {
    return InvalidArgument("secret key must be " + std::to_string(kSize) + " bytes, got " +
                           std::to_string(bytes.size()));
  }
  SecretKey key;
  std::memcpy(key.bytes_.data(), bytes.data(), kSize);
  return key;
}

SecretKey::~SecretKey() { sodium_memzero(bytes_.data(), bytes_.size()); }

bool SecretKey::Equals(const SecretKey& other) const {
  return sodium_memcmp(bytes_.data(), other.bytes_.data(), kSize) == 0;
}

}  // namespace sov::crypto
