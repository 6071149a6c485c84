// Shows that the tenants file parses into tenants and that duplicate ids, bad jurisdiction
// codes, bad token hashes and other mistakes are refused with FILE:LINE:COLUMN.
#include "gateway/tenants.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sov::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kFile[] = "tenants.yaml";
const std::string kHash = "sha256:" + std::string(64, 'a');

std::string Good() {
  return R"(tenants:
  - id: acme-ml
    name: ACME ML platform team
    jurisdiction: DE
    roles: [ml-engineer]
    purposes: [fraud-detection]
    mtls_subjects: ["CN=acme-ml,O=Sovereign Dev"]
    tokens:
      - name: ci-pipeline
        sha256: ")" + kHash + R"("
  - id: partner-us
    jurisdiction: US
    roles:
      - tenant-service
    mtls_subjects: ["CN=partner-us,O=Sovereign Dev"]
)";
}

std::string ErrorOf(const std::string& text) {
  Result<TenantDirectory> tenants = TenantDirectory::Parse(text, kFile);
  EXPECT_FALSE(tenants.ok());
  if (tenants.ok()) return "";
  EXPECT_EQ(tenants.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(tenants.status().message().find('\n'), std::string::npos);
  return tenants.status().message();
}

std::string Replace(std::string text, std::string_view from, std::string_view to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(TenantsTest, GoodFileParses) {
  // Every field of both tenants is read; lookups by id and subject work.
  Result<TenantDirectory> tenants = TenantDirectory::Parse(Good(), kFile);
  ASSERT_TRUE(tenants.ok()) << tenants.status().ToString();
  ASSERT_EQ(tenants->tenants().size(), 2u);
  const Tenant* acme = tenants->FindById("acme-ml");
  ASSERT_NE(acme, nullptr);
  EXPECT_EQ(acme->display_name, "ACME ML platform team");
  EXPECT_EQ(acme->jurisdiction, "DE");
  EXPECT_THAT(acme->roles, ElementsAre("ml-engineer"));
  EXPECT_THAT(acme->purposes, ElementsAre("fraud-detection"));
  ASSERT_EQ(acme->tokens.size(), 1u);
  EXPECT_EQ(acme->tokens[0].name, "ci-pipeline");
  EXPECT_EQ(acme->tokens[0].sha256.ToString(), kHash);
  EXPECT_EQ(tenants->FindBySubject("CN=partner-us,O=Sovereign Dev")->id, "partner-us");
  EXPECT_EQ(tenants->FindBySubject("CN=nobody,O=Sovereign Dev"), nullptr);
  EXPECT_EQ(tenants->FindById("partner-us")->display_name, "");
  EXPECT_TRUE(tenants->FindById("partner-us")->purposes.empty());
}

TEST(TenantsTest, DuplicateIdIsRefused) {
  // Two tenants with one id: the second is reported, with where the first is.
  std::string text = Replace(Good(), "id: partner-us", "id: acme-ml");
  text = Replace(text, "CN=partner-us", "CN=other");
  EXPECT_EQ(ErrorOf(text),
            "tenants.yaml:11:9: error: tenants[1].id: duplicate tenant id 'acme-ml' (first at "
            "tenants.yaml:2:9)");
}

TEST(TenantsTest, BadJurisdictionCodeIsRefused) {
  // Names, lower case and unassigned codes are not ISO 3166-1 alpha-2.
  for (std::string_view bad : {"Germany", "de", "XX", "EU"}) {
    EXPECT_EQ(ErrorOf(Replace(Good(), "jurisdiction: DE", "jurisdiction: " + std::string(bad))),
              "tenants.yaml:4:19: error: tenants[0].jurisdiction: '" + std::string(bad) +
                  "' is not an ISO 3166-1 alpha-2 country code (e.g. DE, FR, US)");
  }
}

TEST(TenantsTest, BadTokenHashIsRefused) {
  // A hash without the prefix, too short, or not hex.
  for (const std::string& bad :
       std::vector<std::string>{std::string(64, 'a'), "sha256:abc", "sha256:" + std::string(64, 'z')}) {
    EXPECT_THAT(ErrorOf(Replace(Good(), kHash, bad)),
                StartsWith("tenants.yaml:10:17: error: tenants[0].tokens[0].sha256: expected "
                           "\"sha256:\" and 64 hex digits"));
  }
}

TEST(TenantsTest, BadTenantIdIsRefused) {
  // Ids are DNS-label-like: no upper case, spaces or leading dashes.
  EXPECT_THAT(ErrorOf(Replace(Good(), "id: acme-ml", "id: Acme ML")),
              StartsWith("tenants.yaml:2:9: error: tenants[0].id: 'Acme ML' is not a valid tenant id"));
}

TEST(TenantsTest, SubjectOrTokenRegisteredTwiceIsRefused) {
  // One credential must map to exactly one tenant.
  EXPECT_THAT(ErrorOf(Replace(Good(), "CN=partner-us", "CN=acme-ml")),
              HasSubstr("subject 'CN=acme-ml,O=Sovereign Dev' is already registered to tenant 'acme-ml'"));
  std::string text = Good() + "    tokens: [{name: other, sha256: \"" + kHash + "\"}]\n";
  EXPECT_THAT(ErrorOf(text), HasSubstr("the same token hash is already registered to tenant 'acme-ml'"));
}

TEST(TenantsTest, UnknownKeyAndWrongShapeAreRefused) {
  // A typo in a tenant, a scalar where a list belongs, and no tenants key at all.
  EXPECT_EQ(ErrorOf(Replace(Good(), "roles: [ml-engineer]", "role: [ml-engineer]")),
            "tenants.yaml:5:5: error: unknown key 'tenants[0].role'; did you mean 'roles'?");
  EXPECT_EQ(ErrorOf(Replace(Good(), "roles: [ml-engineer]", "roles: {a: b}")),
            "tenants.yaml:5:12: error: tenants[0].roles: expected a list of strings, got a mapping");
  EXPECT_EQ(ErrorOf("tenant: []\n"), "tenants.yaml:1:1: error: tenants: required key is missing");
}

TEST(TenantsTest, TenantIdRules) {
  // IsValidTenantId accepts DNS-label-like ids only.
  EXPECT_TRUE(IsValidTenantId("acme-ml"));
  EXPECT_TRUE(IsValidTenantId("a1"));
  EXPECT_FALSE(IsValidTenantId(""));
  EXPECT_FALSE(IsValidTenantId("-acme"));
  EXPECT_FALSE(IsValidTenantId("acme-"));
  EXPECT_FALSE(IsValidTenantId("ACME"));
  EXPECT_FALSE(IsValidTenantId(std::string(64, 'a')));
}

}  // namespace
}  // namespace sov::gateway
