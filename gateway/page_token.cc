#include "gateway/page_token.h"

#include "crypto/dsse.h"
#include "crypto/key_hierarchy.h"

namespace sov::gateway {
namespace {

constexpr std::string_view kVersion = "p1";
// Larger than any cursor a call writes; bounds the work an arbitrary token can cause.
constexpr size_t kMaxTokenSize = 2048;

}  // namespace

void AppendKeyPart(std::string& key, std::string_view part) {
  key += std::to_string(part.size());
  key += ':';
  key += part;
}

std::string PageTokens::Tag(std::string_view call, std::string_view filters,
                            std::string_view cursor) const {
  std::string message = "sov page token v1\n";
  AppendKeyPart(message, call);
  AppendKeyPart(message, filters);
  AppendKeyPart(message, cursor);
  return crypto::KeyedTag(key_, message);
}

std::string PageTokens::Seal(std::string_view call, std::string_view filters,
                             std::string_view cursor) const {
  std::string token(kVersion);
  token += Tag(call, filters, cursor);
  token += cursor;
  return crypto::Base64UrlEncode(token);
}

Result<std::string> PageTokens::Open(std::string_view call, std::string_view filters,
                                     std::string_view token) const {
  const Status refused = InvalidArgument(
      "page_token is not one this server wrote for these filters; pass next_page_token of the "
      "previous response unchanged, with the same filters as the first request");
  if (token.size() > kMaxTokenSize) return refused;
  Result<std::string> bytes = crypto::Base64Decode(token);
  if (!bytes.ok()) return refused;
  std::string_view rest = *bytes;
  if (!rest.starts_with(kVersion) || rest.size() < kVersion.size() + crypto::kKeyedTagSize) {
    return refused;
  }
  rest.remove_prefix(kVersion.size());
  const std::string_view tag = rest.substr(0, crypto::kKeyedTagSize);
  const std::string_view cursor = rest.substr(crypto::kKeyedTagSize);
  if (!crypto::TagsEqual(tag, Tag(call, filters, cursor))) return refused;
  return std::string(cursor);
}

}  // namespace sov::gateway
