#include "gateway/registry_service.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crypto/dsse.h"
#include "crypto/ed25519.h"
#include "gateway/audit_convert.h"
#include "gateway/call_guard.h"
#include "gateway/internal/artifact_access.h"
#include "gateway/log.h"
#include "gateway/registry_convert.h"
#include "gateway/release_checks.h"
#include "policy/policy.h"

namespace sov::gateway {
namespace {

using registry::ArtifactRecord;
using registry::Stage;
using internal::DecideOn;
using internal::FillLineage;
using internal::NotFoundFor;
using internal::RefText;
using internal::ResolveVisible;
using internal::View;

std::string OwnerOf(std::string_view name) {
  size_t slash = name.find('/');
  return std::string(slash == std::string_view::npos ? name : name.substr(0, slash));
}

bool Terminal(Stage stage) {
  return stage == Stage::kRejected || stage == Stage::kRevoked || stage == Stage::kErased;
}

// The last revocation or rejection reason in the history, for WRONG_STAGE messages.
std::string StageReason(const ArtifactRecord& record) {
  // An erasure's reason may name the data subject: "erased" says all a reader needs.
  if (record.stage == Stage::kErased) return "";
  for (auto it = record.history.rbegin(); it != record.history.rend(); ++it) {
    if (it->to == record.stage && !it->reason.empty()) return ": " + it->reason;
  }
  return "";
}

Status WrongStage(const ArtifactRecord& record, std::string_view doing) {
  return FailedPrecondition("WRONG_STAGE: " + RefText(record.spec.name, record.spec.version) +
                            " is " + std::string(registry::StageName(record.stage)) + StageReason(record) +
                            "; cannot " + std::string(doing));
}

// Reads the upload and hides other tenants' uploads behind NOT_FOUND.
Result<registry::UploadRecord> OwnUpload(registry::Registry& registry, const GuardedCall& call,
                                         const std::string& upload_id) {
  if (upload_id.empty()) return InvalidArgument("upload_id is required");
  Result<registry::UploadRecord> upload = registry.GetUpload(upload_id);
  if (!upload.ok() || upload->spec.owner_tenant != call.principal().tenant.id) {
    if (!upload.ok() && upload.status().code() != StatusCode::kNotFound) return upload.status();
    return NotFound("upload " + upload_id + " not found");
  }
  return std::move(*upload);
}

// Completes a COMMITTED upload's artifact ref with the digest (the upload record does not hold
// it): the API promises name, version and digest, so that a client that lost the commit's
// response can check what was stored.
void SetCommittedDigest(registry::Registry& registry, sov::v1::Upload* upload) {
  if (upload->state() != sov::v1::UPLOAD_STATE_COMMITTED || !upload->artifact().digest().empty()) {
    return;
  }
  Result<ArtifactRecord> artifact =
      registry.Get(upload->artifact().name(), upload->artifact().version());
  if (artifact.ok()) upload->mutable_artifact()->set_digest(artifact->digest);
}

// The policy's view of an upload's artifact (what CreateUpload decided on).
policy::Artifact UploadArtifact(registry::Registry& registry,
                                const registry::UploadRecord& upload) {
  policy::Artifact a = PolicyArtifact(upload.spec);
  FillLineage(registry, a);
  a.stage = "pending";
  if (upload.declared_size.has_value()) a.size_bytes = *upload.declared_size;
  return a;
}

// Decides `artifact.push` on an upload's artifact; PERMISSION_DENIED naming the rule when denied.
Status DecidePushOn(registry::Registry& registry, GuardedCall& call,
                    const registry::UploadRecord& upload) {
  const policy::Decision& decision = call.Decide("artifact.push", UploadArtifact(registry, upload));
  if (!decision.allowed()) return call.Denied(decision, "artifact.push");
  return OkStatus();
}

// Records that a release was asked for (the artifact is released as soon as its checks are
// met), committing `audit` (the call's decisions) with it.
Result<ArtifactRecord> MarkReleaseRequested(registry::Registry& registry, ArtifactRecord record,
                                            std::vector<registry::AuditEvent> audit) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (record.release_requested) {
      if (!audit.empty()) SOV_RETURN_IF_ERROR(registry.audit().Append(std::move(audit)).status());
      return record;
    }
    ArtifactRecord updated = record;
    updated.release_requested = true;
    updated.update_time = std::chrono::system_clock::now();
    registry::WriteBatch batch;
    batch.Add(registry::mutation::UpdateArtifact{updated});
    for (const registry::AuditEvent& event : audit) batch.Add(registry::mutation::AppendAudit{event});
    Result<registry::CommitResult> committed = registry.store().Commit(std::move(batch));
    if (committed.ok()) {
      ++updated.revision;
      return updated;
    }
    if (committed.status().code() != StatusCode::kAborted) return committed.status();
    SOV_ASSIGN_OR_RETURN(record, registry.Get(record.spec.name, record.spec.version));
  }
  return Aborted("artifact " + RefText(record.spec.name, record.spec.version) +
                 " kept changing; try again");
}

// Fills the artifact's release_status with the checks computed under `policy`; a failure to
// compute them leaves the stored flag alone (the record itself is still worth returning).
void AddReleaseStatus(registry::Registry& registry, const policy::Policy& policy,
                      const TenantDirectory& tenants, const ArtifactRecord& record,
                      sov::v1::Artifact* out) {
  if (record.stage == Stage::kErased || record.spec.kind == registry::Kind::kReport) return;
  Result<ReleaseState> state = ComputeReleaseState(registry, policy, tenants, record);
  if (!state.ok()) {
    LogEvent(*ModuleLogger("registry"), spdlog::level::warn, "release checks unavailable",
             {{"artifact", RefText(record.spec.name, record.spec.version)},
              {"error", state.status().message()}});
    return;
  }
  *out->mutable_release_status() = state->status;
}

// ListArtifacts' filters in one canonical string (stages and labels sorted, each part with its
// length in front), to which its page tokens are bound.
std::string ArtifactFilterKey(const sov::v1::ListArtifactsRequest& request) {
  std::string key;
  AppendKeyPart(key, std::to_string(request.kind()));
  AppendKeyPart(key, request.name());
  AppendKeyPart(key, request.name_prefix());
  std::vector<int> stages(request.stages().begin(), request.stages().end());
  std::sort(stages.begin(), stages.end());
  for (int s : stages) AppendKeyPart(key, std::to_string(s));
  AppendKeyPart(key, "labels");
  std::map<std::string, std::string> labels(request.labels().begin(), request.labels().end());
  for (const auto& [k, v] : labels) {
    AppendKeyPart(key, k);
    AppendKeyPart(key, v);
  }
  AppendKeyPart(key, request.owner_tenant());
  AppendKeyPart(key, std::to_string(request.classification()));
  return key;
}

}  // namespace

RegistryService::RegistryService(std::shared_ptr<const CallGuard> guard,
                                 std::shared_ptr<registry::Registry> registry,
                                 std::shared_ptr<const TenantDirectory> tenants,
                                 std::shared_ptr<const PageTokens> page_tokens)
    : guard_(std::move(guard)),
      registry_(std::move(registry)),
      tenants_(std::move(tenants)),
      page_tokens_(std::move(page_tokens)) {}

grpc::Status RegistryService::CreateUpload(grpc::ServerContext* context,
                                           const sov::v1::CreateUploadRequest* request,
                                           sov::v1::CreateUploadResponse* response) {
  return guard_->Run(*context, kCreateUploadMethod, [&](GuardedCall& call) -> Status {
    const sov::v1::ArtifactSpec& in = request->spec();
    const Tenant& tenant = call.principal().tenant;
    registry::ArtifactSpec spec;
    SOV_ASSIGN_OR_RETURN(spec.kind, KindFromProto(in.kind()));
    if (spec.kind == registry::Kind::kReport) {
      return InvalidArgument("kind: REPORT artifacts are written by the gateway only");
    }
    spec.name = in.name();
    spec.version = in.version();
    if (spec.name.empty()) return InvalidArgument("spec.name is required");
    if (IsReservedReportName(spec.name)) {
      return InvalidArgument("spec.name '" + spec.name + "': a last segment `" +
                             std::string(kReportNameSegment) +
                             "` is reserved for the gateway's evaluation reports");
    }
    if (OwnerOf(spec.name) != tenant.id) {
      return InvalidArgument("spec.name '" + spec.name + "' must start with your tenant id: '" +
                             tenant.id + "/...'");
    }
    spec.owner_tenant = tenant.id;
    spec.created_by = tenant.id;
    spec.media_type = in.media_type().empty() ? "application/octet-stream" : in.media_type();
    spec.description = in.description();
    spec.classification = ClassificationName(in.classification());
    if (spec.classification.empty()) {
      return InvalidArgument(
          "spec.classification is required (public, internal, personal, special-category, "
          "pseudonymised or anonymised)");
    }
    spec.purposes.assign(in.purposes().begin(), in.purposes().end());
    spec.lawful_basis = LawfulBasisName(in.lawful_basis());
    spec.special_category_condition = SpecialConditionName(in.special_category_condition());
    if (spec.classification == "special-category" && spec.special_category_condition.empty()) {
      return InvalidArgument(
          "spec.special_category_condition is required for special-category data (GDPR Art. "
          "9(2))");
    }
    for (const auto& [k, v] : in.labels()) spec.labels[k] = v;

    // Lineage: every artifact named must exist, be visible to the pusher, and be usable.
    policy::Artifact decided = PolicyArtifact(spec);
    decided.lineage.clear();
    for (const sov::v1::LineageRef& ref : in.lineage()) {
      if (ref.artifact().version().empty()) {
        return InvalidArgument("lineage: " + ref.artifact().name() + " needs a version");
      }
      Result<ArtifactRecord> parent =
          ResolveVisible(*registry_, call, ref.artifact(), /*version_required=*/true);
      if (!parent.ok()) {
        if (parent.status().code() == StatusCode::kNotFound) {
          return NotFound("lineage artifact " +
                          RefText(ref.artifact().name(), ref.artifact().version()) +
                          " not found");
        }
        return parent.status();
      }
      if (parent->stage == Stage::kErased || parent->stage == Stage::kRevoked ||
          parent->stage == Stage::kRejected) {
        return FailedPrecondition("lineage artifact " +
                                  RefText(parent->spec.name, parent->spec.version) + " is " +
                                  std::string(registry::StageName(parent->stage)));
      }
      registry::LineageLink link;
      link.name = parent->spec.name;
      link.version = parent->spec.version;
      link.digest = parent->digest;
      link.kind = parent->spec.kind;
      link.relation = RelationName(ref.relation());
      if (link.relation.empty()) {
        link.relation = spec.kind == registry::Kind::kModel ? "trained-on" : "derived-from";
      }
      spec.lineage.push_back(link);
      policy::LineageEntry entry;
      entry.kind = std::string(registry::KindName(parent->spec.kind));
      entry.name = parent->spec.name;
      entry.version = parent->spec.version;
      entry.classification = parent->spec.effective_classification.empty()
                                 ? parent->spec.classification
                                 : parent->spec.effective_classification;
      entry.purposes = parent->spec.purposes;
      decided.lineage.push_back(std::move(entry));
    }
    const policy::Policy& policy = call.policy();
    spec.effective_classification = policy.EffectiveClassification(decided);

    // Storage location: the one asked for, else the first in config order that the residency
    // rules allow for the effective classification. When none does, the first location is
    // decided on, so that the denial names the residency rule that forbids it.
    const std::vector<registry::RegistryLocation>& locations = registry_->options().locations;
    if (locations.empty()) return FailedPrecondition("the gateway has no storage location");
    const registry::RegistryLocation* chosen = nullptr;
    if (!in.storage_location().empty()) {
      std::string known;
      for (const auto& location : locations) {
        if (location.name == in.storage_location()) chosen = &location;
        known += (known.empty() ? "" : ", ") + location.name;
      }
      if (chosen == nullptr) {
        return InvalidArgument("spec.storage_location '" + in.storage_location() +
                               "' is not a location of this gateway (known: " + known + ")");
      }
    } else {
      policy::JurisdictionSet allowed = policy.StorageJurisdictions(spec.effective_classification);
      for (const auto& location : locations) {
        if (allowed.Contains(location.jurisdiction)) {
          chosen = &location;
          break;
        }
      }
      if (chosen == nullptr) chosen = &locations.front();
    }
    spec.storage_location = chosen->name;
    spec.storage_jurisdiction = chosen->jurisdiction;

    // The artifact as the rules see it: lineage with the resolved classifications and purposes.
    const std::vector<policy::LineageEntry> lineage_entries = decided.lineage;
    policy::Artifact full = PolicyArtifact(spec);
    full.lineage = lineage_entries;
    full.stage = "pending";
    full.created_at = std::chrono::system_clock::now();
    if (request->has_size_bytes()) full.size_bytes = request->size_bytes();

    // Retention, for the record: the policy's deadline, or the pusher's own earlier one. The
    // pusher's retain_until is also kept as asked: the sweeper recomputes the policy's deadline
    // with the policy in force and applies the earlier of the two (gateway/retention.h). A
    // retain_until already past is accepted; the next sweep erases the artifact.
    policy::Retention retention = policy.RetentionFor(full);
    spec.retention_action = std::string(policy::RetentionActionName(retention.action));
    if (spec.retention_action == "keep") spec.retention_action = "none";
    spec.retention_deadline = retention.deadline;
    if (in.has_retain_until()) {
      // Checked for range: the stored value decides an erasure, so it must not overflow.
      Result<SystemTime> until = FromTimestamp(in.retain_until());
      if (!until.ok()) return until.status().WithContext("spec.retain_until");
      const SystemTime wanted = *until;
      spec.retain_until = wanted;
      if (!spec.retention_deadline.has_value() || wanted < *spec.retention_deadline) {
        spec.retention_deadline = wanted;
        if (spec.retention_action == "none") spec.retention_action = "erase";
      }
    }

    const policy::Decision& decision = call.Decide("artifact.push", full);
    if (!decision.allowed()) return call.Denied(decision, "artifact.push");

    std::optional<int64_t> size;
    if (request->has_size_bytes()) {
      if (request->size_bytes() < 0) return InvalidArgument("size_bytes must not be negative");
      size = request->size_bytes();
    }
    registry::Actor actor = call.actor();
    std::vector<registry::AuditEvent> audit = call.TakeAuditEvents();
    Result<registry::UploadRecord> upload = registry_->CreateUpload(
        std::move(spec), size, request->expected_digest(), actor, std::move(audit));
    if (!upload.ok()) return upload.status();
    UploadToProto(*upload, response->mutable_upload());
    DecisionToProto(decision, "artifact.push", response->mutable_upload()->mutable_decision());
    return OkStatus();
  });
}

grpc::Status RegistryService::Push(grpc::ServerContext* context,
                                   grpc::ServerReader<sov::v1::PushRequest>* reader,
                                   sov::v1::PushResponse* response) {
  return guard_->Run(*context, kPushMethod, [&](GuardedCall& call) -> Status {
    sov::v1::PushRequest message;
    if (!reader->Read(&message)) return InvalidArgument("empty Push stream: send a header first");
    if (!message.has_header()) return InvalidArgument("the first Push message must be a header");
    const std::string upload_id = message.header().upload_id();
    SOV_ASSIGN_OR_RETURN(registry::UploadRecord upload, OwnUpload(*registry_, call, upload_id));
    if (upload.state != registry::UploadState::kOpen) {
      call.Decide("artifact.push", UploadArtifact(*registry_, upload));
      return FailedPrecondition("upload " + upload_id + " is " +
                                std::string(registry::UploadStateName(upload.state)));
    }
    SOV_RETURN_IF_ERROR(DecidePushOn(*registry_, call, upload));
    SOV_ASSIGN_OR_RETURN(std::unique_ptr<registry::UploadWriter> writer,
                         registry_->OpenUploadWriter(upload_id, message.header().offset()));
    const int64_t max_chunk = registry_->options().max_chunk_bytes;
    // Every so often the bytes received are made durable and the committed offset recorded, so
    // that after a gateway crash the client resumes near where it was, not at the start.
    constexpr int64_t kDurableEvery = int64_t{64} << 20;
    int64_t next_durable = writer->received() + kDurableEvery;
    while (reader->Read(&message)) {
      if (message.has_chunk()) {
        if (static_cast<int64_t>(message.chunk().size()) > max_chunk) {
          (void)writer->Pause();
          return InvalidArgument("chunk of " + std::to_string(message.chunk().size()) +
                                 " bytes is larger than max_chunk_bytes " +
                                 std::to_string(max_chunk));
        }
        Status written = writer->Write(message.chunk());
        if (!written.ok()) {
          (void)writer->Pause();
          return written;
        }
        if (writer->received() >= next_durable) {
          SOV_RETURN_IF_ERROR(writer->Pause().status());
          next_durable = writer->received() + kDurableEvery;
        }
      } else if (message.has_commit()) {
        // Decided again at commit: the policy may have changed while the bytes streamed.
        const policy::Decision& decision = call.Decide("artifact.push", UploadArtifact(*registry_, upload));
        if (!decision.allowed()) {
          (void)writer->Pause();
          return call.Denied(decision, "artifact.push");
        }
        registry::Actor actor = call.actor();
        Result<ArtifactRecord> artifact =
            writer->Commit(message.commit().digest(), actor, call.TakeAuditEvents());
        if (!artifact.ok()) return artifact.status();
        writer.reset();
        if (artifact->spec.kind == registry::Kind::kModel) {
          // The push asks for the model's release: validation runs its gates and releases it
          // when they pass (docs/models.md). The push is committed whatever happens here.
          registry::Registry::ValidationRequest validation;
          validation.policy_digest = call.policy().digest();
          registry::Actor system;
          system.system_actor = std::string(kValidationActor);
          system.request_id = call.request_id();
          Result<registry::JobRecord> job =
              registry_->QueueValidation(*artifact, validation, system, {});
          if (job.ok()) {
            LogEvent(*ModuleLogger("validation"), spdlog::level::info, "validation queued",
                     {{"model", RefText(artifact->spec.name, artifact->spec.version)},
                      {"job", job->id}});
            Result<ArtifactRecord> queued = registry_->Get(artifact->spec.name, artifact->spec.version);
            if (queued.ok()) artifact = std::move(queued);
          } else {
            LogEvent(*ModuleLogger("validation"), spdlog::level::warn,
                     "could not queue validation of a pushed model",
                     {{"model", RefText(artifact->spec.name, artifact->spec.version)},
                      {"error", job.status().message()}});
          }
        }
        Result<registry::UploadRecord> done = registry_->GetUpload(upload_id);
        if (done.ok()) UploadToProto(*done, response->mutable_upload());
        if (response->upload().state() == sov::v1::UPLOAD_STATE_COMMITTED) {
          response->mutable_upload()->mutable_artifact()->set_digest(artifact->digest);
        }
        ArtifactAndManifestToProto(*artifact, response->mutable_artifact(),
                                   response->mutable_manifest());
        return OkStatus();
      } else if (message.has_header()) {
        (void)writer->Pause();
        return InvalidArgument("a Push stream has exactly one header, first");
      }
    }
    // The client half-closed (or went away) without a commit: keep what is durable.
    SOV_ASSIGN_OR_RETURN(registry::UploadRecord paused, writer->Pause());
    UploadToProto(paused, response->mutable_upload());
    return OkStatus();
  });
}

grpc::Status RegistryService::GetUpload(grpc::ServerContext* context,
                                        const sov::v1::GetUploadRequest* request,
                                        sov::v1::GetUploadResponse* response) {
  return guard_->Run(*context, kGetUploadMethod, [&](GuardedCall& call) -> Status {
    SOV_ASSIGN_OR_RETURN(registry::UploadRecord upload,
                         OwnUpload(*registry_, call, request->upload_id()));
    SOV_RETURN_IF_ERROR(DecidePushOn(*registry_, call, upload));
    UploadToProto(upload, response->mutable_upload());
    SetCommittedDigest(*registry_, response->mutable_upload());
    return OkStatus();
  });
}

grpc::Status RegistryService::CancelUpload(grpc::ServerContext* context,
                                           const sov::v1::CancelUploadRequest* request,
                                           sov::v1::CancelUploadResponse* response) {
  return guard_->Run(*context, kCancelUploadMethod, [&](GuardedCall& call) -> Status {
    SOV_ASSIGN_OR_RETURN(registry::UploadRecord upload,
                         OwnUpload(*registry_, call, request->upload_id()));
    SOV_RETURN_IF_ERROR(DecidePushOn(*registry_, call, upload));
    registry::Actor actor = call.actor();
    SOV_ASSIGN_OR_RETURN(registry::UploadRecord cancelled,
                         registry_->CancelUpload(upload.id, actor, call.TakeAuditEvents()));
    UploadToProto(cancelled, response->mutable_upload());
    return OkStatus();
  });
}

grpc::ServerUnaryReactor* RegistryService::GetArtifact(grpc::CallbackServerContext* context,
                                                       const sov::v1::GetArtifactRequest* request,
                                                       sov::v1::GetArtifactResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  guard_->RunAsync(
      *context, kGetArtifactMethod,
      [&](GuardedCall& call) -> Status {
        SOV_ASSIGN_OR_RETURN(ArtifactRecord record,
                             ResolveVisible(*registry_, call, request->artifact(), false));
        ArtifactAndManifestToProto(record, response->mutable_artifact(),
                                   response->mutable_manifest());
        AddReleaseStatus(*registry_, call.policy(), *tenants_, record,
                         response->mutable_artifact());
        return OkStatus();
      },
      [reactor](grpc::Status status) { reactor->Finish(std::move(status)); });
  return reactor;
}

grpc::Status RegistryService::ListArtifacts(grpc::ServerContext* context,
                                            const sov::v1::ListArtifactsRequest* request,
                                            sov::v1::ListArtifactsResponse* response) {
  return guard_->Run(*context, kListArtifactsMethod, [&](GuardedCall& call) -> Status {
    int page_size = request->page_size();
    if (page_size < 0 || page_size > 1000) {
      return InvalidArgument("page_size must be between 1 and 1000 (0 means 100)");
    }
    if (page_size == 0) page_size = 100;
    registry::ArtifactFilter filter;
    if (request->kind() != sov::v1::ARTIFACT_KIND_UNSPECIFIED) {
      SOV_ASSIGN_OR_RETURN(filter.kind, KindFromProto(request->kind()));
    }
    filter.name = request->name();
    filter.name_prefix = request->name_prefix();
    std::vector<Stage> stages;
    for (int s : request->stages()) {
      SOV_ASSIGN_OR_RETURN(Stage stage, StageFromProto(static_cast<sov::v1::Stage>(s)));
      stages.push_back(stage);
    }
    if (stages.size() == 1) filter.stage = stages.front();
    if (std::find(stages.begin(), stages.end(), Stage::kErased) != stages.end()) {
      filter.include_erased = true;
    }
    for (const auto& [k, v] : request->labels()) filter.labels[k] = v;
    filter.owner_tenant = request->owner_tenant();
    std::string classification = ClassificationName(request->classification());
    const std::string filter_key = ArtifactFilterKey(*request);
    if (!request->page_token().empty()) {
      SOV_ASSIGN_OR_RETURN(filter.after_name,
                           page_tokens_->Open("ListArtifacts", filter_key, request->page_token()));
    }
    // Reads in batches until the page is full and one more visible name follows it, or the
    // names run out: artifacts the caller may not see shape neither the page nor its token (a
    // token after a hidden name would reveal that name and that it exists).
    filter.limit = std::max(page_size, 100);
    int64_t shown = 0;
    int64_t hidden = 0;
    std::string digest;
    std::string last_shown;
    bool more = false;
    while (!more) {
      SOV_ASSIGN_OR_RETURN(std::vector<ArtifactRecord> records, registry_->List(filter));
      std::string batch_last;
      for (const ArtifactRecord& record : records) {
        batch_last = record.spec.name;
        if (stages.size() > 1 &&
            std::find(stages.begin(), stages.end(), record.stage) == stages.end()) {
          continue;
        }
        if (!classification.empty() && ClassificationName(ClassificationToProto(
                                           record.spec.effective_classification.empty()
                                               ? record.spec.classification
                                               : record.spec.effective_classification)) !=
                                           classification) {
          continue;
        }
        policy::Decision decision = call.DecideQuietly("artifact.list", View(*registry_, record));
        if (digest.empty()) digest = std::string(decision.policy_digest);
        if (!decision.allowed()) {
          ++hidden;
          continue;
        }
        // A page ends after all versions of its last name.
        if (shown >= page_size && record.spec.name != last_shown) {
          more = true;
          break;
        }
        ++shown;
        last_shown = record.spec.name;
        ArtifactToProto(record, response->add_artifacts());
      }
      if (static_cast<int64_t>(records.size()) < filter.limit || batch_last.empty()) break;
      filter.after_name = batch_last;
    }
    if (digest.empty()) digest = call.policy().digest();
    call.RecordSummary("artifact.list", shown, hidden, digest);
    if (more) {
      response->set_next_page_token(page_tokens_->Seal("ListArtifacts", filter_key, last_shown));
    }
    return OkStatus();
  });
}

grpc::Status RegistryService::Fetch(grpc::ServerContext* context,
                                    const sov::v1::FetchRequest* request,
                                    grpc::ServerWriter<sov::v1::FetchResponse>* writer) {
  return guard_->Run(*context, kFetchMethod, [&](GuardedCall& call) -> Status {
    SOV_ASSIGN_OR_RETURN(ArtifactRecord record,
                         ResolveVisible(*registry_, call, request->artifact(), false));
    const policy::Decision& decision = call.Decide("artifact.fetch", View(*registry_, record));
    if (Terminal(record.stage)) return WrongStage(record, "fetch it");
    if (!decision.allowed()) return call.Denied(decision, "artifact.fetch");
    if (request->offset() < 0 || request->length() < 0) {
      return InvalidArgument("offset and length must not be negative");
    }
    if (request->offset() > record.size_bytes) {
      return OutOfRange("offset " + std::to_string(request->offset()) + " is beyond the size " +
                        std::to_string(record.size_bytes));
    }
    std::optional<uint64_t> length;
    if (request->length() > 0) {
      length = std::min<int64_t>(request->length(), record.size_bytes - request->offset());
    }
    // The decision is recorded before any byte leaves.
    if (std::vector<registry::AuditEvent> events = call.TakeAuditEvents(); !events.empty()) {
      Result<std::vector<int64_t>> appended = registry_->audit().Append(std::move(events));
      if (!appended.ok()) return Unavailable("the audit log is unavailable; retry");
    }
    SOV_ASSIGN_OR_RETURN(std::unique_ptr<registry::ArtifactReader> bytes,
                         registry_->OpenReader(record, request->offset(), length));
    sov::v1::FetchResponse header;
    ArtifactAndManifestToProto(record, header.mutable_header()->mutable_artifact(),
                               header.mutable_header()->mutable_manifest());
    header.mutable_header()->set_offset(request->offset());
    header.mutable_header()->set_length(static_cast<int64_t>(bytes->end()) - request->offset());
    DecisionToProto(decision, "artifact.fetch", header.mutable_header()->mutable_decision());
    if (!writer->Write(header)) return Cancelled("the client went away");
    sov::v1::FetchResponse chunk;
    while (true) {
      Result<std::string_view> piece = bytes->Next();
      if (!piece.ok()) {
        if (piece.status().code() == StatusCode::kDataLoss) {
          registry::AuditEvent event;
          event.type = "INTEGRITY_FAILURE";
          event.action = "artifact.fetch";
          event.artifact_name = record.spec.name;
          event.artifact_version = record.spec.version;
          event.artifact_digest = record.digest;
          event.body["details"] = {{"error", piece.status().message()},
                                   {"location", record.spec.storage_location}};
          call.AddAuditEvent(std::move(event));
        }
        return piece.status();
      }
      if (piece->empty()) break;
      chunk.set_chunk(piece->data(), piece->size());
      if (!writer->Write(chunk)) return Cancelled("the client went away");
    }
    return OkStatus();
  });
}

grpc::Status RegistryService::Sign(grpc::ServerContext* context,
                                   const sov::v1::SignRequest* request,
                                   sov::v1::SignResponse* response) {
  return guard_->Run(*context, kSignMethod, [&](GuardedCall& call) -> Status {
    SOV_ASSIGN_OR_RETURN(ArtifactRecord record,
                         ResolveVisible(*registry_, call, request->artifact(), true));
    SOV_RETURN_IF_ERROR(DecideOn(*registry_, call, "artifact.sign", record));
    if (Terminal(record.stage)) return WrongStage(record, "sign it");
    if (request->signatures().empty()) return InvalidArgument("signatures: at least one is required");
    const std::vector<crypto::Ed25519PublicKey>& keys = call.principal().tenant.publisher_keys;
    registry::Actor actor = call.actor();
    SOV_ASSIGN_OR_RETURN(std::vector<registry::KeyRevocation> revocations,
                         registry_->KeyRevocations());
    auto revoked = [&](const std::string& keyid) {
      return std::any_of(revocations.begin(), revocations.end(),
                         [&](const registry::KeyRevocation& r) { return r.keyid == keyid; });
    };
    for (const sov::v1::DsseSignature& sig : request->signatures()) {
      const crypto::Ed25519PublicKey* key = nullptr;
      if (!sig.keyid().empty()) {
        for (const auto& k : keys) {
          if (k.KeyId() == sig.keyid()) key = &k;
        }
        if (key == nullptr) {
          return PermissionDenied("key " + sig.keyid() +
                                  " is not a publisher key of tenant " +
                                  call.principal().tenant.id + " (tenants file: publisher_keys)");
        }
      } else {
        Result<crypto::DsseEnvelope> envelope = crypto::DsseEnvelope::FromJson(record.manifest);
        if (!envelope.ok()) return Internal("stored manifest is malformed");
        const std::string pae = crypto::Pae(envelope->payload_type, envelope->payload);
        for (const auto& k : keys) {
          if (crypto::Ed25519Verify(k, pae, sig.sig())) key = &k;
        }
        if (key == nullptr) {
          return InvalidArgument("BAD_SIGNATURE: the signature verifies with no publisher key of " +
                                 call.principal().tenant.id);
        }
      }
      if (revoked(key->KeyId())) {
        return PermissionDenied("key " + key->KeyId() +
                                " is revoked; its signatures no longer count");
      }
      SOV_ASSIGN_OR_RETURN(record, registry_->AddSignature(record.spec.name, record.spec.version,
                                                           *key, sig.sig(), "publisher",
                                                           call.principal().tenant.id, actor,
                                                           call.TakeAuditEvents()));
    }
    // When release was asked for and this signature meets the threshold, release now.
    Result<ArtifactRecord> released =
        ReleaseWhenReady(*registry_, call.policy(), *tenants_, record, call.request_id(),
                       "signed by " + call.principal().tenant.id);
    if (released.ok()) {
      record = std::move(*released);
    } else {
      LogEvent(*ModuleLogger("registry"), spdlog::level::warn, "release after signature failed",
               {{"artifact", RefText(record.spec.name, record.spec.version)},
                {"error", released.status().message()}});
    }
    ArtifactAndManifestToProto(record, response->mutable_artifact(), response->mutable_manifest());
    AddReleaseStatus(*registry_, call.policy(), *tenants_, record, response->mutable_artifact());
    return OkStatus();
  });
}

grpc::Status RegistryService::Release(grpc::ServerContext* context,
                                      const sov::v1::ReleaseRequest* request,
                                      sov::v1::ReleaseResponse* response) {
  return guard_->Run(*context, kReleaseMethod, [&](GuardedCall& call) -> Status {
    if (request->reason().size() > 1024) return InvalidArgument("reason: at most 1024 characters");
    SOV_ASSIGN_OR_RETURN(ArtifactRecord record,
                         ResolveVisible(*registry_, call, request->artifact(), true));
    policy::Artifact artifact = View(*registry_, record);
    // The release checks (validation, gates on the signed report, signatures) under the policy
    // of this call; `gates_passed` tells the policy whether they are all met.
    SOV_ASSIGN_OR_RETURN(ReleaseState state,
                         ComputeReleaseState(*registry_, call.policy(), *tenants_, record));
    const bool ready = state.ready();
    const policy::Decision& decision = call.Decide(
        "artifact.release", artifact, {{"gates_passed", ready ? "true" : "false"}});
    DecisionToProto(decision, "artifact.release", response->mutable_decision());
    auto respond = [&](const ArtifactRecord& r, bool policy_allows) {
      ArtifactToProto(r, response->mutable_artifact());
      sov::v1::ReleaseStatus* status = response->mutable_artifact()->mutable_release_status();
      const bool requested = status->requested() || r.release_requested;
      *status = state.status;
      status->set_requested(requested);
      sov::v1::ReleaseCheck* check = status->add_checks();
      check->set_kind(sov::v1::RELEASE_CHECK_KIND_POLICY);
      check->set_state(policy_allows ? sov::v1::RELEASE_CHECK_STATE_MET
                                     : sov::v1::RELEASE_CHECK_STATE_FAILED);
      check->set_condition("the policy allows artifact.release for " + call.principal().tenant.id);
      check->set_detail(policy_allows ? "allowed once the checks are met"
                                      : std::string(decision.reason()));
    };
    if (record.stage == Stage::kReleased) {
      respond(record, decision.allowed());
      return OkStatus();
    }
    if (Terminal(record.stage)) return WrongStage(record, "release it");
    if (decision.allowed()) {
      registry::Registry::Transition transition;
      transition.from = {Stage::kPending, Stage::kValidating};
      transition.to = Stage::kReleased;
      transition.reason = request->reason();
      transition.mark_release_requested = true;
      if (decision.deciding_rule != nullptr) {
        transition.rule_id = decision.deciding_rule->id;
        transition.rule_location = decision.deciding_rule->location.ToString();
      }
      registry::Actor actor = call.actor();
      SOV_ASSIGN_OR_RETURN(record, registry_->ChangeStage(record.spec.name, record.spec.version,
                                                          transition, actor,
                                                          call.TakeAuditEvents()));
      respond(record, true);
      return OkStatus();
    }
    // Denied only because the checks are not met yet (the generated `release_gates` rule), and
    // the caller would be allowed once they are: the request is recorded and the gateway
    // releases the model when the last check is met. Any other denial stands.
    const bool gates_only = !ready && decision.deciding_rule != nullptr &&
                            decision.deciding_rule->id == "release_gates";
    if (!gates_only || !call.DecideQuietly("artifact.release", artifact, {{"gates_passed", "true"}})
                            .allowed()) {
      return call.Denied(decision, "artifact.release");
    }
    SOV_ASSIGN_OR_RETURN(record, MarkReleaseRequested(*registry_, record, call.TakeAuditEvents()));
    respond(record, true);
    return OkStatus();
  });
}

grpc::Status RegistryService::Revoke(grpc::ServerContext* context,
                                     const sov::v1::RevokeRequest* request,
                                     sov::v1::RevokeResponse* response) {
  return guard_->Run(*context, kRevokeMethod, [&](GuardedCall& call) -> Status {
    SOV_ASSIGN_OR_RETURN(ArtifactRecord record,
                         ResolveVisible(*registry_, call, request->artifact(), true));
    if (request->reason().empty() || request->reason().size() > 1024) {
      return InvalidArgument("reason: 1 to 1024 characters are required");
    }
    SOV_RETURN_IF_ERROR(DecideOn(*registry_, call, "artifact.revoke", record));
    if (record.stage == Stage::kRevoked) {
      ArtifactToProto(record, response->mutable_artifact());
      return OkStatus();
    }
    if (record.stage != Stage::kReleased) return WrongStage(record, "revoke it (not released)");
    const policy::Decision* decision = call.last_decision();
    registry::Registry::Transition transition;
    transition.from = {Stage::kReleased};
    transition.to = Stage::kRevoked;
    transition.reason = request->reason();
    if (decision != nullptr && decision->deciding_rule != nullptr) {
      transition.rule_id = decision->deciding_rule->id;
      transition.rule_location = decision->deciding_rule->location.ToString();
    }
    registry::Actor actor = call.actor();
    SOV_ASSIGN_OR_RETURN(record, registry_->ChangeStage(record.spec.name, record.spec.version,
                                                        transition, actor,
                                                        call.TakeAuditEvents()));
    ArtifactToProto(record, response->mutable_artifact());
    return OkStatus();
  });
}

grpc::Status RegistryService::ListSigningKeys(grpc::ServerContext* context,
                                              const sov::v1::ListSigningKeysRequest* request,
                                              sov::v1::ListSigningKeysResponse* response) {
  return guard_->Run(*context, kListSigningKeysMethod, [&](GuardedCall&) -> Status {
    if (!request->page_token().empty()) return InvalidArgument("page_token is malformed");
    SOV_ASSIGN_OR_RETURN(std::vector<registry::KeyRevocation> revocations,
                         registry_->KeyRevocations());
    auto add = [&](const crypto::Ed25519PublicKey& key, sov::v1::SignerRole role,
                   const std::string& owner) {
      if (request->role() != sov::v1::SIGNER_ROLE_UNSPECIFIED && request->role() != role) return;
      if (!request->owner().empty() && request->owner() != owner) return;
      sov::v1::SigningKey* out = response->add_keys();
      out->set_keyid(key.KeyId());
      out->set_public_key(std::string(reinterpret_cast<const char*>(key.bytes.data()),
                                      key.bytes.size()));
      out->set_public_key_pem(crypto::EncodePublicKeyPem(key));
      out->set_role(role);
      out->set_owner(owner);
      const bool revoked =
          std::any_of(revocations.begin(), revocations.end(),
                      [&](const registry::KeyRevocation& r) { return r.keyid == key.KeyId(); });
      out->set_state(revoked ? sov::v1::KEY_STATE_REVOKED : sov::v1::KEY_STATE_ACTIVE);
    };
    add(registry_->registry_key(), sov::v1::SIGNER_ROLE_REGISTRY, "registry");
    for (const Tenant& tenant : tenants_->tenants()) {
      for (const auto& key : tenant.publisher_keys) {
        add(key, sov::v1::SIGNER_ROLE_PUBLISHER, tenant.id);
      }
    }
    return OkStatus();
  });
}

grpc::Status RegistryService::RevokeSigningKey(grpc::ServerContext* context,
                                               const sov::v1::RevokeSigningKeyRequest* request,
                                               sov::v1::RevokeSigningKeyResponse* response) {
  return guard_->Run(*context, kRevokeSigningKeyMethod, [&](GuardedCall& call) -> Status {
    if (request->keyid().empty()) return InvalidArgument("keyid is required");
    if (request->reason().empty() || request->reason().size() > 1024) {
      return InvalidArgument("reason: 1 to 1024 characters are required");
    }
    if (request->keyid() == registry_->registry_key().KeyId()) {
      return FailedPrecondition("key " + request->keyid() +
                                " is the registry key: the operator rotates it (signing_key in "
                                "the config); it is not revoked over the API");
    }
    const crypto::Ed25519PublicKey* key = nullptr;
    std::string owner;
    for (const Tenant& tenant : tenants_->tenants()) {
      for (const auto& k : tenant.publisher_keys) {
        if (k.KeyId() == request->keyid()) {
          key = &k;
          owner = tenant.id;
        }
      }
    }
    if (key == nullptr) return NotFound("key " + request->keyid() + " is not a known publisher key");
    registry::KeyRevocation revocation;
    revocation.keyid = request->keyid();
    revocation.owner_tenant = owner;
    revocation.reason = request->reason();
    revocation.revoked_by = call.principal().tenant.id;
    revocation.time = std::chrono::system_clock::now();
    registry::Actor actor = call.actor();
    SOV_RETURN_IF_ERROR(registry_->RevokeKey(revocation, actor, call.TakeAuditEvents()));

    // Every released artifact signed with the key whose threshold is no longer met without it.
    SOV_ASSIGN_OR_RETURN(std::vector<registry::KeyRevocation> revocations,
                         registry_->KeyRevocations());
    registry::ArtifactFilter filter;
    filter.stage = Stage::kReleased;
    SOV_ASSIGN_OR_RETURN(std::vector<ArtifactRecord> released, registry_->List(filter));
    registry::Actor system;
    system.system_actor = "key-revocation";
    system.request_id = call.request_id();
    for (const ArtifactRecord& record : released) {
      const bool signed_with = std::any_of(
          record.signatures.begin(), record.signatures.end(),
          [&](const registry::SignatureRecord& sig) { return sig.keyid == request->keyid(); });
      if (!signed_with) continue;
      std::vector<std::string> signers =
          ValidSigners(record, registry_->registry_key(), *tenants_, revocations);
      std::vector<std::string> unmet =
          UnmetSignatureThresholds(call.policy(), View(*registry_, record), signers);
      if (unmet.empty()) continue;
      std::string why;
      for (const std::string& u : unmet) why += (why.empty() ? "" : "; ") + u;
      registry::Registry::Transition transition;
      transition.from = {Stage::kReleased};
      transition.to = Stage::kRevoked;
      transition.reason = "signing key " + request->keyid() + " of " + owner + " was revoked (" +
                          request->reason() + "): " + why;
      Result<ArtifactRecord> revoked =
          registry_->ChangeStage(record.spec.name, record.spec.version, transition, system, {});
      if (!revoked.ok()) {
        if (revoked.status().code() == StatusCode::kFailedPrecondition) continue;  // moved on
        return revoked.status();
      }
      sov::v1::ArtifactRef* ref = response->add_revoked_artifacts();
      ref->set_name(record.spec.name);
      ref->set_version(record.spec.version);
      ref->set_digest(record.digest);
    }
    sov::v1::SigningKey* out = response->mutable_key();
    out->set_keyid(key->KeyId());
    out->set_public_key(std::string(reinterpret_cast<const char*>(key->bytes.data()), key->bytes.size()));
    out->set_public_key_pem(crypto::EncodePublicKeyPem(*key));
    out->set_role(sov::v1::SIGNER_ROLE_PUBLISHER);
    out->set_owner(owner);
    out->set_state(sov::v1::KEY_STATE_REVOKED);
    return OkStatus();
  });
}

grpc::Status RegistryService::GetQuota(grpc::ServerContext* context,
                                       const sov::v1::GetQuotaRequest* request,
                                       sov::v1::GetQuotaResponse* response) {
  return guard_->Run(*context, kGetQuotaMethod, [&](GuardedCall& call) -> Status {
    const Tenant& caller = call.principal().tenant;
    std::string tenant_id = request->tenant_id().empty() ? caller.id : request->tenant_id();
    if (tenant_id != caller.id) {
      return PermissionDenied("quota.read: only your own tenant's quota (" + caller.id + ")");
    }
    SOV_ASSIGN_OR_RETURN(registry::TenantUsage usage, registry_->Usage(tenant_id));
    response->set_tenant_id(tenant_id);
    response->set_used_bytes(usage.used_bytes);
    response->set_reserved_bytes(usage.reserved_bytes);
    response->set_artifact_count(usage.artifact_count);
    auto quota = registry_->options().quota_bytes.find(tenant_id);
    response->set_quota_bytes(quota == registry_->options().quota_bytes.end() ? 0 : quota->second);
    response->set_max_artifact_bytes(registry_->options().max_artifact_bytes);
    response->set_max_chunk_bytes(registry_->options().max_chunk_bytes);
    return OkStatus();
  });
}

}  // namespace sov::gateway
