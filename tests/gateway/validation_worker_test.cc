// Shows the validation pipeline on an in-process Registry over a temporary directory with the
// digits fixtures (accuracy 436/450): a model whose gates pass is released with a signed report,
// one below an accuracy gate is rejected with the condition and its policy file:line, one that
// needs two signatures waits PENDING and is released by the second, a model that does not load
// is rejected, a job whose worker died is completed exactly once by another, models left
// VALIDATING get a job again, and a report keeps its model's retain_until.
#include "gateway/validation_worker.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/dsse.h"
#include "crypto/intoto.h"
#include "common/time.h"
#include "crypto/sha256.h"
#include "gateway/release_checks.h"
#include "registry/local_blob_store.h"
#include "registry/sqlite_metadata_store.h"
#include "tests/testing/temp_dir.h"

namespace sov::gateway {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;
using registry::ArtifactRecord;
using registry::JobRecord;
using registry::JobState;
using registry::Stage;

constexpr char kLocation[] = "eu-de-1";

std::string Fixture(const std::string& name) {
  const char* root = std::getenv("SOV_SOURCE_DIR");
  std::string dir = root != nullptr ? root : SOV_TEST_SOURCE_DIR;
  std::ifstream in(dir + "/tests/gpu-eval/fixtures/" + name, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  EXPECT_FALSE(bytes.str().empty()) << "missing fixture " << name;
  return bytes.str();
}

// The policy: one gate on every model, on the digits test set; `extra` adds rules.
std::string PolicyText(const std::string& accuracy, int threshold, bool fetch_allowed = true) {
  std::string text = R"(version: 1
name: validation-test
release_gates:
  - id: digits
    applies_when: artifact.kind == 'model'
    benchmarks: [accuracy, robustness, determinism]
    validation_datasets: ["digits-test@^1.0.0"]
    require:
      - eval.accuracy >= )" + accuracy + R"(
      - eval.robustness.non_finite_weights == 0
    signatures:
      threshold: )" + std::to_string(threshold) + R"(
      signers: [registry, risk-officer]
rules:
  - id: owners-release
    effect: allow
    actions: [artifact.release]
    principals: {tenants: [acme]}
    reason: Owners release their models once the gates pass.
)";
  if (fetch_allowed) {
    text += R"(  - id: owners-fetch
    effect: allow
    actions: [artifact.fetch]
    principals: {tenants: [acme]}
    reason: Owners read their own artifacts.
)";
  }
  return text;
}

class ValidationWorkerTest : public ::testing::Test {
 protected:
  void Open(const std::string& policy_text) {
    testing::WriteTextFile(dir_.Join("policy.yaml"), policy_text);
    testing::WriteTextFile(dir_.Join("risk.pem"),
                           crypto::EncodePublicKeyPem(risk_key_.public_key()));
    testing::WriteTextFile(dir_.Join("tenants.yaml"), R"(tenants:
  - id: acme
    jurisdiction: DE
    roles: [ml-engineer]
    purposes: [digits]
    mtls_subjects: ["CN=acme"]
  - id: risk
    jurisdiction: DE
    roles: [risk-officer]
    mtls_subjects: ["CN=risk"]
    publisher_keys: [risk.pem]
)");
    auto tenants = TenantDirectory::Load(dir_.Join("tenants.yaml"));
    ASSERT_TRUE(tenants.ok()) << tenants.status().message();
    tenants_ = std::make_shared<const TenantDirectory>(std::move(*tenants));
    auto policies = PolicyStore::Load(dir_.Join("policy.yaml"));
    ASSERT_TRUE(policies.ok()) << policies.status().message();
    policies_ = std::shared_ptr<PolicyStore>(std::move(*policies));
    auto store = registry::SqliteMetadataStore::Open(dir_.Join("meta.db"));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    auto blobs = registry::LocalBlobStore::Create({{kLocation, dir_.Join("blobs")}});
    ASSERT_TRUE(blobs.ok()) << blobs.status().ToString();
    registry::AuditLogOptions audit_options;
    audit_options.checkpoint_interval = std::chrono::hours(1);
    auto audit = std::make_shared<registry::AuditLog>(store_, signing_key_, audit_options);
    registry::RegistryOptions options;
    options.locations = {{kLocation, "DE"}};
    registry_ = std::make_shared<registry::Registry>(
        store_, std::shared_ptr<registry::BlobStore>(std::move(*blobs)), audit,
        crypto::SecretKey::Random(), signing_key_, options);
  }

  std::unique_ptr<ValidationWorkerPool> Pool(
      std::chrono::milliseconds idle_poll = std::chrono::milliseconds(20)) {
    ValidationWorkerOptions options;
    options.workers = 1;
    options.backend = "cpu";
    options.lease = std::chrono::seconds(30);
    options.idle_poll = idle_poll;
    options.cpu_threads = 1;
    options.suite.batch_sizes = {1, 32};
    options.suite.warmup = 1;
    options.suite.min_iterations = 2;
    options.suite.min_seconds = 0.0;
    options.temp_root = dir_.path();
    return std::make_unique<ValidationWorkerPool>(registry_, policies_, tenants_, signing_key_,
                                                  options);
  }

  registry::Actor Acme() {
    registry::Actor actor;
    actor.tenant_id = "acme";
    actor.principal = {{"tenantId", "acme"}, {"authMethod", "bearer_token"}, {"credential", "ci"}};
    actor.request_id = "req";
    return actor;
  }

  Result<ArtifactRecord> Push(registry::Kind kind, const std::string& name,
                              const std::string& version, const std::string& bytes,
                              std::vector<registry::LineageLink> lineage = {},
                              std::optional<SystemTime> retain_until = std::nullopt) {
    registry::ArtifactSpec spec;
    spec.kind = kind;
    spec.name = name;
    spec.version = version;
    spec.media_type = "application/vnd.safetensors";
    spec.classification = "internal";
    spec.effective_classification = "internal";
    spec.purposes = {"digits"};
    spec.lineage = std::move(lineage);
    spec.owner_tenant = "acme";
    spec.created_by = "acme";
    spec.storage_location = kLocation;
    spec.storage_jurisdiction = "DE";
    spec.retain_until = retain_until;
    SOV_ASSIGN_OR_RETURN(registry::UploadRecord upload,
                         registry_->CreateUpload(spec, static_cast<int64_t>(bytes.size()), "",
                                                 Acme(), {}));
    SOV_ASSIGN_OR_RETURN(std::unique_ptr<registry::UploadWriter> writer,
                         registry_->OpenUploadWriter(upload.id, 0));
    SOV_RETURN_IF_ERROR(writer->Write(bytes));
    return writer->Commit(crypto::Sha256Of(bytes).ToString(), Acme(), {});
  }

  // Pushes the digits dataset and the model (queued for validation as a push does), the model
  // with the pusher's `model_retain_until` when given.
  void PushDigits(const std::string& model_bytes = Fixture("digits-mlp.safetensors"),
                  std::optional<SystemTime> model_retain_until = std::nullopt) {
    ASSERT_TRUE(Push(registry::Kind::kDataset, "acme/digits-test", "1.0.0",
                     Fixture("digits-test.safetensors"))
                    .ok());
    Result<ArtifactRecord> model = Push(registry::Kind::kModel, "acme/digits", "1.0.0",
                                        model_bytes, {}, model_retain_until);
    ASSERT_TRUE(model.ok()) << model.status().message();
    registry::Registry::ValidationRequest request;
    request.policy_digest = policies_->Current()->digest();
    registry::Actor system;
    system.system_actor = "validation";
    Result<JobRecord> job = registry_->QueueValidation(*model, request, system, {});
    ASSERT_TRUE(job.ok()) << job.status().message();
    job_ = *job;
  }

  ArtifactRecord Model() {
    Result<ArtifactRecord> model = registry_->Get("acme/digits", "1.0.0");
    EXPECT_TRUE(model.ok());
    return model.ok() ? *model : ArtifactRecord();
  }

  JobRecord Job() {
    Result<JobRecord> job = registry_->GetJob(job_.id);
    EXPECT_TRUE(job.ok());
    return job.ok() ? *job : JobRecord();
  }

  std::vector<ArtifactRecord> Reports() {
    registry::ArtifactFilter filter;
    filter.kind = registry::Kind::kReport;
    Result<std::vector<ArtifactRecord>> reports = registry_->List(filter);
    EXPECT_TRUE(reports.ok());
    return reports.ok() ? *reports : std::vector<ArtifactRecord>();
  }

  testing::TempDir dir_;
  crypto::Ed25519PrivateKey signing_key_ = crypto::Ed25519PrivateKey::Generate();
  crypto::Ed25519PrivateKey risk_key_ = crypto::Ed25519PrivateKey::Generate();
  std::shared_ptr<const TenantDirectory> tenants_;
  std::shared_ptr<PolicyStore> policies_;
  std::shared_ptr<registry::MetadataStore> store_;
  std::shared_ptr<registry::Registry> registry_;
  JobRecord job_;
};

// Gates pass and the registry's signature meets the threshold: released, with a registry-signed
// report that evaluates the model on the dataset and records 436/450.
TEST_F(ValidationWorkerTest, ReleasedWhenGatesPass) {
  Open(PolicyText("0.95", 1));
  PushDigits();
  EXPECT_EQ(Model().stage, Stage::kValidating);
  auto pool = Pool();
  Result<bool> ran = pool->RunOnce("test/worker-1");
  ASSERT_TRUE(ran.ok()) << ran.status().message();
  ASSERT_TRUE(*ran);

  const JobRecord job = Job();
  EXPECT_EQ(job.state, JobState::kSucceeded) << job.error;
  EXPECT_EQ(job.backend, "cpu");
  ASSERT_TRUE(job.outcome_stage.has_value());
  EXPECT_EQ(*job.outcome_stage, Stage::kReleased);
  const ArtifactRecord model = Model();
  EXPECT_EQ(model.stage, Stage::kReleased) << model.history.back().reason;
  EXPECT_THAT(model.history.back().reason, HasSubstr("digits"));
  EXPECT_EQ(model.history.back().system_actor, "validation");
  EXPECT_EQ(model.history.back().rule_id, "owners-release");
  ASSERT_EQ(job.datasets.size(), 1u);
  EXPECT_EQ(job.datasets[0].name, "acme/digits-test");

  // The report artifact: name, version, media type, lineage, and a verifiable predicate.
  EXPECT_EQ(job.report_name, "acme/digits/evaluation");
  EXPECT_EQ(job.report_version, "1.0.0-eval." + std::to_string(job.seq));
  Result<ArtifactRecord> report = registry_->Get(job.report_name, job.report_version);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->spec.kind, registry::Kind::kReport);
  EXPECT_EQ(report->spec.media_type, "application/vnd.dsse.envelope.v1+json");
  EXPECT_FALSE(report->spec.retain_until.has_value());  // the model has none
  ASSERT_EQ(report->spec.lineage.size(), 2u);
  EXPECT_EQ(report->spec.lineage[0].relation, "evaluates");
  EXPECT_EQ(report->spec.lineage[0].digest, model.digest);
  EXPECT_EQ(report->spec.lineage[1].relation, "validated-on");
  Result<std::optional<ReportView>> view = LatestReport(*registry_, model);
  ASSERT_TRUE(view.ok()) << view.status().message();
  ASSERT_TRUE(view->has_value());
  const json& predicate = (*view)->predicate;
  EXPECT_NEAR(predicate["eval"]["accuracy"].get<double>(), 436.0 / 450.0, 1e-9);
  EXPECT_EQ(predicate["passed"], true);
  EXPECT_EQ(predicate["model"]["digest"], model.digest);
  EXPECT_EQ(predicate["job"]["id"], job.id);
  EXPECT_EQ(predicate["datasets"][0]["name"], "acme/digits-test");
  EXPECT_EQ(predicate["datasets"][0]["report"]["quality"]["accuracy"].get<double>(),
            predicate["eval"]["accuracy"].get<double>());
  EXPECT_EQ(predicate["policyDigest"], policies_->Current()->digest());
  EXPECT_EQ(Reports().size(), 1u);
}

// A model pushed with retain_until: its report carries the same retain_until (in its record and
// its signed manifest), so that the retention sweeper erases the report no later than the model
// the pusher asked to be erased.
TEST_F(ValidationWorkerTest, ReportInheritsTheModelsRetainUntil) {
  Open(PolicyText("0.95", 1));
  // Whole microseconds: the store keeps nanoseconds, the API microseconds.
  const SystemTime until = std::chrono::time_point_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now() + std::chrono::hours(24 * 90));
  PushDigits(Fixture("digits-mlp.safetensors"), until);
  ASSERT_EQ(Model().spec.retain_until, until);
  auto pool = Pool();
  ASSERT_TRUE(*pool->RunOnce("test/worker-1"));
  const JobRecord job = Job();
  ASSERT_EQ(job.state, JobState::kSucceeded) << job.error;

  Result<ArtifactRecord> report = registry_->Get(job.report_name, job.report_version);
  ASSERT_TRUE(report.ok()) << report.status().message();
  ASSERT_TRUE(report->spec.retain_until.has_value());
  EXPECT_EQ(*report->spec.retain_until, until);
  Result<crypto::DsseEnvelope> manifest = crypto::DsseEnvelope::FromJson(report->manifest);
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  const json statement = json::parse(manifest->payload);
  EXPECT_EQ(statement["predicate"]["retention"]["retainUntil"], FormatRfc3339(until));
}

// Below an accuracy gate: rejected, the reason naming the condition, the value and the policy
// file:line.
TEST_F(ValidationWorkerTest, RejectedBelowAccuracyGate) {
  Open(PolicyText("0.99", 1));
  PushDigits();
  auto pool = Pool();
  ASSERT_TRUE(*pool->RunOnce("test/worker-1"));
  const ArtifactRecord model = Model();
  EXPECT_EQ(model.stage, Stage::kRejected);
  const std::string reason = model.history.back().reason;
  EXPECT_THAT(reason, HasSubstr("eval.accuracy >= 0.99"));
  EXPECT_THAT(reason, HasSubstr("eval.accuracy = 0.968889"));
  EXPECT_THAT(reason, HasSubstr("policy.yaml:9"));
  const JobRecord job = Job();
  EXPECT_EQ(job.state, JobState::kSucceeded);
  EXPECT_EQ(*job.outcome_stage, Stage::kRejected);
  EXPECT_EQ(Reports().size(), 1u);
}

// Threshold 2: the model waits PENDING with its release requested, and the second signature
// releases it.
TEST_F(ValidationWorkerTest, WaitsForTheSecondSignature) {
  Open(PolicyText("0.95", 2));
  PushDigits();
  auto pool = Pool();
  ASSERT_TRUE(*pool->RunOnce("test/worker-1"));
  ArtifactRecord model = Model();
  ASSERT_EQ(model.stage, Stage::kPending) << model.history.back().reason;
  EXPECT_TRUE(model.release_requested);
  EXPECT_THAT(model.history.back().reason, HasSubstr("waiting for signatures"));
  EXPECT_THAT(model.history.back().reason, HasSubstr("1 (registry)"));

  Result<ReleaseState> state =
      ComputeReleaseState(*registry_, *policies_->Current(), *tenants_, model);
  ASSERT_TRUE(state.ok()) << state.status().message();
  EXPECT_TRUE(state->conditions_passed);
  EXPECT_FALSE(state->signatures_met);
  EXPECT_FALSE(state->ready());

  // Nothing happens without the signature.
  Result<ArtifactRecord> unchanged =
      ReleaseWhenReady(*registry_, *policies_->Current(), *tenants_, model, "req-0", "test");
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(unchanged->stage, Stage::kPending);

  Result<crypto::DsseEnvelope> manifest = crypto::DsseEnvelope::FromJson(model.manifest);
  ASSERT_TRUE(manifest.ok());
  const std::string sig = risk_key_.Sign(crypto::Pae(manifest->payload_type, manifest->payload));
  registry::Actor risk;
  risk.tenant_id = "risk";
  Result<ArtifactRecord> signed_model = registry_->AddSignature(
      model.spec.name, model.spec.version, risk_key_.public_key(), sig, "publisher", "risk", risk, {});
  ASSERT_TRUE(signed_model.ok()) << signed_model.status().message();
  Result<ArtifactRecord> released = ReleaseWhenReady(*registry_, *policies_->Current(), *tenants_,
                                                     *signed_model, "req-1", "signed by risk");
  ASSERT_TRUE(released.ok()) << released.status().message();
  EXPECT_EQ(released->stage, Stage::kReleased);
  EXPECT_EQ(Model().stage, Stage::kReleased);
}

// A worker that died mid-job (its lease runs out): another worker takes the job, and it
// completes exactly once with one report; the dead worker's late calls change nothing.
TEST_F(ValidationWorkerTest, DeadWorkersJobCompletesOnce) {
  Open(PolicyText("0.95", 1));
  PushDigits();
  Result<std::optional<JobRecord>> dead =
      registry_->ClaimJob("test/dead-worker", {"cpu"}, std::chrono::seconds(1));
  ASSERT_TRUE(dead.ok() && dead->has_value());
  auto pool = Pool();
  // While the lease holds, nobody else takes the job.
  Result<bool> early = pool->RunOnce("test/worker-2");
  ASSERT_TRUE(early.ok());
  EXPECT_FALSE(*early);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  Result<bool> ran = pool->RunOnce("test/worker-2");
  ASSERT_TRUE(ran.ok()) << ran.status().message();
  ASSERT_TRUE(*ran);
  JobRecord job = Job();
  EXPECT_EQ(job.state, JobState::kSucceeded) << job.error;
  EXPECT_EQ(job.attempt, 2);
  EXPECT_EQ(job.worker, "test/worker-2");
  EXPECT_EQ(Model().stage, Stage::kReleased);

  // The dead worker wakes up: its heartbeat and its completion are refused.
  Result<JobRecord> beat = registry_->Heartbeat(**dead, 0.5, "quality", std::chrono::seconds(30));
  EXPECT_EQ(beat.status().code(), StatusCode::kAborted);
  registry::Registry::JobOutcome late;
  late.state = JobState::kFailed;
  late.error = "late";
  registry::Actor system;
  system.system_actor = "validation";
  Result<JobRecord> completed = registry_->CompleteJob(**dead, late, system, {});
  EXPECT_EQ(completed.status().code(), StatusCode::kAborted);
  EXPECT_EQ(Job().state, JobState::kSucceeded);
  EXPECT_EQ(Reports().size(), 1u);
  // And no job is left for anyone.
  EXPECT_FALSE(*pool->RunOnce("test/worker-3"));
}

// The pool's own threads run a queued job to its end.
TEST_F(ValidationWorkerTest, PoolThreadsRunQueuedJobs) {
  Open(PolicyText("0.95", 1));
  PushDigits();
  auto pool = Pool();
  ASSERT_TRUE(pool->Start().ok());
  for (int i = 0; i < 600 && Job().state != JobState::kSucceeded; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  pool->Stop();
  EXPECT_EQ(Job().state, JobState::kSucceeded);
  EXPECT_EQ(Model().stage, Stage::kReleased);
}

// A job queued in this process wakes an idle worker at once: with an hour between polls, the
// job still runs within the test's time because the registry's listener calls Wake.
TEST_F(ValidationWorkerTest, QueueingWakesAnIdleWorker) {
  Open(PolicyText("0.95", 1));
  auto pool = Pool(std::chrono::hours(1));
  ASSERT_TRUE(pool->Start().ok());
  registry_->SetJobQueuedListener([p = pool.get()] { p->Wake(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the worker is idle by now
  PushDigits();
  for (int i = 0; i < 600 && Job().state != JobState::kSucceeded; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  registry_->SetJobQueuedListener({});
  pool->Stop();
  EXPECT_EQ(Job().state, JobState::kSucceeded);
  EXPECT_EQ(Model().stage, Stage::kReleased);
}

// A model that does not load: the job fails and the model is rejected with the error.
TEST_F(ValidationWorkerTest, ModelThatDoesNotLoadIsRejected) {
  Open(PolicyText("0.95", 1));
  PushDigits("this is not a safetensors file");
  auto pool = Pool();
  ASSERT_TRUE(*pool->RunOnce("test/worker-1"));
  const JobRecord job = Job();
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_THAT(job.error, HasSubstr("does not load"));
  const ArtifactRecord model = Model();
  EXPECT_EQ(model.stage, Stage::kRejected);
  EXPECT_THAT(model.history.back().reason, HasSubstr("does not load"));
  EXPECT_TRUE(Reports().empty());
}

// Reading is decided by the policy for the model's owner: denied, the job fails naming why.
TEST_F(ValidationWorkerTest, FetchDeniedFailsTheJob) {
  Open(PolicyText("0.95", 1, /*fetch_allowed=*/false));
  PushDigits();
  auto pool = Pool();
  ASSERT_TRUE(*pool->RunOnce("test/worker-1"));
  const JobRecord job = Job();
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_THAT(job.error, HasSubstr("artifact.fetch of acme/digits@1.0.0 for acme denied"));
  EXPECT_EQ(Model().stage, Stage::kRejected);
}

// A gate naming a dataset that does not exist fails the job with the requirement's file:line.
TEST_F(ValidationWorkerTest, MissingDatasetIsNamed) {
  Open(PolicyText("0.95", 1));
  Result<ArtifactRecord> model =
      Push(registry::Kind::kModel, "acme/digits", "1.0.0", Fixture("digits-mlp.safetensors"));
  ASSERT_TRUE(model.ok());
  Result<std::vector<ValidationDataset>> datasets =
      ResolveValidationDatasets(*registry_, *policies_->Current(), *model);
  ASSERT_FALSE(datasets.ok());
  EXPECT_EQ(datasets.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(datasets.status().message(), HasSubstr("digits-test@^1.0.0 (policy.yaml:7)"));
  // The highest version in range is chosen; one out of range is not.
  ASSERT_TRUE(Push(registry::Kind::kDataset, "acme/digits-test", "1.0.0",
                   Fixture("digits-test.safetensors")).ok());
  ASSERT_TRUE(Push(registry::Kind::kDataset, "acme/digits-test", "1.2.0",
                   Fixture("digits-test.safetensors")).ok());
  ASSERT_TRUE(Push(registry::Kind::kDataset, "acme/digits-test", "2.0.0",
                   Fixture("digits-test.safetensors")).ok());
  datasets = ResolveValidationDatasets(*registry_, *policies_->Current(), *model);
  ASSERT_TRUE(datasets.ok()) << datasets.status().message();
  ASSERT_EQ(datasets->size(), 1u);
  EXPECT_EQ((*datasets)[0].record.spec.version, "1.2.0");
}

// Models left VALIDATING without a live job get one again.
TEST_F(ValidationWorkerTest, OrphansAreQueuedAgain) {
  Open(PolicyText("0.95", 1));
  PushDigits();
  // The job disappears from the queue behind the model's back (as after a crash between
  // commits of an older version).
  JobRecord gone = Job();
  gone.state = JobState::kFailed;
  gone.error = "lost";
  registry::WriteBatch batch;
  batch.Add(registry::mutation::UpdateJob{gone});
  ASSERT_TRUE(store_->Commit(std::move(batch)).ok());
  ASSERT_EQ(Model().stage, Stage::kValidating);
  auto pool = Pool();
  Result<int> requeued = pool->RequeueOrphans();
  ASSERT_TRUE(requeued.ok()) << requeued.status().message();
  EXPECT_EQ(*requeued, 1);
  EXPECT_EQ(*pool->RequeueOrphans(), 0);
  ASSERT_TRUE(*pool->RunOnce("test/worker-1"));
  EXPECT_EQ(Model().stage, Stage::kReleased);
}

}  // namespace
}  // namespace sov::gateway
