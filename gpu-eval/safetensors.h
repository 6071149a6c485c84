// A hardened reader for safetensors files, the format in which ML teams hand us models and
// validation datasets: an 8-byte little-endian header length, a JSON header mapping each tensor
// name to {dtype, shape, data_offsets} (plus an optional "__metadata__" object of strings), then
// the tensor data. The file is memory-mapped, never copied: a TensorView points into the mapping
// and lives as long as the SafetensorsFile that made it.
//
// Every malformed input is an INVALID_ARGUMENT naming the file and the tensor (never a crash):
// a header length past the cap or past the file, JSON that does not parse or is not an object,
// an unknown dtype, a shape whose element count overflows or disagrees with its byte range,
// data_offsets out of the data section, reversed, overlapping another tensor's, a duplicate
// name, a non-string metadata value. Gaps between tensors are allowed (the format permits them).
//
// A SafetensorsFile is immutable after Open/Parse; it is safe to read from many threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sov::gpu_eval {

// The safetensors dtypes, with their spelling in the header ("F32", "BF16", ...).
enum class DType {
  kBool, kU8, kI8, kI16, kU16, kI32, kU32, kI64, kU64, kF16, kBF16, kF32, kF64,
};

// "F32" for kF32, and so on.
std::string_view DTypeName(DType dtype);
// Size of one element in bytes.
size_t DTypeSize(DType dtype);

struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;     // empty for a scalar
  std::span<const std::byte> data;  // exactly elements() * DTypeSize(dtype) bytes

  int64_t elements() const;  // product of shape (1 for a scalar)
};

struct SafetensorsLimits {
  // The reference implementation allows 100 MB. Parsing costs up to ~70 bytes of memory per
  // header byte on hostile input, so the default is 16 MiB (~1 GiB at worst): enough for
  // ~150,000 tensors, far beyond any feed-forward classifier.
  uint64_t max_header_bytes = 16ull << 20;
  size_t max_tensors = 1u << 20;
  size_t max_rank = 8;
};

class SafetensorsFile {
 public:
  // Maps `path` read-only and parses its header. NOT_FOUND when the file does not exist;
  // INVALID_ARGUMENT "PATH: tensor 'NAME': ..." for a malformed file.
  static Result<SafetensorsFile> Open(const std::string& path, const SafetensorsLimits& limits = {});

  // Parses bytes already in memory, which must outlive the result (used by tests and the
  // fuzz target). `source` names the input in errors.
  static Result<SafetensorsFile> Parse(std::span<const std::byte> bytes, std::string_view source,
                                       const SafetensorsLimits& limits = {});

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  // The tensor called `name`, or nullptr.
  const TensorView* Find(std::string_view name) const;
  // All tensors in the order of their data offsets.
  const std::vector<TensorView>& tensors() const { return tensors_; }
  // The "__metadata__" object (string to string); empty when absent.
  const std::map<std::string, std::string, std::less<>>& metadata() const { return metadata_; }
  // The path or source name given to Open/Parse, for error messages.
  const std::string& source() const { return source_; }
  // Size of the whole file in bytes.
  uint64_t size() const { return size_; }

 private:
  SafetensorsFile() = default;

  struct Mapping;  // munmaps on destruction
  std::unique_ptr<Mapping> mapping_;
  std::string source_;
  uint64_t size_ = 0;
  std::vector<TensorView> tensors_;
  std::vector<size_t> by_name_;  // indices into tensors_ ordered by name, for Find
  std::map<std::string, std::string, std::less<>> metadata_;
};

// Writes a safetensors file (used by tests and the fixture tools, which must produce files that
// torch's safetensors reads): tensors are laid out in the given order, the header is padded with
// spaces to a multiple of 8 bytes as the reference writer does. Written atomically, mode 0644.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::string bytes;  // little-endian element data
};
Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                        const std::map<std::string, std::string>& metadata = {});

// The serialized file as bytes, for in-memory tests.
std::string SerializeSafetensors(const std::vector<TensorToWrite>& tensors,
                                 const std::map<std::string, std::string>& metadata = {});

}  // namespace sov::gpu_eval
