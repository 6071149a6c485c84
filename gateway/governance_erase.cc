// GovernanceService::Erase: resolve the artifact as the caller sees it, decide artifact.erase on
// it, and crypto-shred it with lineage propagation (gateway/erasure.h).
#include <algorithm>
#include <utility>

#include "gateway/audit_convert.h"
#include "gateway/erasure.h"
#include "gateway/governance_service.h"
#include "gateway/registry_convert.h"

namespace sov::gateway {
namespace {

using registry::ArtifactRecord;

constexpr size_t kMaxReasonChars = 1024;
constexpr size_t kMaxSubjectRequestChars = 256;

size_t CodePoints(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string RefText(std::string_view name, std::string_view version) {
  return std::string(name) + "@" + std::string(version);
}

policy::Artifact View(registry::Registry& registry, const ArtifactRecord& record) {
  policy::Artifact a = PolicyArtifact(record);
  for (policy::LineageEntry& entry : a.lineage) {
    Result<ArtifactRecord> parent = registry.Get(entry.name, entry.version);
    if (!parent.ok()) continue;
    entry.classification = parent->spec.effective_classification.empty()
                               ? parent->spec.classification
                               : parent->spec.effective_classification;
    entry.purposes = parent->spec.purposes;
  }
  return a;
}

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

    // Visibility first: an artifact the caller may not see is NOT_FOUND, exactly like one
    // that does not exist.
    const Status not_found = NotFound("artifact " + RefText(ref.name(), ref.version()) +
                                      " not found");
    Result<ArtifactRecord> found = registry_->Get(ref.name(), ref.version());
    if (!found.ok()) {
      return found.status().code() == StatusCode::kNotFound ? not_found : found.status();
    }
    const policy::Artifact view = View(*registry_, *found);
    if (!call.Decide("artifact.get", view).allowed()) return not_found;
    if (!ref.digest().empty() && ref.digest() != found->digest) {
      return FailedPrecondition("digest pin mismatch: " + RefText(ref.name(), ref.version()) +
                                " has digest " + found->digest + ", not " + ref.digest());
    }
    const policy::Decision& decision = call.Decide("artifact.erase", view);
    DecisionToProto(decision, "artifact.erase", response->mutable_decision());
    if (!decision.allowed()) return call.Denied(decision, "artifact.erase");

    if (request->reason().empty()) {
      return InvalidArgument("reason is required (1 to 1024 characters), e.g. \"Art. 17 request\"");
    }
    if (CodePoints(request->reason()) > kMaxReasonChars) {
      return InvalidArgument("reason has " + std::to_string(CodePoints(request->reason())) +
                             " characters; at most 1024 are allowed");
    }
    if (CodePoints(request->subject_request_id()) > kMaxSubjectRequestChars) {
      return InvalidArgument("subject_request_id has " +
                             std::to_string(CodePoints(request->subject_request_id())) +
                             " characters; at most 256 are allowed");
    }

    registry::Registry::EraseRequest erase;
    erase.reason = request->reason();
    erase.subject_request_id = request->subject_request_id();
    SOV_ASSIGN_OR_RETURN(
        ErasureOutcome outcome,
        EraseWithLineage(*registry_, call.policy(), *found, erase, call.actor(),
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
