// Shows that the CPU backend computes what a naive double-precision forward pass computes, on
// random small models in F32, F16 and BF16 with every activation: the same predictions wherever
// the reference's top-two margin exceeds 1e-4, probabilities within 1e-5, the same confusion
// counts and log-loss, NaN/Inf detection, seeded noise, run-to-run determinism and batch timing.
// Also checks the built-in sgemm (and the default engine) against a naive loop, and the backend
// factory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gpu-eval/backend.h"
#include "gpu-eval/cpu/gemm.h"
#include "gpu-eval/devices.h"
#include "gpu-eval/internal/half.h"
#include "gpu-eval/internal/noise.h"
#include "gpu-eval/safetensors.h"

namespace sov::gpu_eval {
namespace {

using ::testing::HasSubstr;

constexpr double kProbabilityTolerance = 1e-5;
constexpr double kAmbiguousMargin = 1e-4;

std::string Encode(const std::vector<float>& values, DType dtype) {
  std::string bytes;
  for (float v : values) {
    if (dtype == DType::kF32) {
      bytes.append(reinterpret_cast<const char*>(&v), sizeof(v));
    } else {
      const uint16_t h = dtype == DType::kF16 ? internal::F32ToF16(v) : internal::F32ToBF16(v);
      bytes.append(reinterpret_cast<const char*>(&h), sizeof(h));
    }
  }
  return bytes;
}

std::vector<float> RandomVector(std::mt19937& rng, size_t n, float scale) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

struct ModelSpec {
  std::vector<int64_t> widths;  // input, hidden..., classes
  DType dtype = DType::kF32;
  Activation activation = Activation::kRelu;
  uint32_t seed = 1;
};

// Keeps the serialized files alive for the models and datasets made from them.
class Fixtures {
 public:
  // A random model; `poison` (if set) replaces weight element 0 of layer 0.
  Model MakeModel(const ModelSpec& spec, float poison = 0.0f, bool poisoned = false) {
    std::mt19937 rng(spec.seed);
    std::vector<TensorToWrite> tensors;
    for (size_t l = 0; l + 1 < spec.widths.size(); ++l) {
      const int64_t in = spec.widths[l];
      const int64_t out = spec.widths[l + 1];
      // Scaled so that the logits spread over a few units: predictions are mostly clear-cut.
      std::vector<float> w = RandomVector(rng, static_cast<size_t>(in * out),
                                          2.0f / std::sqrt(static_cast<float>(in)));
      if (l == 0 && poisoned) w[0] = poison;
      const std::vector<float> b = RandomVector(rng, static_cast<size_t>(out), 0.5f);
      const std::string prefix = std::to_string(2 * l);
      tensors.push_back({prefix + ".weight", spec.dtype, {out, in}, Encode(w, spec.dtype)});
      tensors.push_back({prefix + ".bias", spec.dtype, {out}, Encode(b, spec.dtype)});
    }
    const std::map<std::string, std::string> metadata = {
        {"sov.model", "feedforward-classifier"},
        {"sov.activation", std::string(ActivationName(spec.activation))}};
    Result<Model> model = LoadModel(Parse(SerializeSafetensors(tensors, metadata), "model"));
    EXPECT_TRUE(model.ok()) << model.status().ToString();
    return std::move(model).value();
  }

  // `rows` random rows for `model`, with labels and (when groups > 1) group ids.
  Dataset MakeDataset(const Model& model, int64_t rows, int groups, uint32_t seed) {
    std::mt19937 rng(seed);
    const std::vector<float> features =
        RandomVector(rng, static_cast<size_t>(rows * model.input_dim), 1.0f);
    std::vector<int32_t> labels(static_cast<size_t>(rows));
    std::vector<int64_t> group(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      labels[r] = static_cast<int32_t>(rng() % static_cast<uint32_t>(model.num_classes));
      group[r] = 100 + static_cast<int64_t>(rng() % static_cast<uint32_t>(groups));
    }
    std::vector<TensorToWrite> tensors = {
        {"features", DType::kF32, {rows, model.input_dim}, Encode(features, DType::kF32)},
        {"labels",
         DType::kI32,
         {rows},
         std::string(reinterpret_cast<const char*>(labels.data()), labels.size() * 4)}};
    if (groups > 1) {
      tensors.push_back(
          {"groups",
           DType::kI64,
           {rows},
           std::string(reinterpret_cast<const char*>(group.data()), group.size() * 8)});
    }
    Result<Dataset> dataset = LoadDataset(*Parse(SerializeSafetensors(tensors), "data"));
    EXPECT_TRUE(dataset.ok()) << dataset.status().ToString();
    return std::move(dataset).value();
  }

 private:
  std::shared_ptr<const SafetensorsFile> Parse(std::string bytes, const std::string& name) {
    buffers_.push_back(std::move(bytes));
    const std::string& b = buffers_.back();
    Result<SafetensorsFile> file = SafetensorsFile::Parse(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(b.data()), b.size()), name);
    EXPECT_TRUE(file.ok()) << file.status().ToString();
    return std::make_shared<const SafetensorsFile>(std::move(file).value());
  }

  std::deque<std::string> buffers_;
};

double ApplyActivation(double x, Activation a) {
  switch (a) {
    case Activation::kIdentity:
      return x;
    case Activation::kRelu:
      return x < 0 ? 0 : x;
    case Activation::kGelu:
      return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    case Activation::kTanh:
      return std::tanh(x);
    case Activation::kSigmoid:
      return 1 / (1 + std::exp(-x));
  }
  return x;
}

// The naive reference: double-precision forward pass and metrics, with the noise added exactly
// as the backends add it.
struct Reference {
  std::vector<double> probabilities;  // [rows * classes]
  std::vector<int32_t> predictions;
  std::vector<double> margins;
  std::vector<uint8_t> non_finite;
};

Reference ReferenceRun(const Model& model, const Dataset& data, double noise_stddev,
                       uint64_t seed) {
  Reference ref;
  const int64_t classes = model.num_classes;
  std::vector<std::vector<double>> weights;
  std::vector<std::vector<double>> biases;
  for (const DenseLayer& layer : model.layers) {
    const std::vector<float> w = ToFloat32(*layer.weight);
    const std::vector<float> b = ToFloat32(*layer.bias);
    weights.emplace_back(w.begin(), w.end());
    biases.emplace_back(b.begin(), b.end());
  }
  for (int64_t r = 0; r < data.rows; ++r) {
    std::vector<double> x(static_cast<size_t>(data.cols));
    for (int64_t c = 0; c < data.cols; ++c) {
      const float f = data.features[r * data.cols + c];
      x[c] = noise_stddev > 0 ? noise::AddNoise(f, noise_stddev, seed, r, c, data.cols) : f;
    }
    for (size_t l = 0; l < model.layers.size(); ++l) {
      const DenseLayer& layer = model.layers[l];
      std::vector<double> y(static_cast<size_t>(layer.out));
      for (int64_t o = 0; o < layer.out; ++o) {
        double acc = biases[l][o];
        for (int64_t i = 0; i < layer.in; ++i) acc += weights[l][o * layer.in + i] * x[i];
        y[o] = ApplyActivation(acc, layer.activation);
      }
      x = std::move(y);
    }
    bool finite = true;
    for (double z : x) finite &= std::isfinite(z);
    ref.non_finite.push_back(finite ? 0 : 1);
    const double max = *std::max_element(x.begin(), x.end());
    double sum = 0;
    for (double z : x) sum += std::exp(z - max);
    int32_t best = 0;
    for (int64_t c = 0; c < classes; ++c) {
      ref.probabilities.push_back(std::exp(x[c] - max) / sum);
      if (x[c] > x[best]) best = static_cast<int32_t>(c);
    }
    const double* p = ref.probabilities.data() + r * classes;
    double second = 0;
    for (int64_t c = 0; c < classes; ++c) {
      if (c != best) second = std::max(second, p[c]);
    }
    ref.predictions.push_back(best);
    ref.margins.push_back(p[best] - second);
  }
  return ref;
}

RunOutput MustRun(Backend& backend, const RunOptions& options) {
  Result<RunOutput> out = backend.Run(options);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return std::move(out).value();
}

// Compares a run with the reference: predictions, margins, probabilities, confusion, log-loss.
void ExpectMatchesReference(const RunOutput& out, const Reference& ref, const Dataset& data,
                            int64_t classes) {
  ASSERT_EQ(out.rows, data.rows);
  ASSERT_EQ(out.classes, classes);
  ASSERT_EQ(out.probabilities.size(), static_cast<size_t>(data.rows * classes));
  std::vector<int64_t> confusion(static_cast<size_t>(data.groups() * classes * classes), 0);
  double log_loss = 0;
  int64_t clear_cut = 0;
  for (int64_t r = 0; r < data.rows; ++r) {
    int32_t prediction = ref.predictions[r];
    if (ref.margins[r] > kAmbiguousMargin) {
      ++clear_cut;
      ASSERT_EQ(out.predictions[r], prediction) << "row " << r;
    } else {
      prediction = out.predictions[r];  // either of the near-tied classes is right
    }
    EXPECT_NEAR(out.margins[r], ref.margins[r], 2 * kProbabilityTolerance) << "row " << r;
    for (int64_t c = 0; c < classes; ++c) {
      ASSERT_NEAR(out.probabilities[r * classes + c], ref.probabilities[r * classes + c],
                  kProbabilityTolerance)
          << "row " << r << " class " << c;
    }
    const int64_t group = data.group_of_row.empty() ? 0 : data.group_of_row[r];
    ++confusion[(group * classes + data.labels[r]) * classes + prediction];
    const double p = ref.probabilities[r * classes + data.labels[r]];
    log_loss += -std::log(std::clamp(p, 1e-15, 1 - 1e-15));
  }
  EXPECT_GT(clear_cut, data.rows * 9 / 10);  // the comparison is not vacuous
  EXPECT_EQ(out.confusion, confusion);
  // Per row, -log p differs by at most ~|dp|/p; the FP32 probabilities are within ~1e-6 relative.
  EXPECT_NEAR(out.log_loss_sum, log_loss, 1e-4 * std::max(1.0, log_loss));
  EXPECT_EQ(out.non_finite_rows, 0);
}

struct Case {
  DType dtype;
  Activation activation;
};

// Runs `make` with the GEMM engine forced by the documented override.
template <typename Make>
auto WithGemmEngine(const char* engine, Make make) {
  setenv("SOV_GPU_EVAL_CPU_GEMM", engine, 1);
  auto made = make();
  unsetenv("SOV_GPU_EVAL_CPU_GEMM");
  return made;
}

class CpuBackendMatchesReference : public ::testing::TestWithParam<Case> {};

TEST_P(CpuBackendMatchesReference, RandomModels) {
  const Case param = GetParam();
  Fixtures fixtures;
  const Model model = fixtures.MakeModel({{37, 64, 33, 7}, param.dtype, param.activation, 11});
  const Dataset data = fixtures.MakeDataset(model, 301, /*groups=*/3, 5);
  const Reference ref = ReferenceRun(model, data, 0.0, 0);
  for (const char* engine : {"blas", "builtin"}) {
    for (int threads : {1, 3}) {
      BackendOptions options;
      options.kind = BackendKind::kCpu;
      options.threads = threads;
      std::unique_ptr<Backend> backend =
          WithGemmEngine(engine, [&] { return CreateCpuBackend(options); });
      ASSERT_TRUE(backend->LoadModel(model).ok());
      ASSERT_TRUE(backend->LoadDataset(data).ok());
      RunOptions run;
      run.keep_probabilities = true;
      run.batch_rows = 64;  // several batches and a short last one
      SCOPED_TRACE(backend->description());
      ExpectMatchesReference(MustRun(*backend, run), ref, data, model.num_classes);
    }
  }
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  return std::string(DTypeName(info.param.dtype)) + "_" +
         std::string(ActivationName(info.param.activation));
}

INSTANTIATE_TEST_SUITE_P(
    AllDtypesAndActivations, CpuBackendMatchesReference,
    ::testing::Values(Case{DType::kF32, Activation::kRelu}, Case{DType::kF32, Activation::kGelu},
                      Case{DType::kF32, Activation::kTanh}, Case{DType::kF32, Activation::kSigmoid},
                      Case{DType::kF32, Activation::kIdentity},
                      Case{DType::kF16, Activation::kRelu}, Case{DType::kF16, Activation::kGelu},
                      Case{DType::kF16, Activation::kTanh}, Case{DType::kF16, Activation::kSigmoid},
                      Case{DType::kF16, Activation::kIdentity},
                      Case{DType::kBF16, Activation::kRelu}, Case{DType::kBF16, Activation::kGelu},
                      Case{DType::kBF16, Activation::kTanh},
                      Case{DType::kBF16, Activation::kSigmoid},
                      Case{DType::kBF16, Activation::kIdentity}),
    CaseName);

std::unique_ptr<Backend> LoadedBackend(const Model& model, const Dataset& data, int threads = 2) {
  BackendOptions options;
  options.threads = threads;
  std::unique_ptr<Backend> backend = CreateCpuBackend(options);
  EXPECT_TRUE(backend->LoadModel(model).ok());
  EXPECT_TRUE(backend->LoadDataset(data).ok());
  return backend;
}

TEST(CpuBackendTest, WideModelDefaultBatch) {
  // Wider layers than the kernels' blocks, in one default-size batch, with a single group.
  Fixtures fixtures;
  const Model model = fixtures.MakeModel({{200, 300, 10}, DType::kF32, Activation::kRelu, 3});
  const Dataset data = fixtures.MakeDataset(model, 250, 1, 9);
  std::unique_ptr<Backend> backend = LoadedBackend(model, data);
  RunOptions run;
  run.keep_probabilities = true;
  ExpectMatchesReference(MustRun(*backend, run), ReferenceRun(model, data, 0, 0), data,
                         model.num_classes);
}

TEST(CpuBackendTest, NoiseRunMatchesReferenceWithTheSameNoise) {
  Fixtures fixtures;
  const Model model = fixtures.MakeModel({{20, 32, 5}, DType::kF32, Activation::kTanh, 4});
  const Dataset data = fixtures.MakeDataset(model, 150, 2, 8);
  std::unique_ptr<Backend> backend = LoadedBackend(model, data);
  RunOptions run;
  run.keep_probabilities = true;
  run.noise_stddev = 0.3;
  run.seed = 77;
  run.batch_rows = 40;
  const RunOutput noisy = MustRun(*backend, run);
  ExpectMatchesReference(noisy, ReferenceRun(model, data, 0.3, 77), data, model.num_classes);
  // The noise depends on the row, not on the batching. (The GEMM's last bits may: a BLAS
  // chooses its kernels by matrix size, hence the reference comparison rather than equality.)
  run.batch_rows = 150;
  ExpectMatchesReference(MustRun(*backend, run), ReferenceRun(model, data, 0.3, 77), data,
                         model.num_classes);
  // And it changes something.
  run.noise_stddev = 0;
  EXPECT_NE(MustRun(*backend, run).probabilities, noisy.probabilities);
}

TEST(CpuBackendTest, DeterministicRunToRun) {
  Fixtures fixtures;
  const Model model = fixtures.MakeModel({{50, 80, 40, 6}, DType::kBF16, Activation::kGelu, 6});
  const Dataset data = fixtures.MakeDataset(model, 500, 4, 2);
  std::unique_ptr<Backend> backend = LoadedBackend(model, data, 3);
  RunOptions run;
  run.keep_probabilities = true;
  run.batch_rows = 128;
  const RunOutput a = MustRun(*backend, run);
  for (int i = 0; i < 3; ++i) {
    const RunOutput b = MustRun(*backend, run);
    EXPECT_EQ(a.predictions, b.predictions);
    EXPECT_EQ(a.margins, b.margins);
    EXPECT_EQ(a.probabilities, b.probabilities);
    EXPECT_EQ(a.confusion, b.confusion);
    EXPECT_EQ(a.log_loss_sum, b.log_loss_sum);  // bit for bit
  }
}

TEST(CpuBackendTest, NanWeightMakesEveryRowNonFinite) {
  // A NaN in the first layer's weights reaches every logit through ReLU (which keeps NaN).
  Fixtures fixtures;
  const Model model = fixtures.MakeModel({{10, 16, 4}, DType::kF32, Activation::kRelu, 8},
                                         std::numeric_limits<float>::quiet_NaN(), true);
  const Dataset data = fixtures.MakeDataset(model, 40, 1, 3);
  std::unique_ptr<Backend> backend = LoadedBackend(model, data);
  const RunOutput out = MustRun(*backend, RunOptions{});
  EXPECT_EQ(out.non_finite_rows, 40);
  EXPECT_TRUE(std::isfinite(out.log_loss_sum));
  EXPECT_DOUBLE_EQ(out.log_loss_sum, 40 * -std::log(1e-15));
  for (int32_t p : out.predictions) EXPECT_EQ(p, 0);  // all logits NaN: class 0
  int64_t total = 0;
  for (int64_t n : out.confusion) total += n;
  EXPECT_EQ(total, 40);
}

TEST(CpuBackendTest, InfiniteFeatureFlagsOnlyItsRow) {
  Fixtures fixtures;
  const Model model = fixtures.MakeModel({{6, 8, 3}, DType::kF32, Activation::kIdentity, 9});
  Dataset data = fixtures.MakeDataset(model, 20, 1, 4);
  data.features[7 * data.cols + 2] = std::numeric_limits<float>::infinity();
  std::unique_ptr<Backend> backend = LoadedBackend(model, data);
  const RunOutput out = MustRun(*backend, RunOptions{});
  EXPECT_EQ(out.non_finite_rows, 1);
  EXPECT_TRUE(std::isfinite(out.log_loss_sum));
  EXPECT_EQ(out.margins[7], 0.0f);
  EXPECT_GE(out.predictions[7], 0);
  EXPECT_LT(out.predictions[7], 3);
}

TEST(CpuBackendTest, ProgressReportsEveryBatch) {
  Fixtures fixtures;
  const Model model = fixtures.MakeModel({{5, 3}, DType::kF32, Activation::kRelu, 1});
  const Dataset data = fixtures.MakeDataset(model, 100, 1, 1);
  std::unique_ptr<Backend> backend = LoadedBackend(model, data);
  std::vector<double> fractions;
  RunOptions run;
  run.batch_rows = 30;
  Result<RunOutput> out = backend->Run(run, [&](std::string_view stage, double fraction) {
    EXPECT_EQ(stage, "run");
    fractions.push_back(fraction);
  });
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(fractions, (std::vector<double>{0.3, 0.6, 0.9, 1.0}));
  EXPECT_TRUE(out->probabilities.empty());  // not kept unless asked
}

TEST(CpuBackendTest, TimeBatchesReturnsOnePositiveTimePerIteration) {
  Fixtures fixtures;
  const Model model = fixtures.MakeModel({{30, 40, 4}, DType::kF16, Activation::kRelu, 2});
  const Dataset data = fixtures.MakeDataset(model, 10, 1, 2);
  std::unique_ptr<Backend> backend = LoadedBackend(model, data);
  for (int64_t batch : {1, 10, 64}) {  // 64 > rows: the dataset repeats
    Result<std::vector<double>> times = backend->TimeBatches(batch, 2, 5);
    ASSERT_TRUE(times.ok()) << times.status().ToString();
    ASSERT_EQ(times->size(), 5u);
    for (double t : *times) EXPECT_GT(t, 0.0);
  }
  EXPECT_EQ(backend->TimeBatches(0, 1, 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(backend->TimeBatches(4, -1, 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(backend->TimeBatches(4, 1, 0).status().code(), StatusCode::kInvalidArgument);
  // Timing leaves the loaded dataset intact.
  RunOptions run;
  run.keep_probabilities = true;
  ExpectMatchesReference(MustRun(*backend, run), ReferenceRun(model, data, 0, 0), data,
                         model.num_classes);
}

TEST(CpuBackendTest, RefusesMisuse) {
  Fixtures fixtures;
  const Model model = fixtures.MakeModel({{5, 3}, DType::kF32, Activation::kRelu, 1});
  const Model other = fixtures.MakeModel({{6, 3}, DType::kF32, Activation::kRelu, 1});
  Dataset data = fixtures.MakeDataset(model, 10, 1, 1);
  data.labels[0] = 2;  // the highest class, so that a two-class model does not fit
  std::unique_ptr<Backend> backend = CreateCpuBackend(BackendOptions{});
  EXPECT_EQ(backend->Run(RunOptions{}).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(backend->LoadDataset(data).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(backend->LoadModel(other).ok());
  const Status incompatible = backend->LoadDataset(data);
  EXPECT_EQ(incompatible.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(incompatible.message(), HasSubstr("data"));
  EXPECT_EQ(backend->Run(RunOptions{}).status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(backend->LoadModel(model).ok());
  ASSERT_TRUE(backend->LoadDataset(data).ok());
  // A model with fewer classes loaded after the dataset: the labels no longer fit.
  const Model binary = fixtures.MakeModel({{5, 2}, DType::kF32, Activation::kRelu, 1});
  ASSERT_TRUE(backend->LoadModel(binary).ok());
  EXPECT_EQ(backend->Run(RunOptions{}).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(backend->TimeBatches(1, 0, 1).status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(backend->LoadModel(model).ok());
  EXPECT_TRUE(backend->Run(RunOptions{}).ok());
  RunOptions bad;
  bad.noise_stddev = -1;
  EXPECT_EQ(backend->Run(bad).status().code(), StatusCode::kInvalidArgument);
  bad.noise_stddev = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(backend->Run(bad).status().code(), StatusCode::kInvalidArgument);
  bad = RunOptions{};
  bad.batch_rows = -5;
  EXPECT_EQ(backend->Run(bad).status().code(), StatusCode::kInvalidArgument);
}

TEST(CpuBackendTest, DescribesItselfAndCountsMemory) {
  Fixtures fixtures;
  const Model model = fixtures.MakeModel({{100, 50, 4}, DType::kF16, Activation::kRelu, 1});
  const Dataset data = fixtures.MakeDataset(model, 64, 1, 1);
  std::unique_ptr<Backend> backend = LoadedBackend(model, data, 2);
  EXPECT_EQ(backend->kind(), BackendKind::kCpu);
  EXPECT_THAT(backend->description(), HasSubstr("cpu: "));
  EXPECT_THAT(backend->description(), HasSubstr("2 threads"));
  const uint64_t weights = static_cast<uint64_t>(model.parameters()) * sizeof(float);
  const uint64_t dataset = static_cast<uint64_t>(data.rows * (data.cols + 1)) * 4;
  EXPECT_GE(backend->MemoryBytes(), weights + dataset);
  ASSERT_TRUE(backend->Run(RunOptions{}).ok());
  EXPECT_GE(backend->MemoryBytes(), weights + dataset + 64 * 50 * sizeof(float));
}

// --- the GEMM -----------------------------------------------------------------------------------

void ExpectGemmMatchesNaive(const std::vector<float>& x, const std::vector<float>& w,
                            const std::vector<float>& y, int64_t n, int64_t in, int64_t out) {
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      double exact = 0;
      double magnitude = 0;
      for (int64_t k = 0; k < in; ++k) {
        exact += static_cast<double>(x[r * in + k]) * w[o * in + k];
        magnitude += std::abs(static_cast<double>(x[r * in + k]) * w[o * in + k]);
      }
      // FP32 accumulation of `in` products: error at most ~in * 2^-24 * sum |x w|.
      const double tolerance = (static_cast<double>(in) + 2) * 6e-8 * magnitude + 1e-30;
      ASSERT_NEAR(y[r * out + o], exact, tolerance)
          << "n=" << n << " in=" << in << " out=" << out << " at " << r << "," << o;
    }
  }
}

TEST(GemmTest, BuiltinMatchesNaiveLoop) {
  std::mt19937 rng(123);
  const std::vector<std::string_view> kernels = internal::SupportedBuiltinKernels();
  ASSERT_FALSE(kernels.empty());
  EXPECT_EQ(kernels.back(), "baseline");
  for (std::string_view kernel : kernels) {
    SCOPED_TRACE(std::string(kernel));
    std::printf("built-in kernel %s\n", std::string(kernel).c_str());
    for (int threads : {1, 3}) {
      internal::ThreadPool pool(threads);
      for (int64_t n : {1, 5, 6, 7, 97, 200}) {
        for (int64_t in : {1, 3, 64, 129}) {
          for (int64_t out : {1, 7, 16, 33, 100}) {
            const std::vector<float> x = RandomVector(rng, static_cast<size_t>(n * in), 1.0f);
            const std::vector<float> w = RandomVector(rng, static_cast<size_t>(out * in), 1.0f);
            std::vector<float> y(static_cast<size_t>(n * out), std::nanf(""));
            internal::BuiltinSgemm(x.data(), w.data(), y.data(), n, in, out, pool, kernel);
            ExpectGemmMatchesNaive(x, w, y, n, in, out);
          }
        }
      }
    }
  }
}

TEST(GemmTest, BuiltinRowsDoNotDependOnBatchOrThreads) {
  // gemm.h: with the built-in engine an element is one FP32 dot product over k in order, whatever
  // the batch around its row and the threads. Batches of 1 to 7 rows take every tile shape (full
  // strips of 6, strips of 3 to 5, one or two rows over several panels), and 300 outputs give a
  // partial last panel; 16 threads cut the 50 rows by columns, 1 thread not at all.
  std::mt19937 rng(99);
  const int64_t in = 77;
  const int64_t out = 300;
  const int64_t n = 50;
  const std::vector<float> x = RandomVector(rng, static_cast<size_t>(n * in), 1.0f);
  const std::vector<float> w = RandomVector(rng, static_cast<size_t>(out * in), 1.0f);
  for (std::string_view kernel : internal::SupportedBuiltinKernels()) {
    SCOPED_TRACE(std::string(kernel));
    const internal::PackedWeights packed = internal::PackedWeights::PackBuiltin(w, out, in, kernel);
    internal::ThreadPool one(1);
    std::vector<float> whole(static_cast<size_t>(n * out));
    internal::Sgemm(x.data(), n, packed, whole.data(), one);
    ExpectGemmMatchesNaive(x, w, whole, n, in, out);
    internal::ThreadPool many(16);
    std::vector<float> y(static_cast<size_t>(n * out), std::nanf(""));
    internal::Sgemm(x.data(), n, packed, y.data(), many);
    ASSERT_EQ(std::memcmp(y.data(), whole.data(), y.size() * sizeof(float)), 0);
    for (int64_t batch = 1; batch <= 7; ++batch) {
      for (int64_t r0 = 0; r0 < n; r0 += batch) {
        const int64_t rows = std::min(batch, n - r0);
        std::vector<float> part(static_cast<size_t>(rows * out), std::nanf(""));
        internal::Sgemm(x.data() + r0 * in, rows, packed, part.data(), batch % 2 ? one : many);
        ASSERT_EQ(std::memcmp(part.data(), whole.data() + r0 * out, part.size() * sizeof(float)),
                  0)
            << "batch " << batch << " rows " << r0 << ".." << r0 + rows;
      }
    }
  }
}

TEST(GemmTest, BuiltinSharesRowsOutEvenly) {
  // The built-in engine cuts a batch into row blocks of whole 6-row strips, the first blocks one
  // strip more than the rest, so that no thread works on alone through a block much larger than
  // the others (a batch of 1,024 on 2 threads used to be 11 blocks of 90 rows and one of 34).
  // Only the block that ends the batch may be shorter by the rows its last strip lacks.
  constexpr int64_t kStrip = 6;
  std::mt19937 rng(5);
  const int64_t in = 8;
  const int64_t out = 64;
  const std::vector<float> w = RandomVector(rng, static_cast<size_t>(out * in), 1.0f);
  const internal::PackedWeights packed = internal::PackedWeights::PackBuiltin(w, out, in, {});
  for (int threads : {2, 16}) {
    internal::ThreadPool pool(threads);
    for (int64_t n : {1024, 4096, 1000, 583}) {
      SCOPED_TRACE("threads " + std::to_string(threads) + ", n " + std::to_string(n));
      const std::vector<float> x = RandomVector(rng, static_cast<size_t>(n * in), 1.0f);
      std::vector<float> y(static_cast<size_t>(n * out));
      std::mutex mu;
      std::set<std::pair<int64_t, int64_t>> blocks;
      internal::Sgemm(x.data(), n, packed, y.data(), pool, [&](int64_t r0, int64_t r1, int64_t,
                                                                 int64_t) {
        std::lock_guard<std::mutex> lock(mu);
        blocks.insert({r0, r1});
      });
      ASSERT_GT(blocks.size(), 1u);
      int64_t largest = 0;
      for (const auto& [r0, r1] : blocks) largest = std::max(largest, r1 - r0);
      int64_t next = 0;
      for (const auto& [r0, r1] : blocks) {
        EXPECT_EQ(r0, next);
        next = r1;
        if (r1 < n) {
          EXPECT_EQ((r1 - r0) % kStrip, 0) << r0 << ".." << r1;
          EXPECT_LE(largest - (r1 - r0), kStrip) << r0 << ".." << r1;
        } else {
          EXPECT_LT(largest - (r1 - r0), 2 * kStrip) << r0 << ".." << r1;
        }
      }
      EXPECT_EQ(next, n);
    }
  }
}

TEST(GemmTest, EnginesMatchNaiveLoopAndCoverEveryBlockOnce) {
  // Both engines (kBlas is the built-in one without a CBLAS); the epilogue sees each element once.
  // 4 and 16 threads cut the larger products into grids of row x column blocks.
  std::mt19937 rng(7);
  for (int threads : {3, 4, 16}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    internal::ThreadPool pool(threads);
    for (internal::GemmEngine engine :
         {internal::GemmEngine::kBlas, internal::GemmEngine::kBuiltin}) {
      for (int64_t n : {1, 9, 300}) {
        for (int64_t out : {5, 64, 130}) {
          const int64_t in = 70;
          const std::vector<float> x = RandomVector(rng, static_cast<size_t>(n * in), 1.0f);
          const std::vector<float> w = RandomVector(rng, static_cast<size_t>(out * in), 1.0f);
          const internal::PackedWeights packed = internal::PackedWeights::Pack(w, out, in, engine);
          std::vector<float> y(static_cast<size_t>(n * out), std::nanf(""));
          std::vector<std::atomic<int>> seen(static_cast<size_t>(n * out));
          internal::Sgemm(x.data(), n, packed, y.data(), pool,
                          [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
                            for (int64_t r = r0; r < r1; ++r) {
                              for (int64_t c = c0; c < c1; ++c) seen[r * out + c]++;
                            }
                          });
          ExpectGemmMatchesNaive(x, w, y, n, in, out);
          for (const std::atomic<int>& s : seen) ASSERT_EQ(s.load(), 1);
        }
      }
    }
  }
  std::printf("default engine: %s\n",
              internal::GemmEngineDescription(internal::DefaultGemmEngine()).c_str());
}

// --- the factory --------------------------------------------------------------------------------

TEST(BackendFactoryTest, KindNamesRoundTrip) {
  for (BackendKind kind : {BackendKind::kAuto, BackendKind::kCpu, BackendKind::kCuda}) {
    Result<BackendKind> parsed = ParseBackendKind(BackendKindName(kind));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, kind);
  }
  EXPECT_EQ(ParseBackendKind("gpu").status().code(), StatusCode::kInvalidArgument);
}

TEST(BackendFactoryTest, ChoosesByDevice) {
  BackendOptions options;
  options.kind = BackendKind::kCpu;
  Result<std::unique_ptr<Backend>> cpu = CreateBackend(options);
  ASSERT_TRUE(cpu.ok());
  EXPECT_EQ((*cpu)->kind(), BackendKind::kCpu);

  const DeviceList devices = ListDevices();
  options.kind = BackendKind::kAuto;
  Result<std::unique_ptr<Backend>> automatic = CreateBackend(options);
  ASSERT_TRUE(automatic.ok());
  options.kind = BackendKind::kCuda;
  Result<std::unique_ptr<Backend>> cuda = CreateBackend(options);
  if (devices.devices.empty()) {
    std::printf("no CUDA device (%s): auto must pick the CPU and cuda must fail\n",
                devices.reason.c_str());
    EXPECT_EQ((*automatic)->kind(), BackendKind::kCpu);
    ASSERT_FALSE(cuda.ok());
    EXPECT_EQ(cuda.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_THAT(cuda.status().message(), HasSubstr(devices.reason));
  } else {
    EXPECT_EQ((*automatic)->kind(), BackendKind::kCuda);
    ASSERT_TRUE(cuda.ok()) << cuda.status().ToString();
    EXPECT_EQ((*cuda)->kind(), BackendKind::kCuda);
  }
}

}  // namespace
}  // namespace sov::gpu_eval
