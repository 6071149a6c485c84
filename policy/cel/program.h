// The CEL subset engine's entry points: Compile turns the text of one expression (a policy
// rule's `when:` condition or a release-gate threshold) into a Program once; Program::Evaluate
// runs it against an Activation, the variables of one decision (principal, artifact, request,
// now). The policy engine calls Compile when a policy file loads and Evaluate per decision.
//
// Errors carry positions. A compile error is a Status whose message is "LINE:COL: message",
// 1-based within the expression (columns count code points); SplitPosition (parser.h) takes it
// apart, so that the policy loader can add the expression's own line and column in its YAML
// file. An evaluation error is a Value of kind kError whose ErrorInfo has the code, message and
// position of the sub-expression that failed.
//
// Limits (CompileOptions): source length, nesting depth, and an evaluation cost budget (one
// unit per evaluated node and per comprehension iteration, plus one per 8 bytes or elements
// of strings, bytes and lists that `+` builds); an evaluation that runs out fails with
// kResourceExhausted, whatever `&&` and `||` around it would otherwise absorb.
//
// Thread safety: a Program is immutable and cheap to copy (it shares its compiled tree); any
// number of threads may evaluate one Program at once, each with its own Activation. An
// Activation is not synchronised: build it, then only read it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "policy/cel/parser.h"
#include "policy/cel/value.h"

namespace sov::policy::cel {

namespace internal {
struct CompiledProgram;
}  // namespace internal

struct CompileOptions {
  ParseOptions parse;
  // Evaluation cost budget per Evaluate call (see above).
  int64_t cost_limit = 100000;
  // When non-empty, the only variables an expression may name (besides comprehension
  // variables and type names); any other name is a compile error. The policy engine declares
  // {"principal", "artifact", "request", "now"}.
  std::vector<std::string> declared_variables;
  // When true, a call of an unknown function, or with the wrong number of arguments, or
  // matches() with an invalid constant pattern, is a compile error. When false it evaluates
  // to an error value, as the CEL specification's unchecked mode has it.
  bool check_functions = true;
};

// The variables of one evaluation, by name. A qualified name ("a.b.c") may be bound as a whole.
class Activation {
 public:
  // Binds `name` to `value` (sharing its contents); a later binding of the same name wins.
  void Bind(std::string_view name, Value value);
  // Binds `name` to *value without copying. *value must outlive every evaluation that uses
  // this Activation. Use it to pass a decision's inputs by reference.
  void BindRef(std::string_view name, const Value* value);
  // Returns the value bound to `name`, or nullptr.
  const Value* Find(std::string_view name) const;
  // Whether any bound name contains a '.'; lets the evaluator skip qualified lookups.
  bool has_qualified_names() const { return has_qualified_names_; }

 private:
  struct Binding {
    std::string name;
    Value owned;
    const Value* ref = nullptr;
  };
  std::vector<Binding> bindings_;
  bool has_qualified_names_ = false;
};

class Program {
 public:
  // Evaluates the expression. Never throws and never fails as a call: a failure is a Value of
  // kind kError (see ErrorInfo).
  Value Evaluate(const Activation& activation) const;
  // Evaluates and requires a bool. Returns the error value's code and "LINE:COL: message",
  // or InvalidArgument when the result is not a bool.
  Result<bool> EvaluateBool(const Activation& activation) const;
  // The source text the program was compiled from.
  const std::string& source() const;

 private:
  friend Result<Program> Compile(std::string_view source, const CompileOptions& options);
  explicit Program(std::shared_ptr<const internal::CompiledProgram> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const internal::CompiledProgram> impl_;
};

// Parses and compiles `source`. On failure returns InvalidArgument "LINE:COL: message".
Result<Program> Compile(std::string_view source, const CompileOptions& options = {});

// Renders an evaluation error as "LINE:COL: message" (just the message when the position is
// unknown).
std::string FormatError(const ErrorInfo& error);

}  // namespace sov::policy::cel
