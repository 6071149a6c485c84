// The CEL lexer: splits an expression into tokens and decodes numeric, string and bytes
// literals (all escapes, raw, triple-quoted). Internal to the parser. Not synchronised; each
// Lexer is used by one parse.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "policy/cel/value.h"

namespace sov::policy::cel::internal {

enum class Tok : uint8_t {
  kEof,
  kError,
  kInt,      // value: int (or the magnitude 9223372036854775808 as uint, see int_min_magnitude)
  kUint,
  kDouble,
  kString,
  kBytes,
  kIdent,
  kQuotedIdent,  // `a.b-c`
  kTrue,
  kFalse,
  kNull,
  kIn,
  kLParen, kRParen, kLBracket, kRBracket, kLBrace, kRBrace,
  kDot, kComma, kColon, kQuestion,
  kPlus, kMinus, kStar, kSlash, kPercent,
  kEq, kNe, kLt, kLe, kGt, kGe,
  kAnd, kOr, kNot,
};

struct Token {
  Tok kind = Tok::kEof;
  uint32_t offset = 0;
  std::string_view text;  // the source text of the token
  Value value;            // decoded literal
  bool int_min_magnitude = false;  // kInt 9223372036854775808: valid only after unary minus
  std::string error;      // for kError
};

class Lexer {
 public:
  explicit Lexer(std::string_view source) : src_(source) {}
  // Returns the next token; kError carries a message and the offset where it arose.
  Token Next();

 private:
  Token Number(size_t start);
  Token Quoted(size_t start, bool raw, bool bytes);
  Token Error(size_t offset, std::string message);

  std::string_view src_;
  size_t pos_ = 0;
};

// Returns the 1-based line and column (in code points) of byte `offset` in `source`.
SourcePosition PositionAt(std::string_view source, uint32_t offset);

// Appends the UTF-8 encoding of code point `cp`.
void AppendUtf8(std::string& out, uint32_t cp);

}  // namespace sov::policy::cel::internal
