#include "gateway/registry_service.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/util/time_util.h>

#include "crypto/dsse.h"
#include "crypto/ed25519.h"
#include "gateway/registry_convert.h"
#include "policy/policy.h"

namespace sov::gateway {
namespace {

using registry::ArtifactRecord;
using registry::Stage;

std::string RefText(std::string_view name, std::string_view version) {
  return version.empty() ? std::string(name) : std::string(name) + "@" + std::string(version);
}

// The one answer for "does not exist" and "you may not see it".
Status NotFoundFor(std::string_view name, std::string_view version) {
  return NotFound("artifact " + RefText(name, version) + " not found");
}

std::string OwnerOf(std::string_view name) {
  size_t slash = name.find('/');
  return std::string(slash == std::string_view::npos ? name : name.substr(0, slash));
}

bool Terminal(Stage stage) {
  return stage == Stage::kRejected || stage == Stage::kRevoked || stage == Stage::kErased;
}

// The last revocation or rejection reason in the history, for WRONG_STAGE messages.
std::string StageReason(const ArtifactRecord& record) {
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

// Completes lineage entries with each parent's classification and purposes, as stored, so that
// inheritance and purpose rules see them.
void FillLineage(registry::Registry& registry, policy::Artifact& artifact) {
  for (policy::LineageEntry& entry : artifact.lineage) {
    Result<ArtifactRecord> parent = registry.Get(entry.name, entry.version);
    if (!parent.ok()) continue;
    entry.classification = parent->spec.effective_classification.empty()
                               ? parent->spec.classification
                               : parent->spec.effective_classification;
    entry.purposes = parent->spec.purposes;
  }
}

policy::Artifact View(registry::Registry& registry, const ArtifactRecord& record) {
  policy::Artifact a = PolicyArtifact(record);
  FillLineage(registry, a);
  return a;
}

// Resolves a reference the caller reads: version empty means the highest RELEASED version the
// caller may see. Decides `artifact.get` (visibility) for an explicit version; a hidden artifact
// is NOT_FOUND, exactly like an absent one. Checks the digest pin.
Result<ArtifactRecord> ResolveVisible(registry::Registry& registry, GuardedCall& call,
                                      const sov::v1::ArtifactRef& ref, bool version_required) {
  if (ref.name().empty()) return InvalidArgument("artifact.name is required");
  if (version_required && ref.version().empty()) {
    return InvalidArgument("artifact.version is required for this call");
  }
  std::optional<ArtifactRecord> found;
  if (ref.version().empty()) {
    Result<std::vector<ArtifactRecord>> versions = registry.Versions(ref.name());
    if (!versions.ok()) return versions.status();
    for (ArtifactRecord& record : *versions) {
      if (record.stage != Stage::kReleased) continue;
      if (call.DecideQuietly("artifact.get", View(registry, record)).allowed()) {
        found = std::move(record);
        break;
      }
    }
    if (!found.has_value()) return NotFoundFor(ref.name(), "");
  } else {
    Result<ArtifactRecord> record = registry.Get(ref.name(), ref.version());
    if (!record.ok()) {
      if (record.status().code() == StatusCode::kNotFound) {
        return NotFoundFor(ref.name(), ref.version());
      }
      return record.status();
    }
    found = std::move(*record);
  }
  const policy::Decision& visible = call.Decide("artifact.get", View(registry, *found));
  if (!visible.allowed()) return NotFoundFor(ref.name(), ref.version());
  if (!ref.digest().empty() && ref.digest() != found->digest) {
    return FailedPrecondition("digest pin mismatch: " + RefText(found->spec.name, found->spec.version) +
                              " has digest " + found->digest + ", not " + ref.digest());
  }
  return std::move(*found);
}

// Decides `action` on a visible artifact; PERMISSION_DENIED naming the rule when denied.
Status DecideOn(registry::Registry& registry, GuardedCall& call, std::string_view action,
                const ArtifactRecord& record,
                const std::map<std::string, std::string>& attributes = {}) {
  const policy::Decision& decision = call.Decide(action, View(registry, record), attributes);
  if (!decision.allowed()) return call.Denied(decision, action);
  return OkStatus();
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

std::string EncodePageToken(std::string_view name) {
  std::string token = crypto::Base64Encode(name);
  for (char& c : token) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!token.empty() && token.back() == '=') token.pop_back();
  return token;
}

}  // namespace

RegistryService::RegistryService(std::shared_ptr<const CallGuard> guard,
                                 std::shared_ptr<registry::Registry> registry,
                                 std::shared_ptr<const TenantDirectory> tenants)
    : guard_(std::move(guard)), registry_(std::move(registry)), tenants_(std::move(tenants)) {}

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

    // Retention: the policy's deadline, or the pusher's own earlier one.
    policy::Retention retention = policy.RetentionFor(full);
    spec.retention_action = std::string(policy::RetentionActionName(retention.action));
    if (spec.retention_action == "keep") spec.retention_action = "none";
    spec.retention_deadline = retention.deadline;
    if (in.has_retain_until()) {
      SystemTime wanted{std::chrono::microseconds(
          google::protobuf::util::TimeUtil::TimestampToMicroseconds(in.retain_until()))};
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

grpc::Status RegistryService::GetArtifact(grpc::ServerContext* context,
                                          const sov::v1::GetArtifactRequest* request,
                                          sov::v1::GetArtifactResponse* response) {
  return guard_->Run(*context, kGetArtifactMethod, [&](GuardedCall& call) -> Status {
    SOV_ASSIGN_OR_RETURN(ArtifactRecord record,
                         ResolveVisible(*registry_, call, request->artifact(), false));
    ArtifactAndManifestToProto(record, response->mutable_artifact(), response->mutable_manifest());
    return OkStatus();
  });
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
    if (!request->page_token().empty()) {
      Result<std::string> after = crypto::Base64Decode(request->page_token());
      if (!after.ok() || after->empty()) return InvalidArgument("page_token is malformed");
      filter.after_name = *after;
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
    if (more) response->set_next_page_token(EncodePageToken(last_shown));
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
      SOV_ASSIGN_OR_RETURN(record, registry_->AddSignature(record.spec.name, record.spec.version,
                                                           *key, sig.sig(), "publisher",
                                                           call.principal().tenant.id, actor,
                                                           call.TakeAuditEvents()));
    }
    ArtifactAndManifestToProto(record, response->mutable_artifact(), response->mutable_manifest());
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
    // Release gates apply to models; until a model's validation report exists, a gate that
    // applies to it has not passed.
    const bool gates_passed =
        record.spec.kind != registry::Kind::kModel || call.policy().GatesFor(artifact).empty();
    const policy::Decision& decision = call.Decide(
        "artifact.release", artifact, {{"gates_passed", gates_passed ? "true" : "false"}});
    DecisionToProto(decision, "artifact.release", response->mutable_decision());
    if (record.stage == Stage::kReleased) {
      ArtifactToProto(record, response->mutable_artifact());
      return OkStatus();
    }
    if (Terminal(record.stage)) return WrongStage(record, "release it");
    if (!decision.allowed()) return call.Denied(decision, "artifact.release");
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
    ArtifactToProto(record, response->mutable_artifact());
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
      out->set_state(sov::v1::KEY_STATE_ACTIVE);
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
