// Shows that datasets load with F32/F16/BF16 features and labels/groups of any integer dtype,
// that groups are renumbered by sorted value, and that every malformed or incompatible dataset
// is refused naming the file, the tensor and (for values) the row.
#include "gpu-eval/dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <limits>
#include <string>
#include <vector>

#include "gpu-eval/internal/half.h"
#include "gpu-eval/safetensors.h"

namespace sov::gpu_eval {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

template <typename T>
std::string Bytes(const std::vector<T>& values) {
  std::string bytes(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

TensorToWrite Features(int64_t rows, int64_t cols, DType dtype = DType::kF32) {
  std::vector<float> values(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.25f * static_cast<float>(i) - 1.0f;
  std::string bytes;
  if (dtype == DType::kF32) {
    bytes = Bytes(values);
  } else {
    std::vector<uint16_t> half;
    for (float v : values) {
      half.push_back(dtype == DType::kF16 ? internal::F32ToF16(v) : internal::F32ToBF16(v));
    }
    bytes = Bytes(half);
  }
  return TensorToWrite{"features", dtype, {rows, cols}, bytes};
}

TensorToWrite Labels(const std::vector<int64_t>& labels) {
  return TensorToWrite{"labels", DType::kI64, {static_cast<int64_t>(labels.size())}, Bytes(labels)};
}

class DatasetTest : public ::testing::Test {
 protected:
  Result<Dataset> Load(const std::vector<TensorToWrite>& tensors) {
    buffers_.push_back(SerializeSafetensors(tensors));
    const std::string& bytes = buffers_.back();
    Result<SafetensorsFile> file = SafetensorsFile::Parse(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()),
        "data.safetensors");
    if (!file.ok()) return file.status();
    return LoadDataset(*file);
  }

  void ExpectInvalid(const Result<Dataset>& dataset, std::vector<std::string> parts) {
    ASSERT_FALSE(dataset.ok());
    EXPECT_EQ(dataset.status().code(), StatusCode::kInvalidArgument) << dataset.status().ToString();
    EXPECT_THAT(dataset.status().message(), HasSubstr("data.safetensors"));
    for (const std::string& part : parts) EXPECT_THAT(dataset.status().message(), HasSubstr(part));
  }

  std::deque<std::string> buffers_;
};

TEST_F(DatasetTest, LoadsF32FeaturesAndI64Labels) {
  Result<Dataset> dataset = Load({Features(3, 2), Labels({0, 2, 1})});
  ASSERT_TRUE(dataset.ok()) << dataset.status().ToString();
  EXPECT_EQ(dataset->source, "data.safetensors");
  EXPECT_EQ(dataset->rows, 3);
  EXPECT_EQ(dataset->cols, 2);
  EXPECT_EQ(dataset->feature_dtype, DType::kF32);
  EXPECT_THAT(dataset->features, ElementsAre(-1.0f, -0.75f, -0.5f, -0.25f, 0.0f, 0.25f));
  EXPECT_THAT(dataset->labels, ElementsAre(0, 2, 1));
  EXPECT_TRUE(dataset->group_of_row.empty());
  EXPECT_EQ(dataset->groups(), 1);
}

TEST_F(DatasetTest, ConvertsHalfFeatures) {
  // Multiples of 0.25 in [-1, 0.25] are exact in F16 and BF16.
  for (DType dtype : {DType::kF16, DType::kBF16}) {
    Result<Dataset> dataset = Load({Features(2, 3, dtype), Labels({1, 0})});
    ASSERT_TRUE(dataset.ok()) << dataset.status().ToString();
    EXPECT_EQ(dataset->feature_dtype, dtype);
    EXPECT_THAT(dataset->features, ElementsAre(-1.0f, -0.75f, -0.5f, -0.25f, 0.0f, 0.25f));
  }
}

template <typename T>
TensorToWrite IntColumn(const std::string& name, DType dtype, const std::vector<T>& values) {
  return TensorToWrite{name, dtype, {static_cast<int64_t>(values.size())}, Bytes(values)};
}

TEST_F(DatasetTest, LabelsOfEveryIntegerDtype) {
  const std::vector<TensorToWrite> columns = {
      IntColumn<int8_t>("labels", DType::kI8, {3, 0, 1}),
      IntColumn<int16_t>("labels", DType::kI16, {3, 0, 1}),
      IntColumn<int32_t>("labels", DType::kI32, {3, 0, 1}),
      IntColumn<int64_t>("labels", DType::kI64, {3, 0, 1}),
      IntColumn<uint8_t>("labels", DType::kU8, {3, 0, 1}),
      IntColumn<uint16_t>("labels", DType::kU16, {3, 0, 1}),
      IntColumn<uint32_t>("labels", DType::kU32, {3, 0, 1}),
      IntColumn<uint64_t>("labels", DType::kU64, {3, 0, 1}),
  };
  for (const TensorToWrite& labels : columns) {
    Result<Dataset> dataset = Load({Features(3, 1), labels});
    ASSERT_TRUE(dataset.ok()) << DTypeName(labels.dtype) << ": " << dataset.status().ToString();
    EXPECT_THAT(dataset->labels, ElementsAre(3, 0, 1)) << DTypeName(labels.dtype);
  }
}

TEST_F(DatasetTest, NegativeSignedLabelsLoadButAreIncompatible) {
  Result<Dataset> dataset =
      Load({Features(2, 1), IntColumn<int8_t>("labels", DType::kI8, {0, -1})});
  ASSERT_TRUE(dataset.ok());
  EXPECT_EQ(dataset->labels[1], -1);
  const Status status = CheckCompatible(*dataset, 1, 2);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("row 1"));
}

TEST_F(DatasetTest, LabelOutsideInt32) {
  ExpectInvalid(Load({Features(2, 1), Labels({0, int64_t{1} << 31})}),
                {"'labels'", "row 1", "int32"});
  ExpectInvalid(
      Load({Features(2, 1), IntColumn<uint64_t>("labels", DType::kU64, {0, ~uint64_t{0}})}),
      {"'labels'", "row 1"});
}

TEST_F(DatasetTest, GroupsAreRenumberedBySortedValue) {
  Result<Dataset> dataset = Load({Features(5, 1), Labels({0, 0, 0, 0, 0}),
                                  IntColumn<int16_t>("groups", DType::kI16, {30, -5, 30, 7, -5})});
  ASSERT_TRUE(dataset.ok()) << dataset.status().ToString();
  EXPECT_THAT(dataset->group_values, ElementsAre(-5, 7, 30));
  EXPECT_THAT(dataset->group_of_row, ElementsAre(2, 0, 2, 1, 0));
  EXPECT_EQ(dataset->groups(), 3);
}

TEST_F(DatasetTest, U64GroupsPastInt64) {
  ExpectInvalid(Load({Features(1, 1), Labels({0}),
                      IntColumn<uint64_t>("groups", DType::kU64, {~uint64_t{0}})}),
                {"'groups'", "row 0"});
}

TEST_F(DatasetTest, MissingTensors) {
  ExpectInvalid(Load({Labels({0})}), {"'features'", "missing"});
  ExpectInvalid(Load({Features(1, 1)}), {"'labels'", "missing"});
}

TEST_F(DatasetTest, WrongFeatureShapeOrDtype) {
  ExpectInvalid(Load({TensorToWrite{"features", DType::kF32, {4}, std::string(16, '\0')},
                      Labels({0, 0, 0, 0})}),
                {"'features'", "[N, D]"});
  ExpectInvalid(Load({TensorToWrite{"features", DType::kF32, {0, 3}, ""}, Labels({})}),
                {"'features'", "[N, D]"});
  ExpectInvalid(
      Load({TensorToWrite{"features", DType::kI32, {1, 1}, std::string(4, '\0')}, Labels({0})}),
      {"'features'", "I32"});
  ExpectInvalid(
      Load({TensorToWrite{"features", DType::kF64, {1, 1}, std::string(8, '\0')}, Labels({0})}),
      {"'features'", "F64"});
}

TEST_F(DatasetTest, WrongLabelShapeOrDtype) {
  ExpectInvalid(Load({Features(3, 1), Labels({0, 1})}), {"'labels'", "[3]"});
  ExpectInvalid(
      Load({Features(1, 1), TensorToWrite{"labels", DType::kF32, {1}, std::string(4, '\0')}}),
      {"'labels'", "F32"});
  ExpectInvalid(
      Load({Features(2, 1), TensorToWrite{"labels", DType::kI64, {1, 2}, std::string(16, '\0')}}),
      {"'labels'", "[2]"});
}

TEST_F(DatasetTest, WrongGroupsShape) {
  ExpectInvalid(
      Load({Features(2, 1), Labels({0, 1}), IntColumn<int32_t>("groups", DType::kI32, {1, 2, 3})}),
      {"'groups'", "[2]"});
}

TEST_F(DatasetTest, CheckCompatibleNamesFirstOffendingRow) {
  Result<Dataset> dataset = Load({Features(4, 2), Labels({0, 1, 5, 7})});
  ASSERT_TRUE(dataset.ok());
  EXPECT_TRUE(CheckCompatible(*dataset, 2, 8).ok());
  const Status labels = CheckCompatible(*dataset, 2, 5);
  EXPECT_EQ(labels.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(labels.message(), HasSubstr("data.safetensors"));
  EXPECT_THAT(labels.message(), HasSubstr("row 2"));
  EXPECT_THAT(labels.message(), HasSubstr("label 5"));
  const Status cols = CheckCompatible(*dataset, 3, 8);
  EXPECT_EQ(cols.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(cols.message(), HasSubstr("2 columns"));
  EXPECT_THAT(cols.message(), HasSubstr("3 inputs"));
}

TEST_F(DatasetTest, OpenDatasetReadsAFile) {
  const std::string path = ::testing::TempDir() + "/dataset_test_open.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, {Features(2, 2), Labels({1, 0})}).ok());
  Result<Dataset> dataset = OpenDataset(path);
  ASSERT_TRUE(dataset.ok()) << dataset.status().ToString();
  EXPECT_EQ(dataset->source, path);
  EXPECT_THAT(dataset->labels, ElementsAre(1, 0));
  EXPECT_EQ(OpenDataset(path + ".absent").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace sov::gpu_eval
