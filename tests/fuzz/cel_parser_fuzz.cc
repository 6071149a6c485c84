// libFuzzer target: compiles arbitrary bytes as a CEL expression and evaluates what compiles
// under a cost limit; shows that no input crashes, hangs or exhausts the stack of the CEL
// parser, compiler or evaluator, that every compile error names a LINE:COL, and that
// evaluation is deterministic.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "policy/cel/parser.h"
#include "policy/cel/program.h"
#include "policy/cel/value.h"

namespace {

using sov::policy::cel::Activation;
using sov::policy::cel::Value;

const Activation& FuzzActivation() {
  static const auto* activation = [] {
    auto* a = new Activation();
    a->Bind("principal", Value::StringMap(std::map<std::string, Value>{
                             {"tenant_id", Value::String("acme-ml")},
                             {"roles", Value::StringList({"admin", "ml-engineer"})},
                             {"purposes", Value::StringList({"fraud-detection", "research"})},
                             {"jurisdiction", Value::String("DE")}}));
    a->Bind("artifact", Value::Struct("sov.Artifact",
                                      {{"kind", Value::String("model")},
                                       {"name", Value::String("credit-model")},
                                       {"stage", Value::String("released")},
                                       {"classification", Value::String("personal")},
                                       {"purposes", Value::StringList({"credit-scoring"})},
                                       {"created_at", Value::Timestamp(1690000000, 0)},
                                       {"size", Value::Int(1 << 20)}}));
    a->Bind("request", Value::StringMap(std::map<std::string, std::string>{
                           {"purpose", "research"}, {"owner_tenant", "acme-ml"}}));
    a->Bind("eval", Value::StringMap(std::map<std::string, Value>{
                        {"accuracy", Value::Double(0.97)},
                        {"fairness", Value::StringMap(std::map<std::string, Value>{
                                         {"max_group_gap", Value::Double(0.03)}})}}));
    a->Bind("now", Value::Timestamp(1700000000, 5));
    return a;
  }();
  return *activation;
}

[[noreturn]] void Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_cel_parser: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view source(reinterpret_cast<const char*>(data), size);
  sov::policy::cel::CompileOptions options;
  options.cost_limit = 20000;
  // The input's length picks the mode, so that the corpus stays plain expressions.
  options.check_functions = (size % 2) == 0;
  if (size % 3 == 0) options.declared_variables = {"principal", "artifact", "request", "now"};
  auto program = sov::policy::cel::Compile(source, options);
  if (!program.ok()) {
    sov::policy::cel::SourcePosition position;
    std::string_view text;
    if (!sov::policy::cel::SplitPosition(program.status().message(), &position, &text)) {
      Fail("compile error without LINE:COL", program.status().message());
    }
    return 0;
  }
  Value first = program->Evaluate(FuzzActivation());
  std::string shown = first.is_error() ? sov::policy::cel::FormatError(first.error())
                                       : first.DebugString();
  Value second = program->Evaluate(FuzzActivation());
  std::string again = second.is_error() ? sov::policy::cel::FormatError(second.error())
                                        : second.DebugString();
  if (shown != again) Fail("two evaluations differ", shown + " vs " + again);
  (void)program->EvaluateBool(FuzzActivation());
  return 0;
}
