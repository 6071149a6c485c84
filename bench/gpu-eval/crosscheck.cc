// gpu_eval_crosscheck: runs the CUDA backend beside the CPU backend (the reference) on generated
// models and datasets, from a 20-32-5 model to 784-2048-2048-10 on 100k rows (2 to 100 classes,
// up to 25 groups), in F32, F16 and BF16 weights, exact and fast precision, clean and with input
// noise (the F16 and BF16 784-2048-2048-10 cases clean only, to save CPU reference time), and
// prints one line per run.
// Exit status: 0 when every run agrees within the tolerances of backend_comparison.h, 1 on any
// disagreement or error, 2 when there is no usable CUDA device (the reason is printed).
//
// A plain main: the accelerator image has no GoogleTest. Flags: `--quick` skips the
// 784-2048-2048-10 cases (whose CPU reference runs take seconds each); `--cpu` checks a second CPU
// backend instead of CUDA, a dry run of the whole program on machines without a GPU.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench/gpu-eval/backend_comparison.h"
#include "gpu-eval/backend.h"
#include "gpu-eval/devices.h"

namespace sov::gpu_eval {
namespace {

using crosscheck::Comparison;
using crosscheck::DatasetSpec;
using crosscheck::GeneratedModel;
using crosscheck::ModelSpec;

constexpr double kNoiseStddev = 0.1;
constexpr uint64_t kNoiseSeed = 20261129;

struct Case {
  ModelSpec model;
  DatasetSpec dataset;
  int64_t batch_rows = 0;  // 0: the backends' default
  bool large = false;      // skipped by --quick
  bool noisy = true;       // also a run with input noise (each costs a CPU reference run)
};

std::vector<Case> Cases() {
  std::vector<Case> cases;
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    cases.push_back({{{20, 32, 5}, dtype, Activation::kRelu, 1},
                     {.rows = 5000, .cols = 20, .classes = 5, .groups = 3, .seed = 2},
                     1024});
  }
  const Activation activations[] = {Activation::kIdentity, Activation::kGelu, Activation::kTanh,
                                    Activation::kSigmoid, Activation::kRelu};
  const DType dtypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kF32, DType::kBF16};
  for (int i = 0; i < 5; ++i) {
    cases.push_back({{{64, 128, 64, 10}, dtypes[i], activations[i], 10u + i},
                     {.rows = 20000, .cols = 64, .classes = 10, .groups = 2, .seed = 20u + i},
                     4096});
  }
  cases.push_back({{{30, 2}, DType::kF32, Activation::kRelu, 3},
                   {.rows = 10000, .cols = 30, .classes = 2, .infinite_every = 97, .seed = 4}});
  cases.push_back({{{10, 100}, DType::kF16, Activation::kRelu, 5},
                   {.rows = 8000, .cols = 10, .classes = 100, .seed = 6},
                   3000});
  // Both sides of the CUDA head's limits (kernels.h): 32 classes is the widest head run one row
  // per thread (3 groups: 3,072 confusion cells, counted in global memory), 33 the narrowest run
  // one warp per row; 10 classes in 25 groups (2,500 cells) also count in global memory.
  cases.push_back({{{16, 32}, DType::kF32, Activation::kRelu, 7},
                   {.rows = 6000, .cols = 16, .classes = 32, .groups = 3, .seed = 8},
                   2000});
  cases.push_back({{{16, 33}, DType::kBF16, Activation::kRelu, 9},
                   {.rows = 6000, .cols = 16, .classes = 33, .groups = 2, .seed = 10}});
  cases.push_back({{{64, 64, 10}, DType::kF32, Activation::kTanh, 11},
                   {.rows = 20000, .cols = 64, .classes = 10, .groups = 25, .seed = 12},
                   4096});
  const Activation big_activations[] = {Activation::kRelu, Activation::kGelu, Activation::kRelu};
  const DType big_dtypes[] = {DType::kF32, DType::kF16, DType::kBF16};
  for (int i = 0; i < 3; ++i) {
    cases.push_back({{{784, 2048, 2048, 10}, big_dtypes[i], big_activations[i], 30u + i},
                     {.rows = 100000, .cols = 784, .classes = 10, .groups = 4, .seed = 40u + i},
                     0,
                     true,
                     /*noisy=*/i == 0});
  }
  return cases;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct TimedOutput {
  RunOutput output;
  double seconds = 0;
};

Result<TimedOutput> TimedRun(Backend& backend, const RunOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  Result<RunOutput> out = backend.Run(options);
  if (!out.ok()) return out.status().WithContext(backend.description());
  return TimedOutput{std::move(out).value(), SecondsSince(start)};
}

Status LoadBoth(Backend& backend, const Model& model, const Dataset& dataset) {
  SOV_RETURN_IF_ERROR(backend.LoadModel(model).WithContext(backend.description()));
  return backend.LoadDataset(dataset).WithContext(backend.description());
}

std::string PrecisionLabel(Precision precision) {
  return precision == Precision::kExact ? "exact" : "fast";
}

// The backend under test: CUDA, or with --cpu another CPU backend.
Result<std::unique_ptr<Backend>> CreateCandidate(Precision precision, bool cpu) {
  BackendOptions options;
  options.kind = cpu ? BackendKind::kCpu : BackendKind::kCuda;
  options.precision = precision;
  if (cpu) return CreateCpuBackend(options);
  return CreateCudaBackend(options);
}

// Runs one case: the CPU reference clean and noisy, then the candidate in both precisions, each
// run compared with the reference and repeated once for determinism. Returns the failures.
int RunCase(const Case& c, bool cpu_candidate) {
  const std::string name = crosscheck::DescribeSpec(c.model);
  Result<GeneratedModel> model = crosscheck::MakeRandomModel(c.model);
  Result<Dataset> dataset = crosscheck::MakeRandomDataset(c.dataset);
  if (!model.ok() || !dataset.ok()) {
    std::printf("%s: FAILED to generate: %s\n", name.c_str(),
                (!model.ok() ? model.status() : dataset.status()).ToString().c_str());
    return 1;
  }
  BackendOptions cpu_options;
  cpu_options.kind = BackendKind::kCpu;
  std::unique_ptr<Backend> cpu = CreateCpuBackend(cpu_options);
  if (Status s = LoadBoth(*cpu, model->model, *dataset); !s.ok()) {
    std::printf("%s: FAILED: %s\n", name.c_str(), s.ToString().c_str());
    return 1;
  }

  RunOptions options;
  options.batch_rows = c.batch_rows;
  options.keep_probabilities = true;
  options.seed = kNoiseSeed;
  std::vector<TimedOutput> references;
  std::vector<double> noises = {0.0};
  if (c.noisy) noises.push_back(kNoiseStddev);
  for (double noise : noises) {
    options.noise_stddev = noise;
    Result<TimedOutput> reference = TimedRun(*cpu, options);
    if (!reference.ok()) {
      std::printf("%s: FAILED: %s\n", name.c_str(), reference.status().ToString().c_str());
      return 1;
    }
    references.push_back(std::move(reference).value());
  }

  int failures = 0;
  for (Precision precision : {Precision::kExact, Precision::kFast}) {
    Result<std::unique_ptr<Backend>> cuda = CreateCandidate(precision, cpu_candidate);
    Status loaded = cuda.ok() ? LoadBoth(**cuda, model->model, *dataset) : cuda.status();
    if (!loaded.ok()) {
      std::printf("%s | %s: FAILED: %s\n", name.c_str(), PrecisionLabel(precision).c_str(),
                  loaded.ToString().c_str());
      ++failures;
      continue;
    }
    Backend& backend = **cuda;
    for (size_t i = 0; i < references.size(); ++i) {
      options.noise_stddev = noises[i];
      Result<TimedOutput> first = TimedRun(backend, options);
      Result<TimedOutput> again = first.ok() ? TimedRun(backend, options) : first;
      if (!again.ok()) {
        std::printf("%s | %s | noise %.2f: FAILED: %s\n", name.c_str(),
                    PrecisionLabel(precision).c_str(), options.noise_stddev,
                    again.status().ToString().c_str());
        ++failures;
        continue;
      }
      const Comparison cmp =
          crosscheck::Compare(references[i].output, first->output, dataset->labels,
                              crosscheck::TolerancesFor(precision));
      const std::string repeat = crosscheck::FirstDifference(first->output, again->output);
      const bool ok = cmp.ok() && repeat.empty();
      std::printf(
          "%-26s | %-5s | noise %.2f | rows %7lld | differ %4lld (%4lld in ties) | "
          "correct %7lld / %7lld | max|dp| %.2e | log-loss cpu %.6e cuda %.6e | non-finite "
          "%lld/%lld | reference %.3f s candidate %.4f s | %s\n",
          name.c_str(), PrecisionLabel(precision).c_str(), options.noise_stddev,
          static_cast<long long>(cmp.rows), static_cast<long long>(cmp.differing),
          static_cast<long long>(cmp.differing_in_tie),
          static_cast<long long>(cmp.correct_reference),
          static_cast<long long>(cmp.correct_candidate), cmp.max_probability_diff,
          cmp.log_loss_reference, cmp.log_loss_candidate,
          static_cast<long long>(cmp.non_finite_reference),
          static_cast<long long>(cmp.non_finite_candidate), references[i].seconds, first->seconds,
          ok ? "OK" : "FAILED");
      for (const std::string& problem : cmp.problems) std::printf("    %s\n", problem.c_str());
      if (!repeat.empty()) std::printf("    not deterministic: %s\n", repeat.c_str());
      failures += ok ? 0 : 1;
    }
    if (c.large) {
      Result<std::vector<double>> times = backend.TimeBatches(1024, 3, 20);
      if (!times.ok()) {
        std::printf("    TimeBatches FAILED: %s\n", times.status().ToString().c_str());
        ++failures;
      } else {
        std::vector<double> sorted = *times;
        std::sort(sorted.begin(), sorted.end());
        std::printf("    %s: batch 1024 median %.3f ms over %zu passes; %.1f MiB held\n",
                    backend.description().c_str(), sorted[sorted.size() / 2] * 1e3, sorted.size(),
                    static_cast<double>(backend.MemoryBytes()) / (1 << 20));
      }
    }
  }
  return failures;
}

// Checks what the agreement cases cannot see, since they tolerate ties and only run loaded
// backends: an exact tie between two logits goes to the lower index (zero weights and a bias of
// [0, 1, 1, 0] make classes 1 and 2 tie in every row), and calls before loading are refused.
int CheckTiesAndRefusals(bool cpu_candidate) {
  using crosscheck::EncodeTensor;
  int failures = 0;
  for (Precision precision : {Precision::kExact, Precision::kFast}) {
    const std::string label = "ties and refusals | " + PrecisionLabel(precision);
    Result<std::unique_ptr<Backend>> backend = CreateCandidate(precision, cpu_candidate);
    if (!backend.ok()) {
      std::printf("%s: FAILED: %s\n", label.c_str(), backend.status().ToString().c_str());
      ++failures;
      continue;
    }
    Backend& b = **backend;
    const bool refused = b.Run({}).status().code() == StatusCode::kFailedPrecondition &&
                         b.TimeBatches(1, 0, 1).status().code() == StatusCode::kFailedPrecondition;
    for (DType dtype : {DType::kF32, DType::kBF16}) {
      const std::vector<TensorToWrite> tensors = {
          {"0.weight", dtype, {4, 3}, EncodeTensor(std::vector<float>(12, 0.0f), dtype)},
          {"0.bias", dtype, {4}, EncodeTensor({0.0f, 1.0f, 1.0f, 0.0f}, dtype)}};
      Result<GeneratedModel> model =
          crosscheck::ModelFromTensors(tensors, {{"sov.model", "feedforward-classifier"}});
      Result<Dataset> dataset =
          crosscheck::MakeRandomDataset({.rows = 1000, .cols = 3, .classes = 4});
      Status status = model.ok()
                          ? (dataset.ok() ? LoadBoth(b, model->model, *dataset) : dataset.status())
                          : model.status();
      Result<RunOutput> out = status.ok() ? b.Run({}) : Result<RunOutput>(status);
      int64_t wrong = 0;
      if (out.ok()) {
        for (size_t r = 0; r < out->predictions.size(); ++r) {
          wrong += out->predictions[r] != 1 || out->margins[r] != 0.0f;
        }
      }
      const bool ok = refused && out.ok() && wrong == 0 && out->predictions.size() == 1000;
      std::printf(
          "%s | %s tie model | %lld of 1000 rows not class 1 with margin 0 | calls before "
          "loading %s | %s\n",
          label.c_str(), std::string(DTypeName(dtype)).c_str(), static_cast<long long>(wrong),
          refused ? "refused" : "NOT refused",
          ok ? "OK"
             : ("FAILED" + (out.ok() ? std::string() : ": " + out.status().ToString())).c_str());
      failures += ok ? 0 : 1;
    }
  }
  return failures;
}

}  // namespace
}  // namespace sov::gpu_eval

int main(int argc, char** argv) {
  using namespace sov::gpu_eval;
  // Line-buffered, so that a run cut short by a timeout still shows every finished case.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const auto start = std::chrono::steady_clock::now();
  bool quick = false;
  bool cpu_candidate = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--cpu") == 0) {
      cpu_candidate = true;
    } else {
      std::fprintf(stderr, "usage: gpu_eval_crosscheck [--quick] [--cpu]\n");
      return 1;
    }
  }
  const DeviceList devices = ListDevices();
  if (devices.devices.empty() && !cpu_candidate) {
    std::printf("gpu_eval_crosscheck: no usable CUDA device: %s\n", devices.reason.c_str());
    return 2;
  }
  for (const DeviceInfo& d : devices.devices) {
    std::printf("device %d: %s (sm_%d%d), %.1f GiB\n", d.index, d.name.c_str(), d.compute_major,
                d.compute_minor, static_cast<double>(d.total_memory) / (1ull << 30));
  }
  int failures = CheckTiesAndRefusals(cpu_candidate);
  for (const Case& c : Cases()) {
    if (quick && c.large) continue;
    failures += RunCase(c, cpu_candidate);
  }
  std::printf("gpu_eval_crosscheck: %s (%d failing runs) in %.1f s\n",
              failures == 0 ? "PASS" : "FAIL", failures, SecondsSince(start));
  return failures == 0 ? 0 : 1;
}
