#include "policy/cel/internal/evaluator.h"

#include <algorithm>
#include <array>
#include <vector>

#include "policy/cel/internal/heap.h"

namespace sov::policy::cel::internal {
namespace {

struct Frame {
  const Activation& activation;
  Value* slots;
  int64_t budget;
  bool exhausted = false;
  SourcePosition exhausted_at;
};

Value WithPosition(const Value& error, SourcePosition pos) {
  return Value::Error(error.error().code, error.error().message, pos);
}

Value NotBool(std::string_view op, const Value& v) { return NoSuchOverload(op, &v, 1); }

Value Eval(const Node& n, Frame& f);

// Charges `units` of the budget; false once it is spent.
bool Charge(Frame& f, int64_t units, SourcePosition pos) {
  f.budget -= units;
  if (f.budget >= 0) return true;
  if (!f.exhausted) {
    f.exhausted = true;
    f.exhausted_at = pos;
  }
  return false;
}

Value Exhausted() {
  return Value::Error(StatusCode::kResourceExhausted, "evaluation cost limit exceeded");
}

// Looks a variable up without copying it. Returns nullptr and sets *error when unbound or
// when a selected field is missing.
const Value* FindVar(const Node& n, Frame& f, Value* error) {
  const size_t count = n.candidates.size();
  // Without qualified bindings only the root name (the last candidate) can match.
  size_t first = f.activation.has_qualified_names() || count == 0 ? 0 : count - 1;
  for (size_t i = first; i < count; ++i) {
    const Value* v = f.activation.Find(n.candidates[i]);
    if (v == nullptr) continue;
    // The candidate names the first `covered` segments; the rest are field selections.
    const size_t covered = 1 + std::count(n.candidates[i].begin(), n.candidates[i].end(), '.');
    const Value* cur = v;
    for (size_t seg = covered; seg < n.path.size(); ++seg) {
      const Value* next = cur->FindField(n.path[seg]);
      if (next == nullptr) {
        *error = WithPosition(Select(*cur, n.path[seg]), n.path_pos[seg - 1]);
        return nullptr;
      }
      cur = next;
    }
    return cur;
  }
  if (n.has_type_fallback) return &n.value;
  *error = Value::Error(StatusCode::kInvalidArgument, "undeclared reference to '" + n.name + "'", n.pos);
  return nullptr;
}

// Evaluates `n` like Eval, but returns constants, comprehension variables and bound variables
// by reference instead of copying them (copies cost atomic reference-count updates); anything
// else is evaluated into `tmp`. The reference stays valid while the caller's operator runs.
const Value& EvalRef(const Node& n, Frame& f, Value& tmp) {
  switch (n.op) {
    case Op::kConst:
      if (n.value.is_error()) break;
      if (!Charge(f, 1, n.pos)) break;
      return n.value;
    case Op::kLocal:
      if (!Charge(f, 1, n.pos)) break;
      return f.slots[n.slot];
    case Op::kVar: {
      if (!Charge(f, 1, n.pos)) break;
      if (const Value* v = FindVar(n, f, &tmp)) return *v;
      return tmp;
    }
    default: break;
  }
  if (f.exhausted) {
    tmp = Exhausted();
    return tmp;
  }
  tmp = Eval(n, f);
  return tmp;
}

Value EvalLoop(const Node& n, Frame& f) {
  Value tmp;
  const Value& range = EvalRef(n.kids[0], f, tmp);
  if (range.is_error()) return range;
  const std::vector<Value>* items = nullptr;
  std::vector<Value> keys;
  if (range.kind() == Kind::kList) {
    items = &range.list_value();
  } else if (range.kind() == Kind::kMap) {
    keys.reserve(range.map_entries().size());
    for (const auto& entry : range.map_entries()) keys.push_back(entry.first);
    items = &keys;
  } else {
    return NoSuchOverload("comprehension over", &range, 1);
  }
  Value& var = f.slots[n.slot];
  const Node& body = n.kids[1];
  switch (n.macro) {
    case Macro::kAll:
    case Macro::kExists: {
      // all() is a chain of &&, exists() of ||: the deciding value wins over errors.
      const bool decisive = n.macro == Macro::kExists;
      Value error;
      for (const Value& item : *items) {
        if (!Charge(f, 1, n.pos)) return Exhausted();
        var = item;
        Value r = Eval(body, f);
        if (f.exhausted) return Exhausted();
        if (r.is_bool()) {
          if (r.bool_value() == decisive) return r;
        } else if (error.is_null()) {
          error = r.is_error() ? r : NotBool(n.macro == Macro::kAll ? "all" : "exists", r);
        }
      }
      if (!error.is_null()) return error;
      return Value::Bool(!decisive);
    }
    case Macro::kExistsOne: {
      int64_t count = 0;
      for (const Value& item : *items) {
        if (!Charge(f, 1, n.pos)) return Exhausted();
        var = item;
        Value r = Eval(body, f);
        if (r.is_error()) return r;
        if (!r.is_bool()) return NotBool("exists_one", r);
        count += r.bool_value();
      }
      return Value::Bool(count == 1);
    }
    case Macro::kMap:
    case Macro::kMapFilter:
    case Macro::kFilter: {
      std::vector<Value> out;
      for (const Value& item : *items) {
        if (!Charge(f, 1, n.pos)) return Exhausted();
        var = item;
        if (n.macro != Macro::kMap) {
          Value keep = Eval(body, f);
          if (keep.is_error()) return keep;
          if (!keep.is_bool()) return NotBool(n.macro == Macro::kFilter ? "filter" : "map", keep);
          if (!keep.bool_value()) continue;
          if (n.macro == Macro::kFilter) {
            out.push_back(item);
            continue;
          }
        }
        Value mapped = Eval(n.kids[n.macro == Macro::kMap ? 1 : 2], f);
        if (mapped.is_error()) return mapped;
        out.push_back(std::move(mapped));
      }
      return Value::List(std::move(out));
    }
    case Macro::kNone: break;
  }
  return Value::Error(StatusCode::kInternal, "unknown macro");
}

Value EvalNode(const Node& n, Frame& f) {
  switch (n.op) {
    case Op::kConst: return n.value;
    case Op::kVar: {
      Value error;
      const Value* v = FindVar(n, f, &error);
      return v != nullptr ? *v : error;
    }
    case Op::kLocal: return f.slots[n.slot];
    case Op::kSelect: {
      Value tmp;
      const Value& operand = EvalRef(n.kids[0], f, tmp);
      if (operand.is_error()) return operand;
      return Select(operand, n.name);
    }
    case Op::kHas: {
      Value tmp;
      const Value& operand = EvalRef(n.kids[0], f, tmp);
      if (operand.is_error()) return operand;
      return Has(operand, n.name);
    }
    case Op::kAnd:
    case Op::kOr: {
      // Commutative: a deciding operand (false for &&, true for ||) wins over an error or a
      // non-bool on the other side; otherwise the first error wins.
      const bool decisive = n.op == Op::kOr;
      Value ltmp, rtmp;
      const Value& l = EvalRef(n.kids[0], f, ltmp);
      if (l.is_bool() && l.bool_value() == decisive) return l;
      const Value& r = EvalRef(n.kids[1], f, rtmp);
      if (r.is_bool() && r.bool_value() == decisive) return r;
      if (l.is_bool() && r.is_bool()) return r;
      const char* op = decisive ? "_||_" : "_&&_";
      if (!l.is_bool()) return l.is_error() ? l : NotBool(op, l);
      return r.is_error() ? r : NotBool(op, r);
    }
    case Op::kNot: {
      Value tmp;
      const Value& v = EvalRef(n.kids[0], f, tmp);
      if (v.is_bool()) return Value::Bool(!v.bool_value());
      return v.is_error() ? v : NotBool("!_", v);
    }
    case Op::kCond: {
      Value tmp;
      const Value& c = EvalRef(n.kids[0], f, tmp);
      if (c.is_bool()) return Eval(n.kids[c.bool_value() ? 1 : 2], f);
      return c.is_error() ? c : NotBool("_?_:_", c);
    }
    case Op::kNeg: {
      Value v = Eval(n.kids[0], f);
      return v.is_error() ? v : Negate(v);
    }
    case Op::kList: {
      std::vector<Value> values;
      values.reserve(n.kids.size());
      for (const Node& k : n.kids) {
        Value v = Eval(k, f);
        if (v.is_error()) return v;
        values.push_back(std::move(v));
      }
      return Value::List(std::move(values));
    }
    case Op::kMap: {
      std::vector<Value::Entry> entries;
      entries.reserve(n.kids.size() / 2);
      for (size_t i = 0; i + 1 < n.kids.size(); i += 2) {
        Value k = Eval(n.kids[i], f);
        if (k.is_error()) return k;
        Value v = Eval(n.kids[i + 1], f);
        if (v.is_error()) return v;
        entries.emplace_back(std::move(k), std::move(v));
      }
      Value bad = CheckMapKeys(entries);
      if (bad.is_error()) return bad;
      return MakeMapUnchecked(std::move(entries));
    }
    case Op::kCall: {
      std::array<Value, 3> tmps;
      std::array<const Value*, 3> refs;
      const int argc = static_cast<int>(n.kids.size());
      for (int i = 0; i < argc; ++i) {
        refs[i] = &EvalRef(n.kids[i], f, tmps[i]);
        if (refs[i]->is_error()) return *refs[i];
      }
      if (n.fn == Fn::kSize && argc == 1) return CallFunction(n.fn, refs[0], 1, nullptr);
      // CallFunction takes a contiguous array: gather the arguments (rarely more than two).
      std::array<Value, 3> args;
      for (int i = 0; i < argc; ++i) {
        if (refs[i] != &tmps[i]) args[i] = *refs[i];
        else args[i] = std::move(tmps[i]);
      }
      return CallFunction(n.fn, args.data(), argc, n.regex.get());
    }
    case Op::kLoop: return EvalLoop(n, f);
    default: break;
  }
  // Strict binary operators: errors propagate, left first.
  Value atmp, btmp;
  const Value& a = EvalRef(n.kids[0], f, atmp);
  if (a.is_error()) return a;
  const Value& b = EvalRef(n.kids[1], f, btmp);
  if (b.is_error()) return b;
  switch (n.op) {
    case Op::kEq: return Value::Bool(Equal(a, b));
    case Op::kNe: return Value::Bool(!Equal(a, b));
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe: {
      Ordering o = Compare(a, b);
      if (o == Ordering::kNoOverload) {
        const Value args[] = {a, b};
        const char* name = n.op == Op::kLt ? "_<_" : n.op == Op::kLe ? "_<=_" : n.op == Op::kGt ? "_>_" : "_>=_";
        return NoSuchOverload(name, args, 2);
      }
      if (o == Ordering::kUnordered) return Value::Bool(false);
      switch (n.op) {
        case Op::kLt: return Value::Bool(o == Ordering::kLess);
        case Op::kLe: return Value::Bool(o != Ordering::kGreater);
        case Op::kGt: return Value::Bool(o == Ordering::kGreater);
        default: return Value::Bool(o != Ordering::kLess);
      }
    }
    case Op::kIn: return In(a, b);
    case Op::kIndex: return Index(a, b);
    case Op::kAdd: {
      const int64_t size = ContentSize(a) + ContentSize(b);
      if (size > 0 && !Charge(f, size / 8, n.pos)) return Exhausted();
      return Add(a, b);
    }
    case Op::kSub: return Subtract(a, b);
    case Op::kMul: return Multiply(a, b);
    case Op::kDiv: return Divide(a, b);
    case Op::kMod: return Modulo(a, b);
    default: return Value::Error(StatusCode::kInternal, "unknown operator");
  }
}

Value Eval(const Node& n, Frame& f) {
  if (!Charge(f, 1, n.pos)) return Exhausted();
  Value v = EvalNode(n, f);
  if (v.is_error() && !v.error().position.known()) return WithPosition(v, n.pos);
  return v;
}

}  // namespace

Value EvaluateProgram(const CompiledProgram& program, const Activation& activation) {
  constexpr int kInlineSlots = 8;
  std::array<Value, kInlineSlots> inline_slots;
  std::vector<Value> heap_slots;
  Value* slots = inline_slots.data();
  if (program.num_slots > kInlineSlots) {
    heap_slots.resize(static_cast<size_t>(program.num_slots));
    slots = heap_slots.data();
  }
  Frame frame{activation, slots, program.cost_limit, false, SourcePosition{}};
  Value result = Eval(program.root, frame);
  if (frame.exhausted) {
    return Value::Error(StatusCode::kResourceExhausted,
                        "evaluation cost limit of " + std::to_string(program.cost_limit) +
                            " steps exceeded (is a comprehension too large?)",
                        frame.exhausted_at);
  }
  return result;
}

}  // namespace sov::policy::cel::internal
