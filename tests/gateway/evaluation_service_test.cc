// Shows the EvaluationService's conversions: a job record becomes a ValidationJob field for
// field (gate results from their stored JSON), a report predicate in the worker's format fills
// EvaluationReport (metrics per dataset, gates with FILE:LINE, the predicate as a Struct), and
// list page tokens are opaque and refused when edited or reused with other filters.
#include "gateway/evaluation_service.h"

#include <chrono>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/time.h"
#include "crypto/dsse.h"

namespace sov::gateway {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

registry::JobRecord FinishedJob() {
  registry::JobRecord job;
  job.id = "job-7";
  job.seq = 7;
  job.model_name = "acme-ml/digits/mlp";
  job.model_version = "1.0.0";
  job.model_digest = "sha256:" + std::string(64, 'a');
  job.state = registry::JobState::kSucceeded;
  job.requested_backend = "auto";
  job.backend = "cpu";
  job.worker = "host/sovd-1/worker-0";
  job.attempt = 2;
  job.datasets.push_back({"acme-ml/digits/holdout", "1.0.0", "sha256:" + std::string(64, 'b'),
                          "validated-on", registry::Kind::kDataset});
  job.create_time = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  job.end_time = job.create_time + std::chrono::seconds(3);
  job.report_name = "acme-ml/digits/mlp/evaluation";
  job.report_version = "1.0.0-eval.7";
  job.report_digest = "sha256:" + std::string(64, 'c');
  job.gate_results = json::array(
      {{{"gate_id", "strict"},
        {"kind", "condition"},
        {"condition", "eval.accuracy >= 0.99"},
        {"location", "policy.yaml:31"},
        {"outcome", "failed"},
        {"observed", "eval.accuracy = 0.9689"},
        {"error", "is false"}},
       {{"gate_id", "strict"},
        {"kind", "dataset"},
        {"condition", "dataset acme-ml/digits/holdout@^1.0.0"},
        {"location", "/etc/sov/policy.yaml:29:7"},
        {"outcome", "passed"},
        {"observed", "acme-ml/digits/holdout@1.0.0"},
        {"dataset", "acme-ml/digits/holdout@1.0.0"}}});
  job.outcome_stage = registry::Stage::kRejected;
  job.requested_by = "acme-ml";
  job.policy_digest = "sha256:" + std::string(64, 'd');
  return job;
}

TEST(JobToProtoTest, ConvertsEveryField) {
  sov::v1::ValidationJob out;
  JobToProto(FinishedJob(), &out);
  EXPECT_EQ(out.job_id(), "job-7");
  EXPECT_EQ(out.model().name(), "acme-ml/digits/mlp");
  EXPECT_EQ(out.model().version(), "1.0.0");
  EXPECT_EQ(out.state(), sov::v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(out.requested_backend(), sov::v1::BACKEND_AUTO);
  EXPECT_EQ(out.backend(), sov::v1::BACKEND_CPU);
  EXPECT_EQ(out.attempt(), 2);
  ASSERT_EQ(out.datasets_size(), 1);
  EXPECT_EQ(out.datasets(0).name(), "acme-ml/digits/holdout");
  EXPECT_EQ(out.create_time().seconds(), 1'800'000'000);
  EXPECT_EQ(out.end_time().seconds(), 1'800'000'003);
  EXPECT_FALSE(out.has_start_time());  // never set: left unset, not 1970
  EXPECT_EQ(out.report().version(), "1.0.0-eval.7");
  EXPECT_EQ(out.outcome_stage(), sov::v1::STAGE_REJECTED);
  EXPECT_EQ(out.requested_by().tenant_id(), "acme-ml");
  ASSERT_EQ(out.gate_results_size(), 2);
  const sov::v1::GateResult& failed = out.gate_results(0);
  EXPECT_EQ(failed.gate_id(), "strict");
  EXPECT_EQ(failed.condition(), "eval.accuracy >= 0.99");
  EXPECT_EQ(failed.outcome(), sov::v1::GATE_OUTCOME_FAILED);
  EXPECT_EQ(failed.location().file(), "policy.yaml");
  EXPECT_EQ(failed.location().line(), 31);
  EXPECT_EQ(failed.location().column(), 0);
  EXPECT_EQ(failed.observed(), "eval.accuracy = 0.9689");
  const sov::v1::GateResult& dataset = out.gate_results(1);
  EXPECT_EQ(dataset.location().file(), "/etc/sov/policy.yaml");
  EXPECT_EQ(dataset.location().line(), 29);
  EXPECT_EQ(dataset.location().column(), 7);
  EXPECT_EQ(dataset.dataset().name(), "acme-ml/digits/holdout");
  EXPECT_EQ(dataset.dataset().version(), "1.0.0");
}

TEST(JobToProtoTest, QueuedJobHasNoOutcome) {
  registry::JobRecord job;
  job.id = "j";
  job.requested_backend = "cuda";
  sov::v1::ValidationJob out;
  JobToProto(job, &out);
  EXPECT_EQ(out.state(), sov::v1::JOB_STATE_QUEUED);
  EXPECT_EQ(out.requested_backend(), sov::v1::BACKEND_CUDA);
  EXPECT_EQ(out.backend(), sov::v1::BACKEND_UNSPECIFIED);
  EXPECT_EQ(out.outcome_stage(), sov::v1::STAGE_UNSPECIFIED);
  EXPECT_FALSE(out.has_report());
  EXPECT_FALSE(out.has_requested_by());
}

json GpuEvalReport(double accuracy, bool groups) {
  json report = {
      {"schema", "https://sovereign.dev/eval-report/v1"},
      {"subject", {{"rows", 450}, {"classes", 2}}},
      {"conditions",
       {{"backend", "cpu: OpenBLAS, 2 threads"},
        {"backendKind", "cpu"},
        {"precision", "exact"},
        {"durationSeconds", 1.5}}},
      {"quality",
       {{"accuracy", accuracy},
        {"macroF1", 0.96},
        {"logLoss", 0.13},
        {"perClass",
         json::array({{{"label", 0}, {"support", 200}, {"precision", 1}, {"recall", 0.9}, {"f1", nullptr}},
                      {{"label", 1}, {"support", 250}, {"precision", 0.9}, {"recall", 1}, {"f1", 0.95}}})},
        {"confusion", json::array({json::array({180, 20}), json::array({0, 250})})}}},
      {"fairness", nullptr},
      {"robustness",
       {{"noiseStddev", 0.1},
        {"noiseSeed", 20261129},
        {"noisyAccuracy", accuracy - 0.01},
        {"nonFiniteWeights", 0},
        {"nonFiniteOutputRows", 0}}},
      {"determinism", {{"deterministic", true}, {"differingPredictions", 0}}},
      {"performance",
       {{"latency", json::array({{{"batch", 32}, {"p50Ms", 0.5}, {"p99Ms", 2.0},
                                  {"samplesPerSecond", 64000.0}}})},
        {"memoryBytes", 989880}}}};
  if (groups) {
    report["fairness"] = {{"perGroup", json::array({{{"value", 0}, {"rows", 225}, {"accuracy", 0.97}},
                                                     {{"value", 1}, {"rows", 225}, {"accuracy", 0.95}}})},
                          {"accuracyGap", 0.02},
                          {"demographicParityDifference", 0.01},
                          {"equalOpportunityDifference", nullptr}};
  }
  return report;
}

json Predicate() {
  return {{"model", {{"name", "acme-ml/digits/mlp"}, {"version", "1.0.0"}, {"digest", "sha256:aa"}}},
          {"job", {{"id", "job-7"}, {"attempt", 2}, {"backend", "cpu"}, {"worker", "w"}}},
          {"policyDigest", "sha256:dd"},
          {"createdAt", "2026-11-30T01:00:00Z"},
          {"datasets", json::array({{{"name", "acme-ml/digits/holdout"},
                                     {"version", "1.0.0"},
                                     {"digest", "sha256:bb"},
                                     {"report", GpuEvalReport(0.9689, false)}},
                                    {{"name", "acme-ml/digits/groups"},
                                     {"version", "2.0.0"},
                                     {"digest", "sha256:ee"},
                                     {"report", GpuEvalReport(0.95, true)}}})},
          {"eval", {{"accuracy", 0.95}}},
          {"gates", FinishedJob().gate_results},
          {"passed", false}};
}

TEST(ReportPredicateToProtoTest, FillsTheReport) {
  sov::v1::EvaluationReport out;
  ASSERT_TRUE(ReportPredicateToProto(Predicate(), &out).ok());
  EXPECT_EQ(out.model().name(), "acme-ml/digits/mlp");
  EXPECT_EQ(out.model().digest(), "sha256:aa");
  EXPECT_EQ(out.job_id(), "job-7");
  EXPECT_EQ(out.policy_digest(), "sha256:dd");
  Result<SystemTime> created = ParseRfc3339("2026-11-30T01:00:00Z");
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(out.create_time().seconds(),
            std::chrono::duration_cast<std::chrono::seconds>(created->time_since_epoch()).count());
  ASSERT_EQ(out.datasets_size(), 2);
  const sov::v1::DatasetEvaluation& first = out.datasets(0);
  EXPECT_EQ(first.dataset().name(), "acme-ml/digits/holdout");
  EXPECT_EQ(first.num_samples(), 450);
  EXPECT_DOUBLE_EQ(first.quality().accuracy(), 0.9689);
  EXPECT_DOUBLE_EQ(first.quality().macro_f1(), 0.96);
  ASSERT_EQ(first.quality().classes_size(), 2);
  EXPECT_EQ(first.quality().classes(1).support(), 250);
  EXPECT_DOUBLE_EQ(first.quality().classes(0).f1(), 0);  // null: undefined, left 0
  EXPECT_EQ(first.quality().num_classes(), 2);
  EXPECT_THAT(first.quality().confusion_matrix(), ::testing::ElementsAre(180, 20, 0, 250));
  EXPECT_FALSE(first.has_fairness());  // "fairness": null
  EXPECT_EQ(first.robustness().noise_seed(), 20261129u);
  EXPECT_DOUBLE_EQ(first.robustness().accuracy_under_noise(), 0.9589);
  const sov::v1::DatasetEvaluation& second = out.datasets(1);
  ASSERT_TRUE(second.has_fairness());
  EXPECT_EQ(second.fairness().groups_size(), 2);
  EXPECT_DOUBLE_EQ(second.fairness().max_group_gap(), 0.02);
  EXPECT_EQ(out.performance().batches_size(), 1);
  EXPECT_EQ(out.performance().batches(0).latency_p50().nanos(), 500'000);
  EXPECT_EQ(out.performance().peak_memory_bytes(), 989880);
  EXPECT_TRUE(out.determinism().deterministic());
  EXPECT_EQ(out.runtime().backend(), sov::v1::BACKEND_CPU);
  EXPECT_EQ(out.runtime().precision(), "exact");
  EXPECT_EQ(out.elapsed().seconds(), 3);
  ASSERT_EQ(out.gate_results_size(), 2);
  EXPECT_EQ(out.gate_results(0).location().line(), 31);
  // The whole predicate, for fields the message does not name.
  EXPECT_EQ(out.predicate().fields().at("passed").bool_value(), false);
  EXPECT_EQ(out.predicate().fields().at("eval").struct_value().fields().at("accuracy").number_value(),
            0.95);
}

TEST(ReportPredicateToProtoTest, RefusesMalformedPredicates) {
  sov::v1::EvaluationReport out;
  EXPECT_EQ(ReportPredicateToProto(json::array(), &out).code(), StatusCode::kInvalidArgument);
  json bad_time = Predicate();
  bad_time["createdAt"] = "yesterday";
  Status st = ReportPredicateToProto(bad_time, &out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("createdAt"));
  json bad_datasets = Predicate();
  bad_datasets["datasets"] = "all of them";
  EXPECT_EQ(ReportPredicateToProto(bad_datasets, &out).code(), StatusCode::kInvalidArgument);
}

PageTokens TestTokens() { return PageTokens(crypto::SecretKey::Random()); }

TEST(JobPageTokenTest, RoundTripsAndIsBoundToTheFilters) {
  const PageTokens tokens = TestTokens();
  const std::string token = EncodeJobPageToken(tokens, 42, "acme-ml/m\n\n");
  EXPECT_EQ(token.find_first_of("+/="), std::string::npos);  // URL-safe
  Result<int64_t> seq = DecodeJobPageToken(tokens, token, "acme-ml/m\n\n");
  ASSERT_TRUE(seq.ok()) << seq.status().message();
  EXPECT_EQ(*seq, 42);

  Result<int64_t> other = DecodeJobPageToken(tokens, token, "acme-ml/other\n\n");
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(other.status().message(), HasSubstr("for these filters"));
  // Another server key (another master key) does not take it either.
  EXPECT_EQ(DecodeJobPageToken(TestTokens(), token, "acme-ml/m\n\n").status().code(),
            StatusCode::kInvalidArgument);
}

TEST(JobPageTokenTest, RefusesTokensItDidNotWrite) {
  const PageTokens tokens = TestTokens();
  const std::string key = "k";
  for (const std::string& text :
       {std::string("v1:5:0123456789abcdef"), std::string("p1") + std::string(16, 'x') + "5",
        std::string("5"), std::string("")}) {
    Result<int64_t> seq = DecodeJobPageToken(tokens, crypto::Base64UrlEncode(text), key);
    EXPECT_EQ(seq.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(seq.status().message(), HasSubstr("not one this server wrote")) << text;
  }
  EXPECT_EQ(DecodeJobPageToken(tokens, "!!!", key).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeJobPageToken(tokens, std::string(4000, 'A'), key).status().code(),
            StatusCode::kInvalidArgument);
  // An edited position no longer matches its tag.
  std::string token = EncodeJobPageToken(tokens, 42, key);
  Result<std::string> bytes = crypto::Base64Decode(token);
  ASSERT_TRUE(bytes.ok());
  std::string edited = *bytes;
  ASSERT_EQ(edited.substr(edited.size() - 2), "42");
  edited.replace(edited.size() - 2, 2, "41");
  EXPECT_EQ(DecodeJobPageToken(tokens, crypto::Base64UrlEncode(edited), key).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sov::gateway
