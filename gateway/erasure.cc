#include "gateway/erasure.h"

#include <algorithm>
#include <deque>
#include <set>
#include <utility>

#include "gateway/internal/artifact_access.h"
#include "gateway/log.h"
#include "gateway/registry_convert.h"
#include "registry/audit_entry.h"

namespace sov::gateway {
namespace {

using registry::ArtifactRecord;
using registry::Stage;

std::string RefText(const ArtifactRecord& record) {
  return record.spec.name + "@" + record.spec.version;
}

}  // namespace

Result<std::string> SignedErasureRecord(registry::Registry& registry,
                                        const ArtifactRecord& erased) {
  if (!erased.tombstone.has_value() || erased.tombstone->audit_index < 0) {
    return Internal("the tombstone of " + RefText(erased) + " names no audit entry");
  }
  const int64_t index = erased.tombstone->audit_index;
  SOV_ASSIGN_OR_RETURN(std::vector<registry::AuditRecord> leaves,
                       registry.store().ReadAudit(index, index + 1));
  if (leaves.empty()) return Internal("audit entry " + std::to_string(index) + " is missing");
  SOV_ASSIGN_OR_RETURN(registry::AuditEvent event,
                       registry::DecodeLeafData(leaves.front().leaf_data, nullptr, nullptr,
                                                nullptr));
  auto record = event.body.find("record");
  if (event.type != "ERASURE" || record == event.body.end() || !record->is_object()) {
    return Internal("audit entry " + std::to_string(index) + " is not the erasure record of " +
                    RefText(erased));
  }
  return record->dump();
}

namespace {

Stage StageAfter(policy::LineageAction action, Stage stage) {
  if (action == policy::LineageAction::kRevoke && stage == Stage::kReleased) {
    return Stage::kRevoked;
  }
  return stage;
}

// Applies one effect: a notice (revoke, flag-retrain) and, for a released artifact under
// `revoke`, the move to REVOKED in the same batch. `none` changes nothing.
Status Apply(registry::Registry& registry, const ArtifactRecord& erased, LineageEffect& effect,
             const registry::Actor& actor) {
  if (effect.action == "none" || effect.artifact.stage == Stage::kErased) return OkStatus();
  registry::LineageNotice notice;
  notice.erased_name = erased.spec.name;
  notice.erased_version = erased.spec.version;
  notice.erased_digest = erased.digest;
  notice.action = effect.action;
  notice.rule_id = effect.rule_id;
  notice.rule_location = effect.rule_location;
  notice.time = std::chrono::system_clock::now();
  const std::string& name = effect.artifact.spec.name;
  const std::string& version = effect.artifact.spec.version;
  // The stage may change between reading the artifact and writing the notice (a release or a
  // revocation meanwhile); the second attempt works from the stage it finds then.
  Stage stage = effect.artifact.stage;
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::optional<registry::Registry::Transition> transition;
    if (effect.action == "revoke" && stage == Stage::kReleased) {
      transition.emplace();
      transition->from = {Stage::kReleased};
      transition->to = Stage::kRevoked;
      transition->reason = "derived from erased " + RefText(erased) + " (lineage rule " +
                           effect.rule_id + ")";
      transition->rule_id = effect.rule_id;
      transition->rule_location = effect.rule_location;
    }
    Result<ArtifactRecord> updated =
        registry.AddLineageNotice(name, version, notice, transition, actor, {});
    if (updated.ok()) {
      effect.new_stage = updated->stage;
      return OkStatus();
    }
    if (updated.status().code() != StatusCode::kFailedPrecondition) return updated.status();
    SOV_ASSIGN_OR_RETURN(ArtifactRecord current, registry.Get(name, version));
    if (current.stage == Stage::kErased) {
      effect.new_stage = Stage::kErased;
      return OkStatus();
    }
    stage = current.stage;
  }
  return Aborted("the stage of " + name + "@" + version + " kept changing; erase again");
}

}  // namespace

Result<ErasureOutcome> EraseWithLineage(registry::Registry& registry,
                                        const policy::Policy& policy,
                                        const ArtifactRecord& target,
                                        const registry::Registry::EraseRequest& request,
                                        const registry::Actor& actor,
                                        std::vector<registry::AuditEvent> audit, bool dry_run) {
  ErasureOutcome out;
  if (dry_run) {
    out.erased = target;
    // Nothing changes, but the caller's decision is still on the record.
    if (!audit.empty()) SOV_RETURN_IF_ERROR(registry.audit().Append(std::move(audit)).status());
  } else {
    SOV_ASSIGN_OR_RETURN(out.erased, registry.Erase(target.spec.name, target.spec.version,
                                                    request, actor, std::move(audit)));
  }

  // Breadth first over the dependents, each artifact once (by its shortest path). Every step
  // is its own audited change: a crash part-way leaves the rest for the next Erase to finish.
  const policy::Artifact ancestor = internal::View(registry, target);
  struct Pending {
    ArtifactRecord record;
    std::vector<std::string> path;
  };
  std::set<std::string> seen = {RefText(target)};
  std::deque<Pending> queue;
  queue.push_back(Pending{target, {RefText(target)}});
  while (!queue.empty()) {
    Pending current = std::move(queue.front());
    queue.pop_front();
    SOV_ASSIGN_OR_RETURN(std::vector<ArtifactRecord> dependents,
                         registry.Dependents(current.record.spec.name,
                                             current.record.spec.version));
    for (ArtifactRecord& dependent : dependents) {
      if (!seen.insert(RefText(dependent)).second) continue;
      const policy::LineageRule rule =
          policy.LineageRuleFor(internal::View(registry, dependent), ancestor);
      for (const std::string& error : rule.errors) {
        ModuleLogger("gateway")->warn("lineage condition failed for {}: {}", RefText(dependent),
                                      error);
      }
      LineageEffect effect;
      effect.artifact = dependent;
      effect.action = std::string(policy::LineageActionName(rule.action));
      effect.new_stage = StageAfter(rule.action, dependent.stage);
      effect.rule_id = rule.id;
      effect.rule_location = rule.location.ToString();
      effect.path = current.path;
      effect.path.push_back(RefText(dependent));
      if (!dry_run) SOV_RETURN_IF_ERROR(Apply(registry, out.erased, effect, actor));
      queue.push_back(Pending{std::move(dependent), effect.path});
      out.effects.push_back(std::move(effect));
    }
  }
  return out;
}

}  // namespace sov::gateway
