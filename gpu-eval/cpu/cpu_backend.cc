// The CPU backend: per layer one Sgemm (OpenBLAS or the built-in kernel) whose per-thread blocks
// are finished in cache by a fused bias + activation pass, then one pass per row for softmax,
// argmax, margin and log-loss. All of it runs on one persistent ThreadPool.
//
// Reductions are fixed in order, so a run's outputs are the same every time: GEMM blocks are
// computed whole by one thread, per-row results land in per-row slots, and the confusion counts,
// log-loss and non-finite count are summed over rows in row order by the calling thread.
//
// Semantics shared with the CUDA backend, per row of logits z (C classes):
//   prediction  the lowest index of max z; in a row with NaN, NaNs are skipped (0 if all NaN)
//   probability softmax in FP32: e_c = exp(z_c - max z), p_c = e_c / sum e
//   margin      p[prediction] minus the largest other p; 0 for a non-finite row
//   log-loss    -log(clip(p[label], 1e-15, 1 - 1e-15)) in double (scikit-learn's clip); a
//               non-finite row counts as p[label] = 0, i.e. -log(1e-15)
//   non-finite  a row with any NaN or infinite logit
#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>
#include <utility>

#include "gpu-eval/backend.h"
#include "gpu-eval/cpu/gemm.h"
#include "gpu-eval/cpu/thread_pool.h"
#include "gpu-eval/internal/noise.h"

namespace sov::gpu_eval {
namespace {

using internal::GemmEngine;
using internal::PackedWeights;
using internal::ThreadPool;

constexpr int64_t kDefaultBatchRows = 4096;
constexpr int64_t kRowsPerHeadTask = 64;
constexpr double kLogLossClip = 1e-15;

// Four floats (SSE2 on any x86-64): GCC emits SIMD for these even at -O2, where loops with
// unknown trip counts are otherwise left scalar.
typedef float V4 __attribute__((vector_size(4 * sizeof(float))));

inline V4 LoadV4(const float* p) {
  V4 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void StoreV4(float* p, V4 v) { std::memcpy(p, &v, sizeof(v)); }

typedef uint32_t U4 __attribute__((vector_size(4 * sizeof(uint32_t))));
typedef int32_t I4 __attribute__((vector_size(4 * sizeof(int32_t))));

inline V4 Splat(float f) { return V4{f, f, f, f}; }
inline V4 Clamp(V4 x, float lo, float hi) {  // keeps NaN
  x = x < Splat(lo) ? Splat(lo) : x;
  return x > Splat(hi) ? Splat(hi) : x;
}

// exp(x) within 1e-7 relative (Cephes' expf: range reduction by ln 2, degree-6 polynomial); inputs
// are clamped to [-87.3, 88.3] so that 2^n stays a normal float, which the activations below (all
// saturating) do not notice. NaN stays NaN.
inline V4 Exp(V4 x) {
  x = Clamp(x, -87.3f, 88.3f);
  const V4 scaled = x * 1.44269504088896341f;
  const I4 n = __builtin_convertvector(scaled + (scaled < V4{} ? Splat(-0.5f) : Splat(0.5f)), I4);
  const V4 nf = __builtin_convertvector(n, V4);
  const V4 r = (x - nf * 0.693359375f) + nf * 2.12194440e-4f;
  V4 p = Splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const U4 two_to_n = (std::bit_cast<U4>(n) + 127u) << 23;
  return p * std::bit_cast<V4>(two_to_n);
}

// erf(x) within 4.2e-7 absolute (measured against double erf over [-6, 6]): a rational
// approximation of the kind Eigen and XLA use for float, an odd degree-13 numerator over an even
// degree-8 denominator on [-4, 4], beyond which erf is +-1 in float. GELU's error from it,
// 0.5 |x| 4.2e-7, is below that of the FP32 GEMM that feeds it.
inline V4 Erf(V4 x) {
  x = Clamp(x, -4.0f, 4.0f);
  const V4 x2 = x * x;
  V4 p = Splat(-2.72614225801306e-10f);
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  p = p * x;
  V4 q = Splat(-1.45660718464996e-05f);
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  return p / q;
}

inline V4 Gelu(V4 x) { return 0.5f * x * (1.0f + Erf(x * 0.70710678118654752f)); }
inline V4 Sigmoid(V4 x) { return 1.0f / (1.0f + Exp(-x)); }
// 1 - 2 / (e^2x + 1): saturates cleanly at +-1; absolute error ~1e-7 near 0.
inline V4 Tanh(V4 x) { return 1.0f - 2.0f / (Exp(2.0f * x) + 1.0f); }

inline V4 Activate(V4 v, Activation activation) {
  switch (activation) {
    case Activation::kIdentity:
      return v;
    case Activation::kRelu:
      return v < V4{} ? V4{} : v;  // keeps NaN, as torch's ReLU does
    case Activation::kGelu:
      return Gelu(v);
    case Activation::kTanh:
      return Tanh(v);
    case Activation::kSigmoid:
      return Sigmoid(v);
  }
  return v;
}

// y[c] = activation(y[c] + bias[c]) for c in [0, n), four at a time; the tail goes through a
// padded vector so that every element sees the same arithmetic. ReLU keeps NaN so that a NaN
// weight in a hidden layer still reaches the logits and is counted.
template <Activation kActivation>
void BiasActivationOf(float* y, const float* bias, int64_t n) {
  int64_t c = 0;
  for (; c + 4 <= n; c += 4)
    StoreV4(y + c, Activate(LoadV4(y + c) + LoadV4(bias + c), kActivation));
  if (c < n) {
    float tail[4] = {0, 0, 0, 0};
    for (int64_t i = c; i < n; ++i) tail[i - c] = y[i] + bias[i];
    const V4 v = Activate(LoadV4(tail), kActivation);
    StoreV4(tail, v);
    for (int64_t i = c; i < n; ++i) y[i] = tail[i - c];
  }
}

void BiasActivation(float* y, const float* bias, int64_t n, Activation activation) {
  switch (activation) {
    case Activation::kIdentity:
      return BiasActivationOf<Activation::kIdentity>(y, bias, n);
    case Activation::kRelu:
      return BiasActivationOf<Activation::kRelu>(y, bias, n);
    case Activation::kGelu:
      return BiasActivationOf<Activation::kGelu>(y, bias, n);
    case Activation::kTanh:
      return BiasActivationOf<Activation::kTanh>(y, bias, n);
    case Activation::kSigmoid:
      return BiasActivationOf<Activation::kSigmoid>(y, bias, n);
  }
}

struct Layer {
  PackedWeights weights;
  std::vector<float> bias;
  Activation activation = Activation::kIdentity;
};

// Where the head pass writes one batch's per-row results.
struct HeadOutput {
  int32_t* predictions = nullptr;  // [rows]
  float* margins = nullptr;        // [rows]
  float* probabilities = nullptr;  // [rows * classes], or nullptr
  double* losses = nullptr;        // [rows], or nullptr (no labels)
  uint8_t* non_finite = nullptr;   // [rows]
};

// Softmax, argmax, margin and loss of one row of logits; `probs` is scratch of `classes` floats.
void HeadRow(const float* z, int64_t classes, int32_t label, float* probs, int32_t* prediction,
             float* margin, double* loss, uint8_t* non_finite) {
  bool finite = true;
  for (int64_t c = 0; c < classes; ++c) finite &= std::isfinite(z[c]);
  int64_t best = -1;
  for (int64_t c = 0; c < classes; ++c) {
    if (std::isnan(z[c])) continue;
    if (best < 0 || z[c] > z[best]) best = c;
  }
  if (best < 0) best = 0;
  const float max = z[best];
  float sum = 0.0f;
  for (int64_t c = 0; c < classes; ++c) {
    probs[c] = std::exp(z[c] - max);
    sum += probs[c];
  }
  for (int64_t c = 0; c < classes; ++c) probs[c] /= sum;
  *prediction = static_cast<int32_t>(best);
  *non_finite = finite ? 0 : 1;
  if (!finite) {
    *margin = 0.0f;
    if (loss != nullptr) *loss = -std::log(kLogLossClip);
    return;
  }
  float second = 0.0f;
  for (int64_t c = 0; c < classes; ++c) {
    if (c != best) second = std::max(second, probs[c]);
  }
  *margin = probs[best] - second;
  if (loss != nullptr) {
    const double p =
        std::clamp(static_cast<double>(probs[label]), kLogLossClip, 1.0 - kLogLossClip);
    *loss = -std::log(p);
  }
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const BackendOptions& options)
      : pool_(options.threads > 0
                  ? options.threads
                  : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
        engine_(internal::DefaultGemmEngine()) {}

  BackendKind kind() const override { return BackendKind::kCpu; }

  std::string description() const override {
    return "cpu: " + internal::GemmEngineDescription(engine_) + ", " +
           std::to_string(pool_.threads()) + (pool_.threads() == 1 ? " thread" : " threads");
  }

  Status LoadModel(const Model& model) override {
    std::vector<Layer> layers;
    for (const DenseLayer& dense : model.layers) {
      if (dense.weight == nullptr || dense.bias == nullptr) {
        return InvalidArgument("cpu backend: layer '" + dense.name + "' has no weight or bias");
      }
      Layer layer;
      const std::vector<float> w = ToFloat32(*dense.weight);
      layer.weights = PackedWeights::Pack(w, dense.out, dense.in, engine_);
      layer.bias = ToFloat32(*dense.bias);
      layer.activation = dense.activation;
      layers.push_back(std::move(layer));
    }
    if (layers.empty()) return InvalidArgument("cpu backend: the model has no layers");
    layers_ = std::move(layers);
    input_dim_ = model.input_dim;
    num_classes_ = model.num_classes;
    max_width_ = 0;
    for (const Layer& layer : layers_) max_width_ = std::max(max_width_, layer.weights.out());
    return OkStatus();
  }

  Status LoadDataset(const Dataset& dataset) override {
    if (layers_.empty()) return FailedPrecondition("cpu backend: load a model before a dataset");
    SOV_RETURN_IF_ERROR(CheckCompatible(dataset, input_dim_, num_classes_));
    if (dataset.features.size() != static_cast<size_t>(dataset.rows * dataset.cols) ||
        dataset.labels.size() != static_cast<size_t>(dataset.rows)) {
      return InvalidArgument(dataset.source + ": features or labels disagree with rows x cols");
    }
    features_ = dataset.features;
    labels_ = dataset.labels;
    group_of_row_ = dataset.group_of_row;
    groups_ = dataset.groups();
    rows_ = dataset.rows;
    cols_ = dataset.cols;
    max_label_ = *std::max_element(labels_.begin(), labels_.end());
    return OkStatus();
  }

  Result<RunOutput> Run(const RunOptions& options, const ProgressFn& progress) override {
    SOV_RETURN_IF_ERROR(CheckReady());
    if (options.batch_rows < 0) return InvalidArgument("batch_rows must not be negative");
    if (!std::isfinite(options.noise_stddev) || options.noise_stddev < 0) {
      return InvalidArgument("noise_stddev must be finite and not negative");
    }
    const int64_t batch =
        std::min(rows_, options.batch_rows > 0 ? options.batch_rows : kDefaultBatchRows);
    ReserveWork(batch, options.noise_stddev > 0);

    RunOutput output;
    output.rows = rows_;
    output.classes = num_classes_;
    output.groups = groups_;
    output.predictions.resize(static_cast<size_t>(rows_));
    output.margins.resize(static_cast<size_t>(rows_));
    if (options.keep_probabilities) {
      output.probabilities.resize(static_cast<size_t>(rows_ * num_classes_));
    }
    output.confusion.assign(static_cast<size_t>(groups_ * num_classes_ * num_classes_), 0);

    for (int64_t begin = 0; begin < rows_; begin += batch) {
      const int64_t rows = std::min(batch, rows_ - begin);
      const float* input = features_.data() + begin * cols_;
      if (options.noise_stddev > 0) {
        AddNoise(input, begin, rows, options.noise_stddev, options.seed);
        input = noisy_.data();
      }
      const float* logits = Forward(input, rows);
      HeadOutput head;
      head.predictions = output.predictions.data() + begin;
      head.margins = output.margins.data() + begin;
      head.probabilities =
          options.keep_probabilities ? output.probabilities.data() + begin * num_classes_ : nullptr;
      head.losses = losses_.data();
      head.non_finite = non_finite_.data();
      Head(logits, rows, labels_.data() + begin, head);
      Accumulate(begin, rows, output);
      if (progress) progress("run", static_cast<double>(begin + rows) / static_cast<double>(rows_));
    }
    return output;
  }

  Result<std::vector<double>> TimeBatches(int64_t batch, int warmup, int iterations) override {
    SOV_RETURN_IF_ERROR(CheckReady());
    if (batch < 1 || warmup < 0 || iterations < 1) {
      return InvalidArgument("TimeBatches needs batch >= 1, warmup >= 0 and iterations >= 1");
    }
    ReserveWork(batch, /*noise=*/true);
    // The input is assembled once, outside the timing: rows 0.. of the dataset, cyclically.
    for (int64_t r = 0; r < batch; ++r) {
      std::memcpy(noisy_.data() + r * cols_, features_.data() + (r % rows_) * cols_,
                  static_cast<size_t>(cols_) * sizeof(float));
    }
    predictions_scratch_.resize(static_cast<size_t>(batch));
    margins_scratch_.resize(static_cast<size_t>(batch));
    std::vector<double> seconds;
    for (int i = 0; i < warmup + iterations; ++i) {
      const auto start = std::chrono::steady_clock::now();
      const float* logits = Forward(noisy_.data(), batch);
      HeadOutput head;
      head.predictions = predictions_scratch_.data();
      head.margins = margins_scratch_.data();
      head.non_finite = non_finite_.data();
      Head(logits, batch, nullptr, head);
      const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
      if (i >= warmup) seconds.push_back(elapsed.count());
    }
    return seconds;
  }

  uint64_t MemoryBytes() const override {
    uint64_t bytes = 0;
    for (const Layer& layer : layers_) bytes += layer.weights.bytes() + layer.bias.size() * 4;
    bytes += features_.capacity() * sizeof(float) + labels_.capacity() * sizeof(int32_t) +
             group_of_row_.capacity() * sizeof(int32_t);
    bytes += (activations_[0].capacity() + activations_[1].capacity() + noisy_.capacity() +
              probs_scratch_.capacity() + margins_scratch_.capacity()) *
             sizeof(float);
    bytes += losses_.capacity() * sizeof(double) + non_finite_.capacity() +
             predictions_scratch_.capacity() * sizeof(int32_t);
    return bytes;
  }

 private:
  Status CheckReady() const {
    if (layers_.empty()) return FailedPrecondition("cpu backend: no model loaded");
    if (rows_ == 0) return FailedPrecondition("cpu backend: no dataset loaded");
    // A model loaded after the dataset may not fit it.
    if (cols_ != input_dim_ || max_label_ >= num_classes_) {
      return FailedPrecondition(
          "cpu backend: the loaded dataset does not fit the model loaded "
          "after it; load the dataset again");
    }
    return OkStatus();
  }

  void ReserveWork(int64_t batch, bool noise) {
    const auto grow = [](auto& v, int64_t n) {
      if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
    };
    grow(activations_[0], batch * max_width_);
    grow(activations_[1], batch * max_width_);
    if (noise) grow(noisy_, batch * cols_);
    grow(losses_, batch);
    grow(non_finite_, batch);
    grow(probs_scratch_, batch * num_classes_);
  }

  // noisy_[r] = features_[begin + r] + noise, computed from the global row index so that the
  // noise does not depend on the batch size (nor on the backend).
  void AddNoise(const float* input, int64_t begin, int64_t rows, double stddev, uint64_t seed) {
    const int64_t tasks = (rows + kRowsPerHeadTask - 1) / kRowsPerHeadTask;
    pool_.Run(tasks, [&](int64_t task) {
      const int64_t r1 = std::min(rows, (task + 1) * kRowsPerHeadTask);
      for (int64_t r = task * kRowsPerHeadTask; r < r1; ++r) {
        for (int64_t c = 0; c < cols_; ++c) {
          noisy_[r * cols_ + c] =
              noise::AddNoise(input[r * cols_ + c], stddev, seed, begin + r, c, cols_);
        }
      }
    });
  }

  // Runs every layer on `rows` rows of `input`; returns the logits [rows, classes].
  const float* Forward(const float* input, int64_t rows) {
    const float* x = input;
    for (size_t l = 0; l < layers_.size(); ++l) {
      const Layer& layer = layers_[l];
      float* y = activations_[l % 2].data();
      const int64_t width = layer.weights.out();
      internal::Sgemm(
          x, rows, layer.weights, y, pool_, [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
            for (int64_t r = r0; r < r1; ++r) {
              BiasActivation(y + r * width + c0, layer.bias.data() + c0, c1 - c0, layer.activation);
            }
          });
      x = y;
    }
    return x;
  }

  // Softmax, prediction, margin and loss of every row, on the pool. `labels` may be null.
  void Head(const float* logits, int64_t rows, const int32_t* labels, const HeadOutput& out) {
    const int64_t classes = num_classes_;
    const int64_t tasks = (rows + kRowsPerHeadTask - 1) / kRowsPerHeadTask;
    pool_.Run(tasks, [&](int64_t task) {
      const int64_t r1 = std::min(rows, (task + 1) * kRowsPerHeadTask);
      for (int64_t r = task * kRowsPerHeadTask; r < r1; ++r) {
        float* probs = (out.probabilities != nullptr ? out.probabilities : probs_scratch_.data()) +
                       r * classes;
        HeadRow(logits + r * classes, classes, labels != nullptr ? labels[r] : 0, probs,
                out.predictions + r, out.margins + r,
                out.losses != nullptr ? out.losses + r : nullptr, out.non_finite + r);
      }
    });
  }

  // Adds one batch's per-row results to the run's totals, in row order.
  void Accumulate(int64_t begin, int64_t rows, RunOutput& output) const {
    const int64_t classes = num_classes_;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t row = begin + r;
      const int64_t group = group_of_row_.empty() ? 0 : group_of_row_[row];
      const int64_t cell = (group * classes + labels_[row]) * classes + output.predictions[row];
      ++output.confusion[static_cast<size_t>(cell)];
      output.log_loss_sum += losses_[r];
      output.non_finite_rows += non_finite_[r];
    }
  }

  ThreadPool pool_;
  GemmEngine engine_;
  std::vector<Layer> layers_;
  int64_t input_dim_ = 0;
  int64_t num_classes_ = 0;
  int64_t max_width_ = 0;

  std::vector<float> features_;
  std::vector<int32_t> labels_;
  std::vector<int32_t> group_of_row_;
  int64_t groups_ = 1;
  int64_t rows_ = 0;
  int64_t cols_ = 0;
  int32_t max_label_ = 0;

  // Work buffers, grown on demand and kept between calls.
  std::vector<float> activations_[2];
  std::vector<float> noisy_;
  std::vector<double> losses_;
  std::vector<uint8_t> non_finite_;
  std::vector<float> probs_scratch_;
  std::vector<int32_t> predictions_scratch_;
  std::vector<float> margins_scratch_;
};

}  // namespace

std::unique_ptr<Backend> CreateCpuBackend(const BackendOptions& options) {
  return std::make_unique<CpuBackend>(options);
}

}  // namespace sov::gpu_eval
