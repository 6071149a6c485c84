// Shows that the Registry's validation job queue over a real SQLite store and LocalBlobStore is
// durable and exact: queueing is idempotent and moves a pending model to VALIDATING with an
// audited stage change; workers claim jobs oldest first by backend; an expired lease is taken
// over (attempt 2) and the first worker can then neither renew nor complete, committing
// nothing; concurrent claimers in two "processes" (two stores on one file) get each job exactly
// once; CompleteJob commits the report and the model's stage together or not at all; CancelJob
// puts the model back to PENDING; key revocations persist; Recover removes an uncommitted
// report's blob. (Tombstones, notices, retention ordering and the schema-2 migration are shown
// at the store level in sqlite_metadata_store_test.cc.)
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "crypto/dsse.h"
#include "crypto/intoto.h"
#include "crypto/sha256.h"
#include "registry/registry.h"
#include "registry/sqlite_metadata_store.h"
#include "tests/registry/registry_fixture.h"

namespace sov::registry {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using std::chrono::seconds;

// Internal data, which needs no lawful basis.
ArtifactSpec Spec(const std::string& name, const std::string& version, Kind kind) {
  ArtifactSpec spec = TestSpec(kind, name, version);
  spec.classification = "internal";
  spec.effective_classification = "internal";
  spec.lawful_basis.clear();
  return spec;
}

Actor WorkerActor() {
  Actor actor;
  actor.system_actor = "validation";
  return actor;
}

AuditEvent Decision(const std::string& action) { return AllowDecision(action, "ml-validate"); }

Registry::Transition ToReleased() {
  Registry::Transition t;
  t.from = {Stage::kValidating};
  t.to = Stage::kReleased;
  t.reason = "all release gates passed";
  t.rule_id = "gate-auc";
  t.rule_location = "policy.yaml:40:5";
  return t;
}

class ValidationTest : public RegistryFixture {
 protected:
  // Pushes a small model (stage PENDING).
  ArtifactRecord PushModel(const std::string& version,
                           const std::string& name = "acme/fraud/model") {
    std::string data = "weights of " + name + "@" + version;
    auto artifact = PushArtifact(Spec(name, version, Kind::kModel), data, TenantActor());
    EXPECT_TRUE(artifact.ok()) << artifact.status().ToString();
    return artifact.ok() ? *artifact : ArtifactRecord{};
  }

  JobRecord Queue(const ArtifactRecord& model, bool report_only = false,
                  const std::string& backend = "auto") {
    Registry::ValidationRequest request;
    request.report_only = report_only;
    request.backend = backend;
    request.policy_digest = "sha256:" + std::string(64, 'p');
    request.requested_by = "acme";
    auto job = registry_->QueueValidation(model, request, TenantActor(),
                                          {Decision("validation.start")});
    EXPECT_TRUE(job.ok()) << job.status().ToString();
    return job.ok() ? *job : JobRecord{};
  }

  std::optional<JobRecord> Claim(const std::string& worker,
                                 std::set<std::string> backends = {"cpu"},
                                 seconds lease = seconds(60), Registry* registry = nullptr) {
    if (registry == nullptr) registry = registry_.get();
    auto job = registry->ClaimJob(worker, backends, lease);
    EXPECT_TRUE(job.ok()) << job.status().ToString();
    return job.ok() ? *job : std::nullopt;
  }

  ArtifactRecord Model(const std::string& version, const std::string& name = "acme/fraud/model") {
    auto model = registry_->Get(name, version);
    EXPECT_TRUE(model.ok()) << model.status().ToString();
    return model.ok() ? *model : ArtifactRecord{};
  }

  Registry::PreparedArtifact PrepareReport(const JobRecord& job, const std::string& bytes,
                                           std::string version = "") {
    if (version.empty()) version = job.model_version + "-eval." + std::to_string(job.attempt);
    ArtifactSpec spec = Spec(job.model_name + ".report", version, Kind::kReport);
    spec.media_type = "application/vnd.in-toto+json";
    spec.lineage = {{job.model_name, job.model_version, job.model_digest, "evaluates",
                     Kind::kModel}};
    spec.created_by.clear();
    auto prepared = registry_->PrepareGeneratedArtifact(spec, bytes, Stage::kReleased);
    EXPECT_TRUE(prepared.ok()) << prepared.status().ToString();
    return prepared.ok() ? *prepared : Registry::PreparedArtifact{};
  }

  Registry::JobOutcome Succeeded(Registry::PreparedArtifact report) {
    Registry::JobOutcome outcome;
    outcome.state = JobState::kSucceeded;
    outcome.backend = "cpu";
    outcome.report = std::move(report);
    outcome.gate_results = Json::array(
        {{{"gate_id", "auc"}, {"outcome", "pass"}, {"observed", 0.93}}});
    outcome.transition = ToReleased();
    return outcome;
  }

  // The VALIDATION entries' details.event values for `job_id`, in log order.
  std::vector<std::string> ValidationEvents(const std::string& job_id) {
    std::vector<std::string> out;
    for (const Json& leaf : AuditLeaves()) {
      if (leaf.value("type", "") != "VALIDATION") continue;
      const Json& details = leaf.at("details");
      if (details.value("jobId", "") == job_id) out.push_back(details.value("event", ""));
    }
    return out;
  }

  int64_t AuditSize() {
    auto size = store_->AuditSize();
    EXPECT_TRUE(size.ok());
    return size.ok() ? *size : -1;
  }

  bool BlobExists(const std::string& blob_id) {
    return blobs_->Open(kLocation, blob_id).ok();
  }

  // Dates the blob's file `age` back, as if it had been written that long ago.
  void AgeBlob(const std::string& blob_id, std::chrono::seconds age) {
    const fs::path path =
        fs::path(blob_dir()) / "blobs" / blob_id.substr(0, 2) / (blob_id + ".blob");
    std::error_code error;
    fs::last_write_time(path, fs::last_write_time(path) - age, error);
    ASSERT_FALSE(error) << path << ": " << error.message();
  }
};

TEST_F(ValidationTest, QueueIsIdempotentPerDigestAndMode) {
  // A second request for the same model and mode returns the live job and changes nothing; a
  // report-only request is a job of its own; each new job has one "queued" entry.
  ArtifactRecord model = PushModel("1.0.0");
  JobRecord first = Queue(model);
  EXPECT_EQ(first.id.rfind("job-", 0), 0u) << first.id;
  EXPECT_EQ(first.id.size(), 4u + 32u);
  EXPECT_EQ(first.state, JobState::kQueued);
  EXPECT_EQ(first.model_digest, model.digest);
  EXPECT_GT(first.seq, 0);
  const int64_t size = AuditSize();
  JobRecord again = Queue(model);  // the stale record (still PENDING) is fine too
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(again.revision, first.revision);
  EXPECT_EQ(AuditSize(), size + 1);  // the caller's decision only
  JobRecord report_only = Queue(model, /*report_only=*/true);
  EXPECT_NE(report_only.id, first.id);
  EXPECT_TRUE(report_only.report_only);
  EXPECT_EQ(Queue(model, true).id, report_only.id);
  EXPECT_EQ(ValidationEvents(first.id), std::vector<std::string>{"queued"});
  EXPECT_EQ(ValidationEvents(report_only.id), std::vector<std::string>{"queued"});

  JobFilter filter;
  filter.model_name = model.spec.name;
  auto jobs = registry_->ListJobs(filter);
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ(jobs->size(), 2u);

  // After cancelling, a new request queues a new job.
  ASSERT_TRUE(registry_->CancelJob(first.id, TenantActor(), {}).ok());
  EXPECT_NE(Queue(Model("1.0.0")).id, first.id);
}

TEST_F(ValidationTest, QueueMovesPendingModelToValidatingAudited) {
  // Queueing moves a PENDING model to VALIDATING in the same batch, with a history event by the
  // "validation" system actor whose audit index names the STAGE_CHANGE entry; a report-only job
  // leaves the stage alone; non-models and wrong stages are refused.
  ArtifactRecord model = PushModel("1.0.0");
  JobRecord job = Queue(model);
  ArtifactRecord validating = Model("1.0.0");
  EXPECT_EQ(validating.stage, Stage::kValidating);
  ASSERT_EQ(validating.history.size(), 1u);
  const StageEvent& event = validating.history[0];
  EXPECT_EQ(event.from, Stage::kPending);
  EXPECT_EQ(event.to, Stage::kValidating);
  EXPECT_EQ(event.system_actor, "validation");
  EXPECT_TRUE(event.tenant_id.empty());
  EXPECT_NE(event.reason.find(job.id), std::string::npos) << event.reason;
  ASSERT_GE(event.audit_index, 0);
  std::vector<Json> leaves = AuditLeaves();
  const Json& change = leaves.at(static_cast<size_t>(event.audit_index));
  EXPECT_EQ(change.at("type"), "STAGE_CHANGE");
  EXPECT_EQ(change.at("artifact").at("name"), "acme/fraud/model");
  EXPECT_EQ(change.at("stageChange").at("fromStage"), "pending");
  EXPECT_EQ(change.at("stageChange").at("toStage"), "validating");
  EXPECT_EQ(change.at("systemActor"), "validation");
  // The queued entry follows it in the same batch, then the caller's decision.
  const Json& queued = leaves.at(static_cast<size_t>(event.audit_index + 1));
  EXPECT_EQ(queued.at("type"), "VALIDATION");
  EXPECT_EQ(queued.at("details").at("event"), "queued");
  EXPECT_EQ(queued.at("details").at("jobId"), job.id);
  EXPECT_EQ(queued.at("principal").at("tenantId"), "acme");
  EXPECT_EQ(leaves.at(static_cast<size_t>(event.audit_index + 2)).at("type"), "DECISION");

  ArtifactRecord other = PushModel("2.0.0");
  Queue(other, /*report_only=*/true);
  EXPECT_EQ(Model("2.0.0").stage, Stage::kPending);

  // A dataset is not validated; a rejected model only report-only.
  std::string data = "rows";
  auto upload = registry_->CreateUpload(Spec("acme/fraud/data", "1.0.0", Kind::kDataset), 4, "",
                                        TenantActor(), {});
  ASSERT_TRUE(upload.ok());
  auto writer = registry_->OpenUploadWriter(upload->id, 0);
  ASSERT_TRUE(writer.ok() && (*writer)->Write(data).ok());
  auto dataset = (*writer)->Commit(crypto::Sha256Of(data).ToString(), TenantActor(), {});
  ASSERT_TRUE(dataset.ok());
  Registry::ValidationRequest request;
  EXPECT_EQ(registry_->QueueValidation(*dataset, request, TenantActor(), {}).status().code(),
            StatusCode::kInvalidArgument);
  Registry::Transition reject;
  reject.from = {Stage::kPending};
  reject.to = Stage::kRejected;
  ASSERT_TRUE(registry_->ChangeStage("acme/fraud/model", "2.0.0", reject, TenantActor(), {}).ok());
  EXPECT_EQ(registry_->QueueValidation(Model("2.0.0"), request, TenantActor(), {})
                .status()
                .code(),
            StatusCode::kFailedPrecondition);
  request.backend = "tpu";
  EXPECT_EQ(registry_->QueueValidation(model, request, TenantActor(), {}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(ValidationTest, ClaimTakesOldestRunnableJobFirst) {
  // Workers take jobs oldest first, only those whose requested backend they have ("auto" runs
  // anywhere); a claimed job is RUNNING with worker, attempt 1 and a lease, and a "started"
  // entry records it.
  JobRecord a = Queue(PushModel("1.0.0"));
  JobRecord b = Queue(PushModel("2.0.0"), false, "cuda");
  JobRecord c = Queue(PushModel("3.0.0"), false, "cpu");
  const auto before = std::chrono::system_clock::now();
  std::optional<JobRecord> first = Claim("host/cpu-1", {"cpu"}, seconds(30));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->id, a.id);
  EXPECT_EQ(first->state, JobState::kRunning);
  EXPECT_EQ(first->worker, "host/cpu-1");
  EXPECT_EQ(first->attempt, 1);
  EXPECT_GE(first->start_time, before);
  EXPECT_EQ(first->lease_expire_time, first->start_time + seconds(30));
  auto stored = registry_->GetJob(a.id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->state, JobState::kRunning);
  EXPECT_EQ(stored->revision, first->revision);
  EXPECT_EQ(ValidationEvents(a.id), (std::vector<std::string>{"queued", "started"}));

  std::optional<JobRecord> second = Claim("host/cpu-1", {"cpu"});
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->id, c.id);
  EXPECT_FALSE(Claim("host/cpu-2", {"cpu"}).has_value());
  std::optional<JobRecord> gpu = Claim("host/gpu-1", {"cuda", "cpu"});
  ASSERT_TRUE(gpu.has_value());
  EXPECT_EQ(gpu->id, b.id);
  EXPECT_FALSE(Claim("host/gpu-1", {"cuda", "cpu"}).has_value());
  EXPECT_EQ(registry_->ClaimJob("", {"cpu"}, seconds(1)).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(ValidationTest, ExpiredLeaseIsTakenOverAndTheFirstWorkerLoses) {
  // A RUNNING job whose lease ran out is claimed again (attempt 2); the first worker's
  // Heartbeat and CompleteJob then get ABORTED, and its CompleteJob commits nothing: no report,
  // no stage change, no audit entry, and its report blob is removed.
  ArtifactRecord model = PushModel("1.0.0");
  JobRecord queued = Queue(model);
  std::optional<JobRecord> w1 = Claim("host/w1", {"cpu"}, seconds(1));
  ASSERT_TRUE(w1.has_value());
  EXPECT_FALSE(Claim("host/w2").has_value());  // the lease still holds
  auto renewed = registry_->Heartbeat(*w1, 0.25, "loading model", seconds(1));
  ASSERT_TRUE(renewed.ok()) << renewed.status().ToString();
  EXPECT_EQ(renewed->revision, w1->revision + 1);
  EXPECT_EQ(registry_->GetJob(queued.id)->phase, "loading model");
  EXPECT_EQ(registry_->GetJob(queued.id)->progress, 0.25);
  w1 = *renewed;

  std::this_thread::sleep_until(std::chrono::system_clock::now() + seconds(1) +
                                std::chrono::milliseconds(200));
  std::optional<JobRecord> w2 = Claim("host/w2");
  ASSERT_TRUE(w2.has_value());
  EXPECT_EQ(w2->id, queued.id);
  EXPECT_EQ(w2->attempt, 2);
  EXPECT_EQ(w2->worker, "host/w2");
  EXPECT_EQ(w2->progress, 0.0);

  EXPECT_EQ(registry_->Heartbeat(*w1, 0.5, "quality", seconds(60)).status().code(),
            StatusCode::kAborted);
  Registry::PreparedArtifact report = PrepareReport(*w1, "{\"report\":1}");
  ASSERT_TRUE(BlobExists(report.record.id));
  const int64_t size = AuditSize();
  auto lost = registry_->CompleteJob(*w1, Succeeded(report), WorkerActor(), {});
  EXPECT_EQ(lost.status().code(), StatusCode::kAborted) << lost.status().ToString();
  EXPECT_EQ(AuditSize(), size);
  EXPECT_FALSE(store_->FindArtifactById(report.record.id)->has_value());
  EXPECT_FALSE(BlobExists(report.record.id));
  EXPECT_EQ(Model("1.0.0").stage, Stage::kValidating);
  auto job = registry_->GetJob(queued.id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, JobState::kRunning);
  EXPECT_EQ(job->worker, "host/w2");
  EXPECT_EQ(job->revision, w2->revision);

  // The second worker completes it, once.
  auto done = registry_->CompleteJob(*w2, Succeeded(PrepareReport(*w2, "{\"report\":2}")),
                                     WorkerActor(), {});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->state, JobState::kSucceeded);
  EXPECT_EQ(done->attempt, 2);
  EXPECT_EQ(Model("1.0.0").stage, Stage::kReleased);
  EXPECT_EQ(registry_->CompleteJob(*w2, Succeeded(PrepareReport(*w2, "x", "1.0.0-again")),
                                   WorkerActor(), {})
                .status()
                .code(),
            StatusCode::kAborted);  // w2's copy is at the revision before it completed
  EXPECT_EQ(registry_->CompleteJob(*w1, Succeeded(PrepareReport(*w1, "y", "1.0.0-late")),
                                   WorkerActor(), {})
                .status()
                .code(),
            StatusCode::kAborted);
  EXPECT_EQ(ValidationEvents(queued.id),
            (std::vector<std::string>{"queued", "started", "started", "finished"}));
}

TEST_F(ValidationTest, JobWhoseWorkersKeepDyingIsAbandoned) {
  // With max_job_attempts 2: two workers take the job and stop reporting; the next claimer
  // does not take it a third time but fails it, rejecting the model with the reason, and
  // claims nothing. A job in the same state under no limit (0) is taken again.
  options_.max_job_attempts = 2;
  registry_ = NewRegistry(options_);
  ArtifactRecord model = PushModel("1.0.0");
  JobRecord queued = Queue(model);
  for (const char* worker : {"host/w1", "host/w2"}) {
    std::optional<JobRecord> taken = Claim(worker, {"cpu"}, seconds(1));
    ASSERT_TRUE(taken.has_value()) << worker;
    std::this_thread::sleep_until(std::chrono::system_clock::now() + seconds(1) +
                                  std::chrono::milliseconds(200));
  }
  EXPECT_FALSE(Claim("host/w3").has_value());
  auto job = registry_->GetJob(queued.id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, JobState::kFailed);
  EXPECT_EQ(job->attempt, 2);
  EXPECT_EQ(job->error,
            "abandoned after 2 attempts: each worker that ran it (the last: host/w2) stopped "
            "reporting before it finished");
  ArtifactRecord rejected = Model("1.0.0");
  EXPECT_EQ(rejected.stage, Stage::kRejected);
  EXPECT_EQ(rejected.history.back().reason, "validation failed: " + job->error);
  EXPECT_EQ(ValidationEvents(queued.id),
            (std::vector<std::string>{"queued", "started", "started", "finished"}));

  options_.max_job_attempts = 0;
  registry_ = NewRegistry(options_);
  JobRecord other = Queue(PushModel("2.0.0"));
  for (const char* worker : {"host/w1", "host/w2"}) {
    ASSERT_TRUE(Claim(worker, {"cpu"}, seconds(1)).has_value()) << worker;
    std::this_thread::sleep_until(std::chrono::system_clock::now() + seconds(1) +
                                  std::chrono::milliseconds(200));
  }
  std::optional<JobRecord> third = Claim("host/w3");
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->id, other.id);
  EXPECT_EQ(third->attempt, 3);
}

TEST_F(ValidationTest, ClaimReadsPastAPageOfAbandonedJobs) {
  // A claim reads its candidates a page (32) at a time: behind 40 expired jobs that used up
  // their one attempt, it abandons all 40 and still claims the queued job after them.
  options_.max_job_attempts = 1;
  registry_ = NewRegistry(options_);
  constexpr int kExpired = 40;
  for (int i = 0; i < kExpired; ++i) {
    Queue(PushModel("1.0." + std::to_string(i)));
    ASSERT_TRUE(Claim("host/w1", {"cpu"}, seconds(1)).has_value()) << i;
  }
  std::this_thread::sleep_until(std::chrono::system_clock::now() + seconds(1) +
                                std::chrono::milliseconds(200));
  JobRecord last = Queue(PushModel("2.0.0"));
  std::optional<JobRecord> claimed = Claim("host/w2");
  ASSERT_TRUE(claimed.has_value());
  EXPECT_EQ(claimed->id, last.id);
  JobFilter failed;
  failed.states = {JobState::kFailed};
  failed.limit = 0;
  auto abandoned = registry_->ListJobs(failed);
  ASSERT_TRUE(abandoned.ok());
  EXPECT_EQ(abandoned->size(), static_cast<size_t>(kExpired));
  EXPECT_FALSE(Claim("host/w3").has_value());
}

TEST_F(ValidationTest, ConcurrentClaimersTakeEachJobExactlyOnce) {
  // Eight threads, half of them through a second store and Registry on the same database file
  // (as a separate eval-worker process has), claim until the queue is empty: every job is
  // claimed by exactly one of them, and each has exactly one "started" entry.
  constexpr int kJobs = 24;
  std::set<std::string> queued;
  for (int i = 0; i < kJobs; ++i) queued.insert(Queue(PushModel("1.0." + std::to_string(i))).id);

  SqliteMetadataStore::Options options;
  options.cache_artifacts = false;
  auto other_store = SqliteMetadataStore::Open(db_path_, options);
  ASSERT_TRUE(other_store.ok()) << other_store.status().ToString();
  std::shared_ptr<MetadataStore> other = std::move(other_store).value();
  std::shared_ptr<AuditLog> other_audit = NewAuditLog(other);
  std::unique_ptr<Registry> other_registry = NewRegistry(other, other_audit, options_);

  std::mutex mu;
  std::multiset<std::string> claimed;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    Registry* registry = t % 2 == 0 ? registry_.get() : other_registry.get();
    threads.emplace_back([&, t, registry] {
      const std::string worker = "host/worker-" + std::to_string(t);
      while (true) {
        auto job = registry->ClaimJob(worker, {"cpu"}, seconds(600));
        ASSERT_TRUE(job.ok()) << job.status().ToString();
        if (!job->has_value()) return;
        EXPECT_EQ((*job)->worker, worker);
        EXPECT_EQ((*job)->attempt, 1);
        std::lock_guard<std::mutex> lock(mu);
        claimed.insert((*job)->id);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(claimed.size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(std::set<std::string>(claimed.begin(), claimed.end()), queued);
  for (const std::string& id : queued) {
    EXPECT_EQ(ValidationEvents(id), (std::vector<std::string>{"queued", "started"})) << id;
  }
}

TEST_F(ValidationTest, CompleteJobCommitsReportAndStageTogether) {
  // CompleteJob commits, in one batch, the finished job, the signed report artifact (readable,
  // its manifest verifying with the registry key), the model's stage change with its audited
  // history event and a "finished" entry; a batch that fails (the report's version is taken)
  // leaves everything as it was.
  ArtifactRecord model = PushModel("1.0.0");
  Queue(model);
  std::optional<JobRecord> job = Claim("host/w1");
  ASSERT_TRUE(job.has_value());

  // First a report whose name@version exists: the whole batch is refused.
  Registry::PreparedArtifact clash = PrepareReport(*job, "clash", "9.9.9");
  PushModel("9.9.9", job->model_name + ".report");
  const int64_t size = AuditSize();
  auto refused = registry_->CompleteJob(*job, Succeeded(clash), WorkerActor(), {});
  EXPECT_EQ(refused.status().code(), StatusCode::kAlreadyExists) << refused.status().ToString();
  EXPECT_EQ(AuditSize(), size);
  EXPECT_EQ(Model("1.0.0").stage, Stage::kValidating);
  EXPECT_EQ(registry_->GetJob(job->id)->state, JobState::kRunning);
  EXPECT_EQ(registry_->GetJob(job->id)->revision, job->revision);

  const std::string report_bytes = "{\"_type\":\"https://in-toto.io/Statement/v1\"}";
  Registry::PreparedArtifact report = PrepareReport(*job, report_bytes);
  EXPECT_EQ(report.record.digest, crypto::Sha256Of(report_bytes).ToString());
  auto done = registry_->CompleteJob(*job, Succeeded(report), WorkerActor(),
                                     {Decision("artifact.release")});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->state, JobState::kSucceeded);
  EXPECT_EQ(done->progress, 1.0);
  EXPECT_EQ(done->report_name, "acme/fraud/model.report");
  EXPECT_EQ(done->report_version, "1.0.0-eval.1");
  EXPECT_EQ(done->report_digest, report.record.digest);
  ASSERT_TRUE(done->outcome_stage.has_value());
  EXPECT_EQ(*done->outcome_stage, Stage::kReleased);

  auto stored = registry_->GetJob(job->id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->state, JobState::kSucceeded);
  EXPECT_EQ(stored->revision, done->revision);
  EXPECT_EQ(stored->gate_results.at(0).at("observed"), 0.93);
  EXPECT_EQ(stored->backend, "cpu");

  auto committed = registry_->Get("acme/fraud/model.report", "1.0.0-eval.1");
  ASSERT_TRUE(committed.ok()) << committed.status().ToString();
  EXPECT_EQ(committed->spec.kind, Kind::kReport);
  EXPECT_EQ(committed->stage, Stage::kReleased);
  auto envelope = crypto::DsseEnvelope::FromJson(committed->manifest);
  ASSERT_TRUE(envelope.ok());
  EXPECT_TRUE(crypto::VerifyStatement(*envelope, {registry_->registry_key()}).ok());
  auto reader = registry_->OpenReader(*committed, 0, std::nullopt);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::string back;
  while (true) {
    auto piece = (*reader)->Next();
    ASSERT_TRUE(piece.ok()) << piece.status().ToString();
    if (piece->empty()) break;
    back.append(*piece);
  }
  EXPECT_EQ(back, report_bytes);

  ArtifactRecord released = Model("1.0.0");
  EXPECT_EQ(released.stage, Stage::kReleased);
  ASSERT_EQ(released.history.size(), 2u);
  const StageEvent& event = released.history[1];
  EXPECT_EQ(event.rule_id, "gate-auc");
  EXPECT_EQ(event.system_actor, "validation");
  std::vector<Json> leaves = AuditLeaves();
  ASSERT_GE(event.audit_index, 0);
  const Json& change = leaves.at(static_cast<size_t>(event.audit_index));
  EXPECT_EQ(change.at("type"), "STAGE_CHANGE");
  EXPECT_EQ(change.at("stageChange").at("toStage"), "released");
  const Json& finished = leaves.at(static_cast<size_t>(event.audit_index + 1));
  EXPECT_EQ(finished.at("type"), "VALIDATION");
  EXPECT_EQ(finished.at("details").at("event"), "finished");
  EXPECT_EQ(finished.at("details").at("outcome"), "succeeded");
  EXPECT_EQ(finished.at("details").at("modelStage"), "released");
  EXPECT_EQ(finished.at("details").at("report").at("version"), "1.0.0-eval.1");
  EXPECT_EQ(leaves.at(static_cast<size_t>(event.audit_index + 2)).at("type"), "DECISION");

  // A report-only job of a released model completes without touching the stage.
  JobRecord again = Queue(released, /*report_only=*/true);
  std::optional<JobRecord> rerun = Claim("host/w1");
  ASSERT_TRUE(rerun.has_value());
  EXPECT_EQ(rerun->id, again.id);
  const int64_t model_revision = Model("1.0.0").revision;
  Registry::JobOutcome failed;
  failed.state = JobState::kFailed;
  failed.backend = "cpu";
  failed.error = "dataset acme/fraud/val@1.0.0 is erased";
  failed.transition = ToReleased();
  auto failed_done = registry_->CompleteJob(*rerun, failed, WorkerActor(), {});
  ASSERT_TRUE(failed_done.ok()) << failed_done.status().ToString();
  EXPECT_EQ(failed_done->state, JobState::kFailed);
  EXPECT_EQ(failed_done->error, failed.error);
  EXPECT_FALSE(failed_done->outcome_stage.has_value());
  EXPECT_EQ(Model("1.0.0").revision, model_revision);
  EXPECT_EQ(Model("1.0.0").stage, Stage::kReleased);
}

TEST_F(ValidationTest, CancelJobPutsTheModelBackToPending) {
  // Cancelling a queued or running job returns a VALIDATING model to PENDING with an audited
  // stage change and a "cancelled" entry; the running worker then loses its lease; cancelling
  // again is OK, a finished job cannot be cancelled, an unknown one is NOT_FOUND.
  ArtifactRecord model = PushModel("1.0.0");
  JobRecord job = Queue(model);
  std::optional<JobRecord> running = Claim("host/w1");
  ASSERT_TRUE(running.has_value());
  auto cancelled = registry_->CancelJob(job.id, TenantActor(), {Decision("validation.cancel")});
  ASSERT_TRUE(cancelled.ok()) << cancelled.status().ToString();
  EXPECT_EQ(cancelled->state, JobState::kCancelled);
  EXPECT_EQ(registry_->GetJob(job.id)->state, JobState::kCancelled);
  ArtifactRecord pending = Model("1.0.0");
  EXPECT_EQ(pending.stage, Stage::kPending);
  ASSERT_EQ(pending.history.size(), 2u);
  EXPECT_EQ(pending.history[1].from, Stage::kValidating);
  EXPECT_EQ(pending.history[1].tenant_id, "acme");
  ASSERT_GE(pending.history[1].audit_index, 0);
  EXPECT_EQ(AuditLeaves().at(static_cast<size_t>(pending.history[1].audit_index)).at("type"),
            "STAGE_CHANGE");
  EXPECT_EQ(ValidationEvents(job.id),
            (std::vector<std::string>{"queued", "started", "cancelled"}));

  EXPECT_EQ(registry_->Heartbeat(*running, 0.5, "quality", seconds(60)).status().code(),
            StatusCode::kAborted);
  EXPECT_EQ(registry_->CompleteJob(*running, Succeeded(PrepareReport(*running, "r")),
                                   WorkerActor(), {})
                .status()
                .code(),
            StatusCode::kAborted);
  EXPECT_EQ(Model("1.0.0").stage, Stage::kPending);

  EXPECT_TRUE(registry_->CancelJob(job.id, TenantActor(), {}).ok());
  EXPECT_EQ(ValidationEvents(job.id).size(), 3u);
  EXPECT_EQ(registry_->CancelJob("job-none", TenantActor(), {}).status().code(),
            StatusCode::kNotFound);

  JobRecord next = Queue(Model("1.0.0"));
  std::optional<JobRecord> claimed = Claim("host/w1");
  ASSERT_TRUE(claimed.has_value());
  ASSERT_TRUE(registry_->CompleteJob(*claimed, Succeeded(PrepareReport(*claimed, "r2")),
                                     WorkerActor(), {})
                  .ok());
  EXPECT_EQ(registry_->CancelJob(next.id, TenantActor(), {}).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(Model("1.0.0").stage, Stage::kReleased);
}

TEST_F(ValidationTest, KeyRevocationsPersistAcrossReopen) {
  // A revocation is recorded once with a KEY_REVOCATION entry; revoking again is OK and adds
  // only the caller's entries; it is still there after the gateway restarts.
  KeyRevocation revocation;
  revocation.keyid = "sha256:" + std::string(64, 'k');
  revocation.owner_tenant = "acme";
  revocation.reason = "laptop stolen";
  ASSERT_TRUE(registry_->RevokeKey(revocation, TenantActor(), {Decision("keys.revoke")}).ok());
  const int64_t size = AuditSize();
  ASSERT_TRUE(registry_->RevokeKey(revocation, TenantActor(), {}).ok());
  EXPECT_EQ(AuditSize(), size);
  int entries = 0;
  for (const Json& leaf : AuditLeaves()) {
    if (leaf.value("type", "") != "KEY_REVOCATION") continue;
    ++entries;
    EXPECT_EQ(leaf.at("details").at("keyid"), revocation.keyid);
    EXPECT_EQ(leaf.at("action"), "keys.revoke");
  }
  EXPECT_EQ(entries, 1);

  OpenStore();
  auto revoked = registry_->KeyRevocations();
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  ASSERT_EQ(revoked->size(), 1u);
  EXPECT_EQ((*revoked)[0].keyid, revocation.keyid);
  EXPECT_EQ((*revoked)[0].revoked_by, "acme");
  EXPECT_EQ((*revoked)[0].reason, "laptop stolen");
  EXPECT_NE((*revoked)[0].time, SystemTime());
}

TEST_F(ValidationTest, RecoverRemovesUncommittedReportBlobs) {
  // A report prepared but never committed (the worker died) is an unreferenced blob that
  // Recover deletes at the next start, but not while a job holds a live lease and the blob was
  // written since that job was claimed (a worker in another process may be about to commit it);
  // a committed report's blob stays.
  ArtifactRecord model = PushModel("1.0.0");
  Queue(model);
  std::optional<JobRecord> job = Claim("host/w1");
  ASSERT_TRUE(job.has_value());
  Registry::PreparedArtifact orphan = PrepareReport(*job, "orphan", "1.0.0-orphan");
  Registry::PreparedArtifact kept = PrepareReport(*job, "kept");
  ASSERT_TRUE(registry_->CompleteJob(*job, Succeeded(kept), WorkerActor(), {}).ok());
  ASSERT_TRUE(BlobExists(orphan.record.id));
  OpenStore();
  auto removed = registry_->Recover();
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 1);
  EXPECT_FALSE(BlobExists(orphan.record.id));
  EXPECT_TRUE(BlobExists(kept.record.id));
  EXPECT_TRUE(BlobExists(model.id));

  ArtifactRecord other = PushModel("2.0.0");
  JobRecord queued = Queue(other);
  std::optional<JobRecord> live = Claim("host/w2", {"cpu"}, seconds(600));
  ASSERT_TRUE(live.has_value());
  Registry::PreparedArtifact pending = PrepareReport(*live, "pending");
  // An unreferenced blob written an hour before the live job was claimed cannot be its report.
  Registry::PreparedArtifact stale = PrepareReport(*live, "stale", "2.0.0-stale");
  AgeBlob(stale.record.id, std::chrono::hours(1));
  OpenStore();
  removed = registry_->Recover();
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 1);
  EXPECT_TRUE(BlobExists(pending.record.id));
  EXPECT_FALSE(BlobExists(stale.record.id));
  ASSERT_TRUE(registry_->CancelJob(queued.id, TenantActor(), {}).ok());
  removed = registry_->Recover();
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1);
  EXPECT_FALSE(BlobExists(pending.record.id));
}

}  // namespace
}  // namespace sov::registry
