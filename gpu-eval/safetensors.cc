#include "gpu-eval/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>
#include <utility>

#include "common/file.h"
#include "gpu-eval/internal/json.h"

namespace sov::gpu_eval {

namespace {

constexpr size_t kLengthPrefixBytes = 8;
constexpr std::string_view kMetadataKey = "__metadata__";
// A valid header nests three deep (header, tensor entry, shape); a little slack lets a slightly
// wrong header be refused for what is wrong with it rather than for its depth.
constexpr size_t kMaxHeaderDepth = 8;
// Names longer than this are cut short in error messages.
constexpr size_t kMaxShownName = 200;

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::kBool, "BOOL", 1}, {DType::kU8, "U8", 1},     {DType::kI8, "I8", 1},
    {DType::kI16, "I16", 2},   {DType::kU16, "U16", 2},   {DType::kI32, "I32", 4},
    {DType::kU32, "U32", 4},   {DType::kI64, "I64", 8},   {DType::kU64, "U64", 8},
    {DType::kF16, "F16", 2},   {DType::kBF16, "BF16", 2}, {DType::kF32, "F32", 4},
    {DType::kF64, "F64", 8},
};

const DTypeInfo& Info(DType dtype) {
  for (const DTypeInfo& info : kDTypes) {
    if (info.dtype == dtype) return info;
  }
  assert(false && "DType missing from kDTypes");
  return kDTypes[0];
}

// `name` quoted for an error message: escaped (a hostile name cannot forge log lines) and cut
// short (nor fill them).
std::string Shown(std::string_view name) {
  const bool cut = name.size() > kMaxShownName;
  std::string quoted = json::Quote(name.substr(0, kMaxShownName));
  return "'" + quoted.substr(1, quoted.size() - 2) + (cut ? "...'" : "'");
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

std::string RangeText(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

Status HeaderError(std::string_view source, const std::string& what) {
  return InvalidArgument(std::string(source) + ": header: " + what);
}

Status TensorError(std::string_view source, std::string_view name, const std::string& what) {
  return InvalidArgument(std::string(source) + ": tensor " + Shown(name) + ": " + what);
}

Status TooShort(std::string_view source, uint64_t size) {
  return HeaderError(source, "file is " + std::to_string(size) +
                                 " bytes, too short for the 8-byte header length");
}

// What a file whose header length makes no sense is, when its first bytes say so: ML teams
// often have a model in torch.save's format or a NumPy array where safetensors is expected.
std::string OtherFormatHint(std::span<const std::byte> bytes) {
  auto starts_with = [&](std::string_view magic) {
    return bytes.size() >= magic.size() &&
           std::memcmp(bytes.data(), magic.data(), magic.size()) == 0;
  };
  constexpr char kConvert[] =
      ": convert it with examples/gpu-eval/torch_to_safetensors.py (docs/models.md)";
  if (starts_with("PK\x03\x04")) {
    return std::string("; the file is a zip archive, as torch.save writes") + kConvert;
  }
  if (bytes.size() >= 2 && bytes[0] == std::byte{0x80} && bytes[1] >= std::byte{2} &&
      bytes[1] <= std::byte{5}) {
    return std::string("; the file is a Python pickle (older torch.save, joblib)") + kConvert;
  }
  if (starts_with("\x93NUMPY")) return "; the file is a NumPy .npy array, not safetensors";
  return "";
}

// The little-endian length of the JSON header, checked against the cap and the file's size.
Result<uint64_t> ReadHeaderLength(std::span<const std::byte> bytes, std::string_view source,
                                  const SafetensorsLimits& limits) {
  if (bytes.size() < kLengthPrefixBytes) return TooShort(source, bytes.size());
  uint64_t length = 0;
  for (size_t i = 0; i < kLengthPrefixBytes; ++i) {
    length |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  }
  if (length > limits.max_header_bytes) {
    return HeaderError(source, "length " + std::to_string(length) + " exceeds the limit of " +
                                   std::to_string(limits.max_header_bytes) + " bytes" +
                                   OtherFormatHint(bytes));
  }
  if (length > bytes.size() - kLengthPrefixBytes) {
    return HeaderError(source, "length " + std::to_string(length) +
                                   " runs past the end of the file (" +
                                   std::to_string(bytes.size()) + " bytes)" +
                                   OtherFormatHint(bytes));
  }
  return length;
}

// Closes the descriptor when Open returns; the mapping outlives it.
struct FileDescriptor {
  explicit FileDescriptor(int descriptor) : fd(descriptor) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd >= 0) close(fd);
  }
  int fd;
};

// A tensor entry as parsed, before the checks that need every entry (order, overlap, names).
struct Entry {
  TensorView view;
  uint64_t begin = 0;
  uint64_t end = 0;
};

Result<DType> ParseDType(const json::Value& value) {
  if (!value.is_string()) return InvalidArgument("'dtype' is not a string");
  for (const DTypeInfo& info : kDTypes) {
    if (info.name == value.string()) return info.dtype;
  }
  return InvalidArgument("unknown dtype " + Shown(value.string()));
}

// The dimensions, each non-negative, with a product (the element count) that fits in int64.
Result<std::vector<int64_t>> ParseShape(const json::Value& value, size_t max_rank) {
  if (!value.is_array()) return InvalidArgument("'shape' is not an array");
  if (value.array().size() > max_rank) {
    return InvalidArgument("rank " + std::to_string(value.array().size()) +
                           " exceeds the limit of " + std::to_string(max_rank));
  }
  std::vector<int64_t> shape;
  int64_t elements = 1;
  for (const json::Value& dim : value.array()) {
    const std::optional<int64_t> size = dim.as_int64();
    if (!size || *size < 0) {
      return InvalidArgument("'shape' holds " +
                             (dim.is_number() ? dim.number_text() : std::string("a non-number")) +
                             ", not a non-negative integer");
    }
    if (__builtin_mul_overflow(elements, *size, &elements)) {
      return InvalidArgument("shape " + ShapeText(shape) + "... has more elements than fit in 64 bits");
    }
    shape.push_back(*size);
  }
  return shape;
}

Result<std::pair<uint64_t, uint64_t>> ParseOffsets(const json::Value& value) {
  const char* const kWhat = "'data_offsets' is not a pair of non-negative 64-bit integers";
  if (!value.is_array() || value.array().size() != 2) return InvalidArgument(kWhat);
  const std::optional<uint64_t> begin = value.array()[0].as_uint64();
  const std::optional<uint64_t> end = value.array()[1].as_uint64();
  if (!begin || !end) return InvalidArgument(kWhat);
  return std::make_pair(*begin, *end);
}

// Parses one {dtype, shape, data_offsets} entry and checks it against the data section; errors
// are "what", without the tensor's name.
Result<Entry> ParseEntry(std::string_view name, const json::Value& value,
                         std::span<const std::byte> data, const SafetensorsLimits& limits) {
  if (!value.is_object()) return InvalidArgument("entry is not an object");
  const json::Value* fields[3] = {nullptr, nullptr, nullptr};
  static constexpr std::string_view kFields[3] = {"dtype", "shape", "data_offsets"};
  for (const auto& [key, field] : value.members()) {
    const auto* known = std::find(std::begin(kFields), std::end(kFields), key);
    if (known == std::end(kFields)) return InvalidArgument("unknown key " + Shown(key));
    const json::Value*& slot = fields[known - std::begin(kFields)];
    if (slot != nullptr) return InvalidArgument("duplicate key " + Shown(key));
    slot = &field;
  }
  for (size_t i = 0; i < 3; ++i) {
    if (fields[i] == nullptr) return InvalidArgument("missing key " + Shown(kFields[i]));
  }

  Entry entry;
  entry.view.name = std::string(name);
  SOV_ASSIGN_OR_RETURN(entry.view.dtype, ParseDType(*fields[0]));
  SOV_ASSIGN_OR_RETURN(entry.view.shape, ParseShape(*fields[1], limits.max_rank));
  SOV_ASSIGN_OR_RETURN(auto offsets, ParseOffsets(*fields[2]));
  std::tie(entry.begin, entry.end) = offsets;

  const std::string range = "data_offsets " + RangeText(entry.begin, entry.end);
  if (entry.begin > entry.end) return InvalidArgument(range + " are reversed");
  if (entry.end > data.size()) {
    return InvalidArgument(range + " run past the data section (" + std::to_string(data.size()) +
                           " bytes)");
  }
  const std::string described =
      "shape " + ShapeText(entry.view.shape) + " of " + std::string(DTypeName(entry.view.dtype));
  uint64_t needed = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(entry.view.elements()),
                             DTypeSize(entry.view.dtype), &needed)) {
    return InvalidArgument(described + " needs more bytes than fit in 64 bits");
  }
  if (needed != entry.end - entry.begin) {
    return InvalidArgument(described + " needs " + std::to_string(needed) + " bytes but " + range +
                           " hold " + std::to_string(entry.end - entry.begin));
  }
  entry.view.data = data.subspan(entry.begin, entry.end - entry.begin);
  return entry;
}

Result<std::map<std::string, std::string, std::less<>>> ParseMetadata(std::string_view source,
                                                                      const json::Value& value) {
  if (!value.is_object()) return HeaderError(source, "'__metadata__' is not an object");
  std::map<std::string, std::string, std::less<>> metadata;
  for (const auto& [key, field] : value.members()) {
    if (!field.is_string()) {
      return HeaderError(source, "'__metadata__' value of " + Shown(key) + " is not a string");
    }
    if (!metadata.emplace(key, field.string()).second) {
      return HeaderError(source, "'__metadata__' has a duplicate key " + Shown(key));
    }
  }
  return metadata;
}

// Checks that no two tensors share a byte, given entries sorted by (begin, end). Zero-length
// tensors hold no bytes and may sit anywhere in the data section.
Status CheckNoOverlap(std::string_view source, const std::vector<Entry>& entries) {
  const Entry* previous = nullptr;
  for (const Entry& entry : entries) {
    if (entry.begin == entry.end) continue;
    if (previous != nullptr && entry.begin < previous->end) {
      return TensorError(source, entry.view.name,
                         "data_offsets " + RangeText(entry.begin, entry.end) + " overlap tensor " +
                             Shown(previous->view.name) + " at " +
                             RangeText(previous->begin, previous->end));
    }
    previous = &entry;
  }
  return OkStatus();
}

// Indices into `entries` ordered by name, for Find; a name that appears twice is an error (the
// JSON parser let duplicate keys through so that this message can name the tensor).
Result<std::vector<size_t>> IndexByName(std::string_view source, const std::vector<Entry>& entries) {
  std::vector<size_t> order(entries.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return entries[a].view.name < entries[b].view.name; });
  for (size_t i = 1; i < order.size(); ++i) {
    const std::string& name = entries[order[i]].view.name;
    if (name == entries[order[i - 1]].view.name) return TensorError(source, name, "duplicate name");
  }
  return order;
}

// Whether `text` survives quoting unchanged (json::Quote turns bytes that are not UTF-8 into
// U+FFFD, so such a name would read back as another).
bool IsUtf8(std::string_view text) {
  Result<json::Value> quoted = json::Parse(json::Quote(text));
  return quoted.ok() && quoted->string() == text;
}

// Checks what the reader will check, so that a file we write always reads back.
Status CheckWritable(const std::vector<TensorToWrite>& tensors,
                     const std::map<std::string, std::string>& metadata) {
  for (const auto& [key, value] : metadata) {
    if (!IsUtf8(key) || !IsUtf8(value)) {
      return InvalidArgument("'__metadata__' entry " + Shown(key) + " is not UTF-8");
    }
  }
  std::set<std::string_view> names;
  for (const TensorToWrite& tensor : tensors) {
    const std::string context = "tensor " + Shown(tensor.name) + ": ";
    if (tensor.name == kMetadataKey) return InvalidArgument(context + "reserved name");
    if (!IsUtf8(tensor.name)) return InvalidArgument(context + "name is not UTF-8");
    if (!names.insert(tensor.name).second) return InvalidArgument(context + "duplicate name");
    int64_t elements = 1;
    for (int64_t dim : tensor.shape) {
      if (dim < 0 || __builtin_mul_overflow(elements, dim, &elements)) {
        return InvalidArgument(context + "invalid shape " + ShapeText(tensor.shape));
      }
    }
    uint64_t needed = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(elements), DTypeSize(tensor.dtype), &needed) ||
        needed != tensor.bytes.size()) {
      return InvalidArgument(context + "shape " + ShapeText(tensor.shape) + " of " +
                             std::string(DTypeName(tensor.dtype)) + " does not match its " +
                             std::to_string(tensor.bytes.size()) + " bytes");
    }
  }
  return OkStatus();
}

}  // namespace

std::string_view DTypeName(DType dtype) { return Info(dtype).name; }

size_t DTypeSize(DType dtype) { return Info(dtype).size; }

int64_t TensorView::elements() const {
  int64_t product = 1;
  for (int64_t dim : shape) product *= dim;
  return product;
}

struct SafetensorsFile::Mapping {
  Mapping(void* address, size_t length) : address_(address), length_(length) {}
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() { munmap(address_, length_); }

  void* address_;
  size_t length_;
};

SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

Result<SafetensorsFile> SafetensorsFile::Open(const std::string& path,
                                              const SafetensorsLimits& limits) {
  const FileDescriptor file_descriptor(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  const int fd = file_descriptor.fd;
  if (fd < 0) {
    const int error = errno;
    std::string what = path + ": open: " + std::strerror(error);
    return error == ENOENT ? NotFound(what) : InvalidArgument(what);
  }
  struct stat info;
  if (fstat(fd, &info) != 0) return InvalidArgument(path + ": fstat: " + std::strerror(errno));
  if (!S_ISREG(info.st_mode)) return InvalidArgument(path + ": not a regular file");
  const size_t size = static_cast<size_t>(info.st_size);
  if (size < kLengthPrefixBytes) return TooShort(path, size);  // mmap refuses length 0
  // Private and read-only: nothing we do can reach the file. (A file truncated by someone else
  // while mapped would fault on access; the registry's blobs are immutable.)
  void* address = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (address == MAP_FAILED) return InvalidArgument(path + ": mmap: " + std::strerror(errno));
  auto mapping = std::make_unique<Mapping>(address, size);

  std::span<const std::byte> bytes(static_cast<const std::byte*>(address), size);
  SOV_ASSIGN_OR_RETURN(SafetensorsFile file, Parse(bytes, path, limits));
  file.mapping_ = std::move(mapping);
  return file;
}

Result<SafetensorsFile> SafetensorsFile::Parse(std::span<const std::byte> bytes,
                                               std::string_view source,
                                               const SafetensorsLimits& limits) {
  SOV_ASSIGN_OR_RETURN(const uint64_t header_length, ReadHeaderLength(bytes, source, limits));
  const auto header_bytes = bytes.subspan(kLengthPrefixBytes, header_length);
  const std::string_view header_text(reinterpret_cast<const char*>(header_bytes.data()),
                                     header_bytes.size());
  const auto data = bytes.subspan(kLengthPrefixBytes + header_length);

  // Duplicates are checked below, where their error can say "tensor 'NAME'". The JSON tree costs
  // up to ~70 bytes of memory per header byte for hostile input (a 10 MiB header holding one
  // long array takes 730 MB while it is refused): max_header_bytes is what bounds it.
  json::ParseLimits json_limits;
  json_limits.max_depth = kMaxHeaderDepth;
  json_limits.reject_duplicate_keys = false;
  Result<json::Value> root = json::Parse(header_text, json_limits);
  if (!root.ok()) return HeaderError(source, "invalid JSON: " + root.status().message());
  if (!root->is_object()) return HeaderError(source, "not a JSON object");

  SafetensorsFile file;
  file.source_ = std::string(source);
  file.size_ = bytes.size();

  const json::Value* metadata = nullptr;
  std::vector<const std::pair<std::string, json::Value>*> members;
  for (const auto& member : root->members()) {
    if (member.first != kMetadataKey) {
      members.push_back(&member);
    } else if (metadata == nullptr) {
      metadata = &member.second;
    } else {
      return HeaderError(source, "duplicate '__metadata__'");
    }
  }
  if (members.size() > limits.max_tensors) {
    return HeaderError(source, std::to_string(members.size()) + " tensors exceed the limit of " +
                                   std::to_string(limits.max_tensors));
  }
  if (metadata != nullptr) {
    SOV_ASSIGN_OR_RETURN(file.metadata_, ParseMetadata(source, *metadata));
  }

  std::vector<Entry> entries;
  entries.reserve(members.size());
  for (const auto* member : members) {
    Result<Entry> entry = ParseEntry(member->first, member->second, data, limits);
    if (!entry.ok()) return TensorError(source, member->first, entry.status().message());
    entries.push_back(std::move(entry).value());
  }

  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end, a.view.name) < std::tie(b.begin, b.end, b.view.name);
  });
  SOV_ASSIGN_OR_RETURN(file.by_name_, IndexByName(source, entries));
  SOV_RETURN_IF_ERROR(CheckNoOverlap(source, entries));
  file.tensors_.reserve(entries.size());
  for (Entry& entry : entries) file.tensors_.push_back(std::move(entry.view));
  return file;
}

const TensorView* SafetensorsFile::Find(std::string_view name) const {
  auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                             [&](size_t index, std::string_view key) {
                               return tensors_[index].name < key;
                             });
  if (it == by_name_.end() || tensors_[*it].name != name) return nullptr;
  return &tensors_[*it];
}

std::string SerializeSafetensors(const std::vector<TensorToWrite>& tensors,
                                 const std::map<std::string, std::string>& metadata) {
  assert(CheckWritable(tensors, metadata).ok());
  // Field order and layout are the reference writer's: "__metadata__" first when present, then
  // each tensor's {dtype, shape, data_offsets}, compact, padded with spaces to 8 bytes.
  json::Writer header;
  header.BeginObject();
  if (!metadata.empty()) {
    header.Key(kMetadataKey).BeginObject();
    for (const auto& [key, value] : metadata) header.Key(key).String(value);
    header.EndObject();
  }
  uint64_t offset = 0;
  for (const TensorToWrite& tensor : tensors) {
    header.Key(tensor.name).BeginObject();
    header.Key("dtype").String(DTypeName(tensor.dtype));
    header.Key("shape").BeginArray();
    for (int64_t dim : tensor.shape) header.Int(dim);
    header.EndArray();
    header.Key("data_offsets").BeginArray().Uint(offset).Uint(offset + tensor.bytes.size());
    header.EndArray().EndObject();
    offset += tensor.bytes.size();
  }
  header.EndObject();

  std::string text = header.str();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(kLengthPrefixBytes + text.size() + offset);
  for (size_t i = 0; i < kLengthPrefixBytes; ++i) {
    out.push_back(static_cast<char>((static_cast<uint64_t>(text.size()) >> (8 * i)) & 0xFF));
  }
  out += text;
  for (const TensorToWrite& tensor : tensors) out += tensor.bytes;
  return out;
}

Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  Status checked = CheckWritable(tensors, metadata);
  if (!checked.ok()) return checked.WithContext(path);
  return WriteFileAtomic(path, SerializeSafetensors(tensors, metadata), 0644);
}

}  // namespace sov::gpu_eval
