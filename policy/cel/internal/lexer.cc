#include "policy/cel/internal/lexer.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "common/utf8.h"

namespace sov::policy::cel::internal {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int HexValue(char c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}
bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }

}  // namespace

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

SourcePosition PositionAt(std::string_view source, uint32_t offset) {
  SourcePosition pos{1, 1};
  const size_t end = std::min<size_t>(offset, source.size());
  for (size_t i = 0; i < end; ++i) {
    unsigned char c = static_cast<unsigned char>(source[i]);
    if (c == '\n') {
      ++pos.line;
      pos.column = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++pos.column;
    }
  }
  return pos;
}

Token Lexer::Error(size_t offset, std::string message) {
  Token t;
  t.kind = Tok::kError;
  t.offset = static_cast<uint32_t>(offset);
  t.error = std::move(message);
  pos_ = src_.size();
  return t;
}

Token Lexer::Next() {
  // Skip whitespace and comments.
  while (pos_ < src_.size()) {
    char c = src_[pos_];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
      ++pos_;
    } else if (c == '/' && pos_ + 1 < src_.size() && src_[pos_ + 1] == '/') {
      while (pos_ < src_.size() && src_[pos_] != '\n') ++pos_;
    } else {
      break;
    }
  }
  Token t;
  t.offset = static_cast<uint32_t>(pos_);
  if (pos_ >= src_.size()) {
    t.kind = Tok::kEof;
    return t;
  }
  const size_t start = pos_;
  const char c = src_[pos_];
  auto peek = [&](size_t k) -> char { return pos_ + k < src_.size() ? src_[pos_ + k] : '\0'; };
  auto is_quote = [](char q) { return q == '"' || q == '\''; };

  // String and bytes literals with their prefixes.
  if (is_quote(c)) return Quoted(start, false, false);
  if ((c == 'r' || c == 'R') && is_quote(peek(1))) {
    pos_ += 1;
    return Quoted(start, true, false);
  }
  if (c == 'b' || c == 'B') {
    if (is_quote(peek(1))) {
      pos_ += 1;
      return Quoted(start, false, true);
    }
    if ((peek(1) == 'r' || peek(1) == 'R') && is_quote(peek(2))) {
      pos_ += 2;
      return Quoted(start, true, true);
    }
  }
  if (IsDigit(c) || (c == '.' && IsDigit(peek(1)))) return Number(start);
  if (IsIdentStart(c)) {
    while (pos_ < src_.size() && IsIdentChar(src_[pos_])) ++pos_;
    t.text = src_.substr(start, pos_ - start);
    if (t.text == "true") t.kind = Tok::kTrue;
    else if (t.text == "false") t.kind = Tok::kFalse;
    else if (t.text == "null") t.kind = Tok::kNull;
    else if (t.text == "in") t.kind = Tok::kIn;
    else t.kind = Tok::kIdent;
    return t;
  }
  if (c == '`') {
    ++pos_;
    size_t begin = pos_;
    while (pos_ < src_.size() && src_[pos_] != '`') {
      char q = src_[pos_];
      if (!(IsIdentChar(q) || q == '.' || q == '-' || q == '/' || q == ' ')) {
        return Error(pos_, "invalid character in quoted identifier");
      }
      ++pos_;
    }
    if (pos_ >= src_.size()) return Error(start, "unterminated quoted identifier");
    if (pos_ == begin) return Error(start, "empty quoted identifier");
    t.kind = Tok::kQuotedIdent;
    t.text = src_.substr(begin, pos_ - begin);
    ++pos_;
    return t;
  }
  auto two = [&](char second) { return peek(1) == second; };
  Tok kind;
  size_t len = 1;
  switch (c) {
    case '(': kind = Tok::kLParen; break;
    case ')': kind = Tok::kRParen; break;
    case '[': kind = Tok::kLBracket; break;
    case ']': kind = Tok::kRBracket; break;
    case '{': kind = Tok::kLBrace; break;
    case '}': kind = Tok::kRBrace; break;
    case '.': kind = Tok::kDot; break;
    case ',': kind = Tok::kComma; break;
    case ':': kind = Tok::kColon; break;
    case '?': kind = Tok::kQuestion; break;
    case '+': kind = Tok::kPlus; break;
    case '-': kind = Tok::kMinus; break;
    case '*': kind = Tok::kStar; break;
    case '/': kind = Tok::kSlash; break;
    case '%': kind = Tok::kPercent; break;
    case '=':
      if (!two('=')) return Error(start, "unexpected '=' (use '==' to compare)");
      kind = Tok::kEq;
      len = 2;
      break;
    case '!':
      if (two('=')) {
        kind = Tok::kNe;
        len = 2;
      } else {
        kind = Tok::kNot;
      }
      break;
    case '<':
      if (two('=')) {
        kind = Tok::kLe;
        len = 2;
      } else {
        kind = Tok::kLt;
      }
      break;
    case '>':
      if (two('=')) {
        kind = Tok::kGe;
        len = 2;
      } else {
        kind = Tok::kGt;
      }
      break;
    case '&':
      if (!two('&')) return Error(start, "unexpected '&' (use '&&')");
      kind = Tok::kAnd;
      len = 2;
      break;
    case '|':
      if (!two('|')) return Error(start, "unexpected '|' (use '||')");
      kind = Tok::kOr;
      len = 2;
      break;
    default: {
      unsigned char uc = static_cast<unsigned char>(c);
      if (uc >= 0x20 && uc < 0x7f) return Error(start, std::string("unexpected character '") + c + "'");
      return Error(start, "unexpected character");
    }
  }
  pos_ += len;
  t.kind = kind;
  t.text = src_.substr(start, len);
  return t;
}

Token Lexer::Number(size_t start) {
  Token t;
  t.offset = static_cast<uint32_t>(start);
  const auto at = [&](size_t i) -> char { return i < src_.size() ? src_[i] : '\0'; };
  if (src_[pos_] == '0' && (at(pos_ + 1) == 'x' || at(pos_ + 1) == 'X')) {
    pos_ += 2;
    size_t digits = pos_;
    uint64_t v = 0;
    bool overflow = false;
    while (pos_ < src_.size() && IsHex(src_[pos_])) {
      if (v > (std::numeric_limits<uint64_t>::max() >> 4)) overflow = true;
      v = (v << 4) | HexValue(src_[pos_]);
      ++pos_;
    }
    if (pos_ == digits) return Error(start, "hexadecimal literal has no digits");
    if (overflow) return Error(start, "integer literal out of range");
    if (at(pos_) == 'u' || at(pos_) == 'U') {
      ++pos_;
      t.kind = Tok::kUint;
      t.value = Value::Uint(v);
    } else if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      if (v != (uint64_t{1} << 63)) return Error(start, "integer literal out of range");
      t.kind = Tok::kInt;
      t.int_min_magnitude = true;
    } else {
      t.kind = Tok::kInt;
      t.value = Value::Int(static_cast<int64_t>(v));
    }
    if (IsIdentChar(at(pos_))) return Error(pos_, "unexpected character after number");
    t.text = src_.substr(start, pos_ - start);
    return t;
  }
  while (IsDigit(at(pos_))) ++pos_;
  bool is_double = false;
  if (at(pos_) == '.' && IsDigit(at(pos_ + 1))) {
    is_double = true;
    ++pos_;
    while (IsDigit(at(pos_))) ++pos_;
  }
  if ((at(pos_) == 'e' || at(pos_) == 'E') &&
      (IsDigit(at(pos_ + 1)) || ((at(pos_ + 1) == '+' || at(pos_ + 1) == '-') && IsDigit(at(pos_ + 2))))) {
    is_double = true;
    pos_ += 2;
    while (IsDigit(at(pos_))) ++pos_;
  }
  std::string text(src_.substr(start, pos_ - start));
  if (text.size() > 400) return Error(start, "numeric literal too long");
  if (is_double) {
    errno = 0;
    char* end = nullptr;
    double d = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size()) return Error(start, "invalid floating-point literal");
    if (std::isinf(d)) return Error(start, "floating-point literal out of range");
    t.kind = Tok::kDouble;
    t.value = Value::Double(d);
  } else {
    uint64_t v = 0;
    bool overflow = false;
    for (char ch : text) {
      uint64_t digit = static_cast<uint64_t>(ch - '0');
      if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) overflow = true;
      v = v * 10 + digit;
    }
    if (overflow) return Error(start, "integer literal out of range");
    if (at(pos_) == 'u' || at(pos_) == 'U') {
      ++pos_;
      t.kind = Tok::kUint;
      t.value = Value::Uint(v);
    } else if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      if (v != (uint64_t{1} << 63)) return Error(start, "integer literal out of range");
      t.kind = Tok::kInt;
      t.int_min_magnitude = true;
    } else {
      t.kind = Tok::kInt;
      t.value = Value::Int(static_cast<int64_t>(v));
    }
  }
  if (IsIdentChar(at(pos_))) return Error(pos_, "unexpected character after number");
  t.text = src_.substr(start, pos_ - start);
  return t;
}

Token Lexer::Quoted(size_t start, bool raw, bool bytes) {
  const char quote = src_[pos_];
  const bool triple = pos_ + 2 < src_.size() && src_[pos_ + 1] == quote && src_[pos_ + 2] == quote;
  pos_ += triple ? 3 : 1;
  std::string out;
  while (true) {
    if (pos_ >= src_.size()) return Error(start, "unterminated string literal");
    char c = src_[pos_];
    if (c == quote) {
      if (!triple) {
        ++pos_;
        break;
      }
      if (pos_ + 2 < src_.size() && src_[pos_ + 1] == quote && src_[pos_ + 2] == quote) {
        pos_ += 3;
        break;
      }
      out += c;
      ++pos_;
      continue;
    }
    if (!triple && (c == '\n' || c == '\r')) {
      return Error(pos_, "line break in a single-line string literal (use ''' or \"\"\")");
    }
    if (c != '\\' || raw) {
      out += c;
      ++pos_;
      continue;
    }
    // An escape sequence.
    const size_t esc = pos_;
    if (pos_ + 1 >= src_.size()) return Error(esc, "unterminated escape sequence");
    char e = src_[pos_ + 1];
    pos_ += 2;
    switch (e) {
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case '\\': out += '\\'; break;
      case '?': out += '?'; break;
      case '"': out += '"'; break;
      case '\'': out += '\''; break;
      case '`': out += '`'; break;
      case 'x':
      case 'X':
      case 'u':
      case 'U': {
        int n = (e == 'x' || e == 'X') ? 2 : (e == 'u' ? 4 : 8);
        uint32_t cp = 0;
        for (int i = 0; i < n; ++i) {
          if (pos_ >= src_.size() || !IsHex(src_[pos_])) return Error(esc, "invalid escape sequence");
          cp = (cp << 4) | HexValue(src_[pos_]);
          ++pos_;
        }
        if (n > 2 && bytes) return Error(esc, "unicode escape in a bytes literal");
        if (n > 2 && (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) {
          return Error(esc, "invalid unicode code point in escape sequence");
        }
        if (bytes) out += static_cast<char>(cp);
        else AppendUtf8(out, cp);
        break;
      }
      case '0': case '1': case '2': case '3': {
        uint32_t v = static_cast<uint32_t>(e - '0');
        for (int i = 0; i < 2; ++i) {
          if (pos_ >= src_.size() || src_[pos_] < '0' || src_[pos_] > '7') {
            return Error(esc, "invalid octal escape sequence");
          }
          v = v * 8 + static_cast<uint32_t>(src_[pos_] - '0');
          ++pos_;
        }
        if (bytes) out += static_cast<char>(v);
        else AppendUtf8(out, v);
        break;
      }
      default:
        return Error(esc, "invalid escape sequence");
    }
  }
  Token t;
  t.offset = static_cast<uint32_t>(start);
  t.text = src_.substr(start, pos_ - start);
  if (bytes) {
    t.kind = Tok::kBytes;
    t.value = Value::Bytes(std::move(out));
  } else {
    if (!IsValidUtf8(out)) return Error(start, "string literal is not valid UTF-8");
    t.kind = Tok::kString;
    t.value = Value::String(std::move(out));
  }
  return t;
}

}  // namespace sov::policy::cel::internal
