// Shows that the example files shipped in examples/ are valid for sovd: the config and the
// tenants file parse, the example policy compiles and lets every example tenant call WhoAmI,
// and the policy embedded for `sovd --dev` is examples/policy.yaml.
#include <gtest/gtest.h>

#include "common/file.h"
#include "gateway/config.h"
#include "gateway/internal/dev_policy.h"
#include "gateway/call_guard.h"
#include "gateway/tenants.h"
#include "policy/policy.h"

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

TEST(ExamplesTest, ExamplePolicyLoadsAndAllowsWhoAmIForEveryTenant) {
  // Every tenant of examples/tenants.yaml, over either credential, is allowed identity.whoami.
  policy::PolicyCheck check = policy::Policy::CheckFile(kExamples + "/policy.yaml");
  for (const policy::Diagnostic& d : check.diagnostics) ADD_FAILURE() << d.ToString();
  ASSERT_TRUE(check.policy.has_value());
  Result<TenantDirectory> tenants = TenantDirectory::Load(kExamples + "/tenants.yaml");
  ASSERT_TRUE(tenants.ok()) << tenants.status().ToString();
  for (const Tenant& tenant : tenants->tenants()) {
    for (AuthMethod method : {AuthMethod::kMtls, AuthMethod::kBearerToken}) {
      Principal principal{tenant, method, "test"};
      policy::Decision decision = check.policy->Decide(
          internal::MakeDecisionRequest(principal, kWhoAmIMethod.action));
      EXPECT_TRUE(decision.allowed()) << tenant.id << ": " << decision.reason();
      EXPECT_TRUE(decision.errors.empty()) << tenant.id;
    }
  }
}

}  // namespace
}  // namespace sov::gateway
