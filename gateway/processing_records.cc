#include "gateway/processing_records.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "gateway/audit_convert.h"
#include "gateway/registry_convert.h"
#include "gateway/retention.h"
#include "registry/audit_entry.h"

namespace sov::gateway {
namespace {

using registry::ArtifactRecord;
using registry::Kind;
using registry::Stage;

// Allowed fetch decisions read from the store at a time: bounded memory whatever the log's size.
constexpr int64_t kAuditBatch = 5000;

std::string RefKey(std::string_view name, std::string_view version) {
  return std::string(name) + "@" + std::string(version);
}

// Successful fetches of one artifact by one tenant.
struct FetchStats {
  int64_t count = 0;
  SystemTime first;
  SystemTime last;
  std::string jurisdiction;  // as the latest decision recorded it
  std::string rule_id;       // the rule that allowed the latest fetch
};

// artifact "name@version" -> tenant id -> stats.
using FetchIndex = std::map<std::string, std::map<std::string, FetchStats>>;

// Reads every allowed `artifact.fetch` decision of the audit log once.
Result<FetchIndex> ReadFetches(registry::MetadataStore& store, const TenantDirectory& tenants) {
  FetchIndex index;
  registry::AuditFilter filter;
  filter.types = {"DECISION"};
  filter.actions = {"artifact.fetch"};
  filter.effect = "allow";
  filter.limit = kAuditBatch;
  for (;;) {
    SOV_ASSIGN_OR_RETURN(std::vector<registry::AuditRecord> records, store.QueryAudit(filter));
    for (const registry::AuditRecord& record : records) {
      SystemTime time;
      Result<registry::AuditEvent> event =
          registry::DecodeLeafData(record.leaf_data, nullptr, &time, nullptr);
      if (!event.ok()) {
        return DataLoss("audit entry " + std::to_string(record.index) +
                        " does not parse: " + event.status().message());
      }
      // Only entries with a principal and an artifact are fetches by a tenant.
      if (!event->principal.is_object() || event->artifact_name.empty()) continue;
      auto tenant_it = event->principal.find("tenantId");
      if (tenant_it == event->principal.end() || !tenant_it->is_string()) continue;
      const std::string tenant = tenant_it->get<std::string>();
      FetchStats& stats =
          index[RefKey(event->artifact_name, event->artifact_version)][tenant];
      if (stats.count == 0 || time < stats.first) stats.first = time;
      if (stats.count == 0 || time >= stats.last) {
        stats.last = time;
        stats.rule_id = event->rule_id;
        std::string jurisdiction;
        const nlohmann::json& input = event->body.contains("input") ? event->body["input"]
                                                                    : nlohmann::json();
        if (input.is_object() && input.contains("principal") && input["principal"].is_object()) {
          auto j = input["principal"].find("jurisdiction");
          if (j != input["principal"].end() && j->is_string()) jurisdiction = j->get<std::string>();
        }
        if (jurisdiction.empty()) {
          if (const Tenant* t = tenants.FindById(tenant)) jurisdiction = t->jurisdiction;
        }
        stats.jurisdiction = std::move(jurisdiction);
      }
      ++stats.count;
    }
    if (records.size() < static_cast<size_t>(kAuditBatch)) break;
    filter.start_index = records.back().index + 1;
  }
  return index;
}

policy::JurisdictionSet BuiltInEea() {
  policy::JurisdictionSet eea;
  eea.codes = {"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
               "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK"};
  std::sort(eea.codes.begin(), eea.codes.end());
  return eea;
}

policy::JurisdictionSet EeaOf(const policy::Policy& policy) {
  for (std::string_view name : {"EEA", "eea"}) {
    Result<policy::JurisdictionSet> group = policy.JurisdictionGroup(name);
    if (group.ok()) return std::move(*group);
  }
  return BuiltInEea();
}

void SetRef(const ArtifactRecord& a, sov::v1::ArtifactRef* out) {
  out->set_name(a.spec.name);
  out->set_version(a.spec.version);
  out->set_digest(a.digest);
}

void AddRecipients(const std::map<std::string, FetchStats>& fetches, const ArtifactRecord* via,
                   const policy::JurisdictionSet& eea, sov::v1::ProcessingRecord* out) {
  for (const auto& [tenant, stats] : fetches) {
    sov::v1::Recipient* r = out->add_recipients();
    r->set_tenant_id(tenant);
    r->set_jurisdiction(stats.jurisdiction);
    r->set_kind(via == nullptr ? sov::v1::RECIPIENT_KIND_FETCHED
                               : sov::v1::RECIPIENT_KIND_VIA_DERIVED_MODEL);
    if (via != nullptr) SetRef(*via, r->mutable_via());
    r->set_fetch_count(stats.count);
    *r->mutable_first_fetch_time() = ToTimestamp(stats.first);
    *r->mutable_last_fetch_time() = ToTimestamp(stats.last);
    const bool third = stats.jurisdiction.empty() || !eea.Contains(stats.jurisdiction);
    r->set_third_country_transfer(third);
    if (third) r->set_transfer_rule_id(stats.rule_id);
  }
}

sov::v1::RetentionAction RetentionActionToProto(std::string_view action) {
  if (action == "erase") return sov::v1::RETENTION_ACTION_ERASE;
  if (action == "revoke") return sov::v1::RETENTION_ACTION_REVOKE;
  return sov::v1::RETENTION_ACTION_NONE;
}

}  // namespace

bool IsThirdCountry(const policy::Policy& policy, const std::string& jurisdiction) {
  return jurisdiction.empty() || !EeaOf(policy).Contains(jurisdiction);
}

Status BuildProcessingRecords(
    registry::Registry& registry, const policy::Policy& policy, const TenantDirectory& tenants,
    const ProcessingRecordsOptions& options,
    const std::function<Status(const sov::v1::ProcessingRecord&)>& emit) {
  SOV_ASSIGN_OR_RETURN(ArtifactCatalog catalog, ArtifactCatalog::Load(registry));
  SOV_ASSIGN_OR_RETURN(FetchIndex fetches, ReadFetches(registry.store(), tenants));
  const policy::JurisdictionSet eea = EeaOf(policy);
  static const std::map<std::string, FetchStats> kNone;
  auto fetches_of = [&](const ArtifactRecord& a) -> const std::map<std::string, FetchStats>& {
    auto it = fetches.find(RefKey(a.spec.name, a.spec.version));
    return it == fetches.end() ? kNone : it->second;
  };

  for (const ArtifactRecord& a : catalog.artifacts()) {
    if (a.spec.kind == Kind::kReport) continue;
    if (a.spec.kind == Kind::kModel && !options.include_models) continue;
    if (a.stage == Stage::kErased && !options.include_erased) continue;
    if (!options.owner_tenant.empty() && a.spec.owner_tenant != options.owner_tenant) continue;

    sov::v1::ProcessingRecord record;
    SetRef(a, record.mutable_artifact());
    record.set_kind(KindToProto(a.spec.kind));
    record.set_owner_tenant(a.spec.owner_tenant);
    for (const std::string& p : a.spec.purposes) record.add_purposes(p);
    record.set_lawful_basis(LawfulBasisToProto(a.spec.lawful_basis));
    record.set_special_category_condition(SpecialConditionToProto(a.spec.special_category_condition));
    record.set_classification(
        ClassificationToProto(policy.EffectiveClassification(catalog.PolicyView(a))));
    record.mutable_storage_location()->set_id(a.spec.storage_location);
    record.mutable_storage_location()->set_jurisdiction(a.spec.storage_jurisdiction);
    AddRecipients(fetches_of(a), nullptr, eea, &record);

    // Models derived from it, transitively (through derived datasets and models; reports carry
    // metrics, not the data, and are not followed), breadth-first, each once.
    std::vector<const ArtifactRecord*> queue = catalog.Dependents(a);
    std::set<const ArtifactRecord*> seen(queue.begin(), queue.end());
    for (size_t i = 0; i < queue.size(); ++i) {
      const ArtifactRecord* next = queue[i];
      if (next->spec.kind == Kind::kReport) continue;
      if (next->spec.kind == Kind::kModel) {
        SetRef(*next, record.add_derived_models());
        AddRecipients(fetches_of(*next), next, eea, &record);
      }
      for (const ArtifactRecord* child : catalog.Dependents(*next)) {
        if (seen.insert(child).second) queue.push_back(child);
      }
    }

    if (std::optional<RetentionRuling> ruling = RuleOnRetention(policy, catalog, a)) {
      *record.mutable_retention_deadline() = ToTimestamp(ruling->deadline);
      record.set_retention_action(RetentionActionToProto(ruling->action));
    } else if (a.stage == Stage::kErased && a.spec.retention_deadline.has_value()) {
      // Erased: the deadline it had, as stored at push.
      *record.mutable_retention_deadline() = ToTimestamp(*a.spec.retention_deadline);
      record.set_retention_action(RetentionActionToProto(a.spec.retention_action));
    } else {
      record.set_retention_action(sov::v1::RETENTION_ACTION_NONE);
    }
    record.set_stage(StageToProto(a.stage));
    *record.mutable_create_time() = ToTimestamp(a.create_time);
    if (a.tombstone.has_value()) *record.mutable_erase_time() = ToTimestamp(a.tombstone->erase_time);
    SOV_RETURN_IF_ERROR(emit(record));
  }
  return OkStatus();
}

}  // namespace sov::gateway
