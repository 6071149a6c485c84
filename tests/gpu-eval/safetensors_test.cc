// Shows the safetensors reader and writer: files round-trip without copying tensor data, the
// bytes match what the reference (Hugging Face) writer produces, and every malformed header is
// refused with an INVALID_ARGUMENT that names the source and the tensor at fault.
#include "gpu-eval/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>

namespace sov::gpu_eval {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr const char* kSource = "m.safetensors";

std::span<const std::byte> Bytes(const std::string& s) { return std::as_bytes(std::span(s)); }

// A file made of the length prefix, `header` exactly as given (no padding) and `data`.
std::string FileWith(std::string_view header, std::string_view data = "") {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xFF));
  out += header;
  out += data;
  return out;
}

std::string FloatBytes(std::initializer_list<float> values) {
  std::string out;
  for (float v : values) out.append(reinterpret_cast<const char*>(&v), sizeof(v));
  return out;
}

// The error message for a file that must be refused.
std::string Refusal(const std::string& file, const SafetensorsLimits& limits = {}) {
  Result<SafetensorsFile> parsed = SafetensorsFile::Parse(Bytes(file), kSource, limits);
  EXPECT_FALSE(parsed.ok()) << "accepted a malformed file";
  if (parsed.ok()) return "";
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << parsed.status().ToString();
  return parsed.status().message();
}

// One tensor entry, "w" unless named otherwise, spliced into a header.
std::string Entry(std::string_view dtype, std::string_view shape, std::string_view offsets) {
  return std::string(R"({"dtype":")") + std::string(dtype) + R"(","shape":)" +
         std::string(shape) + R"(,"data_offsets":)" + std::string(offsets) + "}";
}

TEST(SafetensorsTest, RoundTripKeepsTensorsAndMetadataWithoutCopying) {
  // Serialize then Parse gives back every tensor and the metadata; views point into the input.
  std::vector<TensorToWrite> tensors = {
      {"layer.weight", DType::kF32, {2, 3}, FloatBytes({1, 2, 3, 4, 5, -6})},
      {"step", DType::kI64, {}, std::string("\x07\0\0\0\0\0\0\0", 8)},
      {"empty", DType::kU8, {0}, ""},
      {"half", DType::kBF16, {4}, std::string("\x80\x3f\x00\x40\x40\x40\x80\x40", 8)},
      {"mask", DType::kBool, {3}, std::string("\x01\x00\x01", 3)},
      {"wide", DType::kF64, {1, 1}, std::string("\0\0\0\0\0\0\xf0\x3f", 8)},
  };
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "caf\xC3\xA9"}};
  const std::string file = SerializeSafetensors(tensors, metadata);

  Result<SafetensorsFile> parsed = SafetensorsFile::Parse(Bytes(file), kSource);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->source(), kSource);
  EXPECT_EQ(parsed->size(), file.size());
  EXPECT_EQ(parsed->metadata().size(), 2u);
  EXPECT_EQ(parsed->metadata().at("note"), "caf\xC3\xA9");
  // Ordered by offset; the zero-length tensor sits between "step" and "half" at the same offset
  // as "half" and sorts first.
  ASSERT_EQ(parsed->tensors().size(), tensors.size());
  const std::vector<std::string> order = {"layer.weight", "step", "empty", "half", "mask", "wide"};
  uint64_t header_length = 0;
  std::memcpy(&header_length, file.data(), 8);  // little-endian, as is this host
  const std::byte* data_start = Bytes(file).data() + 8 + header_length;
  size_t offset = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    const TensorView& view = parsed->tensors()[i];
    EXPECT_EQ(view.name, order[i]);
    const TensorToWrite& written = tensors[i];
    EXPECT_EQ(view.dtype, written.dtype) << view.name;
    EXPECT_EQ(view.shape, written.shape) << view.name;
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(view.data.data()), view.data.size()),
              written.bytes) << view.name;
    EXPECT_EQ(view.data.data(), data_start + offset) << view.name << " was copied";
    EXPECT_EQ(parsed->Find(view.name), &view);
    offset += written.bytes.size();
  }
  EXPECT_EQ(parsed->Find("step")->elements(), 1);
  EXPECT_EQ(parsed->Find("layer.weight")->elements(), 6);
  EXPECT_EQ(parsed->Find("empty")->elements(), 0);
  EXPECT_EQ(parsed->Find("nope"), nullptr);
}

TEST(SafetensorsTest, ReadsAndWritesTheReferenceWritersBytes) {
  // These are the bytes safetensors.torch.save_file({"a": tensor([1., -2.])}) writes: compact
  // JSON padded with spaces to 8 bytes, then the data. We read them and write the same bytes.
  const std::string reference =
      std::string("\x38\0\0\0\0\0\0\0", 8) +
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})" + "  " +
      std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8);
  Result<SafetensorsFile> parsed = SafetensorsFile::Parse(Bytes(reference), kSource);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const TensorView* a = parsed->Find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::kF32);
  EXPECT_EQ(a->shape, std::vector<int64_t>{2});
  ASSERT_EQ(a->data.size(), 8u);
  float values[2];
  std::memcpy(values, a->data.data(), sizeof(values));
  EXPECT_EQ(values[0], 1.0f);
  EXPECT_EQ(values[1], -2.0f);
  EXPECT_TRUE(parsed->metadata().empty());

  EXPECT_EQ(SerializeSafetensors({{"a", DType::kF32, {2}, FloatBytes({1, -2})}}), reference);

  // With metadata the reference writes "__metadata__" first.
  const std::string with_metadata =
      std::string("\x58\0\0\0\0\0\0\0", 8) +
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})" +
      "   " + std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8);
  EXPECT_EQ(SerializeSafetensors({{"a", DType::kF32, {2}, FloatBytes({1, -2})}}, {{"format", "pt"}}),
            with_metadata);
  Result<SafetensorsFile> reparsed = SafetensorsFile::Parse(Bytes(with_metadata), kSource);
  ASSERT_TRUE(reparsed.ok()) << reparsed.status().ToString();
  EXPECT_EQ(reparsed->metadata().at("format"), "pt");
}

TEST(SafetensorsTest, NamesEveryDType) {
  // Each dtype has the reference spelling and element size, and reads back from a header.
  const std::pair<DType, std::pair<const char*, size_t>> expected[] = {
      {DType::kBool, {"BOOL", 1}}, {DType::kU8, {"U8", 1}},     {DType::kI8, {"I8", 1}},
      {DType::kI16, {"I16", 2}},   {DType::kU16, {"U16", 2}},   {DType::kI32, {"I32", 4}},
      {DType::kU32, {"U32", 4}},   {DType::kI64, {"I64", 8}},   {DType::kU64, {"U64", 8}},
      {DType::kF16, {"F16", 2}},   {DType::kBF16, {"BF16", 2}}, {DType::kF32, {"F32", 4}},
      {DType::kF64, {"F64", 8}},
  };
  for (const auto& [dtype, spelling] : expected) {
    EXPECT_EQ(DTypeName(dtype), spelling.first);
    EXPECT_EQ(DTypeSize(dtype), spelling.second);
    const std::string file = SerializeSafetensors(
        {{"t", dtype, {3}, std::string(3 * spelling.second, '\x01')}});
    Result<SafetensorsFile> parsed = SafetensorsFile::Parse(Bytes(file), kSource);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(parsed->tensors()[0].dtype, dtype);
  }
}

TEST(SafetensorsTest, AllowsGapsAndOrdersByOffset) {
  // Tensors listed out of order, with a gap between them, come back ordered by data offset.
  const std::string header = R"({"b":)" + Entry("F32", "[1]", "[8,12]") + R"(,"a":)" +
                             Entry("F32", "[1]", "[0,4]") + "}";
  Result<SafetensorsFile> parsed =
      SafetensorsFile::Parse(Bytes(FileWith(header, std::string(16, '\0'))), kSource);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->tensors().size(), 2u);
  EXPECT_EQ(parsed->tensors()[0].name, "a");
  EXPECT_EQ(parsed->tensors()[1].name, "b");
  EXPECT_EQ(parsed->Find("b")->data.size(), 4u);
}

TEST(SafetensorsTest, ZeroLengthTensorsHoldNoBytes) {
  // A zero-length tensor may sit inside another's range or at the very end of the data.
  const std::string header = R"({"w":)" + Entry("F32", "[2]", "[0,8]") + R"(,"e":)" +
                             Entry("F32", "[0,5]", "[4,4]") + R"(,"z":)" +
                             Entry("I8", "[0]", "[8,8]") + "}";
  Result<SafetensorsFile> parsed =
      SafetensorsFile::Parse(Bytes(FileWith(header, std::string(8, '\0'))), kSource);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->Find("e")->data.size(), 0u);
  EXPECT_EQ(parsed->Find("z")->shape, std::vector<int64_t>{0});
}

TEST(SafetensorsTest, AcceptsAHeaderWithNoTensors) {
  // "{}" padded is a valid, empty file, as the reference writes for an empty dict.
  Result<SafetensorsFile> parsed = SafetensorsFile::Parse(Bytes(FileWith("{}      ")), kSource);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(parsed->tensors().empty());
  EXPECT_EQ(SerializeSafetensors({}), FileWith("{}      "));
}

class SafetensorsFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sov_safetensors_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void WriteRaw(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
  }

  std::string dir_;
};

TEST_F(SafetensorsFileTest, WritesAndMapsAFile) {
  // WriteSafetensors makes a 0644 file that Open maps and reads back; moving keeps views valid.
  const std::string path = dir_ + "/model.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, {{"w", DType::kF32, {2, 2}, FloatBytes({1, 2, 3, 4})},
                                      {"b", DType::kF32, {2}, FloatBytes({5, 6})}},
                               {{"format", "pt"}})
                  .ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);

  Result<SafetensorsFile> opened = SafetensorsFile::Open(path);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  SafetensorsFile file = std::move(opened).value();
  SafetensorsFile moved = std::move(file);
  EXPECT_EQ(moved.source(), path);
  EXPECT_EQ(moved.size(), static_cast<uint64_t>(st.st_size));
  EXPECT_EQ(moved.metadata().at("format"), "pt");
  const TensorView* b = moved.Find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(b->data.data()), b->data.size()),
            FloatBytes({5, 6}));
}

TEST_F(SafetensorsFileTest, MissingFileIsNotFound) {
  // A path that does not exist is NOT_FOUND, naming the path.
  const std::string path = dir_ + "/absent.safetensors";
  Result<SafetensorsFile> opened = SafetensorsFile::Open(path);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(opened.status().message(), HasSubstr(path));
}

TEST_F(SafetensorsFileTest, EmptyAndShortFilesAreRefused) {
  // Files shorter than the 8-byte length prefix, and a directory, are INVALID_ARGUMENT.
  for (size_t size : {0, 1, 7}) {
    const std::string path = dir_ + "/short" + std::to_string(size);
    WriteRaw(path, std::string(size, '\0'));
    Result<SafetensorsFile> opened = SafetensorsFile::Open(path);
    ASSERT_FALSE(opened.ok()) << size;
    EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(opened.status().message(),
                StartsWith(path + ": header: file is " + std::to_string(size) + " bytes"));
  }
  Result<SafetensorsFile> directory = SafetensorsFile::Open(dir_);
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(directory.status().message(), HasSubstr("not a regular file"));
}

TEST_F(SafetensorsFileTest, MalformedFileNamesPathAndTensor) {
  // Errors from Open carry the path as their source.
  const std::string path = dir_ + "/bad.safetensors";
  WriteRaw(path, FileWith(R"({"w":)" + Entry("F32", "[3]", "[0,8]") + "}", std::string(8, '\0')));
  Result<SafetensorsFile> opened = SafetensorsFile::Open(path);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(opened.status().message(), StartsWith(path + ": tensor 'w': "));
}

TEST(SafetensorsMalformedTest, ShorterThanTheLengthPrefix) {
  // Fewer than 8 bytes cannot hold the header length.
  EXPECT_EQ(Refusal(""), "m.safetensors: header: file is 0 bytes, too short for the 8-byte header length");
  EXPECT_THAT(Refusal(std::string(7, '\0')), StartsWith("m.safetensors: header: file is 7 bytes"));
}

TEST(SafetensorsMalformedTest, HeaderLengthPastTheCap) {
  // A header length above the limit is refused before anything is read, even 2^64 - 1.
  SafetensorsLimits limits;
  limits.max_header_bytes = 16;
  EXPECT_EQ(Refusal(FileWith(std::string(24, ' ')), limits),
            "m.safetensors: header: length 24 exceeds the limit of 16 bytes");
  EXPECT_THAT(Refusal(std::string(8, '\xFF') + "{}"),
              StartsWith("m.safetensors: header: length 18446744073709551615 exceeds the limit"));
}

TEST(SafetensorsMalformedTest, OtherFormatsAreNamed) {
  // torch.save's zip archive, a pickle and a NumPy array give a nonsensical header length;
  // the error says what the file is instead, and how to convert a model.
  std::string zip = std::string("PK\x03\x04", 4) + std::string(60, '\x01');
  EXPECT_THAT(Refusal(zip), HasSubstr("exceeds the limit of 16777216 bytes; the file is a zip "
                                      "archive, as torch.save writes: convert it with "
                                      "examples/gpu-eval/torch_to_safetensors.py"));
  std::string pickle = std::string("\x80\x04\x95", 3) + std::string(13, '\x01');
  EXPECT_THAT(Refusal(pickle), HasSubstr("; the file is a Python pickle"));
  std::string npy = std::string("\x93NUMPY\x01\x00", 8) + "{'descr': '<f4'}";
  EXPECT_THAT(Refusal(npy), HasSubstr("; the file is a NumPy .npy array, not safetensors"));
  // Under a higher cap, the length runs past the end instead: the format is named too.
  SafetensorsLimits limits;
  limits.max_header_bytes = uint64_t{1} << 30;
  std::string short_zip = std::string("PK\x03\x04\x00\x00\x00\x00", 8) + "{}";
  EXPECT_THAT(Refusal(short_zip, limits),
              HasSubstr("length 67324752 runs past the end of the file (10 bytes); the file is a "
                        "zip archive"));
}

TEST(SafetensorsMalformedTest, HeaderLengthPastTheFile) {
  // A header length that runs past the end of the file.
  std::string file = FileWith("{}      ");
  file[0] = 9;
  EXPECT_EQ(Refusal(file),
            "m.safetensors: header: length 9 runs past the end of the file (16 bytes)");
}

TEST(SafetensorsMalformedTest, HeaderIsNotJson) {
  // Text that is not JSON, including a name that is not UTF-8, and an empty header.
  EXPECT_THAT(Refusal(FileWith(R"({"w":)")), StartsWith("m.safetensors: header: invalid JSON: offset 5: "));
  EXPECT_THAT(Refusal(FileWith("{\"\xC3\x28\":{}}")), HasSubstr("invalid UTF-8"));
  EXPECT_THAT(Refusal(FileWith("")), StartsWith("m.safetensors: header: invalid JSON: offset 0"));
  EXPECT_THAT(Refusal(FileWith(std::string(8, '\0'))), HasSubstr("invalid JSON"));
}

TEST(SafetensorsMalformedTest, HeaderIsNotAnObject) {
  // The header must be a JSON object.
  EXPECT_EQ(Refusal(FileWith("[]")), "m.safetensors: header: not a JSON object");
  EXPECT_EQ(Refusal(FileWith("\"w\"")), "m.safetensors: header: not a JSON object");
}

TEST(SafetensorsMalformedTest, HeaderNestedTooDeep) {
  // Deep nesting is refused by the JSON depth limit, not by the stack.
  EXPECT_THAT(Refusal(FileWith(R"({"w":)" + std::string(5000, '[') + std::string(5000, ']') + "}")),
              HasSubstr("nesting deeper than"));
}

TEST(SafetensorsMalformedTest, EntryIsNotAnObject) {
  // A tensor entry that is a number.
  EXPECT_EQ(Refusal(FileWith(R"({"w":1})")), "m.safetensors: tensor 'w': entry is not an object");
}

TEST(SafetensorsMalformedTest, UnknownKey) {
  // Keys other than dtype, shape and data_offsets are refused, naming the key and the tensor.
  EXPECT_EQ(Refusal(FileWith(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"offsets":[0,4]}})",
                             std::string(4, '\0'))),
            "m.safetensors: tensor 'w': unknown key 'offsets'");
}

TEST(SafetensorsMalformedTest, MissingKey) {
  // Each of the three keys is required.
  EXPECT_EQ(Refusal(FileWith(R"({"w":{"dtype":"F32","shape":[1]}})")),
            "m.safetensors: tensor 'w': missing key 'data_offsets'");
  EXPECT_EQ(Refusal(FileWith(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0'))),
            "m.safetensors: tensor 'w': missing key 'dtype'");
}

TEST(SafetensorsMalformedTest, DuplicateKeyInEntry) {
  // A key given twice inside one entry.
  EXPECT_EQ(Refusal(FileWith(R"({"w":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}})",
                             std::string(4, '\0'))),
            "m.safetensors: tensor 'w': duplicate key 'dtype'");
}

TEST(SafetensorsMalformedTest, UnknownDType) {
  // A dtype outside the supported set, and one that is not a string.
  EXPECT_EQ(Refusal(FileWith(R"({"w":)" + Entry("F8_E4M3", "[1]", "[0,1]") + "}", "x")),
            "m.safetensors: tensor 'w': unknown dtype 'F8_E4M3'");
  EXPECT_EQ(Refusal(FileWith(R"({"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})",
                             std::string(4, '\0'))),
            "m.safetensors: tensor 'w': 'dtype' is not a string");
}

TEST(SafetensorsMalformedTest, NegativeOrFractionalDimension) {
  // Dimensions are non-negative integers.
  EXPECT_EQ(Refusal(FileWith(R"({"w":)" + Entry("F32", "[-1]", "[0,0]") + "}")),
            "m.safetensors: tensor 'w': 'shape' holds -1, not a non-negative integer");
  EXPECT_THAT(Refusal(FileWith(R"({"w":)" + Entry("F32", "[2.0]", "[0,8]") + "}", std::string(8, '\0'))),
              StartsWith("m.safetensors: tensor 'w': 'shape' holds 2.0"));
  EXPECT_THAT(Refusal(FileWith(R"({"w":)" + Entry("F32", "[\"2\"]", "[0,8]") + "}", std::string(8, '\0'))),
              StartsWith("m.safetensors: tensor 'w': 'shape' holds a non-number"));
  EXPECT_THAT(Refusal(FileWith(R"({"w":)" + Entry("F32", "2", "[0,8]") + "}", std::string(8, '\0'))),
              StartsWith("m.safetensors: tensor 'w': 'shape' is not an array"));
}

TEST(SafetensorsMalformedTest, ShapeElementCountOverflows) {
  // A shape whose product does not fit in 64 bits, and dimensions past int64.
  EXPECT_THAT(Refusal(FileWith(R"({"w":)" + Entry("U8", "[4294967296,4294967296]", "[0,0]") + "}")),
              StartsWith("m.safetensors: tensor 'w': shape [4294967296]... has more elements"));
  EXPECT_THAT(Refusal(FileWith(R"({"w":)" + Entry("U8", "[18446744073709551615]", "[0,0]") + "}")),
              StartsWith("m.safetensors: tensor 'w': 'shape' holds 18446744073709551615"));
}

TEST(SafetensorsMalformedTest, ElementBytesOverflow) {
  // 2^62 elements of F32 fit in int64 but their byte count does not fit in 64 bits.
  EXPECT_EQ(Refusal(FileWith(R"({"w":)" + Entry("F32", "[4611686018427387904]", "[0,0]") + "}")),
              "m.safetensors: tensor 'w': shape [4611686018427387904] of F32 needs more bytes "
              "than fit in 64 bits");
}

TEST(SafetensorsMalformedTest, RankPastTheLimit) {
  // More dimensions than max_rank.
  EXPECT_EQ(Refusal(FileWith(R"({"w":)" + Entry("F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]") + "}",
                             std::string(4, '\0'))),
            "m.safetensors: tensor 'w': rank 9 exceeds the limit of 8");
}

TEST(SafetensorsMalformedTest, BytesDisagreeWithShape) {
  // data_offsets that hold fewer (or more) bytes than shape times dtype size.
  EXPECT_EQ(Refusal(FileWith(R"({"w":)" + Entry("F32", "[3]", "[0,8]") + "}", std::string(8, '\0'))),
            "m.safetensors: tensor 'w': shape [3] of F32 needs 12 bytes but data_offsets [0, 8] "
            "hold 8");
  EXPECT_THAT(Refusal(FileWith(R"({"w":)" + Entry("F16", "[]", "[0,4]") + "}", std::string(4, '\0'))),
              StartsWith("m.safetensors: tensor 'w': shape [] of F16 needs 2 bytes"));
}

TEST(SafetensorsMalformedTest, OffsetsReversed) {
  // begin after end.
  EXPECT_EQ(Refusal(FileWith(R"({"w":)" + Entry("F32", "[0]", "[8,0]") + "}", std::string(8, '\0'))),
            "m.safetensors: tensor 'w': data_offsets [8, 0] are reversed");
}

TEST(SafetensorsMalformedTest, OffsetsPastTheDataSection) {
  // A range that ends past the file, including the largest offsets, which must not wrap.
  EXPECT_EQ(Refusal(FileWith(R"({"w":)" + Entry("F32", "[4]", "[0,16]") + "}", std::string(8, '\0'))),
            "m.safetensors: tensor 'w': data_offsets [0, 16] run past the data section (8 bytes)");
  EXPECT_THAT(Refusal(FileWith(R"({"w":)" +
                               Entry("F32", "[0]", "[18446744073709551615,18446744073709551615]") +
                               "}")),
              StartsWith("m.safetensors: tensor 'w': data_offsets [18446744073709551615, "
                         "18446744073709551615] run past"));
}

TEST(SafetensorsMalformedTest, OffsetsNotAPairOfIntegers) {
  // data_offsets must be exactly two unsigned 64-bit integers.
  for (const char* offsets : {"[0]", "[0,4,8]", "[-1,3]", "[0,18446744073709551616]", "[0,4.0]",
                              "{}", "\"0,4\""}) {
    EXPECT_EQ(Refusal(FileWith(R"({"w":)" + Entry("F32", "[1]", offsets) + "}", std::string(8, '\0'))),
              "m.safetensors: tensor 'w': 'data_offsets' is not a pair of non-negative 64-bit "
              "integers")
        << offsets;
  }
}

TEST(SafetensorsMalformedTest, OverlappingTensors) {
  // Two tensors sharing bytes; the error names both.
  const std::string header = R"({"a":)" + Entry("F32", "[2]", "[0,8]") + R"(,"b":)" +
                             Entry("F32", "[2]", "[4,12]") + "}";
  EXPECT_EQ(Refusal(FileWith(header, std::string(12, '\0'))),
            "m.safetensors: tensor 'b': data_offsets [4, 12] overlap tensor 'a' at [0, 8]");
  // Also when the overlapping tensor lies wholly inside a larger one, or shares its range.
  const std::string inside = R"({"big":)" + Entry("U8", "[16]", "[0,16]") + R"(,"small":)" +
                             Entry("U8", "[2]", "[10,12]") + "}";
  EXPECT_EQ(Refusal(FileWith(inside, std::string(16, '\0'))),
            "m.safetensors: tensor 'small': data_offsets [10, 12] overlap tensor 'big' at [0, 16]");
  const std::string same = R"({"x":)" + Entry("U8", "[4]", "[0,4]") + R"(,"y":)" +
                           Entry("U8", "[4]", "[0,4]") + "}";
  EXPECT_EQ(Refusal(FileWith(same, std::string(4, '\0'))),
            "m.safetensors: tensor 'y': data_offsets [0, 4] overlap tensor 'x' at [0, 4]");
}

TEST(SafetensorsMalformedTest, DuplicateTensorName) {
  // A name given twice, also when one spelling is escaped, is an error naming the tensor.
  const std::string twice = R"({"w":)" + Entry("U8", "[4]", "[0,4]") + R"(,"w":)" +
                            Entry("U8", "[4]", "[4,8]") + "}";
  EXPECT_EQ(Refusal(FileWith(twice, std::string(8, '\0'))),
            "m.safetensors: tensor 'w': duplicate name");
  const std::string escaped = R"({"w":)" + Entry("U8", "[4]", "[0,4]") + R"(,"\u0077":)" +
                              Entry("U8", "[4]", "[4,8]") + "}";
  EXPECT_EQ(Refusal(FileWith(escaped, std::string(8, '\0'))),
            "m.safetensors: tensor 'w': duplicate name");
}

TEST(SafetensorsMalformedTest, MetadataNotAnObjectOfStrings) {
  // "__metadata__" must be one object whose values are strings.
  EXPECT_EQ(Refusal(FileWith(R"({"__metadata__":[]})")),
            "m.safetensors: header: '__metadata__' is not an object");
  EXPECT_EQ(Refusal(FileWith(R"({"__metadata__":{"epochs":3}})")),
            "m.safetensors: header: '__metadata__' value of 'epochs' is not a string");
  EXPECT_EQ(Refusal(FileWith(R"({"__metadata__":{"k":"a","k":"b"}})")),
            "m.safetensors: header: '__metadata__' has a duplicate key 'k'");
  EXPECT_EQ(Refusal(FileWith(R"({"__metadata__":{},"__metadata__":{}})")),
            "m.safetensors: header: duplicate '__metadata__'");
}

TEST(SafetensorsMalformedTest, TooManyTensors) {
  // More tensors than max_tensors (metadata does not count).
  SafetensorsLimits limits;
  limits.max_tensors = 2;
  std::string header = R"({"__metadata__":{},"a":)" + Entry("U8", "[0]", "[0,0]") + R"(,"b":)" +
                       Entry("U8", "[0]", "[0,0]") + "}";
  EXPECT_TRUE(SafetensorsFile::Parse(Bytes(FileWith(header)), kSource, limits).ok());
  header.back() = ',';
  header += R"("c":)" + Entry("U8", "[0]", "[0,0]") + "}";
  EXPECT_EQ(Refusal(FileWith(header), limits),
            "m.safetensors: header: 3 tensors exceed the limit of 2");
}

TEST(SafetensorsMalformedTest, HostileNamesAreEscapedAndCut) {
  // A name with a newline cannot forge a log line, and a huge name is cut short.
  const std::string newline = R"({"a\nINFO fake":1})";
  const std::string message = Refusal(FileWith(newline));
  EXPECT_EQ(message, "m.safetensors: tensor 'a\\nINFO fake': entry is not an object");
  EXPECT_THAT(message, Not(HasSubstr("\n")));
  const std::string long_name = "{\"" + std::string(5000, 'x') + "\":1}";
  EXPECT_EQ(Refusal(FileWith(long_name)),
            "m.safetensors: tensor '" + std::string(200, 'x') + "...': entry is not an object");
}

TEST(SafetensorsMalformedTest, EveryTruncationAndByteFlipIsHandled) {
  // Cutting a valid file anywhere is refused cleanly; corrupting any byte never crashes, and
  // what still parses keeps its views inside the input.
  const std::string file = SerializeSafetensors(
      {{"w", DType::kF32, {2, 2}, FloatBytes({1, 2, 3, 4})}, {"b", DType::kI8, {3}, "abc"}},
      {{"k", "v"}});
  for (size_t size = 0; size < file.size(); ++size) {
    EXPECT_THAT(Refusal(file.substr(0, size)), StartsWith("m.safetensors: ")) << size;
  }
  for (size_t i = 0; i < file.size(); ++i) {
    for (unsigned char flip : {0x01, 0x20, 0x80, 0xFF}) {
      std::string corrupt = file;
      corrupt[i] = static_cast<char>(corrupt[i] ^ flip);
      const auto bytes = Bytes(corrupt);
      Result<SafetensorsFile> parsed = SafetensorsFile::Parse(bytes, kSource);
      if (!parsed.ok()) {
        EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
        continue;
      }
      for (const TensorView& view : parsed->tensors()) {
        EXPECT_GE(view.data.data(), bytes.data());
        EXPECT_LE(view.data.data() + view.data.size(), bytes.data() + bytes.size());
      }
    }
  }
}

TEST(SafetensorsWriteTest, RefusesTensorsThatWouldNotReadBack) {
  // WriteSafetensors checks what the reader checks and writes nothing on failure.
  char tmpl[] = "/tmp/sov_safetensors_write.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/m.safetensors";
  const std::vector<std::pair<std::vector<TensorToWrite>, std::string>> cases = {
      {{{"w", DType::kF32, {3}, FloatBytes({1, 2})}},
       "tensor 'w': shape [3] of F32 does not match its 8 bytes"},
      {{{"w", DType::kU8, {1}, "a"}, {"w", DType::kU8, {1}, "b"}}, "tensor 'w': duplicate name"},
      {{{"w", DType::kU8, {-1}, ""}}, "tensor 'w': invalid shape [-1]"},
      {{{"__metadata__", DType::kU8, {1}, "a"}}, "tensor '__metadata__': reserved name"},
      {{{"bad\xFF", DType::kU8, {1}, "a"}}, "tensor 'bad\xEF\xBF\xBD': name is not UTF-8"},
  };
  for (const auto& [tensors, what] : cases) {
    Status status = WriteSafetensors(path, tensors);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(), path + ": " + what);
    EXPECT_FALSE(std::filesystem::exists(path));
  }
  Status status = WriteSafetensors(path, {}, {{"k", "\xC3"}});
  EXPECT_EQ(status.message(), path + ": '__metadata__' entry 'k' is not UTF-8");
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace sov::gpu_eval
