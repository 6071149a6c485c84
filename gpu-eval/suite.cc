// The benchmark suite: checks its inputs, then runs the clean, noisy and repeated passes and
// the latency measurements on one backend and fills a Report from them.
#include "gpu-eval/suite.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <string>
#include <string_view>
#include <utility>

#include "common/time.h"
#include "gpu-eval/metrics.h"

namespace sov::gpu_eval {
namespace {

using Clock = std::chrono::steady_clock;

// Bounds one batch size's timed passes when a pass is so fast that min_seconds would need
// millions of them: the percentiles are long settled by then.
constexpr int64_t kMaxLatencyIterations = 1'000'000;
// Each top-up round towards min_seconds runs at most this many times the passes done so far:
// the first passes of a batch are often faster than later ones (caches, a busy machine), and
// an estimate from them alone could overshoot min_seconds many times over.
constexpr int64_t kLatencyGrowth = 4;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string_view PrecisionName(Precision precision) {
  return precision == Precision::kFast ? "fast" : "exact";
}

Status CheckOptions(const SuiteOptions& options, const Model& model) {
  if (!std::isfinite(options.noise_stddev) || options.noise_stddev < 0) {
    return InvalidArgument("noise_stddev must be finite and >= 0, got " +
                           std::to_string(options.noise_stddev));
  }
  if (options.positive_class < 0 || options.positive_class >= model.num_classes) {
    return InvalidArgument("positive_class " + std::to_string(options.positive_class) +
                           " is not a class of the model (0.." +
                           std::to_string(model.num_classes - 1) + ")");
  }
  for (int64_t batch : options.batch_sizes) {
    if (batch < 1) return InvalidArgument("batch size " + std::to_string(batch) + " is not >= 1");
  }
  if (options.warmup < 0 || options.min_iterations < 1 || options.min_iterations > kMaxLatencyIterations) {
    return InvalidArgument("warmup must be >= 0 and min_iterations in 1.." +
                           std::to_string(kMaxLatencyIterations));
  }
  if (!std::isfinite(options.min_seconds) || options.min_seconds < 0) {
    return InvalidArgument("min_seconds must be finite and >= 0");
  }
  return OkStatus();
}

void DescribeSubject(const Model& model, const Dataset& dataset, Report& report) {
  report.weight_dtype = std::string(DTypeName(model.weight_dtype));
  report.layer_sizes = {model.input_dim};
  for (const DenseLayer& layer : model.layers) report.layer_sizes.push_back(layer.out);
  report.parameters = model.parameters();
  report.rows = dataset.rows;
  report.classes = model.num_classes;
}

int64_t CountNonFinite(const TensorView& tensor) {
  const std::vector<float> values = ToFloat32(tensor);
  return std::count_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); });
}

int64_t CountNonFiniteWeights(const Model& model) {
  int64_t count = 0;
  for (const DenseLayer& layer : model.layers) {
    count += CountNonFinite(*layer.weight) + CountNonFinite(*layer.bias);
  }
  return count;
}

// Forwards the backend's fractions under the suite's stage name.
ProgressFn StageProgress(const ProgressFn& progress, std::string_view stage) {
  if (!progress) return {};
  return [progress, stage](std::string_view, double fraction) { progress(stage, fraction); };
}

// A backend's output is checked before the metrics index into it, so that a faulty backend is
// an error rather than an out-of-bounds read.
Status CheckRunShape(const RunOutput& out, const Dataset& dataset, int64_t classes) {
  const int64_t groups = dataset.groups();
  if (out.rows != dataset.rows || out.classes != classes || out.groups != groups ||
      out.predictions.size() != static_cast<size_t>(dataset.rows) ||
      out.confusion.size() != static_cast<size_t>(groups * classes * classes)) {
    return Internal("the backend returned output of the wrong shape: " + std::to_string(out.rows) +
                    " rows, " + std::to_string(out.classes) + " classes, " +
                    std::to_string(out.groups) + " groups, " +
                    std::to_string(out.predictions.size()) + " predictions, " +
                    std::to_string(out.confusion.size()) + " confusion cells; expected " +
                    std::to_string(dataset.rows) + " rows, " + std::to_string(classes) +
                    " classes, " + std::to_string(groups) + " groups");
  }
  return OkStatus();
}

struct TimedRun {
  RunOutput output;
  double seconds = 0.0;
};

Result<TimedRun> RunStage(Backend& backend, const Dataset& dataset, int64_t classes,
                          const RunOptions& run_options, const ProgressFn& progress,
                          std::string_view stage) {
  if (progress) progress(stage, 0.0);
  const Clock::time_point start = Clock::now();
  SOV_ASSIGN_OR_RETURN(RunOutput output, backend.Run(run_options, StageProgress(progress, stage)));
  const double seconds = SecondsSince(start);
  SOV_RETURN_IF_ERROR(CheckRunShape(output, dataset, classes));
  if (progress) progress(stage, 1.0);
  return TimedRun{std::move(output), seconds};
}

double AccuracyOf(const std::vector<int32_t>& predictions, const std::vector<int32_t>& labels) {
  int64_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) correct += predictions[i] == labels[i];
  return labels.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(labels.size());
}

void FillQualityStage(const RunOutput& clean, double seconds, const Dataset& dataset,
                      const SuiteOptions& options, Report& report) {
  const int64_t classes = clean.classes;
  FillQuality(SumGroups(clean.confusion, classes), classes, report);
  report.log_loss = clean.log_loss_sum / static_cast<double>(dataset.rows);
  report.non_finite_output_rows = clean.non_finite_rows;
  report.throughput_samples_per_second =
      seconds > 0 ? static_cast<double>(dataset.rows) / seconds : 0.0;
  if (!dataset.group_values.empty()) {
    FillFairness(clean.confusion, classes, dataset.group_values, options.positive_class, report);
  }
}

// Times `batch` until both min_iterations passes and min_seconds of timed passes are done.
Result<LatencyStats> MeasureLatency(Backend& backend, int64_t batch, const SuiteOptions& options) {
  SOV_ASSIGN_OR_RETURN(std::vector<double> times,
                       backend.TimeBatches(batch, options.warmup, options.min_iterations));
  if (times.empty()) return Internal("the backend timed no pass of batch " + std::to_string(batch));
  double total = std::accumulate(times.begin(), times.end(), 0.0);
  while (total < options.min_seconds) {
    const auto done = static_cast<int64_t>(times.size());
    const double mean = std::max(total / static_cast<double>(done), 1e-9);
    const double estimate = std::ceil((options.min_seconds - total) / mean);
    const int64_t more = std::min({static_cast<int64_t>(std::min(estimate, 1e9)),
                                   kLatencyGrowth * done, kMaxLatencyIterations - done});
    if (more <= 0) break;
    SOV_ASSIGN_OR_RETURN(std::vector<double> extra,
                         backend.TimeBatches(batch, 0, static_cast<int>(more)));
    if (extra.empty()) break;  // a backend that times nothing must not spin this loop forever
    total += std::accumulate(extra.begin(), extra.end(), 0.0);
    times.insert(times.end(), extra.begin(), extra.end());
  }

  LatencyStats stats;
  stats.batch = batch;
  stats.iterations = static_cast<int>(times.size());
  std::vector<double> ms(times.size());
  std::transform(times.begin(), times.end(), ms.begin(), [](double s) { return s * 1e3; });
  stats.p50_ms = Percentile(ms, 50.0);
  stats.p99_ms = Percentile(std::move(ms), 99.0);
  const double mean = total / static_cast<double>(times.size());
  stats.samples_per_second = mean > 0 ? static_cast<double>(batch) / mean : 0.0;
  return stats;
}

}  // namespace

Result<Report> RunSuite(Backend& backend, const Model& model, const Dataset& dataset,
                        const SuiteOptions& options, const ProgressFn& progress) {
  const Clock::time_point start = Clock::now();
  Report report;
  report.started_at = FormatRfc3339(std::chrono::system_clock::now());
  SOV_RETURN_IF_ERROR(CheckCompatible(dataset, model.input_dim, model.num_classes));
  SOV_RETURN_IF_ERROR(CheckOptions(options, model));

  DescribeSubject(model, dataset, report);
  report.backend = backend.description();
  report.backend_kind = std::string(BackendKindName(backend.kind()));
  report.precision = std::string(PrecisionName(backend.precision()));
  report.non_finite_weights = CountNonFiniteWeights(model);
  SOV_RETURN_IF_ERROR(backend.LoadModel(model));
  SOV_RETURN_IF_ERROR(backend.LoadDataset(dataset));
  const int64_t classes = model.num_classes;

  RunOptions clean_options;
  clean_options.seed = options.noise_seed;
  SOV_ASSIGN_OR_RETURN(TimedRun clean,
                       RunStage(backend, dataset, classes, clean_options, progress, "quality"));
  FillQualityStage(clean.output, clean.seconds, dataset, options, report);

  RunOptions noisy_options = clean_options;
  noisy_options.noise_stddev = options.noise_stddev;
  SOV_ASSIGN_OR_RETURN(TimedRun noisy,
                       RunStage(backend, dataset, classes, noisy_options, progress, "robustness"));
  report.noise_stddev = options.noise_stddev;
  report.noise_seed = options.noise_seed;
  report.noisy_accuracy = AccuracyOf(noisy.output.predictions, dataset.labels);

  if (options.check_determinism) {
    SOV_ASSIGN_OR_RETURN(TimedRun again, RunStage(backend, dataset, classes, clean_options,
                                                  progress, "determinism"));
    for (size_t i = 0; i < again.output.predictions.size(); ++i) {
      report.differing_predictions += again.output.predictions[i] != clean.output.predictions[i];
    }
    report.deterministic = report.differing_predictions == 0;
  }

  for (size_t i = 0; i < options.batch_sizes.size(); ++i) {
    if (progress) progress("latency", static_cast<double>(i) / options.batch_sizes.size());
    SOV_ASSIGN_OR_RETURN(LatencyStats stats,
                         MeasureLatency(backend, options.batch_sizes[i], options));
    report.latency.push_back(stats);
  }
  if (progress) progress("latency", 1.0);

  report.memory_bytes = backend.MemoryBytes();
  report.duration_seconds = SecondsSince(start);
  return report;
}

}  // namespace sov::gpu_eval
