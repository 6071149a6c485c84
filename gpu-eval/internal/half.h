// Conversions between FP32 and the two 16-bit float formats that model weights and datasets come
// in: IEEE binary16 (F16: subnormals, infinities and NaN included) and bfloat16 (BF16, the upper
// half of an FP32). FP32 to 16 bits rounds to nearest, ties to even, as torch and numpy do; NaN
// stays a (quiet) NaN. Used when loading tensors, by the tests and by the fixture writers.
// Pure functions on values: safe from any thread. Host-only.
#pragma once

#include <bit>
#include <cstdint>

namespace sov::gpu_eval::internal {

// Returns the FP32 value of an F16 bit pattern (exact: every F16 is an FP32).
inline float F16ToF32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) {  // infinity or NaN; the payload moves to the top of the FP32 mantissa
    return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  }
  if (exponent != 0) {  // normal: rebias 15 -> 127
    return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  }
  if (mantissa == 0) return std::bit_cast<float>(sign);  // signed zero
  // Subnormal: mantissa * 2^-24. Normalise it so that it becomes an FP32 normal.
  int shift = 0;
  while ((mantissa & 0x400u) == 0) {
    mantissa <<= 1;
    ++shift;
  }
  mantissa &= 0x3ffu;
  const uint32_t fp32_exponent = static_cast<uint32_t>(113 - shift);
  return std::bit_cast<float>(sign | (fp32_exponent << 23) | (mantissa << 13));
}

// Returns the F16 bit pattern nearest to `f` (ties to even); overflow becomes infinity.
inline uint16_t F32ToF16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) {  // NaN: keep the payload's top bits and make sure it stays a NaN
    return static_cast<uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
  }
  if (abs >= 0x477ff000u) {  // >= 65520 (half-way past the largest F16, 65504) or infinity
    return static_cast<uint16_t>(sign | 0x7c00u);
  }
  if (abs < 0x38800000u) {  // below 2^-14, the smallest F16 normal: an F16 subnormal or zero
    const uint32_t exponent = abs >> 23;
    if (exponent < 102) return static_cast<uint16_t>(sign);  // below 2^-25: rounds to zero
    // value = m * 2^(exponent - 150); in units of 2^-24 that is m >> (126 - exponent).
    const uint32_t m = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - exponent;  // 14..24
    uint32_t result = m >> shift;
    const uint32_t rest = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rest > half || (rest == half && (result & 1u))) ++result;  // may carry into the normals
    return static_cast<uint16_t>(sign | result);
  }
  // Normal: rebias 127 -> 15 and round off 13 mantissa bits; a carry correctly bumps the exponent
  // (up to infinity, which the range check above already excluded).
  uint32_t result = ((abs >> 23) - 112) << 10 | ((abs >> 13) & 0x3ffu);
  const uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (result & 1u))) ++result;
  return static_cast<uint16_t>(sign | result);
}

// Returns the FP32 value of a BF16 bit pattern (exact).
inline float BF16ToF32(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

// Returns the BF16 bit pattern nearest to `f` (ties to even); NaN stays a quiet NaN.
inline uint16_t F32ToBF16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
  const uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>((x + rounding) >> 16);
}

}  // namespace sov::gpu_eval::internal
