// The CUDA backend's own kernels (everything but the GEMMs, which cuBLAS runs): dtype conversion
// of weights and features, seeded input noise, the fused bias + activation that writes the next
// layer's input, and the softmax head that turns logits into predictions, margins and the metrics'
// device-side counts. Internal to gpu-eval/cuda/ (cuda_backend.cc is the only caller).
//
// Each Launch* function enqueues its kernel on `stream` and returns cudaGetLastError() (the
// launch's own error; faults during execution surface at the next synchronising call). 16-bit
// values travel as their bit patterns (uint16_t), so that this header needs no cuda_fp16.h.
// Plain C++17: kernels.cu is compiled by nvcc, which CMake 3.25 cannot ask for C++20.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace sov::gpu_eval::cuda {

// The hidden layers' activations (the numbering is the kernels', not model.h's enum).
enum class ActivationCode : int { kIdentity = 0, kRelu, kGelu, kTanh, kSigmoid };

// out[i] = the FP32 value of F16 in[i] (exact).
cudaError_t LaunchF16ToF32(const uint16_t* in, float* out, int64_t n, cudaStream_t stream);
// out[i] = the FP32 value of BF16 in[i] (exact).
cudaError_t LaunchBF16ToF32(const uint16_t* in, float* out, int64_t n, cudaStream_t stream);
// out[i] = the BF16 nearest to in[i] (round to nearest even).
cudaError_t LaunchF32ToBF16(const float* in, uint16_t* out, int64_t n, cudaStream_t stream);

// For x [rows, cols] row-major holding dataset rows first_row.., writes
// noise::AddNoise(x, stddev, seed, first_row + r, c, cols) to out32 [rows, cols] and/or its BF16
// rounding to out16 (either may be null, not both). Bit-identical to the CPU backend's noise.
cudaError_t LaunchAddNoise(const float* x, int64_t rows, int64_t cols, int64_t first_row,
                           double stddev, uint64_t seed, float* out32, uint16_t* out16,
                           cudaStream_t stream);

// z [rows, cols] row-major (a GEMM's output) becomes act(z + bias) in place; when out16 is not
// null the result is also written there as BF16 (the next GEMM's input on the BF16 path).
cudaError_t LaunchBiasActivation(float* z, const float* bias, int64_t rows, int64_t cols,
                                 ActivationCode activation, uint16_t* out16, cudaStream_t stream);

// The softmax head over one batch, with the CPU backend's semantics. Per row of logits
// z = logits[r] + bias: prediction = the lowest index of max z (NaN skipped, 0 if all NaN);
// p = softmax(z) with max z subtracted (FP32); margin = p[prediction] minus the largest other p
// (0 for a row with a NaN or infinite logit). Optional outputs are skipped when null.
struct HeadArgs {
  const float* logits = nullptr;  // [rows, classes], before the bias
  const float* bias = nullptr;    // [classes]
  int64_t rows = 0;
  int64_t classes = 0;
  int32_t* predictions = nullptr;  // [rows]
  float* margins = nullptr;        // [rows]
  float* probabilities = nullptr;  // [rows, classes] or null
  // Metrics (all null in timing passes). labels and groups are already offset to the batch.
  const int32_t* labels = nullptr;          // [rows] in 0..classes-1
  const int32_t* groups = nullptr;          // [rows] in 0..G-1, or null: everything in group 0
  int64_t group_count = 1;                  // G (1 when groups is null)
  unsigned long long* confusion = nullptr;  // [G][classes][classes], atomically incremented
  unsigned long long* non_finite_rows = nullptr;  // incremented once per row with a NaN/Inf logit
  // One partial sum of -log(clip(p[label], 1e-15, 1 - 1e-15)) (-log(1e-15) for a non-finite row)
  // per block of HeadRowsPerBlock() rows, each summed in a fixed order in double, so that the
  // total never depends on scheduling.
  double* loss_partials = nullptr;  // [HeadBlocks(rows)]
};

// Rows that one block of the head kernel handles, and the blocks (= loss partials) for `rows`.
int64_t HeadRowsPerBlock();
int64_t HeadBlocks(int64_t rows);

// Up to kRowPerThreadMaxClasses classes the head runs one thread per row over a block's logits
// staged in shared memory, and counts the confusion matrix in shared memory first when it has at
// most kSharedConfusionMaxCounts cells; wider heads run one warp per row with global counters.
inline constexpr int64_t kRowPerThreadMaxClasses = 32;
inline constexpr int64_t kSharedConfusionMaxCounts = 2048;

cudaError_t LaunchSoftmaxHead(const HeadArgs& args, cudaStream_t stream);

}  // namespace sov::gpu_eval::cuda
