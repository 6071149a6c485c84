// The compiled form of a CEL expression and the tree-walking evaluator that runs it. The
// compiler (compiler.cc) resolves comprehension variables to slots, qualified names to lookup
// candidates, function names to built-in ids, folds constant sub-expressions, precompiles
// constant regular expressions, and records each node's source position. Internal. A
// CompiledProgram is immutable after Compile and safe to evaluate from several threads.
#pragma once

#include <re2/re2.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "policy/cel/ast.h"
#include "policy/cel/internal/functions.h"
#include "policy/cel/program.h"
#include "policy/cel/value.h"

namespace sov::policy::cel::internal {

enum class Op : uint8_t {
  kConst,   // value
  kVar,     // candidates, path
  kLocal,   // slot
  kSelect,  // kids[0].name
  kHas,     // has(kids[0].name)
  kIndex,
  kList,
  kMap,     // kids: key, value, key, value, ...
  kAnd,
  kOr,
  kNot,
  kCond,
  kNeg,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kIn,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kCall,    // fn; kids are the receiver (if any) and arguments
  kLoop,    // macro, slot; kids: range, then the macro's expressions
};

struct Node {
  Op op = Op::kConst;
  Fn fn = Fn::kDyn;
  Macro macro = Macro::kNone;
  uint16_t slot = 0;
  SourcePosition pos;
  Value value;                          // kConst; for kVar the type denoted when unbound
  bool has_type_fallback = false;       // kVar
  std::string name;                     // kSelect, kHas; for kVar the full dotted name
  std::vector<std::string> candidates;  // kVar: bound names to try, longest first
  std::vector<std::string> path;        // kVar: the dotted name's segments
  std::vector<SourcePosition> path_pos; // kVar: where path[1..] are selected
  std::vector<Node> kids;
  std::unique_ptr<re2::RE2> regex;      // kCall of matches() with a constant pattern
};

struct CompiledProgram {
  std::string source;
  Node root;
  int num_slots = 0;
  int64_t cost_limit = 0;
};

// Compiles a parsed expression; errors are InvalidArgument "LINE:COL: message".
Result<std::unique_ptr<CompiledProgram>> CompileTree(std::string_view source, const Expr& expr,
                                                     const CompileOptions& options);

// Evaluates a compiled program against `activation`.
Value EvaluateProgram(const CompiledProgram& program, const Activation& activation);

}  // namespace sov::policy::cel::internal
