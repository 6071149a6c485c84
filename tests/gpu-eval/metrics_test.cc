// Tests of gpu-eval's metrics against hand-computed values that follow scikit-learn's
// definitions (precision_recall_fscore_support, f1_score(average="macro")) and numpy.percentile.
#include "gpu-eval/metrics.h"

#include <cstdint>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace sov::gpu_eval {
namespace {

constexpr double kEps = 1e-12;

// Confusion [classes][classes] counted from (true, predicted) pairs.
std::vector<int64_t> Count(int64_t classes, const std::vector<std::pair<int, int>>& pairs) {
  std::vector<int64_t> confusion(classes * classes, 0);
  for (const auto& [t, p] : pairs) ++confusion[t * classes + p];
  return confusion;
}

// Confusion [groups][classes][classes], one group's pairs after another.
std::vector<int64_t> CountGroups(int64_t classes,
                                 const std::vector<std::vector<std::pair<int, int>>>& groups) {
  std::vector<int64_t> confusion;
  for (const auto& pairs : groups) {
    const std::vector<int64_t> one = Count(classes, pairs);
    confusion.insert(confusion.end(), one.begin(), one.end());
  }
  return confusion;
}

// The case of sklearn's docs extended with a class that is never predicted (2), one that is
// predicted but absent from y_true (3) and one that appears in neither (4):
//   y_true = [0, 0, 0, 1, 1, 2, 1],  y_pred = [0, 0, 1, 1, 0, 1, 3]
// sklearn: precision = recall = f1 = [2/3, 1/3, 0, 0] over labels [0, 1, 2, 3], macro-F1 0.25.
TEST(FillQualityTest, MatchesSklearnWithMissingClasses) {
  const std::vector<int64_t> confusion =
      Count(5, {{0, 0}, {0, 0}, {0, 1}, {1, 1}, {1, 0}, {2, 1}, {1, 3}});
  Report report;
  FillQuality(confusion, 5, report);

  EXPECT_NEAR(report.accuracy, 3.0 / 7.0, kEps);
  EXPECT_NEAR(report.macro_f1, 0.25, kEps);  // class 4 is not averaged in
  EXPECT_EQ(report.confusion, confusion);
  ASSERT_EQ(report.per_class.size(), 5u);

  const ClassMetrics& c0 = report.per_class[0];
  EXPECT_EQ(c0.label, 0);
  EXPECT_EQ(c0.support, 3);
  EXPECT_NEAR(*c0.precision, 2.0 / 3.0, kEps);
  EXPECT_NEAR(*c0.recall, 2.0 / 3.0, kEps);
  EXPECT_NEAR(*c0.f1, 2.0 / 3.0, kEps);

  const ClassMetrics& c1 = report.per_class[1];
  EXPECT_EQ(c1.support, 3);
  EXPECT_NEAR(*c1.precision, 1.0 / 3.0, kEps);
  EXPECT_NEAR(*c1.f1, 1.0 / 3.0, kEps);

  // Never predicted: precision undefined (sklearn warns and counts 0), F1 0.
  const ClassMetrics& c2 = report.per_class[2];
  EXPECT_EQ(c2.support, 1);
  EXPECT_FALSE(c2.precision.has_value());
  EXPECT_DOUBLE_EQ(*c2.recall, 0.0);
  EXPECT_DOUBLE_EQ(*c2.f1, 0.0);

  // Predicted but absent from y_true: recall undefined, F1 0.
  const ClassMetrics& c3 = report.per_class[3];
  EXPECT_EQ(c3.support, 0);
  EXPECT_DOUBLE_EQ(*c3.precision, 0.0);
  EXPECT_FALSE(c3.recall.has_value());
  EXPECT_DOUBLE_EQ(*c3.f1, 0.0);

  // In neither: everything undefined.
  const ClassMetrics& c4 = report.per_class[4];
  EXPECT_EQ(c4.support, 0);
  EXPECT_FALSE(c4.precision.has_value());
  EXPECT_FALSE(c4.recall.has_value());
  EXPECT_FALSE(c4.f1.has_value());
}

// F1 is the harmonic mean, not either of its parts: precision 1/2 and recall 1 give 2/3.
TEST(FillQualityTest, F1IsHarmonicMeanOfPrecisionAndRecall) {
  // Class 1: tp 1, fp 1 (a 0 predicted as 1), fn 0.
  Report report;
  FillQuality(Count(2, {{1, 1}, {0, 1}, {0, 0}, {0, 0}}), 2, report);
  EXPECT_NEAR(*report.per_class[1].precision, 0.5, kEps);
  EXPECT_NEAR(*report.per_class[1].recall, 1.0, kEps);
  EXPECT_NEAR(*report.per_class[1].f1, 2.0 / 3.0, kEps);
  // Class 0: precision 1, recall 2/3, F1 0.8; macro (0.8 + 2/3) / 2.
  EXPECT_NEAR(*report.per_class[0].f1, 0.8, kEps);
  EXPECT_NEAR(report.macro_f1, (0.8 + 2.0 / 3.0) / 2.0, kEps);
  EXPECT_NEAR(report.accuracy, 0.75, kEps);
}

// All-correct predictions give 1 everywhere; FillQuality replaces what a report held before.
TEST(FillQualityTest, PerfectPredictionsAndRefill) {
  Report report;
  FillQuality(Count(3, {{0, 1}, {1, 0}}), 3, report);
  EXPECT_DOUBLE_EQ(report.macro_f1, 0.0);
  FillQuality(Count(3, {{0, 0}, {1, 1}, {2, 2}, {2, 2}}), 3, report);
  EXPECT_DOUBLE_EQ(report.accuracy, 1.0);
  EXPECT_DOUBLE_EQ(report.macro_f1, 1.0);
  ASSERT_EQ(report.per_class.size(), 3u);
  EXPECT_EQ(report.per_class[2].support, 2);
}

// Three groups (values 10, 20, 30), three classes, positive class 1; group 20 has no sample of
// the positive class, so its TPR is undefined and it takes no part in equal opportunity.
TEST(FillFairnessTest, HandComputedGroups) {
  const std::vector<int64_t> confusion = CountGroups(3, {
      {{1, 1}, {1, 0}, {0, 1}, {0, 0}},          // acc 2/4, positive rate 2/4, TPR 1/2
      {{0, 0}, {2, 1}, {2, 2}},                  // acc 2/3, positive rate 1/3, TPR undefined
      {{1, 1}, {1, 1}, {0, 0}, {2, 2}, {2, 0}},  // acc 4/5, positive rate 2/5, TPR 1
  });
  const std::vector<int64_t> values = {10, 20, 30};
  Report report;
  FillFairness(confusion, 3, values, 1, report);

  EXPECT_TRUE(report.has_groups);
  EXPECT_EQ(report.positive_class, 1);
  ASSERT_EQ(report.per_group.size(), 3u);
  EXPECT_EQ(report.per_group[0].value, 10);
  EXPECT_EQ(report.per_group[0].rows, 4);
  EXPECT_NEAR(report.per_group[0].accuracy, 0.5, kEps);
  EXPECT_NEAR(report.per_group[0].positive_rate, 0.5, kEps);
  EXPECT_NEAR(*report.per_group[0].true_positive_rate, 0.5, kEps);
  EXPECT_EQ(report.per_group[1].value, 20);
  EXPECT_EQ(report.per_group[1].rows, 3);
  EXPECT_NEAR(report.per_group[1].accuracy, 2.0 / 3.0, kEps);
  EXPECT_NEAR(report.per_group[1].positive_rate, 1.0 / 3.0, kEps);
  EXPECT_FALSE(report.per_group[1].true_positive_rate.has_value());
  EXPECT_EQ(report.per_group[2].rows, 5);
  EXPECT_NEAR(*report.per_group[2].true_positive_rate, 1.0, kEps);

  EXPECT_NEAR(report.accuracy_gap, 0.8 - 0.5, kEps);
  EXPECT_NEAR(report.demographic_parity_difference, 0.5 - 1.0 / 3.0, kEps);
  ASSERT_TRUE(report.equal_opportunity_difference.has_value());
  EXPECT_NEAR(*report.equal_opportunity_difference, 1.0 - 0.5, kEps);
}

// With fewer than two groups that have a positive sample, equal opportunity is undefined.
TEST(FillFairnessTest, EqualOpportunityUndefinedWithOneDefinedRate) {
  const std::vector<int64_t> confusion = CountGroups(2, {
      {{1, 1}, {0, 0}},
      {{0, 0}, {0, 1}},  // no positive sample
  });
  const std::vector<int64_t> values = {0, 1};
  Report report;
  FillFairness(confusion, 2, values, 1, report);
  EXPECT_FALSE(report.equal_opportunity_difference.has_value());
  EXPECT_NEAR(report.accuracy_gap, 0.5, kEps);
  EXPECT_NEAR(report.demographic_parity_difference, 0.0, kEps);
}

// A positive class outside the model's classes leaves the rates at 0 and TPRs undefined
// instead of reading past the matrix.
TEST(FillFairnessTest, PositiveClassOutOfRangeIsSafe) {
  const std::vector<int64_t> confusion = CountGroups(2, {{{1, 1}}, {{0, 0}}});
  const std::vector<int64_t> values = {0, 1};
  Report report;
  FillFairness(confusion, 2, values, 7, report);
  ASSERT_EQ(report.per_group.size(), 2u);
  EXPECT_DOUBLE_EQ(report.per_group[0].positive_rate, 0.0);
  EXPECT_FALSE(report.per_group[0].true_positive_rate.has_value());
  EXPECT_FALSE(report.equal_opportunity_difference.has_value());
}

TEST(SumGroupsTest, AddsCellwise) {
  const std::vector<int64_t> confusion = {1, 2, 3, 4, 10, 20, 30, 40};
  EXPECT_EQ(SumGroups(confusion, 2), (std::vector<int64_t>{11, 22, 33, 44}));
}

// numpy.percentile(..., method="linear") values.
TEST(PercentileTest, MatchesNumpyLinear) {
  EXPECT_DOUBLE_EQ(Percentile({3, 1, 2, 10}, 50), 2.5);
  EXPECT_NEAR(Percentile({3, 1, 2, 10}, 99), 9.79, 1e-12);
  EXPECT_DOUBLE_EQ(Percentile({3, 1, 2, 10}, 0), 1.0);
  EXPECT_DOUBLE_EQ(Percentile({3, 1, 2, 10}, 100), 10.0);
  EXPECT_DOUBLE_EQ(Percentile({1, 2}, 25), 1.25);
  EXPECT_DOUBLE_EQ(Percentile({5}, 99), 5.0);
}

}  // namespace
}  // namespace sov::gpu_eval
