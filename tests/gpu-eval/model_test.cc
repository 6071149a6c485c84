// Shows that models load from the nn.Sequential layouts PyTorch writes, that every malformed
// architecture is refused with a message naming the file, the layer and the key, and that the
// F16/BF16 conversions (internal/half.h) are exact and round to nearest even.
#include "gpu-eval/model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "gpu-eval/internal/half.h"
#include "gpu-eval/safetensors.h"

namespace sov::gpu_eval {
namespace {

using internal::BF16ToF32;
using internal::F16ToF32;
using internal::F32ToBF16;
using internal::F32ToF16;
using ::testing::HasSubstr;

// Encodes `values` as `dtype` (F32, F16 or BF16) little-endian bytes.
std::string Encode(const std::vector<float>& values, DType dtype) {
  std::string bytes;
  for (float v : values) {
    if (dtype == DType::kF32) {
      bytes.append(reinterpret_cast<const char*>(&v), sizeof(v));
    } else {
      const uint16_t h = dtype == DType::kF16 ? F32ToF16(v) : F32ToBF16(v);
      bytes.append(reinterpret_cast<const char*>(&h), sizeof(h));
    }
  }
  return bytes;
}

TensorToWrite Tensor(const std::string& name, std::vector<int64_t> shape,
                     DType dtype = DType::kF32) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<float> values(static_cast<size_t>(n));
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.01f * static_cast<float>(i % 17) - 0.05f;
  return TensorToWrite{name, dtype, std::move(shape), Encode(values, dtype)};
}

// Layer `prefix`: weight [out, in] and bias [out].
void AddLayer(std::vector<TensorToWrite>& tensors, const std::string& prefix, int64_t in,
              int64_t out, DType dtype = DType::kF32) {
  tensors.push_back(Tensor(prefix + ".weight", {out, in}, dtype));
  tensors.push_back(Tensor(prefix + ".bias", {out}, dtype));
}

class ModelTest : public ::testing::Test {
 protected:
  // Serializes and loads; the bytes are kept alive by the fixture, as Parse requires.
  Result<Model> Load(const std::vector<TensorToWrite>& tensors,
                     const std::map<std::string, std::string>& metadata) {
    buffers_.push_back(SerializeSafetensors(tensors, metadata));
    const std::string& bytes = buffers_.back();
    Result<SafetensorsFile> file = SafetensorsFile::Parse(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()),
        "model.safetensors");
    if (!file.ok()) return file.status();
    return LoadModel(std::make_shared<const SafetensorsFile>(std::move(file).value()));
  }

  // A valid 784-64-32-10 nn.Sequential(Linear, ReLU, Linear, ReLU, Linear).
  static std::vector<TensorToWrite> Sequential(DType dtype = DType::kF32) {
    std::vector<TensorToWrite> tensors;
    AddLayer(tensors, "0", 784, 64, dtype);
    AddLayer(tensors, "2", 64, 32, dtype);
    AddLayer(tensors, "4", 32, 10, dtype);
    return tensors;
  }

  static std::map<std::string, std::string> Metadata(std::string activation = "relu") {
    return {{"sov.model", "feedforward-classifier"}, {"sov.activation", std::move(activation)}};
  }

  // Expects INVALID_ARGUMENT whose message contains the file name and every one of `parts`.
  void ExpectInvalid(const Result<Model>& model, std::vector<std::string> parts) {
    ASSERT_FALSE(model.ok());
    EXPECT_EQ(model.status().code(), StatusCode::kInvalidArgument) << model.status().ToString();
    EXPECT_THAT(model.status().message(), HasSubstr("model.safetensors"));
    for (const std::string& part : parts) EXPECT_THAT(model.status().message(), HasSubstr(part));
  }

  std::deque<std::string> buffers_;
};

TEST_F(ModelTest, LoadsSequentialLayout024) {
  // The layout torch writes for Sequential(Linear, ReLU, Linear, ReLU, Linear).
  Result<Model> model = Load(Sequential(), Metadata());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  ASSERT_EQ(model->layers.size(), 3u);
  EXPECT_EQ(model->layers[0].name, "0");
  EXPECT_EQ(model->layers[1].name, "2");
  EXPECT_EQ(model->layers[2].name, "4");
  EXPECT_EQ(model->layers[0].in, 784);
  EXPECT_EQ(model->layers[0].out, 64);
  EXPECT_EQ(model->layers[2].out, 10);
  EXPECT_EQ(model->layers[0].activation, Activation::kRelu);
  EXPECT_EQ(model->layers[1].activation, Activation::kRelu);
  EXPECT_EQ(model->layers[2].activation, Activation::kIdentity);
  EXPECT_EQ(model->input_dim, 784);
  EXPECT_EQ(model->num_classes, 10);
  EXPECT_EQ(model->weight_dtype, DType::kF32);
  EXPECT_EQ(model->parameters(), 784 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10);
  EXPECT_EQ(model->macs_per_sample(), 784 * 64 + 64 * 32 + 32 * 10);
  EXPECT_EQ(model->layers[0].weight->name, "0.weight");
  EXPECT_EQ(model->layers[2].bias->name, "4.bias");
}

TEST_F(ModelTest, OrdersDefaultLayersNumerically) {
  // "10" must come after "2", which a string sort would get wrong.
  std::vector<TensorToWrite> tensors;
  AddLayer(tensors, "10", 8, 3);
  AddLayer(tensors, "2", 5, 8);
  Result<Model> model = Load(tensors, Metadata("tanh"));
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(model->layers[0].name, "2");
  EXPECT_EQ(model->layers[1].name, "10");
  EXPECT_EQ(model->layers[0].activation, Activation::kTanh);
}

TEST_F(ModelTest, SingleLayerNeedsNoActivation) {
  // Logistic regression: one Linear layer, so no hidden activation to declare.
  std::vector<TensorToWrite> tensors;
  AddLayer(tensors, "0", 4, 2);
  Result<Model> model = Load(tensors, {{"sov.model", "feedforward-classifier"}});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(model->layers.size(), 1u);
  EXPECT_EQ(model->num_classes, 2);
}

TEST_F(ModelTest, SovLayersNamesPrefixes) {
  // A Sequential nested in a module: prefixes "net.0", "net.2" named in sov.layers.
  std::vector<TensorToWrite> tensors;
  AddLayer(tensors, "net.2", 16, 3);
  AddLayer(tensors, "net.0", 6, 16);
  auto metadata = Metadata("gelu");
  metadata["sov.layers"] = "net.0, net.2";
  metadata["sov.output"] = "softmax";
  Result<Model> model = Load(tensors, metadata);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  ASSERT_EQ(model->layers.size(), 2u);
  EXPECT_EQ(model->layers[0].name, "net.0");
  EXPECT_EQ(model->layers[0].activation, Activation::kGelu);
  EXPECT_EQ(model->input_dim, 6);
}

TEST_F(ModelTest, SovActivationsGivesOnePerHiddenLayer) {
  auto metadata = std::map<std::string, std::string>{{"sov.model", "feedforward-classifier"},
                                                     {"sov.activations", "sigmoid,identity"}};
  Result<Model> model = Load(Sequential(), metadata);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(model->layers[0].activation, Activation::kSigmoid);
  EXPECT_EQ(model->layers[1].activation, Activation::kIdentity);
  EXPECT_EQ(model->layers[2].activation, Activation::kIdentity);
}

TEST_F(ModelTest, HalfPrecisionWeights) {
  // F16 and BF16 models load with their dtype recorded and convert to the values written.
  for (DType dtype : {DType::kF16, DType::kBF16}) {
    Result<Model> model = Load(Sequential(dtype), Metadata());
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    EXPECT_EQ(model->weight_dtype, dtype);
    const std::vector<float> w = ToFloat32(*model->layers[1].weight);
    ASSERT_EQ(w.size(), 64u * 32u);
    const float expected = 0.01f * 5 - 0.05f;  // element 5 of the pattern in Tensor()
    const float rounded =
        dtype == DType::kF16 ? F16ToF32(F32ToF16(expected)) : BF16ToF32(F32ToBF16(expected));
    EXPECT_EQ(w[5], rounded);
  }
}

TEST_F(ModelTest, MissingModelKey) {
  ExpectInvalid(Load(Sequential(), {{"sov.activation", "relu"}}), {"'sov.model'", "missing"});
}

TEST_F(ModelTest, WrongModelKind) {
  auto metadata = Metadata();
  metadata["sov.model"] = "transformer";
  ExpectInvalid(Load(Sequential(), metadata), {"'sov.model'", "transformer"});
}

TEST_F(ModelTest, UnsupportedOutput) {
  auto metadata = Metadata();
  metadata["sov.output"] = "sigmoid";
  ExpectInvalid(Load(Sequential(), metadata), {"'sov.output'", "sigmoid"});
}

TEST_F(ModelTest, MissingActivation) {
  ExpectInvalid(Load(Sequential(), {{"sov.model", "feedforward-classifier"}}),
                {"'sov.activation'", "missing"});
}

TEST_F(ModelTest, UnknownActivation) {
  ExpectInvalid(Load(Sequential(), Metadata("swish")), {"'sov.activation'", "swish"});
}

TEST_F(ModelTest, UnknownActivationInList) {
  auto metadata = std::map<std::string, std::string>{{"sov.model", "feedforward-classifier"},
                                                     {"sov.activations", "relu,elu"}};
  ExpectInvalid(Load(Sequential(), metadata), {"'sov.activations'", "elu"});
}

TEST_F(ModelTest, ActivationCountMismatch) {
  auto metadata = std::map<std::string, std::string>{{"sov.model", "feedforward-classifier"},
                                                     {"sov.activations", "relu"}};
  ExpectInvalid(Load(Sequential(), metadata), {"'sov.activations'", "2 hidden layers"});
}

TEST_F(ModelTest, BothActivationKeys) {
  auto metadata = Metadata();
  metadata["sov.activations"] = "relu,relu";
  ExpectInvalid(Load(Sequential(), metadata), {"'sov.activation'", "'sov.activations'"});
}

TEST_F(ModelTest, ShapeChainBreak) {
  std::vector<TensorToWrite> tensors;
  AddLayer(tensors, "0", 784, 64);
  AddLayer(tensors, "2", 63, 10);
  ExpectInvalid(Load(tensors, Metadata()), {"layer '2'", "'2.weight'", "63", "64"});
}

TEST_F(ModelTest, MissingBias) {
  std::vector<TensorToWrite> tensors = Sequential();
  tensors.erase(tensors.begin() + 3);  // "2.bias"
  ExpectInvalid(Load(tensors, Metadata()), {"layer '2'", "'2.bias'", "missing"});
}

TEST_F(ModelTest, BiasOfWrongLength) {
  std::vector<TensorToWrite> tensors = Sequential();
  tensors[3] = Tensor("2.bias", {31});
  ExpectInvalid(Load(tensors, Metadata()), {"layer '2'", "'2.bias'", "[31]"});
}

TEST_F(ModelTest, MissingWeightNamedInSovLayers) {
  std::vector<TensorToWrite> tensors;
  AddLayer(tensors, "a", 4, 3);
  auto metadata = Metadata();
  metadata["sov.layers"] = "a,b";
  ExpectInvalid(Load(tensors, metadata), {"layer 'b'", "'b.weight'", "missing"});
}

TEST_F(ModelTest, MixedWeightDtypes) {
  std::vector<TensorToWrite> tensors;
  AddLayer(tensors, "0", 8, 8, DType::kF32);
  AddLayer(tensors, "2", 8, 3, DType::kF16);
  ExpectInvalid(Load(tensors, Metadata()), {"layer '2'", "'2.weight'", "F16", "F32"});
}

TEST_F(ModelTest, BiasDtypeDiffersFromWeights) {
  std::vector<TensorToWrite> tensors;
  AddLayer(tensors, "0", 8, 3, DType::kBF16);
  tensors[1] = Tensor("0.bias", {3}, DType::kF32);
  ExpectInvalid(Load(tensors, Metadata()), {"layer '0'", "'0.bias'", "F32", "BF16"});
}

TEST_F(ModelTest, IntegerWeights) {
  std::vector<TensorToWrite> tensors;
  tensors.push_back(TensorToWrite{"0.weight", DType::kI32, {2, 2}, std::string(16, '\0')});
  tensors.push_back(TensorToWrite{"0.bias", DType::kI32, {2}, std::string(8, '\0')});
  ExpectInvalid(Load(tensors, Metadata()), {"layer '0'", "'0.weight'", "I32"});
}

TEST_F(ModelTest, WeightOfWrongRank) {
  std::vector<TensorToWrite> tensors;
  tensors.push_back(Tensor("0.weight", {6}));
  tensors.push_back(Tensor("0.bias", {6}));
  ExpectInvalid(Load(tensors, Metadata()), {"layer '0'", "'0.weight'", "[6]"});
}

TEST_F(ModelTest, OneClass) {
  std::vector<TensorToWrite> tensors;
  AddLayer(tensors, "0", 8, 4);
  AddLayer(tensors, "2", 4, 1);
  ExpectInvalid(Load(tensors, Metadata()), {"layer '2'", "at least 2 classes"});
}

TEST_F(ModelTest, NoLayers) {
  ExpectInvalid(Load({Tensor("embedding", {4, 4})}, Metadata()), {"no layers"});
}

TEST_F(ModelTest, StrayTensor) {
  // A BatchNorm's running mean would otherwise be ignored and the model evaluated wrongly.
  std::vector<TensorToWrite> tensors = Sequential();
  tensors.push_back(Tensor("1.running_mean", {64}));
  ExpectInvalid(Load(tensors, Metadata()), {"'1.running_mean'"});
}

TEST_F(ModelTest, OpenModelReadsAFile) {
  const std::string path = ::testing::TempDir() + "/model_test_open.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, Sequential(), Metadata()).ok());
  Result<Model> model = OpenModel(path);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(model->num_classes, 10);
  EXPECT_EQ(OpenModel(path + ".absent").status().code(), StatusCode::kNotFound);
}

TEST(ActivationTest, NamesRoundTrip) {
  for (Activation a : {Activation::kIdentity, Activation::kRelu, Activation::kGelu,
                       Activation::kTanh, Activation::kSigmoid}) {
    Result<Activation> parsed = ParseActivation(ActivationName(a));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, a);
  }
  EXPECT_EQ(ActivationName(Activation::kGelu), "gelu");
  EXPECT_EQ(ParseActivation("ReLU").status().code(), StatusCode::kInvalidArgument);
}

// --- internal/half.h --------------------------------------------------------------------------

TEST(HalfTest, F16DecodesSpecialValues) {
  EXPECT_EQ(F16ToF32(0x3c00), 1.0f);
  EXPECT_EQ(F16ToF32(0xc000), -2.0f);
  EXPECT_EQ(F16ToF32(0x7bff), 65504.0f);
  EXPECT_EQ(F16ToF32(0x0001), std::ldexp(1.0f, -24));     // smallest subnormal
  EXPECT_EQ(F16ToF32(0x03ff), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(F16ToF32(0x0400), std::ldexp(1.0f, -14));     // smallest normal
  EXPECT_EQ(F16ToF32(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(F16ToF32(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(F16ToF32(0x7e00)));
  EXPECT_TRUE(std::isnan(F16ToF32(0x7c01)));  // a signalling-NaN pattern stays NaN
  EXPECT_TRUE(std::signbit(F16ToF32(0x8000)));
}

TEST(HalfTest, F16RoundTripsEveryPattern) {
  // Every F16 value is exact in FP32, so encoding its decoded value gives the pattern back.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = F16ToF32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(F16ToF32(F32ToF16(f)))) << h;
    } else {
      ASSERT_EQ(F32ToF16(f), h) << "pattern " << h;
    }
  }
}

TEST(HalfTest, F16RoundsToNearestEven) {
  // Between each pair of adjacent finite F16 values (subnormals included), the midpoint goes to
  // the even pattern and anything off the midpoint to the nearer one.
  for (uint32_t h = 0; h < 0x7bff; ++h) {
    const float lo = F16ToF32(static_cast<uint16_t>(h));
    const float hi = F16ToF32(static_cast<uint16_t>(h + 1));
    const float mid = lo + (hi - lo) / 2;  // exact in FP32
    const uint16_t even = (h % 2 == 0) ? static_cast<uint16_t>(h) : static_cast<uint16_t>(h + 1);
    ASSERT_EQ(F32ToF16(mid), even) << "midpoint above " << h;
    ASSERT_EQ(F32ToF16(std::nextafter(mid, 0.0f)), h) << h;
    ASSERT_EQ(F32ToF16(std::nextafter(mid, std::numeric_limits<float>::infinity())), h + 1) << h;
    ASSERT_EQ(F32ToF16(-mid), even | 0x8000u) << h;
  }
  EXPECT_EQ(F32ToF16(65519.0f), 0x7bff);
  EXPECT_EQ(F32ToF16(65520.0f), 0x7c00);  // the midpoint to "65536" rounds to infinity
  EXPECT_EQ(F32ToF16(1e10f), 0x7c00);
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -25)), 0x0000);  // half the smallest subnormal: to even 0
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -26)), 0x0000);
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -40)), 0x0000);
  EXPECT_TRUE(std::isnan(F16ToF32(F32ToF16(std::nanf("")))));
  EXPECT_EQ(F32ToF16(-std::numeric_limits<float>::infinity()), 0xfc00);
}

TEST(HalfTest, BF16RoundsToNearestEven) {
  for (uint32_t b = 0; b < 0x7f7f; b += 7) {
    const float lo = BF16ToF32(static_cast<uint16_t>(b));
    const float hi = BF16ToF32(static_cast<uint16_t>(b + 1));
    ASSERT_EQ(F32ToBF16(lo), b);
    const float mid =
        std::bit_cast<float>(std::bit_cast<uint32_t>(lo) + 0x8000u);  // exact midpoint
    ASSERT_GT(mid, lo);
    ASSERT_LT(mid, hi);
    const uint16_t even = (b % 2 == 0) ? static_cast<uint16_t>(b) : static_cast<uint16_t>(b + 1);
    ASSERT_EQ(F32ToBF16(mid), even) << b;
    ASSERT_EQ(F32ToBF16(std::nextafter(mid, 0.0f)), b) << b;
    ASSERT_EQ(F32ToBF16(std::nextafter(mid, std::numeric_limits<float>::infinity())), b + 1) << b;
  }
  EXPECT_EQ(BF16ToF32(0x3f80), 1.0f);
  EXPECT_EQ(F32ToBF16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(F32ToBF16(std::numeric_limits<float>::max()), 0x7f80);  // rounds past the largest
  EXPECT_TRUE(std::isnan(BF16ToF32(F32ToBF16(std::nanf("")))));
  // A NaN whose payload is only in the low bits must not become infinity.
  EXPECT_TRUE(std::isnan(BF16ToF32(F32ToBF16(std::bit_cast<float>(0x7f800001u)))));
}

}  // namespace
}  // namespace sov::gpu_eval
