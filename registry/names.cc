#include "registry/names.h"

#include <cstdint>

namespace sov::registry {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsNameSeparator(char c) { return c == '.' || c == '_' || c == '-'; }

// Quotes a value for an error message, shortened so that a huge input does not make a huge
// message.
std::string Quote(std::string_view value) {
  constexpr size_t kMax = 80;
  if (value.size() <= kMax) return "'" + std::string(value) + "'";
  return "'" + std::string(value.substr(0, kMax)) + "...' (" + std::to_string(value.size()) +
         " bytes)";
}

Status BadName(std::string_view name, std::string_view why) {
  return InvalidArgument("invalid artifact name " + Quote(name) + ": " + std::string(why) +
                         "; a name is \"<owner tenant>/<path>\" of '/'-separated segments of "
                         "lower-case letters and digits joined by single '.', '_' or '-', at most " +
                         std::to_string(kMaxNameLength) +
                         " characters, e.g. \"acme-ml/fraud/classifier\"");
}

Status ValidateSegment(std::string_view name, std::string_view segment) {
  if (segment.empty()) return BadName(name, "empty segment");
  if (!IsLowerAlnum(segment.front()) || !IsLowerAlnum(segment.back())) {
    return BadName(name, "segment " + Quote(segment) + " must start and end with a letter or digit");
  }
  for (size_t i = 0; i < segment.size(); ++i) {
    char c = segment[i];
    if (IsLowerAlnum(c)) continue;
    if (!IsNameSeparator(c)) {
      return BadName(name, "segment " + Quote(segment) + " contains '" + std::string(1, c) + "'");
    }
    if (IsNameSeparator(segment[i + 1])) {  // safe: the last character is alphanumeric
      return BadName(name, "segment " + Quote(segment) + " has two separators in a row");
    }
  }
  return OkStatus();
}

// Counts code points of valid UTF-8 (RFC 3629: shortest form, no surrogates, <= U+10FFFF);
// returns -1 at the first invalid sequence.
int64_t Utf8Length(std::string_view s) {
  int64_t count = 0;
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<uint8_t>(s[i]);
    size_t n;
    uint32_t cp;
    if (b < 0x80) {
      n = 1;
      cp = b;
    } else if ((b & 0xE0) == 0xC0) {
      n = 2;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      n = 3;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      n = 4;
      cp = b & 0x07;
    } else {
      return -1;
    }
    if (i + n > s.size()) return -1;
    for (size_t k = 1; k < n; ++k) {
      auto c = static_cast<uint8_t>(s[i + k]);
      if ((c & 0xC0) != 0x80) return -1;
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
    i += n;
    ++count;
  }
  return count;
}

}  // namespace

Status ValidateArtifactName(std::string_view name) {
  if (name.empty()) return BadName(name, "empty");
  if (name.size() > kMaxNameLength) {
    return BadName(name, "longer than " + std::to_string(kMaxNameLength) + " characters");
  }
  size_t segments = 0;
  size_t start = 0;
  while (true) {
    size_t slash = name.find('/', start);
    std::string_view segment =
        name.substr(start, slash == std::string_view::npos ? name.npos : slash - start);
    SOV_RETURN_IF_ERROR(ValidateSegment(name, segment));
    ++segments;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (segments < 2) return BadName(name, "a path after the owner tenant is required");
  return OkStatus();
}

std::string_view OwnerTenantOf(std::string_view name) {
  return name.substr(0, name.find('/'));
}

Status ValidateLabelKey(std::string_view key) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument("invalid label key " + Quote(key) + ": " + std::string(why) +
                           "; a key is 1 to " + std::to_string(kMaxLabelKeyLength) +
                           " characters of [a-z0-9._/-] that start and end with a lower-case "
                           "letter or digit");
  };
  if (key.empty()) return bad("empty");
  if (key.size() > kMaxLabelKeyLength) return bad("too long");
  for (char c : key) {
    if (!IsLowerAlnum(c) && c != '.' && c != '_' && c != '/' && c != '-') {
      return bad("contains '" + std::string(1, c) + "'");
    }
  }
  if (!IsLowerAlnum(key.front()) || !IsLowerAlnum(key.back())) {
    return bad("must start and end with a letter or digit");
  }
  return OkStatus();
}

Status ValidateLabelValue(std::string_view key, std::string_view value) {
  int64_t length = Utf8Length(value);
  if (length < 0) {
    return InvalidArgument("invalid value of label '" + std::string(key) +
                           "': not valid UTF-8; a value is at most " +
                           std::to_string(kMaxLabelValueLength) + " characters of UTF-8");
  }
  if (length > static_cast<int64_t>(kMaxLabelValueLength)) {
    return InvalidArgument("invalid value of label '" + std::string(key) + "' " + Quote(value) +
                           ": " + std::to_string(length) + " characters; a value is at most " +
                           std::to_string(kMaxLabelValueLength) + " characters of UTF-8");
  }
  return OkStatus();
}

Status ValidateLabels(const std::map<std::string, std::string>& labels) {
  if (labels.size() > kMaxLabels) {
    return InvalidArgument("too many labels: " + std::to_string(labels.size()) + " (at most " +
                           std::to_string(kMaxLabels) + ")");
  }
  for (const auto& [key, value] : labels) {
    SOV_RETURN_IF_ERROR(ValidateLabelKey(key));
    SOV_RETURN_IF_ERROR(ValidateLabelValue(key, value));
  }
  return OkStatus();
}

}  // namespace sov::registry
