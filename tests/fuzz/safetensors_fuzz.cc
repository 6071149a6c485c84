// libFuzzer target: parses arbitrary bytes as a safetensors file; shows that no input crashes,
// leaks or reads outside the input, that every refusal is an INVALID_ARGUMENT naming its
// source, and that what parses keeps the reader's promises (each view lies inside the input and
// holds elements() * DTypeSize bytes, views are ordered by offset without sharing a byte, Find
// returns each) and writes back into a file that reads back the same.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gpu-eval/safetensors.h"

namespace {

using sov::gpu_eval::DTypeSize;
using sov::gpu_eval::SafetensorsFile;
using sov::gpu_eval::TensorToWrite;
using sov::gpu_eval::TensorView;

constexpr std::string_view kSource = "fuzz";

[[noreturn]] void Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_safetensors: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// Reads every byte of the view (so that ASan sees any read past the input) and checks it.
void CheckView(const TensorView& view, std::span<const std::byte> input, const SafetensorsFile& file) {
  if (view.data.size() != static_cast<uint64_t>(view.elements()) * DTypeSize(view.dtype)) {
    Fail("view size disagrees with shape and dtype", view.name);
  }
  if (!view.data.empty() && (view.data.data() < input.data() ||
                             view.data.data() + view.data.size() > input.data() + input.size())) {
    Fail("view outside the input", view.name);
  }
  volatile unsigned char sink = 0;
  for (std::byte b : view.data) sink = sink ^ static_cast<unsigned char>(b);
  (void)sink;
  if (file.Find(view.name) != &view) Fail("Find does not return the tensor", view.name);
}

// Views come in offset order, and no two that hold bytes share one.
void CheckOrderedWithoutOverlap(const std::vector<TensorView>& tensors) {
  const std::byte* last_begin = nullptr;
  const std::byte* last_end = nullptr;  // of the views with bytes so far
  for (const TensorView& view : tensors) {
    if (last_begin != nullptr && view.data.data() < last_begin) Fail("out of offset order", view.name);
    last_begin = view.data.data();
    if (view.data.empty()) continue;
    if (last_end != nullptr && view.data.data() < last_end) Fail("tensors overlap", view.name);
    last_end = view.data.data() + view.data.size();
  }
}

// Writes the parsed tensors back out and checks that the result reads back the same.
void CheckRoundTrip(const SafetensorsFile& file) {
  std::vector<TensorToWrite> tensors;
  for (const TensorView& view : file.tensors()) {
    tensors.push_back({view.name, view.dtype, view.shape,
                       std::string(reinterpret_cast<const char*>(view.data.data()), view.data.size())});
  }
  const std::map<std::string, std::string> metadata(file.metadata().begin(), file.metadata().end());
  const std::string written = sov::gpu_eval::SerializeSafetensors(tensors, metadata);
  auto reread = SafetensorsFile::Parse(std::as_bytes(std::span(written)), kSource);
  if (!reread.ok()) Fail("written file does not parse", reread.status().message());
  if (reread->tensors().size() != tensors.size()) Fail("tensor count changed", "");
  if (reread->metadata() != file.metadata()) Fail("metadata changed", "");
  for (const TensorToWrite& tensor : tensors) {
    const TensorView* view = reread->Find(tensor.name);
    if (view == nullptr || view->dtype != tensor.dtype || view->shape != tensor.shape ||
        std::string_view(reinterpret_cast<const char*>(view->data.data()), view->data.size()) !=
            tensor.bytes) {
      Fail("tensor changed in the round trip", tensor.name);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = std::as_bytes(std::span(data, size));
  auto file = SafetensorsFile::Parse(input, kSource);
  if (!file.ok()) {
    const sov::Status& status = file.status();
    if (status.code() != sov::StatusCode::kInvalidArgument) Fail("not INVALID_ARGUMENT", status.ToString());
    if (status.message().rfind("fuzz: ", 0) != 0) Fail("error does not name the source", status.message());
    return 0;
  }
  for (const TensorView& view : file->tensors()) CheckView(view, input, *file);
  CheckOrderedWithoutOverlap(file->tensors());
  for (const auto& [key, value] : file->metadata()) {
    volatile size_t sink = key.size() + value.size();
    (void)sink;
  }
  CheckRoundTrip(*file);
  return 0;
}
