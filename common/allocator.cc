#include "common/allocator.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace sov {

void TuneAllocatorForStreaming() {
#if defined(__GLIBC__)
  // Setting either value also turns off glibc's dynamic threshold adjustment.
  mallopt(M_MMAP_THRESHOLD, 8 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  // Each arena grows in steps of at least 64 MiB, so a stream's buffers are carved out of
  // memory that is already mapped instead of faulting in fresh pages.
  mallopt(M_TOP_PAD, 64 << 20);
#endif
}

}  // namespace sov
