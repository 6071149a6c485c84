// Tests gpu-eval against scikit-learn on a real trained model: the MLPClassifier of
// examples/gpu-eval/make_digits_fixture.py, fitted in float32 on the digits dataset, must get
// exactly sklearn's score() and predictions on the held-out split from the CPU backend, and
// its log-loss within 1e-5.
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/file.h"
#include "gpu-eval/backend.h"
#include "gpu-eval/dataset.h"
#include "gpu-eval/internal/json.h"
#include "gpu-eval/model.h"
#include "gpu-eval/suite.h"

namespace sov::gpu_eval {
namespace {

constexpr double kLogLossTolerance = 1e-5;

// tests/gpu-eval/fixtures, found through SOV_SOURCE_DIR, which ctest sets.
std::string FixturePath(const std::string& name) {
  const char* source = std::getenv("SOV_SOURCE_DIR");
  return std::string(source ? source : "") + "/tests/gpu-eval/fixtures/" + name;
}

struct Expected {
  int64_t rows = 0;
  int64_t classes = 0;
  double score = 0.0;
  int64_t correct = 0;
  double log_loss = 0.0;
  std::vector<int32_t> predictions;
};

Result<Expected> ReadExpected() {
  const std::string path = FixturePath("digits-expected.json");
  SOV_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  SOV_ASSIGN_OR_RETURN(json::Value doc, json::Parse(text));
  const json::Value* rows = doc.Find("rows");
  const json::Value* classes = doc.Find("classes");
  const json::Value* score = doc.Find("score");
  const json::Value* correct = doc.Find("correct");
  const json::Value* log_loss = doc.Find("logLoss");
  const json::Value* predictions = doc.Find("predictions");
  if (!rows || !classes || !score || !correct || !log_loss || !predictions ||
      !predictions->is_array()) {
    return InvalidArgument(path + ": missing one of rows, classes, score, correct, logLoss, "
                           "predictions");
  }
  Expected e;
  e.rows = rows->as_int64().value_or(-1);
  e.classes = classes->as_int64().value_or(-1);
  e.score = score->as_double().value_or(-1);
  e.correct = correct->as_int64().value_or(-1);
  e.log_loss = log_loss->as_double().value_or(-1);
  for (const json::Value& p : predictions->array()) {
    e.predictions.push_back(static_cast<int32_t>(p.as_int64().value_or(-1)));
  }
  return e;
}

class SklearnDigitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(std::getenv("SOV_SOURCE_DIR"), nullptr)
        << "SOV_SOURCE_DIR is not set: run this test through ctest, or set it to the source tree";
    Result<Model> model = OpenModel(FixturePath("digits-mlp.safetensors"));
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    model_ = std::move(model).value();
    Result<Dataset> dataset = OpenDataset(FixturePath("digits-test.safetensors"));
    ASSERT_TRUE(dataset.ok()) << dataset.status().ToString();
    dataset_ = std::move(dataset).value();
    Result<Expected> expected = ReadExpected();
    ASSERT_TRUE(expected.ok()) << expected.status().ToString();
    expected_ = std::move(expected).value();
    ASSERT_EQ(dataset_.rows, expected_.rows);
    ASSERT_EQ(model_.num_classes, expected_.classes);
    ASSERT_EQ(expected_.predictions.size(), static_cast<size_t>(expected_.rows));

    BackendOptions options;
    options.kind = BackendKind::kCpu;
    backend_ = CreateCpuBackend(options);
  }

  Model model_;
  Dataset dataset_;
  Expected expected_;
  std::unique_ptr<Backend> backend_;
};

TEST_F(SklearnDigitsTest, PredictionsEqualSklearns) {
  ASSERT_TRUE(backend_->LoadModel(model_).ok());
  ASSERT_TRUE(backend_->LoadDataset(dataset_).ok());
  Result<RunOutput> out = backend_->Run(RunOptions{});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->predictions.size(), expected_.predictions.size());
  int64_t differing = 0;
  for (size_t i = 0; i < expected_.predictions.size(); ++i) {
    if (out->predictions[i] != expected_.predictions[i]) {
      ADD_FAILURE() << "row " << i << ": we predict " << out->predictions[i] << ", sklearn "
                    << expected_.predictions[i];
      if (++differing == 10) break;
    }
  }
  EXPECT_EQ(out->non_finite_rows, 0);
}

TEST_F(SklearnDigitsTest, SuiteMatchesSklearnScoreAndLogLoss) {
  SuiteOptions options;
  options.batch_sizes = {1, 450};
  options.warmup = 1;
  options.min_iterations = 3;
  options.min_seconds = 0.0;
  Result<Report> report = RunSuite(*backend_, model_, dataset_, options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();

  int64_t correct = 0;
  for (int64_t c = 0; c < report->classes; ++c) correct += report->confusion[c * report->classes + c];
  EXPECT_EQ(correct, expected_.correct);
  EXPECT_EQ(report->accuracy, expected_.score);  // the same count over the same rows
  EXPECT_NEAR(report->log_loss, expected_.log_loss, kLogLossTolerance);
  EXPECT_TRUE(report->deterministic);
  EXPECT_EQ(report->non_finite_weights, 0);
  // A well-trained model: far better than chance on every class.
  EXPECT_GT(report->macro_f1, 0.9);

  // The fixture's synthetic groups (row index parity) exercise the fairness code on real output.
  ASSERT_TRUE(report->has_groups);
  ASSERT_EQ(report->per_group.size(), 2u);
  EXPECT_EQ(report->per_group[0].rows + report->per_group[1].rows, expected_.rows);
  EXPECT_EQ(report->per_group[0].rows, (expected_.rows + 1) / 2);
}

}  // namespace
}  // namespace sov::gpu_eval
