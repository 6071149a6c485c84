#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "policy/cel/internal/evaluator.h"
#include "policy/cel/internal/heap.h"

namespace sov::policy::cel::internal {
namespace {

// Thrown inside the compiler only and caught in CompileTree.
struct CompileFailure {
  uint32_t offset;
  std::string message;
};

constexpr std::string_view kTypeNames[] = {
    "bool",   "int",  "uint", "double", "string", "bytes", "list", "map", "null_type", "type",
    "google.protobuf.Timestamp", "google.protobuf.Duration"};

bool IsTypeName(std::string_view name) {
  for (std::string_view t : kTypeNames) {
    if (t == name) return true;
  }
  return false;
}

struct OperatorSpec {
  std::string_view name;
  Op op;
  size_t args;
};

constexpr OperatorSpec kOperators[] = {
    {"_?_:_", Op::kCond, 3}, {"_[_]", Op::kIndex, 2}, {"@in", Op::kIn, 2},  {"!_", Op::kNot, 1},
    {"-_", Op::kNeg, 1},     {"_&&_", Op::kAnd, 2},   {"_||_", Op::kOr, 2}, {"_==_", Op::kEq, 2},
    {"_!=_", Op::kNe, 2},    {"_<_", Op::kLt, 2},     {"_<=_", Op::kLe, 2}, {"_>_", Op::kGt, 2},
    {"_>=_", Op::kGe, 2},    {"_+_", Op::kAdd, 2},    {"_-_", Op::kSub, 2}, {"_*_", Op::kMul, 2},
    {"_/_", Op::kDiv, 2},    {"_%_", Op::kMod, 2},
};

class Compiler {
 public:
  Compiler(std::string_view source, const CompileOptions& options)
      : source_(source), options_(options) {
    // Line and column of every byte offset, so that each node's position costs O(1).
    line_.resize(source.size() + 1);
    column_.resize(source.size() + 1);
    int32_t line = 1, column = 1;
    for (size_t i = 0; i <= source.size(); ++i) {
      line_[i] = line;
      column_[i] = column;
      if (i == source.size()) break;
      unsigned char c = static_cast<unsigned char>(source[i]);
      if (c == '\n') {
        ++line;
        column = 1;
      } else if (i + 1 < source.size() && (static_cast<unsigned char>(source[i + 1]) & 0xC0) != 0x80) {
        ++column;
      } else if (i + 1 == source.size()) {
        ++column;
      }
    }
  }

  SourcePosition Pos(uint32_t offset) const {
    size_t o = std::min<size_t>(offset, source_.size());
    return SourcePosition{line_[o], column_[o]};
  }

  int num_slots() const { return max_slots_; }

  [[noreturn]] void Fail(uint32_t offset, std::string message) {
    throw CompileFailure{offset, std::move(message)};
  }

  Node Compile(const Expr& e) {
    Node n;
    n.pos = Pos(e.offset);
    switch (e.kind) {
      case ExprKind::kConst:
        n.op = Op::kConst;
        n.value = e.constant;
        return n;
      case ExprKind::kIdent:
        return CompileName(e);
      case ExprKind::kSelect:
        if (e.test_only) {
          n.op = Op::kHas;
          n.name = e.name;
          n.kids.push_back(Compile(*e.target));
          return n;
        }
        if (IsNameChain(e)) return CompileName(e);
        n.op = Op::kSelect;
        n.name = e.name;
        n.kids.push_back(Compile(*e.target));
        return n;
      case ExprKind::kCall:
        return CompileCall(e);
      case ExprKind::kList: {
        n.op = Op::kList;
        bool constant = true;
        for (const auto& a : e.args) {
          n.kids.push_back(Compile(*a));
          constant = constant && n.kids.back().op == Op::kConst;
        }
        if (constant) {
          std::vector<Value> values;
          values.reserve(n.kids.size());
          for (Node& k : n.kids) {
            if (k.value.is_error()) return std::move(k);
            values.push_back(std::move(k.value));
          }
          n.kids.clear();
          n.op = Op::kConst;
          n.value = Value::List(std::move(values));
        }
        return n;
      }
      case ExprKind::kMap: {
        n.op = Op::kMap;
        bool constant = true;
        for (const auto& a : e.args) {
          n.kids.push_back(Compile(*a));
          constant = constant && n.kids.back().op == Op::kConst;
        }
        if (constant) {
          std::vector<Value::Entry> entries;
          for (size_t i = 0; i + 1 < n.kids.size(); i += 2) {
            if (n.kids[i + 1].value.is_error()) return std::move(n.kids[i + 1]);
            entries.emplace_back(std::move(n.kids[i].value), std::move(n.kids[i + 1].value));
          }
          Value bad = CheckMapKeys(entries);
          n.kids.clear();
          n.op = Op::kConst;
          n.value = bad.is_error() ? Value::Error(bad.error().code, bad.error().message, n.pos)
                                   : MakeMapUnchecked(std::move(entries));
        }
        return n;
      }
      case ExprKind::kMessage:
        Fail(e.offset, "message construction (" + e.name +
                           "{...}) is not supported; use a map literal instead");
      case ExprKind::kComprehension: {
        n.op = Op::kLoop;
        n.macro = e.macro;
        n.kids.push_back(Compile(*e.target));
        n.slot = static_cast<uint16_t>(scopes_.size());
        scopes_.emplace_back(e.name, n.slot);
        max_slots_ = std::max(max_slots_, static_cast<int>(scopes_.size()));
        for (const auto& a : e.args) n.kids.push_back(Compile(*a));
        scopes_.pop_back();
        return n;
      }
    }
    Fail(e.offset, "internal error: unknown expression kind");
  }

 private:
  static bool IsNameChain(const Expr& e) {
    const Expr* cur = &e;
    while (cur->kind == ExprKind::kSelect && !cur->test_only) cur = cur->target.get();
    return cur->kind == ExprKind::kIdent;
  }

  const std::pair<std::string, uint16_t>* FindLocal(std::string_view name) const {
    for (size_t i = scopes_.size(); i-- > 0;) {
      if (scopes_[i].first == name) return &scopes_[i];
    }
    return nullptr;
  }

  bool Declared(std::string_view name) const {
    if (options_.declared_variables.empty()) return true;
    return std::find(options_.declared_variables.begin(), options_.declared_variables.end(), name) !=
           options_.declared_variables.end();
  }

  // Compiles an identifier or a chain of field selections rooted at one (a.b.c).
  Node CompileName(const Expr& e) {
    std::vector<const Expr*> chain;  // outermost first
    const Expr* cur = &e;
    while (cur->kind == ExprKind::kSelect) {
      chain.push_back(cur);
      cur = cur->target.get();
    }
    const Expr& root = *cur;
    std::string root_name = root.name;
    const bool absolute = !root_name.empty() && root_name[0] == '.';
    if (absolute) root_name.erase(0, 1);

    if (!absolute) {
      if (const auto* local = FindLocal(root_name)) {
        Node n;
        n.op = Op::kLocal;
        n.slot = local->second;
        n.pos = Pos(root.offset);
        for (size_t i = chain.size(); i-- > 0;) {
          Node s;
          s.op = Op::kSelect;
          s.name = chain[i]->name;
          s.pos = Pos(chain[i]->offset);
          s.kids.push_back(std::move(n));
          n = std::move(s);
        }
        return n;
      }
    }
    // A variable reference: the longest bound prefix of the dotted name wins (a binding of
    // "a.b.c" beats a binding of "a.b" with a field c), as the CEL specification resolves
    // qualified names.
    Node n;
    n.op = Op::kVar;
    n.pos = Pos(e.offset);
    n.path.push_back(root_name);
    for (size_t i = chain.size(); i-- > 0;) n.path.push_back(chain[i]->name);
    std::string full;
    for (size_t i = 0; i < n.path.size(); ++i) {
      if (i) full += '.';
      full += n.path[i];
    }
    n.name = full;
    for (size_t len = n.path.size(); len >= 1; --len) {
      std::string candidate;
      for (size_t i = 0; i < len; ++i) {
        if (i) candidate += '.';
        candidate += n.path[i];
      }
      if (Declared(candidate)) n.candidates.push_back(std::move(candidate));
    }
    if (IsTypeName(full)) {
      n.has_type_fallback = true;
      n.value = Value::Type(full);
    }
    if (n.candidates.empty() && !n.has_type_fallback) {
      std::string known;
      for (const auto& d : options_.declared_variables) known += (known.empty() ? "" : ", ") + d;
      Fail(root.offset, "undeclared variable '" + root_name + "' (known variables: " + known + ")");
    }
    // Positions of each selected segment, so that a missing field points at itself.
    for (size_t i = chain.size(); i-- > 0;) n.path_pos.push_back(Pos(chain[i]->offset));
    return n;
  }

  Node CompileCall(const Expr& e) {
    Node n;
    n.pos = Pos(e.offset);
    if (!e.target) {
      for (const auto& spec : kOperators) {
        if (spec.name == e.name && spec.args == e.args.size()) {
          n.op = spec.op;
          for (const auto& a : e.args) n.kids.push_back(Compile(*a));
          return n;
        }
      }
    }
    bool name_known = false;
    const int argc = static_cast<int>(e.args.size());
    const FunctionSpec* spec = FindFunction(e.name, e.target != nullptr, argc, &name_known);
    if (spec == nullptr) {
      std::string message = name_known ? "no overload of " + e.name + "() takes " +
                                             std::to_string(argc) + " argument(s)" +
                                             (e.target ? " with a receiver" : "")
                                       : "unknown function '" + e.name + "'";
      if (options_.check_functions) Fail(e.offset, message);
      n.op = Op::kConst;
      n.value = Value::Error(StatusCode::kInvalidArgument, "unbound function: " + message, n.pos);
      return n;
    }
    n.op = Op::kCall;
    n.fn = spec->fn;
    if (e.target) n.kids.push_back(Compile(*e.target));
    for (const auto& a : e.args) n.kids.push_back(Compile(*a));
    if (n.fn == Fn::kMatches) {
      const Node& pattern = n.kids[1];
      if (pattern.op == Op::kConst && pattern.value.kind() == Kind::kString) {
        re2::RE2::Options re_options;
        re_options.set_log_errors(false);
        auto re = std::make_unique<re2::RE2>(pattern.value.string_value(), re_options);
        if (re->ok()) {
          n.regex = std::move(re);
        } else if (options_.check_functions) {
          Fail(e.args.back()->offset, "invalid regular expression: " + re->error());
        }
      }
    }
    // Fold calls whose arguments are all constants (timestamp('...'), duration('...')).
    bool constant = true;
    for (const Node& k : n.kids) constant = constant && k.op == Op::kConst && !k.value.is_error();
    if (constant) {
      std::vector<Value> args;
      for (const Node& k : n.kids) args.push_back(k.value);
      Value v = CallFunction(n.fn, args.data(), static_cast<int>(args.size()), n.regex.get());
      if (v.is_error()) v = Value::Error(v.error().code, v.error().message, n.pos);
      Node folded;
      folded.op = Op::kConst;
      folded.pos = n.pos;
      folded.value = std::move(v);
      return folded;
    }
    return n;
  }

  std::string_view source_;
  const CompileOptions& options_;
  std::vector<int32_t> line_, column_;
  std::vector<std::pair<std::string, uint16_t>> scopes_;
  int max_slots_ = 0;
};

}  // namespace

Result<std::unique_ptr<CompiledProgram>> CompileTree(std::string_view source, const Expr& expr,
                                                     const CompileOptions& options) {
  Compiler compiler(source, options);
  try {
    auto program = std::make_unique<CompiledProgram>();
    program->root = compiler.Compile(expr);
    program->source = std::string(source);
    program->num_slots = compiler.num_slots();
    program->cost_limit = options.cost_limit;
    return program;
  } catch (const CompileFailure& f) {
    SourcePosition p = compiler.Pos(f.offset);
    return InvalidArgument(std::to_string(p.line) + ":" + std::to_string(p.column) + ": " + f.message);
  }
}

}  // namespace sov::policy::cel::internal
