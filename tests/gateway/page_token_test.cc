#include "gateway/page_token.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "crypto/dsse.h"
#include "crypto/key_hierarchy.h"

namespace sov::gateway {
namespace {

using ::testing::HasSubstr;

PageTokens FromMaster(const crypto::SecretKey& master) {
  return PageTokens(crypto::DerivePurposeKey(master, "page-tokens"));
}

TEST(PageTokensTest, OpensWhatItSealedForTheSameCallAndFilters) {
  const crypto::SecretKey master = crypto::SecretKey::Random();
  const PageTokens tokens = FromMaster(master);
  for (const std::string& cursor : {std::string("acme-ml/fraud/model"), std::string(""),
                                   std::string("a\nb\0c", 5), std::string(500, 'z')}) {
    const std::string token = tokens.Seal("ListArtifacts", "filters", cursor);
    EXPECT_EQ(token.find_first_of("+/="), std::string::npos) << "not URL-safe: " << token;
    Result<std::string> opened = tokens.Open("ListArtifacts", "filters", token);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(*opened, cursor);
  }
  // A gateway restarted on the same master key (or another sharing it) takes it too.
  const std::string token = tokens.Seal("ListArtifacts", "filters", "acme-ml/x");
  Result<std::string> again = FromMaster(master).Open("ListArtifacts", "filters", token);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, "acme-ml/x");
}

TEST(PageTokensTest, RefusesOtherFiltersCallsKeysAndEdits) {
  const PageTokens tokens = FromMaster(crypto::SecretKey::Random());
  const std::string token = tokens.Seal("ListArtifacts", "kind=model", "acme-ml/m");
  auto expect_refused = [&](Result<std::string> opened, const std::string& what) {
    EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument) << what;
    EXPECT_THAT(opened.status().message(), HasSubstr("not one this server wrote")) << what;
    EXPECT_THAT(opened.status().message(), HasSubstr("unchanged")) << what;
  };
  expect_refused(tokens.Open("ListArtifacts", "kind=dataset", token), "other filters");
  expect_refused(tokens.Open("ListValidationJobs", "kind=model", token), "other call");
  expect_refused(FromMaster(crypto::SecretKey::Random()).Open("ListArtifacts", "kind=model", token),
                 "other master key");
  // The boundaries between call, filters and cursor cannot be moved.
  expect_refused(tokens.Open("ListArtifact", "skind=model", token), "shifted boundary");

  Result<std::string> bytes = crypto::Base64Decode(token);
  ASSERT_TRUE(bytes.ok());
  std::string edited = *bytes;
  edited.back() = 'n';  // acme-ml/n: a cursor the client chose
  expect_refused(tokens.Open("ListArtifacts", "kind=model", crypto::Base64UrlEncode(edited)),
                 "edited cursor");
  std::string flipped = *bytes;
  flipped[5] = static_cast<char>(flipped[5] ^ 1);  // inside the tag
  expect_refused(tokens.Open("ListArtifacts", "kind=model", crypto::Base64UrlEncode(flipped)),
                 "edited tag");
  expect_refused(tokens.Open("ListArtifacts", "kind=model", crypto::Base64UrlEncode("acme-ml/m")),
                 "a bare cursor");
  expect_refused(tokens.Open("ListArtifacts", "kind=model", "p1"), "too short");
  expect_refused(tokens.Open("ListArtifacts", "kind=model", "***"), "not base64");
  expect_refused(tokens.Open("ListArtifacts", "kind=model", std::string(5000, 'A')), "too long");
}

}  // namespace
}  // namespace sov::gateway
