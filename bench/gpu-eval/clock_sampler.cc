#include "bench/gpu-eval/clock_sampler.h"

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <utility>

namespace sov::bench {
namespace {

// The few NVML entry points used here, declared as nvml.h declares them (a stable C ABI; the
// CUDA toolkit does not always ship the header). Return value 0 is NVML_SUCCESS.
using NvmlDevice = struct NvmlDeviceOpaque*;
using InitFn = int (*)();
using ShutdownFn = int (*)();
using ErrorStringFn = const char* (*)(int);
using HandleByPciFn = int (*)(const char*, NvmlDevice*);
using ClockInfoFn = int (*)(NvmlDevice, int, unsigned*);
using PowerUsageFn = int (*)(NvmlDevice, unsigned*);
using TemperatureFn = int (*)(NvmlDevice, int, unsigned*);
using ReasonsFn = int (*)(NvmlDevice, unsigned long long*);
struct NvmlUtilization {  // nvmlUtilization_t
  unsigned gpu;
  unsigned memory;
};
using UtilizationFn = int (*)(NvmlDevice, NvmlUtilization*);

constexpr int kNvmlClockSm = 1;           // NVML_CLOCK_SM
constexpr int kNvmlTemperatureGpu = 0;    // NVML_TEMPERATURE_GPU

// nvmlClocksEventReason* bits (formerly nvmlClocksThrottleReason*).
struct ReasonBit {
  uint64_t bit;
  const char* name;
};
constexpr ReasonBit kReasons[] = {
    {0x2, "applications-clocks"}, {0x4, "sw-power-cap"},      {0x8, "hw-slowdown"},
    {0x10, "sync-boost"},         {0x20, "sw-thermal"},       {0x40, "hw-thermal"},
    {0x80, "hw-power-brake"},     {0x100, "display-clocks"},
};

}  // namespace

struct ClockSampler::Api {
  void* library = nullptr;
  ShutdownFn shutdown = nullptr;
  ClockInfoFn clock_info = nullptr;
  PowerUsageFn power_usage = nullptr;
  TemperatureFn temperature = nullptr;  // may be null
  ReasonsFn reasons = nullptr;  // null when this driver has neither entry point
  UtilizationFn utilization = nullptr;  // may be null
  NvmlDevice device = nullptr;

  ~Api() {
    if (shutdown != nullptr) shutdown();
    if (library != nullptr) dlclose(library);
  }
};

std::string ReasonNames(uint64_t reasons) {
  std::string out;
  for (const ReasonBit& r : kReasons) {
    if ((reasons & r.bit) == 0) continue;
    if (!out.empty()) out += ',';
    out += r.name;
  }
  return out.empty() ? "none" : out;
}

ClockSampler::ClockSampler(const std::string& pci_bus_id, int period_ms)
    : period_ms_(std::max(period_ms, 1)) {
  auto api = std::make_unique<Api>();
  api->library = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (api->library == nullptr) {
    reason_ = "libnvidia-ml.so.1 could not be loaded (no NVIDIA driver)";
    return;
  }
  auto symbol = [&](const char* name) { return dlsym(api->library, name); };
  auto init = reinterpret_cast<InitFn>(symbol("nvmlInit_v2"));
  auto error_string = reinterpret_cast<ErrorStringFn>(symbol("nvmlErrorString"));
  auto by_pci = reinterpret_cast<HandleByPciFn>(symbol("nvmlDeviceGetHandleByPciBusId_v2"));
  api->clock_info = reinterpret_cast<ClockInfoFn>(symbol("nvmlDeviceGetClockInfo"));
  api->power_usage = reinterpret_cast<PowerUsageFn>(symbol("nvmlDeviceGetPowerUsage"));
  api->temperature = reinterpret_cast<TemperatureFn>(symbol("nvmlDeviceGetTemperature"));
  api->utilization =
      reinterpret_cast<UtilizationFn>(symbol("nvmlDeviceGetUtilizationRates"));
  api->reasons = reinterpret_cast<ReasonsFn>(symbol("nvmlDeviceGetCurrentClocksEventReasons"));
  if (api->reasons == nullptr) {
    api->reasons = reinterpret_cast<ReasonsFn>(
        symbol("nvmlDeviceGetCurrentClocksThrottleReasons"));
  }
  if (init == nullptr || by_pci == nullptr || api->clock_info == nullptr ||
      api->power_usage == nullptr) {
    reason_ = "libnvidia-ml.so.1 lacks an entry point this sampler needs";
    return;
  }
  auto describe = [&](int rc) {
    return error_string != nullptr ? std::string(error_string(rc)) : "error " + std::to_string(rc);
  };
  if (const int rc = init(); rc != 0) {
    reason_ = "nvmlInit: " + describe(rc);
    return;
  }
  api->shutdown = reinterpret_cast<ShutdownFn>(symbol("nvmlShutdown"));
  if (const int rc = by_pci(pci_bus_id.c_str(), &api->device); rc != 0) {
    reason_ = "nvmlDeviceGetHandleByPciBusId(" + pci_bus_id + "): " + describe(rc);
    return;
  }
  unsigned probe = 0;
  if (const int rc = api->clock_info(api->device, kNvmlClockSm, &probe); rc != 0) {
    reason_ = "nvmlDeviceGetClockInfo: " + describe(rc);
    return;
  }
  api_ = std::move(api);
  thread_ = std::thread([this] { Loop(); });
}

ClockSampler::~ClockSampler() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void ClockSampler::Begin() {
  std::lock_guard<std::mutex> lock(mu_);
  current_ = ClockStats();
  sm_sum_ = 0;
  power_sum_ = 0;
  busy_sum_ = 0;
  ++window_;
  active_ = available();
  wake_.notify_all();
}

ClockStats ClockSampler::End() {
  std::lock_guard<std::mutex> lock(mu_);
  active_ = false;
  ClockStats stats = current_;
  if (stats.samples > 0) {
    stats.sm_mhz_mean = sm_sum_ / stats.samples;
    stats.power_w_mean = power_sum_ / stats.samples;
  }
  if (stats.busy_samples > 0) stats.busy_pct_mean = busy_sum_ / stats.busy_samples;
  return stats;
}

void ClockSampler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    wake_.wait(lock, [&] { return stop_ || active_; });
    if (stop_) break;
    // Sample outside the lock (an NVML call takes tens of microseconds), then wait a period.
    const uint64_t window = window_;
    lock.unlock();
    SampleOnce(window);
    lock.lock();
    wake_.wait_for(lock, std::chrono::milliseconds(period_ms_), [&] { return stop_; });
  }
}

void ClockSampler::SampleOnce(uint64_t window) {
  unsigned sm = 0;
  unsigned milliwatts = 0;
  unsigned celsius = 0;
  unsigned long long reasons = 0;
  if (api_->clock_info(api_->device, kNvmlClockSm, &sm) != 0) return;
  if (api_->power_usage(api_->device, &milliwatts) != 0) return;
  if (api_->temperature == nullptr ||
      api_->temperature(api_->device, kNvmlTemperatureGpu, &celsius) != 0) {
    celsius = 0;  // deprecated in NVML 13: may be missing
  }
  if (api_->reasons == nullptr || api_->reasons(api_->device, &reasons) != 0) reasons = 0;
  NvmlUtilization busy{};
  const bool have_busy =
      api_->utilization != nullptr && api_->utilization(api_->device, &busy) == 0;
  std::lock_guard<std::mutex> lock(mu_);
  // The window closed (or closed and a new one opened) while this sample was taken.
  if (!active_ || window != window_) return;
  const double watts = milliwatts / 1000.0;
  ClockStats& s = current_;
  s.sm_mhz_min = s.samples == 0 ? sm : std::min(s.sm_mhz_min, sm);
  s.sm_mhz_max = std::max(s.sm_mhz_max, sm);
  s.power_w_max = std::max(s.power_w_max, watts);
  s.temperature_c_max = std::max(s.temperature_c_max, celsius);
  s.reasons |= reasons;
  sm_sum_ += sm;
  power_sum_ += watts;
  ++s.samples;
  if (have_busy) {
    s.busy_pct_min = s.busy_samples == 0 ? busy.gpu : std::min(s.busy_pct_min, busy.gpu);
    busy_sum_ += busy.gpu;
    ++s.busy_samples;
  }
}

}  // namespace sov::bench
