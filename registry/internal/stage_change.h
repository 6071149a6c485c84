// Helpers that the Registry's source files share (registry.cc, validation.cc, erasure.cc):
// random ids, audit events about the registry's own changes, and one stage transition as
// ChangeStage records it (the updated record with its history event, and the STAGE_CHANGE
// entry). Pure functions apart from RandomId's CSPRNG; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/time.h"
#include "registry/metadata_store.h"
#include "registry/registry.h"
#include "registry/types.h"

namespace sov::registry::internal {

// The staging objects of PrepareGeneratedArtifact are named this prefix + a random id, so that
// Recover can tell them from uploads'.
inline constexpr std::string_view kGeneratedStagingPrefix = "gen-";

// Returns a random 128-bit id in lower-case hex, from the CSPRNG behind SecretKey::Random.
std::string RandomId();

// Returns an audit event of `type` and `action` naming `actor` (request id, principal, system
// actor); the caller fills in the artifact and body.
AuditEvent EventFrom(const Actor& actor, std::string type, std::string action);
// The same, naming `artifact` (name, version, digest).
AuditEvent EventFrom(const Actor& actor, std::string type, std::string action,
                     const ArtifactRecord& artifact);

// Moves every event of `audit` into `batch` as AppendAudit mutations, in order.
void AddAudit(WriteBatch& batch, std::vector<AuditEvent>& audit);

// The first lineage notice of `artifact` whose action is "revoke" (an ancestor was erased and the
// policy's lineage rule revokes what was derived from it), or nullptr. Such an artifact is never
// released: ChangeStage refuses it and CompleteJob rejects instead.
const LineageNotice* RevokingNotice(const ArtifactRecord& artifact);
// "derived from erased NAME@VERSION; lineage rule RULE (LOCATION) revokes it".
std::string RevokingNoticeText(const LineageNotice& notice);

// One stage transition of an artifact, not yet committed.
struct StageChange {
  ArtifactRecord updated;  // stage, history (event audit_index -1), update_time changed
  AuditEvent entry;        // the STAGE_CHANGE entry
};
// Returns `artifact` moved to `transition.to` at `time` by `actor`, and the STAGE_CHANGE entry
// that records it. The caller checks that the move is allowed (transition.from).
StageChange MakeStageChange(const ArtifactRecord& artifact, const Registry::Transition& transition,
                            const Actor& actor, SystemTime time);

}  // namespace sov::registry::internal
