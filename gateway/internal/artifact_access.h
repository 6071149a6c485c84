// How a handler reaches an artifact on a caller's behalf, shared by the services that name
// artifacts (RegistryService, EvaluationService): visibility first (`artifact.get` with the
// stored record, its lineage parents filled in; an artifact the caller may not see is NOT_FOUND
// with exactly the message of one that does not exist), then the call's own action decided on
// the record. Every decision goes through the call's GuardedCall, so it is audited. View, the
// policy's view of a stored artifact, is also what release checks and the validation workers
// decide on. Functions of their arguments; thread-safe as the Registry is (the GuardedCall
// belongs to one handler).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/status.h"
#include "gateway/call_guard.h"
#include "policy/decision.h"
#include "registry/registry.h"
#include "registry/types.h"
#include "sov/v1/artifact.pb.h"

namespace sov::gateway::internal {

// Returns "name@version", or "name" when the version is empty.
std::string RefText(std::string_view name, std::string_view version);

// Returns the one answer for "does not exist" and "you may not see it".
Status NotFoundFor(std::string_view name, std::string_view version);

// Completes lineage entries with each parent's classification and purposes, as stored, so that
// inheritance and purpose rules see them. Parents that cannot be read are left as they are.
void FillLineage(registry::Registry& registry, policy::Artifact& artifact);

// Returns the policy's view of a stored record, lineage filled in (FillLineage). Reads the
// registry.
policy::Artifact View(registry::Registry& registry, const registry::ArtifactRecord& record);

// Resolves a reference the caller reads: version empty means the highest RELEASED version the
// caller may see (unless `version_required`: INVALID_ARGUMENT). Decides `artifact.get`
// (visibility) on the record; a hidden artifact is NOT_FOUND, exactly like an absent one.
// FAILED_PRECONDITION when the ref pins a digest the artifact does not have. When `view` is
// given, it receives the record's View that visibility was decided on, for the caller's next
// decision without reading the lineage parents again.
Result<registry::ArtifactRecord> ResolveVisible(registry::Registry& registry, GuardedCall& call,
                                                const sov::v1::ArtifactRef& ref,
                                                bool version_required,
                                                policy::Artifact* view = nullptr);

// Decides `action` on a visible artifact; PERMISSION_DENIED naming the rule when denied.
Status DecideOn(registry::Registry& registry, GuardedCall& call, std::string_view action,
                const registry::ArtifactRecord& record,
                const std::map<std::string, std::string>& attributes = {});

}  // namespace sov::gateway::internal
