// Shows the shape of bearer tokens and that the stored form is the token's SHA-256.
#include "gateway/bearer_token.h"

#include <set>

#include <gtest/gtest.h>

#include "crypto/sha256.h"

namespace sov::gateway {
namespace {

TEST(BearerTokenTest, GeneratedTokensAreWellFormedAndDistinct) {
  // "sovt_" + 43 base64url characters, never repeated.
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string token = GenerateBearerToken();
    EXPECT_EQ(token.size(), 48u);
    EXPECT_TRUE(IsWellFormedBearerToken(token)) << token;
    EXPECT_EQ(token.find_first_of("+/="), std::string::npos);
    EXPECT_TRUE(seen.insert(token).second);
  }
}

TEST(BearerTokenTest, RejectsOtherShapes) {
  // Wrong prefix, length or alphabet.
  std::string good = GenerateBearerToken();
  EXPECT_FALSE(IsWellFormedBearerToken(good.substr(1)));
  EXPECT_FALSE(IsWellFormedBearerToken(good + "A"));
  EXPECT_FALSE(IsWellFormedBearerToken("sovx_" + good.substr(5)));
  EXPECT_FALSE(IsWellFormedBearerToken(good.substr(0, 47) + "+"));
  EXPECT_FALSE(IsWellFormedBearerToken(""));
}

TEST(BearerTokenTest, HashIsSha256OfTheWholeToken) {
  // The stored hash covers the prefix too.
  std::string token = GenerateBearerToken();
  EXPECT_EQ(HashBearerToken(token), crypto::Sha256Of(token));
  EXPECT_NE(HashBearerToken(token), crypto::Sha256Of(token.substr(5)));
}

}  // namespace
}  // namespace sov::gateway
