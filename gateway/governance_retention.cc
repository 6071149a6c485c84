// GovernanceService's retention and records calls: GetRetentionPlan, SweepRetention (both over
// gateway/retention.h) and ExportProcessingRecords (gateway/processing_records.h). The guard
// decides `retention.read`, `retention.sweep` and `records.export` before the handler runs;
// these concern every tenant's artifacts, so the policy should grant them to a compliance role
// only (docs/api.md).
#include <charconv>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/hex.h"
#include "gateway/audit_convert.h"
#include "gateway/governance_service.h"
#include "gateway/processing_records.h"
#include "gateway/registry_convert.h"
#include "gateway/retention.h"

namespace sov::gateway {
namespace {

constexpr int32_t kDefaultPageSize = 100;
constexpr int32_t kMaxPageSize = 1000;
constexpr std::chrono::hours kDefaultHorizon{30 * 24};
// SweepRetentionResponse lists at most this many items (the counts cover all).
constexpr size_t kMaxSweepItems = 10000;

int64_t Micros(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

// Where a plan page ends, and the filters it was made for. A plan whose horizon was left unset
// keeps the first page's horizon (now + 30 days then) on every later page.
struct PlanCursor {
  int64_t deadline_us = 0;
  std::string name;
  std::string version;
  int64_t horizon_us = 0;
  std::string filters;  // kind, classification, owner, and whether the horizon was given
};

std::string FiltersOf(const sov::v1::GetRetentionPlanRequest& request) {
  return std::to_string(request.kind()) + "," + std::to_string(request.classification()) + "," +
         request.owner_tenant() + "," + (request.has_horizon() ? "h" : "-");
}

std::string EncodeCursor(const PlanCursor& c) {
  return HexEncode("rp1\n" + std::to_string(c.deadline_us) + "\n" + c.name + "\n" + c.version +
                   "\n" + std::to_string(c.horizon_us) + "\n" + c.filters);
}

Status BadPlanToken() {
  return InvalidArgument(
      "page_token is not one this server wrote; pass next_page_token of the previous response "
      "unchanged, with the same filters");
}

Result<int64_t> ParseInt(std::string_view text) {
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return BadPlanToken();
  }
  return value;
}

Result<PlanCursor> DecodeCursor(std::string_view token, const std::string& filters) {
  if (token.size() > 4096) return BadPlanToken();
  std::optional<std::vector<uint8_t>> bytes = HexDecode(token);
  if (!bytes.has_value()) return BadPlanToken();
  std::string text(bytes->begin(), bytes->end());
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    parts.push_back(text.substr(start, nl - start));
  }
  parts.push_back(text.substr(start));
  if (parts.size() != 6 || parts[0] != "rp1") return BadPlanToken();
  PlanCursor c;
  SOV_ASSIGN_OR_RETURN(c.deadline_us, ParseInt(parts[1]));
  c.name = parts[2];
  c.version = parts[3];
  SOV_ASSIGN_OR_RETURN(c.horizon_us, ParseInt(parts[4]));
  c.filters = parts[5];
  if (c.filters != filters) {
    return InvalidArgument(
        "page_token was written for other filters; repeat the first request's horizon, kind, "
        "classification and owner_tenant with it");
  }
  return c;
}

sov::v1::RetentionAction ActionToProto(std::string_view action) {
  return action == "erase"    ? sov::v1::RETENTION_ACTION_ERASE
         : action == "revoke" ? sov::v1::RETENTION_ACTION_REVOKE
                              : sov::v1::RETENTION_ACTION_NONE;
}

void ItemToProto(const RetentionItem& item, sov::v1::RetentionItem* out) {
  const registry::ArtifactRecord& a = item.artifact;
  out->mutable_artifact()->set_name(a.spec.name);
  out->mutable_artifact()->set_version(a.spec.version);
  out->mutable_artifact()->set_digest(a.digest);
  out->set_kind(KindToProto(a.spec.kind));
  out->set_classification(ClassificationToProto(item.classification));
  out->set_owner_tenant(a.spec.owner_tenant);
  *out->mutable_deadline() = ToTimestamp(item.ruling.deadline);
  out->set_action(ActionToProto(item.ruling.action));
  out->set_rule_id(item.ruling.rule_id);
  // A deadline from the pusher's retain_until (rule_id "retain_until") has no location.
  if (!item.ruling.rule_location.file.empty() || item.ruling.rule_location.line > 0) {
    // The policy file's base name, as in every decision callers see: no server paths.
    out->mutable_rule_location()->set_file(
        std::filesystem::path(item.ruling.rule_location.file).filename().string());
    out->mutable_rule_location()->set_line(item.ruling.rule_location.line);
    out->mutable_rule_location()->set_column(item.ruling.rule_location.column);
  }
  out->set_stage(StageToProto(a.stage));
}

}  // namespace

grpc::Status GovernanceService::GetRetentionPlan(grpc::ServerContext* context,
                                                 const sov::v1::GetRetentionPlanRequest* request,
                                                 sov::v1::GetRetentionPlanResponse* response) {
  return guard_->Run(*context, kGetRetentionPlanMethod, [&](GuardedCall& call) -> Status {
    int32_t page_size = request->page_size();
    if (page_size < 0 || page_size > kMaxPageSize) {
      return InvalidArgument("page_size must be 1 to " + std::to_string(kMaxPageSize) +
                             " (0 means " + std::to_string(kDefaultPageSize) + "), got " +
                             std::to_string(page_size));
    }
    if (page_size == 0) page_size = kDefaultPageSize;
    const SystemTime now = SystemNow();
    const std::string filters = FiltersOf(*request);
    std::optional<PlanCursor> after;
    if (!request->page_token().empty()) {
      SOV_ASSIGN_OR_RETURN(PlanCursor cursor, DecodeCursor(request->page_token(), filters));
      after = std::move(cursor);
    }

    RetentionPlanFilter filter;
    if (request->has_horizon()) {
      Result<SystemTime> horizon = FromTimestamp(request->horizon());
      if (!horizon.ok()) return horizon.status().WithContext("horizon");
      filter.horizon = *horizon;
      if (!after.has_value() && filter.horizon < now - std::chrono::seconds(1)) {
        return InvalidArgument("horizon " + FormatRfc3339(filter.horizon) +
                               " is in the past; deadlines already past are always listed, so "
                               "leave the horizon unset (30 days from now) or give a later one");
      }
    } else {
      filter.horizon = after.has_value()
                           ? SystemTime(std::chrono::microseconds(after->horizon_us))
                           : now + kDefaultHorizon;
    }
    if (request->kind() != sov::v1::ARTIFACT_KIND_UNSPECIFIED) {
      SOV_ASSIGN_OR_RETURN(filter.kind, KindFromProto(request->kind()));
    }
    if (request->classification() != sov::v1::CLASSIFICATION_UNSPECIFIED) {
      filter.classification = ClassificationName(request->classification());
      if (filter.classification.empty()) {
        return InvalidArgument("classification: unknown value " +
                               std::to_string(request->classification()));
      }
    }
    filter.owner_tenant = request->owner_tenant();

    SOV_ASSIGN_OR_RETURN(std::vector<RetentionItem> items,
                         ComputeRetentionPlan(*registry_, call.policy(), filter));
    size_t begin = 0;
    if (after.has_value()) {
      const auto key = std::make_tuple(after->deadline_us, after->name, after->version);
      while (begin < items.size() &&
             std::make_tuple(Micros(items[begin].ruling.deadline), items[begin].artifact.spec.name,
                             items[begin].artifact.spec.version) <= key) {
        ++begin;
      }
    }
    const size_t end = std::min(items.size(), begin + static_cast<size_t>(page_size));
    for (size_t i = begin; i < end; ++i) ItemToProto(items[i], response->add_items());
    if (end < items.size() && end > begin) {
      const RetentionItem& last = items[end - 1];
      response->set_next_page_token(EncodeCursor(
          PlanCursor{Micros(last.ruling.deadline), last.artifact.spec.name,
                     last.artifact.spec.version, Micros(filter.horizon), filters}));
    }
    response->set_policy_digest(call.policy().digest());
    return OkStatus();
  });
}

grpc::Status GovernanceService::SweepRetention(grpc::ServerContext* context,
                                               const sov::v1::SweepRetentionRequest* request,
                                               sov::v1::SweepRetentionResponse* response) {
  return guard_->Run(*context, kSweepRetentionMethod, [&](GuardedCall& call) -> Status {
    SOV_RETURN_IF_ERROR(call.AppendAuditEventsNow(registry_->audit()));
    SweepOptions options;
    options.dry_run = request->dry_run();
    options.concurrency = sweep_concurrency_;
    options.max_listed = kMaxSweepItems;
    options.request_id = call.request_id();
    options.cancelled = [context] { return context->IsCancelled(); };
    SOV_ASSIGN_OR_RETURN(SweepReport report, gateway::SweepRetention(*registry_, call.policy(),
                                                                     SystemNow(), options));
    for (const SweptItem& swept : report.items) ItemToProto(swept.item, response->add_items());
    response->set_erased_count(report.erased);
    response->set_revoked_count(report.revoked);
    response->set_failed_count(report.failed);
    response->set_truncated(report.truncated);
    return OkStatus();
  });
}

grpc::Status GovernanceService::ExportProcessingRecords(
    grpc::ServerContext* context, const sov::v1::ExportProcessingRecordsRequest* request,
    grpc::ServerWriter<sov::v1::ExportProcessingRecordsResponse>* writer) {
  return guard_->Run(*context, kExportProcessingRecordsMethod, [&](GuardedCall& call) -> Status {
    SOV_RETURN_IF_ERROR(call.AppendAuditEventsNow(registry_->audit()));
    ProcessingRecordsOptions options;
    options.owner_tenant = request->owner_tenant();
    options.include_erased = request->include_erased();
    options.include_models = request->include_models();
    return BuildProcessingRecords(
        *registry_, call.policy(), *tenants_, options,
        [&](const sov::v1::ProcessingRecord& record) -> Status {
          if (context->IsCancelled()) return Cancelled("the client cancelled the call");
          sov::v1::ExportProcessingRecordsResponse message;
          *message.mutable_record() = record;
          if (!writer->Write(message)) return Cancelled("the client went away");
          return OkStatus();
        });
  });
}

}  // namespace sov::gateway
