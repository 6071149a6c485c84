// Reads a feed-forward classifier's architecture from safetensors metadata and checks that the
// tensors agree with it (see model.h for the metadata keys).
#include "gpu-eval/model.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <set>
#include <utility>

#include "gpu-eval/internal/half.h"

namespace sov::gpu_eval {
namespace {

constexpr std::string_view kModelKey = "sov.model";
constexpr std::string_view kModelValue = "feedforward-classifier";
constexpr std::string_view kActivationKey = "sov.activation";
constexpr std::string_view kActivationsKey = "sov.activations";
constexpr std::string_view kLayersKey = "sov.layers";
constexpr std::string_view kOutputKey = "sov.output";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> SplitCommas(std::string_view s) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t comma = s.find(',');
    parts.push_back(Trim(s.substr(0, comma)));
    if (comma == std::string_view::npos) return parts;
    s.remove_prefix(comma + 1);
  }
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

bool IsFloatDType(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16;
}

const std::string* FindMetadata(const SafetensorsFile& file, std::string_view key) {
  auto it = file.metadata().find(key);
  return it == file.metadata().end() ? nullptr : &it->second;
}

// The layer prefixes: sov.layers when given, else every `N.weight` with a decimal N in numeric
// order (nn.Sequential numbers its children; ReLU and Dropout hold no tensors, hence the gaps).
Result<std::vector<std::string>> LayerPrefixes(const SafetensorsFile& file) {
  std::vector<std::string> prefixes;
  if (const std::string* layers = FindMetadata(file, kLayersKey)) {
    std::set<std::string_view> seen;
    for (std::string_view prefix : SplitCommas(*layers)) {
      if (prefix.empty() || !seen.insert(prefix).second) {
        return InvalidArgument(file.source() + ": metadata '" + std::string(kLayersKey) +
                               "': empty or repeated layer name in \"" + *layers + "\"");
      }
      prefixes.emplace_back(prefix);
    }
    return prefixes;
  }
  std::vector<std::pair<uint64_t, std::string>> numbered;
  constexpr std::string_view kSuffix = ".weight";
  for (const TensorView& tensor : file.tensors()) {
    std::string_view name = tensor.name;
    if (name.size() <= kSuffix.size() || !name.ends_with(kSuffix)) continue;
    const std::string_view index = name.substr(0, name.size() - kSuffix.size());
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(index.data(), index.data() + index.size(), value);
    if (ec != std::errc() || end != index.data() + index.size()) continue;
    numbered.emplace_back(value, std::string(index));
  }
  if (numbered.empty()) {
    return InvalidArgument(file.source() +
                           ": no layers: expected tensors named 'N.weight' and "
                           "'N.bias' (nn.Sequential), or metadata '" +
                           std::string(kLayersKey) + "' naming the layer prefixes");
  }
  std::sort(numbered.begin(), numbered.end());
  for (auto& [value, name] : numbered) prefixes.push_back(std::move(name));
  return prefixes;
}

// One activation per hidden layer, from sov.activation (all the same) or sov.activations.
Result<std::vector<Activation>> HiddenActivations(const SafetensorsFile& file, size_t hidden) {
  const std::string* single = FindMetadata(file, kActivationKey);
  const std::string* list = FindMetadata(file, kActivationsKey);
  if (single != nullptr && list != nullptr) {
    return InvalidArgument(file.source() + ": metadata has both '" + std::string(kActivationKey) +
                           "' and '" + std::string(kActivationsKey) + "'; give one");
  }
  std::vector<Activation> activations;
  if (list != nullptr) {
    const std::vector<std::string_view> names = SplitCommas(*list);
    if (names.size() != hidden) {
      return InvalidArgument(file.source() + ": metadata '" + std::string(kActivationsKey) +
                             "' names " + std::to_string(names.size()) +
                             " activations but the model has " + std::to_string(hidden) +
                             " hidden layers");
    }
    for (std::string_view name : names) {
      Result<Activation> a = ParseActivation(name);
      if (!a.ok()) {
        return a.status().WithContext(file.source() + ": metadata '" +
                                      std::string(kActivationsKey) + "'");
      }
      activations.push_back(*a);
    }
    return activations;
  }
  if (single == nullptr) {
    if (hidden == 0) return activations;
    return InvalidArgument(file.source() + ": metadata key '" + std::string(kActivationKey) +
                           "' (or '" + std::string(kActivationsKey) +
                           "') is missing: the hidden layers' activation is unknown");
  }
  Result<Activation> a = ParseActivation(Trim(*single));
  if (!a.ok()) {
    return a.status().WithContext(file.source() + ": metadata '" + std::string(kActivationKey) +
                                  "'");
  }
  activations.assign(hidden, *a);
  return activations;
}

Status CheckHead(const SafetensorsFile& file) {
  const std::string* model = FindMetadata(file, kModelKey);
  if (model == nullptr) {
    return InvalidArgument(file.source() + ": metadata key '" + std::string(kModelKey) +
                           "' is missing (expected \"" + std::string(kModelValue) + "\")");
  }
  if (*model != kModelValue) {
    return InvalidArgument(file.source() + ": metadata '" + std::string(kModelKey) + "' is \"" +
                           *model + "\"; only \"" + std::string(kModelValue) + "\" is supported");
  }
  const std::string* output = FindMetadata(file, kOutputKey);
  if (output != nullptr && *output != "softmax") {
    return InvalidArgument(file.source() + ": metadata '" + std::string(kOutputKey) + "' is \"" +
                           *output + "\"; only \"softmax\" is supported");
  }
  return OkStatus();
}

// Finds and checks layer `prefix`'s weight and bias; `previous_out` is -1 for the first layer.
Result<DenseLayer> ReadLayer(const SafetensorsFile& file, const std::string& prefix,
                             int64_t previous_out, DType expected_dtype) {
  const std::string where = file.source() + ": layer '" + prefix + "': ";
  DenseLayer layer;
  layer.name = prefix;
  const std::string weight_name = prefix + ".weight";
  const std::string bias_name = prefix + ".bias";
  layer.weight = file.Find(weight_name);
  if (layer.weight == nullptr) {
    return InvalidArgument(where + "tensor '" + weight_name + "' is missing");
  }
  const TensorView& w = *layer.weight;
  if (!IsFloatDType(w.dtype)) {
    return InvalidArgument(where + "tensor '" + weight_name + "' has dtype " +
                           std::string(DTypeName(w.dtype)) + "; expected F32, F16 or BF16");
  }
  if (w.dtype != expected_dtype) {
    return InvalidArgument(where + "tensor '" + weight_name + "' has dtype " +
                           std::string(DTypeName(w.dtype)) + " but the first layer's is " +
                           std::string(DTypeName(expected_dtype)) +
                           "; all layers must have the same dtype");
  }
  if (w.shape.size() != 2 || w.shape[0] < 1 || w.shape[1] < 1) {
    return InvalidArgument(where + "tensor '" + weight_name + "' has shape " +
                           ShapeString(w.shape) + "; expected [out, in] with out, in >= 1");
  }
  layer.out = w.shape[0];
  layer.in = w.shape[1];
  if (previous_out >= 0 && layer.in != previous_out) {
    return InvalidArgument(where + "tensor '" + weight_name + "' has shape " +
                           ShapeString(w.shape) + ": its input size " + std::to_string(layer.in) +
                           " does not match the previous layer's output size " +
                           std::to_string(previous_out));
  }
  layer.bias = file.Find(bias_name);
  if (layer.bias == nullptr) {
    return InvalidArgument(where + "tensor '" + bias_name + "' is missing (a bias is required)");
  }
  const TensorView& b = *layer.bias;
  if (b.dtype != expected_dtype) {
    return InvalidArgument(where + "tensor '" + bias_name + "' has dtype " +
                           std::string(DTypeName(b.dtype)) + " but the weights are " +
                           std::string(DTypeName(expected_dtype)));
  }
  if (b.shape.size() != 1 || b.shape[0] != layer.out) {
    return InvalidArgument(where + "tensor '" + bias_name + "' has shape " + ShapeString(b.shape) +
                           "; expected [" + std::to_string(layer.out) + "]");
  }
  return layer;
}

// A tensor outside the layers (a BatchNorm's statistics, say) would be silently ignored and the
// model evaluated wrongly, so it is an error.
Status CheckNoStrayTensors(const SafetensorsFile& file, const std::vector<DenseLayer>& layers) {
  std::set<std::string_view> used;
  for (const DenseLayer& layer : layers) {
    used.insert(layer.weight->name);
    used.insert(layer.bias->name);
  }
  for (const TensorView& tensor : file.tensors()) {
    if (!used.contains(tensor.name)) {
      return InvalidArgument(file.source() + ": tensor '" + tensor.name +
                             "' belongs to no dense layer; only Linear layers (weight and bias) "
                             "are supported");
    }
  }
  return OkStatus();
}

}  // namespace

std::string_view ActivationName(Activation a) {
  switch (a) {
    case Activation::kIdentity:
      return "identity";
    case Activation::kRelu:
      return "relu";
    case Activation::kGelu:
      return "gelu";
    case Activation::kTanh:
      return "tanh";
    case Activation::kSigmoid:
      return "sigmoid";
  }
  return "unknown";
}

Result<Activation> ParseActivation(std::string_view name) {
  for (Activation a : {Activation::kIdentity, Activation::kRelu, Activation::kGelu,
                       Activation::kTanh, Activation::kSigmoid}) {
    if (name == ActivationName(a)) return a;
  }
  return InvalidArgument("unknown activation \"" + std::string(name) +
                         "\" (expected relu, gelu, tanh, sigmoid or identity)");
}

int64_t Model::parameters() const {
  int64_t total = 0;
  for (const DenseLayer& layer : layers) total += layer.out * layer.in + layer.out;
  return total;
}

int64_t Model::macs_per_sample() const {
  int64_t total = 0;
  for (const DenseLayer& layer : layers) total += layer.out * layer.in;
  return total;
}

Result<Model> LoadModel(std::shared_ptr<const SafetensorsFile> file) {
  if (file == nullptr) return InvalidArgument("LoadModel: no file");
  SOV_RETURN_IF_ERROR(CheckHead(*file));
  SOV_ASSIGN_OR_RETURN(std::vector<std::string> prefixes, LayerPrefixes(*file));

  Model model;
  const TensorView* first_weight = file->Find(prefixes.front() + ".weight");
  if (first_weight != nullptr && IsFloatDType(first_weight->dtype)) {
    model.weight_dtype = first_weight->dtype;
  }
  int64_t previous_out = -1;
  for (const std::string& prefix : prefixes) {
    SOV_ASSIGN_OR_RETURN(DenseLayer layer,
                         ReadLayer(*file, prefix, previous_out, model.weight_dtype));
    previous_out = layer.out;
    model.layers.push_back(std::move(layer));
  }
  SOV_RETURN_IF_ERROR(CheckNoStrayTensors(*file, model.layers));

  SOV_ASSIGN_OR_RETURN(std::vector<Activation> activations,
                       HiddenActivations(*file, model.layers.size() - 1));
  for (size_t i = 0; i < activations.size(); ++i) model.layers[i].activation = activations[i];

  model.input_dim = model.layers.front().in;
  model.num_classes = model.layers.back().out;
  if (model.num_classes < 2) {
    return InvalidArgument(file->source() + ": layer '" + model.layers.back().name +
                           "': the last layer has " + std::to_string(model.num_classes) +
                           " output; a classifier needs at least 2 classes (a binary model "
                           "exports two logits)");
  }
  model.file = std::move(file);
  return model;
}

Result<Model> OpenModel(const std::string& path) {
  SOV_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
  return LoadModel(std::make_shared<const SafetensorsFile>(std::move(file)));
}

std::vector<float> ToFloat32(const TensorView& tensor) {
  const size_t n = static_cast<size_t>(tensor.elements());
  std::vector<float> out(n);
  const std::byte* src = tensor.data.data();
  switch (tensor.dtype) {
    case DType::kF32:
      if (n > 0) std::memcpy(out.data(), src, n * sizeof(float));
      break;
    case DType::kF16:
    case DType::kBF16: {
      const bool f16 = tensor.dtype == DType::kF16;
      for (size_t i = 0; i < n; ++i) {
        uint16_t bits;
        std::memcpy(&bits, src + 2 * i, sizeof(bits));
        out[i] = f16 ? internal::F16ToF32(bits) : internal::BF16ToF32(bits);
      }
      break;
    }
    default:
      // Callers convert only tensors that LoadModel/LoadDataset checked to be F32, F16 or BF16.
      assert(false && "ToFloat32 of a non-float tensor");
      out.clear();
  }
  return out;
}

}  // namespace sov::gpu_eval
