// Shows that the CEL parser reads the language's syntax into the expected tree and refuses bad, deep or huge input with LINE:COL positions.
#include "policy/cel/parser.h"

#include <gtest/gtest.h>

#include <string>

namespace sov::policy::cel {
namespace {

// Renders a tree as an s-expression: calls as (name args...), selections as target.name.
std::string Render(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kConst: return e.constant.DebugString();
    case ExprKind::kIdent: return e.name;
    case ExprKind::kSelect:
      return e.test_only ? "has(" + Render(*e.target) + "." + e.name + ")" : Render(*e.target) + "." + e.name;
    case ExprKind::kCall: {
      std::string out = "(" + (e.target ? Render(*e.target) + "." : "") + e.name;
      for (const auto& a : e.args) out += " " + Render(*a);
      return out + ")";
    }
    case ExprKind::kList: {
      std::string out = "[";
      for (const auto& a : e.args) out += (out.size() > 1 ? " " : "") + Render(*a);
      return out + "]";
    }
    case ExprKind::kMap: {
      std::string out = "{";
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        out += (i ? " " : "") + Render(*e.args[i]) + ":" + Render(*e.args[i + 1]);
      }
      return out + "}";
    }
    case ExprKind::kMessage: return e.name + "{...}";
    case ExprKind::kComprehension: {
      static const char* kNames[] = {"", "all", "exists", "exists_one", "map", "map", "filter"};
      std::string out = "(" + std::string(kNames[static_cast<int>(e.macro)]) + " " + Render(*e.target) + " " + e.name;
      for (const auto& a : e.args) out += " " + Render(*a);
      return out + ")";
    }
  }
  return "?";
}

std::string ParseToString(std::string_view source) {
  Result<std::unique_ptr<Expr>> r = Parse(source);
  if (!r.ok()) return "error " + r.status().message();
  return Render(**r);
}

TEST(CelParser, Literals) {
  EXPECT_EQ(ParseToString("42"), "42");
  EXPECT_EQ(ParseToString("42u"), "42u");
  EXPECT_EQ(ParseToString("0x1F"), "31");
  EXPECT_EQ(ParseToString("0x1Fu"), "31u");
  EXPECT_EQ(ParseToString("-9223372036854775808"), "-9223372036854775808");
  EXPECT_EQ(ParseToString("18446744073709551615u"), "18446744073709551615u");
  EXPECT_EQ(ParseToString("2.5e3"), "2500.0");
  EXPECT_EQ(ParseToString(".5"), "0.5");
  EXPECT_EQ(ParseToString("1e-2"), "0.01");
  EXPECT_EQ(ParseToString("true"), "true");
  EXPECT_EQ(ParseToString("null"), "null");
  EXPECT_EQ(ParseToString(R"('a\tb\u00e9\x41\101')"), "\"a\\x09béAA\"");
  EXPECT_EQ(ParseToString(R"(r'a\tb')"), R"("a\\tb")");
  EXPECT_EQ(ParseToString("'''multi\nline'''"), "\"multi\\nline\"");
  EXPECT_EQ(ParseToString(R"(b'\xff\000')"), R"(b"\xff\x00")");
  EXPECT_EQ(ParseToString(R"(b'ÿ')"), R"(b"\xc3\xbf")");
}

TEST(CelParser, PrecedenceAndAssociativity) {
  EXPECT_EQ(ParseToString("1 + 2 * 3"), "(_+_ 1 (_*_ 2 3))");
  EXPECT_EQ(ParseToString("1 - 2 - 3"), "(_-_ (_-_ 1 2) 3)");
  EXPECT_EQ(ParseToString("a || b && c"), "(_||_ a (_&&_ b c))");
  EXPECT_EQ(ParseToString("a < b == c"), "(_==_ (_<_ a b) c)");
  EXPECT_EQ(ParseToString("x in [1, 2,]"), "(@in x [1 2])");
  EXPECT_EQ(ParseToString("a ? b : c ? d : e"), "(_?_:_ a b (_?_:_ c d e))");
  EXPECT_EQ(ParseToString("!!a"), "(!_ (!_ a))");
  EXPECT_EQ(ParseToString("--1"), "(-_ -1)");
  EXPECT_EQ(ParseToString("-x"), "(-_ x)");
  EXPECT_EQ(ParseToString("a.b[0].c(1)"), "((_[_] a.b 0).c 1)");
  EXPECT_EQ(ParseToString("{'k': 1, 2: 'v'}"), "{\"k\":1 2:\"v\"}");
  EXPECT_EQ(ParseToString("m.`content-type`"), "m.content-type");
  EXPECT_EQ(ParseToString("x // comment\n + 1"), "(_+_ x 1)");
  EXPECT_EQ(ParseToString("[\t.a\n.\fb\r]\n[0]"), "(_[_] [.a.b] 0)");
}

TEST(CelParser, ExpandsMacros) {
  EXPECT_EQ(ParseToString("has(a.b)"), "has(a.b)");
  EXPECT_EQ(ParseToString("l.all(x, x > 0)"), "(all l x (_>_ x 0))");
  EXPECT_EQ(ParseToString("l.exists_one(x, x)"), "(exists_one l x x)");
  EXPECT_EQ(ParseToString("l.map(x, x > 1, x * 2)"), "(map l x (_>_ x 1) (_*_ x 2))");
  EXPECT_EQ(ParseToString("l.filter(x, x)"), "(filter l x x)");
  // Wrong arity is an ordinary method call, as in the CEL specification.
  EXPECT_EQ(ParseToString("l.all(x)"), "(l.all x)");
  // Reserved words may name fields and methods.
  EXPECT_EQ(ParseToString("a.if.while()"), "(a.if.while)");
}

void ExpectError(std::string_view source, std::string_view want) {
  Result<std::unique_ptr<Expr>> r = Parse(source);
  ASSERT_FALSE(r.ok()) << source;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message().substr(0, want.size()), want) << r.status().message();
}

TEST(CelParser, ErrorsCarryLineAndColumn) {
  ExpectError("1 +", "1:4: unexpected end of expression");
  ExpectError("(1", "1:3: expected ')'");
  ExpectError("a.b(1,", "1:7: unexpected end");
  ExpectError("1 +\n  )", "2:3: unexpected ')'");
  ExpectError("'üü' + )", "1:8: unexpected ')'");  // columns count code points
  ExpectError("a = b", "1:3: unexpected '='");
  ExpectError("a & b", "1:3: unexpected '&'");
  ExpectError("x + #", "1:5: unexpected character '#'");
  ExpectError("'abc", "1:1: unterminated string");
  ExpectError("'a\nb'", "1:3: line break");
  ExpectError(R"('\q')", "1:2: invalid escape");
  ExpectError(R"('\ud800')", "1:2: invalid unicode code point");
  ExpectError("if", "1:1: 'if' is a reserved word");
  ExpectError("has(a)", "1:1: has() takes one field selection");
  ExpectError("l.all(1, true)", "1:7: the first argument of all()");
  ExpectError("9223372036854775808", "1:1: integer literal out of range");
  ExpectError("18446744073709551616u", "1:1: integer literal out of range");
  ExpectError("1e999", "1:1: floating-point literal out of range");
  ExpectError("1abc", "1:2: unexpected character after number");
  ExpectError("a.`b", "1:3: unterminated quoted identifier");
  ExpectError("x\n\n  \xff", "3:3: expression is not valid UTF-8");
}

TEST(CelParser, RefusesDeepNesting) {
  std::string deep = std::string(150, '(') + "1" + std::string(150, ')');
  ExpectError(deep, "1:101: expression nested too deeply");
  std::string list = std::string(150, '[') + std::string(150, ']');
  ExpectError(list, "1:");
  std::string chain = "1";
  for (int i = 0; i < 300; ++i) chain += " + 1";
  ExpectError(chain, "1:");
  std::string negations = std::string(300, '!') + "true";
  ExpectError(negations, "1:");
  // Up to the limit is fine.
  ParseOptions options;
  options.max_depth = 400;
  EXPECT_TRUE(Parse(chain, options).ok());
  std::string ok = std::string(40, '(') + "1" + std::string(40, ')');
  EXPECT_TRUE(Parse(ok).ok());
}

TEST(CelParser, RefusesHugeSource) {
  std::string huge = "'" + std::string(200000, 'a') + "'";
  ExpectError(huge, "1:1: expression too long");
  ParseOptions options;
  options.max_source_bytes = 300000;
  EXPECT_TRUE(Parse(huge, options).ok());
}

TEST(CelParser, NoCrashOnGarbage) {
  const char* inputs[] = {"", ")", "]]]", "{", "{1:", "a.", ".", "..a", "a[", "a[1", "?", "a ? b",
                          "a ? b :", "[1,,2]", "{,}", "'''", "b'", "r", "\"\\", "`", "has(", "x.map(",
                          "a.b{", "a{b:", "-", "!", "0x", "1.", "1e", "\x01"};
  for (const char* in : inputs) {
    Result<std::unique_ptr<Expr>> r = Parse(in);
    if (!r.ok()) {
      SourcePosition pos;
      std::string_view text;
      EXPECT_TRUE(SplitPosition(r.status().message(), &pos, &text)) << in << ": " << r.status().message();
    }
  }
}

TEST(CelParser, SplitPosition) {
  SourcePosition pos;
  std::string_view text;
  ASSERT_TRUE(SplitPosition("12:34: bad thing", &pos, &text));
  EXPECT_EQ(pos, (SourcePosition{12, 34}));
  EXPECT_EQ(text, "bad thing");
  EXPECT_FALSE(SplitPosition("bad thing", &pos, &text));
  EXPECT_FALSE(SplitPosition("1:x: bad", &pos, &text));
}

}  // namespace
}  // namespace sov::policy::cel
