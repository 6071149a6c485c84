// The evaluation report: what the benchmark suite measured about one model on one dataset, with
// one backend. Serialised as JSON with a fixed schema (docs/models.md, "Evaluation report"),
// stable field order and no locale: the gateway signs it as an in-toto predicate, and release
// gates read its fields by name. Ratios are in [0, 1]; a metric that is undefined (recall of a
// class with no sample) is JSON null.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sov::gpu_eval {

inline constexpr char kReportSchema[] = "https://sovereign.dev/eval-report/v1";

struct ClassMetrics {
  int32_t label = 0;
  int64_t support = 0;                // samples of this class
  std::optional<double> precision;    // undefined when the class is never predicted
  std::optional<double> recall;       // undefined when support == 0
  std::optional<double> f1;
};

struct GroupMetrics {
  int64_t value = 0;                  // the group's value in the dataset's `groups` tensor
  int64_t rows = 0;
  double accuracy = 0.0;
  double positive_rate = 0.0;         // share predicted as the positive class
  std::optional<double> true_positive_rate;  // recall of the positive class; undefined if none
};

struct LatencyStats {
  int64_t batch = 0;
  int iterations = 0;
  double p50_ms = 0.0;
  double p99_ms = 0.0;
  double samples_per_second = 0.0;    // batch / mean time
};

struct Report {
  // Subject and conditions.
  std::string model;                  // path as given
  std::string dataset;
  std::string model_digest;           // "sha256:..." when the caller knows it; omitted if empty
  std::string dataset_digest;
  std::string weight_dtype;           // "F32", "F16", "BF16"
  std::vector<int64_t> layer_sizes;   // input_dim, hidden..., classes
  int64_t parameters = 0;
  int64_t rows = 0;
  int64_t classes = 0;
  std::string backend;                // Backend::description()
  std::string backend_kind;           // "cpu" | "cuda"
  std::string precision;              // "exact" | "fast"
  std::string started_at;             // RFC 3339 UTC
  double duration_seconds = 0.0;

  // Quality.
  double accuracy = 0.0;
  double macro_f1 = 0.0;              // mean F1 over classes with support or predictions
  double log_loss = 0.0;
  std::vector<ClassMetrics> per_class;
  std::vector<int64_t> confusion;     // [classes][classes], true class by predicted class

  // Fairness: only when the dataset has groups.
  bool has_groups = false;
  int32_t positive_class = 1;
  std::vector<GroupMetrics> per_group;
  double accuracy_gap = 0.0;                   // max - min group accuracy
  double demographic_parity_difference = 0.0;  // max - min positive rate
  std::optional<double> equal_opportunity_difference;  // max - min defined TPR; undefined if < 2

  // Robustness.
  double noise_stddev = 0.0;
  uint64_t noise_seed = 0;
  double noisy_accuracy = 0.0;
  int64_t non_finite_weights = 0;     // NaN/Inf elements in the weights and biases
  int64_t non_finite_output_rows = 0; // rows whose logits had a NaN/Inf (clean run)

  // Determinism: a second clean run compared prediction by prediction.
  bool deterministic = false;
  int64_t differing_predictions = 0;

  // Performance.
  std::vector<LatencyStats> latency;  // one per batch size asked for
  double throughput_samples_per_second = 0.0;  // the clean full-dataset run
  uint64_t memory_bytes = 0;          // Backend::MemoryBytes() after the runs
};

// The report as JSON; `indent` < 0 gives one line.
std::string ReportToJson(const Report& report, int indent = 2);

}  // namespace sov::gpu_eval
