// The backend factory: the one place that chooses between the CUDA and the CPU backend.
#include "gpu-eval/backend.h"

#include <utility>

#include "gpu-eval/devices.h"

namespace sov::gpu_eval {

std::string_view BackendKindName(BackendKind kind) {
  switch (kind) {
    case BackendKind::kAuto:
      return "auto";
    case BackendKind::kCpu:
      return "cpu";
    case BackendKind::kCuda:
      return "cuda";
  }
  return "unknown";
}

Result<BackendKind> ParseBackendKind(std::string_view name) {
  for (BackendKind kind : {BackendKind::kAuto, BackendKind::kCpu, BackendKind::kCuda}) {
    if (name == BackendKindName(kind)) return kind;
  }
  return InvalidArgument("unknown backend \"" + std::string(name) +
                         "\" (expected auto, cpu or cuda)");
}

Result<std::unique_ptr<Backend>> CreateBackend(const BackendOptions& options) {
  if (options.kind == BackendKind::kCpu) return CreateCpuBackend(options);

  const DeviceList devices = ListDevices();
  if (options.kind == BackendKind::kCuda) {
    if (devices.devices.empty()) {
      return FailedPrecondition("the CUDA backend was requested but no CUDA device is usable: " +
                                devices.reason);
    }
    return CreateCudaBackend(options);
  }
  // kAuto: a device that is listed but fails to initialise (out of memory, busy in exclusive
  // mode) still leaves the CPU backend, so that a validation run is never lost to it.
  if (!devices.devices.empty()) {
    Result<std::unique_ptr<Backend>> cuda = CreateCudaBackend(options);
    if (cuda.ok()) return std::move(cuda).value();
  }
  return CreateCpuBackend(options);
}

}  // namespace sov::gpu_eval
