// Tests that ReportToJson writes the documented schema: parsed back with gpu-eval's own JSON
// reader, every field is where docs/models.md says, undefined metrics are null, and the order
// of the groups is fixed.
#include "gpu-eval/report.h"

#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gpu-eval/internal/json.h"

namespace sov::gpu_eval {
namespace {

Report SampleReport() {
  Report r;
  r.model = "models/fraud.safetensors";
  r.dataset = "data/holdout.safetensors";
  r.weight_dtype = "BF16";
  r.layer_sizes = {4, 8, 3};
  r.parameters = 4 * 8 + 8 + 8 * 3 + 3;
  r.rows = 6;
  r.classes = 3;
  r.backend = "cpu: test \"quoted\"";
  r.backend_kind = "cpu";
  r.precision = "exact";
  r.started_at = "2026-11-29T20:00:00Z";
  r.duration_seconds = 1.25;
  r.accuracy = 0.5;
  r.macro_f1 = 0.375;
  r.log_loss = 0.693;
  r.per_class = {
      {0, 2, 0.5, 1.0, 2.0 / 3.0},
      {1, 4, std::nullopt, 0.0, 0.0},          // never predicted
      {2, 0, std::nullopt, std::nullopt, std::nullopt},  // in neither
  };
  r.confusion = {2, 0, 0, 2, 2, 0, 0, 0, 0};
  r.noise_stddev = 0.1;
  r.noise_seed = 18446744073709551557ull;  // needs all 64 bits
  r.noisy_accuracy = 0.25;
  r.non_finite_weights = 1;
  r.non_finite_output_rows = 2;
  r.deterministic = true;
  r.differing_predictions = 0;
  r.latency = {{1, 20, 0.01, 0.02, 100000.0}, {1024, 25, 1.5, 2.5, 682666.5}};
  r.throughput_samples_per_second = 12345.5;
  r.memory_bytes = 5000000000ull;
  return r;
}

json::Value ParseOrDie(const std::string& text) {
  Result<json::Value> parsed = json::Parse(text);
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString() << "\n" << text;
  return parsed.ok() ? *parsed : json::Value();
}

// The member `key` of `object`; a test failure (and a null value) when it is missing.
const json::Value& Get(const json::Value& object, const std::string& key) {
  static const json::Value kMissing;
  const json::Value* v = object.Find(key);
  EXPECT_NE(v, nullptr) << "missing key " << key;
  return v ? *v : kMissing;
}

double Num(const json::Value& v) { return v.as_double().value_or(-12345.0); }
int64_t Int(const json::Value& v) { return v.as_int64().value_or(-12345); }

std::vector<std::string> Keys(const json::Value& object) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.members()) keys.push_back(key);
  return keys;
}

TEST(ReportToJsonTest, TopLevelGroupsInFixedOrder) {
  const json::Value doc = ParseOrDie(ReportToJson(SampleReport()));
  EXPECT_EQ(Keys(doc), (std::vector<std::string>{"schema", "subject", "conditions", "quality",
                                                 "fairness", "robustness", "determinism",
                                                 "performance"}));
  EXPECT_EQ(Get(doc, "schema").string(), kReportSchema);
}

TEST(ReportToJsonTest, SubjectAndConditions) {
  const json::Value doc = ParseOrDie(ReportToJson(SampleReport()));
  const json::Value& subject = Get(doc, "subject");
  // No digest given: the keys are absent, as report.h documents.
  EXPECT_EQ(Keys(subject), (std::vector<std::string>{"model", "dataset", "weightDtype",
                                                     "layerSizes", "parameters", "rows",
                                                     "classes"}));
  EXPECT_EQ(Get(subject, "model").string(), "models/fraud.safetensors");
  EXPECT_EQ(Get(subject, "weightDtype").string(), "BF16");
  const auto& sizes = Get(subject, "layerSizes").array();
  ASSERT_EQ(sizes.size(), 3u);
  EXPECT_EQ(Int(sizes[1]), 8);
  EXPECT_EQ(Int(Get(subject, "parameters")), 67);
  EXPECT_EQ(Int(Get(subject, "classes")), 3);

  const json::Value& conditions = Get(doc, "conditions");
  EXPECT_EQ(Get(conditions, "backend").string(), "cpu: test \"quoted\"");
  EXPECT_EQ(Get(conditions, "backendKind").string(), "cpu");
  EXPECT_EQ(Get(conditions, "precision").string(), "exact");
  EXPECT_EQ(Get(conditions, "startedAt").string(), "2026-11-29T20:00:00Z");
  EXPECT_DOUBLE_EQ(Num(Get(conditions, "durationSeconds")), 1.25);
}

TEST(ReportToJsonTest, DigestsWhenKnown) {
  Report r = SampleReport();
  r.model_digest = "sha256:" + std::string(64, 'a');
  r.dataset_digest = "sha256:" + std::string(64, 'b');
  const json::Value subject = Get(ParseOrDie(ReportToJson(r)), "subject");
  EXPECT_EQ(Keys(subject)[1], "modelDigest");
  EXPECT_EQ(Get(subject, "modelDigest").string(), r.model_digest);
  EXPECT_EQ(Keys(subject)[3], "datasetDigest");
  EXPECT_EQ(Get(subject, "datasetDigest").string(), r.dataset_digest);
}

TEST(ReportToJsonTest, QualityWithNullForUndefined) {
  const json::Value quality = Get(ParseOrDie(ReportToJson(SampleReport())), "quality");
  EXPECT_DOUBLE_EQ(Num(Get(quality, "accuracy")), 0.5);
  EXPECT_DOUBLE_EQ(Num(Get(quality, "macroF1")), 0.375);
  EXPECT_DOUBLE_EQ(Num(Get(quality, "logLoss")), 0.693);

  const auto& per_class = Get(quality, "perClass").array();
  ASSERT_EQ(per_class.size(), 3u);
  EXPECT_EQ(Keys(per_class[0]),
            (std::vector<std::string>{"label", "support", "precision", "recall", "f1"}));
  EXPECT_DOUBLE_EQ(Num(Get(per_class[0], "f1")), 2.0 / 3.0);  // shortest round-trip, exact
  EXPECT_EQ(Get(per_class[1], "precision").type(), json::Value::Type::kNull);
  EXPECT_DOUBLE_EQ(Num(Get(per_class[1], "recall")), 0.0);
  EXPECT_EQ(Int(Get(per_class[2], "label")), 2);
  EXPECT_EQ(Get(per_class[2], "recall").type(), json::Value::Type::kNull);
  EXPECT_EQ(Get(per_class[2], "f1").type(), json::Value::Type::kNull);

  // Rows are true classes, columns predicted classes.
  const auto& confusion = Get(quality, "confusion").array();
  ASSERT_EQ(confusion.size(), 3u);
  ASSERT_EQ(confusion[1].array().size(), 3u);
  EXPECT_EQ(Int(confusion[1].array()[0]), 2);
  EXPECT_EQ(Int(confusion[0].array()[0]), 2);
}

TEST(ReportToJsonTest, FairnessNullWithoutGroups) {
  const json::Value doc = ParseOrDie(ReportToJson(SampleReport()));
  EXPECT_EQ(Get(doc, "fairness").type(), json::Value::Type::kNull);
}

TEST(ReportToJsonTest, FairnessWithGroups) {
  Report r = SampleReport();
  r.has_groups = true;
  r.positive_class = 2;
  r.per_group = {{7, 4, 0.75, 0.5, 1.0}, {9, 2, 0.5, 0.0, std::nullopt}};
  r.accuracy_gap = 0.25;
  r.demographic_parity_difference = 0.5;
  r.equal_opportunity_difference = std::nullopt;
  const json::Value fairness = Get(ParseOrDie(ReportToJson(r)), "fairness");
  ASSERT_TRUE(fairness.is_object());
  EXPECT_EQ(Keys(fairness),
            (std::vector<std::string>{"positiveClass", "perGroup", "accuracyGap",
                                      "demographicParityDifference",
                                      "equalOpportunityDifference"}));
  EXPECT_EQ(Int(Get(fairness, "positiveClass")), 2);
  const auto& groups = Get(fairness, "perGroup").array();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(Int(Get(groups[0], "value")), 7);
  EXPECT_EQ(Int(Get(groups[0], "rows")), 4);
  EXPECT_DOUBLE_EQ(Num(Get(groups[0], "accuracy")), 0.75);
  EXPECT_DOUBLE_EQ(Num(Get(groups[0], "positiveRate")), 0.5);
  EXPECT_DOUBLE_EQ(Num(Get(groups[0], "truePositiveRate")), 1.0);
  EXPECT_EQ(Get(groups[1], "truePositiveRate").type(), json::Value::Type::kNull);
  EXPECT_DOUBLE_EQ(Num(Get(fairness, "accuracyGap")), 0.25);
  EXPECT_DOUBLE_EQ(Num(Get(fairness, "demographicParityDifference")), 0.5);
  EXPECT_EQ(Get(fairness, "equalOpportunityDifference").type(), json::Value::Type::kNull);

  r.equal_opportunity_difference = 0.125;
  const json::Value again = Get(ParseOrDie(ReportToJson(r)), "fairness");
  EXPECT_DOUBLE_EQ(Num(Get(again, "equalOpportunityDifference")), 0.125);
}

TEST(ReportToJsonTest, RobustnessDeterminismPerformance) {
  const json::Value doc = ParseOrDie(ReportToJson(SampleReport()));
  const json::Value& robustness = Get(doc, "robustness");
  EXPECT_DOUBLE_EQ(Num(Get(robustness, "noiseStddev")), 0.1);
  EXPECT_EQ(Get(robustness, "noiseSeed").as_uint64(), 18446744073709551557ull);
  EXPECT_DOUBLE_EQ(Num(Get(robustness, "noisyAccuracy")), 0.25);
  EXPECT_EQ(Int(Get(robustness, "nonFiniteWeights")), 1);
  EXPECT_EQ(Int(Get(robustness, "nonFiniteOutputRows")), 2);

  const json::Value& determinism = Get(doc, "determinism");
  EXPECT_TRUE(Get(determinism, "deterministic").boolean());
  EXPECT_EQ(Int(Get(determinism, "differingPredictions")), 0);

  const json::Value& performance = Get(doc, "performance");
  const auto& latency = Get(performance, "latency").array();
  ASSERT_EQ(latency.size(), 2u);
  EXPECT_EQ(Keys(latency[1]), (std::vector<std::string>{"batch", "iterations", "p50Ms", "p99Ms",
                                                        "samplesPerSecond"}));
  EXPECT_EQ(Int(Get(latency[1], "batch")), 1024);
  EXPECT_EQ(Int(Get(latency[1], "iterations")), 25);
  EXPECT_DOUBLE_EQ(Num(Get(latency[1], "p99Ms")), 2.5);
  EXPECT_DOUBLE_EQ(Num(Get(latency[1], "samplesPerSecond")), 682666.5);
  EXPECT_DOUBLE_EQ(Num(Get(performance, "throughputSamplesPerSecond")), 12345.5);
  EXPECT_EQ(Get(performance, "memoryBytes").as_uint64(), 5000000000ull);
}

// One line without indent, the same document with it; serialising twice gives the same bytes.
TEST(ReportToJsonTest, CompactAndIndentedAgree) {
  const Report r = SampleReport();
  const std::string compact = ReportToJson(r, -1);
  const std::string indented = ReportToJson(r, 2);
  EXPECT_EQ(compact.find('\n'), std::string::npos);
  EXPECT_NE(indented.find('\n'), std::string::npos);
  EXPECT_EQ(ReportToJson(r, -1), compact);
  const json::Value a = ParseOrDie(compact);
  const json::Value b = ParseOrDie(indented);
  EXPECT_EQ(Keys(Get(a, "quality")), Keys(Get(b, "quality")));
  EXPECT_EQ(Num(Get(Get(a, "quality"), "macroF1")), Num(Get(Get(b, "quality"), "macroF1")));
}

// A metric that came out NaN (e.g. a log-loss over non-finite logits) is null, not invalid JSON.
TEST(ReportToJsonTest, NonFiniteNumbersAreNull) {
  Report r = SampleReport();
  r.log_loss = std::numeric_limits<double>::quiet_NaN();
  r.throughput_samples_per_second = std::numeric_limits<double>::infinity();
  const json::Value doc = ParseOrDie(ReportToJson(r));
  EXPECT_EQ(Get(Get(doc, "quality"), "logLoss").type(), json::Value::Type::kNull);
  EXPECT_EQ(Get(Get(doc, "performance"), "throughputSamplesPerSecond").type(),
            json::Value::Type::kNull);
}

}  // namespace
}  // namespace sov::gpu_eval
