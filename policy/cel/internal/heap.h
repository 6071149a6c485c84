// The shared immutable objects behind string, bytes, list, map, struct, type and error Values,
// and the map key normalisation that makes 1, 1u and 1.0 the same key. Internal to the CEL
// engine. Objects are immutable after construction; the reference count is atomic.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/cel/value.h"

namespace sov::policy::cel::internal {

struct HeapObject {
  std::atomic<int32_t> refs{1};
  virtual ~HeapObject() = default;
};

struct StringObject final : HeapObject {
  explicit StringObject(std::string s) : text(std::move(s)) {}
  std::string text;
};

struct ListObject final : HeapObject {
  explicit ListObject(std::vector<Value> e) : elements(std::move(e)) {}
  std::vector<Value> elements;
};

// A normalised map key: bools, integers (int, and uint up to INT64_MAX, and integral doubles
// in range, all as kSigned), uints above INT64_MAX, and strings.
struct MapKey {
  enum Class : uint8_t { kBool, kSigned, kUnsigned, kString };
  Class cls;
  uint64_t num = 0;
  std::string_view str;
};
bool operator<(const MapKey& a, const MapKey& b);
bool operator==(const MapKey& a, const MapKey& b);

// Returns the key of a value that may be stored as a map key (bool, int, uint, string).
std::optional<MapKey> StoredKeyOf(const Value& v);
// Returns the key a lookup with `v` searches for: as StoredKeyOf, plus integral doubles.
std::optional<MapKey> LookupKeyOf(const Value& v);

struct MapObject final : HeapObject {
  std::vector<Value::Entry> entries;
  std::string type_name;  // non-empty for structs
  // Entry indices sorted by key; built only for maps above kIndexThreshold entries.
  std::vector<uint32_t> sorted;
  static constexpr size_t kIndexThreshold = 8;

  void BuildIndex();
  const Value* Find(const MapKey& key) const;
};

struct ErrorObject final : HeapObject {
  explicit ErrorObject(ErrorInfo i) : info(std::move(i)) {}
  ErrorInfo info;
};

// Builds Values around heap objects and reads them back; the only way into Value's private
// representation.
struct ValueAccess {
  static Value Make(Kind kind, HeapObject* object) { return Value(kind, object); }
  static HeapObject* Object(const Value& v) { return v.p_; }
};

// Makes a map value from entries whose keys were already checked to be valid and unique.
Value MakeMapUnchecked(std::vector<Value::Entry> entries);
// Returns an error value naming the offending key, or null (kNull) when all keys are fine.
Value CheckMapKeys(const std::vector<Value::Entry>& entries);

}  // namespace sov::policy::cel::internal
