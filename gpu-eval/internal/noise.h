// Seeded input noise that both backends compute bit for bit the same: a pure function of
// (seed, row, column) built from integer hashing only, so that neither a device's transcendental
// functions nor FMA contraction can make the CPU and CUDA runs differ.
//
// The noise is Irwin-Hall with 12 terms: the sum of 12 uniform 16-bit integers, centred and
// scaled to unit variance (2^32 - 1 over 2^32: 1 within 3e-10), bounded to +-6. It is a standard
// approximation of a Gaussian, ample for "accuracy under small input noise". Included by host
// C++ and by CUDA sources; SOV_HOST_DEVICE marks the functions for both.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define SOV_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define SOV_HOST_DEVICE inline
#endif

namespace sov::gpu_eval::noise {

// SplitMix64's finaliser: a bijective 64-bit mix.
SOV_HOST_DEVICE uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A standard-normal-like sample (mean 0, variance ~1) for element (row, col) of a matrix with
// `cols` columns. Exact in double: an even integer over 2^17.
SOV_HOST_DEVICE double StandardSample(uint64_t seed, int64_t row, int64_t col, int64_t cols) {
  const uint64_t element = static_cast<uint64_t>(row) * static_cast<uint64_t>(cols) +
                           static_cast<uint64_t>(col);
  const uint64_t base = Mix64(seed ^ Mix64(element));
  int64_t sum = 0;
  for (uint64_t k = 0; k < 3; ++k) {
    const uint64_t h = Mix64(base + (k + 1) * 0x9e3779b97f4a7c15ull);
    sum += static_cast<int64_t>(h & 0xffff) + static_cast<int64_t>((h >> 16) & 0xffff) +
           static_cast<int64_t>((h >> 32) & 0xffff) + static_cast<int64_t>(h >> 48);
  }
  // Mean of the sum is 12 * 65535 / 2 = 393210; its standard deviation is ~65536.
  return static_cast<double>(2 * sum - 786420) / 131072.0;
}

// The noisy feature value: one double multiply, one double add, one rounding to float. Both
// backends call exactly this (device code compiles it with the same IEEE operations; nvcc does
// not contract across the explicit __dmul_rn/__dadd_rn below).
SOV_HOST_DEVICE float AddNoise(float x, double stddev, uint64_t seed, int64_t row, int64_t col,
                               int64_t cols) {
#if defined(__CUDA_ARCH__)
  return static_cast<float>(
      __dadd_rn(static_cast<double>(x), __dmul_rn(stddev, StandardSample(seed, row, col, cols))));
#else
  const double scaled = stddev * StandardSample(seed, row, col, cols);
  return static_cast<float>(static_cast<double>(x) + scaled);
#endif
}

}  // namespace sov::gpu_eval::noise
