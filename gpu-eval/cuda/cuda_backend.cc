// The CUDA backend: cuBLAS GEMMs plus the kernels of kernels.cu. The model's weights and the
// whole dataset are uploaded once; Run then streams batches of rows through the layers on one
// compute stream, while a second stream copies each finished batch's predictions back into
// pinned memory (batch k's copy overlaps batch k+1's compute). The metrics' counts stay on the
// device until the end of the run.
//
// Determinism: one cuBLAS handle on one stream with a fixed workspace (cuBLAS then gives bitwise
// identical results run to run on the same GPU), kernels without floating-point atomics, and the
// log-loss summed from fixed per-block partials in a fixed order. The hidden layers with a ReLU or
// identity activation run as one cuBLASLt matmul with a bias(+ReLU) epilogue; its algorithm is
// chosen once per (layer, rows, input alignment) and cached, so that repeated runs reuse it (with
// SOV_GPU_EVAL_AUTOTUNE=1 in fast precision, chosen by timing cuBLASLt's first suggestions).
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "gpu-eval/backend.h"
#include "gpu-eval/cuda/kernels.h"
#include "gpu-eval/devices.h"

namespace sov::gpu_eval {
namespace {

// Rows per forward pass unless RunOptions says otherwise: large enough to keep an H200's GEMMs
// efficient, small enough that the work buffers of a wide model stay a few GiB.
constexpr int64_t kDefaultBatchRows = 65536;
// The work buffers may take at most this share of the device's memory. A fixed share of the
// total (not of what is free now) keeps the batch size, and so the results, the same every run.
constexpr uint64_t kWorkMemoryDivisor = 4;
// cuBLAS's recommended workspace on Hopper; set explicitly so that it never changes between runs.
constexpr size_t kCublasWorkspaceBytes = 32u << 20;
// Host-to-device uploads go through two pinned halves of this size (one fills while one copies).
constexpr size_t kStagingHalfBytes = 8u << 20;

Status CudaError(cudaError_t error, std::string_view call) {
  std::string message = "CUDA call failed: " + std::string(call) + ": " + cudaGetErrorName(error) +
                        " (" + cudaGetErrorString(error) + ")";
  if (error == cudaErrorMemoryAllocation) return ResourceExhausted(std::move(message));
  return Internal(std::move(message));
}

Status CublasError(cublasStatus_t status, std::string_view call) {
  std::string message = "cuBLAS call failed: " + std::string(call) + ": " +
                        cublasGetStatusName(status) + " (" + cublasGetStatusString(status) + ")";
  if (status == CUBLAS_STATUS_ALLOC_FAILED) return ResourceExhausted(std::move(message));
  return Internal(std::move(message));
}

// Each names the failed call with its own source text.
#define SOV_CUDA_RETURN_IF_ERROR(expr)                                            \
  do {                                                                            \
    const cudaError_t sov_cuda_error_ = (expr);                                   \
    if (sov_cuda_error_ != cudaSuccess) return CudaError(sov_cuda_error_, #expr); \
  } while (false)

#define SOV_CUBLAS_RETURN_IF_ERROR(expr)              \
  do {                                                \
    const cublasStatus_t sov_cublas_status_ = (expr); \
    if (sov_cublas_status_ != CUBLAS_STATUS_SUCCESS)  \
      return CublasError(sov_cublas_status_, #expr);  \
  } while (false)

struct StreamDeleter {
  void operator()(cudaStream_t s) const { cudaStreamDestroy(s); }
};
struct EventDeleter {
  void operator()(cudaEvent_t e) const { cudaEventDestroy(e); }
};
struct CublasDeleter {
  void operator()(cublasHandle_t h) const { cublasDestroy(h); }
};
using StreamPtr = std::unique_ptr<std::remove_pointer_t<cudaStream_t>, StreamDeleter>;
using EventPtr = std::unique_ptr<std::remove_pointer_t<cudaEvent_t>, EventDeleter>;
using CublasPtr = std::unique_ptr<std::remove_pointer_t<cublasHandle_t>, CublasDeleter>;

// cuBLASLt's handle and descriptors.
struct CublasLtDeleter {
  void operator()(cublasLtHandle_t h) const { cublasLtDestroy(h); }
};
struct LtMatmulDescDeleter {
  void operator()(cublasLtMatmulDesc_t d) const { cublasLtMatmulDescDestroy(d); }
};
struct LtLayoutDeleter {
  void operator()(cublasLtMatrixLayout_t l) const { cublasLtMatrixLayoutDestroy(l); }
};
struct LtPreferenceDeleter {
  void operator()(cublasLtMatmulPreference_t p) const { cublasLtMatmulPreferenceDestroy(p); }
};
using CublasLtPtr = std::unique_ptr<std::remove_pointer_t<cublasLtHandle_t>, CublasLtDeleter>;
using LtMatmulDescPtr =
    std::unique_ptr<std::remove_pointer_t<cublasLtMatmulDesc_t>, LtMatmulDescDeleter>;
using LtLayoutPtr = std::unique_ptr<std::remove_pointer_t<cublasLtMatrixLayout_t>, LtLayoutDeleter>;
using LtPreferencePtr =
    std::unique_ptr<std::remove_pointer_t<cublasLtMatmulPreference_t>, LtPreferenceDeleter>;

Result<LtLayoutPtr> NewLtLayout(cudaDataType_t type, int64_t rows, int64_t cols, int64_t ld) {
  cublasLtMatrixLayout_t layout = nullptr;
  SOV_CUBLAS_RETURN_IF_ERROR(cublasLtMatrixLayoutCreate(&layout, type, static_cast<uint64_t>(rows),
                                                        static_cast<uint64_t>(cols), ld));
  return LtLayoutPtr(layout);
}

// The largest power of two (at most 256) that divides the address: what cuBLASLt's heuristic
// must be told about a pointer that is not a cudaMalloc base (a batch's rows inside the dataset).
uint32_t AlignmentOf(const void* p) {
  const auto address = reinterpret_cast<uintptr_t>(p);
  uint32_t alignment = 256;
  while (alignment > 1 && address % alignment != 0) alignment /= 2;
  return alignment;
}

Result<StreamPtr> NewStream() {
  cudaStream_t stream = nullptr;
  // Non-blocking: no implicit ordering with the legacy default stream, which this backend never
  // uses (every copy and launch names its stream).
  SOV_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  return StreamPtr(stream);
}

Result<EventPtr> NewEvent(bool timing) {
  cudaEvent_t event = nullptr;
  SOV_CUDA_RETURN_IF_ERROR(
      cudaEventCreateWithFlags(&event, timing ? cudaEventDefault : cudaEventDisableTiming));
  return EventPtr(event);
}

// One cudaMalloc, freed on destruction; its size is counted in *held while it lives, which is
// what MemoryBytes() reports. Zero bytes hold nothing (null pointer).
class DeviceMemory {
 public:
  DeviceMemory() = default;
  DeviceMemory(DeviceMemory&& other) noexcept { *this = std::move(other); }
  DeviceMemory& operator=(DeviceMemory&& other) noexcept {
    if (this != &other) {
      Release();
      ptr_ = std::exchange(other.ptr_, nullptr);
      bytes_ = std::exchange(other.bytes_, 0);
      held_ = std::exchange(other.held_, nullptr);
    }
    return *this;
  }
  ~DeviceMemory() { Release(); }

  static Result<DeviceMemory> Allocate(size_t bytes, uint64_t* held, std::string_view what) {
    DeviceMemory memory;
    if (bytes == 0) return memory;
    void* ptr = nullptr;
    const cudaError_t error = cudaMalloc(&ptr, bytes);
    if (error != cudaSuccess) {
      cudaGetLastError();  // an allocation failure is not sticky; leave no error behind
      return CudaError(
          error, "cudaMalloc(" + std::string(what) + ", " + std::to_string(bytes) + " bytes)");
    }
    memory.ptr_ = ptr;
    memory.bytes_ = bytes;
    memory.held_ = held;
    *held += bytes;
    return memory;
  }

  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void Release() {
    if (ptr_ == nullptr) return;
    cudaFree(ptr_);
    *held_ -= bytes_;
    ptr_ = nullptr;
    bytes_ = 0;
  }

  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  uint64_t* held_ = nullptr;
};

// Page-locked host memory: device copies from and to it run asynchronously at full speed.
class PinnedMemory {
 public:
  PinnedMemory() = default;
  PinnedMemory(PinnedMemory&& other) noexcept { *this = std::move(other); }
  PinnedMemory& operator=(PinnedMemory&& other) noexcept {
    if (this != &other) {
      Release();
      ptr_ = std::exchange(other.ptr_, nullptr);
    }
    return *this;
  }
  ~PinnedMemory() { Release(); }

  static Result<PinnedMemory> Allocate(size_t bytes, std::string_view what) {
    PinnedMemory memory;
    if (bytes == 0) return memory;
    const cudaError_t error = cudaHostAlloc(&memory.ptr_, bytes, cudaHostAllocDefault);
    if (error != cudaSuccess) {
      cudaGetLastError();
      memory.ptr_ = nullptr;
      return CudaError(
          error, "cudaHostAlloc(" + std::string(what) + ", " + std::to_string(bytes) + " bytes)");
    }
    return memory;
  }

  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void Release() {
    if (ptr_ != nullptr) cudaFreeHost(ptr_);
    ptr_ = nullptr;
  }

  void* ptr_ = nullptr;
};

// Copies host memory of any kind (pageable, unaligned: a view into a mapped file) to the device
// through two pinned halves: the host fills one while the DMA engine drains the other.
class StagedUploader {
 public:
  static Result<StagedUploader> Create(cudaStream_t stream) {
    StagedUploader uploader;
    uploader.stream_ = stream;
    for (int h = 0; h < 2; ++h) {
      SOV_ASSIGN_OR_RETURN(uploader.halves_[h],
                           PinnedMemory::Allocate(kStagingHalfBytes, "upload staging"));
      SOV_ASSIGN_OR_RETURN(uploader.copied_[h], NewEvent(false));
    }
    return uploader;
  }

  // Enqueues the copy; `src` may be reused as soon as this returns.
  Status Upload(void* dst, const void* src, size_t bytes) {
    auto* out = static_cast<std::byte*>(dst);
    const auto* in = static_cast<const std::byte*>(src);
    for (size_t done = 0; done < bytes;) {
      const size_t n = std::min(kStagingHalfBytes, bytes - done);
      // Wait until the DMA engine has finished reading this half (its previous use).
      SOV_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(copied_[next_].get()));
      std::memcpy(halves_[next_].as<std::byte>(), in + done, n);
      SOV_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(out + done, halves_[next_].as<std::byte>(), n,
                                               cudaMemcpyHostToDevice, stream_));
      SOV_CUDA_RETURN_IF_ERROR(cudaEventRecord(copied_[next_].get(), stream_));
      next_ ^= 1;
      done += n;
    }
    return OkStatus();
  }

  // Waits for every enqueued copy (and anything else on the stream). Call before destruction:
  // the pinned halves must outlive the copies that read them.
  Status Finish() {
    SOV_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
    return OkStatus();
  }

  ~StagedUploader() {
    if (stream_ != nullptr) cudaStreamSynchronize(stream_);  // after an error, still never free
  }                                                          // a half the DMA may be reading
  StagedUploader(StagedUploader&& other) noexcept
      : stream_(std::exchange(other.stream_, nullptr)),
        halves_(std::move(other.halves_)),
        copied_(std::move(other.copied_)),
        next_(other.next_) {}
  StagedUploader& operator=(StagedUploader&&) = delete;

 private:
  StagedUploader() = default;

  cudaStream_t stream_ = nullptr;
  std::array<PinnedMemory, 2> halves_;
  std::array<EventPtr, 2> copied_;
  int next_ = 0;
};

// Waits for two streams when it goes out of scope, so that device buffers declared before it (and
// so freed after it) are never freed under a kernel or copy still enqueued, error paths included.
class IdleOnExit {
 public:
  IdleOnExit(cudaStream_t a, cudaStream_t b) : a_(a), b_(b) {}
  IdleOnExit(const IdleOnExit&) = delete;
  IdleOnExit& operator=(const IdleOnExit&) = delete;
  ~IdleOnExit() {
    cudaStreamSynchronize(a_);
    cudaStreamSynchronize(b_);
  }

 private:
  cudaStream_t a_;
  cudaStream_t b_;
};

bool IsFloatDType(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16;
}

cuda::ActivationCode ToActivationCode(Activation activation) {
  switch (activation) {
    case Activation::kRelu:
      return cuda::ActivationCode::kRelu;
    case Activation::kGelu:
      return cuda::ActivationCode::kGelu;
    case Activation::kTanh:
      return cuda::ActivationCode::kTanh;
    case Activation::kSigmoid:
      return cuda::ActivationCode::kSigmoid;
    case Activation::kIdentity:
      break;
  }
  return cuda::ActivationCode::kIdentity;
}

// One hidden layer's cuBLASLt matmul with its bias(+ReLU) epilogue, for one batch size and one
// alignment of the input rows. fused = false: cuBLASLt offers nothing for this shape (or refused
// it), and the layer runs as cublasGemmEx + LaunchBiasActivation, decided once.
struct FusedPlan {
  bool fused = false;
  int variant = 0;  // the bias type tried (FusedBiasVariants)
  LtMatmulDescPtr desc;
  LtLayoutPtr a, b, d;  // d is also C (beta = 0)
  cublasLtMatmulAlgo_t algo{};
  uint32_t align_x = 256;  // the input alignment the plan was made for
  bool tuned = false;      // autotune_: the candidates were timed and the fastest kept
};

// SOV_GPU_EVAL_AUTOTUNE=1 in the environment: in fast precision, a fused plan's algorithm is the
// fastest of cuBLASLt's first kAutotuneCandidates suggestions, timed on the first batch that uses
// it, instead of the first suggestion. Off by default until it is measured on a GPU
// (docs/performance.md). Exact precision never tunes: its results stay the same from one process
// to the next, where timing could pick another algorithm (with other rounding) in each.
constexpr int kAutotuneCandidates = 8;
bool AutotuneRequested() {
  const char* value = std::getenv("SOV_GPU_EVAL_AUTOTUNE");
  return value != nullptr && std::string_view(value) == "1";
}

struct LayerOnDevice {
  int64_t in = 0;
  int64_t out = 0;
  cuda::ActivationCode activation = cuda::ActivationCode::kIdentity;
  DeviceMemory weight32;  // [out, in] FP32
  DeviceMemory weight16;  // [out, in] BF16, only on the BF16 path
  DeviceMemory bias;      // [out] FP32
  DeviceMemory bias16;    // [out] BF16, made only if cuBLASLt takes no FP32 bias with BF16 output
  // A hidden layer with ReLU or identity: its GEMM may carry the bias (and ReLU) as a cuBLASLt
  // epilogue. gelu/tanh/sigmoid and the last layer never do.
  bool fusible = false;
  std::map<std::pair<int64_t, uint32_t>, FusedPlan> plans;  // by (rows, input alignment)
};

struct ModelOnDevice {
  bool loaded = false;
  DType weight_dtype = DType::kF32;
  int64_t input_dim = 0;
  int64_t classes = 0;
  int64_t max_width = 0;         // the widest layer output (the logits included)
  int64_t max_hidden_width = 0;  // the widest output of a hidden layer (0 for one layer)
  std::vector<LayerOnDevice> layers;
};

struct DatasetOnDevice {
  bool loaded = false;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t groups = 1;
  int32_t max_label = 0;
  DeviceMemory features;      // [rows, cols] FP32
  // [rows, cols] BF16 rounding of `features` for clean runs on the BF16 path, made once at the
  // first Run/TimeBatches that needs it; empty when not needed yet or when it did not fit (then
  // each batch is converted). Dropped with the dataset and by LoadModel.
  DeviceMemory features16;
  bool features16_tried = false;
  // Every feature is finite. cuBLASLt's ReLU epilogue may turn NaN into 0, where the CPU backend
  // (and LaunchBiasActivation) keep it, so ReLU layers are fused only over all-finite features
  // (finite inputs and finite noise give NaN only through overflow).
  bool all_finite = true;
  DeviceMemory labels;        // [rows] int32
  DeviceMemory group_of_row;  // [rows] int32, or nothing
};

// Where one batch's predictions go: device buffers that the head writes, pinned host buffers
// that the copy stream fills from them, and the events that order the two. A batch of n rows
// keeps its n predictions (int32) and then its n margins (float) back to back in `rows_out`, so
// that one copy brings both to the host.
struct OutputSlot {
  DeviceMemory rows_out, probabilities;
  PinnedMemory host_rows_out, host_probabilities;
  EventPtr computed;     // on the compute stream: the head has written this slot
  EventPtr copied;       // on the copy stream: the host buffers hold it
  bool pending = false;  // a copy was enqueued that Drain has not collected yet
  int64_t first_row = 0;
  int64_t rows = 0;

  static constexpr size_t kBytesPerRow = sizeof(int32_t) + sizeof(float);
  int32_t* predictions() const { return rows_out.as<int32_t>(); }
  float* margins(int64_t n) const { return reinterpret_cast<float*>(rows_out.as<int32_t>() + n); }
  const int32_t* host_predictions() const { return host_rows_out.as<int32_t>(); }
  const float* host_margins(int64_t n) const {
    return reinterpret_cast<const float*>(host_rows_out.as<int32_t>() + n);
  }
  // Enqueues the copy of a batch of n rows' predictions and margins to the host on `stream`.
  cudaError_t CopyRowsOut(int64_t n, cudaStream_t stream) const {
    return cudaMemcpyAsync(host_rows_out.as<void>(), rows_out.as<void>(),
                           static_cast<size_t>(n) * kBytesPerRow, cudaMemcpyDeviceToHost, stream);
  }
};

// The per-batch buffers, sized for `capacity` rows.
struct Workspace {
  int64_t capacity = 0;
  bool probabilities = false;
  DeviceMemory input32;                  // [capacity, input_dim] noisy features (FP32 path)
  DeviceMemory input16;                  // [capacity, input_dim] BF16 features (BF16 path)
  std::array<DeviceMemory, 2> hidden32;  // [capacity, max_width] ping-pong layer outputs
  std::array<DeviceMemory, 2> hidden16;  // [capacity, max_hidden_width] their BF16 copies
  std::array<OutputSlot, 2> slots;
};

class CudaBackend final : public Backend {
 public:
  CudaBackend(const BackendOptions& options, DeviceInfo device)
      : precision_(options.precision),
        device_(std::move(device)),
        autotune_(precision_ == Precision::kFast && AutotuneRequested()) {}

  ~CudaBackend() override {
    // The members' destructors free device memory of this device; make it current for them.
    cudaSetDevice(device_.index);
    if (compute_) cudaStreamSynchronize(compute_.get());
    if (copy_) cudaStreamSynchronize(copy_.get());
  }

  Status Init();

  BackendKind kind() const override { return BackendKind::kCuda; }
  std::string description() const override;
  Precision precision() const override { return precision_; }
  Status LoadModel(const Model& model) override;
  Status LoadDataset(const Dataset& dataset) override;
  Result<RunOutput> Run(const RunOptions& options, const ProgressFn& progress) override;
  Result<std::vector<double>> TimeBatches(int64_t batch, int warmup, int iterations) override;
  uint64_t MemoryBytes() const override { return held_; }

 private:
  // The GEMMs' inputs are BF16 (kFast with F16/BF16 weights); else FP32 (exact or TF32).
  bool UsesBf16(DType weight_dtype) const {
    return precision_ == Precision::kFast && weight_dtype != DType::kF32;
  }
  bool Bf16Path() const { return UsesBf16(model_.weight_dtype); }
  // The hidden layer's bias and activation may run in a cuBLASLt epilogue (see all_finite).
  bool FusionAllowed(const LayerOnDevice& layer) const {
    return layer.fusible &&
           (layer.activation != cuda::ActivationCode::kRelu || !dataset_.loaded ||
            dataset_.all_finite);
  }
  Status UseDevice() const;
  Status CheckReady() const;
  Status Quiesce();
  Result<DeviceMemory> UploadAsF32(StagedUploader& uploader, const TensorView& tensor,
                                   std::string_view what);
  Status UploadLayer(StagedUploader& uploader, const DenseLayer& layer, bool bf16,
                     LayerOnDevice& out);
  uint64_t WorkspaceBytesPerRow(bool probabilities) const;
  int64_t MaxBatchRows(bool probabilities) const;
  Status EnsureWorkspace(int64_t rows, bool probabilities);
  Result<Workspace> AllocateWorkspace(int64_t capacity, bool probabilities);
  cublasComputeType_t ComputeType() const;
  Status Gemm(const LayerOnDevice& layer, const void* x, float* y, int64_t rows);
  Status BuildFusedVariant(LayerOnDevice& layer, int64_t rows, uint32_t align_x, int variant,
                           FusedPlan& plan);
  Status BuildFusedPlan(LayerOnDevice& layer, int64_t rows, uint32_t align_x, int first_variant,
                        FusedPlan& plan);
  Result<std::vector<cublasLtMatmulAlgo_t>> Suggestions(const FusedPlan& plan, uint32_t align_x,
                                                        int count);
  Status TunePlan(LayerOnDevice& layer, FusedPlan& plan, const void* x, void* y);
  Result<bool> FusedGemm(LayerOnDevice& layer, const void* x, void* y, int64_t rows);
  Status EnsureFeatures16();
  Status Forward(const float* x, const uint16_t* x16, int64_t first_row, int64_t rows,
                 const RunOptions* noise, cuda::HeadArgs head);
  Status EnqueueCopyBack(OutputSlot& slot, int64_t first_row, int64_t rows, bool probabilities);
  Status Drain(OutputSlot& slot, RunOutput& output, bool probabilities);
  Result<DeviceMemory> CyclicInput(const void* source, size_t row_bytes, int64_t batch);

  const Precision precision_;
  const DeviceInfo device_;
  const bool autotune_;  // time cuBLASLt's candidates for each fused plan (AutotuneRequested)
  // Declared first so that it outlives every DeviceMemory member that decrements it.
  uint64_t held_ = 0;
  StreamPtr compute_;  // uploads, kernels and GEMMs, in order
  StreamPtr copy_;     // device-to-host copies of finished batches
  DeviceMemory cublas_workspace_;
  CublasPtr cublas_;  // destroyed before its workspace is freed
  CublasLtPtr cublas_lt_;  // shares cublas_workspace_ (both run on compute_ only)
  std::string fused_fallback_reason_;  // why cuBLASLt last declined a fused plan (description)
  ModelOnDevice model_;
  DatasetOnDevice dataset_;
  Workspace work_;
};

Status CudaBackend::UseDevice() const {
  SOV_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_.index));
  return OkStatus();
}

Status CudaBackend::Init() {
  SOV_RETURN_IF_ERROR(UseDevice());
  SOV_ASSIGN_OR_RETURN(compute_, NewStream());
  SOV_ASSIGN_OR_RETURN(copy_, NewStream());
  SOV_ASSIGN_OR_RETURN(cublas_workspace_,
                       DeviceMemory::Allocate(kCublasWorkspaceBytes, &held_, "cuBLAS workspace"));
  cublasHandle_t handle = nullptr;
  SOV_CUBLAS_RETURN_IF_ERROR(cublasCreate(&handle));
  cublas_.reset(handle);
  // cublasSetStream resets the workspace to cuBLAS's default pool, so the workspace comes after.
  SOV_CUBLAS_RETURN_IF_ERROR(cublasSetStream(cublas_.get(), compute_.get()));
  SOV_CUBLAS_RETURN_IF_ERROR(
      cublasSetWorkspace(cublas_.get(), cublas_workspace_.as<void>(), cublas_workspace_.bytes()));
  // Default math: with CUBLAS_COMPUTE_32F and FP32 inputs cuBLAS uses no tensor cores (TF32 must
  // be asked for, by the compute type, which kFast does per GEMM). Atomics stay disallowed (the
  // default), which keeps cuBLAS deterministic.
  SOV_CUBLAS_RETURN_IF_ERROR(cublasSetMathMode(cublas_.get(), CUBLAS_DEFAULT_MATH));
  SOV_CUBLAS_RETURN_IF_ERROR(cublasSetAtomicsMode(cublas_.get(), CUBLAS_ATOMICS_NOT_ALLOWED));
  cublasLtHandle_t lt = nullptr;
  SOV_CUBLAS_RETURN_IF_ERROR(cublasLtCreate(&lt));
  cublas_lt_.reset(lt);
  return OkStatus();
}

std::string CudaBackend::description() const {
  std::string text = "cuda: " + device_.name + " (sm_" + std::to_string(device_.compute_major) +
                     std::to_string(device_.compute_minor) + "), ";
  if (precision_ == Precision::kExact) {
    text += "exact FP32";
  } else if (!model_.loaded) {
    text += "TF32 or BF16 tensor cores (by the weights' dtype)";
  } else if (Bf16Path()) {
    text += "BF16 tensor cores";
  } else if (device_.compute_major < 8) {
    text += "FP32 (no TF32 before sm_80)";  // cuBLAS runs FP32 for a TF32 request there
  } else {
    text += "TF32 tensor cores";
  }
  if (!model_.loaded) return text;

  // How the hidden layers' bias and activation run: in the GEMM's cuBLASLt epilogue where the
  // layer allows it and cuBLASLt offered an algorithm (known after the first run), else in the
  // separate bias/activation kernel.
  bool any_fusible = false;
  bool any_relu = false;
  bool any_kernel = false;  // a hidden layer that runs the separate kernel
  bool relu_blocked = false;  // a ReLU layer left unfused for non-finite features
  int64_t plans = 0;
  int64_t fused = 0;
  for (size_t l = 0; l + 1 < model_.layers.size(); ++l) {
    const LayerOnDevice& layer = model_.layers[l];
    if (!FusionAllowed(layer)) {
      any_kernel = true;
      relu_blocked = relu_blocked || layer.fusible;
      continue;
    }
    any_fusible = true;
    any_relu = any_relu || layer.activation == cuda::ActivationCode::kRelu;
    for (const auto& [key, plan] : layer.plans) {
      ++plans;
      fused += plan.fused ? 1 : 0;
    }
  }
  if (any_fusible) {
    std::string epilogue = any_relu ? "fused bias+relu epilogue" : "fused bias epilogue";
    if (autotune_) epilogue += " (algorithms timed at first use)";
    if (plans == 0) {
      text += ", " + epilogue + " (cuBLASLt, chosen at the first run)";
    } else if (fused == plans) {
      text += ", " + epilogue;
    } else if (fused == 0) {
      text += ", bias+activation kernel (cuBLASLt epilogue unavailable: " +
              fused_fallback_reason_ + ")";
    } else {
      text += ", " + epilogue + " on " + std::to_string(fused) + " of " + std::to_string(plans) +
              " GEMM shapes (else the bias+activation kernel; cuBLASLt: " +
              fused_fallback_reason_ + ")";
    }
    if (any_kernel) text += ", bias+activation kernel for the other hidden layers";
  } else if (any_kernel) {
    text += ", bias+activation kernel";
  }
  if (relu_blocked) text += " (ReLU not fused: the dataset has non-finite features)";
  if (Bf16Path() && dataset_.loaded && dataset_.features16_tried) {
    text += dataset_.features16.bytes() > 0 ? ", BF16 feature copy"
                                            : ", features converted to BF16 per batch";
  }
  return text;
}

Status CudaBackend::CheckReady() const {
  if (!model_.loaded) return FailedPrecondition("the CUDA backend has no model: call LoadModel");
  if (!dataset_.loaded) {
    return FailedPrecondition("the CUDA backend has no dataset: call LoadDataset");
  }
  // LoadModel after LoadDataset may have changed the model under the dataset.
  if (dataset_.cols != model_.input_dim) {
    return InvalidArgument("the dataset has " + std::to_string(dataset_.cols) +
                           " feature columns but the model expects " +
                           std::to_string(model_.input_dim));
  }
  if (dataset_.max_label >= model_.classes) {
    return InvalidArgument("the dataset has label " + std::to_string(dataset_.max_label) +
                           " but the model has " + std::to_string(model_.classes) + " classes");
  }
  return OkStatus();
}

// A call that failed half-way may have left work in flight on either stream, copies into the
// slots' pinned buffers among it: wait for all of it before those buffers are reused or freed.
Status CudaBackend::Quiesce() {
  SOV_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(compute_.get()));
  SOV_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(copy_.get()));
  for (OutputSlot& slot : work_.slots) slot.pending = false;
  return OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Model and dataset upload

Result<DeviceMemory> CudaBackend::UploadAsF32(StagedUploader& uploader, const TensorView& tensor,
                                              std::string_view what) {
  const int64_t n = tensor.elements();
  SOV_ASSIGN_OR_RETURN(DeviceMemory f32, DeviceMemory::Allocate(n * sizeof(float), &held_, what));
  if (tensor.dtype == DType::kF32) {
    SOV_RETURN_IF_ERROR(uploader.Upload(f32.as<void>(), tensor.data.data(), tensor.data.size()));
    return f32;
  }
  // 16-bit source: upload the raw bits (half the bytes) and widen on the device.
  SOV_ASSIGN_OR_RETURN(DeviceMemory raw, DeviceMemory::Allocate(tensor.data.size(), &held_, what));
  SOV_RETURN_IF_ERROR(uploader.Upload(raw.as<void>(), tensor.data.data(), tensor.data.size()));
  if (tensor.dtype == DType::kF16) {
    SOV_CUDA_RETURN_IF_ERROR(
        cuda::LaunchF16ToF32(raw.as<uint16_t>(), f32.as<float>(), n, compute_.get()));
  } else {
    SOV_CUDA_RETURN_IF_ERROR(
        cuda::LaunchBF16ToF32(raw.as<uint16_t>(), f32.as<float>(), n, compute_.get()));
  }
  // `raw` is freed on return: the conversion must have read it by then.
  SOV_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(compute_.get()));
  return f32;
}

Status CudaBackend::UploadLayer(StagedUploader& uploader, const DenseLayer& layer, bool bf16,
                                LayerOnDevice& out) {
  const std::string where = "layer '" + layer.name + "'";
  out.in = layer.in;
  out.out = layer.out;
  out.activation = ToActivationCode(layer.activation);
  SOV_ASSIGN_OR_RETURN(out.weight32, UploadAsF32(uploader, *layer.weight, where + " weight"));
  SOV_ASSIGN_OR_RETURN(out.bias, UploadAsF32(uploader, *layer.bias, where + " bias"));
  if (!bf16) return OkStatus();

  const int64_t n = layer.weight->elements();
  SOV_ASSIGN_OR_RETURN(
      out.weight16, DeviceMemory::Allocate(n * sizeof(uint16_t), &held_, where + " BF16 weight"));
  if (layer.weight->dtype == DType::kBF16) {
    return uploader.Upload(out.weight16.as<void>(), layer.weight->data.data(),
                           layer.weight->data.size());
  }
  // F16 weights: round the exact FP32 values to BF16 (F16 has the finer mantissa).
  SOV_CUDA_RETURN_IF_ERROR(cuda::LaunchF32ToBF16(out.weight32.as<float>(),
                                                 out.weight16.as<uint16_t>(), n, compute_.get()));
  return OkStatus();
}

// Checks what the kernels and cuBLAS's int dimensions rely on; model.cc has checked the rest.
Status CheckModelShape(const Model& model) {
  constexpr int64_t kMaxDim = std::numeric_limits<int>::max();
  if (model.layers.empty()) return InvalidArgument("the model has no layer");
  if (!IsFloatDType(model.weight_dtype)) {
    return InvalidArgument("the model's weights are " + std::string(DTypeName(model.weight_dtype)) +
                           "; the CUDA backend takes F32, F16 or BF16");
  }
  if (model.num_classes < 2 || model.layers.back().out != model.num_classes ||
      model.layers.front().in != model.input_dim) {
    return InvalidArgument("the model's input_dim/num_classes do not match its layers");
  }
  int64_t previous_out = model.input_dim;
  for (const DenseLayer& layer : model.layers) {
    const std::string where = "layer '" + layer.name + "': ";
    if (layer.weight == nullptr || layer.bias == nullptr) {
      return InvalidArgument(where + "missing weight or bias");
    }
    if (layer.in != previous_out || layer.in < 1 || layer.out < 1 || layer.in > kMaxDim ||
        layer.out > kMaxDim) {
      return InvalidArgument(where + "shape [" + std::to_string(layer.out) + ", " +
                             std::to_string(layer.in) + "] does not chain or exceeds int range");
    }
    if (layer.weight->elements() != layer.in * layer.out || layer.bias->elements() != layer.out ||
        !IsFloatDType(layer.weight->dtype) || !IsFloatDType(layer.bias->dtype) ||
        layer.weight->dtype != model.weight_dtype) {
      return InvalidArgument(where + "weight or bias has the wrong size or dtype");
    }
    previous_out = layer.out;
  }
  return OkStatus();
}

Status CudaBackend::LoadModel(const Model& model) {
  SOV_RETURN_IF_ERROR(UseDevice());
  SOV_RETURN_IF_ERROR(CheckModelShape(model));
  if (precision_ == Precision::kFast && model.weight_dtype != DType::kF32 &&
      device_.compute_major < 8) {
    return FailedPrecondition("BF16 tensor-core GEMMs need sm_80 or newer; " + device_.name +
                              " is sm_" + std::to_string(device_.compute_major) +
                              std::to_string(device_.compute_minor) + " (use exact precision)");
  }
  // Free the previous model and the buffers sized for it before allocating the new ones.
  model_ = ModelOnDevice();
  work_ = Workspace();
  // The BF16 feature copy serves one model's path: made again, if needed, at the next run.
  dataset_.features16 = DeviceMemory();
  dataset_.features16_tried = false;
  ModelOnDevice loaded;
  loaded.weight_dtype = model.weight_dtype;
  loaded.input_dim = model.input_dim;
  loaded.classes = model.num_classes;
  const bool bf16 = UsesBf16(model.weight_dtype);

  // Like non-finite features (see all_finite), a NaN weight must reach the logits as the CPU
  // backend lets it: ReLU layers are fused only when every weight and bias is finite.
  const bool model_finite = std::all_of(
      model.layers.begin(), model.layers.end(), [](const DenseLayer& layer) {
        for (const TensorView* t : {layer.weight, layer.bias}) {
          const std::vector<float> values = ToFloat32(*t);
          if (!std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); })) {
            return false;
          }
        }
        return true;
      });
  SOV_ASSIGN_OR_RETURN(StagedUploader uploader, StagedUploader::Create(compute_.get()));
  loaded.layers.resize(model.layers.size());
  for (size_t l = 0; l < model.layers.size(); ++l) {
    SOV_RETURN_IF_ERROR(UploadLayer(uploader, model.layers[l], bf16, loaded.layers[l]));
    const cuda::ActivationCode activation = loaded.layers[l].activation;
    loaded.layers[l].fusible = l + 1 < model.layers.size() &&
                               ((activation == cuda::ActivationCode::kRelu && model_finite) ||
                                activation == cuda::ActivationCode::kIdentity);
    loaded.max_width = std::max(loaded.max_width, model.layers[l].out);
    if (l + 1 < model.layers.size()) {
      loaded.max_hidden_width = std::max(loaded.max_hidden_width, model.layers[l].out);
    }
  }
  SOV_RETURN_IF_ERROR(uploader.Finish());
  loaded.loaded = true;
  model_ = std::move(loaded);
  return OkStatus();
}

Status CudaBackend::LoadDataset(const Dataset& dataset) {
  SOV_RETURN_IF_ERROR(UseDevice());
  if (!model_.loaded) return FailedPrecondition("cuda backend: load a model before a dataset");
  SOV_RETURN_IF_ERROR(CheckCompatible(dataset, model_.input_dim, model_.classes));
  const auto rows = static_cast<size_t>(dataset.rows);
  if (dataset.rows < 1 || dataset.cols < 1 ||
      dataset.features.size() != rows * static_cast<size_t>(dataset.cols) ||
      dataset.labels.size() != rows ||
      (!dataset.group_of_row.empty() && dataset.group_of_row.size() != rows)) {
    return InvalidArgument(dataset.source + ": features, labels and groups disagree on the rows");
  }
  const auto [min_label, max_label] =
      std::minmax_element(dataset.labels.begin(), dataset.labels.end());
  if (*min_label < 0) return InvalidArgument(dataset.source + ": negative label");
  for (int32_t g : dataset.group_of_row) {
    if (g < 0 || g >= dataset.groups()) {
      return InvalidArgument(dataset.source + ": group index out of range");
    }
  }

  dataset_ = DatasetOnDevice();
  DatasetOnDevice loaded;
  loaded.rows = dataset.rows;
  loaded.cols = dataset.cols;
  loaded.groups = dataset.groups();
  loaded.max_label = *max_label;
  loaded.all_finite = std::all_of(dataset.features.begin(), dataset.features.end(),
                                  [](float v) { return std::isfinite(v); });
  const std::string& src = dataset.source;
  SOV_ASSIGN_OR_RETURN(StagedUploader uploader, StagedUploader::Create(compute_.get()));
  SOV_ASSIGN_OR_RETURN(
      loaded.features,
      DeviceMemory::Allocate(dataset.features.size() * sizeof(float), &held_, src + " features"));
  SOV_RETURN_IF_ERROR(uploader.Upload(loaded.features.as<void>(), dataset.features.data(),
                                      dataset.features.size() * sizeof(float)));
  SOV_ASSIGN_OR_RETURN(loaded.labels,
                       DeviceMemory::Allocate(rows * sizeof(int32_t), &held_, src + " labels"));
  SOV_RETURN_IF_ERROR(
      uploader.Upload(loaded.labels.as<void>(), dataset.labels.data(), rows * sizeof(int32_t)));
  if (!dataset.group_of_row.empty()) {
    SOV_ASSIGN_OR_RETURN(loaded.group_of_row,
                         DeviceMemory::Allocate(rows * sizeof(int32_t), &held_, src + " groups"));
    SOV_RETURN_IF_ERROR(uploader.Upload(loaded.group_of_row.as<void>(), dataset.group_of_row.data(),
                                        rows * sizeof(int32_t)));
  }
  SOV_RETURN_IF_ERROR(uploader.Finish());
  loaded.loaded = true;
  dataset_ = std::move(loaded);
  // Choose the fused plans for a run's first batch now (its inputs are all cudaMalloc bases), so
  // that description() already tells which path the hidden layers take. Never fails.
  const int64_t first_batch = std::min({kDefaultBatchRows, dataset_.rows, MaxBatchRows(false)});
  for (size_t l = 0; l + 1 < model_.layers.size(); ++l) {
    LayerOnDevice& layer = model_.layers[l];
    if (!FusionAllowed(layer)) continue;
    constexpr uint32_t kBaseAlignment = 256;
    auto [it, inserted] = layer.plans.try_emplace(std::make_pair(first_batch, kBaseAlignment));
    if (inserted) {
      SOV_RETURN_IF_ERROR(BuildFusedPlan(layer, first_batch, kBaseAlignment, 0, it->second));
    }
  }
  return OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Work buffers

uint64_t CudaBackend::WorkspaceBytesPerRow(bool probabilities) const {
  const auto in = static_cast<uint64_t>(model_.input_dim);
  uint64_t bytes = 2 * static_cast<uint64_t>(model_.max_width) * sizeof(float);
  if (Bf16Path()) {
    bytes += in * sizeof(uint16_t) +
             2 * static_cast<uint64_t>(model_.max_hidden_width) * sizeof(uint16_t);
  } else {
    bytes += in * sizeof(float);
  }
  const uint64_t outputs =
      sizeof(int32_t) + sizeof(float) +
      (probabilities ? static_cast<uint64_t>(model_.classes) * sizeof(float) : 0);
  return bytes + 2 * outputs;
}

int64_t CudaBackend::MaxBatchRows(bool probabilities) const {
  const uint64_t budget = device_.total_memory / kWorkMemoryDivisor;
  // cuBLAS takes the batch as an int (Gemm's n).
  constexpr uint64_t kMaxRows = static_cast<uint64_t>(std::numeric_limits<int>::max());
  return static_cast<int64_t>(
      std::clamp<uint64_t>(budget / WorkspaceBytesPerRow(probabilities), 1, kMaxRows));
}

Result<Workspace> CudaBackend::AllocateWorkspace(int64_t capacity, bool probabilities) {
  Workspace w;
  w.capacity = capacity;
  w.probabilities = probabilities;
  const auto rows = static_cast<size_t>(capacity);
  const auto in = static_cast<size_t>(model_.input_dim);
  const auto width = static_cast<size_t>(model_.max_width);
  const auto hidden = static_cast<size_t>(model_.max_hidden_width);
  const auto classes = static_cast<size_t>(model_.classes);
  if (Bf16Path()) {
    SOV_ASSIGN_OR_RETURN(w.input16, DeviceMemory::Allocate(rows * in * 2, &held_, "BF16 input"));
  } else {
    SOV_ASSIGN_OR_RETURN(w.input32, DeviceMemory::Allocate(rows * in * 4, &held_, "noisy input"));
  }
  for (int i = 0; i < 2; ++i) {
    SOV_ASSIGN_OR_RETURN(w.hidden32[i],
                         DeviceMemory::Allocate(rows * width * 4, &held_, "activations"));
    if (Bf16Path()) {
      SOV_ASSIGN_OR_RETURN(w.hidden16[i],
                           DeviceMemory::Allocate(rows * hidden * 2, &held_, "BF16 activations"));
    }
    OutputSlot& slot = w.slots[i];
    SOV_ASSIGN_OR_RETURN(slot.rows_out,
                         DeviceMemory::Allocate(rows * OutputSlot::kBytesPerRow, &held_,
                                                "predictions and margins"));
    SOV_ASSIGN_OR_RETURN(slot.host_rows_out, PinnedMemory::Allocate(rows * OutputSlot::kBytesPerRow,
                                                                    "predictions and margins"));
    if (probabilities) {
      SOV_ASSIGN_OR_RETURN(slot.probabilities,
                           DeviceMemory::Allocate(rows * classes * 4, &held_, "probabilities"));
      SOV_ASSIGN_OR_RETURN(slot.host_probabilities,
                           PinnedMemory::Allocate(rows * classes * 4, "probabilities"));
    }
    SOV_ASSIGN_OR_RETURN(slot.computed, NewEvent(false));
    SOV_ASSIGN_OR_RETURN(slot.copied, NewEvent(false));
  }
  return w;
}

// Keeps the buffers across calls (so that MemoryBytes counts them and timed passes never
// allocate); reallocates only when a call needs more rows or probabilities.
Status CudaBackend::EnsureWorkspace(int64_t rows, bool probabilities) {
  if (work_.capacity >= rows && (work_.probabilities || !probabilities)) return OkStatus();
  const bool keep_probabilities = probabilities || work_.probabilities;
  work_ = Workspace();  // free the old buffers first: old and new never coexist
  SOV_ASSIGN_OR_RETURN(work_, AllocateWorkspace(rows, keep_probabilities));
  return OkStatus();
}

// ---------------------------------------------------------------------------------------------
// The forward pass

// Y = X W^T + (bias, later), with X [rows, in], W [out, in] and Y [rows, out], all row-major.
// cuBLAS is column-major, and a row-major [r, c] matrix is the column-major [c, r] matrix (its
// transpose) with leading dimension c. So cuBLAS sees W as W^T [in, out] (ld in), X as X^T
// [in, rows] (ld in), and Y as Y^T [out, rows] (ld out). Since Y^T = W X^T, we ask for
// C = op(A) op(B) with A = the stored W^T, op(A) = transpose (giving W [out, in]), B = the stored
// X^T, op(B) = none: m = out, n = rows, k = in, lda = ldb = in, ldc = out.
// kExact: FP32 multiply-add (no tensor cores). kFast: TF32 tensor cores for FP32 inputs; BF16
// inputs run on tensor cores with FP32 accumulation under plain CUBLAS_COMPUTE_32F.
cublasComputeType_t CudaBackend::ComputeType() const {
  return (precision_ == Precision::kFast && !Bf16Path()) ? CUBLAS_COMPUTE_32F_FAST_TF32
                                                         : CUBLAS_COMPUTE_32F;
}

Status CudaBackend::Gemm(const LayerOnDevice& layer, const void* x, float* y, int64_t rows) {
  const float alpha = 1.0f;
  const float beta = 0.0f;
  const bool bf16 = Bf16Path();
  const cudaDataType_t input_type = bf16 ? CUDA_R_16BF : CUDA_R_32F;
  const void* w = bf16 ? layer.weight16.as<void>() : layer.weight32.as<void>();
  const cublasComputeType_t compute = ComputeType();
  const int m = static_cast<int>(layer.out);
  const int n = static_cast<int>(rows);
  const int k = static_cast<int>(layer.in);
  SOV_CUBLAS_RETURN_IF_ERROR(cublasGemmEx(cublas_.get(), CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha,
                                          w, input_type, k, x, input_type, k, &beta, y, CUDA_R_32F,
                                          m, compute, CUBLAS_GEMM_DEFAULT));
  return OkStatus();
}

// The bias types tried for a fused plan, in order. FP32 output: the FP32 bias (cuBLASLt's
// default, the output type). BF16 output: first the FP32 bias (CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE
// = CUDA_R_32F, the same arithmetic as LaunchBiasActivation), then, if cuBLASLt declines that, a
// BF16 rounding of the bias (the default bias type for BF16 output).
int FusedBiasVariants(bool bf16) { return bf16 ? 2 : 1; }

// The same product as Gemm (same operand mapping: transa = T on W, m = out, n = rows, k = in),
// with D = act(W x + bias) written in the type the next layer reads: BF16 on the BF16 path, else
// FP32. Any failure here only means "not fused" (BuildFusedPlan records it).
Status CudaBackend::BuildFusedVariant(LayerOnDevice& layer, int64_t rows, uint32_t align_x,
                                      int variant, FusedPlan& plan) {
  const bool bf16 = Bf16Path();
  const cudaDataType_t type = bf16 ? CUDA_R_16BF : CUDA_R_32F;
  plan = FusedPlan();
  cublasLtMatmulDesc_t desc = nullptr;
  SOV_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulDescCreate(&desc, ComputeType(), CUDA_R_32F));
  plan.desc.reset(desc);
  const cublasOperation_t transa = CUBLAS_OP_T;
  const cublasOperation_t transb = CUBLAS_OP_N;
  SOV_CUBLAS_RETURN_IF_ERROR(
      cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &transa, sizeof(transa)));
  SOV_CUBLAS_RETURN_IF_ERROR(
      cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &transb, sizeof(transb)));
  const cublasLtEpilogue_t epilogue = layer.activation == cuda::ActivationCode::kRelu
                                          ? CUBLASLT_EPILOGUE_RELU_BIAS
                                          : CUBLASLT_EPILOGUE_BIAS;
  SOV_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE,
                                                            &epilogue, sizeof(epilogue)));
  const void* bias = layer.bias.as<void>();
  if (bf16 && variant == 0) {
    const int32_t bias_type = CUDA_R_32F;
    SOV_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulDescSetAttribute(
        desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof(bias_type)));
  } else if (variant == 1) {
    if (layer.bias16.bytes() == 0) {
      SOV_ASSIGN_OR_RETURN(layer.bias16,
                           DeviceMemory::Allocate(static_cast<size_t>(layer.out) * sizeof(uint16_t),
                                                  &held_, "BF16 bias"));
      // On the compute stream, so ordered before every matmul that reads it.
      SOV_CUDA_RETURN_IF_ERROR(cuda::LaunchF32ToBF16(
          layer.bias.as<float>(), layer.bias16.as<uint16_t>(), layer.out, compute_.get()));
    }
    bias = layer.bias16.as<void>();
  }
  // The heuristic reads the pointer's value (its alignment), so it is set before the query.
  SOV_CUBLAS_RETURN_IF_ERROR(
      cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
  // Stored column-major: A = W^T [in, out] (ld in), B = X^T [in, rows] (ld in), D = Y^T
  // [out, rows] (ld out).
  SOV_ASSIGN_OR_RETURN(plan.a, NewLtLayout(type, layer.in, layer.out, layer.in));
  SOV_ASSIGN_OR_RETURN(plan.b, NewLtLayout(type, layer.in, rows, layer.in));
  SOV_ASSIGN_OR_RETURN(plan.d, NewLtLayout(type, layer.out, rows, layer.out));

  SOV_ASSIGN_OR_RETURN(const std::vector<cublasLtMatmulAlgo_t> algos,
                       Suggestions(plan, align_x, 1));
  if (algos.empty()) {
    return FailedPrecondition("cublasLtMatmulAlgoGetHeuristic returned no algorithm for [" +
                              std::to_string(layer.out) + " x " + std::to_string(layer.in) +
                              "] x " + std::to_string(rows) + " rows");
  }
  plan.algo = algos.front();
  plan.variant = variant;
  plan.align_x = align_x;
  plan.fused = true;
  return OkStatus();
}

// cuBLASLt's suggestions for the plan's matmul, best first, at most `count`: those whose state is
// success (cuBLASLt checked that they take these shapes, the workspace and align_x).
Result<std::vector<cublasLtMatmulAlgo_t>> CudaBackend::Suggestions(const FusedPlan& plan,
                                                                   uint32_t align_x, int count) {
  cublasLtMatmulPreference_t raw_preference = nullptr;
  SOV_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulPreferenceCreate(&raw_preference));
  const LtPreferencePtr preference(raw_preference);
  const uint64_t workspace_bytes = cublas_workspace_.bytes();
  SOV_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulPreferenceSetAttribute(
      raw_preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes,
      sizeof(workspace_bytes)));
  // A, C/D and the bias are cudaMalloc bases (256-byte aligned, the default assumption); the
  // input rows may start anywhere in the dataset.
  SOV_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulPreferenceSetAttribute(
      raw_preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_x, sizeof(align_x)));

  std::vector<cublasLtMatmulHeuristicResult_t> results(static_cast<size_t>(count));
  int returned = 0;
  const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(
      cublas_lt_.get(), plan.desc.get(), plan.a.get(), plan.b.get(), plan.d.get(), plan.d.get(),
      raw_preference, count, results.data(), &returned);
  if (status != CUBLAS_STATUS_SUCCESS) {
    return CublasError(status, "cublasLtMatmulAlgoGetHeuristic");
  }
  std::vector<cublasLtMatmulAlgo_t> algos;
  for (int i = 0; i < returned && i < count; ++i) {
    if (results[static_cast<size_t>(i)].state == CUBLAS_STATUS_SUCCESS) {
      algos.push_back(results[static_cast<size_t>(i)].algo);
    }
  }
  return algos;
}

// Times each of cuBLASLt's first kAutotuneCandidates suggestions for the plan on this batch (x and
// y are the batch's real buffers: y is overwritten afterwards by the caller's own matmul) and keeps
// the fastest: one warm-up launch, then the mean of three between two events. A candidate that
// cuBLASLt refuses at launch is skipped; the first suggestion stays when nothing beats it.
Status CudaBackend::TunePlan(LayerOnDevice& layer, FusedPlan& plan, const void* x, void* y) {
  plan.tuned = true;
  SOV_ASSIGN_OR_RETURN(const std::vector<cublasLtMatmulAlgo_t> algos,
                       Suggestions(plan, plan.align_x, kAutotuneCandidates));
  if (algos.size() < 2) return OkStatus();
  SOV_ASSIGN_OR_RETURN(EventPtr start, NewEvent(true));
  SOV_ASSIGN_OR_RETURN(EventPtr stop, NewEvent(true));
  const float alpha = 1.0f;
  const float beta = 0.0f;
  const void* w = Bf16Path() ? layer.weight16.as<void>() : layer.weight32.as<void>();
  auto launch = [&](const cublasLtMatmulAlgo_t& algo) {
    return cublasLtMatmul(cublas_lt_.get(), plan.desc.get(), &alpha, w, plan.a.get(), x,
                          plan.b.get(), &beta, y, plan.d.get(), y, plan.d.get(), &algo,
                          cublas_workspace_.as<void>(), cublas_workspace_.bytes(),
                          compute_.get());
  };
  constexpr int kRepeats = 3;
  float best_ms = std::numeric_limits<float>::infinity();
  for (const cublasLtMatmulAlgo_t& algo : algos) {
    if (launch(algo) != CUBLAS_STATUS_SUCCESS) continue;
    SOV_CUDA_RETURN_IF_ERROR(cudaEventRecord(start.get(), compute_.get()));
    bool launched = true;
    for (int i = 0; i < kRepeats && launched; ++i) launched = launch(algo) == CUBLAS_STATUS_SUCCESS;
    SOV_CUDA_RETURN_IF_ERROR(cudaEventRecord(stop.get(), compute_.get()));
    SOV_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(stop.get()));
    float ms = 0.0f;
    SOV_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, start.get(), stop.get()));
    if (launched && ms < best_ms) {
      best_ms = ms;
      plan.algo = algo;
    }
  }
  return OkStatus();
}

// Tries the bias variants from `first_variant` on; leaves plan.fused = false when none works (the
// reason goes to description()). Never fails: the unfused path is always there.
Status CudaBackend::BuildFusedPlan(LayerOnDevice& layer, int64_t rows, uint32_t align_x,
                                   int first_variant, FusedPlan& plan) {
  for (int v = first_variant; v < FusedBiasVariants(Bf16Path()); ++v) {
    const Status status = BuildFusedVariant(layer, rows, align_x, v, plan);
    if (status.ok()) return OkStatus();
    fused_fallback_reason_ = status.message();
  }
  plan = FusedPlan();
  return OkStatus();
}

// Runs the layer's GEMM with its bias(+ReLU) epilogue into y (BF16 on the BF16 path, else FP32);
// false when cuBLASLt has no plan for this shape (the caller then runs Gemm + the kernel). The
// plan is chosen at the first use of (rows, alignment of x) and kept with the model.
Result<bool> CudaBackend::FusedGemm(LayerOnDevice& layer, const void* x, void* y, int64_t rows) {
  const uint32_t align_x = AlignmentOf(x);
  auto [it, inserted] = layer.plans.try_emplace(std::make_pair(rows, align_x));
  FusedPlan& plan = it->second;
  if (inserted) SOV_RETURN_IF_ERROR(BuildFusedPlan(layer, rows, align_x, 0, plan));
  if (plan.fused && !plan.tuned && autotune_) SOV_RETURN_IF_ERROR(TunePlan(layer, plan, x, y));
  const float alpha = 1.0f;
  const float beta = 0.0f;
  const void* w = Bf16Path() ? layer.weight16.as<void>() : layer.weight32.as<void>();
  while (plan.fused) {
    const cublasStatus_t status = cublasLtMatmul(
        cublas_lt_.get(), plan.desc.get(), &alpha, w, plan.a.get(), x, plan.b.get(), &beta, y,
        plan.d.get(), y, plan.d.get(), &plan.algo, cublas_workspace_.as<void>(),
        cublas_workspace_.bytes(), compute_.get());
    if (status == CUBLAS_STATUS_SUCCESS) return true;
    // NOT_SUPPORTED or INVALID_VALUE: cuBLASLt refused the configuration before launching
    // anything. Then the next bias variant, else the unfused path, for good.
    if (status != CUBLAS_STATUS_NOT_SUPPORTED && status != CUBLAS_STATUS_INVALID_VALUE) {
      return CublasError(status, "cublasLtMatmul");
    }
    fused_fallback_reason_ = "cublasLtMatmul: " + std::string(cublasGetStatusName(status));
    SOV_RETURN_IF_ERROR(BuildFusedPlan(layer, rows, align_x, plan.variant + 1, plan));
  }
  return false;
}

// The BF16 copy of the dataset's features, once (see DatasetOnDevice::features16). When it does
// not fit, the error is cleared and every batch is converted as before.
Status CudaBackend::EnsureFeatures16() {
  if (!Bf16Path() || dataset_.features16_tried) return OkStatus();
  dataset_.features16_tried = true;
  const int64_t n = dataset_.rows * dataset_.cols;
  Result<DeviceMemory> memory = DeviceMemory::Allocate(static_cast<size_t>(n) * sizeof(uint16_t),
                                                       &held_, "BF16 features");
  if (!memory.ok()) {
    // Allocate has already cleared cudaErrorMemoryAllocation.
    if (memory.status().code() == StatusCode::kResourceExhausted) return OkStatus();
    return memory.status();
  }
  SOV_CUDA_RETURN_IF_ERROR(cuda::LaunchF32ToBF16(dataset_.features.as<float>(),
                                                 memory->as<uint16_t>(), n, compute_.get()));
  dataset_.features16 = std::move(*memory);
  return OkStatus();
}

// Runs rows [first_row, first_row + rows) whose features start at x (device, FP32; x16: their
// BF16 copy, or null) through the model on the compute stream, ending with the head (whose
// outputs and metrics `head` names). `noise` is null for clean passes.
Status CudaBackend::Forward(const float* x, const uint16_t* x16, int64_t first_row, int64_t rows,
                            const RunOptions* noise, cuda::HeadArgs head) {
  cudaStream_t stream = compute_.get();
  const bool bf16 = Bf16Path();
  const int64_t in = model_.input_dim;
  const void* input = x;
  if (noise != nullptr) {
    SOV_CUDA_RETURN_IF_ERROR(
        cuda::LaunchAddNoise(x, rows, in, first_row, noise->noise_stddev, noise->seed,
                             bf16 ? nullptr : work_.input32.as<float>(),
                             bf16 ? work_.input16.as<uint16_t>() : nullptr, stream));
    input = bf16 ? work_.input16.as<void>() : work_.input32.as<void>();
  } else if (bf16 && x16 != nullptr) {
    input = x16;
  } else if (bf16) {
    SOV_CUDA_RETURN_IF_ERROR(
        cuda::LaunchF32ToBF16(x, work_.input16.as<uint16_t>(), rows * in, stream));
    input = work_.input16.as<void>();
  }

  for (size_t l = 0; l < model_.layers.size(); ++l) {
    LayerOnDevice& layer = model_.layers[l];
    if (FusionAllowed(layer) && l + 1 < model_.layers.size()) {
      // D in the type the next layer reads; hidden16 holds [rows, max_hidden_width] BF16.
      void* y_next = bf16 ? work_.hidden16[l % 2].as<void>() : work_.hidden32[l % 2].as<void>();
      SOV_ASSIGN_OR_RETURN(const bool fused, FusedGemm(layer, input, y_next, rows));
      if (fused) {
        input = y_next;
        continue;
      }
    }
    float* y = work_.hidden32[l % 2].as<float>();
    SOV_RETURN_IF_ERROR(Gemm(layer, input, y, rows));
    if (l + 1 == model_.layers.size()) {
      head.logits = y;
      head.bias = layer.bias.as<float>();
      head.rows = rows;
      head.classes = model_.classes;
      SOV_CUDA_RETURN_IF_ERROR(cuda::LaunchSoftmaxHead(head, stream));
      break;
    }
    uint16_t* y16 = bf16 ? work_.hidden16[l % 2].as<uint16_t>() : nullptr;
    SOV_CUDA_RETURN_IF_ERROR(cuda::LaunchBiasActivation(y, layer.bias.as<float>(), rows, layer.out,
                                                        layer.activation, y16, stream));
    input = bf16 ? static_cast<const void*>(y16) : static_cast<const void*>(y);
  }
  return OkStatus();
}

Status CudaBackend::EnqueueCopyBack(OutputSlot& slot, int64_t first_row, int64_t rows,
                                    bool probabilities) {
  SOV_CUDA_RETURN_IF_ERROR(cudaEventRecord(slot.computed.get(), compute_.get()));
  SOV_CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(copy_.get(), slot.computed.get(), 0));
  const auto n = static_cast<size_t>(rows);
  SOV_CUDA_RETURN_IF_ERROR(slot.CopyRowsOut(rows, copy_.get()));
  if (probabilities) {
    SOV_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(slot.host_probabilities.as<void>(), slot.probabilities.as<void>(),
                        n * static_cast<size_t>(model_.classes) * sizeof(float),
                        cudaMemcpyDeviceToHost, copy_.get()));
  }
  SOV_CUDA_RETURN_IF_ERROR(cudaEventRecord(slot.copied.get(), copy_.get()));
  slot.pending = true;
  slot.first_row = first_row;
  slot.rows = rows;
  return OkStatus();
}

// Waits for the slot's copy and appends its rows to the output; a no-op for an idle slot. Slots
// drain in row order, so appending puts every row in its place; the outputs are reserved, not
// zeroed, so that each batch's fresh pages are touched here, while the device runs the next
// batch, rather than all at once at the first.
Status CudaBackend::Drain(OutputSlot& slot, RunOutput& output, bool probabilities) {
  if (!slot.pending) return OkStatus();
  SOV_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(slot.copied.get()));
  slot.pending = false;
  const auto first = static_cast<size_t>(slot.first_row);
  const auto n = static_cast<size_t>(slot.rows);
  if (output.predictions.size() != first) {
    return Internal("batch of rows from " + std::to_string(first) + " drained after " +
                    std::to_string(output.predictions.size()) + " rows");
  }
  const int32_t* predictions = slot.host_predictions();
  const float* margins = slot.host_margins(slot.rows);
  output.predictions.insert(output.predictions.end(), predictions, predictions + n);
  output.margins.insert(output.margins.end(), margins, margins + n);
  if (probabilities) {
    const float* p = slot.host_probabilities.as<float>();
    output.probabilities.insert(output.probabilities.end(), p,
                                p + n * static_cast<size_t>(model_.classes));
  }
  return OkStatus();
}

Result<RunOutput> CudaBackend::Run(const RunOptions& options, const ProgressFn& progress) {
  SOV_RETURN_IF_ERROR(UseDevice());
  SOV_RETURN_IF_ERROR(CheckReady());
  if (!std::isfinite(options.noise_stddev) || options.noise_stddev < 0) {
    return InvalidArgument("noise_stddev must be finite and >= 0");
  }
  if (options.batch_rows < 0) return InvalidArgument("batch_rows must be >= 0");
  const bool probabilities = options.keep_probabilities;
  const int64_t rows = dataset_.rows;
  const int64_t classes = model_.classes;
  int64_t batch = options.batch_rows > 0 ? options.batch_rows : kDefaultBatchRows;
  batch = std::min({batch, rows, MaxBatchRows(probabilities)});
  SOV_RETURN_IF_ERROR(Quiesce());
  SOV_RETURN_IF_ERROR(EnsureWorkspace(batch, probabilities));
  // After the work buffers, which take precedence: the copy is optional.
  SOV_RETURN_IF_ERROR(EnsureFeatures16());

  // The counters [groups][classes][classes] and then the non-finite row count, zeroed on the
  // device; the loss partials, one per head block of every batch.
  const auto confusion_size = static_cast<size_t>(dataset_.groups * classes * classes);
  SOV_ASSIGN_OR_RETURN(DeviceMemory counters,
                       DeviceMemory::Allocate((confusion_size + 1) * sizeof(unsigned long long),
                                              &held_, "confusion counts"));
  int64_t partial_count = 0;
  for (int64_t first = 0; first < rows; first += batch) {
    partial_count += cuda::HeadBlocks(std::min(batch, rows - first));
  }
  SOV_ASSIGN_OR_RETURN(DeviceMemory partials,
                       DeviceMemory::Allocate(partial_count * sizeof(double), &held_, "log-loss"));
  const IdleOnExit idle(compute_.get(), copy_.get());
  SOV_CUDA_RETURN_IF_ERROR(
      cudaMemsetAsync(counters.as<void>(), 0, counters.bytes(), compute_.get()));

  RunOutput output;
  output.rows = rows;
  output.classes = classes;
  output.groups = dataset_.groups;

  const RunOptions* noise = options.noise_stddev > 0 ? &options : nullptr;
  unsigned long long* confusion = counters.as<unsigned long long>();
  int64_t partial_offset = 0;
  int64_t k = 0;
  for (int64_t first = 0; first < rows; first += batch, ++k) {
    const int64_t n = std::min(batch, rows - first);
    OutputSlot& slot = work_.slots[k % 2];
    // Batch k-2's copy: its device buffers are free.
    SOV_RETURN_IF_ERROR(Drain(slot, output, probabilities));
    cuda::HeadArgs head;
    head.predictions = slot.predictions();
    head.margins = slot.margins(n);
    head.probabilities = probabilities ? slot.probabilities.as<float>() : nullptr;
    head.labels = dataset_.labels.as<int32_t>() + first;
    head.groups =
        dataset_.group_of_row.bytes() > 0 ? dataset_.group_of_row.as<int32_t>() + first : nullptr;
    head.group_count = dataset_.groups;
    head.confusion = confusion;
    head.non_finite_rows = confusion + confusion_size;
    head.loss_partials = partials.as<double>() + partial_offset;
    partial_offset += cuda::HeadBlocks(n);
    const float* x = dataset_.features.as<float>() + first * dataset_.cols;
    const uint16_t* x16 = dataset_.features16.bytes() > 0
                              ? dataset_.features16.as<uint16_t>() + first * dataset_.cols
                              : nullptr;
    SOV_RETURN_IF_ERROR(Forward(x, x16, first, n, noise, head));
    SOV_RETURN_IF_ERROR(EnqueueCopyBack(slot, first, n, probabilities));
    if (k == 0) {
      // The host outputs are reserved while the device runs the first batch, not before it (the
      // first Drain that finds a copy is at k = 2); Drain fills them.
      output.predictions.reserve(static_cast<size_t>(rows));
      output.margins.reserve(static_cast<size_t>(rows));
      if (probabilities) output.probabilities.reserve(static_cast<size_t>(rows * classes));
    }
    if (progress) progress("run", static_cast<double>(first + n) / static_cast<double>(rows));
  }
  // Collect the last two batches, in row order: Drain appends.
  for (int64_t j = 0; j < 2; ++j) {
    SOV_RETURN_IF_ERROR(Drain(work_.slots[(k + j) % 2], output, probabilities));
  }

  std::vector<unsigned long long> counts(confusion_size + 1);
  std::vector<double> losses(static_cast<size_t>(partial_count));
  SOV_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(counts.data(), counters.as<void>(), counters.bytes(),
                                           cudaMemcpyDeviceToHost, compute_.get()));
  SOV_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(losses.data(), partials.as<void>(), partials.bytes(),
                                           cudaMemcpyDeviceToHost, compute_.get()));
  SOV_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(compute_.get()));
  output.confusion.assign(counts.begin(),
                          counts.begin() + static_cast<std::ptrdiff_t>(confusion_size));
  output.non_finite_rows = static_cast<int64_t>(counts.back());
  for (double partial : losses) output.log_loss_sum += partial;  // fixed order: deterministic
  return output;
}

// ---------------------------------------------------------------------------------------------
// Timing

// A device copy of the dataset's rows (`source`: the FP32 features or their BF16 copy, rows of
// `row_bytes`) repeated cyclically up to `batch` rows: the dataset once,
// then the filled prefix doubled, so that a one-row dataset needs log2(batch) copies.
Result<DeviceMemory> CudaBackend::CyclicInput(const void* source, size_t row_bytes,
                                              int64_t batch) {
  SOV_ASSIGN_OR_RETURN(DeviceMemory input,
                       DeviceMemory::Allocate(static_cast<size_t>(batch) * row_bytes, &held_,
                                              "cyclic timing input"));
  auto* dst = input.as<std::byte>();
  const auto total = static_cast<size_t>(batch) * row_bytes;
  size_t filled = std::min(total, static_cast<size_t>(dataset_.rows) * row_bytes);
  SOV_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, source, filled,
                                           cudaMemcpyDeviceToDevice, compute_.get()));
  while (filled < total) {
    // `filled` is a whole number of dataset copies, so dst[filled + i] = dst[i] keeps row r of
    // the result equal to dataset row r mod rows (the last copy may take a partial prefix).
    const size_t n = std::min(filled, total - filled);
    SOV_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(dst + filled, dst, n, cudaMemcpyDeviceToDevice, compute_.get()));
    filled += n;
  }
  return input;
}

Result<std::vector<double>> CudaBackend::TimeBatches(int64_t batch, int warmup, int iterations) {
  SOV_RETURN_IF_ERROR(UseDevice());
  SOV_RETURN_IF_ERROR(CheckReady());
  if (batch < 1 || warmup < 0 || iterations < 1) {
    return InvalidArgument("TimeBatches needs batch >= 1, warmup >= 0 and iterations >= 1");
  }
  const int64_t chunk = std::min(batch, MaxBatchRows(false));
  SOV_RETURN_IF_ERROR(Quiesce());
  SOV_RETURN_IF_ERROR(EnsureWorkspace(chunk, false));
  SOV_RETURN_IF_ERROR(EnsureFeatures16());

  DeviceMemory cyclic;
  DeviceMemory cyclic16;
  const IdleOnExit idle(compute_.get(), copy_.get());
  const float* x = dataset_.features.as<float>();
  const bool have16 = dataset_.features16.bytes() > 0;
  const uint16_t* x16 = have16 ? dataset_.features16.as<uint16_t>() : nullptr;
  if (batch > dataset_.rows) {
    const auto cols = static_cast<size_t>(dataset_.cols);
    SOV_ASSIGN_OR_RETURN(cyclic, CyclicInput(dataset_.features.as<void>(), cols * sizeof(float),
                                             batch));
    x = cyclic.as<float>();
    if (have16) {
      SOV_ASSIGN_OR_RETURN(cyclic16, CyclicInput(dataset_.features16.as<void>(),
                                                 cols * sizeof(uint16_t), batch));
      x16 = cyclic16.as<uint16_t>();
    }
  }
  SOV_ASSIGN_OR_RETURN(EventPtr start, NewEvent(true));
  SOV_ASSIGN_OR_RETURN(EventPtr stop, NewEvent(true));
  OutputSlot& slot = work_.slots[0];

  std::vector<double> seconds;
  seconds.reserve(static_cast<size_t>(iterations));
  for (int pass = 0; pass < warmup + iterations; ++pass) {
    SOV_CUDA_RETURN_IF_ERROR(cudaEventRecord(start.get(), compute_.get()));
    // A pass ends with the predictions and margins in host memory, as in Run.
    for (int64_t first = 0; first < batch; first += chunk) {
      const int64_t n = std::min(chunk, batch - first);
      cuda::HeadArgs head;
      head.predictions = slot.predictions();
      head.margins = slot.margins(n);
      SOV_RETURN_IF_ERROR(Forward(x + first * dataset_.cols,
                                  x16 != nullptr ? x16 + first * dataset_.cols : nullptr, first, n,
                                  nullptr, head));
      SOV_CUDA_RETURN_IF_ERROR(slot.CopyRowsOut(n, compute_.get()));
    }
    SOV_CUDA_RETURN_IF_ERROR(cudaEventRecord(stop.get(), compute_.get()));
    SOV_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(stop.get()));
    float ms = 0.0f;
    SOV_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, start.get(), stop.get()));
    if (pass >= warmup) seconds.push_back(static_cast<double>(ms) / 1e3);
  }
  return seconds;
}

}  // namespace

Result<std::unique_ptr<Backend>> CreateCudaBackend(const BackendOptions& options) {
  const DeviceList list = ListDevices();
  if (list.devices.empty()) {
    return FailedPrecondition("no usable CUDA device: " + list.reason);
  }
  const auto device = std::find_if(list.devices.begin(), list.devices.end(),
                                   [&](const DeviceInfo& d) { return d.index == options.device; });
  if (device == list.devices.end()) {
    return InvalidArgument("CUDA device " + std::to_string(options.device) + " does not exist (" +
                           std::to_string(list.devices.size()) + " usable)");
  }
  auto backend = std::make_unique<CudaBackend>(options, *device);
  SOV_RETURN_IF_ERROR(backend->Init());
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace sov::gpu_eval
