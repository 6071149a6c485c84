// The CUDA backend against the CPU backend (the reference) on generated models: same predictions
// except near ties, same counts, log-loss within tolerance, noise bit-identical, deterministic.
// Where no CUDA device is usable each test prints why and compares a second CPU backend with the
// reference instead, so that the comparison code itself still runs.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "bench/gpu-eval/backend_comparison.h"
#include "gpu-eval/backend.h"
#include "gpu-eval/devices.h"
#include "gpu-eval/internal/half.h"

namespace sov::gpu_eval {
namespace {

using crosscheck::Compare;
using crosscheck::Comparison;
using crosscheck::DatasetSpec;
using crosscheck::GeneratedModel;
using crosscheck::ModelSpec;

// The backend under test: CUDA when a device is usable, else (saying why) a CPU backend.
std::unique_ptr<Backend> CandidateBackend(Precision precision) {
  BackendOptions options;
  options.precision = precision;
  const DeviceList devices = ListDevices();
  if (devices.devices.empty()) {
    std::printf("[   NOTE   ] no CUDA device (%s): checking the CPU backend against itself\n",
                devices.reason.c_str());
    options.kind = BackendKind::kCpu;
    return CreateCpuBackend(options);
  }
  options.kind = BackendKind::kCuda;
  Result<std::unique_ptr<Backend>> cuda = CreateCudaBackend(options);
  EXPECT_TRUE(cuda.ok()) << cuda.status().ToString();
  return cuda.ok() ? std::move(cuda).value() : nullptr;
}

std::unique_ptr<Backend> ReferenceBackend() {
  BackendOptions options;
  options.kind = BackendKind::kCpu;
  return CreateCpuBackend(options);
}

GeneratedModel MustMakeModel(const ModelSpec& spec) {
  Result<GeneratedModel> model = crosscheck::MakeRandomModel(spec);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? std::move(model).value() : GeneratedModel{};
}

Dataset MustMakeDataset(const DatasetSpec& spec) {
  Result<Dataset> dataset = crosscheck::MakeRandomDataset(spec);
  EXPECT_TRUE(dataset.ok()) << dataset.status().ToString();
  return dataset.ok() ? std::move(dataset).value() : Dataset{};
}

RunOutput MustRun(Backend& backend, const RunOptions& options) {
  Result<RunOutput> out = backend.Run(options);
  EXPECT_TRUE(out.ok()) << backend.description() << ": " << out.status().ToString();
  return out.ok() ? std::move(out).value() : RunOutput{};
}

void Load(Backend& backend, const Model& model, const Dataset& dataset) {
  ASSERT_TRUE(backend.LoadModel(model).ok()) << backend.description();
  ASSERT_TRUE(backend.LoadDataset(dataset).ok()) << backend.description();
}

std::string Problems(const Comparison& c) {
  std::string text;
  for (const std::string& p : c.problems) text += "\n  " + p;
  return text;
}

// Runs `options` on the reference and the candidate and expects agreement within `precision`'s
// tolerances.
void ExpectAgreement(Backend& reference, Backend& candidate, const Dataset& dataset,
                     const RunOptions& options, Precision precision, const std::string& what) {
  const RunOutput expected = MustRun(reference, options);
  const RunOutput actual = MustRun(candidate, options);
  const Comparison c =
      Compare(expected, actual, dataset.labels, crosscheck::TolerancesFor(precision));
  EXPECT_TRUE(c.ok()) << what << " on " << candidate.description() << ":" << Problems(c);
  EXPECT_EQ(actual.rows, dataset.rows);
}

using AgreementParam = std::tuple<DType, Activation, Precision>;

class CudaAgreementTest : public ::testing::TestWithParam<AgreementParam> {};

// Every dtype, activation and precision: clean and noisy runs agree with the CPU backend, over
// several batches (700 rows each) and with probabilities kept.
TEST_P(CudaAgreementTest, MatchesCpuBackend) {
  const auto [dtype, activation, precision] = GetParam();
  const GeneratedModel model = MustMakeModel({{13, 24, 16, 5}, dtype, activation, 11});
  const Dataset dataset = MustMakeDataset({.rows = 2000, .cols = 13, .classes = 5, .groups = 3});
  std::unique_ptr<Backend> reference = ReferenceBackend();
  std::unique_ptr<Backend> candidate = CandidateBackend(precision);
  ASSERT_NE(candidate, nullptr);
  Load(*reference, model.model, dataset);
  Load(*candidate, model.model, dataset);

  RunOptions options;
  options.batch_rows = 700;
  options.keep_probabilities = true;
  ExpectAgreement(*reference, *candidate, dataset, options, precision, "clean run");
  options.noise_stddev = 0.3;
  options.seed = 20261129;
  ExpectAgreement(*reference, *candidate, dataset, options, precision, "noisy run");
}

INSTANTIATE_TEST_SUITE_P(
    AllDtypesActivationsPrecisions, CudaAgreementTest,
    ::testing::Combine(::testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                       ::testing::Values(Activation::kIdentity, Activation::kRelu,
                                         Activation::kGelu, Activation::kTanh,
                                         Activation::kSigmoid),
                       ::testing::Values(Precision::kExact, Precision::kFast)),
    [](const ::testing::TestParamInfo<AgreementParam>& param) {
      return std::string(DTypeName(std::get<0>(param.param))) + "_" +
             std::string(ActivationName(std::get<1>(param.param))) + "_" +
             (std::get<2>(param.param) == Precision::kExact ? "exact" : "fast");
    });

// Many classes (more than a warp's 32 lanes) and a binary logistic regression, default batch.
TEST(CudaBackendTest, WideAndBinaryHeadsMatch) {
  for (const std::vector<int64_t>& widths :
       {std::vector<int64_t>{10, 100}, std::vector<int64_t>{10, 40, 2}}) {
    const GeneratedModel model = MustMakeModel({widths, DType::kF32, Activation::kRelu, 5});
    const Dataset dataset =
        MustMakeDataset({.rows = 1500, .cols = 10, .classes = widths.back(), .seed = 6});
    std::unique_ptr<Backend> reference = ReferenceBackend();
    std::unique_ptr<Backend> candidate = CandidateBackend(Precision::kExact);
    ASSERT_NE(candidate, nullptr);
    Load(*reference, model.model, dataset);
    Load(*candidate, model.model, dataset);
    RunOptions options;
    options.keep_probabilities = true;
    ExpectAgreement(*reference, *candidate, dataset, options, Precision::kExact,
                    std::to_string(widths.back()) + " classes");
  }
}

// Rows of infinite features give non-finite logits: both backends count the same rows.
TEST(CudaBackendTest, CountsNonFiniteRowsLikeCpu) {
  const GeneratedModel model = MustMakeModel({{6, 3}, DType::kF32, Activation::kRelu, 8});
  const Dataset dataset =
      MustMakeDataset({.rows = 700, .cols = 6, .classes = 3, .infinite_every = 7, .seed = 9});
  std::unique_ptr<Backend> reference = ReferenceBackend();
  std::unique_ptr<Backend> candidate = CandidateBackend(Precision::kExact);
  ASSERT_NE(candidate, nullptr);
  Load(*reference, model.model, dataset);
  Load(*candidate, model.model, dataset);
  const RunOutput expected = MustRun(*reference, {});
  const RunOutput actual = MustRun(*candidate, {});
  EXPECT_EQ(expected.non_finite_rows, 100);
  EXPECT_EQ(actual.non_finite_rows, 100);
  const Comparison c = Compare(expected, actual, dataset.labels, crosscheck::kExactTolerances);
  EXPECT_TRUE(c.ok()) << Problems(c);
  EXPECT_EQ(actual.margins[0], 0.0f);  // row 0 is infinite: margin 0 by definition
}

// Exact ties between logits go to the lowest index: zero weights and a bias of [0, 1, 1, 0]
// make classes 1 and 2 tie in every row.
TEST(CudaBackendTest, ExactTiesPickTheLowestIndex) {
  using crosscheck::EncodeTensor;
  const std::vector<TensorToWrite> tensors = {
      {"0.weight", DType::kF32, {4, 3}, EncodeTensor(std::vector<float>(12, 0.0f), DType::kF32)},
      {"0.bias", DType::kF32, {4}, EncodeTensor({0.0f, 1.0f, 1.0f, 0.0f}, DType::kF32)}};
  Result<GeneratedModel> model =
      crosscheck::ModelFromTensors(tensors, {{"sov.model", "feedforward-classifier"}});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const Dataset dataset = MustMakeDataset({.rows = 300, .cols = 3, .classes = 4});
  std::unique_ptr<Backend> candidate = CandidateBackend(Precision::kFast);
  ASSERT_NE(candidate, nullptr);
  Load(*candidate, model->model, dataset);
  const RunOutput out = MustRun(*candidate, {});
  ASSERT_EQ(out.predictions.size(), 300u);
  for (size_t r = 0; r < out.predictions.size(); ++r) {
    ASSERT_EQ(out.predictions[r], 1) << "row " << r;
    ASSERT_EQ(out.margins[r], 0.0f) << "row " << r;
  }
}

// Two runs give bit-identical outputs, clean and noisy, with several batches.
TEST(CudaBackendTest, RunsAreDeterministic) {
  const GeneratedModel model = MustMakeModel({{20, 64, 7}, DType::kBF16, Activation::kGelu, 3});
  const Dataset dataset = MustMakeDataset({.rows = 3000, .cols = 20, .classes = 7, .groups = 2});
  for (Precision precision : {Precision::kExact, Precision::kFast}) {
    std::unique_ptr<Backend> candidate = CandidateBackend(precision);
    ASSERT_NE(candidate, nullptr);
    Load(*candidate, model.model, dataset);
    RunOptions options;
    options.batch_rows = 1024;
    options.keep_probabilities = true;
    for (double noise : {0.0, 0.5}) {
      options.noise_stddev = noise;
      const RunOutput first = MustRun(*candidate, options);
      const RunOutput second = MustRun(*candidate, options);
      EXPECT_EQ(crosscheck::FirstDifference(first, second), "")
          << candidate->description() << ", noise " << noise;
    }
  }
}

// TimeBatches returns one positive time per timed pass, for batches below and above the
// dataset's size (the latter repeats the rows cyclically).
TEST(CudaBackendTest, TimesBatches) {
  const GeneratedModel model = MustMakeModel({{16, 32, 4}, DType::kF16, Activation::kTanh, 4});
  const Dataset dataset = MustMakeDataset({.rows = 100, .cols = 16, .classes = 4});
  std::unique_ptr<Backend> candidate = CandidateBackend(Precision::kFast);
  ASSERT_NE(candidate, nullptr);
  Load(*candidate, model.model, dataset);
  for (int64_t batch : {1, 64, 1000}) {
    Result<std::vector<double>> times = candidate->TimeBatches(batch, 2, 5);
    ASSERT_TRUE(times.ok()) << times.status().ToString();
    ASSERT_EQ(times->size(), 5u);
    for (double t : *times) EXPECT_GT(t, 0.0) << "batch " << batch;
  }
  EXPECT_FALSE(candidate->TimeBatches(0, 0, 1).ok());
  EXPECT_FALSE(candidate->TimeBatches(8, 0, 0).ok());
}

// The backend holds at least the model's weights and the dataset's features once loaded.
TEST(CudaBackendTest, ReportsMemoryHeld) {
  const GeneratedModel model = MustMakeModel({{32, 64, 10}, DType::kF32, Activation::kRelu, 2});
  const Dataset dataset = MustMakeDataset({.rows = 1000, .cols = 32, .classes = 10});
  std::unique_ptr<Backend> candidate = CandidateBackend(Precision::kExact);
  ASSERT_NE(candidate, nullptr);
  Load(*candidate, model.model, dataset);
  const uint64_t weights = 4 * static_cast<uint64_t>(model.model.parameters());
  const uint64_t features = 4 * static_cast<uint64_t>(dataset.rows * dataset.cols);
  EXPECT_GE(candidate->MemoryBytes(), weights + features);
}

// Calls out of order fail cleanly instead of touching missing buffers.
TEST(CudaBackendTest, RefusesCallsBeforeLoading) {
  std::unique_ptr<Backend> candidate = CandidateBackend(Precision::kExact);
  ASSERT_NE(candidate, nullptr);
  EXPECT_EQ(candidate->Run({}).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(candidate->TimeBatches(1, 0, 1).status().code(), StatusCode::kFailedPrecondition);
  const Dataset dataset = MustMakeDataset({.rows = 10, .cols = 4, .classes = 2});
  EXPECT_EQ(candidate->LoadDataset(dataset).code(), StatusCode::kFailedPrecondition);
  const GeneratedModel model = MustMakeModel({{5, 2}, DType::kF32, Activation::kRelu, 1});
  ASSERT_TRUE(candidate->LoadModel(model.model).ok());
  EXPECT_EQ(candidate->LoadDataset(dataset).code(), StatusCode::kInvalidArgument);  // 4 != 5 cols
}

// Without a device the factory says why (FAILED_PRECONDITION); with one, a device index that does
// not exist is refused and the description names the device and the arithmetic.
TEST(CudaBackendTest, FactoryReportsDevices) {
  BackendOptions options;
  options.kind = BackendKind::kCuda;
  const DeviceList devices = ListDevices();
  if (devices.devices.empty()) {
    std::printf("[   NOTE   ] no CUDA device (%s): checking the factory's refusal\n",
                devices.reason.c_str());
    Result<std::unique_ptr<Backend>> cuda = CreateCudaBackend(options);
    ASSERT_FALSE(cuda.ok());
    EXPECT_TRUE(cuda.status().code() == StatusCode::kFailedPrecondition ||
                cuda.status().code() == StatusCode::kUnimplemented)
        << cuda.status().ToString();
    EXPECT_EQ(CreateBackend(options).status().code(), StatusCode::kFailedPrecondition);
    return;
  }
  options.device = 1000;
  EXPECT_EQ(CreateCudaBackend(options).status().code(), StatusCode::kInvalidArgument);
  options.device = devices.devices[0].index;
  Result<std::unique_ptr<Backend>> cuda = CreateCudaBackend(options);
  ASSERT_TRUE(cuda.ok()) << cuda.status().ToString();
  EXPECT_EQ((*cuda)->kind(), BackendKind::kCuda);
  const std::string description = (*cuda)->description();
  EXPECT_NE(description.find(devices.devices[0].name), std::string::npos) << description;
  EXPECT_NE(description.find("exact FP32"), std::string::npos) << description;
}

// The comparison itself catches a real disagreement (so that the checks above can fail).
TEST(CudaBackendTest, ComparisonDetectsDisagreement) {
  const GeneratedModel model = MustMakeModel({{8, 16, 3}, DType::kF32, Activation::kRelu, 12});
  const Dataset dataset = MustMakeDataset({.rows = 500, .cols = 8, .classes = 3});
  std::unique_ptr<Backend> reference = ReferenceBackend();
  Load(*reference, model.model, dataset);
  const RunOutput expected = MustRun(*reference, {});
  RunOutput wrong = expected;
  size_t confident = 0;
  while (confident < wrong.margins.size() && wrong.margins[confident] < 0.5f) ++confident;
  ASSERT_LT(confident, wrong.margins.size()) << "no confident row to corrupt";
  wrong.predictions[confident] = (wrong.predictions[confident] + 1) % 3;
  EXPECT_FALSE(Compare(expected, wrong, dataset.labels, crosscheck::kFastTolerances).ok());
  RunOutput lossy = expected;
  lossy.log_loss_sum *= 1.001;
  EXPECT_FALSE(Compare(expected, lossy, dataset.labels, crosscheck::kExactTolerances).ok());
  EXPECT_TRUE(Compare(expected, expected, dataset.labels, crosscheck::kExactTolerances).ok());
}

}  // namespace
}  // namespace sov::gpu_eval
