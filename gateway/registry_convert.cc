#include "gateway/registry_convert.h"

#include <array>
#include <chrono>
#include <filesystem>
#include <utility>

#include <google/protobuf/util/time_util.h>

#include "crypto/dsse.h"
#include "crypto/sha256.h"

namespace sov::gateway {
namespace {

using google::protobuf::util::TimeUtil;

template <typename E>
struct Name {
  E value;
  std::string_view name;
};

constexpr std::array<Name<sov::v1::Classification>, 6> kClassifications = {{
    {sov::v1::CLASSIFICATION_PUBLIC, "public"},
    {sov::v1::CLASSIFICATION_INTERNAL, "internal"},
    {sov::v1::CLASSIFICATION_PERSONAL, "personal"},
    {sov::v1::CLASSIFICATION_SPECIAL_CATEGORY, "special-category"},
    {sov::v1::CLASSIFICATION_PSEUDONYMISED, "pseudonymised"},
    {sov::v1::CLASSIFICATION_ANONYMISED, "anonymised"},
}};

constexpr std::array<Name<sov::v1::LawfulBasis>, 7> kBases = {{
    {sov::v1::LAWFUL_BASIS_CONSENT, "consent"},
    {sov::v1::LAWFUL_BASIS_CONTRACT, "contract"},
    {sov::v1::LAWFUL_BASIS_LEGAL_OBLIGATION, "legal-obligation"},
    {sov::v1::LAWFUL_BASIS_VITAL_INTERESTS, "vital-interests"},
    {sov::v1::LAWFUL_BASIS_PUBLIC_TASK, "public-task"},
    {sov::v1::LAWFUL_BASIS_LEGITIMATE_INTERESTS, "legitimate-interests"},
    {sov::v1::LAWFUL_BASIS_NOT_APPLICABLE, "not-applicable"},
}};

constexpr std::array<Name<sov::v1::SpecialCategoryCondition>, 10> kConditions = {{
    {sov::v1::SPECIAL_CATEGORY_CONDITION_EXPLICIT_CONSENT, "explicit-consent"},
    {sov::v1::SPECIAL_CATEGORY_CONDITION_EMPLOYMENT_LAW, "employment-law"},
    {sov::v1::SPECIAL_CATEGORY_CONDITION_VITAL_INTERESTS, "vital-interests"},
    {sov::v1::SPECIAL_CATEGORY_CONDITION_NOT_FOR_PROFIT_BODY, "not-for-profit-body"},
    {sov::v1::SPECIAL_CATEGORY_CONDITION_MADE_PUBLIC, "made-public"},
    {sov::v1::SPECIAL_CATEGORY_CONDITION_LEGAL_CLAIMS, "legal-claims"},
    {sov::v1::SPECIAL_CATEGORY_CONDITION_SUBSTANTIAL_PUBLIC_INTEREST,
     "substantial-public-interest"},
    {sov::v1::SPECIAL_CATEGORY_CONDITION_HEALTH_CARE, "health-care"},
    {sov::v1::SPECIAL_CATEGORY_CONDITION_PUBLIC_HEALTH, "public-health"},
    {sov::v1::SPECIAL_CATEGORY_CONDITION_RESEARCH, "research"},
}};

constexpr std::array<Name<sov::v1::LineageRelation>, 5> kRelations = {{
    {sov::v1::LINEAGE_RELATION_TRAINED_ON, "trained-on"},
    {sov::v1::LINEAGE_RELATION_VALIDATED_ON, "validated-on"},
    {sov::v1::LINEAGE_RELATION_DERIVED_FROM, "derived-from"},
    {sov::v1::LINEAGE_RELATION_EVALUATES, "evaluates"},
    {sov::v1::LINEAGE_RELATION_BASED_ON, "based-on"},
}};

template <typename E, size_t N>
std::string NameOf(const std::array<Name<E>, N>& table, E value) {
  for (const auto& entry : table) {
    if (entry.value == value) return std::string(entry.name);
  }
  return {};
}

template <typename E, size_t N>
E ValueOf(const std::array<Name<E>, N>& table, std::string_view name) {
  for (const auto& entry : table) {
    if (entry.name == name) return entry.value;
  }
  return static_cast<E>(0);
}

google::protobuf::Timestamp ToTimestamp(SystemTime t) {
  return TimeUtil::MicrosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
}

sov::v1::SourceLocation PublicLocation(const policy::SourceLocation& location) {
  sov::v1::SourceLocation out;
  out.set_file(std::filesystem::path(location.file).filename().string());
  out.set_line(location.line);
  out.set_column(location.column);
  return out;
}

sov::v1::RuleOrigin OriginOf(std::string_view section) {
  if (section == "residency") return sov::v1::RULE_ORIGIN_RESIDENCY;
  if (section == "retention") return sov::v1::RULE_ORIGIN_RETENTION;
  if (section == "purposes") return sov::v1::RULE_ORIGIN_PURPOSES;
  if (section == "release_gates") return sov::v1::RULE_ORIGIN_RELEASE_GATES;
  return sov::v1::RULE_ORIGIN_RULES;
}

}  // namespace

Result<registry::Kind> KindFromProto(sov::v1::ArtifactKind kind) {
  switch (kind) {
    case sov::v1::ARTIFACT_KIND_DATASET: return registry::Kind::kDataset;
    case sov::v1::ARTIFACT_KIND_MODEL: return registry::Kind::kModel;
    case sov::v1::ARTIFACT_KIND_REPORT: return registry::Kind::kReport;
    default: return InvalidArgument("kind: must be DATASET or MODEL");
  }
}

sov::v1::ArtifactKind KindToProto(registry::Kind kind) {
  switch (kind) {
    case registry::Kind::kDataset: return sov::v1::ARTIFACT_KIND_DATASET;
    case registry::Kind::kModel: return sov::v1::ARTIFACT_KIND_MODEL;
    case registry::Kind::kReport: return sov::v1::ARTIFACT_KIND_REPORT;
  }
  return sov::v1::ARTIFACT_KIND_UNSPECIFIED;
}

sov::v1::Stage StageToProto(registry::Stage stage) {
  switch (stage) {
    case registry::Stage::kPending: return sov::v1::STAGE_PENDING;
    case registry::Stage::kValidating: return sov::v1::STAGE_VALIDATING;
    case registry::Stage::kReleased: return sov::v1::STAGE_RELEASED;
    case registry::Stage::kRejected: return sov::v1::STAGE_REJECTED;
    case registry::Stage::kRevoked: return sov::v1::STAGE_REVOKED;
    case registry::Stage::kErased: return sov::v1::STAGE_ERASED;
  }
  return sov::v1::STAGE_UNSPECIFIED;
}

Result<registry::Stage> StageFromProto(sov::v1::Stage stage) {
  switch (stage) {
    case sov::v1::STAGE_PENDING: return registry::Stage::kPending;
    case sov::v1::STAGE_VALIDATING: return registry::Stage::kValidating;
    case sov::v1::STAGE_RELEASED: return registry::Stage::kReleased;
    case sov::v1::STAGE_REJECTED: return registry::Stage::kRejected;
    case sov::v1::STAGE_REVOKED: return registry::Stage::kRevoked;
    case sov::v1::STAGE_ERASED: return registry::Stage::kErased;
    default: return InvalidArgument("stage: unknown value " + std::to_string(stage));
  }
}

std::string ClassificationName(sov::v1::Classification c) { return NameOf(kClassifications, c); }
sov::v1::Classification ClassificationToProto(std::string_view name) {
  return ValueOf(kClassifications, name);
}
std::string LawfulBasisName(sov::v1::LawfulBasis basis) { return NameOf(kBases, basis); }
sov::v1::LawfulBasis LawfulBasisToProto(std::string_view name) { return ValueOf(kBases, name); }
std::string SpecialConditionName(sov::v1::SpecialCategoryCondition c) {
  return NameOf(kConditions, c);
}
sov::v1::SpecialCategoryCondition SpecialConditionToProto(std::string_view name) {
  return ValueOf(kConditions, name);
}
std::string RelationName(sov::v1::LineageRelation r) { return NameOf(kRelations, r); }
sov::v1::LineageRelation RelationToProto(std::string_view name) {
  return ValueOf(kRelations, name);
}

policy::Artifact PolicyArtifact(const registry::ArtifactSpec& spec) {
  policy::Artifact a;
  a.kind = std::string(registry::KindName(spec.kind));
  a.name = spec.name;
  a.version = spec.version;
  a.owner_tenant = spec.owner_tenant;
  a.classification = spec.classification;
  a.purposes = spec.purposes;
  a.lawful_basis = spec.lawful_basis;
  a.labels = spec.labels;
  a.storage_location = spec.storage_location;
  a.storage_jurisdiction = spec.storage_jurisdiction;
  for (const registry::LineageLink& link : spec.lineage) {
    policy::LineageEntry entry;
    entry.kind = std::string(registry::KindName(link.kind));
    entry.name = link.name;
    entry.version = link.version;
    a.lineage.push_back(std::move(entry));
  }
  return a;
}

policy::Artifact PolicyArtifact(const registry::ArtifactRecord& record) {
  policy::Artifact a = PolicyArtifact(record.spec);
  a.stage = std::string(registry::StageName(record.stage));
  a.created_at = record.create_time;
  a.size_bytes = record.size_bytes;
  return a;
}

void FillLineageEntry(const registry::ArtifactRecord& parent, policy::LineageEntry& entry) {
  entry.classification = parent.spec.effective_classification.empty()
                             ? parent.spec.classification
                             : parent.spec.effective_classification;
  entry.purposes = parent.spec.purposes;
}

namespace {

// Everything of ArtifactToProto but the manifest digest, which needs the envelope parsed.
void ArtifactFieldsToProto(const registry::ArtifactRecord& r, sov::v1::Artifact* out) {
  const registry::ArtifactSpec& s = r.spec;
  out->set_name(s.name);
  out->set_version(s.version);
  out->set_kind(KindToProto(s.kind));
  out->set_digest(r.digest);
  out->set_size_bytes(r.size_bytes);
  out->set_media_type(s.media_type);
  out->set_description(s.description);
  out->set_owner_tenant(s.owner_tenant);
  out->set_classification(ClassificationToProto(
      s.effective_classification.empty() ? s.classification : s.effective_classification));
  out->set_declared_classification(ClassificationToProto(s.classification));
  for (const auto& p : s.purposes) out->add_purposes(p);
  out->set_lawful_basis(LawfulBasisToProto(s.lawful_basis));
  out->set_special_category_condition(SpecialConditionToProto(s.special_category_condition));
  if (s.retention_deadline.has_value()) {
    *out->mutable_retention_deadline() = ToTimestamp(*s.retention_deadline);
  }
  out->set_retention_action(s.retention_action == "erase"    ? sov::v1::RETENTION_ACTION_ERASE
                            : s.retention_action == "revoke" ? sov::v1::RETENTION_ACTION_REVOKE
                                                             : sov::v1::RETENTION_ACTION_NONE);
  // The pusher's own limit apart from the effective deadline above, which may be the policy's:
  // left unset when none was asked, so that clients can tell "none" from a time.
  if (s.retain_until.has_value()) *out->mutable_retain_until() = ToTimestamp(*s.retain_until);
  for (const registry::LineageLink& link : s.lineage) {
    sov::v1::LineageRef* ref = out->add_lineage();
    ref->mutable_artifact()->set_name(link.name);
    ref->mutable_artifact()->set_version(link.version);
    ref->mutable_artifact()->set_digest(link.digest);
    ref->set_relation(RelationToProto(link.relation));
    ref->set_kind(KindToProto(link.kind));
  }
  out->mutable_storage_location()->set_id(s.storage_location);
  out->mutable_storage_location()->set_jurisdiction(s.storage_jurisdiction);
  out->set_stage(StageToProto(r.stage));
  for (const auto& [k, v] : s.labels) (*out->mutable_labels())[k] = v;
  for (const registry::SignatureRecord& sig : r.signatures) {
    sov::v1::SignatureInfo* info = out->add_signatures();
    info->set_keyid(sig.keyid);
    info->set_role(sig.role == "registry" ? sov::v1::SIGNER_ROLE_REGISTRY
                                          : sov::v1::SIGNER_ROLE_PUBLISHER);
    info->set_signer(sig.signer);
    *info->mutable_sign_time() = ToTimestamp(sig.time);
    info->set_key_state(sov::v1::KEY_STATE_ACTIVE);
  }
  *out->mutable_create_time() = ToTimestamp(r.create_time);
  *out->mutable_update_time() = ToTimestamp(r.update_time);
  if (!s.created_by.empty()) out->mutable_created_by()->set_tenant_id(s.created_by);
  for (const registry::StageEvent& e : r.history) {
    sov::v1::StageChange* change = out->add_history();
    change->set_from_stage(StageToProto(e.from));
    change->set_to_stage(StageToProto(e.to));
    *change->mutable_change_time() = ToTimestamp(e.time);
    if (!e.tenant_id.empty()) change->mutable_principal()->set_tenant_id(e.tenant_id);
    change->set_system_actor(e.system_actor);
    change->set_reason(e.reason);
    change->set_rule_id(e.rule_id);
    if (!e.rule_location.empty()) *change->mutable_rule_location() = RuleLocationToProto(e.rule_location);
    change->set_audit_index(e.audit_index);
  }
  // A model's validation releases it when the checks are met: a push, or a validation started
  // for a pending model, asks for its release (docs/models.md).
  out->mutable_release_status()->set_requested(
      r.release_requested || (s.kind == registry::Kind::kModel && r.stage == registry::Stage::kValidating));
  for (const registry::LineageNotice& n : r.lineage_notices) {
    sov::v1::LineageNotice* notice = out->add_lineage_notices();
    notice->mutable_erased_ancestor()->set_name(n.erased_name);
    notice->mutable_erased_ancestor()->set_version(n.erased_version);
    notice->mutable_erased_ancestor()->set_digest(n.erased_digest);
    notice->set_action(LineageActionToProto(n.action));
    notice->set_rule_id(n.rule_id);
    *notice->mutable_rule_location() = RuleLocationToProto(n.rule_location);
    *notice->mutable_notice_time() = ToTimestamp(n.time);
  }
  if (r.tombstone.has_value()) TombstoneToProto(r, out->mutable_tombstone());
}

void SetEnvelope(const crypto::DsseEnvelope& envelope, sov::v1::DsseEnvelope* out) {
  out->set_payload(envelope.payload);
  out->set_payload_type(envelope.payload_type);
  for (const crypto::DsseSignature& sig : envelope.signatures) {
    sov::v1::DsseSignature* s = out->add_signatures();
    s->set_sig(sig.sig);
    s->set_keyid(sig.keyid);
  }
}

}  // namespace

void ArtifactToProto(const registry::ArtifactRecord& r, sov::v1::Artifact* out) {
  ArtifactFieldsToProto(r, out);
  if (!r.manifest.empty()) {
    Result<crypto::DsseEnvelope> envelope = crypto::DsseEnvelope::FromJson(r.manifest);
    if (envelope.ok()) {
      out->set_manifest_digest(crypto::Sha256Of(envelope->payload).ToString());
    }
  }
}

void ArtifactAndManifestToProto(const registry::ArtifactRecord& r, sov::v1::Artifact* artifact,
                                sov::v1::DsseEnvelope* manifest) {
  ArtifactFieldsToProto(r, artifact);
  if (r.manifest.empty()) return;
  Result<crypto::DsseEnvelope> envelope = crypto::DsseEnvelope::FromJson(r.manifest);
  if (!envelope.ok()) return;
  artifact->set_manifest_digest(crypto::Sha256Of(envelope->payload).ToString());
  SetEnvelope(*envelope, manifest);
}

void UploadToProto(const registry::UploadRecord& u, sov::v1::Upload* out) {
  out->set_upload_id(u.id);
  sov::v1::ArtifactSpec* spec = out->mutable_spec();
  spec->set_kind(KindToProto(u.spec.kind));
  spec->set_name(u.spec.name);
  spec->set_version(u.spec.version);
  spec->set_media_type(u.spec.media_type);
  spec->set_description(u.spec.description);
  spec->set_classification(ClassificationToProto(u.spec.classification));
  for (const auto& p : u.spec.purposes) spec->add_purposes(p);
  spec->set_lawful_basis(LawfulBasisToProto(u.spec.lawful_basis));
  spec->set_special_category_condition(SpecialConditionToProto(u.spec.special_category_condition));
  for (const registry::LineageLink& link : u.spec.lineage) {
    sov::v1::LineageRef* ref = spec->add_lineage();
    ref->mutable_artifact()->set_name(link.name);
    ref->mutable_artifact()->set_version(link.version);
    ref->mutable_artifact()->set_digest(link.digest);
    ref->set_relation(RelationToProto(link.relation));
    ref->set_kind(KindToProto(link.kind));
  }
  for (const auto& [k, v] : u.spec.labels) (*spec->mutable_labels())[k] = v;
  spec->set_storage_location(u.spec.storage_location);
  if (u.spec.retain_until.has_value()) {
    *spec->mutable_retain_until() = ToTimestamp(*u.spec.retain_until);
  }
  if (u.declared_size.has_value()) out->set_size_bytes(*u.declared_size);
  out->set_expected_digest(u.expected_digest);
  out->set_committed_offset(u.committed_offset);
  switch (u.state) {
    case registry::UploadState::kOpen: out->set_state(sov::v1::UPLOAD_STATE_OPEN); break;
    case registry::UploadState::kCommitted:
      out->set_state(sov::v1::UPLOAD_STATE_COMMITTED);
      out->mutable_artifact()->set_name(u.spec.name);
      out->mutable_artifact()->set_version(u.spec.version);
      break;
    case registry::UploadState::kAborted: out->set_state(sov::v1::UPLOAD_STATE_ABORTED); break;
  }
  out->mutable_storage_location()->set_id(u.spec.storage_location);
  out->mutable_storage_location()->set_jurisdiction(u.spec.storage_jurisdiction);
  *out->mutable_create_time() = ToTimestamp(u.create_time);
  *out->mutable_expire_time() = ToTimestamp(u.expire_time);
  out->set_abort_reason(u.abort_reason);
  out->mutable_decision()->set_rule_id(u.decision_rule);
  out->mutable_decision()->set_policy_digest(u.decision_policy);
}

void TombstoneToProto(const registry::ArtifactRecord& r, sov::v1::Tombstone* out) {
  if (!r.tombstone.has_value()) return;
  const registry::Tombstone& t = *r.tombstone;
  out->mutable_artifact()->set_name(r.spec.name);
  out->mutable_artifact()->set_version(r.spec.version);
  out->mutable_artifact()->set_digest(r.digest);
  out->set_kind(KindToProto(r.spec.kind));
  out->set_size_bytes(r.size_bytes);
  if (t.principal.is_object()) {
    sov::v1::Principal* by = out->mutable_erased_by();
    auto text = [&t](const char* key) -> std::string {
      auto it = t.principal.find(key);
      return it != t.principal.end() && it->is_string() ? it->get<std::string>() : "";
    };
    by->set_tenant_id(text("tenantId"));
    const std::string method = text("authMethod");
    by->set_auth_method(method == "mtls"           ? sov::v1::AUTH_METHOD_MTLS
                        : method == "bearer_token" ? sov::v1::AUTH_METHOD_BEARER_TOKEN
                                                   : sov::v1::AUTH_METHOD_UNSPECIFIED);
    by->set_credential(text("credential"));
  } else if (!t.tenant_id.empty()) {
    out->mutable_erased_by()->set_tenant_id(t.tenant_id);
  }
  out->set_system_actor(t.system_actor);
  *out->mutable_erase_time() = ToTimestamp(t.erase_time);
  out->set_reason(t.reason);
  out->set_subject_request_id(t.subject_request_id);
  out->set_audit_index(t.audit_index);
}

sov::v1::LineageAction LineageActionToProto(std::string_view action) {
  if (action == "revoke") return sov::v1::LINEAGE_ACTION_REVOKE;
  if (action == "flag-retrain") return sov::v1::LINEAGE_ACTION_FLAG_RETRAIN;
  if (action == "none") return sov::v1::LINEAGE_ACTION_NONE;
  return sov::v1::LINEAGE_ACTION_UNSPECIFIED;
}

sov::v1::SourceLocation RuleLocationToProto(std::string_view location) {
  // "FILE:LINE:COL": the file may itself hold colons, so the numbers are taken from the right.
  policy::SourceLocation parsed;
  parsed.file = std::string(location);
  auto number_at_end = [](std::string_view text, int* value) -> size_t {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon + 1 == text.size()) return std::string_view::npos;
    int n = 0;
    for (char c : text.substr(colon + 1)) {
      if (c < '0' || c > '9' || n > 100000000) return std::string_view::npos;
      n = n * 10 + (c - '0');
    }
    *value = n;
    return colon;
  };
  int last = 0;
  if (size_t colon = number_at_end(location, &last); colon != std::string_view::npos) {
    int before = 0;
    if (size_t colon2 = number_at_end(location.substr(0, colon), &before);
        colon2 != std::string_view::npos) {
      parsed.file = std::string(location.substr(0, colon2));
      parsed.line = before;
      parsed.column = last;
    } else {
      parsed.file = std::string(location.substr(0, colon));
      parsed.line = last;
    }
  }
  return PublicLocation(parsed);
}

Status EnvelopeToProto(std::string_view envelope_json, sov::v1::DsseEnvelope* out) {
  Result<crypto::DsseEnvelope> envelope = crypto::DsseEnvelope::FromJson(envelope_json);
  if (!envelope.ok()) return Internal("stored manifest is malformed");
  SetEnvelope(*envelope, out);
  return OkStatus();
}

void DecisionToProto(const policy::Decision& decision, std::string_view action,
                     sov::v1::Decision* out) {
  out->set_effect(decision.allowed() ? sov::v1::EFFECT_ALLOW : sov::v1::EFFECT_DENY);
  out->set_action(std::string(action));
  out->set_reason(std::string(decision.reason()));
  out->set_policy_digest(std::string(decision.policy_digest));
  if (decision.deciding_rule != nullptr) {
    out->set_rule_id(decision.deciding_rule->id);
    *out->mutable_location() = PublicLocation(decision.deciding_rule->location);
  } else {
    out->set_default_deny(true);
  }
  // Only rules of the deciding effect that matched are shown: they are about this caller's own
  // request, never another tenant's.
  for (const policy::RuleInfo* rule : decision.matched) {
    sov::v1::RuleMatch* match = out->add_matched_rules();
    match->set_rule_id(rule->id);
    match->set_effect(rule->effect == policy::Effect::kAllow ? sov::v1::EFFECT_ALLOW
                                                             : sov::v1::EFFECT_DENY);
    *match->mutable_location() = PublicLocation(rule->location);
    match->set_reason(rule->reason);
    match->set_origin(OriginOf(rule->section));
  }
  *out->mutable_decide_time() = ToTimestamp(std::chrono::system_clock::now());
}

}  // namespace sov::gateway
