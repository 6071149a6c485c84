// Built when the CUDA toolkit was not found: there is never a device, and no CUDA backend.
#include "gpu-eval/backend.h"
#include "gpu-eval/devices.h"

namespace sov::gpu_eval {

DeviceList ListDevices() {
  DeviceList list;
  list.reason = "built without the CUDA toolkit";
  return list;
}

Result<std::unique_ptr<Backend>> CreateCudaBackend(const BackendOptions& /*options*/) {
  return Unimplemented("the CUDA backend is not available: built without the CUDA toolkit");
}

}  // namespace sov::gpu_eval
