// Shows that device discovery never fails: with no usable GPU it reports none and says why.
#include "gpu-eval/devices.h"

#include <gtest/gtest.h>

namespace sov::gpu_eval {
namespace {

TEST(DevicesTest, ListsDevicesOrExplainsWhyNone) {
  DeviceList list = ListDevices();
  if (list.devices.empty()) {
    std::printf("no CUDA device: %s\n", list.reason.c_str());
    EXPECT_FALSE(list.reason.empty());
  } else {
    EXPECT_TRUE(list.cuda_compiled_in);
    for (const DeviceInfo& d : list.devices) {
      EXPECT_FALSE(d.name.empty());
      EXPECT_GT(d.total_memory, 0u);
      EXPECT_GE(d.compute_major, 3);
    }
  }
}

}  // namespace
}  // namespace sov::gpu_eval
