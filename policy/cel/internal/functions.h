// The CEL operators and standard functions over Values: equality and ordering across numeric
// types, checked int64/uint64 arithmetic, timestamp and duration arithmetic, indexing,
// membership, field selection, conversions, string functions and time getters. Internal to
// the evaluator. Every function is pure and thread-safe; failures are returned as error
// Values (kInvalidArgument for "no such overload" and lookups, kOutOfRange for overflow).
#pragma once

#include <cstdint>
#include <string_view>

#include "policy/cel/value.h"

namespace re2 {
class RE2;
}

namespace sov::policy::cel::internal {

enum class Fn : uint8_t {
  kSize,
  kContains,
  kStartsWith,
  kEndsWith,
  kMatches,
  kInt,
  kUint,
  kDouble,
  kString,
  kBytes,
  kBool,
  kDyn,
  kType,
  kTimestamp,
  kDuration,
  kGetFullYear,
  kGetMonth,
  kGetDate,
  kGetDayOfMonth,
  kGetDayOfWeek,
  kGetDayOfYear,
  kGetHours,
  kGetMinutes,
  kGetSeconds,
  kGetMilliseconds,
};

// How a function may be called: name, whether it takes a receiver (`x.f()`), and how many
// arguments besides the receiver.
struct FunctionSpec {
  std::string_view name;
  bool receiver;
  int min_args;
  int max_args;
  Fn fn;
};

// Returns the spec matching a call, or nullptr. `*name_known` tells whether any overload of
// that name exists (to tell "unknown function" from "wrong arguments").
const FunctionSpec* FindFunction(std::string_view name, bool receiver, int args, bool* name_known);

// Returns an error Value "no such overload" naming the function and argument kinds.
Value NoSuchOverload(std::string_view function, const Value* args, int n);

enum class Ordering : uint8_t { kLess, kEqual, kGreater, kUnordered, kNoOverload };
// Orders two values of comparable types (numbers across types, strings, bytes, bools,
// timestamps, durations); kUnordered for NaN, kNoOverload for other types.
Ordering Compare(const Value& a, const Value& b);

Value Add(const Value& a, const Value& b);
Value Subtract(const Value& a, const Value& b);
Value Multiply(const Value& a, const Value& b);
Value Divide(const Value& a, const Value& b);
Value Modulo(const Value& a, const Value& b);
Value Negate(const Value& a);
Value In(const Value& element, const Value& container);
Value Index(const Value& container, const Value& index);
// Selects field `name` of a map (string key) or struct; errors when absent or unsupported.
Value Select(const Value& operand, std::string_view name);
// has(): whether a map or struct has the field; errors for other kinds.
Value Has(const Value& operand, std::string_view name);
// Calls a standard function; `args[0]` is the receiver for receiver-style calls. `regex` is a
// precompiled pattern for matches() with a constant pattern, or nullptr.
Value CallFunction(Fn fn, const Value* args, int n, const re2::RE2* regex);

// Formats a double as CEL's string() conversion does (Go's %g: "1e+06", "0.0045").
std::string FormatDouble(double d);
// Returns the size in bytes of the contents of a string, bytes or list (elements), for cost
// accounting; 0 for other kinds.
int64_t ContentSize(const Value& v);

}  // namespace sov::policy::cel::internal
