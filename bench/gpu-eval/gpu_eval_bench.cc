// gpu_eval_bench: the throughput of a gpu-eval backend on a generated feed-forward classifier,
// beside PyTorch on the same model, the same data, the same device and the same thread count, in
// one run.
//
// It writes a seeded random model (nn.Sequential layout: `0.weight`, `2.weight`, ...; ReLU by
// default) and dataset as safetensors files, loads them through OpenModel/OpenDataset, and
// measures with the chosen backend:
//   - the full pass: Backend::Run over the whole dataset (forward, softmax, argmax, confusion),
//     repeated for --seconds after one warm-up; samples/s from the median pass;
//   - per batch size: Backend::TimeBatches (each pass synchronised); samples/s from the mean
//     pass, p50/p99 latency;
//   - the achieved GEMM rate, 2 * macs_per_sample * samples/s;
//   - on CUDA, in the same run: the cuBLAS peak of one large square GEMM in the backend's compute
//     type (FP32, TF32 or BF16), and cuBLAS alone on the model's own GEMM shapes at the largest
//     batch, so that achieved/peak says how much of the device the backend uses.
// Then bench/gpu-eval/torch_peer.py (run as a child process with /usr/bin/python3 when it exists)
// measures the same passes with torch; the table shows ours/torch per line. Without torch the
// peer is reported as "not available (reason)" and our figures still print.
//
// Usage: gpu_eval_bench [--backend cpu|cuda|auto] [--precision exact|fast] [--dtype f32|f16|bf16]
//          [--layers 784,1024,1024,10] [--activation relu] [--rows N] [--batch B]...
//          [--full-batch N] [--threads T] [--seconds S] [--seed N] [--no-peer] [--no-reference]
//          [--out FILE.json] [--work-dir DIR] [--python PATH] [--peer-script PATH]
//          [--peer-timeout S]
// --no-reference skips the cuBLAS reference rates (a profiler run wants our kernels alone).
// Exit status: 0; 1 when our side fails; 2 on a usage error. The peer's failure is reported,
// not fatal. Run by the CMake target `bench_gpu_eval` and by run_on_device.sh, never by ctest.
#include <algorithm>
#include <bit>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "bench/gpu-eval/clock_sampler.h"
#include "common/file.h"
#include "common/status.h"
#include "gpu-eval/backend.h"
#include "gpu-eval/dataset.h"
#include "gpu-eval/internal/json.h"
#include "gpu-eval/metrics.h"
#include "gpu-eval/model.h"
#include "gpu-eval/safetensors.h"

#if defined(SOV_HAVE_CUDA_BACKEND)
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#endif

#ifndef SOV_BENCH_SOURCE_DIR
#define SOV_BENCH_SOURCE_DIR "bench/gpu-eval"
#endif

namespace {

namespace fs = std::filesystem;
namespace json = sov::gpu_eval::json;
using Clock = std::chrono::steady_clock;
using sov::Result;
using sov::Status;
using sov::bench::ClockSampler;
using sov::bench::ClockStats;
using sov::gpu_eval::Backend;
using sov::gpu_eval::BackendKind;
using sov::gpu_eval::BackendOptions;
using sov::gpu_eval::DType;
using sov::gpu_eval::Precision;
using sov::gpu_eval::TensorToWrite;

constexpr int64_t kCpuDefaultRows = 65536;
constexpr int64_t kCudaDefaultRows = int64_t{1} << 20;
// Rows per forward pass in the full pass, for both sides (capped at the dataset's rows): on the
// CPU the CPU backend's own choice, which keeps a chunk's activations in cache (65,536-row chunks
// measured about 15% slower for ours and no better for torch); on CUDA enough rows to fill the
// device.
constexpr int64_t kCpuDefaultFullBatch = 4096;
constexpr int64_t kCudaDefaultFullBatch = 65536;

struct Options {
  BackendKind backend = BackendKind::kAuto;
  Precision precision = Precision::kExact;
  DType dtype = DType::kF32;
  std::vector<int64_t> layers = {784, 1024, 1024, 10};
  std::string activation = "relu";
  int64_t rows = 0;                 // 0: by backend
  std::vector<int64_t> batches;     // empty: by backend
  int64_t full_batch = 0;           // 0: by backend
  int threads = 0;                  // 0: hardware concurrency
  double seconds = 2.0;
  uint64_t seed = 20261129;
  bool peer = true;
  bool reference = true;            // the cuBLAS reference rates (CUDA only)
  std::string out;
  std::string work_dir;             // empty: a temporary directory, removed at the end
  std::string python;
  std::string peer_script = SOV_BENCH_SOURCE_DIR "/torch_peer.py";
  int peer_timeout_s = 1800;
  bool help = false;
};

// ---------------------------------------------------------------------------------------------
// Command line.

void PrintUsage() {
  std::fprintf(stderr,
               "usage: gpu_eval_bench [--backend cpu|cuda|auto] [--precision exact|fast]\n"
               "         [--dtype f32|f16|bf16] [--layers 784,1024,1024,10] [--activation relu]\n"
               "         [--rows N] [--batch B]... [--full-batch N] [--threads T] [--seconds S]\n"
               "         [--seed N] [--no-peer] [--no-reference] [--out FILE.json]\n"
               "         [--work-dir DIR]\n"
               "         [--python PATH] [--peer-script PATH] [--peer-timeout S]\n");
}

std::optional<int64_t> ParsePositive(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value <= 0) return std::nullopt;
  return value;
}

std::optional<std::vector<int64_t>> ParseLayerList(std::string_view text) {
  std::vector<int64_t> sizes;
  while (true) {
    const size_t comma = text.find(',');
    const std::optional<int64_t> size = ParsePositive(text.substr(0, comma));
    if (!size) return std::nullopt;
    sizes.push_back(*size);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  if (sizes.size() < 2 || sizes.back() < 2) return std::nullopt;
  return sizes;
}

std::optional<DType> ParseDType(std::string_view text) {
  if (text == "f32") return DType::kF32;
  if (text == "f16") return DType::kF16;
  if (text == "bf16") return DType::kBF16;
  return std::nullopt;
}

std::string DTypeFlag(DType dtype) {
  switch (dtype) {
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
    default: return "f32";
  }
}

// Returns the options, or nullopt after printing what is wrong.
std::optional<Options> ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    const std::string_view value = has_value ? std::string_view(argv[i + 1]) : std::string_view();
    auto bad = [&](const char* what) {
      std::fprintf(stderr, "gpu_eval_bench: %.*s needs %s\n", static_cast<int>(arg.size()),
                   arg.data(), what);
      return std::nullopt;
    };
    if (arg == "--no-peer") { o.peer = false; continue; }
    if (arg == "--no-reference") { o.reference = false; continue; }
    if (arg == "--help" || arg == "-h") { o.help = true; return o; }
    if (!has_value) {
      std::fprintf(stderr, "gpu_eval_bench: unknown option or missing value: %s\n", argv[i]);
      PrintUsage();
      return std::nullopt;
    }
    ++i;
    if (arg == "--backend") {
      auto kind = sov::gpu_eval::ParseBackendKind(value);
      if (!kind.ok()) return bad("cpu, cuda or auto");
      o.backend = *kind;
    } else if (arg == "--precision") {
      if (value == "exact") o.precision = Precision::kExact;
      else if (value == "fast") o.precision = Precision::kFast;
      else return bad("exact or fast");
    } else if (arg == "--dtype") {
      auto dtype = ParseDType(value);
      if (!dtype) return bad("f32, f16 or bf16");
      o.dtype = *dtype;
    } else if (arg == "--layers") {
      auto layers = ParseLayerList(value);
      if (!layers) return bad("at least two positive sizes, the last >= 2, e.g. 784,1024,10");
      o.layers = *layers;
    } else if (arg == "--activation") {
      if (!sov::gpu_eval::ParseActivation(value).ok()) {
        return bad("relu, gelu, tanh, sigmoid or identity");
      }
      o.activation = std::string(value);
    } else if (arg == "--rows" || arg == "--batch" || arg == "--full-batch" ||
               arg == "--threads" || arg == "--seed" || arg == "--peer-timeout") {
      auto n = ParsePositive(value);
      if (!n) return bad("a positive integer");
      if (arg == "--rows") o.rows = *n;
      else if (arg == "--batch") o.batches.push_back(*n);
      else if (arg == "--full-batch") o.full_batch = *n;
      else if (arg == "--seed") o.seed = static_cast<uint64_t>(*n);
      else if (*n > 100000) return bad("a smaller value");
      else if (arg == "--threads") o.threads = static_cast<int>(*n);
      else o.peer_timeout_s = static_cast<int>(*n);
    } else if (arg == "--seconds") {
      char* end = nullptr;
      const std::string text(value);
      const double s = std::strtod(text.c_str(), &end);
      if (end == text.c_str() || *end != '\0' || !(s > 0) || s > 3600) {
        return bad("seconds in (0, 3600]");
      }
      o.seconds = s;
    } else if (arg == "--out") {
      o.out = std::string(value);
    } else if (arg == "--work-dir") {
      o.work_dir = std::string(value);
    } else if (arg == "--python") {
      o.python = std::string(value);
    } else if (arg == "--peer-script") {
      o.peer_script = std::string(value);
    } else {
      std::fprintf(stderr, "gpu_eval_bench: unknown option %s\n", argv[i - 1]);
      PrintUsage();
      return std::nullopt;
    }
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// The generated model and dataset.

// SplitMix64: fast, seedable, and the same stream on every machine.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 24 random bits (exact in float).
  float Uniform() { return static_cast<float>(Next() >> 40) * (1.0f / 16777216.0f); }

 private:
  uint64_t state_;
};

// Round to nearest even, as torch's .to(torch.bfloat16) does.
uint16_t FloatToBf16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // NaN
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

// IEEE binary16, round to nearest even (subnormals and overflow to infinity included).
uint16_t FloatToF16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t mag = x & 0x7fffffffu;
  if (mag >= 0x7f800000u) {  // infinity, or NaN kept quiet
    return static_cast<uint16_t>(sign | (mag > 0x7f800000u ? 0x7e00u : 0x7c00u));
  }
  if (mag >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds past 65504
  if (mag < 0x38800000u) {  // below 2^-14: a half subnormal; scaling by 2^24 is exact in float
    const float scaled = std::bit_cast<float>(mag) * 16777216.0f;
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(scaled)));
  }
  uint32_t r = mag - 0x38000000u;  // rebias the exponent from 127 to 15
  r += 0xfffu + ((r >> 13) & 1u);  // a carry into the exponent is the correct rounding
  return static_cast<uint16_t>(sign | (r >> 13));
}

// `values` as little-endian elements of `dtype` (F32, F16 or BF16).
std::string Encode(const std::vector<float>& values, DType dtype) {
  std::string bytes;
  if (dtype == DType::kF32) {
    bytes.resize(values.size() * 4);
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return bytes;
  }
  bytes.resize(values.size() * 2);
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t h = dtype == DType::kBF16 ? FloatToBf16(values[i]) : FloatToF16(values[i]);
    std::memcpy(bytes.data() + 2 * i, &h, 2);
  }
  return bytes;
}

std::string JoinSizes(const std::vector<int64_t>& sizes, char separator) {
  std::string out;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i > 0) out += separator;
    out += std::to_string(sizes[i]);
  }
  return out;
}

// Writes an nn.Sequential(Linear, act, Linear, ...) with torch's default initialisation range,
// U(-1/sqrt(in), 1/sqrt(in)), so that activations stay in a sane range at any depth.
Status WriteModel(const std::string& path, const Options& o) {
  Rng rng(o.seed);
  std::vector<TensorToWrite> tensors;
  std::string prefixes;
  for (size_t k = 0; k + 1 < o.layers.size(); ++k) {
    const int64_t in = o.layers[k];
    const int64_t out = o.layers[k + 1];
    const float bound = 1.0f / std::sqrt(static_cast<float>(in));
    std::vector<float> weight(static_cast<size_t>(in * out));
    std::vector<float> bias(static_cast<size_t>(out));
    for (float& w : weight) w = (2.0f * rng.Uniform() - 1.0f) * bound;
    for (float& b : bias) b = (2.0f * rng.Uniform() - 1.0f) * bound;
    const std::string prefix = std::to_string(2 * k);  // Linear layers sit at 0, 2, 4, ...
    prefixes += (k == 0 ? "" : ",") + prefix;
    tensors.push_back({prefix + ".weight", o.dtype, {out, in}, Encode(weight, o.dtype)});
    tensors.push_back({prefix + ".bias", o.dtype, {out}, Encode(bias, o.dtype)});
  }
  const std::map<std::string, std::string> metadata = {
      {"sov.model", "feedforward-classifier"},
      {"sov.activation", o.activation},
      {"sov.layers", prefixes},
      {"sov.output", "softmax"},
  };
  return sov::gpu_eval::WriteSafetensors(path, tensors, metadata);
}

// Features U[0, 1) stored in the model's dtype (so that both sides read the same rounded values
// and the file stays half the size in F16/BF16); labels uniform over the classes, I32.
Status WriteDataset(const std::string& path, const Options& o, int64_t rows) {
  Rng rng(o.seed ^ 0x5eed0fda7aull);
  const int64_t cols = o.layers.front();
  const int64_t classes = o.layers.back();
  std::vector<TensorToWrite> tensors;
  {
    std::vector<float> features(static_cast<size_t>(rows * cols));
    for (float& x : features) x = rng.Uniform();
    tensors.push_back({"features", o.dtype, {rows, cols}, Encode(features, o.dtype)});
  }
  std::string labels(static_cast<size_t>(rows) * 4, '\0');
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t label = static_cast<int32_t>(rng.Next() % static_cast<uint64_t>(classes));
    std::memcpy(labels.data() + 4 * r, &label, 4);
  }
  tensors.push_back({"labels", DType::kI32, {rows}, std::move(labels)});
  return sov::gpu_eval::WriteSafetensors(path, tensors);
}

struct Fixture {
  std::string dir;
  bool remove_dir = false;
  std::string model_path;
  std::string data_path;

  ~Fixture() {
    if (!remove_dir) return;
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

// Writes the model and dataset, or reuses them when --work-dir already holds files made from the
// same parameters (their names spell every parameter; files are written atomically).
Status PrepareFixture(const Options& o, int64_t rows, Fixture& fixture) {
  if (o.work_dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                          "/gpu_eval_bench.XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      return sov::Internal("mkdtemp " + pattern + ": " + std::strerror(errno));
    }
    fixture.dir = pattern;
    fixture.remove_dir = true;
  } else {
    SOV_RETURN_IF_ERROR(sov::MakeDirectories(o.work_dir, 0755));
    fixture.dir = o.work_dir;
  }
  const std::string tag = DTypeFlag(o.dtype) + "-seed" + std::to_string(o.seed);
  fixture.model_path = fixture.dir + "/model-" + JoinSizes(o.layers, '-') + "-" + o.activation +
                       "-" + tag + ".safetensors";
  fixture.data_path = fixture.dir + "/data-" + std::to_string(rows) + "x" +
                      std::to_string(o.layers.front()) + "-c" + std::to_string(o.layers.back()) +
                      "-" + tag + ".safetensors";
  if (!fs::exists(fixture.model_path)) SOV_RETURN_IF_ERROR(WriteModel(fixture.model_path, o));
  if (!fs::exists(fixture.data_path)) SOV_RETURN_IF_ERROR(WriteDataset(fixture.data_path, o, rows));
  return sov::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Our measurements.

struct Measurement {
  std::string name;        // "full pass" or "batch B"
  int64_t batch = 0;       // rows per pass (the dataset's rows for the full pass)
  int iterations = 0;
  double samples_per_s = 0.0;
  double p50_ms = 0.0;
  double p99_ms = 0.0;
  double tflops = 0.0;     // achieved GEMM rate
  ClockStats clocks;       // the GPU's clocks and power meanwhile (CUDA with NVML only)
};

Measurement Summarise(std::string name, int64_t batch, const std::vector<double>& seconds,
                      bool rate_from_median, int64_t macs_per_sample) {
  Measurement m;
  m.name = std::move(name);
  m.batch = batch;
  m.iterations = static_cast<int>(seconds.size());
  const double p50 = sov::gpu_eval::Percentile(seconds, 50);
  double mean = 0;
  for (double s : seconds) mean += s;
  mean /= static_cast<double>(seconds.size());
  m.p50_ms = p50 * 1e3;
  m.p99_ms = sov::gpu_eval::Percentile(seconds, 99) * 1e3;
  m.samples_per_s = static_cast<double>(batch) / (rate_from_median ? p50 : mean);
  m.tflops = 2.0 * static_cast<double>(macs_per_sample) * m.samples_per_s / 1e12;
  return m;
}

// Full passes for `seconds` (at least three) after one warm-up. The median is the figure: one
// pass is long, and a single slow one (another process waking up) should not move it.
Result<Measurement> MeasureFull(Backend& backend, int64_t rows, int64_t full_batch, double seconds,
                                int64_t macs_per_sample, int64_t& correct) {
  sov::gpu_eval::RunOptions run;
  run.batch_rows = full_batch;
  SOV_ASSIGN_OR_RETURN(sov::gpu_eval::RunOutput first, backend.Run(run));
  if (first.confusion.size() != static_cast<size_t>(first.groups * first.classes * first.classes)) {
    return sov::Internal("Run returned a confusion matrix of " +
                         std::to_string(first.confusion.size()) + " cells");
  }
  correct = 0;
  for (int64_t c = 0; c < first.classes; ++c) {
    for (int64_t g = 0; g < first.groups; ++g) {
      correct += first.confusion[static_cast<size_t>((g * first.classes + c) * first.classes + c)];
    }
  }
  std::vector<double> times;
  const Clock::time_point start = Clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  while (times.size() < 3 || elapsed() < seconds) {
    const Clock::time_point t0 = Clock::now();
    Result<sov::gpu_eval::RunOutput> out = backend.Run(run);
    if (!out.ok()) return out.status();
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return Summarise("full pass", rows, times, /*rate_from_median=*/true, macs_per_sample);
}

// A short probe sizes the run so that the timed passes last about `seconds`.
Result<Measurement> MeasureBatch(Backend& backend, int64_t batch, double seconds,
                                 int64_t macs_per_sample) {
  SOV_ASSIGN_OR_RETURN(std::vector<double> probe, backend.TimeBatches(batch, 2, 3));
  double per_pass = 0;
  for (double s : probe) per_pass += s;
  per_pass = std::max(per_pass / static_cast<double>(probe.size()), 1e-7);
  const int iterations = static_cast<int>(std::clamp(seconds / per_pass, 10.0, 200000.0));
  SOV_ASSIGN_OR_RETURN(std::vector<double> times, backend.TimeBatches(batch, 3, iterations));
  if (times.empty()) return sov::Internal("TimeBatches returned no timings");
  return Summarise("batch " + std::to_string(batch), batch, times, /*rate_from_median=*/false,
                   macs_per_sample);
}

// ---------------------------------------------------------------------------------------------
// cuBLAS reference rates, in the same run (CUDA builds only).

struct GemmShape {
  int64_t m = 0;  // rows of the activations (the batch)
  int64_t n = 0;  // outputs
  int64_t k = 0;  // inputs
};

enum class GemmMath { kFp32, kTf32, kBf16 };

// The compute type the backend uses (backend.h): FP32 in exact mode; in fast mode TF32 for F32
// weights and BF16 inputs with FP32 accumulation for F16/BF16 weights.
GemmMath MathFor(Precision precision, DType dtype) {
  if (precision == Precision::kExact) return GemmMath::kFp32;
  return dtype == DType::kF32 ? GemmMath::kTf32 : GemmMath::kBf16;
}

const char* GemmMathName(GemmMath math) {
  switch (math) {
    case GemmMath::kFp32: return "FP32";
    case GemmMath::kTf32: return "TF32";
    case GemmMath::kBf16: return "BF16 (FP32 accumulate)";
  }
  return "?";
}

struct CublasRate {
  bool measured = false;
  std::string note;        // why not, or what was measured
  double tflops = 0.0;
  double seconds = 0.0;    // the timed span
  ClockStats clocks;
};

#if defined(SOV_HAVE_CUDA_BACKEND)

Status CudaCheck(cudaError_t err, const char* call) {
  if (err == cudaSuccess) return sov::OkStatus();
  return sov::Internal(std::string(call) + ": " + cudaGetErrorString(err));
}

Status CublasCheck(cublasStatus_t st, const char* call) {
  if (st == CUBLAS_STATUS_SUCCESS) return sov::OkStatus();
  return sov::Internal(std::string(call) + ": " + cublasGetStatusString(st));
}

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { if (ptr_ != nullptr) cudaFree(ptr_); }

  // Allocates `bytes` and fills them with small random values of the element type (zeros would
  // let the tensor cores run cooler and faster than on real data).
  Status AllocRandom(size_t elements, bool bf16, uint64_t seed) {
    const size_t bytes = elements * (bf16 ? 2 : 4);
    SOV_RETURN_IF_ERROR(CudaCheck(cudaMalloc(&ptr_, bytes), "cudaMalloc"));
    std::vector<float> host(elements);
    Rng rng(seed);
    for (float& x : host) x = 2.0f * rng.Uniform() - 1.0f;
    const std::string encoded = Encode(host, bf16 ? DType::kBF16 : DType::kF32);
    return CudaCheck(cudaMemcpy(ptr_, encoded.data(), bytes, cudaMemcpyHostToDevice), "cudaMemcpy");
  }
  Status Alloc(size_t bytes) { return CudaCheck(cudaMalloc(&ptr_, bytes), "cudaMalloc"); }
  void* get() const { return ptr_; }

 private:
  void* ptr_ = nullptr;
};

class CublasHandle {
 public:
  CublasHandle() = default;
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  ~CublasHandle() { if (handle_ != nullptr) cublasDestroy(handle_); }
  Status Create() { return CublasCheck(cublasCreate(&handle_), "cublasCreate"); }
  cublasHandle_t get() const { return handle_; }

 private:
  cublasHandle_t handle_ = nullptr;
};

class CudaEvent {
 public:
  CudaEvent() = default;
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;
  ~CudaEvent() { if (event_ != nullptr) cudaEventDestroy(event_); }
  Status Create() { return CudaCheck(cudaEventCreate(&event_), "cudaEventCreate"); }
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

struct GemmOperands {
  GemmShape shape;
  DeviceBuffer weight;  // [n, k] row-major, as the model stores it
  DeviceBuffer input;   // [m, k]
  DeviceBuffer output;  // [m, n]
};

// y[m, n] = x[m, k] * W[n, k]^T in column-major terms: y^T = op_T(W) * x^T, as a row-major
// runtime calls cuBLAS for a Linear layer.
Status LaunchGemm(cublasHandle_t handle, GemmOperands& g, GemmMath math) {
  const float alpha = 1.0f;
  const float beta = 0.0f;
  const cudaDataType_t ab_type = math == GemmMath::kBf16 ? CUDA_R_16BF : CUDA_R_32F;
  const cudaDataType_t c_type = math == GemmMath::kBf16 ? CUDA_R_16BF : CUDA_R_32F;
  const cublasComputeType_t compute =
      math == GemmMath::kTf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  const int m = static_cast<int>(g.shape.n);
  const int n = static_cast<int>(g.shape.m);
  const int k = static_cast<int>(g.shape.k);
  return CublasCheck(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha,
                                  g.weight.get(), ab_type, k, g.input.get(), ab_type, k, &beta,
                                  g.output.get(), c_type, m, compute, CUBLAS_GEMM_DEFAULT),
                     "cublasGemmEx");
}

// Times `reps` rounds of the GEMM sequence between two cudaEvents after `warmup` rounds and
// fills `rate` (TFLOP/s at 2 * m * n * k per GEMM, the span, the clocks meanwhile when `sampler`
// is given). With `seconds` > 0 the rounds are as many as last about that long (at least `reps`),
// so that the rate is sustained over the span our own measurements take.
Status TimeCublasGemms(const std::vector<GemmShape>& shapes, GemmMath math, int warmup, int reps,
                       double seconds, ClockSampler* sampler, CublasRate& rate) {
  SOV_RETURN_IF_ERROR(CudaCheck(cudaSetDevice(0), "cudaSetDevice"));
  CublasHandle handle;
  SOV_RETURN_IF_ERROR(handle.Create());
  // FP32 must stay FP32: the default math mode uses tensor cores only where the compute type
  // asks for them (CUBLAS_COMPUTE_32F_FAST_TF32), which is what the backend's exact mode does.
  SOV_RETURN_IF_ERROR(CublasCheck(cublasSetMathMode(handle.get(), CUBLAS_DEFAULT_MATH),
                                  "cublasSetMathMode"));
  const bool bf16 = math == GemmMath::kBf16;
  std::vector<std::unique_ptr<GemmOperands>> gemms;
  double flops = 0;
  uint64_t seed = 1;
  for (const GemmShape& s : shapes) {
    auto g = std::make_unique<GemmOperands>();
    g->shape = s;
    SOV_RETURN_IF_ERROR(g->weight.AllocRandom(static_cast<size_t>(s.n * s.k), bf16, seed++));
    SOV_RETURN_IF_ERROR(g->input.AllocRandom(static_cast<size_t>(s.m * s.k), bf16, seed++));
    SOV_RETURN_IF_ERROR(g->output.Alloc(static_cast<size_t>(s.m * s.n) * (bf16 ? 2 : 4)));
    flops += 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k);
    gemms.push_back(std::move(g));
  }
  for (int r = 0; r < warmup; ++r) {
    for (auto& g : gemms) SOV_RETURN_IF_ERROR(LaunchGemm(handle.get(), *g, math));
  }
  CudaEvent start;
  CudaEvent stop;
  SOV_RETURN_IF_ERROR(start.Create());
  SOV_RETURN_IF_ERROR(stop.Create());
  // Times `rounds` rounds; returns their span in seconds.
  auto timed = [&](int rounds) -> Result<double> {
    SOV_RETURN_IF_ERROR(CudaCheck(cudaEventRecord(start.get()), "cudaEventRecord"));
    for (int r = 0; r < rounds; ++r) {
      for (auto& g : gemms) SOV_RETURN_IF_ERROR(LaunchGemm(handle.get(), *g, math));
    }
    SOV_RETURN_IF_ERROR(CudaCheck(cudaEventRecord(stop.get()), "cudaEventRecord"));
    SOV_RETURN_IF_ERROR(CudaCheck(cudaEventSynchronize(stop.get()), "cudaEventSynchronize"));
    float ms = 0;
    SOV_RETURN_IF_ERROR(CudaCheck(cudaEventElapsedTime(&ms, start.get(), stop.get()),
                                  "cudaEventElapsedTime"));
    if (ms <= 0) return sov::Internal("cudaEventElapsedTime reported no time");
    return static_cast<double>(ms) * 1e-3;
  };
  if (seconds > 0) {
    SOV_ASSIGN_OR_RETURN(const double probe, timed(3));
    reps = static_cast<int>(std::clamp(seconds / (probe / 3), static_cast<double>(reps), 1e5));
  }
  if (sampler != nullptr) sampler->Begin();
  Result<double> span = timed(reps);
  if (sampler != nullptr) rate.clocks = sampler->End();
  if (!span.ok()) return span.status();
  rate.seconds = *span;
  rate.tflops = flops * reps / *span / 1e12;
  return sov::OkStatus();
}

CublasRate MeasureCublas(const std::vector<GemmShape>& shapes, GemmMath math, int warmup, int reps,
                         double seconds, ClockSampler* sampler, std::string what) {
  CublasRate rate;
  if (Status st = TimeCublasGemms(shapes, math, warmup, reps, seconds, sampler, rate); !st.ok()) {
    rate = CublasRate();
    rate.note = "not measured (" + st.ToString() + ")";
    return rate;
  }
  rate.measured = true;
  rate.note = std::move(what);
  return rate;
}

#endif  // SOV_HAVE_CUDA_BACKEND

// Each reference twice: a short burst (20 or 50 rounds, tens of milliseconds, the figure the
// earlier runs printed) and sustained over --seconds, as long as each of our measurements. A card
// that lowers its clocks under sustained load (power cap, heat) runs the burst faster; the
// sustained figure is the one that compares like with like, and the clocks show the difference.
struct CudaReference {
  CublasRate peak;                    // one large square GEMM, burst
  CublasRate peak_sustained;
  CublasRate model_gemms;             // the model's GEMMs alone at the largest batch, burst
  CublasRate model_gemms_sustained;
  int64_t model_batch = 0;
};

CudaReference MeasureCudaReference(const Options& o, const std::vector<int64_t>& batches,
                                   ClockSampler* sampler) {
  CudaReference ref;
  const GemmMath math = MathFor(o.precision, o.dtype);
  ref.model_batch = *std::max_element(batches.begin(), batches.end());
#if defined(SOV_HAVE_CUDA_BACKEND)
  constexpr int64_t kPeakSize = 8192;
  const std::vector<GemmShape> square = {{kPeakSize, kPeakSize, kPeakSize}};
  const std::string peak_what = "cublasGemmEx 8192^3, " + std::string(GemmMathName(math));
  ref.peak = MeasureCublas(square, math, 3, 20, 0, sampler, peak_what);
  ref.peak_sustained = MeasureCublas(square, math, 3, 20, o.seconds, sampler, peak_what);
  std::vector<GemmShape> shapes;
  for (size_t k = 0; k + 1 < o.layers.size(); ++k) {
    shapes.push_back({ref.model_batch, o.layers[k + 1], o.layers[k]});
  }
  const std::string model_what = "cublasGemmEx on the model's layers at batch " +
                                 std::to_string(ref.model_batch) + ", " + GemmMathName(math);
  ref.model_gemms = MeasureCublas(shapes, math, 5, 50, 0, sampler, model_what);
  ref.model_gemms_sustained = MeasureCublas(shapes, math, 5, 50, o.seconds, sampler, model_what);
#else
  (void)math;
  (void)sampler;
  ref.peak.note = "not measured (this build has no CUDA)";
  ref.peak_sustained.note = ref.peak.note;
  ref.model_gemms.note = ref.peak.note;
  ref.model_gemms_sustained.note = ref.peak.note;
#endif
  return ref;
}

// ---------------------------------------------------------------------------------------------
// The PyTorch peer.

struct Peer {
  bool available = false;
  std::string reason;   // why not
  json::Value result;   // the peer's JSON when available
};

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

std::string PythonFor(const Options& o) {
  if (!o.python.empty()) return o.python;
  // Debian's interpreter carries python3-torch; the `python3` on the PATH may be another.
  if (access("/usr/bin/python3", X_OK) == 0) return "/usr/bin/python3";
  return "python3";
}

// The torch compute dtype that matches our backend's arithmetic: FP32 in exact mode (F16/BF16
// weights upcast, as the backend does) and always on the CPU; TF32 or the weights' own half type
// in fast mode on CUDA.
std::string PeerCompute(const Options& o, BackendKind kind) {
  if (kind != BackendKind::kCuda || o.precision == Precision::kExact) return "f32";
  if (o.dtype == DType::kF32) return "tf32";
  return DTypeFlag(o.dtype);
}

Peer RunPeer(const Options& o, const Fixture& fixture, BackendKind kind, int threads,
             int64_t full_batch, const std::vector<int64_t>& batches) {
  Peer peer;
  std::string command = "timeout " + std::to_string(o.peer_timeout_s) + " " +
                        ShellQuote(PythonFor(o)) + " " + ShellQuote(o.peer_script) +
                        " --model " + ShellQuote(fixture.model_path) + " --data " +
                        ShellQuote(fixture.data_path) + " --device " +
                        (kind == BackendKind::kCuda ? "cuda" : "cpu") + " --compute " +
                        PeerCompute(o, kind) + " --threads " + std::to_string(threads) +
                        " --full-batch " + std::to_string(full_batch) + " --seconds " +
                        std::to_string(o.seconds);
  for (int64_t b : batches) command += " --batch " + std::to_string(b);
  std::fflush(stdout);
  FILE* pipe = popen(command.c_str(), "r");  // stderr passes through to ours
  if (pipe == nullptr) {
    peer.reason = std::string("could not start python: ") + std::strerror(errno);
    return peer;
  }
  std::string output;
  char buf[1 << 14];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof(buf), pipe)) > 0) output.append(buf, got);
  const int status = pclose(pipe);
  const int exit_code = (status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  if (exit_code == 124) {
    peer.reason = "the peer ran past --peer-timeout " + std::to_string(o.peer_timeout_s) + " s";
    return peer;
  }
  Result<json::Value> parsed = json::Parse(output);
  if (!parsed.ok()) {
    peer.reason = "the peer exited " + std::to_string(exit_code) + " without JSON on stdout (" +
                  parsed.status().message() + ")";
    return peer;
  }
  const json::Value* available = parsed->Find("available");
  if (available == nullptr || available->type() != json::Value::Type::kBool ||
      !available->boolean()) {
    const json::Value* reason = parsed->Find("reason");
    peer.reason = reason != nullptr && reason->is_string() ? reason->string() : "no reason given";
    return peer;
  }
  peer.available = true;
  peer.result = std::move(parsed).value();
  return peer;
}

double NumberOr(const json::Value* object, std::string_view key, double fallback) {
  if (object == nullptr) return fallback;
  const json::Value* v = object->Find(key);
  if (v == nullptr || !v->is_number()) return fallback;
  return v->as_double().value_or(fallback);
}

std::string StringOr(const json::Value* object, std::string_view key, std::string fallback) {
  if (object == nullptr) return fallback;
  const json::Value* v = object->Find(key);
  return v != nullptr && v->is_string() ? v->string() : fallback;
}

// The peer's figures for one of our measurements: its "full" object, or the entry of its
// "batches" array with the same batch size.
const json::Value* PeerLine(const Peer& peer, const Measurement& m, bool full) {
  if (!peer.available) return nullptr;
  if (full) return peer.result.Find("full");
  const json::Value* list = peer.result.Find("batches");
  if (list == nullptr || !list->is_array()) return nullptr;
  for (const json::Value& entry : list->array()) {
    if (NumberOr(&entry, "batch", -1) == static_cast<double>(m.batch)) return &entry;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Output.

struct Setup {
  std::string description;
  BackendKind kind = BackendKind::kCpu;
  int threads = 0;
  int64_t rows = 0;
  int64_t full_batch = 0;
  int64_t macs_per_sample = 0;
  int64_t parameters = 0;
  uint64_t memory_bytes = 0;
  int64_t correct = 0;
};

std::string UtcNow() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Rate(double samples_per_s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0f", samples_per_s);
  std::string digits = buf;
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

void PrintTable(const Setup& s, const std::vector<Measurement>& ours,
                const Peer& peer, const CudaReference* ref) {
  std::printf("\n%-18s | %14s %9s %9s %8s | %14s %9s %9s %8s | %10s\n", "measurement",
              "ours samples/s", "p50 ms", "p99 ms", "TFLOP/s", "torch samples/s", "p50 ms",
              "p99 ms", "TFLOP/s", "ours/torch");
  for (size_t i = 0; i < ours.size(); ++i) {
    const Measurement& m = ours[i];
    const std::string label =
        i == 0 ? "full pass " + std::to_string(m.batch) : m.name;
    std::printf("%-18s | %14s %9.3f %9.3f %8.3f |", label.c_str(), Rate(m.samples_per_s).c_str(),
                m.p50_ms, m.p99_ms, m.tflops);
    const json::Value* line = PeerLine(peer, m, i == 0);
    const double theirs = NumberOr(line, "samples_per_s", 0);
    if (theirs > 0) {
      const double their_tflops = 2.0 * static_cast<double>(s.macs_per_sample) * theirs / 1e12;
      std::printf(" %14s %9.3f %9.3f %8.3f | %9.2fx\n", Rate(theirs).c_str(),
                  NumberOr(line, "p50_ms", 0), NumberOr(line, "p99_ms", 0), their_tflops,
                  m.samples_per_s / theirs);
    } else {
      std::printf(" %14s %9s %9s %8s | %10s\n", "-", "-", "-", "-", "-");
    }
  }
  if (!peer.available) std::printf("torch: not available (%s)\n", peer.reason.c_str());
  if (peer.available) {
    const json::Value* full = peer.result.Find("full");
    const double their_correct = NumberOr(full, "correct", -1);
    std::printf("accuracy on the random labels (same model, same data): ours %.4f, torch %.4f\n",
                static_cast<double>(s.correct) / static_cast<double>(s.rows),
                their_correct / static_cast<double>(s.rows));
  }
  if (ref == nullptr) return;
  const Measurement* largest = &ours.back();
  for (const Measurement& m : ours) {
    if (m.batch == ref->model_batch && &m != &ours.front()) largest = &m;
  }
  if (!ref->peak.measured) {
    std::printf("cuBLAS peak: %s\n", ref->peak.note.c_str());
    return;
  }
  std::printf("cuBLAS peak (%s): %.1f TFLOP/s\n", ref->peak.note.c_str(), ref->peak.tflops);
  std::printf("ours, batch %" PRId64 ": %.1f TFLOP/s = %.1f%% of peak; full pass: %.1f%% of peak\n",
              largest->batch, largest->tflops, 100.0 * largest->tflops / ref->peak.tflops,
              100.0 * ours.front().tflops / ref->peak.tflops);
  if (ref->model_gemms.measured) {
    std::printf("%s: %.1f TFLOP/s = %.1f%% of peak (GEMMs alone, no bias/activation/softmax)\n",
                ref->model_gemms.note.c_str(), ref->model_gemms.tflops,
                100.0 * ref->model_gemms.tflops / ref->peak.tflops);
  } else {
    std::printf("cuBLAS on the model's GEMMs: %s\n", ref->model_gemms.note.c_str());
  }
  // The same references sustained over as long as each of our measurements.
  const CublasRate& sustained = ref->peak_sustained;
  if (sustained.measured) {
    std::printf("sustained over %.2f s: cuBLAS peak %.1f TFLOP/s; ours, batch %" PRId64
                ": %.1f%% of it; full pass: %.1f%%",
                sustained.seconds, sustained.tflops, largest->batch,
                100.0 * largest->tflops / sustained.tflops,
                100.0 * ours.front().tflops / sustained.tflops);
    if (ref->model_gemms_sustained.measured) {
      std::printf("; the model's GEMMs alone %.1f TFLOP/s = %.1f%%",
                  ref->model_gemms_sustained.tflops,
                  100.0 * ref->model_gemms_sustained.tflops / sustained.tflops);
    }
    std::printf("\n");
  } else {
    std::printf("sustained cuBLAS peak: %s\n", sustained.note.c_str());
  }
}

// "SM 1,980 MHz mean (1,755-1,980), 652 W mean (699 max), 61 C max, busy 99 % mean (97 min),
// clock events: sw-power-cap", or empty without samples.
std::string ClockText(const ClockStats& c) {
  if (c.samples == 0) return "";
  char busy[64] = "busy: not reported";
  if (c.busy_samples > 0) {
    std::snprintf(busy, sizeof(busy), "busy %.0f %% mean (%u min)", c.busy_pct_mean,
                  c.busy_pct_min);
  }
  char buf[320];
  std::snprintf(buf, sizeof(buf),
                "SM %s MHz mean (%s-%s), %.0f W mean (%.0f max), %u C max, %s, clock events: %s",
                Rate(c.sm_mhz_mean).c_str(), Rate(c.sm_mhz_min).c_str(),
                Rate(c.sm_mhz_max).c_str(), c.power_w_mean, c.power_w_max, c.temperature_c_max,
                busy, sov::bench::ReasonNames(c.reasons).c_str());
  return buf;
}

// The GPU's clocks during each measurement, when they were sampled.
void PrintClocks(const std::vector<Measurement>& ours, const CudaReference* ref,
                 const ClockStats& peer_clocks, const ClockSampler* sampler) {
  if (sampler == nullptr) return;
  if (!sampler->available()) {
    std::printf("GPU clocks: not sampled (%s)\n", sampler->reason().c_str());
    return;
  }
  std::printf("GPU clocks during each measurement (NVML, sampled every 10 ms):\n");
  auto line = [](const std::string& what, const ClockStats& c) {
    const std::string text = ClockText(c);
    std::printf("  %-26s %s\n", what.c_str(), text.empty() ? "no samples" : text.c_str());
  };
  for (size_t i = 0; i < ours.size(); ++i) {
    line("ours, " + (i == 0 ? "full pass" : ours[i].name), ours[i].clocks);
  }
  if (ref != nullptr) {
    if (ref->peak.measured) line("cuBLAS peak, burst", ref->peak.clocks);
    if (ref->peak_sustained.measured) line("cuBLAS peak, sustained", ref->peak_sustained.clocks);
    if (ref->model_gemms.measured) line("model GEMMs, burst", ref->model_gemms.clocks);
    if (ref->model_gemms_sustained.measured) {
      line("model GEMMs, sustained", ref->model_gemms_sustained.clocks);
    }
  }
  if (peer_clocks.samples > 0) line("torch, its whole run", peer_clocks);
}

// Copies a parsed JSON value into the writer (the peer's result goes into our --out file as is).
void CopyJson(const json::Value& v, json::Writer& w) {
  switch (v.type()) {
    case json::Value::Type::kNull: w.Null(); break;
    case json::Value::Type::kBool: w.Bool(v.boolean()); break;
    case json::Value::Type::kNumber:
      if (auto i = v.as_int64()) w.Int(*i);
      else w.Double(v.as_double().value_or(0));
      break;
    case json::Value::Type::kString: w.String(v.string()); break;
    case json::Value::Type::kArray:
      w.BeginArray();
      for (const json::Value& e : v.array()) CopyJson(e, w);
      w.EndArray();
      break;
    case json::Value::Type::kObject:
      w.BeginObject();
      for (const auto& [key, e] : v.members()) {
        w.Key(key);
        CopyJson(e, w);
      }
      w.EndObject();
      break;
  }
}

void WriteClocks(json::Writer& w, const ClockStats& c) {
  if (c.samples == 0) return;
  w.Key("clocks").BeginObject();
  w.Key("samples").Int(c.samples);
  w.Key("sm_mhz_mean").Double(c.sm_mhz_mean);
  w.Key("sm_mhz_min").Int(c.sm_mhz_min);
  w.Key("sm_mhz_max").Int(c.sm_mhz_max);
  w.Key("power_w_mean").Double(c.power_w_mean);
  w.Key("power_w_max").Double(c.power_w_max);
  w.Key("temperature_c_max").Int(c.temperature_c_max);
  if (c.busy_samples > 0) {
    w.Key("busy_pct_mean").Double(c.busy_pct_mean);
    w.Key("busy_pct_min").Int(c.busy_pct_min);
  }
  w.Key("clock_events").String(sov::bench::ReasonNames(c.reasons));
  w.EndObject();
}

void WriteRate(json::Writer& w, const char* key, const CublasRate& rate) {
  w.Key(key).BeginObject();
  w.Key("measured").Bool(rate.measured);
  w.Key("what").String(rate.note);
  if (rate.measured) {
    w.Key("tflops").Double(rate.tflops);
    w.Key("seconds").Double(rate.seconds);
  }
  WriteClocks(w, rate.clocks);
  w.EndObject();
}

std::string ResultsJson(const Options& o, const Setup& s, const std::vector<Measurement>& ours,
                        const Peer& peer, const CudaReference* ref,
                        const ClockStats& peer_clocks) {
  json::Writer w(2);
  w.BeginObject();
  w.Key("benchmark").String("gpu_eval_bench");
  w.Key("date").String(UtcNow());
  w.Key("backend").String(s.description);
  w.Key("backend_kind").String(sov::gpu_eval::BackendKindName(s.kind));
  w.Key("precision").String(o.precision == Precision::kExact ? "exact" : "fast");
  w.Key("dtype").String(DTypeFlag(o.dtype));
  w.Key("layers").BeginArray();
  for (int64_t n : o.layers) w.Int(n);
  w.EndArray();
  w.Key("activation").String(o.activation);
  w.Key("parameters").Int(s.parameters);
  w.Key("macs_per_sample").Int(s.macs_per_sample);
  w.Key("rows").Int(s.rows);
  w.Key("full_batch").Int(s.full_batch);
  w.Key("threads").Int(s.threads);
  w.Key("seconds").Double(o.seconds);
  w.Key("seed").Uint(o.seed);
  w.Key("memory_bytes").Uint(s.memory_bytes);
  w.Key("correct").Int(s.correct);
  w.Key("ours").BeginArray();
  for (size_t i = 0; i < ours.size(); ++i) {
    const Measurement& m = ours[i];
    w.BeginObject();
    w.Key("name").String(i == 0 ? "full" : "batch");
    w.Key("batch").Int(m.batch);
    w.Key("iterations").Int(m.iterations);
    w.Key("samples_per_s").Double(m.samples_per_s);
    w.Key("p50_ms").Double(m.p50_ms);
    w.Key("p99_ms").Double(m.p99_ms);
    w.Key("tflops").Double(m.tflops);
    const double theirs = NumberOr(PeerLine(peer, m, i == 0), "samples_per_s", 0);
    if (theirs > 0) w.Key("ratio_to_torch").Double(m.samples_per_s / theirs);
    if (ref != nullptr && ref->peak.measured) {
      w.Key("fraction_of_peak").Double(m.tflops / ref->peak.tflops);
    }
    if (ref != nullptr && ref->peak_sustained.measured) {
      w.Key("fraction_of_sustained_peak").Double(m.tflops / ref->peak_sustained.tflops);
    }
    WriteClocks(w, m.clocks);
    w.EndObject();
  }
  w.EndArray();
  if (ref != nullptr) {
    WriteRate(w, "cublas_peak", ref->peak);
    WriteRate(w, "cublas_peak_sustained", ref->peak_sustained);
    WriteRate(w, "cublas_model_gemms", ref->model_gemms);
    WriteRate(w, "cublas_model_gemms_sustained", ref->model_gemms_sustained);
  }
  w.Key("peer").BeginObject();
  w.Key("available").Bool(peer.available);
  WriteClocks(w, peer_clocks);
  if (peer.available) {
    w.Key("result");
    CopyJson(peer.result, w);
  } else {
    w.Key("reason").String(peer.reason);
  }
  w.EndObject();
  w.EndObject();
  return w.str() + "\n";
}

// ---------------------------------------------------------------------------------------------

// Loads the fixture into the backend and measures the full pass and every batch size.
Result<std::vector<Measurement>> MeasureOurs(const Options& o, Backend& backend,
                                             const Fixture& fixture,
                                             const std::vector<int64_t>& batches,
                                             ClockSampler* sampler, Setup& s) {
  SOV_ASSIGN_OR_RETURN(sov::gpu_eval::Model model, sov::gpu_eval::OpenModel(fixture.model_path));
  SOV_ASSIGN_OR_RETURN(sov::gpu_eval::Dataset dataset,
                       sov::gpu_eval::OpenDataset(fixture.data_path));
  SOV_RETURN_IF_ERROR(backend.LoadModel(model));
  SOV_RETURN_IF_ERROR(backend.LoadDataset(dataset));
  s.description = backend.description();
  s.macs_per_sample = model.macs_per_sample();
  s.parameters = model.parameters();
  s.memory_bytes = backend.MemoryBytes();
  std::printf("backend: %s (holds %.1f MiB)\nmodel: %s %s, %s weights, %" PRId64
              " parameters, %.3f M MAC/sample\n",
              s.description.c_str(), static_cast<double>(s.memory_bytes) / (1 << 20),
              JoinSizes(o.layers, '-').c_str(), o.activation.c_str(), DTypeFlag(o.dtype).c_str(),
              s.parameters, static_cast<double>(s.macs_per_sample) / 1e6);
  std::fflush(stdout);

  // Each measurement inside a window of the clock sampler (its probe and warm-up included).
  auto windowed = [&](auto measure) -> Result<Measurement> {
    if (sampler != nullptr) sampler->Begin();
    Result<Measurement> m = measure();
    const ClockStats clocks = sampler != nullptr ? sampler->End() : ClockStats();
    if (m.ok()) m->clocks = clocks;
    return m;
  };
  std::vector<Measurement> ours;
  SOV_ASSIGN_OR_RETURN(Measurement full, windowed([&] {
                         return MeasureFull(backend, s.rows, s.full_batch, o.seconds,
                                            s.macs_per_sample, s.correct);
                       }));
  ours.push_back(std::move(full));
  for (int64_t b : batches) {
    Result<Measurement> m =
        windowed([&] { return MeasureBatch(backend, b, o.seconds, s.macs_per_sample); });
    if (!m.ok()) return m.status().WithContext("batch " + std::to_string(b));
    ours.push_back(std::move(m).value());
  }
  return ours;
}

// The PCI bus id of CUDA device 0 (the one the backend and the cuBLAS reference use), by which
// NVML finds the same GPU whatever order it numbers devices in; empty without CUDA.
std::string PciBusId() {
#if defined(SOV_HAVE_CUDA_BACKEND)
  char id[64] = {};
  if (cudaDeviceGetPCIBusId(id, sizeof(id), 0) == cudaSuccess) return id;
#endif
  return "";
}

int Run(const Options& o) {
  BackendOptions backend_options;
  backend_options.kind = o.backend;
  backend_options.precision = o.precision;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  backend_options.threads = o.threads > 0 ? o.threads : cores;
  Result<std::unique_ptr<Backend>> created = sov::gpu_eval::CreateBackend(backend_options);
  if (!created.ok()) {
    std::fprintf(stderr, "gpu_eval_bench: %s\n", created.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<Backend> backend = std::move(created).value();

  Setup s;
  s.kind = backend->kind();
  s.threads = backend_options.threads;
  const bool cuda = s.kind == BackendKind::kCuda;
  s.rows = o.rows > 0 ? o.rows : (cuda ? kCudaDefaultRows : kCpuDefaultRows);
  const int64_t default_full_batch = cuda ? kCudaDefaultFullBatch : kCpuDefaultFullBatch;
  s.full_batch = std::min(s.rows, o.full_batch > 0 ? o.full_batch : default_full_batch);
  std::vector<int64_t> batches = o.batches;
  if (batches.empty()) {
    batches = cuda ? std::vector<int64_t>{1, 32, 1024, 65536} : std::vector<int64_t>{1, 32, 1024};
  }

  Fixture fixture;
  const Clock::time_point prepare_start = Clock::now();
  if (Status st = PrepareFixture(o, s.rows, fixture); !st.ok()) {
    std::fprintf(stderr, "gpu_eval_bench: writing the model and dataset: %s\n",
                 st.ToString().c_str());
    return 1;
  }
  std::printf("gpu_eval_bench %s, %s precision\ndata: %" PRId64
              " rows, full pass in batches of %" PRId64 " (%s, ready in %.1f s)\n",
              UtcNow().c_str(), o.precision == Precision::kExact ? "exact" : "fast", s.rows,
              s.full_batch, fixture.dir.c_str(),
              std::chrono::duration<double>(Clock::now() - prepare_start).count());
  std::unique_ptr<ClockSampler> sampler;
  if (cuda) sampler = std::make_unique<ClockSampler>(PciBusId(), /*period_ms=*/10);
  Result<std::vector<Measurement>> ours =
      MeasureOurs(o, *backend, fixture, batches, sampler.get(), s);
  if (!ours.ok()) {
    std::fprintf(stderr, "gpu_eval_bench: %s\n", ours.status().ToString().c_str());
    return 1;
  }
  // Free the backend's threads and memory before the cuBLAS reference and the peer run.
  backend.reset();

  std::optional<CudaReference> ref;
  if (cuda && o.reference) ref = MeasureCudaReference(o, batches, sampler.get());

  Peer peer;
  ClockStats peer_clocks;
  if (!o.peer) {
    peer.reason = "--no-peer";
  } else {
    std::printf("running the torch peer (%s %s)...\n", PythonFor(o).c_str(),
                o.peer_script.c_str());
    if (sampler != nullptr) sampler->Begin();
    peer = RunPeer(o, fixture, s.kind, s.threads, s.full_batch, batches);
    if (sampler != nullptr) peer_clocks = sampler->End();
  }
  if (peer.available) {
    std::printf("peer: torch %s on %s, %s, %d threads\n",
                StringOr(&peer.result, "torch", "?").c_str(),
                StringOr(&peer.result, "device_name", "?").c_str(),
                StringOr(&peer.result, "compute", "?").c_str(),
                static_cast<int>(NumberOr(&peer.result, "threads", 0)));
  }
  PrintTable(s, *ours, peer, ref ? &*ref : nullptr);
  PrintClocks(*ours, ref ? &*ref : nullptr, peer_clocks, sampler.get());

  if (!o.out.empty()) {
    const std::string text = ResultsJson(o, s, *ours, peer, ref ? &*ref : nullptr, peer_clocks);
    if (Status st = sov::WriteFileAtomic(o.out, text, 0644); !st.ok()) {
      std::fprintf(stderr, "gpu_eval_bench: %s\n", st.ToString().c_str());
      return 1;
    }
    std::printf("results: %s\n", o.out.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Options> options = ParseOptions(argc, argv);
  if (!options) return 2;
  if (options->help) {
    PrintUsage();
    return 0;
  }
  return Run(*options);
}
