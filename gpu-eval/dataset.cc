// Loads a validation dataset (features, labels, optional groups) from safetensors into plain
// host vectors, checking every tensor's dtype and shape and every integer's range.
#include "gpu-eval/dataset.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "gpu-eval/model.h"

namespace sov::gpu_eval {
namespace {

bool IsIntegerDType(DType dtype) {
  switch (dtype) {
    case DType::kI8:
    case DType::kI16:
    case DType::kI32:
    case DType::kI64:
    case DType::kU8:
    case DType::kU16:
    case DType::kU32:
    case DType::kU64:
      return true;
    default:
      return false;
  }
}

template <typename T>
T LoadElement(const std::byte* data, size_t i) {
  T value;
  std::memcpy(&value, data + i * sizeof(T), sizeof(T));  // the file's offsets need not be aligned
  return value;
}

// Reads element i of an integer tensor; false when a U64 value exceeds int64.
bool IntegerAt(const TensorView& tensor, size_t i, int64_t* value) {
  const std::byte* d = tensor.data.data();
  switch (tensor.dtype) {
    case DType::kI8:
      *value = LoadElement<int8_t>(d, i);
      return true;
    case DType::kI16:
      *value = LoadElement<int16_t>(d, i);
      return true;
    case DType::kI32:
      *value = LoadElement<int32_t>(d, i);
      return true;
    case DType::kI64:
      *value = LoadElement<int64_t>(d, i);
      return true;
    case DType::kU8:
      *value = LoadElement<uint8_t>(d, i);
      return true;
    case DType::kU16:
      *value = LoadElement<uint16_t>(d, i);
      return true;
    case DType::kU32:
      *value = LoadElement<uint32_t>(d, i);
      return true;
    case DType::kU64: {
      const uint64_t u = LoadElement<uint64_t>(d, i);
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
      *value = static_cast<int64_t>(u);
      return true;
    }
    default:
      return false;
  }
}

std::string Where(const SafetensorsFile& file, std::string_view tensor) {
  return file.source() + ": tensor '" + std::string(tensor) + "': ";
}

// Finds a rank-1 integer tensor of `rows` elements; nullptr (and OK) when optional and absent.
Result<const TensorView*> FindIntegerColumn(const SafetensorsFile& file, std::string_view name,
                                            int64_t rows, bool required) {
  const TensorView* tensor = file.Find(name);
  if (tensor == nullptr) {
    if (!required) return static_cast<const TensorView*>(nullptr);
    return InvalidArgument(file.source() + ": tensor '" + std::string(name) + "' is missing");
  }
  if (!IsIntegerDType(tensor->dtype)) {
    return InvalidArgument(Where(file, name) + "dtype " + std::string(DTypeName(tensor->dtype)) +
                           " is not an integer dtype (I8..I64, U8..U64)");
  }
  if (tensor->shape.size() != 1 || tensor->shape[0] != rows) {
    return InvalidArgument(Where(file, name) + "expected shape [" + std::to_string(rows) +
                           "] (one per row of 'features'), got rank " +
                           std::to_string(tensor->shape.size()) + " with " +
                           std::to_string(tensor->elements()) + " elements");
  }
  return tensor;
}

Status ReadFeatures(const SafetensorsFile& file, Dataset& dataset) {
  const TensorView* features = file.Find("features");
  if (features == nullptr) return InvalidArgument(file.source() + ": tensor 'features' is missing");
  if (features->dtype != DType::kF32 && features->dtype != DType::kF16 &&
      features->dtype != DType::kBF16) {
    return InvalidArgument(Where(file, "features") + "dtype " +
                           std::string(DTypeName(features->dtype)) + "; expected F32, F16 or BF16");
  }
  if (features->shape.size() != 2 || features->shape[0] < 1 || features->shape[1] < 1) {
    return InvalidArgument(Where(file, "features") + "expected shape [N, D] with N, D >= 1");
  }
  dataset.rows = features->shape[0];
  dataset.cols = features->shape[1];
  dataset.feature_dtype = features->dtype;
  dataset.features = ToFloat32(*features);
  return OkStatus();
}

Status ReadLabels(const SafetensorsFile& file, Dataset& dataset) {
  SOV_ASSIGN_OR_RETURN(const TensorView* labels,
                       FindIntegerColumn(file, "labels", dataset.rows, /*required=*/true));
  dataset.labels.resize(static_cast<size_t>(dataset.rows));
  for (size_t i = 0; i < dataset.labels.size(); ++i) {
    int64_t value = 0;
    if (!IntegerAt(*labels, i, &value) || value < std::numeric_limits<int32_t>::min() ||
        value > std::numeric_limits<int32_t>::max()) {
      return InvalidArgument(Where(file, "labels") + "row " + std::to_string(i) +
                             ": the label does not fit in int32");
    }
    dataset.labels[i] = static_cast<int32_t>(value);
  }
  return OkStatus();
}

Status ReadGroups(const SafetensorsFile& file, Dataset& dataset) {
  SOV_ASSIGN_OR_RETURN(const TensorView* groups,
                       FindIntegerColumn(file, "groups", dataset.rows, /*required=*/false));
  if (groups == nullptr) return OkStatus();
  std::vector<int64_t> values(static_cast<size_t>(dataset.rows));
  for (size_t i = 0; i < values.size(); ++i) {
    if (!IntegerAt(*groups, i, &values[i])) {
      return InvalidArgument(Where(file, "groups") + "row " + std::to_string(i) +
                             ": the value does not fit in int64");
    }
  }
  dataset.group_values = values;
  std::sort(dataset.group_values.begin(), dataset.group_values.end());
  dataset.group_values.erase(std::unique(dataset.group_values.begin(), dataset.group_values.end()),
                             dataset.group_values.end());
  dataset.group_of_row.resize(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    auto it = std::lower_bound(dataset.group_values.begin(), dataset.group_values.end(), values[i]);
    dataset.group_of_row[i] = static_cast<int32_t>(it - dataset.group_values.begin());
  }
  return OkStatus();
}

}  // namespace

Result<Dataset> LoadDataset(const SafetensorsFile& file) {
  Dataset dataset;
  dataset.source = file.source();
  SOV_RETURN_IF_ERROR(ReadFeatures(file, dataset));
  SOV_RETURN_IF_ERROR(ReadLabels(file, dataset));
  SOV_RETURN_IF_ERROR(ReadGroups(file, dataset));
  return dataset;
}

Result<Dataset> OpenDataset(const std::string& path) {
  SOV_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
  return LoadDataset(file);
}

Status CheckCompatible(const Dataset& dataset, int64_t input_dim, int64_t num_classes) {
  if (dataset.cols != input_dim) {
    return InvalidArgument(dataset.source + ": tensor 'features' has " +
                           std::to_string(dataset.cols) + " columns but the model takes " +
                           std::to_string(input_dim) + " inputs");
  }
  for (size_t i = 0; i < dataset.labels.size(); ++i) {
    const int32_t label = dataset.labels[i];
    if (label < 0 || label >= num_classes) {
      return InvalidArgument(dataset.source + ": tensor 'labels': row " + std::to_string(i) +
                             " has label " + std::to_string(label) + ", outside the model's " +
                             std::to_string(num_classes) + " classes [0, " +
                             std::to_string(num_classes) + ")");
    }
  }
  return OkStatus();
}

}  // namespace sov::gpu_eval
