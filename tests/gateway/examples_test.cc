// Shows that the example files shipped in examples/ are valid for sovd: the config and the
// tenants file parse, and the policy embedded for `sovd --dev` is examples/policy.yaml.
#include <gtest/gtest.h>

#include "common/file.h"
#include "gateway/config.h"
#include "gateway/internal/dev_policy.h"
#include "gateway/tenants.h"

namespace sov::gateway {
namespace {

const std::string kExamples = SOV_EXAMPLES_DIR;

TEST(ExamplesTest, SovdConfigParses) {
  // examples/sovd.yaml is a complete production-style config.
  Result<ServerConfig> config = LoadServerConfig(kExamples + "/sovd.yaml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->tls.has_value());
  EXPECT_EQ(config->storage.size(), 3u);
  EXPECT_EQ(config->tenants, kExamples + "/tenants.yaml");
}

TEST(ExamplesTest, TenantsFileParses) {
  // examples/tenants.yaml follows the tenants contract.
  Result<TenantDirectory> tenants = TenantDirectory::Load(kExamples + "/tenants.yaml");
  ASSERT_TRUE(tenants.ok()) << tenants.status().ToString();
  ASSERT_NE(tenants->FindById("acme-ml"), nullptr);
  EXPECT_EQ(tenants->FindById("acme-ml")->tokens.size(), 1u);
}

TEST(ExamplesTest, DevPolicyIsTheExamplePolicy) {
  // The embedded copy matches the file byte for byte (the build regenerates it on change).
  Result<std::string> policy = ReadFile(kExamples + "/policy.yaml");
  ASSERT_TRUE(policy.ok());
  EXPECT_EQ(*policy, internal::kDevPolicyYaml);
}

}  // namespace
}  // namespace sov::gateway
