// Y = X * W^T for the CPU backend: a CBLAS when there is one, else the built-in kernel
// (gemm_kernel.inc, compiled once per instruction set and chosen at run time with
// __builtin_cpu_supports, so that a generic -O2 build still uses AVX-512 or AVX2 where present).
#include "gpu-eval/cpu/gemm.h"

#include <strings.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

#if defined(SOV_HAVE_CBLAS)
#include <cblas.h>
#endif

namespace sov::gpu_eval::internal {
namespace {

// Instruction sets of the built-in kernel, best first.
enum Isa : int { kIsaAvx512 = 0, kIsaAvx2 = 1, kIsaBaseline = 2 };

}  // namespace

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define SOV_GEMM_X86 1
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#pragma GCC optimize("fp-contract=fast")
namespace avx512 {
constexpr int kLanes = 16;
typedef float V __attribute__((vector_size(kLanes * sizeof(float))));
#include "gpu-eval/cpu/gemm_kernel.inc"
}  // namespace avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#pragma GCC optimize("fp-contract=fast")
namespace avx2 {
constexpr int kLanes = 8;
typedef float V __attribute__((vector_size(kLanes * sizeof(float))));
#include "gpu-eval/cpu/gemm_kernel.inc"
}  // namespace avx2
#pragma GCC pop_options
#endif

// Any target: GCC lowers 4-float vectors to SSE2 (or NEON), multiply then add.
namespace baseline {
constexpr int kLanes = 4;
typedef float V __attribute__((vector_size(kLanes * sizeof(float))));
#include "gpu-eval/cpu/gemm_kernel.inc"
}  // namespace baseline

namespace {

int BestIsa() {
#if defined(SOV_GEMM_X86)
  if (__builtin_cpu_supports("avx512f")) return kIsaAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return kIsaAvx2;
#endif
  return kIsaBaseline;
}

std::string_view IsaName(int isa) {
  switch (isa) {
    case kIsaAvx512:
      return "avx512";
    case kIsaAvx2:
      return "avx2";
    default:
      return "baseline";
  }
}

int PanelWidth(int isa) {
  switch (isa) {
#if defined(SOV_GEMM_X86)
    case kIsaAvx512:
      return avx512::kNr;
    case kIsaAvx2:
      return avx2::kNr;
#endif
    default:
      return baseline::kNr;
  }
}

int RowStrip(int isa) {
  switch (isa) {
#if defined(SOV_GEMM_X86)
    case kIsaAvx512:
      return avx512::kMr;
    case kIsaAvx2:
      return avx2::kMr;
#endif
    default:
      return baseline::kMr;
  }
}

void BuiltinBlock(int isa, const float* x, int64_t in, const float* packed, int64_t out, float* y,
                  int64_t row_begin, int64_t row_end, int64_t panel_begin, int64_t panel_end) {
  switch (isa) {
#if defined(SOV_GEMM_X86)
    case kIsaAvx512:
      return avx512::Block(x, in, packed, out, y, row_begin, row_end, panel_begin, panel_end);
    case kIsaAvx2:
      return avx2::Block(x, in, packed, out, y, row_begin, row_end, panel_begin, panel_end);
#endif
    default:
      return baseline::Block(x, in, packed, out, y, row_begin, row_end, panel_begin, panel_end);
  }
}

// Panel j holds W's rows [j * width, (j + 1) * width) transposed: panel[p * width + c] =
// W[j * width + c][p], zero past `out`, so that the kernel reads it with unit stride.
std::vector<float> PackPanels(std::span<const float> w, int64_t out, int64_t in, int width) {
  const int64_t panels = (out + width - 1) / width;
  std::vector<float> packed(static_cast<size_t>(panels * in * width), 0.0f);
  for (int64_t j = 0; j < panels; ++j) {
    float* panel = packed.data() + j * in * width;
    const int64_t cols = std::min<int64_t>(width, out - j * width);
    for (int64_t c = 0; c < cols; ++c) {
      const float* row = w.data() + (j * width + c) * in;
      for (int64_t p = 0; p < in; ++p) panel[p * width + c] = row[p];
    }
  }
  return packed;
}

// How Y is cut into per-task blocks: row blocks, each split into column groups when there are
// too few row blocks to keep every thread busy (small batches).
struct Partition {
  // The rows are shared out in units of row_unit rows (the kernel's strip height), as evenly as
  // whole units allow: the first row_units % row_tasks tasks get one unit more than the others,
  // so that no thread is left with a short last block while the others work on.
  int64_t row_unit = 1;
  int64_t row_units = 0;
  int64_t row_tasks = 0;
  int64_t col_block = 0;  // columns per task, a multiple of the engine's panel width
  int64_t col_tasks = 0;

  // Rows [first, second) of row task `i`, for a product of `n` rows.
  std::pair<int64_t, int64_t> Rows(int64_t i, int64_t n) const {
    const int64_t base = row_units / row_tasks;
    const int64_t extra = row_units % row_tasks;
    const int64_t begin = i * base + std::min(i, extra);
    const int64_t end = begin + base + (i < extra ? 1 : 0);
    return {begin * row_unit, std::min(n, end * row_unit)};
  }
};

Partition Split(int64_t n, int64_t out, int threads, int64_t max_row_block, int64_t row_multiple,
                int64_t col_multiple) {
  Partition p;
  // Row blocks of about max_row_block rows at most, whole strips of the kernel each.
  int64_t row_tasks = std::max<int64_t>((n + max_row_block - 1) / max_row_block, 1);
  if (row_tasks < threads && n >= threads * row_multiple * 4) row_tasks = threads;
  // A whole number of rounds over the threads, so that none idles through the last one.
  if (row_tasks > threads) row_tasks = (row_tasks + threads - 1) / threads * threads;
  p.row_unit = row_multiple;
  p.row_units = (n + row_multiple - 1) / row_multiple;
  p.row_tasks = std::min(row_tasks, p.row_units);
  const int64_t col_units = (out + col_multiple - 1) / col_multiple;
  int64_t col_tasks = 1;
  if (p.row_tasks < threads) {
    col_tasks = std::min<int64_t>(col_units, (2 * threads + p.row_tasks - 1) / p.row_tasks);
  }
  p.col_block = (col_units + col_tasks - 1) / col_tasks * col_multiple;
  p.col_tasks = (out + p.col_block - 1) / p.col_block;
  return p;
}

#if defined(SOV_HAVE_CBLAS)
// One block per thread, on a grid of row blocks x column blocks. Each cblas_sgemm call packs its
// whole block of X (rows x in) and of W (cols x in) before multiplying, so a thread's packing
// work is (rows + cols) x in, while its products are rows x cols x in. The grid that keeps every
// thread busy with the least packing per thread wins: for batch 1,024 through a 1,024-wide layer
// on 16 threads, 4 x 4 blocks of 256 x 256 pack (256 + 256) x in each, where 16 row blocks of
// 64 rows would each pack all 1,024 of W's rows again (64 + 1,024). On one core, OpenBLAS
// 0.3.21 (Haswell kernels) ran 256 x 256 x 784 10 % faster than 64 x 1,024 x 784, the same
// products; with 16 threads packing all of W at once, the shared caches also hold 16 copies.
// Small batches end up cut by columns and narrow layers by rows, as before; ties go to rows.
Partition SplitForBlas(int64_t n, int64_t out, int threads) {
  constexpr int64_t kColMultiple = 16;  // whole SIMD vectors of W's rows per block
  const int64_t col_units = (out + kColMultiple - 1) / kColMultiple;
  Partition best;
  int64_t best_tasks = 0;
  int64_t best_cost = 0;
  for (int64_t row_tasks = 1; row_tasks <= threads; ++row_tasks) {
    const int64_t col_tasks_wanted = threads / row_tasks;
    const int64_t col_tasks = std::min(col_tasks_wanted, col_units);
    const int64_t col_block = (col_units + col_tasks - 1) / col_tasks * kColMultiple;
    Partition p;
    p.row_units = n;
    p.row_tasks = std::min(row_tasks, n);
    p.col_block = std::min(col_block, out);
    p.col_tasks = (out + p.col_block - 1) / p.col_block;
    const int64_t tasks = p.row_tasks * p.col_tasks;
    const int64_t row_block = (n + p.row_tasks - 1) / p.row_tasks;
    const int64_t cost = row_block + p.col_block;  // packed rows per thread, at most
    if (tasks > best_tasks || (tasks == best_tasks && cost <= best_cost)) {
      best = p;
      best_tasks = tasks;
      best_cost = cost;
    }
  }
  return best;
}
#endif

void RunPartition(const Partition& p, int64_t n, int64_t out, ThreadPool& pool,
                  const std::function<void(int64_t, int64_t, int64_t, int64_t)>& block,
                  const GemmEpilogue& epilogue) {
  pool.Run(p.row_tasks * p.col_tasks, [&](int64_t task) {
    const auto [r0, r1] = p.Rows(task / p.col_tasks, n);
    const int64_t c0 = (task % p.col_tasks) * p.col_block;
    const int64_t c1 = std::min(out, c0 + p.col_block);
    block(r0, r1, c0, c1);
    if (epilogue) epilogue(r0, r1, c0, c1);
  });
}

#if defined(SOV_HAVE_CBLAS)
bool BlasHasAvx512Kernels() {
#if defined(SOV_HAVE_OPENBLAS)
  const std::string core = openblas_get_corename();
  for (const char* avx512_core : {"skylakex", "cooperlake", "sapphirerapids"}) {
    if (strcasecmp(core.c_str(), avx512_core) == 0) return true;
  }
  return false;
#else
  return true;  // an unknown CBLAS: trust it
#endif
}

// The pool supplies the parallelism: OpenBLAS runs each call on the calling thread.
void UseSingleThreadedBlas() {
  static std::once_flag once;
  std::call_once(once, [] {
#if defined(SOV_HAVE_OPENBLAS)
    openblas_set_num_threads(1);
#endif
  });
}
#endif

}  // namespace

GemmEngine DefaultGemmEngine() {
  // An override for benchmarks and tests: compare the engines on one machine.
  if (const char* forced = std::getenv("SOV_GPU_EVAL_CPU_GEMM")) {
    if (std::strcmp(forced, "builtin") == 0) return GemmEngine::kBuiltin;
#if defined(SOV_HAVE_CBLAS)
    if (std::strcmp(forced, "blas") == 0) return GemmEngine::kBlas;
#endif
  }
#if defined(SOV_HAVE_CBLAS)
  // OpenBLAS chooses its kernels by CPU model, and 0.3.21 runs AMD Zen 4 and 5 on its Haswell
  // (AVX2) kernels. Measured on such a CPU (1024x1024 weights, one thread): the built-in AVX-512
  // kernel takes half OpenBLAS's time at every batch size; the built-in AVX2 kernel matches it at
  // batch 1024 and beats it at batch 1 and 32 (its weights are packed once per model, where each
  // cblas_sgemm call packs them again). So the BLAS is used where it has AVX-512 kernels of its
  // own (Intel Skylake-X and later), or where the built-in kernel would be plain SSE2.
  if (BestIsa() == kIsaBaseline || BlasHasAvx512Kernels()) return GemmEngine::kBlas;
  return GemmEngine::kBuiltin;
#else
  return GemmEngine::kBuiltin;
#endif
}

std::string GemmEngineDescription(GemmEngine engine) {
#if defined(SOV_HAVE_CBLAS)
  if (engine == GemmEngine::kBlas) {
#if defined(SOV_HAVE_OPENBLAS)
    // openblas_get_config() is e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64".
    std::string config = openblas_get_config();
    const size_t second_space = config.find(' ', config.find(' ') + 1);
    return config.substr(0, second_space) + " (" + openblas_get_corename() + ")";
#else
    return "CBLAS";
#endif
  }
#endif
  (void)engine;
  switch (BestIsa()) {
    case kIsaAvx512:
      return "built-in sgemm (AVX-512)";
    case kIsaAvx2:
      return "built-in sgemm (AVX2+FMA)";
    default:
      return "built-in sgemm (baseline SIMD)";
  }
}

PackedWeights PackedWeights::Pack(std::span<const float> w, int64_t out, int64_t in,
                                  GemmEngine engine) {
  PackedWeights packed;
  packed.out_ = out;
  packed.in_ = in;
#if defined(SOV_HAVE_CBLAS)
  if (engine == GemmEngine::kBlas) {
    packed.engine_ = GemmEngine::kBlas;
    packed.data_.assign(w.begin(), w.end());
    return packed;
  }
#endif
  (void)engine;
  return PackBuiltin(w, out, in, /*kernel=*/{});
}

PackedWeights PackedWeights::PackBuiltin(std::span<const float> w, int64_t out, int64_t in,
                                         std::string_view kernel) {
  PackedWeights packed;
  packed.out_ = out;
  packed.in_ = in;
  packed.engine_ = GemmEngine::kBuiltin;
  packed.isa_ = BestIsa();
  for (int isa = BestIsa(); isa <= kIsaBaseline; ++isa) {
    if (kernel == IsaName(isa)) packed.isa_ = isa;
  }
  packed.data_ = PackPanels(w, out, in, PanelWidth(packed.isa_));
  return packed;
}

std::vector<std::string_view> SupportedBuiltinKernels() {
  std::vector<std::string_view> kernels;
  for (int isa = BestIsa(); isa <= kIsaBaseline; ++isa) kernels.push_back(IsaName(isa));
  return kernels;
}

void Sgemm(const float* x, int64_t n, const PackedWeights& w, float* y, ThreadPool& pool,
           const GemmEpilogue& epilogue) {
  if (n <= 0) return;
  const int64_t in = w.in_;
  const int64_t out = w.out_;
#if defined(SOV_HAVE_CBLAS)
  if (w.engine_ == GemmEngine::kBlas) {
    UseSingleThreadedBlas();
    const Partition p = SplitForBlas(n, out, pool.threads());
    const float* wd = w.data_.data();
    RunPartition(
        p, n, out, pool,
        [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(r1 - r0),
                      static_cast<int>(c1 - c0), static_cast<int>(in), 1.0f, x + r0 * in,
                      static_cast<int>(in), wd + c0 * in, static_cast<int>(in), 0.0f,
                      y + r0 * out + c0, static_cast<int>(out));
        },
        epilogue);
    return;
  }
#endif
  const int isa = w.isa_;
  const int width = PanelWidth(isa);
  const Partition p = Split(n, out, pool.threads(), /*max_row_block=*/96, RowStrip(isa), width);
  const float* packed = w.data_.data();
  RunPartition(
      p, n, out, pool,
      [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
        BuiltinBlock(isa, x, in, packed, out, y, r0, r1, c0 / width, (c1 + width - 1) / width);
      },
      epilogue);
}

void BuiltinSgemm(const float* x, const float* w, float* y, int64_t n, int64_t in, int64_t out,
                  ThreadPool& pool, std::string_view kernel) {
  const PackedWeights packed = PackedWeights::PackBuiltin(
      std::span<const float>(w, static_cast<size_t>(out * in)), out, in, kernel);
  Sgemm(x, n, packed, y, pool);
}

}  // namespace sov::gpu_eval::internal
