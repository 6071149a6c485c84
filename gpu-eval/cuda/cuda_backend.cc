// The CUDA backend: cuBLAS GEMMs plus the kernels of kernels.cu. The model's weights and the
// whole dataset are uploaded once; Run then streams batches of rows through the layers on one
// compute stream, while a second stream copies each finished batch's predictions back into
// pinned memory (batch k's copy overlaps batch k+1's compute). The metrics' counts stay on the
// device until the end of the run.
//
// Determinism: one cuBLAS handle on one stream with a fixed workspace (cuBLAS then gives bitwise
// identical results run to run on the same GPU), kernels without floating-point atomics, and the
// log-loss summed from fixed per-block partials in a fixed order.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
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

struct LayerOnDevice {
  int64_t in = 0;
  int64_t out = 0;
  cuda::ActivationCode activation = cuda::ActivationCode::kIdentity;
  DeviceMemory weight32;  // [out, in] FP32
  DeviceMemory weight16;  // [out, in] BF16, only on the BF16 path
  DeviceMemory bias;      // [out] FP32
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
  DeviceMemory labels;        // [rows] int32
  DeviceMemory group_of_row;  // [rows] int32, or nothing
};

// Where one batch's predictions go: device buffers that the head writes, pinned host buffers
// that the copy stream fills from them, and the events that order the two.
struct OutputSlot {
  DeviceMemory predictions, margins, probabilities;
  PinnedMemory host_predictions, host_margins, host_probabilities;
  EventPtr computed;     // on the compute stream: the head has written this slot
  EventPtr copied;       // on the copy stream: the host buffers hold it
  bool pending = false;  // a copy was enqueued that Drain has not collected yet
  int64_t first_row = 0;
  int64_t rows = 0;
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
      : precision_(options.precision), device_(std::move(device)) {}

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
  Status Gemm(const LayerOnDevice& layer, const void* x, float* y, int64_t rows);
  Status Forward(const float* x, int64_t first_row, int64_t rows, const RunOptions* noise,
                 cuda::HeadArgs head);
  Status EnqueueCopyBack(OutputSlot& slot, int64_t first_row, int64_t rows, bool probabilities);
  Status Drain(OutputSlot& slot, RunOutput& output);
  Result<DeviceMemory> CyclicInput(int64_t batch);

  const Precision precision_;
  const DeviceInfo device_;
  // Declared first so that it outlives every DeviceMemory member that decrements it.
  uint64_t held_ = 0;
  StreamPtr compute_;  // uploads, kernels and GEMMs, in order
  StreamPtr copy_;     // device-to-host copies of finished batches
  DeviceMemory cublas_workspace_;
  CublasPtr cublas_;  // destroyed before its workspace is freed
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
  return OkStatus();
}

std::string CudaBackend::description() const {
  std::string text = "cuda: " + device_.name + " (sm_" + std::to_string(device_.compute_major) +
                     std::to_string(device_.compute_minor) + "), ";
  if (precision_ == Precision::kExact) return text + "exact FP32";
  if (!model_.loaded) return text + "TF32 or BF16 tensor cores (by the weights' dtype)";
  if (Bf16Path()) return text + "BF16 tensor cores";
  // cuBLAS runs FP32 for a TF32 request on GPUs older than Ampere.
  if (device_.compute_major < 8) return text + "FP32 (no TF32 before sm_80)";
  return text + "TF32 tensor cores";
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
  ModelOnDevice loaded;
  loaded.weight_dtype = model.weight_dtype;
  loaded.input_dim = model.input_dim;
  loaded.classes = model.num_classes;
  const bool bf16 = UsesBf16(model.weight_dtype);

  SOV_ASSIGN_OR_RETURN(StagedUploader uploader, StagedUploader::Create(compute_.get()));
  loaded.layers.resize(model.layers.size());
  for (size_t l = 0; l < model.layers.size(); ++l) {
    SOV_RETURN_IF_ERROR(UploadLayer(uploader, model.layers[l], bf16, loaded.layers[l]));
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
  return static_cast<int64_t>(std::max<uint64_t>(1, budget / WorkspaceBytesPerRow(probabilities)));
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
    SOV_ASSIGN_OR_RETURN(slot.predictions, DeviceMemory::Allocate(rows * 4, &held_, "predictions"));
    SOV_ASSIGN_OR_RETURN(slot.margins, DeviceMemory::Allocate(rows * 4, &held_, "margins"));
    SOV_ASSIGN_OR_RETURN(slot.host_predictions, PinnedMemory::Allocate(rows * 4, "predictions"));
    SOV_ASSIGN_OR_RETURN(slot.host_margins, PinnedMemory::Allocate(rows * 4, "margins"));
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
Status CudaBackend::Gemm(const LayerOnDevice& layer, const void* x, float* y, int64_t rows) {
  const float alpha = 1.0f;
  const float beta = 0.0f;
  const bool bf16 = Bf16Path();
  const cudaDataType_t input_type = bf16 ? CUDA_R_16BF : CUDA_R_32F;
  const void* w = bf16 ? layer.weight16.as<void>() : layer.weight32.as<void>();
  // kExact: FP32 multiply-add (no tensor cores). kFast: TF32 tensor cores for FP32 inputs; BF16
  // inputs run on tensor cores with FP32 accumulation under plain CUBLAS_COMPUTE_32F.
  const cublasComputeType_t compute =
      (precision_ == Precision::kFast && !bf16) ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  const int m = static_cast<int>(layer.out);
  const int n = static_cast<int>(rows);
  const int k = static_cast<int>(layer.in);
  SOV_CUBLAS_RETURN_IF_ERROR(cublasGemmEx(cublas_.get(), CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha,
                                          w, input_type, k, x, input_type, k, &beta, y, CUDA_R_32F,
                                          m, compute, CUBLAS_GEMM_DEFAULT));
  return OkStatus();
}

// Runs rows [first_row, first_row + rows) whose features start at x (device, FP32) through the
// model on the compute stream, ending with the head (whose outputs and metrics `head` names).
// `noise` is null for clean passes.
Status CudaBackend::Forward(const float* x, int64_t first_row, int64_t rows,
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
  } else if (bf16) {
    SOV_CUDA_RETURN_IF_ERROR(
        cuda::LaunchF32ToBF16(x, work_.input16.as<uint16_t>(), rows * in, stream));
    input = work_.input16.as<void>();
  }

  for (size_t l = 0; l < model_.layers.size(); ++l) {
    const LayerOnDevice& layer = model_.layers[l];
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
  SOV_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(slot.host_predictions.as<void>(),
                                           slot.predictions.as<void>(), n * sizeof(int32_t),
                                           cudaMemcpyDeviceToHost, copy_.get()));
  SOV_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(slot.host_margins.as<void>(), slot.margins.as<void>(),
                                           n * sizeof(float), cudaMemcpyDeviceToHost, copy_.get()));
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

// Waits for the slot's copy and moves its rows into the output; a no-op for an idle slot.
Status CudaBackend::Drain(OutputSlot& slot, RunOutput& output) {
  if (!slot.pending) return OkStatus();
  SOV_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(slot.copied.get()));
  slot.pending = false;
  const auto first = static_cast<size_t>(slot.first_row);
  const auto n = static_cast<size_t>(slot.rows);
  std::memcpy(output.predictions.data() + first, slot.host_predictions.as<int32_t>(),
              n * sizeof(int32_t));
  std::memcpy(output.margins.data() + first, slot.host_margins.as<float>(), n * sizeof(float));
  if (!output.probabilities.empty()) {
    const auto classes = static_cast<size_t>(model_.classes);
    std::memcpy(output.probabilities.data() + first * classes, slot.host_probabilities.as<float>(),
                n * classes * sizeof(float));
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
  output.predictions.resize(rows);
  output.margins.resize(rows);
  if (probabilities) output.probabilities.resize(static_cast<size_t>(rows * classes));

  const RunOptions* noise = options.noise_stddev > 0 ? &options : nullptr;
  unsigned long long* confusion = counters.as<unsigned long long>();
  int64_t partial_offset = 0;
  int64_t k = 0;
  for (int64_t first = 0; first < rows; first += batch, ++k) {
    const int64_t n = std::min(batch, rows - first);
    OutputSlot& slot = work_.slots[k % 2];
    SOV_RETURN_IF_ERROR(Drain(slot, output));  // batch k-2's copy: its device buffers are free
    cuda::HeadArgs head;
    head.predictions = slot.predictions.as<int32_t>();
    head.margins = slot.margins.as<float>();
    head.probabilities = probabilities ? slot.probabilities.as<float>() : nullptr;
    head.labels = dataset_.labels.as<int32_t>() + first;
    head.groups =
        dataset_.group_of_row.bytes() > 0 ? dataset_.group_of_row.as<int32_t>() + first : nullptr;
    head.confusion = confusion;
    head.non_finite_rows = confusion + confusion_size;
    head.loss_partials = partials.as<double>() + partial_offset;
    partial_offset += cuda::HeadBlocks(n);
    const float* x = dataset_.features.as<float>() + first * dataset_.cols;
    SOV_RETURN_IF_ERROR(Forward(x, first, n, noise, head));
    SOV_RETURN_IF_ERROR(EnqueueCopyBack(slot, first, n, probabilities));
    if (progress) progress("run", static_cast<double>(first + n) / static_cast<double>(rows));
  }
  // Collect the last two batches in row order (either order would do: the row ranges differ).
  for (int64_t j = 0; j < 2; ++j) SOV_RETURN_IF_ERROR(Drain(work_.slots[(k + j) % 2], output));

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

// A device copy of the dataset's rows repeated cyclically up to `batch` rows: the dataset once,
// then the filled prefix doubled, so that a one-row dataset needs log2(batch) copies.
Result<DeviceMemory> CudaBackend::CyclicInput(int64_t batch) {
  const auto row_bytes = static_cast<size_t>(dataset_.cols) * sizeof(float);
  SOV_ASSIGN_OR_RETURN(DeviceMemory input,
                       DeviceMemory::Allocate(static_cast<size_t>(batch) * row_bytes, &held_,
                                              "cyclic timing input"));
  auto* dst = input.as<std::byte>();
  const auto total = static_cast<size_t>(batch) * row_bytes;
  size_t filled = std::min(total, static_cast<size_t>(dataset_.rows) * row_bytes);
  SOV_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, dataset_.features.as<void>(), filled,
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

  DeviceMemory cyclic;
  const IdleOnExit idle(compute_.get(), copy_.get());
  const float* x = dataset_.features.as<float>();
  if (batch > dataset_.rows) {
    SOV_ASSIGN_OR_RETURN(cyclic, CyclicInput(batch));
    x = cyclic.as<float>();
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
      head.predictions = slot.predictions.as<int32_t>();
      head.margins = slot.margins.as<float>();
      SOV_RETURN_IF_ERROR(Forward(x + first * dataset_.cols, first, n, nullptr, head));
      SOV_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(slot.host_predictions.as<void>(),
                                               slot.predictions.as<void>(), n * sizeof(int32_t),
                                               cudaMemcpyDeviceToHost, compute_.get()));
      SOV_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(slot.host_margins.as<void>(),
                                               slot.margins.as<void>(), n * sizeof(float),
                                               cudaMemcpyDeviceToHost, compute_.get()));
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
