// A validation dataset read from a safetensors file:
//   features [N, D]  F32, F16 or BF16
//   labels   [N]     any integer dtype; class indices 0..C-1 of the model being validated
//   groups   [N]     optional, any integer dtype: a protected attribute for fairness metrics
// Features are converted to F32 once (the file may be F16/BF16, or F32 at an unaligned offset);
// groups are renumbered 0..G-1 in the order of their sorted distinct values.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "gpu-eval/safetensors.h"

namespace sov::gpu_eval {

struct Dataset {
  std::string source;             // the file, for messages
  int64_t rows = 0;               // N >= 1
  int64_t cols = 0;               // D >= 1
  DType feature_dtype = DType::kF32;  // as stored in the file
  std::vector<float> features;    // [rows * cols], row-major
  std::vector<int32_t> labels;    // [rows]
  std::vector<int32_t> group_of_row;  // [rows] in 0..G-1; empty when the file has no groups
  std::vector<int64_t> group_values;  // G original values, sorted; group k is group_values[k]

  int64_t groups() const { return group_values.empty() ? 1 : static_cast<int64_t>(group_values.size()); }
};

// INVALID_ARGUMENT naming the file and tensor for a missing tensor, a wrong rank or dtype,
// mismatched row counts, or a label outside int32.
Result<Dataset> LoadDataset(const SafetensorsFile& file);
Result<Dataset> OpenDataset(const std::string& path);

// INVALID_ARGUMENT unless the dataset fits the model: cols == input_dim and every label in
// [0, num_classes). Names the first offending row.
Status CheckCompatible(const Dataset& dataset, int64_t input_dim, int64_t num_classes);

}  // namespace sov::gpu_eval
