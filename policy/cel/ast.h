// The abstract syntax tree of a CEL expression, as the parser (parser.h) produces it and the
// compiler (program.h) consumes it. Operators are calls with the CEL spec's internal names
// ("_+_", "_&&_", "!_", "-_", "_?_:_", "_[_]", "@in"); has() is a select with test_only set;
// the comprehension macros (all, exists, exists_one, map, filter) are kComprehension nodes.
// Every node records the byte offset of its token in the source. A tree is a plain value owned
// by its root; not synchronised.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "policy/cel/value.h"

namespace sov::policy::cel {

enum class ExprKind : uint8_t {
  kConst,          // constant
  kIdent,          // name (may start with '.')
  kSelect,         // target.name, or has(target.name) when test_only
  kCall,           // name(args) or target.name(args)
  kList,           // [args...]
  kMap,            // {args[0]: args[1], args[2]: args[3], ...}
  kMessage,        // name{field_names[i]: args[i]}; not supported by the evaluator
  kComprehension,  // target.macro(iter_var, args...)
};

enum class Macro : uint8_t { kNone, kAll, kExists, kExistsOne, kMap, kMapFilter, kFilter };

struct Expr {
  ExprKind kind = ExprKind::kConst;
  uint32_t offset = 0;  // byte offset of the node's token in the source
  int32_t height = 1;   // 1 + the largest height of the children
  Value constant;
  std::string name;
  bool test_only = false;
  Macro macro = Macro::kNone;
  std::unique_ptr<Expr> target;
  std::vector<std::unique_ptr<Expr>> args;
  std::vector<std::string> field_names;
};

}  // namespace sov::policy::cel
