// A stand-in for the NVIDIA driver's libnvidia-ml.so.1, built only for clock_sampler_test: the
// entry points ClockSampler loads, reporting whatever the test last set through FakeNvmlSet,
// and a count of clock reads through which the test waits for samples.
#include <atomic>
#include <cstdio>

namespace {

std::atomic<unsigned> g_sm_mhz{0};
std::atomic<unsigned> g_milliwatts{0};
std::atomic<unsigned long long> g_reasons{0};
std::atomic<unsigned> g_busy_pct{0};
std::atomic<unsigned long long> g_clock_reads{0};
int g_device_tag = 0;  // the one device's handle points here

constexpr int kSuccess = 0;
constexpr int kInvalidArgument = 2;
constexpr int kNotFound = 6;

}  // namespace

extern "C" {

void FakeNvmlSet(unsigned sm_mhz, unsigned milliwatts, unsigned long long reasons,
                 unsigned busy_pct) {
  g_sm_mhz = sm_mhz;
  g_milliwatts = milliwatts;
  g_reasons = reasons;
  g_busy_pct = busy_pct;
}

unsigned long long FakeNvmlClockReads() { return g_clock_reads; }

int nvmlInit_v2() { return kSuccess; }
int nvmlShutdown() { return kSuccess; }

const char* nvmlErrorString(int rc) {
  return rc == kNotFound ? "Not Found" : rc == kInvalidArgument ? "Invalid Argument" : "Unknown";
}

// The one GPU sits at domain 0, bus 0, device 6, function 0; NVML reads the id as
// domain:bus:device.function in hexadecimal, so "0000:00:06.0" (CUDA's spelling) and
// "00000000:00:06.0" (NVML's) both name it.
int nvmlDeviceGetHandleByPciBusId_v2(const char* bus_id, void** device) {
  unsigned domain = 0, bus = 0, slot = 0, function = 0;
  if (std::sscanf(bus_id, "%x:%x:%x.%x", &domain, &bus, &slot, &function) != 4) {
    return kInvalidArgument;
  }
  if (domain != 0 || bus != 0 || slot != 6 || function != 0) return kNotFound;
  *device = &g_device_tag;
  return kSuccess;
}

int nvmlDeviceGetClockInfo(void* device, int type, unsigned* mhz) {
  if (device != &g_device_tag || type != 1) return kInvalidArgument;
  *mhz = g_sm_mhz;
  ++g_clock_reads;
  return kSuccess;
}

int nvmlDeviceGetPowerUsage(void* device, unsigned* milliwatts) {
  if (device != &g_device_tag) return kInvalidArgument;
  *milliwatts = g_milliwatts;
  return kSuccess;
}

int nvmlDeviceGetTemperature(void* device, int sensor, unsigned* celsius) {
  if (device != &g_device_tag || sensor != 0) return kInvalidArgument;
  *celsius = 61;
  return kSuccess;
}

struct Utilization {  // nvmlUtilization_t
  unsigned gpu;
  unsigned memory;
};

int nvmlDeviceGetUtilizationRates(void* device, Utilization* utilization) {
  if (device != &g_device_tag) return kInvalidArgument;
  utilization->gpu = g_busy_pct;
  utilization->memory = g_busy_pct / 2;
  return kSuccess;
}

int nvmlDeviceGetCurrentClocksEventReasons(void* device, unsigned long long* reasons) {
  if (device != &g_device_tag) return kInvalidArgument;
  *reasons = g_reasons;
  return kSuccess;
}

}  // extern "C"
