// Shows the public SemVer range of release gates' validation datasets: matching, pre-releases
// and the error for a malformed range.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "policy/semver_range.h"

namespace sov::policy {
namespace {

// Parses `text`, which the test expects to be a valid range (else fails and returns "*").
SemVerRange Range(std::string_view text) {
  Result<SemVerRange> range = SemVerRange::Parse(text);
  EXPECT_TRUE(range.ok()) << text << ": " << range.status().message();
  return range.ok() ? *range : *SemVerRange::Parse("*");
}

// A caret range holds the versions up to the next major one; build metadata is ignored.
TEST(SemVerRange, MatchesVersionsInRange) {
  const SemVerRange caret = Range("^2.0.0");
  EXPECT_TRUE(caret.Matches("2.0.0"));
  EXPECT_TRUE(caret.Matches("2.9.1"));
  EXPECT_TRUE(caret.Matches("2.1.0+build.7"));
  EXPECT_TRUE(Range(">=1.2.0 <1.5.0 || 3.x").Matches("3.2.0"));
}

// Versions outside the range, and texts that are no version, do not match.
TEST(SemVerRange, RejectsVersionsOutsideRange) {
  const SemVerRange range = Range(">=1.2.0 <1.5.0 || 3.x");
  EXPECT_FALSE(range.Matches("1.5.0"));
  EXPECT_FALSE(range.Matches("2.0.0"));
  EXPECT_FALSE(range.Matches("1.4"));
  EXPECT_FALSE(range.Matches("not-a-version"));
  EXPECT_FALSE(Range("^2.0.0").Matches("3.0.0"));
}

// A pre-release is below its release, and in range when its precedence is.
TEST(SemVerRange, OrdersPrereleasesByPrecedence) {
  EXPECT_FALSE(Range(">=1.0.0").Matches("1.0.0-rc.1"));
  EXPECT_TRUE(Range(">=1.0.0").Matches("1.1.0-rc.1"));
  const SemVerRange exact = Range("=2.0.0-rc.2");
  EXPECT_TRUE(exact.Matches("2.0.0-rc.2"));
  EXPECT_FALSE(exact.Matches("2.0.0-rc.10"));
  EXPECT_FALSE(exact.Matches("2.0.0"));
}

// The empty range and "*" hold every version.
TEST(SemVerRange, EmptyAndStarMatchEverything) {
  for (const char* any : {"", "*"}) {
    EXPECT_TRUE(Range(any).Matches("0.0.1")) << any;
    EXPECT_TRUE(Range(any).Matches("9.9.9")) << any;
  }
}

// A malformed range is INVALID_ARGUMENT quoting the bad comparator.
TEST(SemVerRange, MalformedRangeIsInvalidArgument) {
  for (const char* bad : {"^x", ">", "1.2.3.4", "01.2.3"}) {
    Result<SemVerRange> range = SemVerRange::Parse(bad);
    ASSERT_FALSE(range.ok()) << bad;
    EXPECT_EQ(range.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  Result<SemVerRange> range = SemVerRange::Parse("^1.a");
  ASSERT_FALSE(range.ok());
  EXPECT_NE(range.status().message().find("^1.a"), std::string::npos)
      << range.status().message();
}

}  // namespace
}  // namespace sov::policy
