#include "gateway/bearer_token.h"

#include "crypto/dsse.h"
#include "crypto/secret_key.h"

namespace sov::gateway {
namespace {

constexpr size_t kEncodedLength = 43;  // 32 bytes in unpadded base64

bool IsBase64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

}  // namespace

std::string GenerateBearerToken() {
  crypto::SecretKey random = crypto::SecretKey::Random();
  return std::string(kBearerTokenPrefix) + crypto::Base64UrlEncode(random.bytes());
}

crypto::Digest HashBearerToken(std::string_view token) { return crypto::Sha256Of(token); }

bool IsWellFormedBearerToken(std::string_view token) {
  if (token.size() != kBearerTokenPrefix.size() + kEncodedLength ||
      token.substr(0, kBearerTokenPrefix.size()) != kBearerTokenPrefix) {
    return false;
  }
  for (char c : token.substr(kBearerTokenPrefix.size())) {
    if (!IsBase64UrlChar(c)) return false;
  }
  return true;
}

}  // namespace sov::gateway
