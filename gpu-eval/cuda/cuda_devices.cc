// Built when the CUDA toolkit was found: asks the CUDA runtime which devices exist.
#include <cuda_runtime_api.h>

#include "gpu-eval/devices.h"

namespace sov::gpu_eval {

DeviceList ListDevices() {
  DeviceList list;
  list.cuda_compiled_in = true;
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    // e.g. "CUDA driver version is insufficient for CUDA runtime version" on machines with no
    // GPU: that is "no device", not a failure.
    list.reason = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky error
    return list;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    list.devices.push_back({i, prop.name, static_cast<uint64_t>(prop.totalGlobalMem), prop.major,
                            prop.minor});
  }
  if (list.devices.empty()) list.reason = "the CUDA runtime reports no device";
  return list;
}

}  // namespace sov::gpu_eval
