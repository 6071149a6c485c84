// Shows that UTF-8 validation follows RFC 3629 (shortest form, no surrogates, at most U+10FFFF)
// and names the first bad byte, and that CodePoints counts characters, not bytes.
#include "common/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace sov {
namespace {

TEST(Utf8Test, AcceptsEveryEncodedLength) {
  for (std::string text : {std::string(""), std::string("plain ascii"),
                           std::string("\xC3\xA9"),            // é, 2 bytes
                           std::string("\xE2\x82\xAC"),        // €, 3 bytes
                           std::string("\xF0\x9F\x98\x80"),    // 😀, 4 bytes
                           std::string("\xEF\xBF\xBF"),        // U+FFFF
                           std::string("\xF4\x8F\xBF\xBF")}) {  // U+10FFFF, the last
    EXPECT_TRUE(IsValidUtf8(text)) << text;
    EXPECT_EQ(InvalidUtf8Offset(text), text.size()) << text;
  }
}

TEST(Utf8Test, NamesTheFirstByteOfEachInvalidForm) {
  struct Case {
    std::string text;
    size_t offset;
    const char* why;
  };
  const Case cases[] = {
      {"ab\x80", 2, "a continuation byte with no lead"},
      {"a\xC0\x80", 1, "overlong 2-byte NUL"},
      {"\xE0\x80\x80", 0, "overlong 3-byte"},
      {"x\xF0\x80\x80\x80", 1, "overlong 4-byte"},
      {"\xED\xA0\x80", 0, "a UTF-16 surrogate (U+D800)"},
      {"ok\xF4\x90\x80\x80", 2, "above U+10FFFF"},
      {"\xF8\x88\x80\x80\x80", 0, "a 5-byte lead"},
      {"\xFF", 0, "0xFF"},
      {"abc\xE2\x82", 3, "a sequence cut short by the end"},
      {"\xE2\x82x", 0, "a sequence cut short by ASCII"},
      {"\xC3\xA9\xC3", 2, "valid, then a lone lead byte"},
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(IsValidUtf8(c.text)) << c.why;
    EXPECT_EQ(InvalidUtf8Offset(c.text), c.offset) << c.why;
  }
}

TEST(Utf8Test, CodePointsCountsCharactersNotBytes) {
  EXPECT_EQ(CodePoints(""), 0u);
  EXPECT_EQ(CodePoints("abc"), 3u);
  const std::string mixed = "h\xC3\xA9llo \xE2\x82\xAC\xF0\x9F\x98\x80";  // "héllo €😀"
  EXPECT_EQ(mixed.size(), 14u);
  EXPECT_EQ(CodePoints(mixed), 8u);
  // 1,024 two-byte characters are 1,024 characters, which is what a 1,024-character limit
  // must accept.
  std::string long_text;
  for (int i = 0; i < 1024; ++i) long_text += "\xC3\xA9";
  EXPECT_EQ(CodePoints(long_text), 1024u);
}

}  // namespace
}  // namespace sov
