#include "gpu-eval/internal/json.h"

#include <cassert>
#include <charconv>
#include <cmath>
#include <string>
#include <system_error>
#include <unordered_set>

namespace sov::gpu_eval::json {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The length of the well-formed UTF-8 sequence at the start of `s` (Unicode's Table 3-7: no
// overlong forms, no surrogates, nothing past U+10FFFF), or 0 when it is not one.
size_t Utf8SequenceLength(std::string_view s) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  auto continuation = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < s.size() && byte(i) >= lo && byte(i) <= hi;
  };
  const unsigned char b0 = byte(0);
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) return continuation(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    const unsigned char lo = b0 == 0xE0 ? 0xA0 : 0x80;  // E0 80..9F would be overlong
    const unsigned char hi = b0 == 0xED ? 0x9F : 0xBF;  // ED A0..BF would be a surrogate
    return continuation(1, lo, hi) && continuation(2) ? 3 : 0;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    const unsigned char lo = b0 == 0xF0 ? 0x90 : 0x80;  // F0 80..8F would be overlong
    const unsigned char hi = b0 == 0xF4 ? 0x8F : 0xBF;  // F4 90.. would pass U+10FFFF
    return continuation(1, lo, hi) && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}

void AppendUtf8(uint32_t code_point, std::string* out) {
  if (code_point < 0x80) {
    out->push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

// Whether `text` is an integer as JSON writes one: an optional minus, then digits only.
bool IsIntegerText(std::string_view text, bool allow_minus) {
  if (allow_minus && !text.empty() && text.front() == '-') text.remove_prefix(1);
  if (text.empty()) return false;
  for (char c : text) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

template <typename T>
std::optional<T> FromChars(const std::string& text) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

template <typename T>
std::string ToChars(T value) {
  char buffer[64];
  auto [ptr, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  // 64 bytes hold any int64, uint64 or shortest double (at most 24 characters).
  (void)ec;
  return std::string(buffer, ptr);
}

}  // namespace

std::optional<uint64_t> Value::as_uint64() const {
  if (type_ != Type::kNumber || !IsIntegerText(text_, /*allow_minus=*/false)) return std::nullopt;
  return FromChars<uint64_t>(text_);
}

std::optional<int64_t> Value::as_int64() const {
  if (type_ != Type::kNumber || !IsIntegerText(text_, /*allow_minus=*/true)) return std::nullopt;
  return FromChars<int64_t>(text_);
}

std::optional<double> Value::as_double() const {
  if (type_ != Type::kNumber) return std::nullopt;
  // from_chars reports 1e400 and 1e-400 as out of range: refused rather than read as inf or 0.
  return FromChars<double>(text_);
}

const Value* Value::Find(std::string_view key) const {
  for (const auto& [name, value] : members_) {
    if (name == key) return &value;
  }
  return nullptr;
}

// A recursive-descent parser over the whole text. Recursion is bounded by limits.max_depth, so
// that hostile input cannot exhaust the stack. (Outside the anonymous namespace: Value names
// json::Parser its friend.)
class Parser {
 public:
  Parser(std::string_view text, const ParseLimits& limits) : text_(text), limits_(limits) {}

  Result<Value> ParseDocument() {
    Value root;
    SkipWhitespace();
    SOV_RETURN_IF_ERROR(ParseValue(0, &root));
    SkipWhitespace();
    if (pos_ != text_.size()) return Error("unexpected text after the JSON value");
    return root;
  }

 private:
  Status Error(std::string what) const { return ErrorAt(pos_, std::move(what)); }
  static Status ErrorAt(size_t offset, std::string what) {
    return InvalidArgument("offset " + std::to_string(offset) + ": " + what);
  }

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }

  void SkipWhitespace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r')) {
      ++pos_;
    }
  }

  Status ParseValue(size_t depth, Value* out) {
    if (AtEnd()) return Error("unexpected end of input, expected a value");
    switch (Peek()) {
      case '{': return ParseObject(depth + 1, out);
      case '[': return ParseArray(depth + 1, out);
      case '"':
        out->type_ = Value::Type::kString;
        return ParseString(&out->text_);
      case 't': return ParseLiteral("true", Value::Type::kBool, true, out);
      case 'f': return ParseLiteral("false", Value::Type::kBool, false, out);
      case 'n': return ParseLiteral("null", Value::Type::kNull, false, out);
      default:
        if (Peek() == '-' || IsDigit(Peek())) return ParseNumber(out);
        return Error("unexpected character, expected a value");
    }
  }

  Status ParseLiteral(std::string_view word, Value::Type type, bool boolean, Value* out) {
    if (text_.substr(pos_, word.size()) != word) return Error("invalid literal");
    pos_ += word.size();
    out->type_ = type;
    out->bool_ = boolean;
    return OkStatus();
  }

  // RFC 8259 section 6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  Status ParseNumber(Value* out) {
    const size_t start = pos_;
    if (Peek() == '-') ++pos_;
    if (AtEnd() || !IsDigit(Peek())) return Error("expected a digit");
    if (Peek() == '0') {
      ++pos_;
      if (!AtEnd() && IsDigit(Peek())) return Error("leading zeros are not allowed");
    } else {
      SkipDigits();
    }
    if (!AtEnd() && Peek() == '.') {
      ++pos_;
      if (AtEnd() || !IsDigit(Peek())) return Error("expected a digit after '.'");
      SkipDigits();
    }
    if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
      ++pos_;
      if (!AtEnd() && (Peek() == '+' || Peek() == '-')) ++pos_;
      if (AtEnd() || !IsDigit(Peek())) return Error("expected a digit in the exponent");
      SkipDigits();
    }
    out->type_ = Value::Type::kNumber;
    out->text_.assign(text_.substr(start, pos_ - start));
    return OkStatus();
  }

  void SkipDigits() {
    while (!AtEnd() && IsDigit(Peek())) ++pos_;
  }

  Status ParseString(std::string* out) {
    ++pos_;  // the opening quote
    while (true) {
      if (AtEnd()) return Error("unterminated string");
      const unsigned char c = static_cast<unsigned char>(Peek());
      if (c == '"') {
        ++pos_;
        return OkStatus();
      }
      if (c == '\\') {
        SOV_RETURN_IF_ERROR(ParseEscape(out));
      } else if (c < 0x20) {
        return Error("control character in a string must be escaped");
      } else {
        const size_t length = Utf8SequenceLength(text_.substr(pos_));
        if (length == 0) return Error("invalid UTF-8 in a string");
        out->append(text_.substr(pos_, length));
        pos_ += length;
      }
    }
  }

  Status ParseEscape(std::string* out) {
    const size_t start = pos_;
    ++pos_;  // the backslash
    if (AtEnd()) return Error("unterminated escape");
    const char c = Peek();
    ++pos_;
    switch (c) {
      case '"': out->push_back('"'); return OkStatus();
      case '\\': out->push_back('\\'); return OkStatus();
      case '/': out->push_back('/'); return OkStatus();
      case 'b': out->push_back('\b'); return OkStatus();
      case 'f': out->push_back('\f'); return OkStatus();
      case 'n': out->push_back('\n'); return OkStatus();
      case 'r': out->push_back('\r'); return OkStatus();
      case 't': out->push_back('\t'); return OkStatus();
      case 'u': break;
      default: return ErrorAt(start, "invalid escape");
    }
    uint32_t unit = 0;
    SOV_RETURN_IF_ERROR(ParseHex4(&unit));
    if (unit >= 0xDC00 && unit <= 0xDFFF) return ErrorAt(start, "unpaired low surrogate");
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      // A high surrogate must be followed at once by an escaped low one (UTF-16 pair).
      if (text_.substr(pos_, 2) != "\\u") return ErrorAt(start, "unpaired high surrogate");
      pos_ += 2;
      uint32_t low = 0;
      SOV_RETURN_IF_ERROR(ParseHex4(&low));
      if (low < 0xDC00 || low > 0xDFFF) return ErrorAt(start, "unpaired high surrogate");
      unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
    }
    AppendUtf8(unit, out);
    return OkStatus();
  }

  Status ParseHex4(uint32_t* unit) {
    if (text_.size() - pos_ < 4) return Error("truncated \\u escape");
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = Peek();
      uint32_t digit;
      if (IsDigit(c)) {
        digit = static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        digit = static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        digit = static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return Error("invalid hex digit in \\u escape");
      }
      value = value * 16 + digit;
      ++pos_;
    }
    *unit = value;
    return OkStatus();
  }

  Status CheckDepth(size_t depth) const {
    if (depth > limits_.max_depth) {
      return Error("nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
    }
    return OkStatus();
  }

  Status ParseArray(size_t depth, Value* out) {
    SOV_RETURN_IF_ERROR(CheckDepth(depth));
    out->type_ = Value::Type::kArray;
    ++pos_;  // '['
    SkipWhitespace();
    if (!AtEnd() && Peek() == ']') {
      ++pos_;
      return OkStatus();
    }
    while (true) {
      SOV_RETURN_IF_ERROR(ParseValue(depth, &out->array_.emplace_back()));
      SkipWhitespace();
      if (AtEnd()) return Error("unterminated array");
      if (Peek() == ']') {
        ++pos_;
        return OkStatus();
      }
      if (Peek() != ',') return Error("expected ',' or ']'");
      ++pos_;
      SkipWhitespace();
    }
  }

  Status ParseObject(size_t depth, Value* out) {
    SOV_RETURN_IF_ERROR(CheckDepth(depth));
    out->type_ = Value::Type::kObject;
    ++pos_;  // '{'
    SkipWhitespace();
    if (!AtEnd() && Peek() == '}') {
      ++pos_;
      return OkStatus();
    }
    // Keys are compared after unescaping: "a" and "\u0061" are the same key.
    std::unordered_set<std::string> keys;
    while (true) {
      if (AtEnd() || Peek() != '"') return Error("expected a string key");
      const size_t key_offset = pos_;
      std::string key;
      SOV_RETURN_IF_ERROR(ParseString(&key));
      if (limits_.reject_duplicate_keys && !keys.insert(key).second) {
        return ErrorAt(key_offset, "duplicate key " + Quote(key));
      }
      SkipWhitespace();
      if (AtEnd() || Peek() != ':') return Error("expected ':' after a key");
      ++pos_;
      SkipWhitespace();
      auto& member = out->members_.emplace_back(std::move(key), Value());
      SOV_RETURN_IF_ERROR(ParseValue(depth, &member.second));
      SkipWhitespace();
      if (AtEnd()) return Error("unterminated object");
      if (Peek() == '}') {
        ++pos_;
        return OkStatus();
      }
      if (Peek() != ',') return Error("expected ',' or '}'");
      ++pos_;
      SkipWhitespace();
    }
  }

  std::string_view text_;
  const ParseLimits& limits_;
  size_t pos_ = 0;
};

Result<Value> Parse(std::string_view text, const ParseLimits& limits) {
  return Parser(text, limits).ParseDocument();
}

// Escapes as RFC 8785 (JSON canonicalization) does: the two-character forms where JSON has
// them, \u00XX for the other control characters, everything else verbatim. Bytes that are not
// UTF-8 become U+FFFD, so that the output is always JSON that Parse accepts.
std::string Quote(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  size_t pos = 0;
  while (pos < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[pos]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else if (c >= 0x80) {
          const size_t length = Utf8SequenceLength(text.substr(pos));
          if (length == 0) {
            out += "\xEF\xBF\xBD";  // U+FFFD
          } else {
            out.append(text.substr(pos, length));
            pos += length - 1;
          }
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++pos;
  }
  out.push_back('"');
  return out;
}

void Writer::NewLine() {
  if (indent_ < 0) return;
  out_.push_back('\n');
  out_.append(first_in_scope_.size() * static_cast<size_t>(indent_), ' ');
}

// Separates this value from the previous one in its array or object; a value right after its
// key was already separated by Key().
void Writer::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (first_in_scope_.empty()) return;
  if (!first_in_scope_.back()) out_.push_back(',');
  first_in_scope_.back() = false;
  NewLine();
}

Writer& Writer::BeginObject() {
  BeforeValue();
  out_.push_back('{');
  first_in_scope_.push_back(true);
  return *this;
}

Writer& Writer::EndObject() {
  assert(!first_in_scope_.empty() && "End without a matching Begin");
  const bool empty = first_in_scope_.back();
  first_in_scope_.pop_back();
  if (!empty) NewLine();
  out_.push_back('}');
  return *this;
}

Writer& Writer::BeginArray() {
  BeforeValue();
  out_.push_back('[');
  first_in_scope_.push_back(true);
  return *this;
}

Writer& Writer::EndArray() {
  assert(!first_in_scope_.empty() && "End without a matching Begin");
  const bool empty = first_in_scope_.back();
  first_in_scope_.pop_back();
  if (!empty) NewLine();
  out_.push_back(']');
  return *this;
}

Writer& Writer::Key(std::string_view key) {
  BeforeValue();
  out_ += Quote(key);
  out_.push_back(':');
  if (indent_ >= 0) out_.push_back(' ');
  after_key_ = true;
  return *this;
}

Writer& Writer::String(std::string_view value) {
  BeforeValue();
  out_ += Quote(value);
  return *this;
}

Writer& Writer::Int(int64_t value) {
  BeforeValue();
  out_ += ToChars(value);
  return *this;
}

Writer& Writer::Uint(uint64_t value) {
  BeforeValue();
  out_ += ToChars(value);
  return *this;
}

Writer& Writer::Double(double value) {
  if (!std::isfinite(value)) return Null();
  BeforeValue();
  out_ += ToChars(value);
  return *this;
}

Writer& Writer::Bool(bool value) {
  BeforeValue();
  out_ += value ? "true" : "false";
  return *this;
}

Writer& Writer::Null() {
  BeforeValue();
  out_ += "null";
  return *this;
}

}  // namespace sov::gpu_eval::json
