// SecretKey: 32 bytes of key material (master, tenant or data key) that wipes itself when
// destroyed and never prints. Immutable after construction, so const access is thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace sov::crypto {

class SecretKey {
 public:
  static constexpr size_t kSize = 32;

  // Returns a key from the operating system's CSPRNG (libsodium randombytes).
  static SecretKey Random();
  // Returns a key holding `bytes`; INVALID_ARGUMENT unless it is exactly kSize bytes long.
  static Result<SecretKey> FromBytes(std::string_view bytes);

  SecretKey(const SecretKey& other) = default;
  SecretKey& operator=(const SecretKey& other) = default;
  ~SecretKey();  // sodium_memzero

  // The raw key bytes; never log or print them.
  std::string_view bytes() const {
    return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()};
  }
  const uint8_t* data() const { return bytes_.data(); }

  // Constant-time comparison.
  bool Equals(const SecretKey& other) const;

 private:
  SecretKey() = default;
  std::array<uint8_t, kSize> bytes_{};
};

}  // namespace sov::crypto
