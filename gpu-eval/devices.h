// Which accelerators this process can use. The gateway logs it at start and gpu-eval's backend
// factory uses it to choose CUDA or the CPU backend. No CUDA type appears here. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sov::gpu_eval {

struct DeviceInfo {
  int index = 0;
  std::string name;          // e.g. "NVIDIA H200"
  uint64_t total_memory = 0;  // bytes
  int compute_major = 0;     // compute capability, e.g. 9.0 for Hopper
  int compute_minor = 0;
};

struct DeviceList {
  bool cuda_compiled_in = false;     // the CUDA backend was built into this binary
  std::vector<DeviceInfo> devices;   // usable CUDA devices; empty means "use the CPU backend"
  std::string reason;                // why there are none, e.g. the CUDA runtime's error text
};

// Returns the usable CUDA devices. Any error from the CUDA runtime (no driver, driver too old,
// no device) means "no device": the list is empty and `reason` says why. Never fails.
DeviceList ListDevices();

}  // namespace sov::gpu_eval
