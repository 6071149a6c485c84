// Built when the CUDA toolkit was not found: there is never a device.
#include "gpu-eval/devices.h"

namespace sov::gpu_eval {

DeviceList ListDevices() {
  DeviceList list;
  list.reason = "built without the CUDA toolkit";
  return list;
}

}  // namespace sov::gpu_eval
