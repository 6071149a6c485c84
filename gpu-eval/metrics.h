// The suite's metrics as pure functions of confusion matrices, so that they are computed the
// same way whichever backend counted them, and tested against scikit-learn's definitions:
// precision/recall/F1 per class (sklearn's precision_recall_fscore_support), macro-F1 over the
// classes that occur in the labels or the predictions (sklearn's f1_score(average="macro") with
// its default labels), accuracy, and the group fairness gaps.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "gpu-eval/report.h"

namespace sov::gpu_eval {

// `confusion` is [classes][classes], true by predicted. Fills accuracy, macro_f1, per_class and
// confusion of `report` (classes taken from the size).
void FillQuality(std::span<const int64_t> confusion, int64_t classes, Report& report);

// `confusion` is [groups][classes][classes]; `group_values` names each group. Fills has_groups,
// positive_class, per_group and the three gaps of `report`.
void FillFairness(std::span<const int64_t> confusion, int64_t classes,
                  std::span<const int64_t> group_values, int32_t positive_class, Report& report);

// Sums [groups][classes][classes] over groups.
std::vector<int64_t> SumGroups(std::span<const int64_t> confusion, int64_t classes);

// p-th percentile (0..100) of `values` by linear interpolation between closest ranks, as
// numpy.percentile's default. `values` must not be empty.
double Percentile(std::vector<double> values, double p);

}  // namespace sov::gpu_eval
