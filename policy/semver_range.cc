#include "policy/semver_range.h"

#include <utility>

#include "policy/internal/text.h"

namespace sov::policy {

SemVerRange::SemVerRange(std::shared_ptr<const internal::VersionRange> range)
    : range_(std::move(range)) {}

Result<SemVerRange> SemVerRange::Parse(std::string_view text) {
  SOV_ASSIGN_OR_RETURN(internal::VersionRange range, internal::VersionRange::Parse(text));
  return SemVerRange(std::make_shared<const internal::VersionRange>(std::move(range)));
}

bool SemVerRange::Matches(std::string_view version) const {
  Result<internal::Version> parsed = internal::ParseVersion(version);
  return parsed.ok() && range_->Matches(*parsed);
}

}  // namespace sov::policy
