// SemVer: artifact versions as SemVer 2.0.0 (semver.org) restricted to what the API accepts: no
// leading "v", no build metadata, at most 128 characters. Parse validates; Compare orders by
// precedence exactly as semver.org section 11 says (numeric core, then a version with a
// pre-release below the same version without one, then pre-release identifiers left to right:
// numeric ones numerically and below alphanumeric ones, alphanumeric ones in ASCII order, and a
// shorter list below a longer one that it prefixes). Values; pure functions; thread-safe.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sov::registry {

inline constexpr size_t kMaxVersionLength = 128;

struct SemVer {
  uint64_t major = 0;
  uint64_t minor = 0;
  uint64_t patch = 0;
  std::vector<std::string> prerelease;  // the dot-separated identifiers after '-'

  // Parses `text`. INVALID_ARGUMENT quoting it and naming the rule broken: empty, too long, a
  // leading 'v', build metadata ('+'), a missing or non-numeric core part, a leading zero in a
  // numeric identifier, an empty identifier or a character outside [0-9A-Za-z-], a core number
  // above 2^64 - 1.
  static Result<SemVer> Parse(std::string_view text);

  // Returns the canonical text; Parse(v.ToString()) == v.
  std::string ToString() const;

  // Equality of precedence; without build metadata that is equality of the text.
  friend bool operator==(const SemVer&, const SemVer&) = default;
  friend std::strong_ordering operator<=>(const SemVer& a, const SemVer& b);
};

// Returns OK when `text` is a valid version (SemVer::Parse succeeds); its error otherwise.
Status ValidateVersion(std::string_view text);

// Compares two version texts by precedence: negative, zero or positive as a <, =, > b.
// INVALID_ARGUMENT when either is not a valid version.
Result<int> CompareVersions(std::string_view a, std::string_view b);

}  // namespace sov::registry
