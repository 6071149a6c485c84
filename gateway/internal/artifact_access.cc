#include "gateway/internal/artifact_access.h"

#include <optional>
#include <utility>
#include <vector>

#include "gateway/registry_convert.h"

namespace sov::gateway::internal {

using registry::ArtifactRecord;
using registry::Stage;

std::string RefText(std::string_view name, std::string_view version) {
  return version.empty() ? std::string(name) : std::string(name) + "@" + std::string(version);
}

Status NotFoundFor(std::string_view name, std::string_view version) {
  return NotFound("artifact " + RefText(name, version) + " not found");
}

void FillLineage(registry::Registry& registry, policy::Artifact& artifact) {
  for (policy::LineageEntry& entry : artifact.lineage) {
    Result<ArtifactRecord> parent = registry.Get(entry.name, entry.version);
    if (parent.ok()) FillLineageEntry(*parent, entry);
  }
}

policy::Artifact View(registry::Registry& registry, const ArtifactRecord& record) {
  policy::Artifact a = PolicyArtifact(record);
  FillLineage(registry, a);
  return a;
}

Result<ArtifactRecord> ResolveVisible(registry::Registry& registry, GuardedCall& call,
                                      const sov::v1::ArtifactRef& ref, bool version_required,
                                      policy::Artifact* view) {
  if (ref.name().empty()) return InvalidArgument("artifact.name is required");
  if (version_required && ref.version().empty()) {
    return InvalidArgument("artifact.version is required for this call");
  }
  std::optional<ArtifactRecord> found;
  if (ref.version().empty()) {
    Result<std::vector<ArtifactRecord>> versions = registry.Versions(ref.name());
    if (!versions.ok()) return versions.status();
    for (ArtifactRecord& record : *versions) {
      if (record.stage != Stage::kReleased) continue;
      if (call.DecideQuietly("artifact.get", View(registry, record)).allowed()) {
        found = std::move(record);
        break;
      }
    }
    if (!found.has_value()) return NotFoundFor(ref.name(), "");
  } else {
    Result<ArtifactRecord> record = registry.Get(ref.name(), ref.version());
    if (!record.ok()) {
      if (record.status().code() == StatusCode::kNotFound) {
        return NotFoundFor(ref.name(), ref.version());
      }
      return record.status();
    }
    found = std::move(*record);
  }
  policy::Artifact found_view = View(registry, *found);
  const policy::Decision& visible = call.Decide("artifact.get", found_view);
  if (!visible.allowed()) return NotFoundFor(ref.name(), ref.version());
  if (!ref.digest().empty() && ref.digest() != found->digest) {
    return FailedPrecondition("digest pin mismatch: " +
                              RefText(found->spec.name, found->spec.version) + " has digest " +
                              found->digest + ", not " + ref.digest());
  }
  if (view != nullptr) *view = std::move(found_view);
  return std::move(*found);
}

Status DecideOn(registry::Registry& registry, GuardedCall& call, std::string_view action,
                const ArtifactRecord& record,
                const std::map<std::string, std::string>& attributes) {
  const policy::Decision& decision = call.Decide(action, View(registry, record), attributes);
  if (!decision.allowed()) return call.Denied(decision, action);
  return OkStatus();
}

}  // namespace sov::gateway::internal
