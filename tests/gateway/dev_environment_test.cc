// Shows what `sovd --dev` creates in its data directory, with which modes, that a second
// start reuses it instead of regenerating anything, and that its policy lets every dev tenant
// call WhoAmI.
#include "gateway/dev_environment.h"

#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gateway/bearer_token.h"
#include "gateway/call_guard.h"
#include "gateway/config.h"
#include "gateway/policy_store.h"
#include "gateway/tenants.h"
#include "tests/testing/temp_dir.h"

namespace sov::gateway {
namespace {

using ::testing::HasSubstr;
using sov::testing::ReadTextFile;

unsigned ModeOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 01000;  // "missing"
  return st.st_mode & 0777;
}

TEST(DevEnvironmentTest, FirstStartCreatesEverythingWithPrivateModes) {
  // Every file of the contract exists; private ones are 0600 and the directory 0700.
  sov::testing::TempDir tmp;
  const std::string dir = tmp.Join("dev");
  Result<DevEnvironment> env = PrepareDevEnvironment(dir);
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_TRUE(env->created);
  EXPECT_EQ(env->config_file, dir + "/sovd.yaml");
  EXPECT_EQ(ModeOf(dir), 0700u);
  for (const char* name : {"ca.key", "server.key", "master.key", "signing.key",
                           "clients/acme-ml.key", "clients/compliance.key",
                           "clients/partner-us.key", "clients/acme-ml.token"}) {
    EXPECT_EQ(ModeOf(dir + "/" + name), 0600u) << name;
  }
  for (const char* name : {"ca.pem", "server.pem", "signing.pub", "clients/acme-ml.pem",
                           "clients/compliance.pem", "clients/partner-us.pem", "tenants.yaml",
                           "policy.yaml", "sovd.yaml"}) {
    EXPECT_NE(ModeOf(dir + "/" + name), 01000u) << name;
  }
  // The config parses and the tenants file holds the token's hash, never the token.
  Result<ServerConfig> config = LoadServerConfig(env->config_file);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->listen.ToString(), "127.0.0.1:0");
  Result<TenantDirectory> tenants = TenantDirectory::Load(config->tenants);
  ASSERT_TRUE(tenants.ok()) << tenants.status().ToString();
  ASSERT_EQ(tenants->tenants().size(), 3u);
  const Tenant* acme = tenants->FindById("acme-ml");
  ASSERT_NE(acme, nullptr);
  EXPECT_EQ(acme->jurisdiction, "DE");
  EXPECT_EQ(acme->roles, std::vector<std::string>{"ml-engineer"});
  EXPECT_EQ(tenants->FindById("partner-us")->jurisdiction, "US");
  EXPECT_EQ(tenants->FindById("compliance")->roles,
            std::vector<std::string>{"compliance-officer"});
  std::string token = ReadTextFile(dir + "/clients/acme-ml.token");
  while (!token.empty() && token.back() == '\n') token.pop_back();
  EXPECT_TRUE(IsWellFormedBearerToken(token));
  ASSERT_EQ(acme->tokens.size(), 1u);
  EXPECT_EQ(acme->tokens[0].sha256, HashBearerToken(token));
  EXPECT_EQ(ReadTextFile(config->tenants).find(token), std::string::npos);
  EXPECT_THAT(ReadTextFile(dir + "/policy.yaml"), HasSubstr("release_gates:"));
}

TEST(DevEnvironmentTest, LaterStartsReuseAndTheChosenPortIsKept) {
  // The second Prepare changes nothing; RecordDevAddress writes the port once.
  sov::testing::TempDir tmp;
  const std::string dir = tmp.Join("dev");
  Result<DevEnvironment> first = PrepareDevEnvironment(dir);
  ASSERT_TRUE(first.ok());
  const std::string ca = ReadTextFile(dir + "/ca.pem");
  ASSERT_TRUE(RecordDevAddress(*first, ListenAddress{"127.0.0.1", 41234}).ok());
  EXPECT_THAT(ReadTextFile(dir + "/sovd.yaml"), HasSubstr("\nlisten: 127.0.0.1:41234\n"));
  EXPECT_THAT(ReadTextFile(dir + "/sovctl.yaml"), HasSubstr("address: 127.0.0.1:41234\n"));
  EXPECT_THAT(ReadTextFile(dir + "/sovctl.yaml"), HasSubstr("cert: \"" + dir + "/clients/acme-ml.pem\""));

  Result<DevEnvironment> second = PrepareDevEnvironment(dir);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->created);
  EXPECT_EQ(ReadTextFile(dir + "/ca.pem"), ca);
  // A fixed port in sovd.yaml is never rewritten.
  ASSERT_TRUE(RecordDevAddress(*second, ListenAddress{"127.0.0.1", 5555}).ok());
  EXPECT_THAT(ReadTextFile(dir + "/sovd.yaml"), HasSubstr("\nlisten: 127.0.0.1:41234\n"));
}

TEST(DevEnvironmentTest, RefusesADirectoryThatIsNotADevSetup) {
  // A non-empty directory without sovd.yaml is left alone.
  sov::testing::TempDir tmp;
  sov::testing::WriteTextFile(tmp.Join("notes.txt"), "mine\n");
  Result<DevEnvironment> env = PrepareDevEnvironment(tmp.path());
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(env.status().message(), HasSubstr("holds files but no sovd.yaml"));
}

TEST(DevEnvironmentTest, InstructionsNameTheSovctlEnvironment) {
  // The printed lines point sovctl at the gateway; they never contain the token itself.
  sov::testing::TempDir tmp;
  Result<DevEnvironment> env = PrepareDevEnvironment(tmp.Join("dev"));
  ASSERT_TRUE(env.ok());
  std::string text = DevInstructions(*env, ListenAddress{"127.0.0.1", 7443}, true);
  EXPECT_THAT(text, HasSubstr("export SOV_CONFIG=" + env->dir + "/sovctl.yaml\n"));
  EXPECT_THAT(text, HasSubstr("export SOV_ADDR=127.0.0.1:7443\n"));
  EXPECT_THAT(text, HasSubstr("export SOV_CA=" + env->dir + "/ca.pem\n"));
  EXPECT_THAT(text, HasSubstr("export SOV_CERT=" + env->dir + "/clients/acme-ml.pem\n"));
  EXPECT_THAT(text, HasSubstr("export SOV_KEY=" + env->dir + "/clients/acme-ml.key\n"));
  std::string token = ReadTextFile(env->dir + "/clients/acme-ml.token");
  EXPECT_EQ(text.find(token.substr(0, 20)), std::string::npos);
}

TEST(DevEnvironmentTest, DevPolicyLoadsAndAllowsWhoAmIForEveryDevTenant) {
  // The policy.yaml written by --dev compiles, and each dev tenant may call WhoAmI.
  sov::testing::TempDir tmp;
  Result<DevEnvironment> env = PrepareDevEnvironment(tmp.Join("dev"));
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  Result<ServerConfig> config = LoadServerConfig(env->config_file);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  Result<std::unique_ptr<PolicyStore>> store = PolicyStore::Load(config->policy);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Result<TenantDirectory> tenants = TenantDirectory::Load(config->tenants);
  ASSERT_TRUE(tenants.ok()) << tenants.status().ToString();
  for (const Tenant& tenant : tenants->tenants()) {
    Principal principal{tenant, AuthMethod::kMtls, "test"};
    policy::Decision decision = (*store)->Current()->Decide(
        internal::MakeDecisionRequest(principal, kWhoAmIMethod.action));
    EXPECT_TRUE(decision.allowed()) << tenant.id << ": " << decision.reason();
  }
}

}  // namespace
}  // namespace sov::gateway
