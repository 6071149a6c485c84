// Tests RunSuite with the CPU backend on small generated models: the report's quality numbers
// equal metrics computed here from the backend's own predictions and probabilities, runs are
// deterministic, latency covers each batch size, fairness appears only with groups, and bad
// inputs are refused.
#include "gpu-eval/suite.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/time.h"
#include "gpu-eval/safetensors.h"

namespace sov::gpu_eval {
namespace {

constexpr int64_t kInputs = 8;
constexpr int64_t kHidden = 16;
constexpr int64_t kClasses = 4;
constexpr int64_t kRows = 300;

std::string FloatBytes(const std::vector<float>& values) {
  std::string bytes(values.size() * sizeof(float), '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

std::string Int64Bytes(const std::vector<int64_t>& values) {
  std::string bytes(values.size() * sizeof(int64_t), '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

std::vector<float> Uniform(std::mt19937& rng, size_t n, float scale) {
  std::vector<float> v(n);
  // Drawn from raw 32-bit outputs: std::uniform_real_distribution differs between libraries.
  for (float& x : v) x = scale * (static_cast<float>(rng() >> 8) / 8388608.0f - 1.0f);
  return v;
}

// A parsed safetensors file together with the bytes it points into.
struct InMemoryFile {
  std::shared_ptr<const std::string> bytes;
  std::shared_ptr<const SafetensorsFile> file;
};

InMemoryFile Serialize(const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  InMemoryFile out;
  out.bytes = std::make_shared<const std::string>(SerializeSafetensors(tensors, metadata));
  Result<SafetensorsFile> parsed = SafetensorsFile::Parse(
      std::as_bytes(std::span(out.bytes->data(), out.bytes->size())), "generated");
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  if (parsed.ok()) out.file = std::make_shared<const SafetensorsFile>(std::move(parsed).value());
  return out;
}

// 8 -> 16 (relu) -> 4, random weights; `poison` puts a NaN into one weight.
struct GeneratedModel {
  InMemoryFile storage;
  Model model;
};

GeneratedModel MakeModel(bool poison = false) {
  std::mt19937 rng(7);
  std::vector<float> w0 = Uniform(rng, kHidden * kInputs, 0.6f);
  std::vector<float> b0 = Uniform(rng, kHidden, 0.1f);
  std::vector<float> w1 = Uniform(rng, kClasses * kHidden, 0.6f);
  std::vector<float> b1 = Uniform(rng, kClasses, 0.1f);
  if (poison) w1[5] = std::numeric_limits<float>::quiet_NaN();
  GeneratedModel g;
  g.storage = Serialize({{"0.weight", DType::kF32, {kHidden, kInputs}, FloatBytes(w0)},
                         {"0.bias", DType::kF32, {kHidden}, FloatBytes(b0)},
                         {"2.weight", DType::kF32, {kClasses, kHidden}, FloatBytes(w1)},
                         {"2.bias", DType::kF32, {kClasses}, FloatBytes(b1)}},
                        {{"sov.model", "feedforward-classifier"},
                         {"sov.activation", "relu"},
                         {"sov.output", "softmax"}});
  Result<Model> model = LoadModel(g.storage.file);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  if (model.ok()) g.model = std::move(model).value();
  return g;
}

// Random features and labels; groups (values 3 and 8) when asked.
Dataset MakeDataset(bool with_groups, int64_t cols = kInputs) {
  std::mt19937 rng(11);
  std::vector<int64_t> labels(kRows), groups(kRows);
  for (int64_t i = 0; i < kRows; ++i) {
    labels[i] = static_cast<int64_t>(rng() % kClasses);
    groups[i] = i % 3 == 0 ? 3 : 8;
  }
  std::vector<TensorToWrite> tensors = {
      {"features", DType::kF32, {kRows, cols}, FloatBytes(Uniform(rng, kRows * cols, 2.0f))},
      {"labels", DType::kI64, {kRows}, Int64Bytes(labels)}};
  if (with_groups) tensors.push_back({"groups", DType::kI64, {kRows}, Int64Bytes(groups)});
  InMemoryFile file = Serialize(tensors, {});
  Result<Dataset> dataset = LoadDataset(*file.file);
  EXPECT_TRUE(dataset.ok()) << dataset.status().ToString();
  return dataset.ok() ? std::move(dataset).value() : Dataset{};
}

SuiteOptions FastOptions() {
  SuiteOptions options;
  options.warmup = 1;
  options.min_iterations = 3;
  options.min_seconds = 0.0;
  return options;
}

std::unique_ptr<Backend> Cpu() {
  BackendOptions options;
  options.kind = BackendKind::kCpu;
  options.threads = 2;
  return CreateCpuBackend(options);
}

// The clean run's predictions and probabilities, from a separate backend.
RunOutput ReferenceRun(const Model& model, const Dataset& dataset) {
  std::unique_ptr<Backend> backend = Cpu();
  EXPECT_TRUE(backend->LoadModel(model).ok());
  EXPECT_TRUE(backend->LoadDataset(dataset).ok());
  RunOptions options;
  options.keep_probabilities = true;
  Result<RunOutput> out = backend->Run(options);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? std::move(out).value() : RunOutput{};
}

TEST(RunSuiteTest, QualityEqualsMetricsOfThePredictions) {
  const GeneratedModel g = MakeModel();
  const Dataset dataset = MakeDataset(false);
  const RunOutput ref = ReferenceRun(g.model, dataset);
  ASSERT_EQ(ref.predictions.size(), static_cast<size_t>(kRows));

  std::unique_ptr<Backend> backend = Cpu();
  Result<Report> report = RunSuite(*backend, g.model, dataset, FastOptions());
  ASSERT_TRUE(report.ok()) << report.status().ToString();

  // Metrics straight from the definitions, on (label, prediction) pairs.
  int64_t correct = 0;
  double log_loss = 0.0;
  std::vector<int64_t> tp(kClasses, 0), support(kClasses, 0), predicted(kClasses, 0);
  for (int64_t i = 0; i < kRows; ++i) {
    const int32_t y = dataset.labels[i];
    const int32_t p = ref.predictions[i];
    correct += y == p;
    ++support[y];
    ++predicted[p];
    tp[y] += y == p;
    const double prob = ref.probabilities[i * kClasses + y];
    log_loss -= std::log(std::clamp(prob, 1e-15, 1.0 - 1e-15));
  }
  EXPECT_DOUBLE_EQ(report->accuracy, static_cast<double>(correct) / kRows);
  EXPECT_NEAR(report->log_loss, log_loss / kRows, 1e-6);
  double f1_sum = 0.0;
  int present = 0;
  ASSERT_EQ(report->per_class.size(), static_cast<size_t>(kClasses));
  for (int64_t c = 0; c < kClasses; ++c) {
    const ClassMetrics& m = report->per_class[c];
    EXPECT_EQ(m.support, support[c]) << "class " << c;
    if (predicted[c] > 0) {
      EXPECT_NEAR(*m.precision, static_cast<double>(tp[c]) / predicted[c], 1e-12);
    } else {
      EXPECT_FALSE(m.precision.has_value());
    }
    const double p = predicted[c] ? static_cast<double>(tp[c]) / predicted[c] : 0.0;
    const double r = support[c] ? static_cast<double>(tp[c]) / support[c] : 0.0;
    if (support[c] + predicted[c] > 0) {
      f1_sum += p + r > 0 ? 2 * p * r / (p + r) : 0.0;
      ++present;
    }
  }
  EXPECT_NEAR(report->macro_f1, f1_sum / present, 1e-12);
  int64_t confusion_total = 0;
  for (int64_t v : report->confusion) confusion_total += v;
  EXPECT_EQ(confusion_total, kRows);
  // Random weights against random labels: some right, some wrong, so the checks bite.
  EXPECT_GT(correct, 0);
  EXPECT_LT(correct, kRows);
}

TEST(RunSuiteTest, DescribesSubjectAndConditions) {
  const GeneratedModel g = MakeModel();
  const Dataset dataset = MakeDataset(false);
  std::unique_ptr<Backend> backend = Cpu();
  Result<Report> report = RunSuite(*backend, g.model, dataset, FastOptions());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->weight_dtype, "F32");
  EXPECT_EQ(report->layer_sizes, (std::vector<int64_t>{kInputs, kHidden, kClasses}));
  EXPECT_EQ(report->parameters, kHidden * kInputs + kHidden + kClasses * kHidden + kClasses);
  EXPECT_EQ(report->rows, kRows);
  EXPECT_EQ(report->classes, kClasses);
  EXPECT_EQ(report->backend_kind, "cpu");
  EXPECT_EQ(report->backend, backend->description());
  EXPECT_EQ(report->precision, "exact");
  EXPECT_TRUE(ParseRfc3339(report->started_at).ok()) << report->started_at;
  EXPECT_EQ(report->started_at.back(), 'Z');
  EXPECT_GT(report->duration_seconds, 0.0);
  EXPECT_GT(report->throughput_samples_per_second, 0.0);
  EXPECT_GT(report->memory_bytes, 0u);
  EXPECT_EQ(report->non_finite_weights, 0);
  EXPECT_EQ(report->non_finite_output_rows, 0);
}

TEST(RunSuiteTest, DeterministicAndLatencyPerBatchSize) {
  const GeneratedModel g = MakeModel();
  const Dataset dataset = MakeDataset(false);
  std::unique_ptr<Backend> backend = Cpu();
  Result<Report> report = RunSuite(*backend, g.model, dataset, FastOptions());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->deterministic);
  EXPECT_EQ(report->differing_predictions, 0);

  ASSERT_EQ(report->latency.size(), 3u);
  const std::vector<int64_t> batches = {1, 32, 1024};  // 1024 > kRows: rows repeat
  for (size_t i = 0; i < batches.size(); ++i) {
    const LatencyStats& l = report->latency[i];
    EXPECT_EQ(l.batch, batches[i]);
    EXPECT_GE(l.iterations, 3);
    EXPECT_GT(l.p50_ms, 0.0);
    EXPECT_LE(l.p50_ms, l.p99_ms);
    EXPECT_GT(l.samples_per_second, 0.0);
  }
}

// Timed passes continue until min_seconds of them have run, beyond min_iterations.
TEST(RunSuiteTest, LatencyRunsAtLeastMinSeconds) {
  const GeneratedModel g = MakeModel();
  const Dataset dataset = MakeDataset(false);
  std::unique_ptr<Backend> backend = Cpu();
  SuiteOptions options = FastOptions();
  options.batch_sizes = {1};
  options.min_iterations = 2;
  options.min_seconds = 0.05;
  options.check_determinism = false;
  Result<Report> report = RunSuite(*backend, g.model, dataset, options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const LatencyStats& l = report->latency.at(0);
  EXPECT_GT(l.iterations, 2);
  // iterations x mean time = the time measured.
  EXPECT_GE(l.iterations * (l.batch / l.samples_per_second), options.min_seconds * 0.999);
  EXPECT_FALSE(report->deterministic);  // not checked, so not claimed
}

TEST(RunSuiteTest, FairnessOnlyWithGroups) {
  const GeneratedModel g = MakeModel();
  std::unique_ptr<Backend> backend = Cpu();

  Result<Report> plain = RunSuite(*backend, g.model, MakeDataset(false), FastOptions());
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_FALSE(plain->has_groups);
  EXPECT_TRUE(plain->per_group.empty());

  const Dataset dataset = MakeDataset(true);
  const RunOutput ref = ReferenceRun(g.model, dataset);
  Result<Report> grouped = RunSuite(*backend, g.model, dataset, FastOptions());
  ASSERT_TRUE(grouped.ok()) << grouped.status().ToString();
  EXPECT_TRUE(grouped->has_groups);
  ASSERT_EQ(grouped->per_group.size(), 2u);
  const int64_t values[] = {3, 8};
  for (int k = 0; k < 2; ++k) {
    int64_t rows = 0, correct = 0, positive = 0;
    for (int64_t i = 0; i < kRows; ++i) {
      if ((i % 3 == 0) != (k == 0)) continue;
      ++rows;
      correct += ref.predictions[i] == dataset.labels[i];
      positive += ref.predictions[i] == 1;
    }
    const GroupMetrics& m = grouped->per_group[k];
    EXPECT_EQ(m.value, values[k]);
    EXPECT_EQ(m.rows, rows);
    EXPECT_DOUBLE_EQ(m.accuracy, static_cast<double>(correct) / rows);
    EXPECT_DOUBLE_EQ(m.positive_rate, static_cast<double>(positive) / rows);
  }
  EXPECT_DOUBLE_EQ(grouped->accuracy_gap, std::abs(grouped->per_group[0].accuracy -
                                                   grouped->per_group[1].accuracy));
  // Overall quality is the same with or without the groups.
  EXPECT_DOUBLE_EQ(grouped->accuracy, plain->accuracy);
}

// Noise is seeded: the same seed gives the same noisy accuracy; no noise gives the clean one.
TEST(RunSuiteTest, NoisyRunIsSeeded) {
  const GeneratedModel g = MakeModel();
  const Dataset dataset = MakeDataset(false);
  std::unique_ptr<Backend> backend = Cpu();
  SuiteOptions options = FastOptions();
  options.batch_sizes = {1};
  options.noise_stddev = 0.5;
  Result<Report> a = RunSuite(*backend, g.model, dataset, options);
  Result<Report> b = RunSuite(*backend, g.model, dataset, options);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->noisy_accuracy, b->noisy_accuracy);
  EXPECT_EQ(a->noise_stddev, 0.5);
  EXPECT_EQ(a->noise_seed, options.noise_seed);

  options.noise_stddev = 0.0;
  Result<Report> clean = RunSuite(*backend, g.model, dataset, options);
  ASSERT_TRUE(clean.ok());
  EXPECT_EQ(clean->noisy_accuracy, clean->accuracy);
}

TEST(RunSuiteTest, CountsNonFiniteWeightsAndOutputs) {
  const GeneratedModel g = MakeModel(/*poison=*/true);
  std::unique_ptr<Backend> backend = Cpu();
  Result<Report> report = RunSuite(*backend, g.model, MakeDataset(false), FastOptions());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->non_finite_weights, 1);
  // The NaN weight feeds one logit of every row.
  EXPECT_EQ(report->non_finite_output_rows, kRows);
}

TEST(RunSuiteTest, ReportsStagesInOrder) {
  const GeneratedModel g = MakeModel();
  std::unique_ptr<Backend> backend = Cpu();
  std::vector<std::string> stages;
  bool fractions_in_range = true;
  Result<Report> report = RunSuite(*backend, g.model, MakeDataset(false), FastOptions(),
                                   [&](std::string_view stage, double fraction) {
                                     fractions_in_range &= fraction >= 0.0 && fraction <= 1.0;
                                     if (stages.empty() || stages.back() != stage) {
                                       stages.emplace_back(stage);
                                     }
                                   });
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(stages,
            (std::vector<std::string>{"quality", "robustness", "determinism", "latency"}));
  EXPECT_TRUE(fractions_in_range);
}

TEST(RunSuiteTest, RefusesIncompatibleDatasetAndBadOptions) {
  const GeneratedModel g = MakeModel();
  std::unique_ptr<Backend> backend = Cpu();
  Result<Report> wrong_cols = RunSuite(*backend, g.model, MakeDataset(false, kInputs + 1),
                                       FastOptions());
  EXPECT_EQ(wrong_cols.status().code(), StatusCode::kInvalidArgument);

  const Dataset dataset = MakeDataset(false);
  SuiteOptions options = FastOptions();
  options.positive_class = kClasses;
  EXPECT_EQ(RunSuite(*backend, g.model, dataset, options).status().code(),
            StatusCode::kInvalidArgument);
  options = FastOptions();
  options.batch_sizes = {32, 0};
  EXPECT_EQ(RunSuite(*backend, g.model, dataset, options).status().code(),
            StatusCode::kInvalidArgument);
  options = FastOptions();
  options.noise_stddev = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(RunSuite(*backend, g.model, dataset, options).status().code(),
            StatusCode::kInvalidArgument);
  options = FastOptions();
  options.min_iterations = 0;
  EXPECT_EQ(RunSuite(*backend, g.model, dataset, options).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sov::gpu_eval
