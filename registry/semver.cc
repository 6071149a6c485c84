#include "registry/semver.h"

#include <algorithm>

namespace sov::registry {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentifierChar(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}
bool AllDigits(std::string_view s) { return std::all_of(s.begin(), s.end(), IsDigit); }

Status BadVersion(std::string_view text, std::string_view why) {
  return InvalidArgument("invalid version '" + std::string(text) + "': " + std::string(why) +
                         "; expected a SemVer 2.0.0 version without build metadata, e.g. "
                         "1.4.0 or 2.0.0-rc.1");
}

// Parses one of MAJOR, MINOR, PATCH: digits, no leading zero, fits in 64 bits.
Status ParseCorePart(std::string_view text, std::string_view part, std::string_view what,
                     uint64_t& out) {
  if (part.empty()) return BadVersion(text, std::string(what) + " is missing");
  if (!AllDigits(part)) return BadVersion(text, std::string(what) + " must be a number");
  if (part.size() > 1 && part[0] == '0') {
    return BadVersion(text, std::string(what) + " has a leading zero");
  }
  uint64_t value = 0;
  for (char c : part) {
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      return BadVersion(text, std::string(what) + " is too large (at most 2^64 - 1)");
    }
    value = value * 10 + digit;
  }
  out = value;
  return OkStatus();
}

// Compares numeric identifiers without overflow: without leading zeros, the longer is larger.
int CompareNumeric(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

// semver.org 11.4.1 to 11.4.3 for one pair of pre-release identifiers.
int CompareIdentifiers(std::string_view a, std::string_view b) {
  bool a_numeric = AllDigits(a);
  bool b_numeric = AllDigits(b);
  if (a_numeric && b_numeric) return CompareNumeric(a, b);
  if (a_numeric != b_numeric) return a_numeric ? -1 : 1;
  int c = a.compare(b);  // ASCII order: std::string compares as unsigned char
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace

Result<SemVer> SemVer::Parse(std::string_view text) {
  if (text.empty()) return BadVersion(text, "empty");
  if (text.size() > kMaxVersionLength) {
    return InvalidArgument("invalid version '" + std::string(text.substr(0, 32)) +
                           "...': longer than " + std::to_string(kMaxVersionLength) +
                           " characters");
  }
  if (text[0] == 'v' || text[0] == 'V') return BadVersion(text, "no leading 'v' is allowed");
  if (text.find('+') != std::string_view::npos) {
    return BadVersion(text, "build metadata ('+...') is not allowed");
  }

  std::string_view core = text;
  std::string_view pre;
  bool has_pre = false;
  if (size_t dash = text.find('-'); dash != std::string_view::npos) {
    core = text.substr(0, dash);
    pre = text.substr(dash + 1);
    has_pre = true;
  }

  SemVer v;
  size_t dot1 = core.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : core.find('.', dot1 + 1);
  if (dot1 == std::string_view::npos || dot2 == std::string_view::npos ||
      core.find('.', dot2 + 1) != std::string_view::npos) {
    return BadVersion(text, "the core must be MAJOR.MINOR.PATCH");
  }
  SOV_RETURN_IF_ERROR(ParseCorePart(text, core.substr(0, dot1), "MAJOR", v.major));
  SOV_RETURN_IF_ERROR(ParseCorePart(text, core.substr(dot1 + 1, dot2 - dot1 - 1), "MINOR", v.minor));
  SOV_RETURN_IF_ERROR(ParseCorePart(text, core.substr(dot2 + 1), "PATCH", v.patch));

  if (has_pre) {
    if (pre.empty()) return BadVersion(text, "empty pre-release after '-'");
    size_t start = 0;
    while (true) {
      size_t dot = pre.find('.', start);
      std::string_view id = pre.substr(start, dot == std::string_view::npos ? pre.npos : dot - start);
      if (id.empty()) return BadVersion(text, "empty pre-release identifier");
      if (!std::all_of(id.begin(), id.end(), IsIdentifierChar)) {
        return BadVersion(text, "pre-release identifier '" + std::string(id) +
                                    "' has a character outside [0-9A-Za-z-]");
      }
      if (AllDigits(id) && id.size() > 1 && id[0] == '0') {
        return BadVersion(text, "numeric pre-release identifier '" + std::string(id) +
                                    "' has a leading zero");
      }
      v.prerelease.emplace_back(id);
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
  }
  return v;
}

std::string SemVer::ToString() const {
  std::string out = std::to_string(major) + "." + std::to_string(minor) + "." +
                    std::to_string(patch);
  for (size_t i = 0; i < prerelease.size(); ++i) {
    out += i == 0 ? '-' : '.';
    out += prerelease[i];
  }
  return out;
}

std::strong_ordering operator<=>(const SemVer& a, const SemVer& b) {
  if (auto c = a.major <=> b.major; c != 0) return c;
  if (auto c = a.minor <=> b.minor; c != 0) return c;
  if (auto c = a.patch <=> b.patch; c != 0) return c;
  // 11.3: a pre-release version has lower precedence than the normal version.
  if (a.prerelease.empty() != b.prerelease.empty()) {
    return a.prerelease.empty() ? std::strong_ordering::greater : std::strong_ordering::less;
  }
  size_t n = std::min(a.prerelease.size(), b.prerelease.size());
  for (size_t i = 0; i < n; ++i) {
    int c = CompareIdentifiers(a.prerelease[i], b.prerelease[i]);
    if (c != 0) return c < 0 ? std::strong_ordering::less : std::strong_ordering::greater;
  }
  // 11.4.4: a larger set of identifiers has higher precedence when all before are equal.
  return a.prerelease.size() <=> b.prerelease.size();
}

Status ValidateVersion(std::string_view text) { return SemVer::Parse(text).status(); }

Result<int> CompareVersions(std::string_view a, std::string_view b) {
  SOV_ASSIGN_OR_RETURN(SemVer va, SemVer::Parse(a));
  SOV_ASSIGN_OR_RETURN(SemVer vb, SemVer::Parse(b));
  auto c = va <=> vb;
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace sov::registry
