// A feed-forward classifier as PyTorch saves an nn.Sequential of Linear layers, read from a
// safetensors file: tensors `N.weight` [out, in] and `N.bias` [out] for each Linear layer N,
// the architecture in `__metadata__` (keys documented in docs/models.md):
//
//   sov.model        "feedforward-classifier"            required
//   sov.activation   relu | gelu | tanh | sigmoid | identity, after every layer but the last
//   sov.activations  one per hidden layer, comma-separated (instead of sov.activation)
//   sov.layers       the layer prefixes in order, e.g. "0,2,4" or "net.0,net.2"; default: every
//                    tensor named `N.weight` with a decimal N, in numeric order
//   sov.output       softmax (the only head; a binary model exports two logits)
//
// Weights are F32, F16 or BF16, all layers the same dtype. Shapes must chain (layer k's `in` is
// layer k-1's `out`); a bias is required. Errors name the file, the layer and the key.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "gpu-eval/safetensors.h"

namespace sov::gpu_eval {

enum class Activation { kIdentity, kRelu, kGelu, kTanh, kSigmoid };

// "relu" for kRelu, and so on; gelu is the exact (erf) form, torch.nn.GELU's default.
std::string_view ActivationName(Activation a);
Result<Activation> ParseActivation(std::string_view name);

struct DenseLayer {
  std::string name;              // the prefix, e.g. "0"
  int64_t in = 0;
  int64_t out = 0;
  const TensorView* weight = nullptr;  // [out, in], row-major, into the model's file
  const TensorView* bias = nullptr;    // [out]
  Activation activation = Activation::kIdentity;  // applied after this layer; identity for the last
};

struct Model {
  std::shared_ptr<const SafetensorsFile> file;  // keeps the views alive
  std::vector<DenseLayer> layers;               // at least one
  DType weight_dtype = DType::kF32;
  int64_t input_dim = 0;
  int64_t num_classes = 0;  // the last layer's out, at least 2

  // Weight and bias elements over all layers, and the multiply-adds of one sample's forward pass.
  int64_t parameters() const;
  int64_t macs_per_sample() const;
};

// Reads the architecture from an opened file. INVALID_ARGUMENT naming what is wrong.
Result<Model> LoadModel(std::shared_ptr<const SafetensorsFile> file);
// Open + LoadModel.
Result<Model> OpenModel(const std::string& path);

// A layer's weights or bias as F32 (converted from F16/BF16; copied either way, so that the
// result is aligned whatever the file's offsets).
std::vector<float> ToFloat32(const TensorView& tensor);

}  // namespace sov::gpu_eval
