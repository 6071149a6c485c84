// libFuzzer target: compiles and evaluates arbitrary bytes as a CEL expression; shows that no input crashes, hangs or exhausts the stack of the CEL parser, compiler or evaluator.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "policy/cel/program.h"
#include "policy/cel/value.h"

namespace {

const sov::policy::cel::Activation& FuzzActivation() {
  using sov::policy::cel::Value;
  static const auto* activation = [] {
    auto* a = new sov::policy::cel::Activation();
    a->Bind("principal", Value::StringMap(std::map<std::string, Value>{
                             {"roles", Value::StringList({"admin", "ml-engineer"})},
                             {"jurisdiction", Value::String("DE")}}));
    a->Bind("artifact", Value::Struct("sov.Artifact", {{"name", Value::String("model")},
                                                       {"size", Value::Int(1 << 20)}}));
    a->Bind("request", Value::StringMap(std::map<std::string, std::string>{{"purpose", "research"}}));
    a->Bind("now", Value::Timestamp(1700000000, 5));
    return a;
  }();
  return *activation;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view source(reinterpret_cast<const char*>(data), size);
  sov::policy::cel::CompileOptions options;
  options.cost_limit = 20000;
  options.check_functions = (size % 2) == 0;
  auto program = sov::policy::cel::Compile(source, options);
  if (program.ok()) {
    sov::policy::cel::Value v = program->Evaluate(FuzzActivation());
    (void)v.DebugString();
  }
  return 0;
}
