// The CUDA backend's kernels (see kernels.h). Every kernel is deterministic: a thread's result
// depends only on its inputs, reductions within a warp or block run in a fixed order, and the only
// atomics are on integer counters, whose totals do not depend on the order of the additions.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <climits>
#include <cmath>

#include "gpu-eval/cuda/kernels.h"
#include "gpu-eval/internal/noise.h"

namespace sov::gpu_eval::cuda {
namespace {

constexpr int kThreads = 256;
// Grid-stride loops cap the grid; 65536 blocks of 256 threads saturate any current GPU.
constexpr int64_t kMaxBlocks = 65536;

constexpr int kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;
// The head: 8 warps per block, each handling 32 rows, so one loss partial per 256 rows.
constexpr int kHeadWarps = kThreads / kWarpSize;
constexpr int kHeadRowsPerWarp = 32;
constexpr int64_t kHeadRowsPerBlock = static_cast<int64_t>(kHeadWarps) * kHeadRowsPerWarp;

unsigned GridFor(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > kMaxBlocks ? kMaxBlocks : blocks));
}

__device__ __forceinline__ int64_t GlobalThread() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t GridStride() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

__device__ __forceinline__ uint16_t ToBF16Bits(float x) {
  return __bfloat16_as_ushort(__float2bfloat16_rn(x));
}

__global__ void F16ToF32Kernel(const uint16_t* in, float* out, int64_t n) {
  for (int64_t i = GlobalThread(); i < n; i += GridStride()) {
    out[i] = __half2float(__ushort_as_half(in[i]));
  }
}

__global__ void BF16ToF32Kernel(const uint16_t* in, float* out, int64_t n) {
  for (int64_t i = GlobalThread(); i < n; i += GridStride()) {
    out[i] = __uint_as_float(static_cast<uint32_t>(in[i]) << 16);
  }
}

__global__ void F32ToBF16Kernel(const float* in, uint16_t* out, int64_t n) {
  for (int64_t i = GlobalThread(); i < n; i += GridStride()) out[i] = ToBF16Bits(in[i]);
}

__global__ void AddNoiseKernel(const float* x, int64_t rows, int64_t cols, int64_t first_row,
                               double stddev, uint64_t seed, float* out32, uint16_t* out16) {
  const int64_t n = rows * cols;
  for (int64_t i = GlobalThread(); i < n; i += GridStride()) {
    const int64_t r = i / cols;
    const int64_t c = i - r * cols;
    const float noisy = noise::AddNoise(x[i], stddev, seed, first_row + r, c, cols);
    if (out32 != nullptr) out32[i] = noisy;
    if (out16 != nullptr) out16[i] = ToBF16Bits(noisy);
  }
}

// NaN propagates through every activation (as in torch), so that a NaN anywhere in a hidden
// layer reaches the logits and is counted there as a non-finite row.
__device__ __forceinline__ float Activate(float z, ActivationCode activation) {
  switch (activation) {
    case ActivationCode::kRelu:
      return z < 0.0f ? 0.0f : z;
    case ActivationCode::kGelu:
      return 0.5f * z * (1.0f + erff(z * 0.70710678118654752440f));
    case ActivationCode::kTanh:
      return tanhf(z);
    case ActivationCode::kSigmoid:
      return 1.0f / (1.0f + expf(-z));
    case ActivationCode::kIdentity:
      break;
  }
  return z;
}

// Columns along x (coalesced), rows along y with a stride: no 64-bit division per element.
__global__ void BiasActivationKernel(float* z, const float* bias, int64_t rows, int64_t cols,
                                     ActivationCode activation, uint16_t* out16) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  const float b = bias[c];
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const int64_t i = r * cols + c;
    const float a = Activate(z[i] + b, activation);
    z[i] = a;
    if (out16 != nullptr) out16[i] = ToBF16Bits(a);
  }
}

// The largest and second-largest logit seen so far, and the largest one's class (kNoClass until
// a non-NaN logit arrives).
constexpr int kNoClass = INT_MAX;
struct TopTwo {
  float best;
  float second;
  int index;
};

// Within one lane classes arrive in increasing order, so "strictly greater" keeps the lowest
// index of an exact tie. NaN never enters (the CPU backend skips NaN the same way); -inf does.
__device__ __forceinline__ void Offer(TopTwo& t, float z, int c) {
  if (isnan(z)) return;
  if (t.index == kNoClass || z > t.best) {
    t.second = t.best;
    t.best = z;
    t.index = c;
  } else if (z > t.second) {
    t.second = z;
  }
}

// Merges two lanes' TopTwo. Symmetric in (a, b): the larger best wins, the lower index on an
// exact tie (kNoClass loses to any class); the second is the larger of the loser's best and the
// winner's second. Every lane of a butterfly therefore ends with the same result.
__device__ __forceinline__ TopTwo Merge(const TopTwo& a, const TopTwo& b) {
  bool a_wins;
  if (a.index == kNoClass || b.index == kNoClass) {
    a_wins = a.index <= b.index;
  } else {
    a_wins = a.best > b.best || (a.best == b.best && a.index <= b.index);
  }
  const TopTwo& w = a_wins ? a : b;
  const TopTwo& l = a_wins ? b : a;
  return TopTwo{w.best, fmaxf(w.second, l.best), w.index};
}

__device__ __forceinline__ float WarpSum(float v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    v += __shfl_xor_sync(kFullMask, v, offset);
  }
  return __shfl_sync(kFullMask, v, 0);  // lane 0's order of additions, for every lane
}

__device__ __forceinline__ TopTwo WarpTopTwo(TopTwo t) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    TopTwo other;
    other.best = __shfl_xor_sync(kFullMask, t.best, offset);
    other.second = __shfl_xor_sync(kFullMask, t.second, offset);
    other.index = __shfl_xor_sync(kFullMask, t.index, offset);
    t = Merge(t, other);
  }
  TopTwo lane0;
  lane0.best = __shfl_sync(kFullMask, t.best, 0);
  lane0.second = __shfl_sync(kFullMask, t.second, 0);
  lane0.index = __shfl_sync(kFullMask, t.index, 0);
  return lane0;
}

// The log-loss term of a row whose label's logit (bias included) is z_label: -log(clip(p, 1e-15,
// 1 - 1e-15)) with p = exp(z_label - row_max) / sum, in double; -log(1e-15) for a non-finite row.
__device__ __forceinline__ double RowLoss(float z_label, float row_max, float sum,
                                          bool non_finite) {
  constexpr double kClip = 1e-15;
  double p_true = kClip;
  if (!non_finite) {
    p_true = static_cast<double>(expf(z_label - row_max) / sum);
    p_true = fmin(fmax(p_true, kClip), 1.0 - kClip);
  }
  return -log(p_true);
}

// p[prediction] minus the largest other p, where p[prediction] = exp(0) / sum = 1 / sum, exactly as
// the CPU computes it; 0 for a non-finite row.
__device__ __forceinline__ float RowMargin(const TopTwo& top, float row_max, float sum,
                                           bool non_finite) {
  return non_finite ? 0.0f : 1.0f / sum - expf(top.second - row_max) / sum;
}

// The index of row r's cell in the confusion counts [group][label][predicted], or -1 when its
// label or group is out of range (LoadDataset has checked both: never count out of bounds).
__device__ __forceinline__ int64_t ConfusionCell(const HeadArgs& a, int64_t r, int predicted) {
  const int32_t label = a.labels[r];
  const int64_t group = a.groups != nullptr ? a.groups[r] : 0;
  if (label < 0 || label >= a.classes || group < 0 || group >= a.group_count) return -1;
  return (group * a.classes + label) * a.classes + predicted;
}

// One warp per row, 32 rows per warp, 8 warps per block (blockDim.x must be kThreads). Rows are
// warp-uniform, so every shuffle has all 32 lanes.
//
// The semantics are the CPU backend's (gpu-eval/cpu/cpu_backend.cc), per row of logits z:
//   prediction  the lowest index of max z, NaN skipped (0 if every logit is NaN)
//   probability e_c = exp(z_c - z[prediction]), p_c = e_c / sum e, in FP32
//   margin      p[prediction] minus the largest other p; 0 for a non-finite row
//   log-loss    -log(clip(p[label], 1e-15, 1 - 1e-15)) in double; -log(1e-15) if non-finite
// Since p is monotonic in z, the largest other p is that of the second-largest logit.
__global__ void __launch_bounds__(kThreads) SoftmaxHeadKernel(HeadArgs a) {
  __shared__ double warp_loss[kHeadWarps];
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int classes = static_cast<int>(a.classes);
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kHeadRowsPerBlock +
                        static_cast<int64_t>(warp) * kHeadRowsPerWarp;
  double loss = 0.0;  // this warp's rows, in row order (meaningful in lane 0)

  for (int j = 0; j < kHeadRowsPerWarp; ++j) {
    const int64_t r = first + j;
    if (r >= a.rows) break;
    const float* z = a.logits + r * a.classes;

    TopTwo top{-INFINITY, -INFINITY, kNoClass};
    bool non_finite = false;
    for (int c = lane; c < classes; c += kWarpSize) {
      const float v = z[c] + a.bias[c];
      non_finite |= !isfinite(v);
      Offer(top, v, c);
    }
    top = WarpTopTwo(top);
    non_finite = __any_sync(kFullMask, non_finite);
    const int predicted = top.index == kNoClass ? 0 : top.index;
    const float row_max = top.index == kNoClass ? NAN : top.best;

    float sum = 0.0f;
    for (int c = lane; c < classes; c += kWarpSize) sum += expf((z[c] + a.bias[c]) - row_max);
    sum = WarpSum(sum);

    if (a.probabilities != nullptr) {
      for (int c = lane; c < classes; c += kWarpSize) {
        a.probabilities[r * a.classes + c] = expf((z[c] + a.bias[c]) - row_max) / sum;
      }
    }

    if (lane == 0) {
      a.predictions[r] = predicted;
      a.margins[r] = RowMargin(top, row_max, sum, non_finite);
      if (a.non_finite_rows != nullptr && non_finite) atomicAdd(a.non_finite_rows, 1ull);
      const int64_t cell = a.labels != nullptr ? ConfusionCell(a, r, predicted) : -1;
      if (cell >= 0) {
        if (a.confusion != nullptr) atomicAdd(&a.confusion[cell], 1ull);
        const int label = a.labels[r];
        loss += RowLoss(z[label] + a.bias[label], row_max, sum, non_finite);
      }
    }
  }

  if (a.loss_partials == nullptr) return;  // uniform over the block: no thread skips the barrier
  if (lane == 0) warp_loss[warp] = loss;
  __syncthreads();
  if (threadIdx.x == 0) {
    double block_loss = 0.0;
    for (int w = 0; w < kHeadWarps; ++w) block_loss += warp_loss[w];
    a.loss_partials[blockIdx.x] = block_loss;
  }
}

// One thread per row, kHeadRowsPerBlock (= kThreads) rows per block, for heads of at most
// kRowPerThreadMaxClasses classes, with the same semantics and outputs as SoftmaxHeadKernel. A
// warp per row would leave most lanes idle on a narrow head and work through its 32 rows one after
// the other; here every thread has its own row and the block reads its logits once, coalesced.
//
// Dynamic shared memory: the block's logits plus bias, [kThreads][classes] floats (overwritten by
// the probabilities when they are asked for, then written out coalesced), followed by
// `shared_counts` 32-bit confusion counters (0: the counters are incremented in global memory
// directly). Counting in shared memory first matters: on a model that is mostly right, every row
// of a batch increments one of a few diagonal cells, and tens of thousands of global atomics on
// the same few addresses queue up behind each other in one L2 slice. At most kThreads rows count
// into a block's counters, so 32 bits never overflow; the global totals are integers, so the
// order of the additions never changes them.
__global__ void __launch_bounds__(kThreads) RowPerThreadHeadKernel(HeadArgs a, int shared_counts) {
  extern __shared__ float head_shared[];
  __shared__ double row_loss[kThreads];
  const int classes = static_cast<int>(a.classes);
  const int t = static_cast<int>(threadIdx.x);
  const int64_t block_first = static_cast<int64_t>(blockIdx.x) * kHeadRowsPerBlock;
  const int block_rows = static_cast<int>(
      a.rows - block_first < kHeadRowsPerBlock ? a.rows - block_first : kHeadRowsPerBlock);
  float* tile = head_shared;
  unsigned* counts = reinterpret_cast<unsigned*>(head_shared + kThreads * classes);

  for (int i = t; i < shared_counts; i += kThreads) counts[i] = 0u;
  const float* logits = a.logits + block_first * a.classes;
  const int tile_size = block_rows * classes;
  for (int i = t; i < tile_size; i += kThreads) tile[i] = logits[i] + a.bias[i % classes];
  __syncthreads();

  double loss = 0.0;
  if (t < block_rows) {
    const int64_t r = block_first + t;
    float* z = tile + t * classes;
    TopTwo top{-INFINITY, -INFINITY, kNoClass};
    bool non_finite = false;
    for (int c = 0; c < classes; ++c) {
      non_finite |= !isfinite(z[c]);
      Offer(top, z[c], c);
    }
    const int predicted = top.index == kNoClass ? 0 : top.index;
    const float row_max = top.index == kNoClass ? NAN : top.best;
    float sum = 0.0f;
    for (int c = 0; c < classes; ++c) sum += expf(z[c] - row_max);

    a.predictions[r] = predicted;
    a.margins[r] = RowMargin(top, row_max, sum, non_finite);
    if (a.non_finite_rows != nullptr && non_finite) atomicAdd(a.non_finite_rows, 1ull);
    const int64_t cell = a.labels != nullptr ? ConfusionCell(a, r, predicted) : -1;
    if (cell >= 0) {
      if (shared_counts > 0) {
        atomicAdd(&counts[cell], 1u);
      } else if (a.confusion != nullptr) {
        atomicAdd(&a.confusion[cell], 1ull);
      }
      loss = RowLoss(z[a.labels[r]], row_max, sum, non_finite);
    }
    if (a.probabilities != nullptr) {
      for (int c = 0; c < classes; ++c) z[c] = expf(z[c] - row_max) / sum;
    }
  }
  row_loss[t] = loss;
  __syncthreads();  // the probabilities, counters and losses of every row are in shared memory

  if (a.probabilities != nullptr) {
    float* out = a.probabilities + block_first * a.classes;
    for (int i = t; i < tile_size; i += kThreads) out[i] = tile[i];
  }
  for (int i = t; i < shared_counts; i += kThreads) {
    if (counts[i] != 0u) atomicAdd(&a.confusion[i], static_cast<unsigned long long>(counts[i]));
  }
  if (a.loss_partials == nullptr) return;  // uniform over the block: no thread skips a barrier
  // A fixed tree over the block's rows (rows past the end add +0.0, which changes nothing).
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (t < stride) row_loss[t] += row_loss[t + stride];
    __syncthreads();
  }
  if (t == 0) a.loss_partials[blockIdx.x] = row_loss[0];
}

static_assert(kHeadRowsPerBlock == kThreads, "the row-per-thread head gives each thread one row");

}  // namespace

cudaError_t LaunchF16ToF32(const uint16_t* in, float* out, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  F16ToF32Kernel<<<GridFor(n), kThreads, 0, stream>>>(in, out, n);
  return cudaGetLastError();
}

cudaError_t LaunchBF16ToF32(const uint16_t* in, float* out, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  BF16ToF32Kernel<<<GridFor(n), kThreads, 0, stream>>>(in, out, n);
  return cudaGetLastError();
}

cudaError_t LaunchF32ToBF16(const float* in, uint16_t* out, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  F32ToBF16Kernel<<<GridFor(n), kThreads, 0, stream>>>(in, out, n);
  return cudaGetLastError();
}

cudaError_t LaunchAddNoise(const float* x, int64_t rows, int64_t cols, int64_t first_row,
                           double stddev, uint64_t seed, float* out32, uint16_t* out16,
                           cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return cudaSuccess;
  if (out32 == nullptr && out16 == nullptr) return cudaErrorInvalidValue;
  AddNoiseKernel<<<GridFor(rows * cols), kThreads, 0, stream>>>(x, rows, cols, first_row, stddev,
                                                                seed, out32, out16);
  return cudaGetLastError();
}

cudaError_t LaunchBiasActivation(float* z, const float* bias, int64_t rows, int64_t cols,
                                 ActivationCode activation, uint16_t* out16, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return cudaSuccess;
  const int64_t column_blocks = (cols + kThreads - 1) / kThreads;
  if (column_blocks > INT_MAX) return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(column_blocks),
                  static_cast<unsigned>(rows < 65535 ? rows : 65535));
  BiasActivationKernel<<<grid, kThreads, 0, stream>>>(z, bias, rows, cols, activation, out16);
  return cudaGetLastError();
}

int64_t HeadRowsPerBlock() { return kHeadRowsPerBlock; }

int64_t HeadBlocks(int64_t rows) { return (rows + kHeadRowsPerBlock - 1) / kHeadRowsPerBlock; }

cudaError_t LaunchSoftmaxHead(const HeadArgs& args, cudaStream_t stream) {
  if (args.rows <= 0) return cudaSuccess;
  // The kernel indexes classes with int and lane 0 owns the outputs: refuse what it cannot do.
  if (args.classes < 2 || args.classes > INT_MAX || args.logits == nullptr ||
      args.bias == nullptr || args.predictions == nullptr || args.margins == nullptr) {
    return cudaErrorInvalidValue;
  }
  const int64_t blocks = HeadBlocks(args.rows);
  if (blocks > INT_MAX) return cudaErrorInvalidValue;
  if (args.labels != nullptr && args.group_count < 1) return cudaErrorInvalidValue;
  if (args.classes > kRowPerThreadMaxClasses) {
    SoftmaxHeadKernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(args);
    return cudaGetLastError();
  }
  const int64_t cells = args.group_count * args.classes * args.classes;
  const int shared_counts =
      args.labels != nullptr && args.confusion != nullptr && cells <= kSharedConfusionMaxCounts
          ? static_cast<int>(cells)
          : 0;
  // At most 32 KiB of logits and 8 KiB of counters: within the 48 KiB every device allows.
  const size_t shared_bytes = static_cast<size_t>(kThreads) * static_cast<size_t>(args.classes) *
                                  sizeof(float) +
                              static_cast<size_t>(shared_counts) * sizeof(unsigned);
  RowPerThreadHeadKernel<<<static_cast<unsigned>(blocks), kThreads, shared_bytes, stream>>>(
      args, shared_counts);
  return cudaGetLastError();
}

}  // namespace sov::gpu_eval::cuda
