// The compute backends that run a model over a validation dataset: the CPU backend (a BLAS
// sgemm plus vectorised bias/activation/softmax/argmax on a thread pool) and the CUDA backend
// (cuBLAS GEMMs plus fused kernels; the metrics' reductions run on the device). Both implement
// this interface and produce the same predictions, except where the two best classes tie within
// floating-point tolerance. No CUDA type appears here.
//
// A Backend holds one model and one dataset at a time; it is not thread-safe (one caller), but
// the CPU backend uses its own threads inside each call.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "gpu-eval/dataset.h"
#include "gpu-eval/model.h"

namespace sov::gpu_eval {

enum class BackendKind { kAuto, kCpu, kCuda };

std::string_view BackendKindName(BackendKind kind);  // "auto", "cpu", "cuda"
Result<BackendKind> ParseBackendKind(std::string_view name);

// kExact: FP32 multiply and accumulate everywhere (cuBLAS without tensor-core math).
// kFast: tensor cores on CUDA where the weights allow (TF32 for F32 weights, BF16 inputs with
// FP32 accumulation for F16/BF16 weights). The CPU backend computes FP32 either way.
enum class Precision { kExact, kFast };

struct BackendOptions {
  BackendKind kind = BackendKind::kAuto;  // auto: CUDA when ListDevices() finds one, else CPU
  Precision precision = Precision::kExact;
  int threads = 0;  // CPU threads; 0 = std::thread::hardware_concurrency()
  int device = 0;   // CUDA device index
};

// Called with a stage name and the fraction done (0..1); must be cheap. May be empty.
using ProgressFn = std::function<void(std::string_view stage, double fraction)>;

struct RunOptions {
  double noise_stddev = 0.0;  // Gaussian noise added to every feature (robustness); 0 = none
  uint64_t seed = 0;          // the noise is a pure function of (seed, row, column): both
                              // backends add bit-identical noise (gpu-eval/internal/noise.h)
  int64_t batch_rows = 0;     // rows per forward pass; 0 = the backend's choice
  bool keep_probabilities = false;
};

struct RunOutput {
  int64_t rows = 0;
  int64_t classes = 0;
  int64_t groups = 1;
  std::vector<int32_t> predictions;   // [rows] argmax, the lowest index on an exact tie
  std::vector<float> margins;         // [rows] top-1 minus top-2 probability
  std::vector<float> probabilities;   // [rows * classes] only with keep_probabilities
  std::vector<int64_t> confusion;     // [groups][true class][predicted class] counts
  double log_loss_sum = 0.0;          // sum of -log(clip(p[true], 1e-15, 1 - 1e-15))
  int64_t non_finite_rows = 0;        // rows with a NaN or infinite logit
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual BackendKind kind() const = 0;
  // For reports: e.g. "cpu: OpenBLAS 0.3.21, 2 threads" or "cuda: NVIDIA H200 (sm_90), TF32".
  virtual std::string description() const = 0;
  // For reports: the arithmetic this backend runs. The CUDA backend answers the precision it
  // was created with; the CPU backend computes FP32 either way, so it keeps this default.
  virtual Precision precision() const { return Precision::kExact; }

  // Converts and uploads the weights (replacing any previous model).
  virtual Status LoadModel(const Model& model) = 0;
  // Uploads features, labels and groups once (replacing any previous dataset). The dataset must
  // be compatible with the loaded model (CheckCompatible).
  virtual Status LoadDataset(const Dataset& dataset) = 0;

  // One pass over the whole loaded dataset.
  virtual Result<RunOutput> Run(const RunOptions& options, const ProgressFn& progress = {}) = 0;

  // Forward passes (logits to predictions, as in Run) over the first `batch` rows of the loaded
  // dataset (repeated cyclically when the dataset is smaller): `warmup` untimed, then
  // `iterations` timed, each synchronised. Returns each timed pass's wall time in seconds.
  virtual Result<std::vector<double>> TimeBatches(int64_t batch, int warmup, int iterations) = 0;

  // Bytes this backend holds for the model, the dataset and its work buffers (device memory for
  // CUDA, host memory for the CPU backend).
  virtual uint64_t MemoryBytes() const = 0;
};

// kAuto: the CUDA backend when compiled in and a device is usable, else the CPU backend.
// kCuda without a usable device: FAILED_PRECONDITION with the runtime's reason.
Result<std::unique_ptr<Backend>> CreateBackend(const BackendOptions& options);

// The individual backends (CreateBackend chooses between them).
std::unique_ptr<Backend> CreateCpuBackend(const BackendOptions& options);
// UNIMPLEMENTED when the CUDA backend was not compiled in.
Result<std::unique_ptr<Backend>> CreateCudaBackend(const BackendOptions& options);

}  // namespace sov::gpu_eval
