// Checks one backend's run against a reference run (the CPU backend's) on generated models and
// datasets: the shared code of bench/gpu-eval/crosscheck.cc (which runs it on an accelerator
// machine, where there is no GoogleTest) and tests/gpu-eval/cuda_backend_test.cc (which runs it
// here). Random models and datasets are written with SerializeSafetensors and read back with the
// real readers, so that they take the same path as a user's files. Header-only; pure functions of
// their arguments, safe from any thread.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "gpu-eval/backend.h"
#include "gpu-eval/dataset.h"
#include "gpu-eval/internal/half.h"
#include "gpu-eval/model.h"
#include "gpu-eval/safetensors.h"

namespace sov::gpu_eval::crosscheck {

// How far a candidate may stray from the reference. A row's predictions may differ only where
// the reference's top-1 minus top-2 probability is below `margin` (a near tie that rounding can
// flip); the log-loss sums may differ by `log_loss_relative`; every probability by
// `probability`.
struct Tolerances {
  float margin = 0;
  double log_loss_relative = 0;
  float probability = 0;
};

// FP32 everywhere (only the order of the additions differs).
inline constexpr Tolerances kExactTolerances{1e-5f, 1e-4, 1e-4f};
// TF32 (10-bit mantissa) or BF16 (7-bit) GEMM inputs with FP32 accumulation: logits move by a
// few 1e-3 on these models, probabilities by less.
inline constexpr Tolerances kFastTolerances{2e-2f, 1e-2, 5e-2f};

inline const Tolerances& TolerancesFor(Precision precision) {
  return precision == Precision::kExact ? kExactTolerances : kFastTolerances;
}

// ---------------------------------------------------------------------------------------------
// Generated models and datasets

struct ModelSpec {
  std::vector<int64_t> widths;  // input, hidden..., classes (at least two entries)
  DType dtype = DType::kF32;
  Activation activation = Activation::kRelu;
  uint64_t seed = 1;
};

// A model and the serialized bytes its tensor views point into.
struct GeneratedModel {
  std::shared_ptr<const std::string> bytes;  // declared first: outlives the model's views
  Model model;
};

inline std::string EncodeTensor(const std::vector<float>& values, DType dtype) {
  std::string bytes;
  if (dtype == DType::kF32) {
    bytes.resize(values.size() * sizeof(float));
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return bytes;
  }
  bytes.resize(values.size() * sizeof(uint16_t));
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t bits =
        dtype == DType::kF16 ? internal::F32ToF16(values[i]) : internal::F32ToBF16(values[i]);
    std::memcpy(bytes.data() + 2 * i, &bits, sizeof(bits));
  }
  return bytes;
}

inline std::string DescribeSpec(const ModelSpec& spec) {
  std::string text;
  for (size_t i = 0; i < spec.widths.size(); ++i) {
    if (i > 0) text += '-';  // (not "-" + std::string: GCC 12 -O3 warns a false -Wrestrict)
    text += std::to_string(spec.widths[i]);
  }
  return text + " " + std::string(DTypeName(spec.dtype)) + " " +
         std::string(ActivationName(spec.activation));
}

// Serializes `tensors` and reads them back as a model, as OpenModel would a file.
inline Result<GeneratedModel> ModelFromTensors(const std::vector<TensorToWrite>& tensors,
                                               const std::map<std::string, std::string>& metadata) {
  auto bytes = std::make_shared<const std::string>(SerializeSafetensors(tensors, metadata));
  Result<SafetensorsFile> file = SafetensorsFile::Parse(
      std::as_bytes(std::span<const char>(bytes->data(), bytes->size())), "generated model");
  if (!file.ok()) return file.status();
  Result<Model> model = LoadModel(std::make_shared<const SafetensorsFile>(std::move(file).value()));
  if (!model.ok()) return model.status();
  return GeneratedModel{std::move(bytes), std::move(model).value()};
}

// Layers named as nn.Sequential names them ("0", "2", ...), weights uniform in +-sqrt(3 / in)
// (unit-variance inputs give unit-variance outputs) and small biases, so that the logits spread
// over a few units and every class gets predicted.
inline Result<GeneratedModel> MakeRandomModel(const ModelSpec& spec) {
  if (spec.widths.size() < 2) return InvalidArgument("a model needs input and output widths");
  std::mt19937_64 rng(spec.seed);
  std::vector<TensorToWrite> tensors;
  for (size_t l = 0; l + 1 < spec.widths.size(); ++l) {
    const int64_t in = spec.widths[l];
    const int64_t out = spec.widths[l + 1];
    const float limit = std::sqrt(3.0f / static_cast<float>(in));
    std::uniform_real_distribution<float> weight(-limit, limit);
    std::uniform_real_distribution<float> bias(-0.1f, 0.1f);
    std::vector<float> w(static_cast<size_t>(in * out));
    std::vector<float> b(static_cast<size_t>(out));
    for (float& v : w) v = weight(rng);
    for (float& v : b) v = bias(rng);
    const std::string prefix = std::to_string(2 * l);
    tensors.push_back({prefix + ".weight", spec.dtype, {out, in}, EncodeTensor(w, spec.dtype)});
    tensors.push_back({prefix + ".bias", spec.dtype, {out}, EncodeTensor(b, spec.dtype)});
  }
  std::map<std::string, std::string> metadata = {{"sov.model", "feedforward-classifier"},
                                                 {"sov.output", "softmax"}};
  if (spec.widths.size() > 2) {
    metadata["sov.activation"] = std::string(ActivationName(spec.activation));
  }
  return ModelFromTensors(tensors, metadata);
}

struct DatasetSpec {
  int64_t rows = 1000;
  int64_t cols = 8;
  int64_t classes = 2;
  int64_t groups = 0;          // 0: no groups tensor; else group values 10, 20, ...
  int64_t infinite_every = 0;  // > 0: every such row has +inf features (non-finite logits)
  uint64_t seed = 2;
};

// Standard normal features, uniform labels, groups stored as I64 with values 10, 20, ...
inline Result<Dataset> MakeRandomDataset(const DatasetSpec& spec) {
  std::mt19937_64 rng(spec.seed);
  std::normal_distribution<float> feature(0.0f, 1.0f);
  std::uniform_int_distribution<int32_t> label(0, static_cast<int32_t>(spec.classes - 1));
  std::uniform_int_distribution<int64_t> group(1, std::max<int64_t>(spec.groups, 1));
  std::vector<float> features(static_cast<size_t>(spec.rows * spec.cols));
  for (float& v : features) v = feature(rng);
  if (spec.infinite_every > 0) {
    for (int64_t r = 0; r < spec.rows; r += spec.infinite_every) {
      std::fill_n(features.begin() + r * spec.cols, spec.cols,
                  std::numeric_limits<float>::infinity());
    }
  }
  std::vector<int32_t> labels(static_cast<size_t>(spec.rows));
  for (int32_t& v : labels) v = label(rng);
  std::vector<TensorToWrite> tensors;
  tensors.push_back(
      {"features", DType::kF32, {spec.rows, spec.cols}, EncodeTensor(features, DType::kF32)});
  std::string label_bytes(labels.size() * sizeof(int32_t), '\0');
  std::memcpy(label_bytes.data(), labels.data(), label_bytes.size());
  tensors.push_back({"labels", DType::kI32, {spec.rows}, std::move(label_bytes)});
  if (spec.groups > 0) {
    std::vector<int64_t> groups(static_cast<size_t>(spec.rows));
    for (int64_t& v : groups) v = 10 * group(rng);
    std::string group_bytes(groups.size() * sizeof(int64_t), '\0');
    std::memcpy(group_bytes.data(), groups.data(), group_bytes.size());
    tensors.push_back({"groups", DType::kI64, {spec.rows}, std::move(group_bytes)});
  }
  const std::string bytes = SerializeSafetensors(tensors);
  Result<SafetensorsFile> file = SafetensorsFile::Parse(
      std::as_bytes(std::span<const char>(bytes.data(), bytes.size())), "random dataset");
  if (!file.ok()) return file.status();
  return LoadDataset(*file);  // copies what it needs: `bytes` may go
}

// ---------------------------------------------------------------------------------------------
// Comparison

struct Comparison {
  int64_t rows = 0;
  int64_t differing = 0;         // rows whose predictions differ
  int64_t differing_in_tie = 0;  // of which the reference's margin is below the tolerance
  int64_t correct_reference = 0;
  int64_t correct_candidate = 0;
  double max_probability_diff = 0;  // 0 when either run kept no probabilities
  double log_loss_reference = 0;
  double log_loss_candidate = 0;
  int64_t non_finite_reference = 0;
  int64_t non_finite_candidate = 0;
  std::vector<std::string> problems;  // each disagreement beyond the tolerances, in words

  bool ok() const { return problems.empty(); }
};

// Compares `candidate` with `reference` (both runs over the same dataset, whose labels are
// given) under `tolerances`.
inline Comparison Compare(const RunOutput& reference, const RunOutput& candidate,
                          std::span<const int32_t> labels, const Tolerances& tolerances) {
  Comparison c;
  c.rows = reference.rows;
  c.log_loss_reference = reference.log_loss_sum;
  c.log_loss_candidate = candidate.log_loss_sum;
  c.non_finite_reference = reference.non_finite_rows;
  c.non_finite_candidate = candidate.non_finite_rows;
  const auto rows = static_cast<size_t>(reference.rows);
  if (candidate.rows != reference.rows || candidate.classes != reference.classes ||
      candidate.groups != reference.groups || reference.predictions.size() != rows ||
      candidate.predictions.size() != rows || candidate.margins.size() != rows ||
      reference.margins.size() != rows || labels.size() != rows ||
      candidate.confusion.size() != reference.confusion.size() ||
      candidate.probabilities.size() != reference.probabilities.size()) {
    c.problems.push_back("the runs' shapes differ (rows, classes, groups or output sizes)");
    return c;
  }

  for (size_t r = 0; r < rows; ++r) {
    c.correct_reference += reference.predictions[r] == labels[r];
    c.correct_candidate += candidate.predictions[r] == labels[r];
    if (reference.predictions[r] == candidate.predictions[r]) continue;
    ++c.differing;
    // A non-finite row has margin 0: its prediction is a tie by definition.
    if (!(reference.margins[r] >= tolerances.margin)) {
      ++c.differing_in_tie;
    } else if (c.problems.size() < 5) {
      c.problems.push_back("row " + std::to_string(r) + ": predicted " +
                           std::to_string(candidate.predictions[r]) + " instead of " +
                           std::to_string(reference.predictions[r]) + " with margin " +
                           std::to_string(reference.margins[r]));
    }
  }
  if (c.differing > c.differing_in_tie) {
    c.problems.push_back(std::to_string(c.differing - c.differing_in_tie) +
                         " predictions differ beyond the margin tolerance");
  }
  // Each differing row moves at most one correct answer.
  if (std::abs(c.correct_candidate - c.correct_reference) > c.differing_in_tie) {
    c.problems.push_back("accuracy differs by more than one sample per tie");
  }

  for (size_t i = 0; i < reference.probabilities.size(); ++i) {
    const double d = std::abs(static_cast<double>(reference.probabilities[i]) -
                              static_cast<double>(candidate.probabilities[i]));
    if (std::isfinite(d)) c.max_probability_diff = std::max(c.max_probability_diff, d);
  }
  if (c.max_probability_diff > tolerances.probability) {
    c.problems.push_back("a probability differs by " + std::to_string(c.max_probability_diff));
  }

  // The confusion matrices' rows ([group][true class]) count labels only: they must be equal,
  // and moved cells can only come from differing predictions.
  const auto classes = static_cast<size_t>(reference.classes);
  int64_t moved = 0;
  int64_t total = 0;
  for (size_t row = 0; classes > 0 && row < reference.confusion.size() / classes; ++row) {
    int64_t sum_reference = 0;
    int64_t sum_candidate = 0;
    for (size_t p = 0; p < classes; ++p) {
      const int64_t a = reference.confusion[row * classes + p];
      const int64_t b = candidate.confusion[row * classes + p];
      sum_reference += a;
      sum_candidate += b;
      moved += std::abs(a - b);
    }
    total += sum_candidate;
    if (sum_reference != sum_candidate) {
      c.problems.push_back("confusion row " + std::to_string(row) + " counts " +
                           std::to_string(sum_candidate) + " samples instead of " +
                           std::to_string(sum_reference));
      break;
    }
  }
  if (total != reference.rows) {
    c.problems.push_back("the confusion counts total " + std::to_string(total) + ", not " +
                         std::to_string(reference.rows));
  }
  if (moved > 2 * c.differing) {
    c.problems.push_back("the confusion counts differ more than the predictions do");
  }

  if (reference.non_finite_rows != candidate.non_finite_rows) {
    c.problems.push_back("non-finite rows: " + std::to_string(candidate.non_finite_rows) +
                         " instead of " + std::to_string(reference.non_finite_rows));
  }
  const double scale = std::max(std::abs(reference.log_loss_sum), 1e-12);
  if (!(std::abs(reference.log_loss_sum - candidate.log_loss_sum) <=
        tolerances.log_loss_relative * scale)) {
    c.problems.push_back("log-loss sum " + std::to_string(candidate.log_loss_sum) + " instead of " +
                         std::to_string(reference.log_loss_sum));
  }
  return c;
}

// Returns "" when two runs of one backend are identical (predictions, margins, probabilities,
// confusion, log-loss, non-finite count), else what differs first.
inline std::string FirstDifference(const RunOutput& a, const RunOutput& b) {
  if (a.predictions != b.predictions) return "predictions differ";
  if (a.margins.size() != b.margins.size() ||
      std::memcmp(a.margins.data(), b.margins.data(), a.margins.size() * sizeof(float)) != 0) {
    return "margins differ";
  }
  if (a.probabilities.size() != b.probabilities.size() ||
      std::memcmp(a.probabilities.data(), b.probabilities.data(),
                  a.probabilities.size() * sizeof(float)) != 0) {
    return "probabilities differ";
  }
  if (a.confusion != b.confusion) return "confusion counts differ";
  if (a.log_loss_sum != b.log_loss_sum) return "log-loss sums differ";
  if (a.non_finite_rows != b.non_finite_rows) return "non-finite counts differ";
  return "";
}

}  // namespace sov::gpu_eval::crosscheck
