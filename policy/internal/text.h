// Small text helpers of the policy loader: edit-distance hints for misspelt names, retention
// ages ("730d", "12h", "unlimited"), and SemVer 2.0 versions with npm-style ranges for the
// validation datasets of release gates ("credit-holdout@^2.0.0"). Internal; pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sov::policy::internal {

// Returns the Levenshtein distance between `a` and `b`.
int EditDistance(std::string_view a, std::string_view b);

// Returns "did you mean `X`?" for the candidate closest to `word` when it is close enough (at
// most 2 edits, or 1 for words under 4 characters), else "expected one of: a, b, c" listing
// the candidates (up to 12), or "" without candidates.
std::string SuggestHint(std::string_view word, std::span<const std::string> candidates);
std::string SuggestHint(std::string_view word, std::span<const std::string_view> candidates);

// Parses a retention age: a positive whole number followed by w, d, h, m or s ("730d"), or
// "unlimited" (returns nullopt). InvalidArgument otherwise.
Result<std::optional<std::chrono::seconds>> ParseAge(std::string_view text);

// A SemVer 2.0 version: MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD].
struct Version {
  uint64_t major = 0, minor = 0, patch = 0;
  std::vector<std::string> prerelease;
};
// Parses a full version; InvalidArgument otherwise.
Result<Version> ParseVersion(std::string_view text);
// Returns <0, 0, >0 as `a` precedes, equals or follows `b` (build metadata ignored).
int CompareVersions(const Version& a, const Version& b);

// An npm-style range: comparator sets joined by "||", each a space-separated list of
// comparators (=, <, <=, >, >=, ^, ~ followed by a version that may be partial: "1", "1.2",
// "1.x", "*"), all of which must hold.
class VersionRange {
 public:
  // Parses a range; "" and "*" match every version. InvalidArgument on bad syntax.
  static Result<VersionRange> Parse(std::string_view text);
  bool Matches(const Version& v) const;

 private:
  enum class Op : uint8_t { kLt, kLe, kGt, kGe, kEq };
  struct Comparator {
    Op op;
    Version version;
  };
  std::vector<std::vector<Comparator>> sets_;
  static Status ParseComparator(std::string_view text, std::vector<Comparator>* out);
};

}  // namespace sov::policy::internal
