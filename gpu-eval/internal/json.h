// A small strict JSON reader and writer for gpu-eval, which must build without nlohmann-json
// (accelerator machines have none of the gateway's libraries). The reader takes RFC 8259 JSON
// only (no comments, no trailing commas, no NaN), bounds nesting depth, rejects duplicate keys,
// and reports the byte offset of the first error. Numbers keep their text so that integers up
// to 2^64 - 1 survive exactly. The writer emits canonical output: keys in insertion order,
// shortest round-trip doubles, "\uXXXX" escapes for control characters.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sov::gpu_eval::json {

class Value {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  Type type() const { return type_; }
  bool is_object() const { return type_ == Type::kObject; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_number() const { return type_ == Type::kNumber; }

  bool boolean() const { return bool_; }
  const std::string& string() const { return text_; }    // kString: the unescaped UTF-8
  const std::string& number_text() const { return text_; }  // kNumber: as written
  // kNumber that is a non-negative integer without fraction or exponent and fits in uint64.
  std::optional<uint64_t> as_uint64() const;
  std::optional<int64_t> as_int64() const;
  std::optional<double> as_double() const;

  const std::vector<Value>& array() const { return array_; }
  // kObject members in document order.
  const std::vector<std::pair<std::string, Value>>& members() const { return members_; }
  // The member called `key`, or nullptr (also when this is not an object).
  const Value* Find(std::string_view key) const;

 private:
  friend class Parser;
  Type type_ = Type::kNull;
  bool bool_ = false;
  std::string text_;
  std::vector<Value> array_;
  std::vector<std::pair<std::string, Value>> members_;
};

struct ParseLimits {
  size_t max_depth = 64;
  // false keeps every member of an object, for callers that check duplicates themselves and
  // name the duplicate in their own terms (the safetensors reader: "tensor 'NAME'").
  bool reject_duplicate_keys = true;
};

// INVALID_ARGUMENT "offset N: what" for anything but exactly one JSON value (whitespace around
// it allowed). Duplicate object keys are an error naming the key unless the limits allow them.
Result<Value> Parse(std::string_view text, const ParseLimits& limits = {});

// Streaming writer: builds compact (indent < 0) or indented output. The caller nests
// Begin/End calls correctly; Key() precedes each value inside an object.
class Writer {
 public:
  explicit Writer(int indent = -1) : indent_(indent) {}

  Writer& BeginObject();
  Writer& EndObject();
  Writer& BeginArray();
  Writer& EndArray();
  Writer& Key(std::string_view key);
  Writer& String(std::string_view value);
  Writer& Int(int64_t value);
  Writer& Uint(uint64_t value);
  Writer& Double(double value);  // shortest round-trip; NaN/Inf are written as null
  Writer& Bool(bool value);
  Writer& Null();

  const std::string& str() const { return out_; }

 private:
  void BeforeValue();
  void NewLine();

  int indent_;
  std::string out_;
  std::vector<bool> first_in_scope_;  // one per open object/array
  bool after_key_ = false;
};

// `text` as a JSON string literal, quotes included.
std::string Quote(std::string_view text);

}  // namespace sov::gpu_eval::json
