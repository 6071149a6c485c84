#include "cli/token.h"

#include <sodium.h>

#include <array>
#include <cctype>

#include "crypto/sha256.h"

namespace sov::cli {

Result<std::string> GenerateToken() {
  if (sodium_init() < 0) return Internal("sodium_init failed");
  std::array<unsigned char, kTokenRandomBytes> bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::array<char, sodium_base64_ENCODED_LEN(kTokenRandomBytes, kVariant)> encoded{};
  sodium_bin2base64(encoded.data(), encoded.size(), bytes.data(), bytes.size(), kVariant);
  sodium_memzero(bytes.data(), bytes.size());
  std::string token(kTokenPrefix);
  token += encoded.data();
  sodium_memzero(encoded.data(), encoded.size());
  return token;
}

std::string TokenHash(std::string_view token) { return crypto::Sha256Of(token).ToString(); }

bool IsValidTokenName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  if (!std::isalnum(static_cast<unsigned char>(name.front()))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

std::string TenantsFileEntry(std::string_view name, std::string_view hash) {
  std::string out = "tokens:\n";
  out += "  - name: ";
  out += name;
  out += "\n    sha256: \"";
  out += hash;
  out += "\"\n";
  return out;
}

}  // namespace sov::cli
