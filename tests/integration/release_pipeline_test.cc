// The release pipeline end to end with the real binaries: a dataset and a model trained on it
// are pushed with sovctl, sovd's validation worker (CPU backend) benchmarks the model on the
// holdout the release gate names, signs a report and releases it, and a tenant service fetches
// it; a model below another gate's accuracy threshold is rejected and `sovctl status` shows the
// failed condition with its policy FILE:LINE; sovd killed with SIGKILL mid-validation finishes
// the job after a restart exactly once (one report, attempt 2); a model whose gate needs two
// signatures waits in PENDING until `sovctl sign` adds the second; `sovctl eval report` verifies
// the report with the registry key; and EvaluationService hides what the caller may not see.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sov/v1/evaluation.grpc.pb.h"
#include "tests/integration/registry_client.h"
#include "tests/testing/process.h"
#include "tests/testing/temp_dir.h"

namespace sov {
namespace {

using sov::testing::Describe;
using ::testing::HasSubstr;
using ::testing::Not;
using nlohmann::json;

constexpr std::chrono::seconds kValidationTimeout{15};

// The test policy: the dev tenants (acme-ml pushes and owns, partner-us is a tenant service),
// one gate for every model (accuracy >= 0.95 on the holdout), a stricter one for models named
// *-strict, and a two-signature one for models named *-signed.
constexpr const char* kPolicy = R"yaml(version: 1
name: release-pipeline-test
residency:
  internal:
    store_in: [DE, FR]
    transfer_to: ["*"]
purposes:
  fraud-detection:
    lawful_basis: legitimate-interests
release_gates:
  - id: digits-holdout
    applies_when: "artifact.kind == 'model' && !artifact.name.endsWith('-strict')"
    benchmarks: [accuracy]
    validation_datasets: ["acme-ml/digits/holdout@^1.0.0"]
    require:
      - eval.accuracy >= 0.95
    signatures:
      threshold: 1
      signers: [registry]
  - id: digits-strict
    applies_when: "artifact.kind == 'model' && artifact.name.endsWith('-strict')"
    benchmarks: [accuracy]
    validation_datasets: ["acme-ml/digits/holdout@^1.0.0"]
    require:
      - eval.accuracy >= 0.99
  - id: two-signers
    applies_when: "artifact.kind == 'model' && artifact.name.endsWith('-signed')"
    require:
      - eval.accuracy >= 0.90
    signatures:
      threshold: 2
      signers: [registry, acme-ml]
rules:
  - id: ml-engineers-push
    effect: allow
    actions: [artifact.push]
    principals: {roles: [ml-engineer]}
    when: artifact.purposes.all(p, p in principal.purposes)
    reason: ML engineers push for their own purposes.
  - id: owners-manage-own
    effect: allow
    actions: [artifact.get, artifact.list, artifact.fetch, artifact.lineage, artifact.sign,
              artifact.revoke, validation.start, validation.read, validation.cancel]
    principals: {roles: [ml-engineer]}
    when: artifact.owner_tenant == principal.tenant_id
    reason: ML teams manage and validate their own artifacts.
  - id: release-by-gate
    effect: allow
    actions: [artifact.release]
    principals: {roles: [ml-engineer]}
    when: request.gates_passed == "true" && artifact.owner_tenant == principal.tenant_id
    reason: Owners release once the gates pass.
  - id: tenants-see-and-fetch-released
    effect: allow
    actions: [artifact.get, artifact.list, artifact.fetch]
    principals: {roles: [tenant-service]}
    when: artifact.stage == "released" && artifact.purposes.exists(p, p in principal.purposes)
    reason: Tenant services fetch released artifacts of their purposes.
  - id: everyone-reads-keys
    effect: allow
    actions: [keys.read, quota.read, identity.whoami]
    principals: {tenants: ["*"]}
    reason: Anyone reads the signing keys.
  - id: compliance-revokes-keys
    effect: allow
    actions: [keys.revoke]
    principals: {roles: [compliance-officer]}
    reason: Compliance officers revoke publisher keys.
)yaml";

// The 1-based line of the first line of kPolicy that contains `text`.
int PolicyLine(const std::string& text) {
  std::istringstream in(kPolicy);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find(text) != std::string::npos) return n;
  }
  ADD_FAILURE() << "the test policy has no line with " << text;
  return 0;
}

class ReleasePipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sovctl_ = sov::testing::BuildPath("cli/sovctl");
    ASSERT_EQ(::access(sovctl_.c_str(), X_OK), 0) << "sovctl is not built at " << sovctl_;
    model_file_ = sov::testing::SourcePath("tests/gpu-eval/fixtures/digits-mlp.safetensors");
    dataset_file_ = sov::testing::SourcePath("tests/gpu-eval/fixtures/digits-test.safetensors");
    ASSERT_TRUE(std::filesystem::exists(model_file_)) << model_file_;
    sov::testing::WriteTextFile(gateway_.File("policy.yaml"), kPolicy);
    // The CPU backend, and a short lease so that a job whose sovd was killed is taken again
    // within the test's time.
    std::string config = sov::testing::ReadTextFile(gateway_.File("sovd.yaml"));
    config += "validation:\n  workers: 1\n  backend: cpu\n  lease: 5s\n";
    sov::testing::WriteTextFile(gateway_.File("sovd.yaml"), config);
    Start();
  }

  void Start() {
    std::string error;
    ASSERT_TRUE(gateway_.Start(&error)) << error;
    client_ = gateway_.Client("acme-ml");
    tenant_ = gateway_.Client("partner-us");
    eval_ = EvalStub("acme-ml");
    tenant_eval_ = EvalStub("partner-us");
  }

  // Kills sovd with SIGKILL; the clients are reconnected by Start.
  void Kill() {
    eval_.reset();
    tenant_eval_.reset();
    client_.reset();
    tenant_.reset();
    ASSERT_TRUE(gateway_.Kill());
  }

  std::unique_ptr<v1::EvaluationService::Stub> EvalStub(const std::string& tenant) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = sov::testing::ReadTextFile(gateway_.File("ca.pem"));
    tls.pem_cert_chain = sov::testing::ReadTextFile(gateway_.File("clients/" + tenant + ".pem"));
    tls.pem_private_key = sov::testing::ReadTextFile(gateway_.File("clients/" + tenant + ".key"));
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(16 << 20);
    return v1::EvaluationService::NewStub(
        grpc::CreateCustomChannel(gateway_.address(), grpc::SslCredentials(tls), args));
  }

  static void Prepare(grpc::ClientContext& context) {
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  }

  sov::testing::ProcessResult Sovctl(std::vector<std::string> args) {
    args.insert(args.begin(), sovctl_);
    sov::testing::Environment env = sov::testing::MinimalEnvironment();
    env["SOV_CONFIG"] = gateway_.File("sovctl.yaml");
    return sov::testing::RunProcess(args, env, std::chrono::seconds(30));
  }

  // Pushes the holdout (and a training set, the same rows under another name) with sovctl.
  void PushDatasets() {
    for (const char* name : {"acme-ml/digits/train", "acme-ml/digits/holdout"}) {
      auto pushed = Sovctl({"push", dataset_file_, "--kind", "dataset", "--name", name,
                            "--version", "1.0.0", "--classification", "internal", "--purpose",
                            "fraud-detection", "--no-progress"});
      ASSERT_EQ(pushed.exit_code, 0) << pushed.out << pushed.err;
    }
  }

  void PushModel(const std::string& name, const std::string& version) {
    auto pushed = Sovctl({"push", model_file_, "--kind", "model", "--name", name, "--version",
                          version, "--classification", "internal", "--purpose", "fraud-detection",
                          "--trained-on", "acme-ml/digits/train@1.0.0", "--no-progress"});
    ASSERT_EQ(pushed.exit_code, 0) << pushed.out << pushed.err;
  }

  // Waits until name@version has `stage`; returns the record (the last one read on timeout).
  v1::Artifact WaitForStage(const std::string& name, const std::string& version, v1::Stage stage,
                            std::chrono::seconds timeout = kValidationTimeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    v1::GetArtifactResponse got;
    while (std::chrono::steady_clock::now() < deadline) {
      grpc::Status st = client_->Get(name, version, &got);
      if (st.ok() && got.artifact().stage() == stage) return got.artifact();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << name << "@" << version << " did not reach " << v1::Stage_Name(stage)
                  << " in " << timeout.count() << " s; it is "
                  << v1::Stage_Name(got.artifact().stage()) << "\nsovd log:\n"
                  << gateway_.sovd()->Stderr();
    return got.artifact();
  }

  std::vector<v1::ValidationJob> Jobs(const std::string& name, const std::string& version) {
    grpc::ClientContext context;
    Prepare(context);
    v1::ListValidationJobsRequest request;
    request.mutable_model()->set_name(name);
    request.mutable_model()->set_version(version);
    v1::ListValidationJobsResponse response;
    grpc::Status st = eval_->ListValidationJobs(&context, request, &response);
    EXPECT_TRUE(st.ok()) << Describe(st);
    return {response.jobs().begin(), response.jobs().end()};
  }

  // The report artifacts of a model, all stages.
  int ReportCount(const std::string& model_name) {
    v1::ListArtifactsRequest request;
    request.set_kind(v1::ARTIFACT_KIND_REPORT);
    request.set_name_prefix(model_name + "/evaluation");
    for (int s = v1::STAGE_PENDING; s <= v1::STAGE_ERASED; ++s) {
      request.add_stages(static_cast<v1::Stage>(s));
    }
    v1::ListArtifactsResponse response;
    grpc::Status st = client_->List(request, &response);
    EXPECT_TRUE(st.ok()) << Describe(st);
    int count = 0;
    for (const v1::Artifact& a : response.artifacts()) {
      if (a.name() == model_name + "/evaluation") ++count;
    }
    return count;
  }

  std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  sov::testing::DevGateway gateway_;
  std::string sovctl_;
  std::string model_file_;
  std::string dataset_file_;
  std::unique_ptr<sov::testing::RegistryClient> client_;
  std::unique_ptr<sov::testing::RegistryClient> tenant_;
  std::unique_ptr<v1::EvaluationService::Stub> eval_;
  std::unique_ptr<v1::EvaluationService::Stub> tenant_eval_;
};

TEST_F(ReleasePipelineTest, ValidatedModelIsReleasedAndFetchedByATenant) {
  PushDatasets();
  PushModel("acme-ml/digits/mlp", "1.0.0");
  v1::Artifact model = WaitForStage("acme-ml/digits/mlp", "1.0.0", v1::STAGE_RELEASED);
  ASSERT_EQ(model.stage(), v1::STAGE_RELEASED);

  // The tenant service fetches exactly the pushed bytes.
  sov::testing::FetchResult fetched = tenant_->Fetch("acme-ml/digits/mlp", "1.0.0");
  ASSERT_TRUE(fetched.status.ok()) << Describe(fetched.status);
  EXPECT_EQ(fetched.bytes, ReadFile(model_file_));

  std::vector<v1::ValidationJob> jobs = Jobs("acme-ml/digits/mlp", "1.0.0");
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(jobs[0].attempt(), 1);
  EXPECT_EQ(jobs[0].backend(), v1::BACKEND_CPU);
  EXPECT_EQ(jobs[0].outcome_stage(), v1::STAGE_RELEASED);

  // The report over gRPC: parsed, and the accuracy on the holdout is 436/450.
  grpc::ClientContext context;
  Prepare(context);
  v1::GetReportRequest request;
  request.mutable_model()->set_name("acme-ml/digits/mlp");
  request.mutable_model()->set_version("1.0.0");
  v1::GetReportResponse report;
  grpc::Status st = eval_->GetReport(&context, request, &report);
  ASSERT_TRUE(st.ok()) << Describe(st);
  EXPECT_EQ(report.report_ref().name(), "acme-ml/digits/mlp/evaluation");
  EXPECT_EQ(report.report_ref().name(), jobs[0].report().name());
  EXPECT_EQ(report.report().model().digest(), model.digest());
  EXPECT_EQ(report.report().job_id(), jobs[0].job_id());
  bool holdout = false;
  for (const v1::DatasetEvaluation& d : report.report().datasets()) {
    if (d.dataset().name() != "acme-ml/digits/holdout") continue;
    holdout = true;
    EXPECT_EQ(d.num_samples(), 450);
    EXPECT_NEAR(d.quality().accuracy(), 436.0 / 450.0, 1e-12);
  }
  EXPECT_TRUE(holdout) << report.report().DebugString();
  ASSERT_GT(report.report().gate_results_size(), 0);
  EXPECT_EQ(report.envelope().payload_type(), "application/vnd.in-toto+json");

  // sovctl eval report verifies it with the registry key of sovctl.yaml and prints it.
  auto printed = Sovctl({"eval", "report", "acme-ml/digits/mlp@1.0.0", "-o",
                         gateway_.File("report.dsse.json")});
  ASSERT_EQ(printed.exit_code, 0) << printed.out << printed.err;
  EXPECT_THAT(printed.out, HasSubstr("verified:"));
  EXPECT_THAT(printed.out, HasSubstr("acme-ml/digits/holdout@1.0.0: accuracy 96.89%"));
  EXPECT_THAT(printed.out,
              HasSubstr("PASSED digits-holdout: eval.accuracy >= 0.95 (observed eval.accuracy = "));
  EXPECT_THAT(printed.out, HasSubstr("at policy.yaml:" + std::to_string(PolicyLine(
                                                             "eval.accuracy >= 0.95"))));
  EXPECT_THAT(printed.out, HasSubstr("release gates passed"));
  EXPECT_THAT(ReadFile(gateway_.File("report.dsse.json")), HasSubstr("\"payloadType\""));

  // With another registry key nothing of the report is shown.
  auto other_key = Sovctl({"keygen", "--out", gateway_.File("other")});
  ASSERT_EQ(other_key.exit_code, 0) << other_key.err;
  auto refused = Sovctl({"eval", "report", "acme-ml/digits/mlp@1.0.0", "--registry-key",
                         gateway_.File("other.pub")});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("failed: registry signature"));
  EXPECT_EQ(refused.out, "");

  // status puts it together.
  auto status = Sovctl({"status", "acme-ml/digits/mlp@1.0.0"});
  ASSERT_EQ(status.exit_code, 0) << status.out << status.err;
  EXPECT_THAT(status.out, HasSubstr("stage:"));
  EXPECT_THAT(status.out, HasSubstr("released"));
  EXPECT_THAT(status.out, HasSubstr(jobs[0].job_id() + " succeeded (attempt 1, cpu) -> released"));
  EXPECT_THAT(status.out, HasSubstr("accuracy 96.89%"));

  auto listed = Sovctl({"eval", "jobs", "acme-ml/digits/mlp"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr(jobs[0].job_id()));
  EXPECT_THAT(listed.out, HasSubstr("succeeded"));
}

TEST_F(ReleasePipelineTest, ModelBelowTheGateIsRejectedWithTheReason) {
  PushDatasets();
  PushModel("acme-ml/digits/mlp-strict", "1.0.0");
  v1::Artifact model = WaitForStage("acme-ml/digits/mlp-strict", "1.0.0", v1::STAGE_REJECTED);
  ASSERT_EQ(model.stage(), v1::STAGE_REJECTED);
  const std::string where = "policy.yaml:" + std::to_string(PolicyLine("eval.accuracy >= 0.99"));

  auto status = Sovctl({"status", "acme-ml/digits/mlp-strict@1.0.0"});
  ASSERT_EQ(status.exit_code, 0) << status.out << status.err;
  EXPECT_THAT(status.out, HasSubstr("rejected"));
  EXPECT_THAT(status.out, HasSubstr("eval.accuracy >= 0.99"));
  EXPECT_THAT(status.out, HasSubstr(where));
  EXPECT_THAT(status.out, HasSubstr("FAILED digits-strict: eval.accuracy >= 0.99 (observed "
                                    "eval.accuracy = 0.9688"));
  EXPECT_THAT(status.out, HasSubstr("release gates failed"));

  auto json_status = Sovctl({"status", "acme-ml/digits/mlp-strict@1.0.0", "--output", "json"});
  ASSERT_EQ(json_status.exit_code, 0) << json_status.err;
  json doc = json::parse(json_status.out);
  EXPECT_EQ(doc["stage"], "rejected");
  EXPECT_THAT(doc["reason"].get<std::string>(), HasSubstr("eval.accuracy >= 0.99"));
  EXPECT_EQ(doc["report"]["verified"], true);
  EXPECT_EQ(doc["report"]["summary"]["passed"], false);

  // The tenant service never gets it.
  sov::testing::FetchResult fetched = tenant_->Fetch("acme-ml/digits/mlp-strict", "1.0.0");
  EXPECT_FALSE(fetched.status.ok());
  EXPECT_TRUE(fetched.bytes.empty());
}

TEST_F(ReleasePipelineTest, KilledDuringValidationTheJobCompletesOnceAfterRestart) {
  PushDatasets();
  PushModel("acme-ml/digits/mlp", "2.0.0");
  // Kill sovd while the worker runs the benchmarks (they take over a second: the latency
  // phase alone measures at least 0.5 s per batch size).
  const auto deadline = std::chrono::steady_clock::now() + kValidationTimeout;
  bool running = false;
  while (!running && std::chrono::steady_clock::now() < deadline) {
    for (const v1::ValidationJob& job : Jobs("acme-ml/digits/mlp", "2.0.0")) {
      if (job.state() == v1::JOB_STATE_RUNNING && job.phase() != "loading model") running = true;
      ASSERT_NE(job.state(), v1::JOB_STATE_SUCCEEDED) << "the job finished before the kill";
    }
    if (!running) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(running) << "the job never ran\n" << gateway_.sovd()->Stderr();
  Kill();
  Start();

  v1::Artifact model = WaitForStage("acme-ml/digits/mlp", "2.0.0", v1::STAGE_RELEASED);
  ASSERT_EQ(model.stage(), v1::STAGE_RELEASED);
  std::vector<v1::ValidationJob> jobs = Jobs("acme-ml/digits/mlp", "2.0.0");
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(jobs[0].attempt(), 2);
  // Exactly one report: the killed attempt left none behind.
  EXPECT_EQ(ReportCount("acme-ml/digits/mlp"), 1);
  // And the model went to RELEASED once.
  int releases = 0;
  for (const v1::StageChange& change : model.history()) {
    if (change.to_stage() == v1::STAGE_RELEASED) ++releases;
  }
  EXPECT_EQ(releases, 1);
}

TEST_F(ReleasePipelineTest, SecondSignatureReleasesAPendingModel) {
  PushDatasets();
  PushModel("acme-ml/digits/mlp-signed", "1.0.0");
  // Validation passes the conditions; the model waits for the second signer.
  const auto deadline = std::chrono::steady_clock::now() + kValidationTimeout;
  std::vector<v1::ValidationJob> jobs;
  while (std::chrono::steady_clock::now() < deadline) {
    jobs = Jobs("acme-ml/digits/mlp-signed", "1.0.0");
    if (!jobs.empty() && jobs[0].state() == v1::JOB_STATE_SUCCEEDED) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(jobs.empty());
  ASSERT_EQ(jobs[0].state(), v1::JOB_STATE_SUCCEEDED) << gateway_.sovd()->Stderr();
  EXPECT_EQ(jobs[0].outcome_stage(), v1::STAGE_PENDING);
  v1::GetArtifactResponse got;
  ASSERT_TRUE(client_->Get("acme-ml/digits/mlp-signed", "1.0.0", &got).ok());
  EXPECT_EQ(got.artifact().stage(), v1::STAGE_PENDING);

  auto waiting = Sovctl({"status", "acme-ml/digits/mlp-signed@1.0.0"});
  ASSERT_EQ(waiting.exit_code, 0) << waiting.err;
  EXPECT_THAT(waiting.out, HasSubstr("pending"));
  EXPECT_THAT(waiting.out, HasSubstr("waiting signatures"));

  auto signed_run = Sovctl({"sign", "acme-ml/digits/mlp-signed@1.0.0", "--key",
                            gateway_.File("clients/acme-ml.publisher.key")});
  ASSERT_EQ(signed_run.exit_code, 0) << signed_run.out << signed_run.err;
  v1::Artifact model = WaitForStage("acme-ml/digits/mlp-signed", "1.0.0", v1::STAGE_RELEASED,
                                    std::chrono::seconds(5));
  EXPECT_EQ(model.stage(), v1::STAGE_RELEASED);
  auto released = Sovctl({"status", "acme-ml/digits/mlp-signed@1.0.0"});
  EXPECT_THAT(released.out, HasSubstr("released"));
  EXPECT_THAT(released.out, Not(HasSubstr("waiting")));
  ASSERT_TRUE(tenant_->Fetch("acme-ml/digits/mlp-signed", "1.0.0").status.ok());

  // Revoking acme-ml's publisher key takes back what only that key's signature released: the
  // model drops below its threshold and is revoked at once; the tenant's next fetch fails.
  std::unique_ptr<sov::testing::RegistryClient> compliance = gateway_.Client("compliance");
  std::string keyid;
  {
    grpc::ClientContext context;
    Prepare(context);
    v1::ListSigningKeysRequest request;
    request.set_owner("acme-ml");
    v1::ListSigningKeysResponse response;
    grpc::Status st = compliance->registry().ListSigningKeys(&context, request, &response);
    ASSERT_TRUE(st.ok()) << Describe(st);
    for (const v1::SigningKey& key : response.keys()) {
      if (key.role() == v1::SIGNER_ROLE_PUBLISHER && key.owner() == "acme-ml") keyid = key.keyid();
    }
    ASSERT_FALSE(keyid.empty()) << "acme-ml has no publisher key listed";
  }
  {
    // The ML team itself may not revoke keys.
    grpc::ClientContext context;
    Prepare(context);
    v1::RevokeSigningKeyRequest request;
    request.set_keyid(keyid);
    request.set_reason("leaked");
    v1::RevokeSigningKeyResponse response;
    EXPECT_EQ(client_->registry().RevokeSigningKey(&context, request, &response).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  grpc::ClientContext context;
  Prepare(context);
  v1::RevokeSigningKeyRequest request;
  request.set_keyid(keyid);
  request.set_reason("the key file was copied to a laptop that was stolen");
  v1::RevokeSigningKeyResponse response;
  grpc::Status st = compliance->registry().RevokeSigningKey(&context, request, &response);
  ASSERT_TRUE(st.ok()) << Describe(st) << "\nsovd log:\n" << gateway_.sovd()->Stderr();
  EXPECT_EQ(response.key().state(), v1::KEY_STATE_REVOKED);
  ASSERT_EQ(response.revoked_artifacts_size(), 1);
  EXPECT_EQ(response.revoked_artifacts(0).name(), "acme-ml/digits/mlp-signed");
  EXPECT_EQ(response.revoked_artifacts(0).version(), "1.0.0");
  v1::GetArtifactResponse after;
  ASSERT_TRUE(client_->Get("acme-ml/digits/mlp-signed", "1.0.0", &after).ok());
  EXPECT_EQ(after.artifact().stage(), v1::STAGE_REVOKED);
  EXPECT_FALSE(tenant_->Fetch("acme-ml/digits/mlp-signed", "1.0.0").status.ok());
}

TEST_F(ReleasePipelineTest, EvaluationServiceHidesWhatTheCallerMayNotSee) {
  PushDatasets();
  PushModel("acme-ml/digits/mlp-strict", "1.0.0");
  WaitForStage("acme-ml/digits/mlp-strict", "1.0.0", v1::STAGE_REJECTED);
  std::vector<v1::ValidationJob> jobs = Jobs("acme-ml/digits/mlp-strict", "1.0.0");
  ASSERT_EQ(jobs.size(), 1u);

  // partner-us may not see the rejected model: its job and report are NOT_FOUND, word for word
  // as ones that do not exist.
  {
    grpc::ClientContext a, b;
    Prepare(a);
    Prepare(b);
    v1::GetValidationJobRequest hidden, absent;
    hidden.set_job_id(jobs[0].job_id());
    absent.set_job_id("no-such-job");
    v1::GetValidationJobResponse out;
    grpc::Status h = tenant_eval_->GetValidationJob(&a, hidden, &out);
    grpc::Status n = tenant_eval_->GetValidationJob(&b, absent, &out);
    EXPECT_EQ(h.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(n.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(h.error_message(), "validation job " + jobs[0].job_id() + " not found");
    EXPECT_EQ(n.error_message(), "validation job no-such-job not found");
  }
  {
    grpc::ClientContext a, b;
    Prepare(a);
    Prepare(b);
    v1::GetReportRequest hidden, absent;
    hidden.mutable_model()->set_name("acme-ml/digits/mlp-strict");
    hidden.mutable_model()->set_version("1.0.0");
    absent.mutable_model()->set_name("acme-ml/digits/nothing");
    absent.mutable_model()->set_version("1.0.0");
    v1::GetReportResponse out;
    grpc::Status h = tenant_eval_->GetReport(&a, hidden, &out);
    grpc::Status n = tenant_eval_->GetReport(&b, absent, &out);
    EXPECT_EQ(h.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(h.error_message(), "artifact acme-ml/digits/mlp-strict@1.0.0 not found");
    EXPECT_EQ(n.error_message(), "artifact acme-ml/digits/nothing@1.0.0 not found");
  }
  {
    // The listing leaves the hidden job out.
    grpc::ClientContext context;
    Prepare(context);
    v1::ListValidationJobsRequest request;
    v1::ListValidationJobsResponse response;
    ASSERT_TRUE(tenant_eval_->ListValidationJobs(&context, request, &response).ok());
    EXPECT_EQ(response.jobs_size(), 0);
  }
  // The owner may not re-validate a rejected model for release, only write another report.
  {
    grpc::ClientContext context;
    Prepare(context);
    v1::StartValidationRequest request;
    request.mutable_model()->set_name("acme-ml/digits/mlp-strict");
    request.mutable_model()->set_version("1.0.0");
    v1::StartValidationResponse response;
    grpc::Status st = eval_->StartValidation(&context, request, &response);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_THAT(st.error_message(), HasSubstr("is rejected"));
  }
  auto started = Sovctl({"eval", "start", "acme-ml/digits/mlp-strict@1.0.0", "--report-only",
                         "--backend", "cpu", "--wait", "--wait-seconds", "15"});
  ASSERT_EQ(started.exit_code, 0) << started.out << started.err;
  EXPECT_THAT(started.out, HasSubstr("succeeded"));
  EXPECT_THAT(started.out, HasSubstr("report only"));
  EXPECT_EQ(ReportCount("acme-ml/digits/mlp-strict"), 2);
  v1::GetArtifactResponse got;
  ASSERT_TRUE(client_->Get("acme-ml/digits/mlp-strict", "1.0.0", &got).ok());
  EXPECT_EQ(got.artifact().stage(), v1::STAGE_REJECTED);

  // Pages of one job each, followed to the end; a token is refused with other filters.
  std::vector<std::string> seen;
  v1::ListValidationJobsRequest request;
  request.mutable_model()->set_name("acme-ml/digits/mlp-strict");
  request.set_page_size(1);
  for (;;) {
    grpc::ClientContext context;
    Prepare(context);
    v1::ListValidationJobsResponse response;
    grpc::Status st = eval_->ListValidationJobs(&context, request, &response);
    ASSERT_TRUE(st.ok()) << Describe(st);
    for (const v1::ValidationJob& job : response.jobs()) seen.push_back(job.job_id());
    if (response.next_page_token().empty()) break;
    ASSERT_LT(seen.size(), 5u);
    v1::ListValidationJobsRequest other = request;
    other.mutable_model()->set_name("acme-ml/digits/mlp");
    other.set_page_token(response.next_page_token());
    grpc::ClientContext bad;
    Prepare(bad);
    v1::ListValidationJobsResponse ignored;
    EXPECT_EQ(eval_->ListValidationJobs(&bad, other, &ignored).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    request.set_page_token(response.next_page_token());
  }
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_NE(seen[0], seen[1]);
  EXPECT_EQ(seen[1], jobs[0].job_id());  // newest first
}

// A gateway that runs no validation of its own (`workers: 0`, `external_workers: true`) and a
// separate `sovd eval-worker` process on the same data directory: the eval-worker takes the job
// the push queued, writes the report and releases the model, the gateway (whose artifact cache is
// off) shows the new stage at once, and SIGTERM stops the eval-worker with exit 0. The
// eval-worker polls only once an hour here: it finds the job because the gateway raised the
// queue signal (gateway/queue_signal.h) when the push queued it.
TEST_F(ReleasePipelineTest, EvalWorkerProcessValidatesForAGatewayWithoutWorkers) {
  ASSERT_TRUE(gateway_.Stop()) << gateway_.sovd()->Stderr();
  const std::string config_file = gateway_.File("sovd.yaml");
  std::string config = sov::testing::ReadTextFile(config_file);
  const std::string ours = "validation:\n  workers: 1\n";
  const size_t at = config.find(ours);
  ASSERT_NE(at, std::string::npos) << config;
  config.replace(at, ours.size(),
                 "validation:\n  workers: 0\n  external_workers: true\n  poll_interval: 1h\n");
  sov::testing::WriteTextFile(config_file, config);
  Start();

  const std::string log_file = gateway_.File("eval-worker.log");
  const std::string sovd = sov::testing::BuildPath("gateway/sovd");
  const pid_t worker = ::fork();
  ASSERT_GE(worker, 0);
  if (worker == 0) {
    const int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execl(sovd.c_str(), sovd.c_str(), "eval-worker", "--config", config_file.c_str(),
            "--workers", "1", "--backend", "cpu", "--no-policy-watch",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      if (pid > 0 && ::waitpid(pid, nullptr, WNOHANG) == 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
  } reaper{worker};
  // Its workers made their first look for a job and wait on the signal and the hour's poll.
  const auto started_by = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (ReadFile(log_file).find("sovd eval-worker running") == std::string::npos &&
         std::chrono::steady_clock::now() < started_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_NE(ReadFile(log_file).find("sovd eval-worker running"), std::string::npos)
      << ReadFile(log_file);

  PushDatasets();
  PushModel("acme-ml/digits/mlp-remote", "1.0.0");
  v1::Artifact model = WaitForStage("acme-ml/digits/mlp-remote", "1.0.0", v1::STAGE_RELEASED);
  EXPECT_EQ(model.stage(), v1::STAGE_RELEASED) << "eval-worker log:\n" << ReadFile(log_file);
  std::vector<v1::ValidationJob> jobs = Jobs("acme-ml/digits/mlp-remote", "1.0.0");
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_THAT(jobs[0].worker(), HasSubstr("/eval-worker-" + std::to_string(worker)));
  EXPECT_EQ(ReportCount("acme-ml/digits/mlp-remote"), 1);
  EXPECT_THAT(ReadFile(log_file), HasSubstr("registry.db-queue"));  // the file it watched

  ASSERT_EQ(::kill(worker, SIGTERM), 0);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  pid_t done = 0;
  while ((done = ::waitpid(worker, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(done, worker) << "the eval-worker did not stop on SIGTERM";
  reaper.pid = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "status " << status << "\neval-worker log:\n" << ReadFile(log_file);
}

}  // namespace
}  // namespace sov
