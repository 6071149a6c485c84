// Shows the loader's text helpers: did-you-mean hints, retention ages, SemVer ranges for
// validation datasets, and the mapping of positions inside YAML scalars back to the file.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/internal/scalar_map.h"
#include "policy/internal/text.h"

namespace sov::policy::internal {
namespace {

// Hints name the closest candidate, or list them when none is close.
TEST(PolicyText, Hints) {
  std::vector<std::string> keys = {"store_in", "transfer_to"};
  EXPECT_EQ(SuggestHint("trasnfer_to", keys), "did you mean `transfer_to`?");
  EXPECT_EQ(SuggestHint("zzz", keys), "expected one of: store_in, transfer_to");
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3);
}

// Ages are a whole number and a unit, or unlimited.
TEST(PolicyText, Ages) {
  EXPECT_EQ(**ParseAge("730d"), std::chrono::hours(730 * 24));
  EXPECT_EQ(**ParseAge("12h"), std::chrono::hours(12));
  EXPECT_EQ(**ParseAge("2w"), std::chrono::hours(14 * 24));
  EXPECT_FALSE(ParseAge("unlimited")->has_value());
  for (const char* bad : {"", "d", "1y", "-1d", "0d", "1.5d", "99999999999999d"}) {
    EXPECT_FALSE(ParseAge(bad).ok()) << bad;
  }
}

bool In(std::string_view range, std::string_view version) {
  Result<VersionRange> r = VersionRange::Parse(range);
  EXPECT_TRUE(r.ok()) << range;
  Result<Version> v = ParseVersion(version);
  EXPECT_TRUE(v.ok()) << version;
  return r.ok() && v.ok() && r->Matches(*v);
}

// npm-style ranges: caret, tilde, comparators, partial versions, alternatives, pre-releases.
TEST(PolicyText, VersionRanges) {
  EXPECT_TRUE(In("^2.0.0", "2.9.1"));
  EXPECT_FALSE(In("^2.0.0", "3.0.0"));
  EXPECT_FALSE(In("^2.0.0", "1.9.9"));
  EXPECT_TRUE(In("^0.2.3", "0.2.9"));
  EXPECT_FALSE(In("^0.2.3", "0.3.0"));
  EXPECT_FALSE(In("^0.0.3", "0.0.4"));
  EXPECT_TRUE(In("~1.2.3", "1.2.9"));
  EXPECT_FALSE(In("~1.2.3", "1.3.0"));
  EXPECT_TRUE(In(">=1.2.0 <1.5.0", "1.4.9"));
  EXPECT_FALSE(In(">=1.2.0 <1.5.0", "1.5.0"));
  EXPECT_TRUE(In(">= 1.2.0", "1.2.0"));
  EXPECT_TRUE(In("1.2.x", "1.2.7"));
  EXPECT_FALSE(In("1.2", "1.3.0"));
  EXPECT_TRUE(In("1 || >=3.0.0", "3.1.0"));
  EXPECT_FALSE(In("1 || >=3.0.0", "2.0.0"));
  EXPECT_TRUE(In("", "9.9.9"));
  EXPECT_TRUE(In("*", "0.0.1"));
  EXPECT_TRUE(In("=1.0.0", "1.0.0+build.5"));
  EXPECT_FALSE(In(">=1.0.0", "1.0.0-rc.1"));
  EXPECT_LT(CompareVersions(*ParseVersion("1.0.0-alpha"), *ParseVersion("1.0.0-alpha.1")), 0);
  EXPECT_LT(CompareVersions(*ParseVersion("1.0.0-2"), *ParseVersion("1.0.0-beta")), 0);
  for (const char* bad : {"^x", ">", "1.2.3.4", "01.2.3"}) EXPECT_FALSE(VersionRange::Parse(bad).ok()) << bad;
  EXPECT_FALSE(ParseVersion("1.2").ok());
}

// Positions inside plain, quoted, folded and literal scalars map to file lines and columns.
TEST(PolicyText, ScalarPositions) {
  std::vector<std::string_view> lines = {"when: a == b", "when: \"x + 1\"", "when: >", "  first &&",
                                         "  second", "when: |", "  one", "    two"};
  ScalarMap plain(lines, 0, 6, "a == b", "f");
  EXPECT_EQ(plain.Map(1, 6).ToString(), "f:1:12");
  ScalarMap quoted(lines, 1, 6, "x + 1", "f");
  EXPECT_EQ(quoted.Map(1, 5).ToString(), "f:2:12");
  ScalarMap folded(lines, 2, 6, "first && second\n", "f");
  EXPECT_EQ(folded.Map(1, 10).ToString(), "f:5:3");
  EXPECT_EQ(folded.start().ToString(), "f:4:3");
  ScalarMap literal(lines, 5, 6, "one\n  two\n", "f");
  EXPECT_EQ(literal.Map(2, 3).ToString(), "f:8:5");
  std::string text;
  EXPECT_EQ(literal.MapMessage("2:4: bad", &text).ToString(), "f:8:6");
  EXPECT_EQ(text, "bad");
  EXPECT_EQ(literal.MapMessage("no position", &text).ToString(), "f:7:3");
}

}  // namespace
}  // namespace sov::policy::internal
