// Shows what sovctl checks about validation without a gateway: a signed report verifies only
// with the registry key, as an evaluation statement about the model's digest, and its summary
// shows accuracy per dataset and each gate with FILE:LINE; and the built binary's `status` and
// `eval report|jobs|start` refuse bad arguments as usage errors (exit 2) before connecting and
// teach their output in --help.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/evaluation_output.h"
#include "cli/proto_interop.h"
#include "crypto/ed25519.h"
#include "crypto/intoto.h"
#include "crypto/sha256.h"
#include "tests/cli/sovctl_process.h"
#include "tests/cli/temp_dir.h"

namespace sov::cli {
namespace {

using nlohmann::json;
using ::sov::cli::testing::SovctlFixture;
using ::sov::cli::testing::SovctlRun;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const crypto::Digest kModelDigest = crypto::Sha256Of("model bytes");

json Predicate() {
  return {{"model",
           {{"name", "acme-ml/digits/mlp"}, {"version", "1.0.0"}, {"digest", kModelDigest.ToString()}}},
          {"job", {{"id", "job-7"}, {"attempt", 2}, {"backend", "cpu"}, {"worker", "w-1"}}},
          {"policyDigest", "sha256:dd"},
          {"createdAt", "2026-11-30T01:00:00Z"},
          {"datasets",
           json::array({{{"name", "acme-ml/digits/holdout"},
                         {"version", "1.0.0"},
                         {"digest", "sha256:bb"},
                         {"report",
                          {{"subject", {{"rows", 450}}},
                           {"quality", {{"accuracy", 436.0 / 450.0}, {"macroF1", 0.9692649549255133}}}}}}})},
          {"gates",
           json::array({{{"gate_id", "strict"},
                         {"condition", "eval.accuracy >= 0.99"},
                         {"location", "policy.yaml:31"},
                         {"outcome", "failed"},
                         {"observed", "eval.accuracy = 0.9689"},
                         {"error", "is false"}}})},
          {"passed", false}};
}

v1::GetReportResponse SignedReport(const crypto::Ed25519PrivateKey& key, const json& predicate,
                                   const crypto::Digest& subject = kModelDigest) {
  crypto::Statement statement;
  statement.subject.push_back(crypto::SubjectFor("acme-ml/digits/mlp", subject));
  statement.predicate_type = std::string(kEvaluationPredicateType);
  statement.predicate = predicate;
  v1::GetReportResponse response;
  *response.mutable_envelope() = ToProtoEnvelope(crypto::SignStatement(statement, key));
  response.mutable_report_ref()->set_name("acme-ml/digits/mlp/evaluation");
  response.mutable_report_ref()->set_version("1.0.0-eval.7");
  return response;
}

class ReportVerificationTest : public ::testing::Test {
 protected:
  crypto::Ed25519PrivateKey registry_ = crypto::Ed25519PrivateKey::Generate();
  crypto::Ed25519PrivateKey other_ = crypto::Ed25519PrivateKey::Generate();
};

TEST_F(ReportVerificationTest, SignedReportAboutTheModelVerifies) {
  ReportVerification v = VerifyReport(SignedReport(registry_, Predicate()),
                                      kModelDigest.ToString(), {registry_.public_key()});
  EXPECT_TRUE(v.ok()) << v.FirstFailure();
  ASSERT_TRUE(v.statement.has_value());
  EXPECT_EQ(v.registry_key_ids, std::vector<std::string>{registry_.public_key().KeyId()});
  // Without a digest to compare, the model the signed predicate names is the subject.
  EXPECT_TRUE(VerifyReport(SignedReport(registry_, Predicate()), "", {registry_.public_key()}).ok());
}

TEST_F(ReportVerificationTest, OtherKeyFailsAndShowsNothing) {
  ReportVerification v = VerifyReport(SignedReport(other_, Predicate()), kModelDigest.ToString(),
                                      {registry_.public_key()});
  EXPECT_FALSE(v.ok());
  EXPECT_THAT(v.FirstFailure(), StartsWith("registry signature: "));
  EXPECT_FALSE(v.statement.has_value());
}

TEST_F(ReportVerificationTest, EditedPayloadFails) {
  v1::GetReportResponse response = SignedReport(registry_, Predicate());
  std::string payload = response.envelope().payload();
  const size_t at = payload.find("0.96");
  ASSERT_NE(at, std::string::npos);
  payload.replace(at, 4, "0.99");
  response.mutable_envelope()->set_payload(payload);
  ReportVerification v = VerifyReport(response, kModelDigest.ToString(), {registry_.public_key()});
  EXPECT_FALSE(v.ok());
  EXPECT_THAT(v.FirstFailure(), StartsWith("registry signature: "));
}

TEST_F(ReportVerificationTest, ReportAboutAnotherModelFails) {
  ReportVerification v =
      VerifyReport(SignedReport(registry_, Predicate(), crypto::Sha256Of("other model")),
                   kModelDigest.ToString(), {registry_.public_key()});
  EXPECT_FALSE(v.ok());
  EXPECT_THAT(v.FirstFailure(), StartsWith("subject: the report is not about"));
}

TEST_F(ReportVerificationTest, ManifestIsNotAReport) {
  crypto::Statement statement;
  statement.subject.push_back(crypto::SubjectFor("acme-ml/digits/mlp", kModelDigest));
  statement.predicate_type = "https://sovereign.dev/attestations/manifest/v1";
  statement.predicate = {{"kind", "model"}};
  v1::GetReportResponse response;
  *response.mutable_envelope() = ToProtoEnvelope(crypto::SignStatement(statement, registry_));
  ReportVerification v = VerifyReport(response, kModelDigest.ToString(), {registry_.public_key()});
  EXPECT_FALSE(v.ok());
  EXPECT_THAT(v.FirstFailure(), HasSubstr("statement: predicate type is"));
}

TEST(ReportSummaryTest, ShowsAccuracyPerDatasetAndGatesWithTheirLocation) {
  v1::ArtifactRef ref;
  ref.set_name("acme-ml/digits/mlp/evaluation");
  ref.set_version("1.0.0-eval.7");
  const std::string text = FormatKeyValues(ReportSummary(ref, Predicate()));
  EXPECT_THAT(text, HasSubstr("acme-ml/digits/mlp/evaluation@1.0.0-eval.7"));
  EXPECT_THAT(text, HasSubstr("job-7 (attempt 2, cpu, worker w-1)"));
  EXPECT_THAT(text, HasSubstr("acme-ml/digits/holdout@1.0.0: accuracy 96.89%, macro-F1 0.9693, "
                              "450 samples"));
  EXPECT_THAT(text, HasSubstr("FAILED strict: eval.accuracy >= 0.99 (observed eval.accuracy = "
                              "0.9689): is false at policy.yaml:31"));
  EXPECT_THAT(text, HasSubstr("release gates failed"));

  nlohmann::ordered_json doc = ReportSummaryJson(ref, Predicate());
  EXPECT_EQ(doc["passed"], false);
  EXPECT_DOUBLE_EQ(doc["datasets"][0]["accuracy"].get<double>(), 436.0 / 450.0);
  EXPECT_EQ(doc["gates"][0]["location"]["line"], 31);
  EXPECT_EQ(doc["gates"][0]["outcome"], "GATE_OUTCOME_FAILED");
}

TEST(GateFromJsonTest, ParsesLocationsFromTheRight) {
  v1::GateResult gate = GateFromJson(
      {{"location", "/etc/sov:prod/policy.yaml:12:5"}, {"outcome", "error"}, {"dataset", "a/b@1.0.0"}});
  EXPECT_EQ(gate.location().file(), "/etc/sov:prod/policy.yaml");
  EXPECT_EQ(gate.location().line(), 12);
  EXPECT_EQ(gate.location().column(), 5);
  EXPECT_EQ(gate.outcome(), v1::GATE_OUTCOME_ERROR);
  EXPECT_EQ(gate.dataset().name(), "a/b");
  EXPECT_EQ(gate.dataset().version(), "1.0.0");
}

TEST(JobOutputTest, RowAndStateText) {
  v1::ValidationJob job;
  job.set_job_id("job-1");
  job.mutable_model()->set_name("acme-ml/m");
  job.mutable_model()->set_version("1.0.0");
  job.set_state(v1::JOB_STATE_SUCCEEDED);
  job.set_attempt(2);
  job.set_backend(v1::BACKEND_CPU);
  job.set_outcome_stage(v1::STAGE_RELEASED);
  EXPECT_EQ(JobStateText(job), "succeeded (attempt 2, cpu) -> released");
  std::vector<std::string> row = JobTableRow(job);
  ASSERT_EQ(row.size(), JobTableHeader().size());
  EXPECT_EQ(row[1], "acme-ml/m@1.0.0");
  EXPECT_EQ(row[3], "2");
  EXPECT_EQ(row[5], "released");
}

class SovctlStatusTest : public SovctlFixture {};

TEST_F(SovctlStatusTest, BadArgumentsAreUsageErrorsBeforeAnyConnection) {
  ExpectUsageError({"status", "digits"}, "has no tenant", "status");
  ExpectUsageError({"status", "acme-ml/digits@v1.0.0"}, "did you mean '1.0.0'?", "status");
  ExpectUsageError({"eval", "start", "acme-ml/digits"}, "needs a version", "eval start");
  ExpectUsageError({"eval", "report"}, "NAME@VERSION or --job JOB is required", "eval report");
  ExpectUsageError({"eval", "report", "acme-ml/m@1.0.0", "--job", "j"}, "not both", "eval report");
  ExpectUsageError({"eval", "jobs", "Acme/m"}, "did you mean", "eval jobs");
  EXPECT_EQ(Sovctl({"eval", "jobs", "--state", "done"}).exit_code, 2);
  EXPECT_EQ(Sovctl({"eval", "start", "acme-ml/m@1.0.0", "--backend", "tpu"}).exit_code, 2);
}

TEST_F(SovctlStatusTest, HelpTeachesTheOutput) {
  SovctlRun status = Sovctl({"status", "--help"});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_THAT(status.out, HasSubstr("OUTCOME GATE: CONDITION (observed VALUE) at FILE:LINE"));
  EXPECT_THAT(status.out, HasSubstr("sovctl status acme-ml/fraud/classifier@1.4.0"));
  SovctlRun report = Sovctl({"eval", "report", "--help"});
  EXPECT_EQ(report.exit_code, 0);
  EXPECT_THAT(report.out, HasSubstr("--registry-key"));
  EXPECT_THAT(report.out, HasSubstr("nothing of it is shown unless it verifies"));
  SovctlRun eval = Sovctl({"eval", "--help"});
  EXPECT_THAT(eval.out, HasSubstr("start"));
  EXPECT_THAT(eval.out, HasSubstr("jobs"));
  EXPECT_THAT(eval.out, HasSubstr("report"));
  EXPECT_THAT(eval.out, HasSubstr("run"));
}

TEST_F(SovctlStatusTest, UnreachableGatewayIsOneLine) {
  SovctlRun run = Sovctl({"--insecure", "--addr", "127.0.0.1:1", "status", "acme-ml/m@1.0.0"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, StartsWith("sovctl: error: UNAVAILABLE: "));
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  EXPECT_EQ(run.out, "");
}

}  // namespace
}  // namespace sov::cli
