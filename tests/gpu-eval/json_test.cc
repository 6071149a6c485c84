// Shows the strict JSON reader (RFC 8259 only, exact integers, UTF-8 and surrogate checks, depth
// and duplicate-key limits, error offsets) and the writer (layout, escapes, shortest round-trip
// doubles), and that whatever the writer emits the reader takes back unchanged.
#include "gpu-eval/internal/json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>

namespace sov::gpu_eval::json {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

Value ParseOk(std::string_view text) {
  Result<Value> value = Parse(text);
  EXPECT_TRUE(value.ok()) << text << ": " << value.status().ToString();
  return value.ok() ? *value : Value();
}

std::string ParseError(std::string_view text, const ParseLimits& limits = {}) {
  Result<Value> value = Parse(text, limits);
  EXPECT_FALSE(value.ok()) << "accepted: " << text;
  if (value.ok()) return "";
  EXPECT_EQ(value.status().code(), StatusCode::kInvalidArgument);
  return value.status().message();
}

TEST(JsonParseTest, ReadsEveryKindOfValue) {
  // Parses a document with every JSON type and reads it back through the accessors.
  Value v = ParseOk(R"( {"n": null, "t": true, "f": false, "s": "x", "a": [1, -2.5e3], "o": {}} )");
  ASSERT_TRUE(v.is_object());
  ASSERT_EQ(v.members().size(), 6u);
  EXPECT_EQ(v.members()[0].first, "n");
  EXPECT_EQ(v.Find("n")->type(), Value::Type::kNull);
  EXPECT_EQ(v.Find("t")->type(), Value::Type::kBool);
  EXPECT_TRUE(v.Find("t")->boolean());
  EXPECT_FALSE(v.Find("f")->boolean());
  EXPECT_EQ(v.Find("s")->string(), "x");
  ASSERT_TRUE(v.Find("a")->is_array());
  EXPECT_EQ(v.Find("a")->array()[1].number_text(), "-2.5e3");
  EXPECT_EQ(v.Find("a")->array()[1].as_double(), -2500.0);
  EXPECT_TRUE(v.Find("o")->is_object());
  EXPECT_EQ(v.Find("missing"), nullptr);
  EXPECT_EQ(v.Find("a")->Find("x"), nullptr);  // not an object
}

TEST(JsonParseTest, IntegersAreExactTo64Bits) {
  // Keeps number text so that uint64 and int64 extremes survive, and refuses what does not fit.
  EXPECT_EQ(ParseOk("18446744073709551615").as_uint64(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(ParseOk("18446744073709551616").as_uint64(), std::nullopt);
  EXPECT_EQ(ParseOk("-9223372036854775808").as_int64(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(ParseOk("9223372036854775808").as_int64(), std::nullopt);
  EXPECT_EQ(ParseOk("-1").as_uint64(), std::nullopt);
  EXPECT_EQ(ParseOk("1.0").as_uint64(), std::nullopt);
  EXPECT_EQ(ParseOk("1e2").as_int64(), std::nullopt);
  EXPECT_EQ(ParseOk("1e2").as_double(), 100.0);
  EXPECT_EQ(ParseOk("1e400").as_double(), std::nullopt);
  EXPECT_EQ(ParseOk("1e-400").as_double(), std::nullopt);
  EXPECT_EQ(ParseOk("5e-324").as_double(), 5e-324);
  EXPECT_EQ(ParseOk("\"1\"").as_uint64(), std::nullopt);
}

TEST(JsonParseTest, DecodesEscapesAndSurrogatePairs) {
  // Unescapes every RFC 8259 escape, joins UTF-16 surrogate pairs and keeps raw UTF-8.
  EXPECT_EQ(ParseOk(R"("\"\\\/\b\f\n\r\t")").string(), "\"\\/\b\f\n\r\t");
  EXPECT_EQ(ParseOk(R"("\u00e9\u20AC")").string(), "\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(ParseOk(R"("\ud83d\ude00")").string(), "\xF0\x9F\x98\x80");
  EXPECT_EQ(ParseOk("\"\xF0\x9F\x98\x80 caf\xC3\xA9\"").string(), "\xF0\x9F\x98\x80 caf\xC3\xA9");
  EXPECT_EQ(ParseOk(R"("\u0000")").string(), std::string(1, '\0'));
}

TEST(JsonParseTest, RejectsWhatRfc8259Rejects) {
  // Refuses common extensions and near-misses, each with an offset.
  for (const char* text : {"", " ", "[1,]", "{\"a\":1,}", "// c\n1", "/* c */ 1", "NaN",
                           "Infinity", "-Infinity", "01", "-01", "1.", ".5", "+1", "1e", "1e+",
                           "-", "0x10", "'a'", "{a:1}", "[1 2]", "{\"a\" 1}", "{\"a\":}", "tru",
                           "nul", "True", "[", "]", "{", "\"abc", "1 2", "[1]]", "{}{}",
                           "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\"}) {
    EXPECT_THAT(ParseError(text), StartsWith("offset ")) << text;
  }
}

TEST(JsonParseTest, RejectsBadStrings) {
  // Refuses raw control characters, lone surrogates and every kind of malformed UTF-8.
  EXPECT_THAT(ParseError("\"a\nb\""), HasSubstr("control character"));
  EXPECT_THAT(ParseError(std::string("\"a\0b\"", 5)), HasSubstr("control character"));
  EXPECT_THAT(ParseError(R"("\udc00")"), HasSubstr("unpaired low surrogate"));
  EXPECT_THAT(ParseError(R"("\ud800")"), HasSubstr("unpaired high surrogate"));
  EXPECT_THAT(ParseError(R"("\ud800x")"), HasSubstr("unpaired high surrogate"));
  EXPECT_THAT(ParseError(R"("\ud800\u0041")"), HasSubstr("unpaired high surrogate"));
  for (const char* bad : {"\xC0\x80",          // overlong NUL
                          "\xC1\xBF",          // overlong
                          "\xE0\x9F\xBF",      // overlong 3-byte
                          "\xED\xA0\x80",      // encoded surrogate
                          "\xF0\x8F\xBF\xBF",  // overlong 4-byte
                          "\xF4\x90\x80\x80",  // past U+10FFFF
                          "\xF5\x80\x80\x80",  // invalid lead byte
                          "\x80",              // lone continuation
                          "\xC3",              // truncated
                          "\xE2\x82",          // truncated
                          "\xFF"}) {
    EXPECT_THAT(ParseError("\"" + std::string(bad) + "\""), HasSubstr("invalid UTF-8")) << bad;
  }
}

TEST(JsonParseTest, ReportsTheOffsetOfTheFirstError) {
  // The offset points at the byte where the document stopped being JSON.
  EXPECT_THAT(ParseError("[1,]"), StartsWith("offset 3: "));
  EXPECT_THAT(ParseError("{\"k\": tx}"), StartsWith("offset 6: "));
  EXPECT_THAT(ParseError("  1  x"), StartsWith("offset 5: "));
  EXPECT_THAT(ParseError("\"ab\\q\""), StartsWith("offset 3: "));
}

TEST(JsonParseTest, BoundsNestingDepth) {
  // Accepts exactly max_depth nested containers and refuses one more, even 100000 deep.
  ParseLimits limits;
  limits.max_depth = 5;
  EXPECT_TRUE(Parse("[[[[[1]]]]]", limits).ok());
  EXPECT_TRUE(Parse("{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":1}}}}}", limits).ok());
  EXPECT_THAT(ParseError("[[[[[[1]]]]]]", limits), HasSubstr("nesting deeper than 5"));
  EXPECT_THAT(ParseError("[{\"a\":[{\"a\":[{}]}]}]", limits), HasSubstr("nesting deeper"));
  EXPECT_TRUE(Parse(std::string(64, '[') + std::string(64, ']')).ok());
  EXPECT_THAT(ParseError(std::string(65, '[') + std::string(65, ']')), HasSubstr("nesting"));
  EXPECT_THAT(ParseError(std::string(100000, '[')), HasSubstr("nesting"));
}

TEST(JsonParseTest, RejectsDuplicateKeysAfterUnescaping) {
  // A key seen twice in one object is an error naming it; "a" and "\u0061" are the same key.
  EXPECT_THAT(ParseError(R"({"a":1,"b":2,"a":3})"), HasSubstr("duplicate key \"a\""));
  EXPECT_THAT(ParseError(R"({"a":1,"\u0061":2})"), StartsWith("offset 7: duplicate key"));
  EXPECT_THAT(ParseError(R"({"o":{"k":1,"k":1}})"), HasSubstr("duplicate key \"k\""));
  EXPECT_TRUE(Parse(R"({"a":{"a":1},"b":{"a":2}})").ok());  // same key, different objects
}

TEST(JsonParseTest, KeepsDuplicateKeysWhenAskedTo) {
  // With reject_duplicate_keys off every member is kept, in document order.
  ParseLimits limits;
  limits.reject_duplicate_keys = false;
  Result<Value> value = Parse(R"({"a":1,"a":2})", limits);
  ASSERT_TRUE(value.ok()) << value.status().ToString();
  ASSERT_EQ(value->members().size(), 2u);
  EXPECT_EQ(value->members()[1].second.number_text(), "2");
}

TEST(JsonWriterTest, WritesCompactOutput) {
  // Compact output separates values with commas only, and empty containers stay "{}" / "[]".
  Writer w;
  w.BeginObject()
      .Key("a").Int(-3)
      .Key("b").BeginArray().Uint(18446744073709551615ull).Bool(true).Null().EndArray()
      .Key("c").BeginObject().EndObject()
      .Key("d").BeginArray().EndArray()
      .Key("e").String("x")
      .EndObject();
  EXPECT_EQ(w.str(), R"({"a":-3,"b":[18446744073709551615,true,null],"c":{},"d":[],"e":"x"})");
}

TEST(JsonWriterTest, WritesIndentedOutput) {
  // Indented output puts each member on its own line, nested by `indent` spaces.
  Writer w(2);
  w.BeginObject().Key("a").BeginArray().Int(1).Int(2).EndArray().Key("b").BeginObject()
      .EndObject().Key("c").BeginObject().Key("d").Null().EndObject().EndObject();
  EXPECT_EQ(w.str(),
            "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {},\n  \"c\": {\n    \"d\": null\n  }\n}");
}

TEST(JsonWriterTest, WritesTopLevelScalars) {
  // A document may be a single scalar.
  EXPECT_EQ(Writer().Double(0.5).str(), "0.5");
  EXPECT_EQ(Writer().String("s").str(), "\"s\"");
}

TEST(JsonWriterTest, DoublesAreShortestAndRoundTrip) {
  // Writes the shortest text that reads back to the same bits; NaN and infinities become null.
  EXPECT_EQ(Writer().Double(0.1).str(), "0.1");
  EXPECT_EQ(Writer().Double(1.0).str(), "1");
  EXPECT_EQ(Writer().Double(-2.5).str(), "-2.5");
  EXPECT_EQ(Writer().Double(1e300).str(), "1e+300");
  EXPECT_EQ(Writer().Double(5e-324).str(), "5e-324");
  EXPECT_EQ(Writer().Double(std::nan("")).str(), "null");
  EXPECT_EQ(Writer().Double(-std::numeric_limits<double>::infinity()).str(), "null");

  std::mt19937_64 random(42);
  for (int i = 0; i < 20000; ++i) {
    const double value = std::bit_cast<double>(random());
    const std::string text = Writer().Double(value).str();
    if (!std::isfinite(value)) {
      EXPECT_EQ(text, "null");
      continue;
    }
    Result<Value> parsed = Parse(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status().ToString();
    std::optional<double> back = parsed->as_double();
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(std::bit_cast<uint64_t>(*back), std::bit_cast<uint64_t>(value)) << text;
  }
}

TEST(JsonWriterTest, QuoteEscapesAndRepairsStrings) {
  // Escapes quotes, backslashes and control characters; invalid UTF-8 becomes U+FFFD.
  EXPECT_EQ(Quote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(Quote("\n\t\r\b\f"), R"("\n\t\r\b\f")");
  EXPECT_EQ(Quote(std::string("\0\x01\x1f", 3)), R"("\u0000\u0001\u001f")");
  EXPECT_EQ(Quote("caf\xC3\xA9 \xF0\x9F\x98\x80"), "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");
  EXPECT_EQ(Quote("a\xFF" "b\xC3"), "\"a\xEF\xBF\xBD" "b\xEF\xBF\xBD\"");
  EXPECT_EQ(Quote("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(JsonWriterTest, QuotedStringsRoundTrip) {
  // Quote then Parse gives back any valid UTF-8 string, and valid JSON for any bytes at all.
  std::mt19937 random(7);
  auto append_utf8 = [](uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      *out += {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
    } else if (cp < 0x10000) {
      *out += {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
               static_cast<char>(0x80 | (cp & 0x3F))};
    } else {
      *out += {static_cast<char>(0xF0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
               static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), static_cast<char>(0x80 | (cp & 0x3F))};
    }
  };
  for (int i = 0; i < 5000; ++i) {
    std::string text;
    for (int n = static_cast<int>(random() % 12); n > 0; --n) {
      uint32_t cp = random() % 4 == 0 ? random() % 0x80 : random() % 0x110000;
      if (cp >= 0xD800 && cp <= 0xDFFF) cp -= 0x1000;  // surrogates are not characters
      append_utf8(cp, &text);
    }
    Result<Value> parsed = Parse(Quote(text));
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(parsed->string(), text);

    std::string bytes(static_cast<size_t>(random() % 12), '\0');
    for (char& c : bytes) c = static_cast<char>(random() % 256);
    EXPECT_TRUE(Parse(Quote(bytes)).ok());
  }
}

TEST(JsonWriterTest, ReaderTakesBackWhatTheWriterWrote) {
  // A nested document written compact and indented parses to the same values.
  for (int indent : {-1, 0, 4}) {
    Writer w(indent);
    w.BeginObject().Key("name").String("m\xC3\xB6" "del \"1\"").Key("scores").BeginArray();
    for (double d : {0.25, 1e-7, 123456789.0}) w.Double(d);
    w.EndArray().Key("nested").BeginArray().BeginObject().Key("k").Bool(false).EndObject()
        .EndArray().EndObject();
    Value v = ParseOk(w.str());
    EXPECT_EQ(v.Find("name")->string(), "m\xC3\xB6" "del \"1\"");
    EXPECT_EQ(v.Find("scores")->array()[1].as_double(), 1e-7);
    EXPECT_EQ(v.Find("scores")->array()[2].as_uint64(), 123456789u);
    EXPECT_FALSE(v.Find("nested")->array()[0].Find("k")->boolean());
  }
}

}  // namespace
}  // namespace sov::gpu_eval::json
