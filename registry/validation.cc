// Registry's durable validation job queue (QueueValidation, ClaimJob, Heartbeat, CompleteJob,
// CancelJob), the report artifacts that workers write (PrepareGeneratedArtifact), and publisher
// key revocations; see registry/registry.h and, for the queue's design, docs/architecture.md
// ("Validation job queue").
//
// Every change is one store batch guarded by revisions: a job changes only from the revision
// its writer read, so of two claimers (threads or processes) exactly one wins, and a worker that
// lost its lease (the job was claimed again, or cancelled) can neither extend it nor complete
// it. The model's stage changes in the same batch as the job, with its STAGE_CHANGE entry.
#include <algorithm>
#include <utility>

#include "common/time.h"
#include "crypto/chunked_aead.h"
#include "crypto/key_hierarchy.h"
#include "crypto/sha256.h"
#include "registry/internal/stage_change.h"
#include "registry/names.h"
#include "registry/registry.h"
#include "registry/semver.h"

namespace sov::registry {
namespace {

using Json = nlohmann::json;
using internal::AddAudit;
using internal::EventFrom;

// How often a read-modify-write is retried after a revision conflict on the model.
constexpr int kMaxRevisionAttempts = 8;
constexpr std::string_view kValidationActor = "validation";
// Claim candidates read per query: a few more than the claimers that may race for them.
constexpr int64_t kClaimPageSize = 32;

SystemTime Now() { return std::chrono::system_clock::now(); }

std::string Ref(const std::string& name, const std::string& version) {
  return name + "@" + version;
}

bool IsValidBackend(std::string_view backend) {
  return backend == "auto" || backend == "cpu" || backend == "cuda";
}

// The VALIDATION entry for `event` on `job` ("queued", "started", "finished", "cancelled").
// Integers and strings only: audit leaves are canonical JSON without floating-point numbers.
AuditEvent ValidationEvent(const Actor& actor, std::string_view event, std::string action,
                           const JobRecord& job) {
  AuditEvent entry = EventFrom(actor, "VALIDATION", std::move(action));
  entry.artifact_name = job.model_name;
  entry.artifact_version = job.model_version;
  entry.artifact_digest = job.model_digest;
  Json details = {
      {"event", std::string(event)},
      {"jobId", job.id},
      {"attempt", job.attempt},
      {"reportOnly", job.report_only},
      {"requestedBackend", job.requested_backend},
  };
  if (!job.worker.empty()) details["worker"] = job.worker;
  if (!job.backend.empty()) details["backend"] = job.backend;
  entry.body = {{"details", std::move(details)}};
  return entry;
}

// The actor of changes the queue makes by itself (a model moving to VALIDATING when its job is
// queued): the "validation" system actor, under the request that caused it.
Actor ValidationActor(const Actor& cause) {
  Actor actor;
  actor.system_actor = std::string(kValidationActor);
  actor.request_id = cause.request_id;
  return actor;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Queue

Result<JobRecord> Registry::QueueValidation(const ArtifactRecord& model,
                                            const ValidationRequest& request, const Actor& actor,
                                            std::vector<AuditEvent> audit) {
  const std::string ref = Ref(model.spec.name, model.spec.version);
  if (model.spec.kind != Kind::kModel) {
    return InvalidArgument(ref + " is a " + std::string(KindName(model.spec.kind)) +
                           ", not a model; only models are validated");
  }
  if (!IsValidBackend(request.backend)) {
    return InvalidArgument("unknown validation backend '" + request.backend +
                           "' (expected auto, cpu or cuda)");
  }
  for (int attempt = 0; attempt < kMaxRevisionAttempts; ++attempt) {
    // The caller's record may be stale: decide on the stored one.
    SOV_ASSIGN_OR_RETURN(ArtifactRecord current, Get(model.spec.name, model.spec.version));
    if (current.id != model.id) {
      return FailedPrecondition(ref + " is not the artifact that was asked for");
    }
    const bool stage_ok =
        current.stage != Stage::kErased &&
        (request.report_only ||
         (current.stage != Stage::kRejected && current.stage != Stage::kRevoked));
    if (!stage_ok) {
      return FailedPrecondition("wrong stage: " + ref + " is " +
                                std::string(StageName(current.stage)) + "; " +
                                (request.report_only
                                     ? "an erased model cannot be validated"
                                     : "only a pending, validating or released model can be "
                                       "validated (a report-only run works on rejected and "
                                       "revoked ones)"));
    }

    // One live job per model version and kind of run: a second request returns it.
    JobFilter live;
    live.model_name = current.spec.name;
    live.model_version = current.spec.version;
    live.model_digest = current.digest;
    live.states = {JobState::kQueued, JobState::kRunning};
    live.report_only_set = true;
    live.report_only = request.report_only;
    live.ascending = true;
    live.limit = 1;
    SOV_ASSIGN_OR_RETURN(std::vector<JobRecord> existing, store_->ListJobs(live));
    if (!existing.empty()) {
      SOV_RETURN_IF_ERROR(audit_->Append(std::move(audit)).status());
      return std::move(existing.front());
    }

    JobRecord job;
    job.id = "job-" + internal::RandomId();
    job.model_name = current.spec.name;
    job.model_version = current.spec.version;
    job.model_digest = current.digest;
    job.state = JobState::kQueued;
    job.report_only = request.report_only;
    job.requested_backend = request.backend;
    job.create_time = Now();
    job.requested_by = request.requested_by;
    job.policy_digest = request.policy_digest;
    job.revision = 1;

    WriteBatch batch;
    batch.Add(mutation::EnqueueJob{job});
    std::optional<internal::StageChange> change;
    if (!request.report_only && current.stage == Stage::kPending) {
      Transition to_validating;
      to_validating.from = {Stage::kPending};
      to_validating.to = Stage::kValidating;
      to_validating.reason = "validation job " + job.id + " queued";
      change = internal::MakeStageChange(current, to_validating, ValidationActor(actor),
                                         job.create_time);
      batch.Add(mutation::UpdateArtifact{change->updated, /*link_next_audit=*/true});
      batch.Add(mutation::AppendAudit{change->entry});
    } else {
      // The model's revision still moves, so that two concurrent requests (in any process)
      // conflict and the loser finds the winner's job instead of queueing a second one.
      batch.Add(mutation::UpdateArtifact{current});
    }
    batch.Add(mutation::AppendAudit{
        ValidationEvent(actor, "queued", "validation.start", job)});
    std::vector<AuditEvent> events = audit;
    AddAudit(batch, events);
    Result<CommitResult> committed = store_->Commit(std::move(batch));
    if (!committed.ok()) {
      const StatusCode code = committed.status().code();
      if (code == StatusCode::kAborted || code == StatusCode::kAlreadyExists) continue;
      return committed.status();
    }
    NotifyJobQueued();
    return GetJob(job.id);
  }
  return Aborted("model " + ref + " kept changing; try again");
}

void Registry::SetJobQueuedListener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(listener_mutex_);
  job_queued_ = std::move(listener);
}

void Registry::NotifyJobQueued() {
  std::function<void()> listener;
  {
    std::lock_guard<std::mutex> lock(listener_mutex_);
    listener = job_queued_;
  }
  if (listener) listener();
}

Result<JobRecord> Registry::GetJob(const std::string& job_id) {
  SOV_ASSIGN_OR_RETURN(std::optional<JobRecord> job, store_->FindJob(job_id));
  if (!job.has_value()) return NotFound("validation job " + job_id + " not found");
  return std::move(*job);
}

Result<std::vector<JobRecord>> Registry::ListJobs(const JobFilter& filter) {
  return store_->ListJobs(filter);
}

// ---------------------------------------------------------------------------------------------
// Workers

Result<std::optional<JobRecord>> Registry::ClaimJob(const std::string& worker,
                                                    const std::set<std::string>& backends,
                                                    std::chrono::seconds lease) {
  if (worker.empty()) return InvalidArgument("a worker needs a name");
  if (lease.count() <= 0) return InvalidArgument("a job lease must be positive");
  const SystemTime now = Now();
  // Candidates, oldest first, a page at a time (the store filters them through its (state, seq)
  // index, so a claim reads a page however long the queue): queued jobs, and running ones whose
  // worker stopped renewing, that ask for a backend this worker has.
  JobFilter filter;
  filter.claimable_at = now;
  filter.requested_backends.assign(backends.begin(), backends.end());
  filter.requested_backends.push_back("auto");
  filter.ascending = true;
  filter.limit = kClaimPageSize;
  for (;;) {
    SOV_ASSIGN_OR_RETURN(std::vector<JobRecord> jobs, store_->ListJobs(filter));
    for (JobRecord& job : jobs) {
      SOV_ASSIGN_OR_RETURN(std::optional<JobRecord> claimed, TryClaim(job, worker, now, lease));
      if (claimed.has_value()) return claimed;
    }
    if (static_cast<int64_t>(jobs.size()) < filter.limit) return std::optional<JobRecord>();
    filter.after_seq = jobs.back().seq;
  }
}

Result<std::optional<JobRecord>> Registry::TryClaim(const JobRecord& job,
                                                    const std::string& worker, SystemTime now,
                                                    std::chrono::seconds lease) {
  if (job.state == JobState::kRunning && options_.max_job_attempts > 0 &&
      job.attempt >= options_.max_job_attempts) {
    // Every worker that took it stopped before finishing: the model may be what kills them,
    // so it is not handed to yet another one.
    SOV_RETURN_IF_ERROR(AbandonJob(job));
    return std::optional<JobRecord>();
  }

  JobRecord claimed = job;
  claimed.state = JobState::kRunning;
  claimed.worker = worker;
  claimed.attempt = job.attempt + 1;
  claimed.start_time = now;
  claimed.lease_expire_time = now + lease;
  claimed.progress = 0.0;
  claimed.phase.clear();
  claimed.backend.clear();
  claimed.error.clear();

  Actor actor;
  actor.system_actor = std::string(kValidationActor);
  AuditEvent started = ValidationEvent(actor, "started", "artifact.validate", claimed);
  if (job.state == JobState::kRunning) {
    started.body["details"]["previousWorker"] = job.worker;  // whose lease ran out
  }
  WriteBatch batch;
  batch.Add(mutation::UpdateJob{claimed});
  batch.Add(mutation::AppendAudit{std::move(started)});
  Result<CommitResult> committed = store_->Commit(std::move(batch));
  if (!committed.ok()) {
    // Another claimer (or a cancel) changed this job first: the caller tries the next one.
    if (committed.status().code() == StatusCode::kAborted) return std::optional<JobRecord>();
    return committed.status();
  }
  ++claimed.revision;
  return std::optional<JobRecord>(std::move(claimed));
}

Status Registry::AbandonJob(const JobRecord& job) {
  JobOutcome outcome;
  outcome.state = JobState::kFailed;
  outcome.error = "abandoned after " + std::to_string(job.attempt) +
                  " attempts: each worker that ran it (the last: " + job.worker +
                  ") stopped reporting before it finished";
  outcome.policy_digest = job.policy_digest;
  if (!job.report_only) {
    Transition t;
    t.from = {Stage::kValidating};
    t.to = Stage::kRejected;
    t.reason = "validation failed: " + outcome.error;
    outcome.transition = t;
  }
  Actor actor;
  actor.system_actor = std::string(kValidationActor);
  Result<JobRecord> done = CompleteJob(job, std::move(outcome), actor, {});
  // ABORTED: a late heartbeat, a cancel or another claimer changed the job first.
  if (!done.ok() && done.status().code() != StatusCode::kAborted) return done.status();
  return OkStatus();
}

Result<JobRecord> Registry::Heartbeat(const JobRecord& job, double progress, std::string phase,
                                      std::chrono::seconds lease) {
  if (job.state != JobState::kRunning) {
    return FailedPrecondition("validation job " + job.id + " is " +
                              std::string(JobStateName(job.state)) + ", not running");
  }
  if (lease.count() <= 0) return InvalidArgument("a job lease must be positive");
  JobRecord updated = job;
  updated.progress = std::clamp(progress, 0.0, 1.0);
  updated.phase = std::move(phase);
  updated.lease_expire_time = Now() + lease;
  WriteBatch batch;
  batch.Add(mutation::UpdateJob{updated});
  Result<CommitResult> committed = store_->Commit(std::move(batch));
  if (!committed.ok()) {
    if (committed.status().code() == StatusCode::kAborted) {
      return Aborted("validation job " + job.id + " attempt " + std::to_string(job.attempt) +
                     " is no longer this worker's (cancelled, or taken by another worker after "
                     "its lease ran out): stop working on it");
    }
    return committed.status();
  }
  ++updated.revision;
  return updated;
}

Result<Registry::PreparedArtifact> Registry::PrepareGeneratedArtifact(ArtifactSpec spec,
                                                                      std::string_view bytes,
                                                                      Stage stage) {
  SOV_RETURN_IF_ERROR(ValidateArtifactName(spec.name));
  SOV_RETURN_IF_ERROR(ValidateVersion(spec.version));
  SOV_RETURN_IF_ERROR(ValidateLabels(spec.labels));
  if (spec.owner_tenant.empty() || OwnerTenantOf(spec.name) != spec.owner_tenant) {
    return InvalidArgument("artifact name '" + spec.name + "' must start with its owner '" +
                           spec.owner_tenant + "/'");
  }
  if (static_cast<int64_t>(bytes.size()) > options_.max_artifact_bytes) {
    return InvalidArgument("a generated artifact of " + std::to_string(bytes.size()) +
                           " bytes exceeds the limit of " +
                           std::to_string(options_.max_artifact_bytes) + " bytes per artifact");
  }
  SOV_RETURN_IF_ERROR(PlaceInLocation(spec));

  PreparedArtifact prepared;
  ArtifactRecord& artifact = prepared.record;
  artifact.id = internal::RandomId();
  // As an upload's: a fresh data key, wrapped under the owner's tenant key and bound to the id.
  crypto::SecretKey data_key = crypto::NewDataKey();
  prepared.wrapped_key = crypto::WrapDataKey(TenantKey(spec.owner_tenant), data_key, artifact.id);
  const std::string header = crypto::NewBlobHeader();

  // Written through a staging object and published, as an upload is: a crash before Publish
  // leaves a staging object that no open upload owns, and one after it an unreferenced blob;
  // Recover removes both.
  const std::string staging_id =
      std::string(internal::kGeneratedStagingPrefix) + internal::RandomId();
  const std::string& where = spec.storage_location;
  crypto::Sha256 hash;
  {
    SOV_ASSIGN_OR_RETURN(std::unique_ptr<BlobAppender> staging,
                         blobs_->OpenStaging(where, staging_id, 0));
    Status st = staging->Append(header);
    const uint64_t size = bytes.size();
    const uint64_t chunks = crypto::ChunkCount(size);
    std::string sealed;
    sealed.reserve(crypto::kSealedChunkBytes);
    for (uint64_t index = 0; st.ok() && index < chunks; ++index) {
      std::string_view piece = bytes.substr(
          static_cast<size_t>(index * crypto::kChunkPlaintextBytes),
          static_cast<size_t>(crypto::ChunkPlaintextSize(index, size)));
      hash.Update(piece);
      sealed.clear();
      st = crypto::EncryptChunk(data_key, header, index, crypto::IsFinalChunk(index, size), piece,
                                sealed);
      if (st.ok()) st = staging->Append(sealed);
    }
    if (st.ok()) st = staging->Sync();
    if (!st.ok()) {
      staging.reset();
      (void)blobs_->DiscardStaging(where, staging_id);
      return st;
    }
  }
  if (Status st = blobs_->Publish(where, staging_id, artifact.id); !st.ok()) {
    (void)blobs_->DiscardStaging(where, staging_id);
    return st;
  }

  artifact.spec = std::move(spec);
  artifact.digest = hash.Finish().ToString();
  artifact.size_bytes = static_cast<int64_t>(bytes.size());
  artifact.stage = stage;
  artifact.create_time = Now();
  artifact.update_time = artifact.create_time;
  artifact.revision = 1;
  SignManifest(artifact);
  return prepared;
}

Result<JobRecord> Registry::CompleteJob(const JobRecord& job, JobOutcome outcome,
                                        const Actor& actor, std::vector<AuditEvent> audit) {
  if (outcome.state != JobState::kSucceeded && outcome.state != JobState::kFailed) {
    return InvalidArgument("a job completes as succeeded or failed, not " +
                           std::string(JobStateName(outcome.state)));
  }
  if (job.state != JobState::kRunning) {
    return FailedPrecondition("validation job " + job.id + " is " +
                              std::string(JobStateName(job.state)) + ", not running");
  }
  if (outcome.report.has_value() && outcome.report->record.spec.kind != Kind::kReport) {
    return InvalidArgument("the report of validation job " + job.id + " must be of kind report");
  }
  const std::string ref = Ref(job.model_name, job.model_version);
  // A report that is never committed is deleted here when this attempt has definitely lost, and
  // by Recover otherwise (it is an unreferenced blob).
  auto discard_report = [&] {
    if (!outcome.report.has_value()) return;
    const ArtifactRecord& report = outcome.report->record;
    Result<std::optional<ArtifactRecord>> found = store_->FindArtifactById(report.id);
    if (found.ok() && !found->has_value()) {
      (void)blobs_->Delete(report.spec.storage_location, report.id);
    }
  };

  for (int attempt = 0; attempt < kMaxRevisionAttempts; ++attempt) {
    JobRecord finished = job;
    finished.state = outcome.state;
    finished.backend = outcome.backend;
    finished.error = outcome.state == JobState::kFailed ? outcome.error : std::string();
    finished.datasets = outcome.datasets;
    finished.gate_results = outcome.gate_results;
    if (!outcome.policy_digest.empty()) finished.policy_digest = outcome.policy_digest;
    finished.end_time = Now();
    finished.lease_expire_time = finished.end_time;
    if (outcome.state == JobState::kSucceeded) finished.progress = 1.0;
    finished.outcome_stage.reset();
    if (outcome.report.has_value()) {
      const ArtifactRecord& report = outcome.report->record;
      finished.report_name = report.spec.name;
      finished.report_version = report.spec.version;
      finished.report_digest = report.digest;
    }

    WriteBatch batch;
    std::optional<internal::StageChange> change;
    if (outcome.transition.has_value() && !job.report_only) {
      SOV_ASSIGN_OR_RETURN(ArtifactRecord model, Get(job.model_name, job.model_version));
      if (model.digest != job.model_digest) {
        return DataLoss("model " + ref + " has digest " + model.digest + ", but validation job " +
                        job.id + " ran on " + job.model_digest);
      }
      if (model.stage == outcome.transition->to) {
        finished.outcome_stage = model.stage;
      } else if (outcome.transition->from.contains(model.stage)) {
        Transition transition = *outcome.transition;
        // Erasure may have revoked what was derived from the model's data while it ran: such a
        // model is never released (ChangeStage refuses it too).
        if (const LineageNotice* notice = internal::RevokingNotice(model);
            notice != nullptr && transition.to == Stage::kReleased) {
          transition.to = Stage::kRejected;
          transition.reason = "not released: " + internal::RevokingNoticeText(*notice);
          transition.rule_id = notice->rule_id;
          transition.rule_location = notice->rule_location;
          transition.mark_release_requested = false;
        }
        change = internal::MakeStageChange(model, transition, actor, finished.end_time);
        finished.outcome_stage = transition.to;
      }
      // Else the model left the stages the outcome applies to (erased, revoked meanwhile):
      // the job completes without a stage change.
    }

    batch.Add(mutation::UpdateJob{finished});
    if (outcome.report.has_value()) {
      batch.Add(mutation::InsertArtifact{outcome.report->record, outcome.report->wrapped_key});
    }
    if (change.has_value()) {
      batch.Add(mutation::UpdateArtifact{change->updated, /*link_next_audit=*/true});
      batch.Add(mutation::AppendAudit{change->entry});
    }
    AuditEvent done = ValidationEvent(actor, "finished", "artifact.validate", finished);
    Json& details = done.body["details"];
    details["outcome"] = std::string(JobStateName(finished.state));
    if (finished.outcome_stage.has_value()) {
      details["modelStage"] = std::string(StageName(*finished.outcome_stage));
    }
    if (!finished.report_name.empty()) {
      details["report"] = {{"name", finished.report_name},
                           {"version", finished.report_version},
                           {"digest", finished.report_digest}};
    }
    if (!finished.error.empty()) details["error"] = finished.error;
    if (!finished.policy_digest.empty()) details["policyDigest"] = finished.policy_digest;
    batch.Add(mutation::AppendAudit{std::move(done)});
    std::vector<AuditEvent> events = audit;
    AddAudit(batch, events);

    Result<CommitResult> committed = store_->Commit(std::move(batch));
    if (!committed.ok()) {
      if (committed.status().code() != StatusCode::kAborted) return committed.status();
      // Either the job moved on (this attempt lost: give up) or the model changed (read again).
      Result<std::optional<JobRecord>> current = store_->FindJob(job.id);
      if (!current.ok()) return current.status();
      if (!current->has_value() || (*current)->revision != job.revision) {
        discard_report();
        return Aborted("validation job " + job.id + " attempt " + std::to_string(job.attempt) +
                       " is no longer this worker's (cancelled, or taken by another worker "
                       "after its lease ran out); nothing was committed");
      }
      continue;
    }
    ++finished.revision;
    return finished;
  }
  return Aborted("model " + ref + " kept changing; try again");
}

Result<JobRecord> Registry::CancelJob(const std::string& job_id, const Actor& actor,
                                      std::vector<AuditEvent> audit) {
  for (int attempt = 0; attempt < kMaxRevisionAttempts; ++attempt) {
    SOV_ASSIGN_OR_RETURN(JobRecord job, GetJob(job_id));
    if (job.state == JobState::kCancelled) {
      SOV_RETURN_IF_ERROR(audit_->Append(std::move(audit)).status());
      return job;
    }
    if (job.state != JobState::kQueued && job.state != JobState::kRunning) {
      return FailedPrecondition("validation job " + job_id + " has finished (" +
                                std::string(JobStateName(job.state)) + "); it cannot be cancelled");
    }
    JobRecord cancelled = job;
    cancelled.state = JobState::kCancelled;
    cancelled.end_time = Now();
    cancelled.lease_expire_time = cancelled.end_time;

    std::optional<internal::StageChange> change;
    if (!job.report_only) {
      SOV_ASSIGN_OR_RETURN(std::optional<ArtifactRecord> model,
                           store_->FindArtifact(job.model_name, job.model_version));
      if (model.has_value() && model->digest == job.model_digest &&
          model->stage == Stage::kValidating) {
        Transition back;
        back.from = {Stage::kValidating};
        back.to = Stage::kPending;
        back.reason = "validation job " + job_id + " cancelled";
        change = internal::MakeStageChange(*model, back, actor, cancelled.end_time);
        cancelled.outcome_stage = Stage::kPending;
      }
    }
    WriteBatch batch;
    batch.Add(mutation::UpdateJob{cancelled});
    if (change.has_value()) {
      batch.Add(mutation::UpdateArtifact{change->updated, /*link_next_audit=*/true});
      batch.Add(mutation::AppendAudit{change->entry});
    }
    batch.Add(mutation::AppendAudit{
        ValidationEvent(actor, "cancelled", "validation.cancel", cancelled)});
    std::vector<AuditEvent> events = audit;
    AddAudit(batch, events);
    Result<CommitResult> committed = store_->Commit(std::move(batch));
    if (!committed.ok()) {
      // The job (claimed, renewed, finished) or the model changed meanwhile: look again.
      if (committed.status().code() == StatusCode::kAborted) continue;
      return committed.status();
    }
    ++cancelled.revision;
    return cancelled;
  }
  return Aborted("validation job " + job_id + " kept changing; try again");
}

// ---------------------------------------------------------------------------------------------
// Signing keys

Status Registry::RevokeKey(KeyRevocation revocation, const Actor& actor,
                           std::vector<AuditEvent> audit) {
  if (revocation.keyid.empty()) return InvalidArgument("a key revocation needs a keyid");
  SOV_ASSIGN_OR_RETURN(std::vector<KeyRevocation> revoked, store_->ListKeyRevocations());
  if (std::any_of(revoked.begin(), revoked.end(),
                  [&](const KeyRevocation& r) { return r.keyid == revocation.keyid; })) {
    return audit_->Append(std::move(audit)).status();
  }
  if (revocation.time == SystemTime()) revocation.time = Now();
  if (revocation.revoked_by.empty()) revocation.revoked_by = actor.tenant_id;

  AuditEvent entry = EventFrom(actor, "KEY_REVOCATION", "keys.revoke");
  entry.body = {{"details",
                 {{"keyid", revocation.keyid},
                  {"ownerTenant", revocation.owner_tenant},
                  {"reason", revocation.reason},
                  {"revokedBy", revocation.revoked_by}}}};
  WriteBatch batch;
  batch.Add(mutation::RevokeKey{std::move(revocation)});
  batch.Add(mutation::AppendAudit{std::move(entry)});
  AddAudit(batch, audit);
  return store_->Commit(std::move(batch)).status();
}

Result<std::vector<KeyRevocation>> Registry::KeyRevocations() {
  return store_->ListKeyRevocations();
}

}  // namespace sov::registry
