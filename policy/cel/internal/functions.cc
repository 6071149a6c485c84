#include "policy/cel/internal/functions.h"

#include <re2/re2.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "common/utf8.h"
#include "policy/cel/internal/heap.h"
#include "policy/cel/internal/lexer.h"
#include "policy/cel/internal/time.h"

namespace sov::policy::cel {

bool Equal(const Value& a, const Value& b) {
  using internal::Compare;
  using internal::Ordering;
  const Kind ka = a.kind(), kb = b.kind();
  const bool na = ka == Kind::kInt || ka == Kind::kUint || ka == Kind::kDouble;
  const bool nb = kb == Kind::kInt || kb == Kind::kUint || kb == Kind::kDouble;
  if (na && nb) return Compare(a, b) == Ordering::kEqual;
  if (ka != kb) return false;
  switch (ka) {
    case Kind::kNull: return true;
    case Kind::kBool: return a.bool_value() == b.bool_value();
    case Kind::kString:
    case Kind::kBytes:
    case Kind::kType: return a.string_value() == b.string_value();
    case Kind::kTimestamp:
    case Kind::kDuration: return a.seconds() == b.seconds() && a.nanos() == b.nanos();
    case Kind::kList: {
      const auto& x = a.list_value();
      const auto& y = b.list_value();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!Equal(x[i], y[i])) return false;
      }
      return true;
    }
    case Kind::kStruct:
      if (a.struct_type() != b.struct_type()) return false;
      [[fallthrough]];
    case Kind::kMap: {
      const auto& x = a.map_entries();
      if (x.size() != b.map_entries().size()) return false;
      for (const auto& [k, v] : x) {
        const Value* other = b.Find(k);
        if (other == nullptr || !Equal(v, *other)) return false;
      }
      return true;
    }
    default: return false;
  }
}

namespace internal {
namespace {

constexpr int64_t kNanos = 1000000000;

Value Err(std::string message) { return Value::Error(StatusCode::kInvalidArgument, std::move(message)); }
Value Overflow(std::string_view what) {
  return Value::Error(StatusCode::kOutOfRange, std::string(what) + " overflow");
}

bool IsNumber(Kind k) { return k == Kind::kInt || k == Kind::kUint || k == Kind::kDouble; }

template <typename T>
Ordering Cmp(T a, T b) {
  if (a < b) return Ordering::kLess;
  if (b < a) return Ordering::kGreater;
  return Ordering::kEqual;
}

Ordering CmpDouble(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return Ordering::kUnordered;
  return Cmp(a, b);
}

Ordering Flip(Ordering o) {
  if (o == Ordering::kLess) return Ordering::kGreater;
  if (o == Ordering::kGreater) return Ordering::kLess;
  return o;
}

Ordering CmpIntUint(int64_t i, uint64_t u) {
  if (i < 0) return Ordering::kLess;
  return Cmp(static_cast<uint64_t>(i), u);
}

Int128 TotalNanos(const Value& v) { return static_cast<Int128>(v.seconds()) * kNanos + v.nanos(); }

Value TimestampFromNanos(Int128 total) {
  Int128 s = total / kNanos;
  Int128 n = total % kNanos;
  if (n < 0) {
    n += kNanos;
    s -= 1;
  }
  if (s < kMinTimestampSeconds || s > kMaxTimestampSeconds) {
    return Value::Error(StatusCode::kOutOfRange, "timestamp out of range");
  }
  return Value::Timestamp(static_cast<int64_t>(s), static_cast<int32_t>(n));
}

Value DurationFromNanos(Int128 total) {
  if (total > std::numeric_limits<int64_t>::max() || total < std::numeric_limits<int64_t>::min()) {
    return Value::Error(StatusCode::kOutOfRange, "duration out of range");
  }
  return Value::Duration(static_cast<int64_t>(total / kNanos), static_cast<int32_t>(total % kNanos));
}

std::string KindList(const Value* args, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (i) out += ", ";
    out += KindName(args[i].kind());
  }
  return out;
}

}  // namespace

Value NoSuchOverload(std::string_view function, const Value* args, int n) {
  return Err("no such overload: " + std::string(function) + "(" + KindList(args, n) + ")");
}

Ordering Compare(const Value& a, const Value& b) {
  const Kind ka = a.kind(), kb = b.kind();
  if (IsNumber(ka) && IsNumber(kb)) {
    if (ka == Kind::kInt) {
      if (kb == Kind::kInt) return Cmp(a.int_value(), b.int_value());
      if (kb == Kind::kUint) return CmpIntUint(a.int_value(), b.uint_value());
      return CmpDouble(static_cast<double>(a.int_value()), b.double_value());
    }
    if (ka == Kind::kUint) {
      if (kb == Kind::kUint) return Cmp(a.uint_value(), b.uint_value());
      if (kb == Kind::kInt) return Flip(CmpIntUint(b.int_value(), a.uint_value()));
      return CmpDouble(static_cast<double>(a.uint_value()), b.double_value());
    }
    double y = kb == Kind::kDouble ? b.double_value()
               : kb == Kind::kInt  ? static_cast<double>(b.int_value())
                                   : static_cast<double>(b.uint_value());
    return CmpDouble(a.double_value(), y);
  }
  if (ka != kb) return Ordering::kNoOverload;
  switch (ka) {
    case Kind::kBool: return Cmp(a.bool_value(), b.bool_value());
    case Kind::kString:
    case Kind::kBytes: {
      int c = a.string_value().compare(b.string_value());
      return c < 0 ? Ordering::kLess : c > 0 ? Ordering::kGreater : Ordering::kEqual;
    }
    case Kind::kTimestamp:
    case Kind::kDuration: return Cmp(TotalNanos(a), TotalNanos(b));
    default: return Ordering::kNoOverload;
  }
}

Value Add(const Value& a, const Value& b) {
  const Kind ka = a.kind(), kb = b.kind();
  if (ka == kb) {
    switch (ka) {
      case Kind::kInt: {
        int64_t r;
        if (__builtin_add_overflow(a.int_value(), b.int_value(), &r)) return Overflow("int");
        return Value::Int(r);
      }
      case Kind::kUint: {
        uint64_t r;
        if (__builtin_add_overflow(a.uint_value(), b.uint_value(), &r)) return Overflow("uint");
        return Value::Uint(r);
      }
      case Kind::kDouble: return Value::Double(a.double_value() + b.double_value());
      case Kind::kString: {
        std::string s(a.string_value());
        s += b.string_value();
        return Value::String(std::move(s));
      }
      case Kind::kBytes: {
        std::string s(a.string_value());
        s += b.string_value();
        return Value::Bytes(std::move(s));
      }
      case Kind::kList: {
        if (b.list_value().empty()) return a;
        if (a.list_value().empty()) return b;
        std::vector<Value> out;
        out.reserve(a.list_value().size() + b.list_value().size());
        out.insert(out.end(), a.list_value().begin(), a.list_value().end());
        out.insert(out.end(), b.list_value().begin(), b.list_value().end());
        return Value::List(std::move(out));
      }
      case Kind::kDuration: return DurationFromNanos(TotalNanos(a) + TotalNanos(b));
      default: break;
    }
  }
  if (ka == Kind::kTimestamp && kb == Kind::kDuration) return TimestampFromNanos(TotalNanos(a) + TotalNanos(b));
  if (ka == Kind::kDuration && kb == Kind::kTimestamp) return TimestampFromNanos(TotalNanos(a) + TotalNanos(b));
  const Value args[] = {a, b};
  return NoSuchOverload("_+_", args, 2);
}

Value Subtract(const Value& a, const Value& b) {
  const Kind ka = a.kind(), kb = b.kind();
  if (ka == kb) {
    switch (ka) {
      case Kind::kInt: {
        int64_t r;
        if (__builtin_sub_overflow(a.int_value(), b.int_value(), &r)) return Overflow("int");
        return Value::Int(r);
      }
      case Kind::kUint: {
        uint64_t r;
        if (__builtin_sub_overflow(a.uint_value(), b.uint_value(), &r)) return Overflow("uint");
        return Value::Uint(r);
      }
      case Kind::kDouble: return Value::Double(a.double_value() - b.double_value());
      case Kind::kDuration: return DurationFromNanos(TotalNanos(a) - TotalNanos(b));
      case Kind::kTimestamp: return DurationFromNanos(TotalNanos(a) - TotalNanos(b));
      default: break;
    }
  }
  if (ka == Kind::kTimestamp && kb == Kind::kDuration) return TimestampFromNanos(TotalNanos(a) - TotalNanos(b));
  const Value args[] = {a, b};
  return NoSuchOverload("_-_", args, 2);
}

Value Multiply(const Value& a, const Value& b) {
  const Kind ka = a.kind();
  if (ka == b.kind()) {
    if (ka == Kind::kInt) {
      int64_t r;
      if (__builtin_mul_overflow(a.int_value(), b.int_value(), &r)) return Overflow("int");
      return Value::Int(r);
    }
    if (ka == Kind::kUint) {
      uint64_t r;
      if (__builtin_mul_overflow(a.uint_value(), b.uint_value(), &r)) return Overflow("uint");
      return Value::Uint(r);
    }
    if (ka == Kind::kDouble) return Value::Double(a.double_value() * b.double_value());
  }
  const Value args[] = {a, b};
  return NoSuchOverload("_*_", args, 2);
}

Value Divide(const Value& a, const Value& b) {
  const Kind ka = a.kind();
  if (ka == b.kind()) {
    if (ka == Kind::kInt) {
      if (b.int_value() == 0) return Err("division by zero");
      if (a.int_value() == std::numeric_limits<int64_t>::min() && b.int_value() == -1) return Overflow("int");
      return Value::Int(a.int_value() / b.int_value());
    }
    if (ka == Kind::kUint) {
      if (b.uint_value() == 0) return Err("division by zero");
      return Value::Uint(a.uint_value() / b.uint_value());
    }
    if (ka == Kind::kDouble) return Value::Double(a.double_value() / b.double_value());
  }
  const Value args[] = {a, b};
  return NoSuchOverload("_/_", args, 2);
}

Value Modulo(const Value& a, const Value& b) {
  const Kind ka = a.kind();
  if (ka == b.kind()) {
    if (ka == Kind::kInt) {
      if (b.int_value() == 0) return Err("modulus by zero");
      if (a.int_value() == std::numeric_limits<int64_t>::min() && b.int_value() == -1) return Overflow("int");
      return Value::Int(a.int_value() % b.int_value());
    }
    if (ka == Kind::kUint) {
      if (b.uint_value() == 0) return Err("modulus by zero");
      return Value::Uint(a.uint_value() % b.uint_value());
    }
  }
  const Value args[] = {a, b};
  return NoSuchOverload("_%_", args, 2);
}

Value Negate(const Value& a) {
  if (a.kind() == Kind::kInt) {
    if (a.int_value() == std::numeric_limits<int64_t>::min()) return Overflow("int");
    return Value::Int(-a.int_value());
  }
  if (a.kind() == Kind::kDouble) return Value::Double(-a.double_value());
  if (a.kind() == Kind::kDuration) return DurationFromNanos(-TotalNanos(a));
  return NoSuchOverload("-_", &a, 1);
}

Value In(const Value& element, const Value& container) {
  if (container.kind() == Kind::kList) {
    for (const Value& v : container.list_value()) {
      if (Equal(element, v)) return Value::Bool(true);
    }
    return Value::Bool(false);
  }
  if (container.kind() == Kind::kMap) return Value::Bool(container.Find(element) != nullptr);
  const Value args[] = {element, container};
  return NoSuchOverload("@in", args, 2);
}

Value Index(const Value& container, const Value& index) {
  if (container.kind() == Kind::kList) {
    const auto& list = container.list_value();
    int64_t i;
    switch (index.kind()) {
      case Kind::kInt: i = index.int_value(); break;
      case Kind::kUint:
        if (index.uint_value() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return Err("index out of bounds: " + index.DebugString());
        }
        i = static_cast<int64_t>(index.uint_value());
        break;
      case Kind::kDouble: {
        double d = index.double_value();
        if (!(d == std::trunc(d)) || d < -9.2e18 || d > 9.2e18) {
          return Err("invalid list index " + index.DebugString() + ": not an integer");
        }
        i = static_cast<int64_t>(d);
        break;
      }
      default: {
        const Value args[] = {container, index};
        return NoSuchOverload("_[_]", args, 2);
      }
    }
    if (i < 0 || static_cast<uint64_t>(i) >= list.size()) {
      return Err("index out of bounds: " + std::to_string(i) + " (list size " +
                 std::to_string(list.size()) + ")");
    }
    return list[static_cast<size_t>(i)];
  }
  if (container.kind() == Kind::kMap) {
    if (const Value* v = container.Find(index)) return *v;
    return Err("no such key: " + index.DebugString().substr(0, 256));
  }
  if (container.kind() == Kind::kStruct && index.kind() == Kind::kString) {
    return Select(container, index.string_value());
  }
  const Value args[] = {container, index};
  return NoSuchOverload("_[_]", args, 2);
}

Value Select(const Value& operand, std::string_view name) {
  if (operand.kind() == Kind::kMap) {
    if (const Value* v = operand.FindField(name)) return *v;
    return Err("no such key: '" + std::string(name) + "'");
  }
  if (operand.kind() == Kind::kStruct) {
    if (const Value* v = operand.FindField(name)) return *v;
    return Err("no such field '" + std::string(name) + "' in " + std::string(operand.struct_type()));
  }
  return Err("type '" + std::string(KindName(operand.kind())) + "' does not support field selection ('." +
             std::string(name) + "')");
}

Value Has(const Value& operand, std::string_view name) {
  if (operand.kind() == Kind::kMap || operand.kind() == Kind::kStruct) {
    return Value::Bool(operand.FindField(name) != nullptr);
  }
  return Err("has() does not apply to type '" + std::string(KindName(operand.kind())) + "'");
}

std::string FormatDouble(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  if (d == 0) return std::signbit(d) ? "-0" : "0";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, r.ptr);  // e.g. "-4.5e-03"
  size_t e = sci.find('e');
  int exp = std::atoi(sci.c_str() + e + 1);
  std::string mantissa = sci.substr(0, e);
  bool negative = mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits += c;
  }
  std::string out = negative ? "-" : "";
  if (exp < -4 || exp >= 21) {
    // Go's %g switches to exponent form at 1e21 for shortest output.
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    out += eb;
  } else if (exp < 0) {
    out += "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
  } else if (static_cast<size_t>(exp) + 1 >= digits.size()) {
    out += digits + std::string(static_cast<size_t>(exp) + 1 - digits.size(), '0');
  } else {
    out += digits.substr(0, static_cast<size_t>(exp) + 1) + "." + digits.substr(static_cast<size_t>(exp) + 1);
  }
  return out;
}

int64_t ContentSize(const Value& v) {
  switch (v.kind()) {
    case Kind::kString:
    case Kind::kBytes: return static_cast<int64_t>(v.string_value().size());
    case Kind::kList: return static_cast<int64_t>(v.list_value().size());
    default: return 0;
  }
}

namespace {

constexpr FunctionSpec kFunctions[] = {
    {"size", false, 1, 1, Fn::kSize},
    {"size", true, 0, 0, Fn::kSize},
    {"contains", true, 1, 1, Fn::kContains},
    {"startsWith", true, 1, 1, Fn::kStartsWith},
    {"endsWith", true, 1, 1, Fn::kEndsWith},
    {"matches", true, 1, 1, Fn::kMatches},
    {"matches", false, 2, 2, Fn::kMatches},
    {"int", false, 1, 1, Fn::kInt},
    {"uint", false, 1, 1, Fn::kUint},
    {"double", false, 1, 1, Fn::kDouble},
    {"string", false, 1, 1, Fn::kString},
    {"bytes", false, 1, 1, Fn::kBytes},
    {"bool", false, 1, 1, Fn::kBool},
    {"dyn", false, 1, 1, Fn::kDyn},
    {"type", false, 1, 1, Fn::kType},
    {"timestamp", false, 1, 1, Fn::kTimestamp},
    {"duration", false, 1, 1, Fn::kDuration},
    {"getFullYear", true, 0, 1, Fn::kGetFullYear},
    {"getMonth", true, 0, 1, Fn::kGetMonth},
    {"getDate", true, 0, 1, Fn::kGetDate},
    {"getDayOfMonth", true, 0, 1, Fn::kGetDayOfMonth},
    {"getDayOfWeek", true, 0, 1, Fn::kGetDayOfWeek},
    {"getDayOfYear", true, 0, 1, Fn::kGetDayOfYear},
    {"getHours", true, 0, 1, Fn::kGetHours},
    {"getMinutes", true, 0, 1, Fn::kGetMinutes},
    {"getSeconds", true, 0, 1, Fn::kGetSeconds},
    {"getMilliseconds", true, 0, 1, Fn::kGetMilliseconds},
};

std::string_view FnName(Fn fn) {
  for (const auto& spec : kFunctions) {
    if (spec.fn == fn && !spec.name.empty()) return spec.name;
  }
  return "function";
}

Value ToInt(const Value& v) {
  switch (v.kind()) {
    case Kind::kInt: return v;
    case Kind::kUint:
      if (v.uint_value() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Value::Error(StatusCode::kOutOfRange, "int() range error: " + v.DebugString());
      }
      return Value::Int(static_cast<int64_t>(v.uint_value()));
    case Kind::kDouble: {
      double d = v.double_value();
      // Both ends are excluded: -2^63 and 2^63 are where double precision stops telling
      // in-range values from overflowed ones.
      if (!(d > -9223372036854775808.0 && d < 9223372036854775808.0)) {
        return Value::Error(StatusCode::kOutOfRange, "int() range error: " + v.DebugString());
      }
      return Value::Int(static_cast<int64_t>(d));
    }
    case Kind::kString: {
      std::string_view s = v.string_value();
      int64_t out;
      auto r = std::from_chars(s.data(), s.data() + s.size(), out);
      if (r.ec != std::errc() || r.ptr != s.data() + s.size()) {
        return Err("int() cannot convert string '" + std::string(s.substr(0, 64)) + "'");
      }
      return Value::Int(out);
    }
    case Kind::kTimestamp: return Value::Int(v.seconds());
    default: return NoSuchOverload("int", &v, 1);
  }
}

Value ToUint(const Value& v) {
  switch (v.kind()) {
    case Kind::kUint: return v;
    case Kind::kInt:
      if (v.int_value() < 0) return Value::Error(StatusCode::kOutOfRange, "uint() range error: " + v.DebugString());
      return Value::Uint(static_cast<uint64_t>(v.int_value()));
    case Kind::kDouble: {
      double d = v.double_value();
      if (!(d > -1.0 && d < 18446744073709551616.0)) {
        return Value::Error(StatusCode::kOutOfRange, "uint() range error: " + v.DebugString());
      }
      return Value::Uint(static_cast<uint64_t>(d));
    }
    case Kind::kString: {
      std::string_view s = v.string_value();
      uint64_t out;
      auto r = std::from_chars(s.data(), s.data() + s.size(), out);
      if (r.ec != std::errc() || r.ptr != s.data() + s.size()) {
        return Err("uint() cannot convert string '" + std::string(s.substr(0, 64)) + "'");
      }
      return Value::Uint(out);
    }
    default: return NoSuchOverload("uint", &v, 1);
  }
}

Value ToDouble(const Value& v) {
  switch (v.kind()) {
    case Kind::kDouble: return v;
    case Kind::kInt: return Value::Double(static_cast<double>(v.int_value()));
    case Kind::kUint: return Value::Double(static_cast<double>(v.uint_value()));
    case Kind::kString: {
      std::string s(v.string_value());
      if (s.empty() || std::isspace(static_cast<unsigned char>(s[0])) || s.size() > 400) {
        return Err("double() cannot convert string '" + s.substr(0, 64) + "'");
      }
      char* end = nullptr;
      double d = std::strtod(s.c_str(), &end);
      if (end != s.c_str() + s.size()) return Err("double() cannot convert string '" + s.substr(0, 64) + "'");
      return Value::Double(d);
    }
    default: return NoSuchOverload("double", &v, 1);
  }
}

Value ToStringValue(const Value& v) {
  switch (v.kind()) {
    case Kind::kString: return v;
    case Kind::kInt: return Value::String(std::to_string(v.int_value()));
    case Kind::kUint: return Value::String(std::to_string(v.uint_value()));
    case Kind::kDouble: return Value::String(FormatDouble(v.double_value()));
    case Kind::kBool: return Value::String(v.bool_value() ? "true" : "false");
    case Kind::kBytes:
      if (!IsValidUtf8(v.string_value())) return Err("string() of bytes that are not valid UTF-8");
      return Value::String(std::string(v.string_value()));
    case Kind::kTimestamp: return Value::String(FormatTimestamp(v.seconds(), v.nanos()));
    case Kind::kDuration: return Value::String(FormatDuration(v.seconds(), v.nanos()));
    case Kind::kType: return Value::String(std::string(v.string_value()));
    default: return NoSuchOverload("string", &v, 1);
  }
}

Value ToBool(const Value& v) {
  if (v.kind() == Kind::kBool) return v;
  if (v.kind() == Kind::kString) {
    std::string_view s = v.string_value();
    if (s == "1" || s == "t" || s == "true" || s == "TRUE" || s == "True") return Value::Bool(true);
    if (s == "0" || s == "f" || s == "false" || s == "FALSE" || s == "False") return Value::Bool(false);
    return Err("bool() cannot convert string '" + std::string(s.substr(0, 64)) + "'");
  }
  return NoSuchOverload("bool", &v, 1);
}

Value TypeOf(const Value& v) {
  if (v.kind() == Kind::kStruct) return Value::Type(v.struct_type());
  return Value::Type(KindName(v.kind()));
}

Value Matches(const Value& text, const Value& pattern, const re2::RE2* regex) {
  if (text.kind() != Kind::kString || pattern.kind() != Kind::kString) {
    const Value args[] = {text, pattern};
    return NoSuchOverload("matches", args, 2);
  }
  if (regex != nullptr) return Value::Bool(re2::RE2::PartialMatch(text.string_value(), *regex));
  re2::RE2::Options options;
  options.set_log_errors(false);
  re2::RE2 re(pattern.string_value(), options);
  if (!re.ok()) return Err("invalid regular expression '" + std::string(pattern.string_value().substr(0, 64)) + "': " + re.error());
  return Value::Bool(re2::RE2::PartialMatch(text.string_value(), re));
}

Value TimeGetter(Fn fn, const Value* args, int n) {
  const Value& t = args[0];
  if (t.kind() == Kind::kDuration && n == 1) {
    const Int128 total = TotalNanos(t);
    switch (fn) {
      case Fn::kGetHours: return Value::Int(static_cast<int64_t>(total / (3600 * kNanos)));
      case Fn::kGetMinutes: return Value::Int(static_cast<int64_t>(total / (60 * kNanos)));
      case Fn::kGetSeconds: return Value::Int(static_cast<int64_t>(total / kNanos));
      case Fn::kGetMilliseconds: return Value::Int(static_cast<int64_t>(total % kNanos / 1000000));
      default: return NoSuchOverload(FnName(fn), args, n);
    }
  }
  if (t.kind() != Kind::kTimestamp || (n == 2 && args[1].kind() != Kind::kString)) {
    return NoSuchOverload(FnName(fn), args, n);
  }
  int64_t seconds = t.seconds();
  if (n == 2) {
    Result<int64_t> offset = TimeZoneOffset(args[1].string_value(), seconds);
    if (!offset.ok()) return Err(offset.status().message());
    seconds += *offset;
  }
  const CivilTime c = ToCivil(seconds);
  switch (fn) {
    case Fn::kGetFullYear: return Value::Int(c.year);
    case Fn::kGetMonth: return Value::Int(c.month - 1);
    case Fn::kGetDate: return Value::Int(c.day);
    case Fn::kGetDayOfMonth: return Value::Int(c.day - 1);
    case Fn::kGetDayOfWeek: return Value::Int(c.day_of_week);
    case Fn::kGetDayOfYear: return Value::Int(c.day_of_year);
    case Fn::kGetHours: return Value::Int(c.hour);
    case Fn::kGetMinutes: return Value::Int(c.minute);
    case Fn::kGetSeconds: return Value::Int(c.second);
    case Fn::kGetMilliseconds: return Value::Int(t.nanos() / 1000000);
    default: return NoSuchOverload(FnName(fn), args, n);
  }
}

}  // namespace

const FunctionSpec* FindFunction(std::string_view name, bool receiver, int args, bool* name_known) {
  *name_known = false;
  for (const auto& spec : kFunctions) {
    if (spec.name.empty() || spec.name != name) continue;
    *name_known = true;
    if (spec.receiver == receiver && args >= spec.min_args && args <= spec.max_args) return &spec;
  }
  return nullptr;
}

Value CallFunction(Fn fn, const Value* args, int n, const re2::RE2* regex) {
  const Value& a = args[0];
  switch (fn) {
    case Fn::kSize:
      switch (a.kind()) {
        case Kind::kString: return Value::Int(static_cast<int64_t>(CodePoints(a.string_value())));
        case Kind::kBytes: return Value::Int(static_cast<int64_t>(a.string_value().size()));
        case Kind::kList: return Value::Int(static_cast<int64_t>(a.list_value().size()));
        case Kind::kMap: return Value::Int(static_cast<int64_t>(a.map_entries().size()));
        default: return NoSuchOverload("size", args, n);
      }
    case Fn::kContains:
    case Fn::kStartsWith:
    case Fn::kEndsWith: {
      if (a.kind() != Kind::kString || args[1].kind() != Kind::kString) return NoSuchOverload(FnName(fn), args, n);
      std::string_view s = a.string_value(), t = args[1].string_value();
      if (fn == Fn::kContains) return Value::Bool(s.find(t) != std::string_view::npos);
      if (fn == Fn::kStartsWith) return Value::Bool(s.substr(0, t.size()) == t);
      return Value::Bool(s.size() >= t.size() && s.substr(s.size() - t.size()) == t);
    }
    case Fn::kMatches: return Matches(a, args[1], regex);
    case Fn::kInt: return ToInt(a);
    case Fn::kUint: return ToUint(a);
    case Fn::kDouble: return ToDouble(a);
    case Fn::kString: return ToStringValue(a);
    case Fn::kBytes:
      if (a.kind() == Kind::kBytes) return a;
      if (a.kind() == Kind::kString) return Value::Bytes(std::string(a.string_value()));
      return NoSuchOverload("bytes", args, n);
    case Fn::kBool: return ToBool(a);
    case Fn::kDyn: return a;
    case Fn::kType: return TypeOf(a);
    case Fn::kTimestamp:
      if (a.kind() == Kind::kTimestamp) return a;
      if (a.kind() == Kind::kString) return ParseTimestamp(a.string_value());
      if (a.kind() == Kind::kInt) return Value::Timestamp(a.int_value(), 0);
      return NoSuchOverload("timestamp", args, n);
    case Fn::kDuration:
      if (a.kind() == Kind::kDuration) return a;
      if (a.kind() == Kind::kString) return ParseDuration(a.string_value());
      return NoSuchOverload("duration", args, n);
    default: return TimeGetter(fn, args, n);
  }
}

}  // namespace internal
}  // namespace sov::policy::cel
