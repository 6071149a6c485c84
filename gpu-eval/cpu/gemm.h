// The CPU backend's matrix product, Y[n, out] = X[n, in] * W[out, in]^T (row-major, FP32
// multiply and FP32 accumulate): through a CBLAS (OpenBLAS) when the build found one, or the
// built-in engine, a register-blocked kernel for AVX-512, AVX2+FMA or SSE2 chosen at run time
// (see DefaultGemmEngine for which).
// Either way the work is split over the caller's ThreadPool in blocks of rows (or of columns when
// there are few rows); every output element is computed by one thread in a fixed order, so the
// result does not change from run to run. The built-in kernel goes further: an element's value
// does not depend on the batch size or the thread count either (each is one FP32 dot product
// over k in order). With a CBLAS, each block is one single-threaded cblas_sgemm call (OpenBLAS's
// own threads are set to 1 so that they never compete with the pool); its kernels depend on the
// block's size, so its last bits may.
//
// PackedWeights are immutable once made and may be shared by several threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gpu-eval/cpu/thread_pool.h"

namespace sov::gpu_eval::internal {

enum class GemmEngine { kBlas, kBuiltin };

// Called by the thread that computed block [row_begin, row_end) x [col_begin, col_end) of Y,
// right after computing it (while it is in cache): the place for bias and activation.
using GemmEpilogue =
    std::function<void(int64_t row_begin, int64_t row_end, int64_t col_begin, int64_t col_end)>;

// The engine for this machine: the built-in kernel where it has AVX2 or AVX-512 and the BLAS
// has no AVX-512 kernels for this CPU (OpenBLAS 0.3.21 on AMD Zen runs AVX2 kernels at half the
// built-in AVX-512 kernel's speed, and repacks the weights on every call); otherwise the BLAS
// when built with one. SOV_GPU_EVAL_CPU_GEMM=blas|builtin in the environment overrides the
// choice (benchmarks, tests); it is read at each call.
GemmEngine DefaultGemmEngine();
// For reports, e.g. "OpenBLAS 0.3.21 (Zen)" or "built-in sgemm (AVX-512)".
std::string GemmEngineDescription(GemmEngine engine);

// W [out, in] laid out for one engine: as given for the BLAS, in column panels for the built-in
// kernel (packed once per model, so that each pass reads W contiguously).
class PackedWeights {
 public:
  PackedWeights() = default;
  // Copies `w` (out * in floats, row-major). kBlas falls back to kBuiltin without a CBLAS.
  static PackedWeights Pack(std::span<const float> w, int64_t out, int64_t in, GemmEngine engine);
  // For the built-in engine with a given kernel (one of SupportedBuiltinKernels(); empty or
  // unknown: the best).
  static PackedWeights PackBuiltin(std::span<const float> w, int64_t out, int64_t in,
                                   std::string_view kernel);

  int64_t out() const { return out_; }
  int64_t in() const { return in_; }
  GemmEngine engine() const { return engine_; }
  size_t bytes() const { return data_.size() * sizeof(float); }

 private:
  friend void Sgemm(const float*, int64_t, const PackedWeights&, float*, ThreadPool&,
                    const GemmEpilogue&);
  int64_t out_ = 0;
  int64_t in_ = 0;
  GemmEngine engine_ = GemmEngine::kBuiltin;
  int isa_ = 0;  // the built-in kernel's instruction set, which fixes the panel width
  std::vector<float> data_;
};

// Y[n, w.out()] = X[n, w.in()] * W^T; x and y are dense row-major. Runs on `pool`.
void Sgemm(const float* x, int64_t n, const PackedWeights& w, float* y, ThreadPool& pool,
           const GemmEpilogue& epilogue = {});

// The built-in kernels this CPU can run, best first: "avx512", "avx2", "baseline".
std::vector<std::string_view> SupportedBuiltinKernels();

// The built-in engine on plain row-major W [out, in] with the named kernel (empty: the best), for
// tests (packs, then Sgemm).
void BuiltinSgemm(const float* x, const float* w, float* y, int64_t n, int64_t in, int64_t out,
                  ThreadPool& pool, std::string_view kernel = {});

}  // namespace sov::gpu_eval::internal
