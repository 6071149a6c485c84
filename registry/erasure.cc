// Registry::Erase and Registry::AddLineageNotice: crypto-shredding of one artifact version and
// the notices that its erasure leaves on what was derived from it (see registry/registry.h and,
// for what the shredding guarantees, docs/security.md).
#include <algorithm>
#include <utility>

#include "common/time.h"
#include "common/utf8.h"
#include "crypto/dsse.h"
#include "registry/internal/stage_change.h"
#include "registry/registry.h"

namespace sov::registry {
namespace {

using Json = nlohmann::json;
using internal::EventFrom;

// How often a read-modify-write of a record is retried after a revision conflict.
constexpr int kMaxRevisionAttempts = 8;
constexpr size_t kMaxReasonChars = 1024;
constexpr size_t kMaxSubjectRequestChars = 256;

std::string Ref(const std::string& name, const std::string& version) {
  return name + "@" + version;
}

SystemTime Now() { return std::chrono::system_clock::now(); }

// The erasure record's payload: what was erased, by whom, when and why. Integers and strings
// only, keys sorted (nlohmann::json objects are), so the bytes are canonical.
std::string ErasurePayload(const ArtifactRecord& artifact, const Tombstone& tombstone) {
  Json payload = {
      {"name", artifact.spec.name},
      {"version", artifact.spec.version},
      {"digest", artifact.digest},
      {"sizeBytes", artifact.size_bytes},
      {"kind", std::string(KindName(artifact.spec.kind))},
      {"ownerTenant", artifact.spec.owner_tenant},
      {"erasedBy", tombstone.principal.is_null() ? Json(nullptr) : tombstone.principal},
      {"systemActor", tombstone.system_actor},
      {"eraseTime", FormatRfc3339Micros(tombstone.erase_time)},
      {"reason", tombstone.reason},
      {"subjectRequestId", tombstone.subject_request_id},
  };
  return payload.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

void Registry::AwaitShredding() { store_->AwaitShredding(); }

Status Registry::ValidateEraseRequest(const EraseRequest& request) {
  if (request.reason.empty()) {
    return InvalidArgument("reason is required (1 to 1024 characters), e.g. \"Art. 17 request\"");
  }
  if (const size_t n = CodePoints(request.reason); n > kMaxReasonChars) {
    return InvalidArgument("reason has " + std::to_string(n) +
                           " characters; at most 1024 are allowed");
  }
  if (const size_t n = CodePoints(request.subject_request_id); n > kMaxSubjectRequestChars) {
    return InvalidArgument("subject_request_id has " + std::to_string(n) +
                           " characters; at most 256 are allowed");
  }
  return OkStatus();
}

Result<ArtifactRecord> Registry::Erase(const std::string& name, const std::string& version,
                                       const EraseRequest& request, const Actor& actor,
                                       std::vector<AuditEvent> audit) {
  const std::string ref = Ref(name, version);
  SOV_RETURN_IF_ERROR(ValidateEraseRequest(request));

  for (int attempt = 0; attempt < kMaxRevisionAttempts; ++attempt) {
    SOV_ASSIGN_OR_RETURN(ArtifactRecord artifact, Get(name, version));
    if (artifact.stage == Stage::kErased) {
      SOV_RETURN_IF_ERROR(audit_->Append(std::move(audit)).status());
      return artifact;
    }

    Tombstone tombstone;
    tombstone.erase_time = Now();
    tombstone.tenant_id = actor.tenant_id;
    tombstone.principal = actor.principal;
    tombstone.system_actor = actor.system_actor;
    tombstone.reason = request.reason;
    tombstone.subject_request_id = request.subject_request_id;
    tombstone.audit_index = -1;  // set below, once the entry has its index

    crypto::DsseEnvelope envelope =
        crypto::SignDsse(kErasurePayloadType, ErasurePayload(artifact, tombstone), signing_key_);
    envelope.signatures.front().keyid = registry_key_.KeyId();
    const std::string record_json = envelope.ToJson();

    ArtifactRecord updated = artifact;
    StageEvent event;
    event.from = artifact.stage;
    event.to = Stage::kErased;
    event.time = tombstone.erase_time;
    event.tenant_id = actor.tenant_id;
    event.system_actor = actor.system_actor;
    event.reason = request.reason;
    event.audit_index = -1;
    updated.stage = Stage::kErased;
    updated.history.push_back(event);
    updated.tombstone = tombstone;
    updated.update_time = tombstone.erase_time;

    WriteBatch batch;
    batch.await_shredding = request.await_shredding;
    batch.Add(mutation::DeleteDataKey{artifact.id});
    // The tombstone and history event point at the ERASURE entry that follows.
    batch.Add(mutation::UpdateArtifact{updated, /*link_next_audit=*/true});

    AuditEvent erasure = EventFrom(actor, "ERASURE", "artifact.erase", artifact);
    erasure.body = {
        {"record", Json::parse(record_json)},
        {"stageChange",
         {{"fromStage", std::string(StageName(event.from))},
          {"toStage", std::string(StageName(event.to))},
          {"reason", request.reason}}},
        {"details",
         {{"location", artifact.spec.storage_location},
          {"subjectRequestId", request.subject_request_id}}},
    };
    batch.Add(mutation::AppendAudit{std::move(erasure)});

    // The artifact's validation jobs stop with it: a job on erased bytes could only fail, and
    // one that completed would record a report about data that no longer exists.
    if (artifact.spec.kind == Kind::kModel) {
      JobFilter filter;
      filter.model_name = name;
      filter.model_version = version;
      filter.states = {JobState::kQueued, JobState::kRunning};
      filter.limit = 0;
      SOV_ASSIGN_OR_RETURN(std::vector<JobRecord> jobs, store_->ListJobs(filter));
      for (JobRecord job : jobs) {
        const std::string previous(JobStateName(job.state));
        job.state = JobState::kCancelled;
        job.end_time = tombstone.erase_time;
        job.error = "the model was erased";
        batch.Add(mutation::UpdateJob{job});
        AuditEvent cancelled = EventFrom(actor, "VALIDATION", "validation.cancel", artifact);
        cancelled.body = {{"details",
                           {{"event", "cancelled"},
                            {"jobId", job.id},
                            {"previousState", previous},
                            {"reason", "the model was erased"}}}};
        batch.Add(mutation::AppendAudit{std::move(cancelled)});
      }
    }
    std::vector<AuditEvent> events = audit;
    for (AuditEvent& e : events) batch.Add(mutation::AppendAudit{std::move(e)});

    Result<CommitResult> committed = store_->Commit(std::move(batch));
    if (!committed.ok()) {
      // A revision conflict (the artifact or a job changed meanwhile): look again.
      if (committed.status().code() == StatusCode::kAborted) continue;
      return committed.status();
    }
    ++updated.revision;

    // The key is gone: the blob is unreadable whatever happens next. Deleting it is hygiene; a
    // failure, or a crash before the unlink is durable, leaves an erased artifact's blob that
    // Recover() removes at the next start.
    (void)blobs_->Delete(artifact.spec.storage_location, artifact.id);

    SetChangeAuditIndex(updated, committed->audit_indexes.front());
    return updated;
  }
  return Aborted("artifact " + ref + " kept changing; try again");
}

Result<ArtifactRecord> Registry::AddLineageNotice(const std::string& name,
                                                  const std::string& version,
                                                  LineageNotice notice,
                                                  std::optional<Transition> transition,
                                                  const Actor& actor,
                                                  std::vector<AuditEvent> audit) {
  const std::string ref = Ref(name, version);
  if (notice.erased_name.empty() || notice.erased_version.empty()) {
    return InvalidArgument("a lineage notice names the erased artifact");
  }
  if (notice.time == SystemTime{}) notice.time = Now();
  for (int attempt = 0; attempt < kMaxRevisionAttempts; ++attempt) {
    SOV_ASSIGN_OR_RETURN(ArtifactRecord artifact, Get(name, version));
    if (artifact.stage == Stage::kErased) {
      return FailedPrecondition("artifact " + ref + " is erased");
    }
    const bool has_notice =
        std::any_of(artifact.lineage_notices.begin(), artifact.lineage_notices.end(),
                    [&](const LineageNotice& n) {
                      return n.erased_name == notice.erased_name &&
                             n.erased_version == notice.erased_version;
                    });
    bool change_stage = false;
    if (transition.has_value() && artifact.stage != transition->to) {
      if (!transition->from.contains(artifact.stage)) {
        std::string expected;
        for (Stage s : transition->from) {
          expected += (expected.empty() ? "" : ", ") + std::string(StageName(s));
        }
        return FailedPrecondition("wrong stage: " + ref + " is " +
                                  std::string(StageName(artifact.stage)) + ", not " + expected);
      }
      change_stage = true;
    }
    if (has_notice && !change_stage) {
      SOV_RETURN_IF_ERROR(audit_->Append(std::move(audit)).status());
      return artifact;
    }

    ArtifactRecord updated = artifact;
    if (!has_notice) updated.lineage_notices.push_back(notice);
    updated.update_time = Now();

    AuditEvent propagation =
        EventFrom(actor, "LINEAGE_PROPAGATION", "artifact.erase", artifact);
    propagation.rule_id = notice.rule_id;
    propagation.body["details"] = {
        {"erasedAncestor",
         {{"name", notice.erased_name},
          {"version", notice.erased_version},
          {"digest", notice.erased_digest}}},
        {"lineageAction", notice.action},
        {"ruleId", notice.rule_id},
        {"ruleLocation", notice.rule_location},
    };
    if (change_stage) {
      StageEvent event;
      event.from = artifact.stage;
      event.to = transition->to;
      event.time = updated.update_time;
      event.tenant_id = actor.tenant_id;
      event.system_actor = actor.system_actor;
      event.reason = transition->reason;
      event.rule_id = transition->rule_id;
      event.rule_location = transition->rule_location;
      event.audit_index = -1;
      updated.stage = transition->to;
      updated.history.push_back(event);
      propagation.body["stageChange"] = {{"fromStage", std::string(StageName(event.from))},
                                         {"toStage", std::string(StageName(event.to))},
                                         {"reason", transition->reason},
                                         {"ruleId", transition->rule_id},
                                         {"ruleLocation", transition->rule_location}};
    }

    WriteBatch batch;
    batch.Add(mutation::UpdateArtifact{updated, /*link_next_audit=*/change_stage});
    batch.Add(mutation::AppendAudit{std::move(propagation)});
    std::vector<AuditEvent> events = audit;
    for (AuditEvent& e : events) batch.Add(mutation::AppendAudit{std::move(e)});
    Result<CommitResult> committed = store_->Commit(std::move(batch));
    if (!committed.ok()) {
      if (committed.status().code() == StatusCode::kAborted) continue;
      return committed.status();
    }
    ++updated.revision;
    if (change_stage) SetChangeAuditIndex(updated, committed->audit_indexes.front());
    return updated;
  }
  return Aborted("artifact " + ref + " kept changing; try again");
}

}  // namespace sov::registry
