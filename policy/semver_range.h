// SemVerRange: the npm-style version ranges that release gates put on their validation datasets
// (`credit-holdout@^2.0.0`, docs/policy.md), for code outside the policy module that must pick
// exactly the versions a gate accepts (the validation worker resolving a gate's datasets).
// Accepted syntax: comparator sets joined by "||", each a space-separated list of comparators,
// all of which must hold; a comparator is an optional operator (=, <, <=, >, >=, ^, ~) and a
// version that may be partial ("1", "1.2", "1.x") or a wildcard ("*", "x"); "" and "*" match
// every version. Versions are SemVer 2.0 texts compared by precedence, build metadata ignored:
// a pre-release is below its release, so ">=1.0.0" does not match "1.0.0-rc.1" but, unlike npm,
// "^1.0.0" does match "1.1.0-rc.1". The policy engine checks a report's datasets with the same
// code. A SemVerRange is immutable and cheap to copy; any number of threads may use it at once.
#pragma once

#include <memory>
#include <string_view>

#include "common/status.h"

namespace sov::policy {

namespace internal {
class VersionRange;
}  // namespace internal

class SemVerRange {
 public:
  // Parses `text` as the syntax above. INVALID_ARGUMENT quoting the comparator that is malformed.
  static Result<SemVerRange> Parse(std::string_view text);

  // Returns whether `version` (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]) is in the range; false
  // when `version` is not a valid SemVer 2.0 version.
  bool Matches(std::string_view version) const;

 private:
  explicit SemVerRange(std::shared_ptr<const internal::VersionRange> range);
  std::shared_ptr<const internal::VersionRange> range_;
};

}  // namespace sov::policy
