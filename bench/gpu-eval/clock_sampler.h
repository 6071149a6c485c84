// ClockSampler: what the GPU's clocks and power did while a measurement ran, read through NVML
// (the driver's management library, loaded at run time so that the benchmark neither links
// against it nor needs it: without a driver the sampler says why and measures nothing).
//
// A throughput figure taken over a second and a cuBLAS peak taken over a 27 ms burst are not
// comparable when the card lowers its clocks under sustained load (power cap, temperature); the
// mean SM clock beside each figure says whether it did.
#ifndef SOV_BENCH_GPU_EVAL_CLOCK_SAMPLER_H_
#define SOV_BENCH_GPU_EVAL_CLOCK_SAMPLER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace sov::bench {

// What the samples taken between Begin and End saw.
struct ClockStats {
  int samples = 0;
  double sm_mhz_mean = 0;
  unsigned sm_mhz_min = 0;
  unsigned sm_mhz_max = 0;
  double power_w_mean = 0;
  double power_w_max = 0;
  unsigned temperature_c_max = 0;
  // NVML's utilisation: the share of its last sample period (1/6 s to 1 s by product) in which
  // a kernel ran. Below 100 % while a benchmark keeps the GPU busy, the host is the bottleneck.
  int busy_samples = 0;
  double busy_pct_mean = 0;
  unsigned busy_pct_min = 0;
  // Every NVML clock-event (throttle) reason seen in any sample, OR-ed; ReasonNames spells it.
  uint64_t reasons = 0;
};

// "sw-power-cap,hw-thermal" for the reasons that lower clocks; "none" when there were none.
// The idle reason is left out (it is set between kernel launches).
std::string ReasonNames(uint64_t reasons);

class ClockSampler {
 public:
  // Samples the GPU with this PCI bus id ("0000:00:06.0", from cudaDeviceGetPCIBusId) every
  // `period_ms`. Never fails: when NVML cannot be loaded or does not know the device,
  // available() is false and reason() says why.
  ClockSampler(const std::string& pci_bus_id, int period_ms);
  ~ClockSampler();
  ClockSampler(const ClockSampler&) = delete;
  ClockSampler& operator=(const ClockSampler&) = delete;

  bool available() const { return api_ != nullptr; }
  const std::string& reason() const { return reason_; }

  // Starts a measurement's window; End closes it and returns what was seen (samples = 0 when
  // the sampler is not available or the window was shorter than one period).
  void Begin();
  ClockStats End();

 private:
  struct Api;
  void Loop();
  void SampleOnce(uint64_t window);

  std::unique_ptr<Api> api_;
  std::string reason_;
  int period_ms_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool active_ = false;
  uint64_t window_ = 0;  // counts Begin calls: a sample counts only in the window it began in
  bool stop_ = false;
  ClockStats current_;
  double sm_sum_ = 0;
  double power_sum_ = 0;
  double busy_sum_ = 0;
  std::thread thread_;
};

}  // namespace sov::bench

#endif  // SOV_BENCH_GPU_EVAL_CLOCK_SAMPLER_H_
