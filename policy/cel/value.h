// Value: one CEL value as the CEL subset engine computes it, and the way callers (the policy
// engine) hand it input. A Value is a 16-byte tagged union: null, bool, int (int64), uint
// (uint64), double, string, bytes, list, map, struct (a named record of fields), timestamp,
// duration, type, or error. Strings, bytes, lists, maps, structs, types and errors live in
// immutable heap objects shared by reference count, so that copying a Value never copies its
// contents. A Value is immutable once built: any number of threads may read, copy and destroy
// Values that share contents (the reference count is atomic).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sov::policy::cel {

enum class Kind : uint8_t {
  kNull,
  kBool,
  kInt,
  kUint,
  kDouble,
  kString,
  kBytes,
  kList,
  kMap,
  kStruct,
  kTimestamp,
  kDuration,
  kType,
  kError,
};

// Returns the CEL name of a kind's type ("int", "google.protobuf.Timestamp", ...).
std::string_view KindName(Kind kind);

// A place in an expression's source text: 1-based line and column, where the column counts
// Unicode code points from the start of the line. {0, 0} means "unknown".
struct SourcePosition {
  int32_t line = 0;
  int32_t column = 0;
  bool known() const { return line > 0; }
  friend bool operator==(const SourcePosition&, const SourcePosition&) = default;
};

// What an error value carries: a canonical code (kInvalidArgument for type and lookup errors,
// kOutOfRange for overflow and range errors, kResourceExhausted for exceeded limits), a message
// for humans, and where in the expression it arose.
struct ErrorInfo {
  StatusCode code = StatusCode::kInvalidArgument;
  std::string message;
  SourcePosition position;
};

// Timestamps range over 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z, as
// google.protobuf.Timestamp does; durations over what int64 nanoseconds hold (about +-292
// years), as the CEL specification's conformance tests require.
inline constexpr int64_t kMinTimestampSeconds = -62135596800;
inline constexpr int64_t kMaxTimestampSeconds = 253402300799;

namespace internal {
struct HeapObject;
struct ValueAccess;
}  // namespace internal

class Value {
 public:
  using Entry = std::pair<Value, Value>;

  // Null.
  Value() : kind_(Kind::kNull), nanos_(0), i_(0) {}
  Value(const Value& other);
  Value(Value&& other) noexcept;
  Value& operator=(const Value& other);
  Value& operator=(Value&& other) noexcept;
  ~Value();

  static Value Null() { return Value(); }
  static Value Bool(bool b);
  static Value Int(int64_t i);
  static Value Uint(uint64_t u);
  static Value Double(double d);
  // Makes a string value. `s` should be valid UTF-8; use Bytes for arbitrary octets.
  static Value String(std::string s);
  static Value Bytes(std::string b);
  static Value List(std::vector<Value> elements);
  static Value StringList(const std::vector<std::string>& elements);
  // Makes a map. Keys must be bool, int, uint or string and unique under CEL equality (1 and 1u
  // are the same key); otherwise returns InvalidArgument naming the offending key.
  static Result<Value> Map(std::vector<Entry> entries);
  // Makes a map with string keys, as decoded JSON or YAML objects are; never fails.
  static Value StringMap(const std::map<std::string, Value>& entries);
  static Value StringMap(const std::map<std::string, std::string>& entries);
  // Makes a struct: a record named `type_name` whose fields are selected with `.name` and tested
  // with has(). Selecting a field that is absent is an error; later duplicates of a name win.
  static Value Struct(std::string type_name, std::vector<std::pair<std::string, Value>> fields);
  // Makes a timestamp, or an kOutOfRange error value when outside the supported range.
  // `nanos` must be in [0, 1e9).
  static Value Timestamp(int64_t seconds, int32_t nanos = 0);
  static Value FromTime(std::chrono::system_clock::time_point t);
  // Makes a duration, or an kOutOfRange error value. `nanos` has the sign of `seconds` (or
  // either sign when seconds is 0) and magnitude below 1e9.
  static Value Duration(int64_t seconds, int32_t nanos = 0);
  static Value FromDuration(std::chrono::nanoseconds d);
  // Makes a type value ("int", "list", "google.protobuf.Timestamp", a struct's type name).
  static Value Type(std::string_view name);
  static Value Error(StatusCode code, std::string message, SourcePosition position = {});

  Kind kind() const { return kind_; }
  bool is_error() const { return kind_ == Kind::kError; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_true() const { return kind_ == Kind::kBool && b_; }
  bool is_false() const { return kind_ == Kind::kBool && !b_; }

  // Accessors; calling one for another kind is a programming error (assert).
  bool bool_value() const;
  int64_t int_value() const;
  uint64_t uint_value() const;
  double double_value() const;
  // The UTF-8 text of a string, the octets of bytes, or the name of a type.
  std::string_view string_value() const;
  const std::vector<Value>& list_value() const;
  // Map entries, or struct fields (string keys), in insertion order.
  const std::vector<Entry>& map_entries() const;
  std::string_view struct_type() const;
  // Seconds and nanoseconds of a timestamp (since the Unix epoch) or duration.
  int64_t seconds() const;
  int32_t nanos() const;
  const ErrorInfo& error() const;

  // Looks up `key` in a map with CEL's key equality (numeric keys compare across int, uint and
  // double). Returns nullptr when absent, or when this is not a map.
  const Value* Find(const Value& key) const;
  // Looks up a string key in a map or a field in a struct; nullptr when absent.
  const Value* FindField(std::string_view name) const;

  // Returns a human-readable rendering in CEL syntax, e.g. `{"a": [1, 2u, 3.0]}`.
  std::string DebugString() const;

 private:
  friend struct internal::ValueAccess;
  Value(Kind kind, internal::HeapObject* object) : kind_(kind), nanos_(0), p_(object) {}
  bool has_heap() const { return kind_ >= Kind::kString && kind_ != Kind::kTimestamp &&
                                 kind_ != Kind::kDuration; }
  void Retain() const;
  void Release();

  Kind kind_;
  int32_t nanos_;  // timestamps and durations
  union {
    bool b_;
    int64_t i_;  // int, and the seconds of timestamps and durations
    uint64_t u_;
    double d_;
    internal::HeapObject* p_;
  };
};

// Returns CEL equality of two non-error values: numbers compare by value across int, uint and
// double (NaN equals nothing), lists and maps element-wise, values of different types are
// unequal. Errors are unequal to everything.
bool Equal(const Value& a, const Value& b);

}  // namespace sov::policy::cel
