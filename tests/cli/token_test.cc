// Shows that bearer tokens have the agreed format and that their stored hash is sha256 of the whole token string.
#include "cli/token.h"

#include <set>
#include <string>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "crypto/dsse.h"
#include "crypto/sha256.h"

namespace sov::cli {
namespace {

// A token is "sovt_" plus 43 unpadded base64url characters that decode to 32 bytes.
TEST(GenerateToken, HasPrefixLengthAndBase64UrlAlphabet) {
  Result<std::string> token = GenerateToken();
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  ASSERT_EQ(token->size(), kTokenLength);
  EXPECT_EQ(token->substr(0, 5), "sovt_");
  std::string body = token->substr(5);
  EXPECT_EQ(body.size(), 43u);
  EXPECT_EQ(body.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos)
      << body;
  Result<std::string> raw = crypto::Base64Decode(body);
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  EXPECT_EQ(raw->size(), kTokenRandomBytes);
}

// Tokens do not repeat.
TEST(GenerateToken, IsFreshEachTime) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) seen.insert(GenerateToken().value());
  EXPECT_EQ(seen.size(), 100u);
}

// The stored hash is "sha256:<hex>" of the whole token, prefix included, as the gateway computes it.
TEST(TokenHash, IsSha256OfTheWholeToken) {
  std::string token = GenerateToken().value();
  EXPECT_EQ(TokenHash(token), crypto::Sha256Of(token).ToString());
  EXPECT_EQ(TokenHash(token).size(), 7u + 64u);
  EXPECT_EQ(TokenHash(token).substr(0, 7), "sha256:");
  // A fixed vector (FIPS 180-2): sha256 of "abc".
  EXPECT_EQ(TokenHash("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// The tenants-file lines are YAML that gives back the name and the hash.
TEST(TenantsFileEntry, IsYamlWithNameAndHash) {
  std::string hash = TokenHash("sovt_x");
  std::string entry = TenantsFileEntry("ci-pipeline", hash);
  EXPECT_EQ(entry, "tokens:\n  - name: ci-pipeline\n    sha256: \"" + hash + "\"\n");
  YAML::Node node = YAML::Load(entry);
  ASSERT_TRUE(node["tokens"].IsSequence());
  EXPECT_EQ(node["tokens"][0]["name"].as<std::string>(), "ci-pipeline");
  EXPECT_EQ(node["tokens"][0]["sha256"].as<std::string>(), hash);
}

// Token names are plain words that need no YAML quoting.
TEST(IsValidTokenName, AcceptsPlainNamesOnly) {
  for (const char* name : {"ci-pipeline", "notebook.alice", "a", "Job_7"}) {
    EXPECT_TRUE(IsValidTokenName(name)) << name;
  }
  for (const char* name : {"", "-dash-first", "has space", "colon:here", "quote\"", "new\nline",
                           "#comment"}) {
    EXPECT_FALSE(IsValidTokenName(name)) << name;
  }
  EXPECT_FALSE(IsValidTokenName(std::string(65, 'a')));
}

}  // namespace
}  // namespace sov::cli
