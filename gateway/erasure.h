// Erasure with lineage: crypto-shreds one artifact (Registry::Erase) and then applies the
// policy's lineage rules (Policy::LineageRuleFor) to every artifact derived from it, following
// the whole lineage graph breadth-first (each artifact once, by the shortest path): `revoke`
// revokes a RELEASED derived artifact (other stages keep theirs) and records a lineage notice,
// `flag-retrain` only records the notice, `none` lists it for the record. Every step is its own
// audited change, so a crash part-way leaves a consistent state and a second Erase of the same
// artifact (OK on an ERASED one) completes the propagation. Used by the Erase call and by the
// retention sweeper.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "policy/policy.h"
#include "registry/registry.h"

namespace sov::gateway {

// What erasure did (or, for a dry run, would do) to one derived artifact.
struct LineageEffect {
  registry::ArtifactRecord artifact;  // as it was before
  std::string action;                 // "revoke" | "flag-retrain" | "none"
  registry::Stage new_stage = registry::Stage::kPending;
  std::string rule_id;
  std::string rule_location;          // "FILE:LINE:COL"
  // From the erased artifact to this one, as "name@version", erased artifact first.
  std::vector<std::string> path;
};

struct ErasureOutcome {
  registry::ArtifactRecord erased;      // tombstone set (unset for a dry run)
  std::vector<LineageEffect> effects;   // breadth-first order
};

// Erases `target` (already resolved and allowed by the caller's decision, which is in `audit`)
// and propagates through its lineage under `policy`. With dry_run nothing changes.
Result<ErasureOutcome> EraseWithLineage(registry::Registry& registry,
                                        const policy::Policy& policy,
                                        const registry::ArtifactRecord& target,
                                        const registry::Registry::EraseRequest& request,
                                        const registry::Actor& actor,
                                        std::vector<registry::AuditEvent> audit, bool dry_run);

// The signed erasure record (DSSE envelope JSON) of an erased artifact, read back from the
// ERASURE entry its tombstone names: the Erase call returns it; the retention sweep, which has
// no one to return it to, does not read it.
Result<std::string> SignedErasureRecord(registry::Registry& registry,
                                        const registry::ArtifactRecord& erased);

}  // namespace sov::gateway
