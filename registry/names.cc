#include "registry/names.h"

#include <cstdint>

#include "common/utf8.h"

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
  if (!IsValidUtf8(value)) {
    return InvalidArgument("invalid value of label '" + std::string(key) +
                           "': not valid UTF-8; a value is at most " +
                           std::to_string(kMaxLabelValueLength) + " characters of UTF-8");
  }
  if (const size_t length = CodePoints(value); length > kMaxLabelValueLength) {
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
