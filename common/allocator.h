// Allocator settings for processes that stream artifacts in ~1 MiB messages (sovd, sovctl, the
// registry benchmark). glibc serves each allocation above its mmap threshold (128 KiB, raised
// dynamically only after a free) with a fresh mmap, so every 1-2 MiB gRPC message buffer costs
// an mmap, a page fault per 4 KiB page and an munmap, and a heap that grows and shrinks by
// small steps faults its pages in again and again: on this project's machines that cost more
// than half of the push throughput (145 against 345 MB/s for 1 GiB through sovd). Keeping such
// buffers in a heap that grows in large steps lets them be reused. Call once, early in main,
// before threads start.
#pragma once

namespace sov {

// Raises glibc's mmap threshold to 8 MiB, its trim threshold and top pad to 64 MiB. No-op
// elsewhere.
void TuneAllocatorForStreaming();

}  // namespace sov
