// The suite's metrics from confusion matrices, following scikit-learn's definitions (see
// metrics.h); undefined ratios stay empty optionals so that the report can write them as null.
#include "gpu-eval/metrics.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <optional>

namespace sov::gpu_eval {
namespace {

// count / total, or nothing when total is 0 (sklearn's "ill-defined" case).
std::optional<double> Ratio(int64_t count, int64_t total) {
  if (total == 0) return std::nullopt;
  return static_cast<double>(count) / static_cast<double>(total);
}

int64_t Trace(std::span<const int64_t> confusion, int64_t classes) {
  int64_t sum = 0;
  for (int64_t c = 0; c < classes; ++c) sum += confusion[c * classes + c];
  return sum;
}

int64_t Total(std::span<const int64_t> confusion) {
  int64_t sum = 0;
  for (int64_t v : confusion) sum += v;
  return sum;
}

// max - min over `values`; 0 for an empty list.
double Spread(const std::vector<double>& values) {
  if (values.empty()) return 0.0;
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  return *hi - *lo;
}

}  // namespace

void FillQuality(std::span<const int64_t> confusion, int64_t classes, Report& report) {
  assert(classes >= 0 && confusion.size() == static_cast<size_t>(classes * classes));
  report.confusion.assign(confusion.begin(), confusion.end());
  report.accuracy = Ratio(Trace(confusion, classes), Total(confusion)).value_or(0.0);

  report.per_class.clear();
  double f1_sum = 0.0;
  int64_t present = 0;
  for (int64_t c = 0; c < classes; ++c) {
    int64_t support = 0;    // row sum: samples whose true class is c
    int64_t predicted = 0;  // column sum: samples predicted as c
    for (int64_t k = 0; k < classes; ++k) {
      support += confusion[c * classes + k];
      predicted += confusion[k * classes + c];
    }
    const int64_t tp = confusion[c * classes + c];
    ClassMetrics m;
    m.label = static_cast<int32_t>(c);
    m.support = support;
    m.precision = Ratio(tp, predicted);
    m.recall = Ratio(tp, support);
    // F1 = 2tp / (2tp + fp + fn) = 2tp / (support + predicted): equal to 2PR / (P + R), and 0
    // (not undefined) when only one of precision and recall is undefined, as sklearn's default
    // zero_division makes it. It is undefined only for a class that is neither in the labels
    // nor in the predictions.
    m.f1 = Ratio(2 * tp, support + predicted);
    if (m.f1) {
      // sklearn's default `labels` are those present in y_true or y_pred: exactly these classes.
      f1_sum += *m.f1;
      ++present;
    }
    report.per_class.push_back(m);
  }
  report.macro_f1 = present == 0 ? 0.0 : f1_sum / static_cast<double>(present);
}

void FillFairness(std::span<const int64_t> confusion, int64_t classes,
                  std::span<const int64_t> group_values, int32_t positive_class, Report& report) {
  const size_t cell_count = static_cast<size_t>(classes * classes);
  assert(confusion.size() == group_values.size() * cell_count);
  const bool positive_valid = positive_class >= 0 && positive_class < classes;

  report.has_groups = !group_values.empty();
  report.positive_class = positive_class;
  report.per_group.clear();
  std::vector<double> accuracies, positive_rates, true_positive_rates;
  for (size_t g = 0; g < group_values.size(); ++g) {
    const auto cells = confusion.subspan(g * cell_count, cell_count);
    GroupMetrics m;
    m.value = group_values[g];
    m.rows = Total(cells);
    int64_t predicted_positive = 0;
    int64_t actual_positive = 0;
    if (positive_valid) {
      for (int64_t k = 0; k < classes; ++k) {
        predicted_positive += cells[k * classes + positive_class];
        actual_positive += cells[positive_class * classes + k];
      }
      m.true_positive_rate =
          Ratio(cells[positive_class * classes + positive_class], actual_positive);
    }
    // A group with no rows has no rates; it is listed but takes no part in the gaps.
    if (m.rows > 0) {
      m.accuracy = *Ratio(Trace(cells, classes), m.rows);
      m.positive_rate = *Ratio(predicted_positive, m.rows);
      accuracies.push_back(m.accuracy);
      positive_rates.push_back(m.positive_rate);
    }
    if (m.true_positive_rate) true_positive_rates.push_back(*m.true_positive_rate);
    report.per_group.push_back(m);
  }
  report.accuracy_gap = Spread(accuracies);
  report.demographic_parity_difference = Spread(positive_rates);
  report.equal_opportunity_difference =
      true_positive_rates.size() < 2 ? std::nullopt : std::optional(Spread(true_positive_rates));
}

std::vector<int64_t> SumGroups(std::span<const int64_t> confusion, int64_t classes) {
  const size_t cell_count = static_cast<size_t>(classes * classes);
  std::vector<int64_t> sum(cell_count, 0);
  if (cell_count == 0) return sum;
  assert(confusion.size() % cell_count == 0);
  for (size_t i = 0; i < confusion.size(); ++i) sum[i % cell_count] += confusion[i];
  return sum;
}

double Percentile(std::vector<double> values, double p) {
  assert(!values.empty());
  std::sort(values.begin(), values.end());
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  const double t = rank - static_cast<double>(lo);
  const double a = values[lo];
  const double b = values[hi];
  // numpy's _lerp: interpolate from the nearer end, so that t = 1 gives b exactly.
  return t >= 0.5 ? b - (b - a) * (1.0 - t) : a + (b - a) * t;
}

}  // namespace sov::gpu_eval
