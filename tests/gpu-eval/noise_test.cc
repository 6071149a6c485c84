// Shows that the robustness noise (internal/noise.h) is a deterministic function of (seed, row,
// column), differs between elements and seeds, and has mean ~0, variance ~1 and bound 6.
#include "gpu-eval/internal/noise.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

namespace sov::gpu_eval::noise {
namespace {

TEST(NoiseTest, Deterministic) {
  for (int64_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(StandardSample(42, i, i % 7, 7), StandardSample(42, i, i % 7, 7));
  }
}

TEST(NoiseTest, DependsOnTheElementIndexOnly) {
  // (row, col) in a matrix of `cols` columns is element row * cols + col.
  EXPECT_EQ(StandardSample(9, 2, 1, 5), StandardSample(9, 0, 11, 5));
  EXPECT_EQ(StandardSample(9, 3, 0, 4), StandardSample(9, 1, 8, 4));
}

TEST(NoiseTest, DistinctPerElementAndSeed) {
  int same_neighbour = 0;
  int same_seed = 0;
  constexpr int kSamples = 100000;
  for (int64_t i = 0; i < kSamples; ++i) {
    const double a = StandardSample(1, 0, i, kSamples + 1);
    same_neighbour += a == StandardSample(1, 0, i + 1, kSamples + 1);
    same_seed += a == StandardSample(2, 0, i, kSamples + 1);
  }
  // The sample takes ~786k distinct values, so equal pairs are rare coincidences.
  EXPECT_LT(same_neighbour, 20);
  EXPECT_LT(same_seed, 20);
}

TEST(NoiseTest, MeanZeroVarianceOneBoundedBySix) {
  constexpr int64_t kRows = 1000;
  constexpr int64_t kCols = 1000;
  double sum = 0;
  double sum_sq = 0;
  double max_abs = 0;
  for (int64_t r = 0; r < kRows; ++r) {
    for (int64_t c = 0; c < kCols; ++c) {
      const double x = StandardSample(12345, r, c, kCols);
      sum += x;
      sum_sq += x * x;
      max_abs = std::max(max_abs, std::abs(x));
    }
  }
  const double n = static_cast<double>(kRows * kCols);
  const double mean = sum / n;
  const double variance = sum_sq / n - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.005);     // standard error 0.001
  EXPECT_NEAR(variance, 1.0, 0.01);  // standard error ~0.0014
  EXPECT_LE(max_abs, 6.0);
  EXPECT_GT(max_abs, 3.5);  // the tails are there: ~465 samples of 1e6 beyond 3.5 sigma
}

TEST(NoiseTest, AddNoiseIsOneRoundingOfXPlusScaledSample) {
  for (int64_t c = 0; c < 100; ++c) {
    const float x = 0.5f + 0.01f * static_cast<float>(c);
    const double expected = static_cast<double>(x) + 0.1 * StandardSample(7, 3, c, 100);
    EXPECT_EQ(AddNoise(x, 0.1, 7, 3, c, 100), static_cast<float>(expected));
  }
  EXPECT_EQ(AddNoise(1.5f, 0.0, 7, 0, 0, 1), 1.5f);
}

}  // namespace
}  // namespace sov::gpu_eval::noise
