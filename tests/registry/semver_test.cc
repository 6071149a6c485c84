// Shows that versions parse per SemVer 2.0.0 without build metadata, and order by precedence
// exactly as semver.org section 11 says.
#include "registry/semver.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sov::registry {
namespace {

SemVer V(std::string_view text) {
  auto v = SemVer::Parse(text);
  EXPECT_TRUE(v.ok()) << text << ": " << v.status().ToString();
  return v.ok() ? *v : SemVer{};
}

TEST(SemVerTest, ParsesValidVersions) {
  // Core, pre-release and their parts come out as written, and ToString gives the text back.
  for (const char* text : {"0.0.0", "1.4.0", "2.0.0-rc.1", "1.0.0-alpha", "1.0.0-0.3.7",
                           "1.0.0-x.7.z.92", "1.0.0-x-y-z.--", "10.20.30", "1.0.0-0A.is.legal",
                           "18446744073709551615.0.0", "1.2.3----RC-SNAPSHOT.12.9.1--.12"}) {
    SemVer v = V(text);
    EXPECT_EQ(v.ToString(), text);
  }
  SemVer v = V("2.10.3-rc.1");
  EXPECT_EQ(v.major, 2u);
  EXPECT_EQ(v.minor, 10u);
  EXPECT_EQ(v.patch, 3u);
  EXPECT_EQ(v.prerelease, (std::vector<std::string>{"rc", "1"}));
}

TEST(SemVerTest, RefusesBadVersions) {
  // Each malformed text is INVALID_ARGUMENT quoting it.
  for (const std::string& bad :
       {std::string(""), std::string("v1.0.0"), std::string("1"), std::string("1.2"),
        std::string("1.2.3.4"), std::string("01.1.1"), std::string("1.01.1"),
        std::string("1.1.01"), std::string("1.2.3-0123"), std::string("1.2.3-"),
        std::string("1.2.3-alpha..1"), std::string("1.2.3-alpha."), std::string("1.2.3+build"),
        std::string("1.0.0-rc.1+build.1"), std::string("1.2.-3"), std::string("a.b.c"),
        std::string(" 1.2.3"), std::string("1.2.3 "), std::string("1.2.3-al_pha"),
        std::string("1.2.3-é"), std::string("18446744073709551616.0.0"),
        std::string("1.0.0-") + std::string(130, 'a')}) {
    auto v = SemVer::Parse(bad);
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(v.status().message().find("'" + bad.substr(0, 20)), std::string::npos)
        << v.status().message();
  }
  EXPECT_NE(SemVer::Parse("1.0.0+b").status().message().find("build metadata"), std::string::npos);
  EXPECT_NE(SemVer::Parse("v1.0.0").status().message().find("leading 'v'"), std::string::npos);
}

TEST(SemVerTest, LengthLimitIs128) {
  // 128 characters pass, 129 do not.
  std::string ok = "1.0.0-" + std::string(122, 'a');
  ASSERT_EQ(ok.size(), 128u);
  EXPECT_TRUE(SemVer::Parse(ok).ok());
  EXPECT_FALSE(SemVer::Parse(ok + "a").ok());
}

TEST(SemVerTest, SpecPrecedenceExamples) {
  // semver.org 11: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta < 1.0.0-beta.2 <
  // 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0, and 1.0.0 < 2.0.0 < 2.1.0 < 2.1.1.
  const std::vector<std::vector<const char*>> chains = {
      {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
       "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"},
      {"1.0.0", "2.0.0", "2.1.0", "2.1.1"},
  };
  for (const auto& chain : chains) {
    for (size_t i = 0; i < chain.size(); ++i) {
      for (size_t j = 0; j < chain.size(); ++j) {
        auto c = CompareVersions(chain[i], chain[j]);
        ASSERT_TRUE(c.ok());
        EXPECT_EQ(*c, i < j ? -1 : (i > j ? 1 : 0)) << chain[i] << " vs " << chain[j];
        EXPECT_EQ(V(chain[i]) < V(chain[j]), i < j);
      }
    }
  }
}

TEST(SemVerTest, NumericIdentifiersCompareNumerically) {
  // Numbers compare as numbers (also beyond 64 bits), below alphanumerics; ASCII order otherwise.
  EXPECT_LT(V("1.0.0-2"), V("1.0.0-10"));
  EXPECT_LT(V("1.0.0-99999999999999999999999"), V("1.0.0-100000000000000000000000"));
  EXPECT_LT(V("1.0.0-999"), V("1.0.0-a"));
  EXPECT_LT(V("1.0.0-B"), V("1.0.0-a"));  // ASCII: upper case first
  EXPECT_LT(V("1.0.0-a-b"), V("1.0.0-a1"));
  EXPECT_LT(V("1.9.0"), V("1.10.0"));
  EXPECT_EQ(V("1.0.0-rc.1"), V("1.0.0-rc.1"));
  EXPECT_FALSE(CompareVersions("1.0.0", "x").ok());
}

}  // namespace
}  // namespace sov::registry
