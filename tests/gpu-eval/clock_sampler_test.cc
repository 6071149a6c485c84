// ClockSampler (bench/gpu-eval/clock_sampler.h), the GPU clock and power sampler of
// gpu_eval_bench, against a fake libnvidia-ml.so.1 (fake_nvml/fake_nvml.cc) loaded before the
// sampler looks for the real one, so that these run on machines without an NVIDIA driver.
#include "bench/gpu-eval/clock_sampler.h"

#include <dlfcn.h>

#include <chrono>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sov::bench {
namespace {

using ::testing::HasSubstr;

class ClockSamplerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Loaded by path first: the sampler's dlopen("libnvidia-ml.so.1") then finds this library
    // by its soname, even where a real driver is installed.
    library_ = dlopen(SOV_FAKE_NVML_PATH, RTLD_NOW | RTLD_GLOBAL);
    ASSERT_NE(library_, nullptr) << dlerror();
    set_ = reinterpret_cast<SetFn>(dlsym(library_, "FakeNvmlSet"));
    reads_ = reinterpret_cast<ReadsFn>(dlsym(library_, "FakeNvmlClockReads"));
    ASSERT_NE(set_, nullptr);
    ASSERT_NE(reads_, nullptr);
  }
  void TearDown() override {
    if (library_ != nullptr) dlclose(library_);
  }

  // Waits until the sampler has read the clock `n` more times (the fake counts reads).
  void WaitForReads(unsigned long long n) {
    const unsigned long long target = reads_() + n;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (reads_() < target) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the sampler stopped sampling";
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  using SetFn = void (*)(unsigned, unsigned, unsigned long long, unsigned);
  using ReadsFn = unsigned long long (*)();
  void* library_ = nullptr;
  SetFn set_ = nullptr;
  ReadsFn reads_ = nullptr;
};

TEST_F(ClockSamplerTest, SummarisesWhatTheDriverReportedDuringTheWindowOnly) {
  set_(1500, 500'000, 0x1, 80);  // idle: not a reason that lowers clocks
  ClockSampler sampler("0000:00:06.0", 1);  // CUDA's spelling of the bus id
  ASSERT_TRUE(sampler.available()) << sampler.reason();

  // No window open: nothing is read.
  const unsigned long long before = reads_();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(reads_(), before);

  sampler.Begin();
  WaitForReads(3);
  set_(1700, 650'000, 0x4, 100);  // power-capped
  WaitForReads(4);
  const ClockStats stats = sampler.End();
  EXPECT_GE(stats.samples, 5);
  EXPECT_EQ(stats.sm_mhz_min, 1500u);
  EXPECT_EQ(stats.sm_mhz_max, 1700u);
  EXPECT_GT(stats.sm_mhz_mean, 1500.0);
  EXPECT_LT(stats.sm_mhz_mean, 1700.0);
  EXPECT_DOUBLE_EQ(stats.power_w_max, 650.0);
  EXPECT_GT(stats.power_w_mean, 500.0);
  EXPECT_LT(stats.power_w_mean, 650.0);
  EXPECT_EQ(stats.temperature_c_max, 61u);
  EXPECT_EQ(ReasonNames(stats.reasons), "sw-power-cap");
  EXPECT_EQ(stats.busy_samples, stats.samples);
  EXPECT_EQ(stats.busy_pct_min, 80u);
  EXPECT_GT(stats.busy_pct_mean, 80.0);
  EXPECT_LT(stats.busy_pct_mean, 100.0);

  // The next window starts afresh: nothing of the first one is carried over.
  set_(1200, 300'000, 0x40, 55);
  sampler.Begin();
  WaitForReads(3);
  const ClockStats second = sampler.End();
  EXPECT_GE(second.samples, 2);
  EXPECT_EQ(second.sm_mhz_min, 1200u);
  EXPECT_EQ(second.sm_mhz_max, 1200u);
  EXPECT_DOUBLE_EQ(second.power_w_mean, 300.0);
  EXPECT_EQ(ReasonNames(second.reasons), "hw-thermal");
  EXPECT_DOUBLE_EQ(second.busy_pct_mean, 55.0);
}

TEST_F(ClockSamplerTest, SaysWhyWhenTheDriverDoesNotKnowTheDevice) {
  ClockSampler sampler("0000:99:00.0", 1);
  EXPECT_FALSE(sampler.available());
  EXPECT_THAT(sampler.reason(), HasSubstr("0000:99:00.0"));
  EXPECT_THAT(sampler.reason(), HasSubstr("Not Found"));
  sampler.Begin();
  EXPECT_EQ(sampler.End().samples, 0);
}

TEST(ClockSamplerReasonsTest, NamesTheReasonsThatLowerClocks) {
  EXPECT_EQ(ReasonNames(0), "none");
  EXPECT_EQ(ReasonNames(0x1), "none");  // idle is left out
  EXPECT_EQ(ReasonNames(0x4 | 0x80), "sw-power-cap,hw-power-brake");
  EXPECT_EQ(ReasonNames(0x8 | 0x20 | 0x40), "hw-slowdown,sw-thermal,hw-thermal");
}

}  // namespace
}  // namespace sov::bench
