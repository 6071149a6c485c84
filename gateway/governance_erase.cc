// GovernanceService::Erase: resolve the artifact as the caller sees it, decide artifact.erase on
// it, and crypto-shred it with lineage propagation (gateway/erasure.h).
#include <utility>

#include "gateway/audit_convert.h"
#include "gateway/erasure.h"
#include "gateway/governance_service.h"
#include "gateway/internal/artifact_access.h"
#include "gateway/registry_convert.h"

namespace sov::gateway {
namespace {

using registry::ArtifactRecord;

void EffectToProto(const LineageEffect& effect, sov::v1::LineageEffect* out) {
  const ArtifactRecord& a = effect.artifact;
  out->mutable_artifact()->set_name(a.spec.name);
  out->mutable_artifact()->set_version(a.spec.version);
  out->mutable_artifact()->set_digest(a.digest);
  out->set_kind(KindToProto(a.spec.kind));
  out->set_action(LineageActionToProto(effect.action));
  out->set_previous_stage(StageToProto(a.stage));
  out->set_new_stage(StageToProto(effect.new_stage));
  out->set_rule_id(effect.rule_id);
  *out->mutable_rule_location() = RuleLocationToProto(effect.rule_location);
  for (const std::string& step : effect.path) {
    const size_t at = step.rfind('@');
    sov::v1::ArtifactRef* ref = out->add_path();
    ref->set_name(step.substr(0, at));
    if (at != std::string::npos) ref->set_version(step.substr(at + 1));
  }
}

}  // namespace

grpc::Status GovernanceService::Erase(grpc::ServerContext* context,
                                      const sov::v1::EraseRequest* request,
                                      sov::v1::EraseResponse* response) {
  return guard_->Run(*context, kEraseMethod, [&](GuardedCall& call) -> Status {
    const sov::v1::ArtifactRef& ref = request->artifact();
    if (ref.name().empty()) return InvalidArgument("artifact.name is required");
    if (ref.version().empty()) return InvalidArgument("artifact.version is required for Erase");

    // Visibility first (an artifact the caller may not see is NOT_FOUND, exactly like one that
    // does not exist), then the digest pin; the erasure is decided on the same view.
    policy::Artifact view;
    SOV_ASSIGN_OR_RETURN(
        const ArtifactRecord found,
        internal::ResolveVisible(*registry_, call, ref, /*version_required=*/true, &view));
    const policy::Decision& decision = call.Decide("artifact.erase", view);
    DecisionToProto(decision, "artifact.erase", response->mutable_decision());
    if (!decision.allowed()) return call.Denied(decision, "artifact.erase");

    registry::Registry::EraseRequest erase;
    erase.reason = request->reason();
    erase.subject_request_id = request->subject_request_id();
    SOV_RETURN_IF_ERROR(registry::Registry::ValidateEraseRequest(erase));
    SOV_ASSIGN_OR_RETURN(
        ErasureOutcome outcome,
        EraseWithLineage(*registry_, call.policy(), found, erase, call.actor(),
                         call.TakeAuditEvents(), request->dry_run()));

    if (!request->dry_run()) {
      TombstoneToProto(outcome.erased, response->mutable_tombstone());
      SOV_ASSIGN_OR_RETURN(std::string record, SignedErasureRecord(*registry_, outcome.erased));
      SOV_ASSIGN_OR_RETURN(*response->mutable_erasure_record(), DsseEnvelopeFromJson(record));
    }
    for (const LineageEffect& effect : outcome.effects) {
      EffectToProto(effect, response->add_effects());
    }
    return OkStatus();
  });
}

}  // namespace sov::gateway
