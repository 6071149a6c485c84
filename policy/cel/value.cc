#include "policy/cel/value.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <limits>

#include "policy/cel/internal/heap.h"
#include "policy/cel/internal/time.h"

namespace sov::policy::cel {
namespace internal {

bool operator<(const MapKey& a, const MapKey& b) {
  if (a.cls != b.cls) return a.cls < b.cls;
  if (a.cls == MapKey::kString) return a.str < b.str;
  if (a.cls == MapKey::kSigned) return static_cast<int64_t>(a.num) < static_cast<int64_t>(b.num);
  return a.num < b.num;
}

bool operator==(const MapKey& a, const MapKey& b) {
  if (a.cls != b.cls) return false;
  if (a.cls == MapKey::kString) return a.str == b.str;
  return a.num == b.num;
}

std::optional<MapKey> StoredKeyOf(const Value& v) {
  switch (v.kind()) {
    case Kind::kBool: return MapKey{MapKey::kBool, v.bool_value() ? 1u : 0u, {}};
    case Kind::kInt: return MapKey{MapKey::kSigned, static_cast<uint64_t>(v.int_value()), {}};
    case Kind::kUint:
      if (v.uint_value() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return MapKey{MapKey::kSigned, v.uint_value(), {}};
      }
      return MapKey{MapKey::kUnsigned, v.uint_value(), {}};
    case Kind::kString: return MapKey{MapKey::kString, 0, v.string_value()};
    default: return std::nullopt;
  }
}

std::optional<MapKey> LookupKeyOf(const Value& v) {
  if (v.kind() != Kind::kDouble) return StoredKeyOf(v);
  double d = v.double_value();
  if (!(d == std::trunc(d))) return std::nullopt;  // also NaN and infinities
  if (d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
    return MapKey{MapKey::kSigned, static_cast<uint64_t>(static_cast<int64_t>(d)), {}};
  }
  if (d >= 9223372036854775808.0 && d < 18446744073709551616.0) {
    return MapKey{MapKey::kUnsigned, static_cast<uint64_t>(d), {}};
  }
  return std::nullopt;
}

void MapObject::BuildIndex() {
  sorted.clear();
  if (entries.size() <= kIndexThreshold) return;
  sorted.resize(entries.size());
  for (uint32_t i = 0; i < sorted.size(); ++i) sorted[i] = i;
  std::sort(sorted.begin(), sorted.end(), [this](uint32_t a, uint32_t b) {
    return *StoredKeyOf(entries[a].first) < *StoredKeyOf(entries[b].first);
  });
}

const Value* MapObject::Find(const MapKey& key) const {
  if (sorted.empty()) {
    for (const auto& [k, v] : entries) {
      std::optional<MapKey> stored = StoredKeyOf(k);
      if (stored && *stored == key) return &v;
    }
    return nullptr;
  }
  auto it = std::lower_bound(sorted.begin(), sorted.end(), key, [this](uint32_t i, const MapKey& k) {
    return *StoredKeyOf(entries[i].first) < k;
  });
  if (it != sorted.end() && *StoredKeyOf(entries[*it].first) == key) return &entries[*it].second;
  return nullptr;
}

Value MakeMapUnchecked(std::vector<Value::Entry> entries) {
  auto* object = new MapObject();
  object->entries = std::move(entries);
  object->BuildIndex();
  return ValueAccess::Make(Kind::kMap, object);
}

Value CheckMapKeys(const std::vector<Value::Entry>& entries) {
  std::vector<MapKey> keys;
  keys.reserve(entries.size());
  for (const auto& entry : entries) {
    if (entry.first.is_error()) return entry.first;
    std::optional<MapKey> key = StoredKeyOf(entry.first);
    if (!key) {
      return Value::Error(StatusCode::kInvalidArgument,
                          "unsupported key type " + std::string(KindName(entry.first.kind())) +
                              " for map key " + entry.first.DebugString());
    }
    keys.push_back(*key);
  }
  if (keys.size() > 1) {
    std::vector<size_t> order(keys.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
    for (size_t i = 1; i < order.size(); ++i) {
      if (keys[order[i - 1]] == keys[order[i]]) {
        return Value::Error(StatusCode::kInvalidArgument,
                            "repeated map key " + entries[order[i]].first.DebugString());
      }
    }
  }
  return Value();
}

}  // namespace internal

using internal::ErrorObject;
using internal::HeapObject;
using internal::ListObject;
using internal::MapObject;
using internal::StringObject;
using internal::ValueAccess;

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kNull: return "null_type";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kUint: return "uint";
    case Kind::kDouble: return "double";
    case Kind::kString: return "string";
    case Kind::kBytes: return "bytes";
    case Kind::kList: return "list";
    case Kind::kMap: return "map";
    case Kind::kStruct: return "struct";
    case Kind::kTimestamp: return "google.protobuf.Timestamp";
    case Kind::kDuration: return "google.protobuf.Duration";
    case Kind::kType: return "type";
    case Kind::kError: return "error";
  }
  return "unknown";
}

Value::Value(const Value& other) : kind_(other.kind_), nanos_(other.nanos_), u_(other.u_) {
  Retain();
}

Value::Value(Value&& other) noexcept : kind_(other.kind_), nanos_(other.nanos_), u_(other.u_) {
  other.kind_ = Kind::kNull;
  other.u_ = 0;
}

Value& Value::operator=(const Value& other) {
  if (this != &other) {
    other.Retain();
    Release();
    kind_ = other.kind_;
    nanos_ = other.nanos_;
    u_ = other.u_;
  }
  return *this;
}

Value& Value::operator=(Value&& other) noexcept {
  if (this != &other) {
    Release();
    kind_ = other.kind_;
    nanos_ = other.nanos_;
    u_ = other.u_;
    other.kind_ = Kind::kNull;
    other.u_ = 0;
  }
  return *this;
}

Value::~Value() { Release(); }

void Value::Retain() const {
  if (has_heap()) p_->refs.fetch_add(1, std::memory_order_relaxed);
}

void Value::Release() {
  if (has_heap() && p_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete p_;
}

Value Value::Bool(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.b_ = b;
  return v;
}

Value Value::Int(int64_t i) {
  Value v;
  v.kind_ = Kind::kInt;
  v.i_ = i;
  return v;
}

Value Value::Uint(uint64_t u) {
  Value v;
  v.kind_ = Kind::kUint;
  v.u_ = u;
  return v;
}

Value Value::Double(double d) {
  Value v;
  v.kind_ = Kind::kDouble;
  v.d_ = d;
  return v;
}

Value Value::String(std::string s) {
  return ValueAccess::Make(Kind::kString, new StringObject(std::move(s)));
}

Value Value::Bytes(std::string b) {
  return ValueAccess::Make(Kind::kBytes, new StringObject(std::move(b)));
}

Value Value::List(std::vector<Value> elements) {
  return ValueAccess::Make(Kind::kList, new ListObject(std::move(elements)));
}

Value Value::StringList(const std::vector<std::string>& elements) {
  std::vector<Value> values;
  values.reserve(elements.size());
  for (const auto& e : elements) values.push_back(String(e));
  return List(std::move(values));
}

Result<Value> Value::Map(std::vector<Entry> entries) {
  Value bad = internal::CheckMapKeys(entries);
  if (bad.is_error()) return InvalidArgument(bad.error().message);
  return internal::MakeMapUnchecked(std::move(entries));
}

Value Value::StringMap(const std::map<std::string, Value>& entries) {
  std::vector<Entry> out;
  out.reserve(entries.size());
  for (const auto& [k, v] : entries) out.emplace_back(String(k), v);
  return internal::MakeMapUnchecked(std::move(out));
}

Value Value::StringMap(const std::map<std::string, std::string>& entries) {
  std::vector<Entry> out;
  out.reserve(entries.size());
  for (const auto& [k, v] : entries) out.emplace_back(String(k), String(v));
  return internal::MakeMapUnchecked(std::move(out));
}

Value Value::Struct(std::string type_name, std::vector<std::pair<std::string, Value>> fields) {
  auto* object = new MapObject();
  object->type_name = std::move(type_name);
  for (auto& [name, value] : fields) {
    bool replaced = false;
    for (auto& entry : object->entries) {
      if (entry.first.string_value() == name) {
        entry.second = std::move(value);
        replaced = true;
        break;
      }
    }
    if (!replaced) object->entries.emplace_back(String(std::move(name)), std::move(value));
  }
  object->BuildIndex();
  return ValueAccess::Make(Kind::kStruct, object);
}

Value Value::Timestamp(int64_t seconds, int32_t nanos) {
  if (seconds < kMinTimestampSeconds || seconds > kMaxTimestampSeconds || nanos < 0 ||
      nanos >= 1000000000) {
    return Error(StatusCode::kOutOfRange, "timestamp out of range");
  }
  Value v;
  v.kind_ = Kind::kTimestamp;
  v.i_ = seconds;
  v.nanos_ = nanos;
  return v;
}

Value Value::FromTime(std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  int64_t s = ns / 1000000000;
  int64_t n = ns % 1000000000;
  if (n < 0) {
    n += 1000000000;
    s -= 1;
  }
  return Timestamp(s, static_cast<int32_t>(n));
}

Value Value::Duration(int64_t seconds, int32_t nanos) {
  const internal::Int128 total = static_cast<internal::Int128>(seconds) * 1000000000 + nanos;
  if (total > std::numeric_limits<int64_t>::max() || total < std::numeric_limits<int64_t>::min() ||
      nanos <= -1000000000 || nanos >= 1000000000 || (seconds > 0 && nanos < 0) ||
      (seconds < 0 && nanos > 0)) {
    return Error(StatusCode::kOutOfRange, "duration out of range");
  }
  Value v;
  v.kind_ = Kind::kDuration;
  v.i_ = seconds;
  v.nanos_ = nanos;
  return v;
}

Value Value::FromDuration(std::chrono::nanoseconds d) {
  int64_t ns = d.count();
  return Duration(ns / 1000000000, static_cast<int32_t>(ns % 1000000000));
}

Value Value::Type(std::string_view name) {
  return ValueAccess::Make(Kind::kType, new StringObject(std::string(name)));
}

Value Value::Error(StatusCode code, std::string message, SourcePosition position) {
  return ValueAccess::Make(Kind::kError,
                           new ErrorObject(ErrorInfo{code, std::move(message), position}));
}

bool Value::bool_value() const {
  assert(kind_ == Kind::kBool);
  return b_;
}
int64_t Value::int_value() const {
  assert(kind_ == Kind::kInt);
  return i_;
}
uint64_t Value::uint_value() const {
  assert(kind_ == Kind::kUint);
  return u_;
}
double Value::double_value() const {
  assert(kind_ == Kind::kDouble);
  return d_;
}
std::string_view Value::string_value() const {
  assert(kind_ == Kind::kString || kind_ == Kind::kBytes || kind_ == Kind::kType);
  return static_cast<const StringObject*>(p_)->text;
}
const std::vector<Value>& Value::list_value() const {
  assert(kind_ == Kind::kList);
  return static_cast<const ListObject*>(p_)->elements;
}
const std::vector<Value::Entry>& Value::map_entries() const {
  assert(kind_ == Kind::kMap || kind_ == Kind::kStruct);
  return static_cast<const MapObject*>(p_)->entries;
}
std::string_view Value::struct_type() const {
  assert(kind_ == Kind::kStruct);
  return static_cast<const MapObject*>(p_)->type_name;
}
int64_t Value::seconds() const {
  assert(kind_ == Kind::kTimestamp || kind_ == Kind::kDuration);
  return i_;
}
int32_t Value::nanos() const {
  assert(kind_ == Kind::kTimestamp || kind_ == Kind::kDuration);
  return nanos_;
}
const ErrorInfo& Value::error() const {
  assert(kind_ == Kind::kError);
  return static_cast<const ErrorObject*>(p_)->info;
}

const Value* Value::Find(const Value& key) const {
  if (kind_ != Kind::kMap && kind_ != Kind::kStruct) return nullptr;
  std::optional<internal::MapKey> k = internal::LookupKeyOf(key);
  if (!k) return nullptr;
  return static_cast<const MapObject*>(p_)->Find(*k);
}

const Value* Value::FindField(std::string_view name) const {
  if (kind_ != Kind::kMap && kind_ != Kind::kStruct) return nullptr;
  return static_cast<const MapObject*>(p_)->Find(internal::MapKey{internal::MapKey::kString, 0, name});
}

namespace {

void AppendQuoted(std::string& out, std::string_view s, char prefix) {
  if (prefix) out += prefix;
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f || (prefix && c >= 0x80)) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

void AppendDebug(std::string& out, const Value& v) {
  switch (v.kind()) {
    case Kind::kNull: out += "null"; break;
    case Kind::kBool: out += v.bool_value() ? "true" : "false"; break;
    case Kind::kInt: out += std::to_string(v.int_value()); break;
    case Kind::kUint: out += std::to_string(v.uint_value()) + "u"; break;
    case Kind::kDouble: {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.17g", v.double_value());
      std::string s = buf;
      if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
      out += s;
      break;
    }
    case Kind::kString: AppendQuoted(out, v.string_value(), 0); break;
    case Kind::kBytes: AppendQuoted(out, v.string_value(), 'b'); break;
    case Kind::kList: {
      out += '[';
      bool first = true;
      for (const Value& e : v.list_value()) {
        if (!first) out += ", ";
        first = false;
        AppendDebug(out, e);
      }
      out += ']';
      break;
    }
    case Kind::kMap:
    case Kind::kStruct: {
      if (v.kind() == Kind::kStruct) out += v.struct_type();
      out += '{';
      bool first = true;
      for (const auto& [k, e] : v.map_entries()) {
        if (!first) out += ", ";
        first = false;
        if (v.kind() == Kind::kStruct) {
          out += k.string_value();
        } else {
          AppendDebug(out, k);
        }
        out += ": ";
        AppendDebug(out, e);
      }
      out += '}';
      break;
    }
    case Kind::kTimestamp:
      out += "timestamp(\"" + internal::FormatTimestamp(v.seconds(), v.nanos()) + "\")";
      break;
    case Kind::kDuration:
      out += "duration(\"" + internal::FormatDuration(v.seconds(), v.nanos()) + "\")";
      break;
    case Kind::kType: out += v.string_value(); break;
    case Kind::kError: out += "error(" + v.error().message + ")"; break;
  }
}

}  // namespace

std::string Value::DebugString() const {
  std::string out;
  AppendDebug(out, *this);
  return out;
}

}  // namespace sov::policy::cel
