// The policy in force is on the audit record: sovd appends a POLICY_LOAD entry with the policy's
// digest at start, one for every reload that swaps a new policy in, and one for every reload it
// refuses (the old digest stays in force), so an auditor can tell which policy made each
// decision.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/integration/registry_client.h"

namespace sov::testing {
namespace {

using ::testing::HasSubstr;

std::vector<v1::AuditEntry> PolicyLoads(RegistryClient& client) {
  v1::QueryRequest request;
  request.mutable_filter()->add_types(v1::AUDIT_EVENT_TYPE_POLICY_LOAD);
  request.set_page_size(100);
  v1::QueryResponse response;
  grpc::Status status = client.QueryAudit(request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return {response.entries().begin(), response.entries().end()};
}

// Waits until `count` POLICY_LOAD entries exist (reloads are asynchronous to the signal).
std::vector<v1::AuditEntry> WaitForPolicyLoads(RegistryClient& client, int count) {
  std::vector<v1::AuditEntry> entries;
  for (int i = 0; i < 100; ++i) {
    entries = PolicyLoads(client);
    if (static_cast<int>(entries.size()) >= count) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return entries;
}

// Replaces the file in one rename, so that the gateway's file watcher never reads half of it.
void ReplaceFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".new";
  std::ofstream(tmp, std::ios::trunc) << text;
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(AuditPolicyLoadTest, StartReloadAndRefusedReloadAreRecorded) {
  DevGateway gateway;
  std::string error;
  ASSERT_TRUE(gateway.Start(&error)) << error;
  auto compliance = gateway.Client("compliance");

  std::vector<v1::AuditEntry> loads = WaitForPolicyLoads(*compliance, 1);
  ASSERT_EQ(loads.size(), 1u);
  ASSERT_TRUE(loads[0].details().fields().contains("policyDigest")) << loads[0].leaf_data();
  const std::string first = loads[0].details().fields().at("policyDigest").string_value();
  EXPECT_THAT(first, ::testing::StartsWith("sha256:"));
  EXPECT_EQ(loads[0].details().fields().at("trigger").string_value(), "start");
  EXPECT_EQ(loads[0].system_actor(), "policy");

  // A new version comes into force on SIGHUP.
  const std::string policy_file = gateway.File("policy.yaml");
  std::string text = ReadAll(policy_file);
  ReplaceFile(policy_file, text + "\n# reviewed 2026-11-29\n");
  ASSERT_EQ(::kill(gateway.sovd()->pid(), SIGHUP), 0);
  // The file watcher may see the change before the signal does; either reloads it once (the
  // second finds it unchanged).
  loads = WaitForPolicyLoads(*compliance, 2);
  ASSERT_EQ(loads.size(), 2u);
  const auto& reload = loads[1].details().fields();
  ASSERT_TRUE(reload.contains("policyDigest") && reload.contains("previousPolicyDigest"))
      << loads[1].leaf_data();
  EXPECT_EQ(reload.at("previousPolicyDigest").string_value(), first);
  const std::string second = reload.at("policyDigest").string_value();
  EXPECT_NE(second, first);
  EXPECT_EQ(loads[1].action(), "policy.load");

  // A broken file is refused, and the refusal is recorded with the digest that stays.
  ReplaceFile(policy_file, "version: 1\nrules: [\n");
  ASSERT_EQ(::kill(gateway.sovd()->pid(), SIGHUP), 0);
  // Watcher and signal may each refuse it: every refusal is recorded.
  loads = WaitForPolicyLoads(*compliance, 3);
  ASSERT_GE(loads.size(), 3u);
  const auto& refused = loads[2].details().fields();
  ASSERT_TRUE(refused.contains("policyDigest") && refused.contains("error")) << loads[2].leaf_data();
  EXPECT_EQ(loads[2].action(), "policy.reload-refused");
  EXPECT_EQ(refused.at("policyDigest").string_value(), second);
  EXPECT_THAT(refused.at("error").string_value(), HasSubstr("policy.yaml"));

  compliance.reset();
  EXPECT_TRUE(gateway.Stop());
}

}  // namespace
}  // namespace sov::testing
