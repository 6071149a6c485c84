// Shows `sovctl policy impact` end to end with the real binaries: sovd --dev records a few calls (push, ls), the audit log is exported, and the dev policy without its push rule names exactly the recorded pushes, offline from the export and live from the gateway; the unmodified dev policy changes nothing.
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/testing/process.h"
#include "tests/testing/temp_dir.h"

namespace sov {
namespace {

using ::testing::HasSubstr;

class SovctlPolicyImpactTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sovctl_ = sov::testing::BuildPath("cli/sovctl");
    ASSERT_EQ(::access(sovctl_.c_str(), X_OK), 0) << "sovctl is not built at " << sovctl_;
    std::string error;
    sovd_ = sov::testing::SovdProcess::Start({"--dev", "--data-dir", dir()}, &error);
    ASSERT_NE(sovd_, nullptr) << error;
  }

  std::string dir() const { return tmp_.Join("dev"); }

  // sovctl as acme-ml (the dev sovctl.yaml), or with `tenant`'s dev client certificate.
  sov::testing::ProcessResult Sovctl(std::vector<std::string> args, const std::string& tenant = "") {
    if (!tenant.empty()) {
      args.insert(args.begin(), {"--cert", dir() + "/clients/" + tenant + ".pem", "--key",
                                 dir() + "/clients/" + tenant + ".key"});
    }
    args.insert(args.begin(), sovctl_);
    sov::testing::Environment env = sov::testing::MinimalEnvironment();
    env["SOV_CONFIG"] = dir() + "/sovctl.yaml";
    return sov::testing::RunProcess(args, env, std::chrono::seconds(60));
  }

  // The dev policy without the rule that lets ML engineers push.
  std::string PolicyWithoutPushRule() {
    std::string text = sov::testing::ReadTextFile(dir() + "/policy.yaml");
    const size_t begin = text.find("  - id: ml-engineers-push\n");
    const size_t end = text.find("  - id: ", begin + 1);
    EXPECT_NE(begin, std::string::npos);
    EXPECT_NE(end, std::string::npos);
    text.erase(begin, end - begin);
    const std::string path = tmp_.Join("policy-new.yaml");
    sov::testing::WriteTextFile(path, text);
    return path;
  }

  std::string sovctl_;
  sov::testing::TempDir tmp_;
  std::unique_ptr<sov::testing::SovdProcess> sovd_;
};

TEST_F(SovctlPolicyImpactTest, NamesTheDecisionsThatWouldChange) {
  const std::string data = tmp_.Join("train.bin");
  sov::testing::WriteTextFile(data, "feature,label\n1,0\n2,1\n");
  for (const char* version : {"1.0.0", "1.1.0"}) {
    auto pushed = Sovctl({"push", data, "--kind", "dataset", "--name", "acme-ml/fraud/train",
                          "--version", version, "--classification", "internal", "--purpose",
                          "fraud-detection", "--no-progress"});
    ASSERT_EQ(pushed.exit_code, 0) << pushed.out << pushed.err;
  }
  auto listed = Sovctl({"ls", "acme-ml/"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;

  // Exported by the compliance office, which may export the whole log.
  const std::string audit = tmp_.Join("audit.jsonl");
  auto exported = Sovctl({"audit", "export", "-o", audit}, "compliance");
  ASSERT_EQ(exported.exit_code, 0) << exported.out << exported.err;

  const std::string candidate = PolicyWithoutPushRule();
  auto json = Sovctl({"policy", "impact", candidate, "--file", audit, "--output", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json doc = nlohmann::json::parse(json.out);
  // Only the pushes change: each is decided several times (the upload, its stream, the commit).
  ASSERT_EQ(doc["groups"].size(), 1u) << json.out;
  const nlohmann::json& group = doc["groups"][0];
  EXPECT_EQ(group["before"]["rule"], "ml-engineers-push");
  EXPECT_EQ(group["after"]["effect"], "deny");
  EXPECT_EQ(group["after"]["rule"], "default-deny");
  EXPECT_EQ(group["actions"], nlohmann::json::array({"artifact.push"}));
  const int pushes = group["count"].get<int>();
  EXPECT_GE(pushes, 4);
  EXPECT_EQ(doc["changed"], pushes);
  EXPECT_EQ(group["decisions"][0]["artifact"], "acme-ml/fraud/train@1.0.0");
  EXPECT_EQ(group["decisions"][pushes - 1]["artifact"], "acme-ml/fraud/train@1.1.0");
  const std::string block = "allow (rule ml-engineers-push) -> deny (no rule matched): " +
                            std::to_string(pushes) + " decisions\n";

  auto offline = Sovctl({"policy", "impact", candidate, "--file", audit});
  ASSERT_EQ(offline.exit_code, 0) << offline.out << offline.err;
  EXPECT_THAT(offline.out, HasSubstr(block + "  actions: artifact.push\n"));
  EXPECT_THAT(offline.out, HasSubstr("acme-ml  artifact.push  acme-ml/fraud/train@1.0.0\n"));
  EXPECT_THAT(offline.out, HasSubstr("listing's summary entry"));  // the ls
  EXPECT_EQ(offline.err, "");

  auto ci = Sovctl({"policy", "impact", candidate, "--file", audit, "--fail-on-change"});
  EXPECT_EQ(ci.exit_code, 3) << ci.out << ci.err;

  // The policy in force replays every recorded decision as it was made.
  auto same = Sovctl({"policy", "impact", dir() + "/policy.yaml", "--file", audit,
                      "--fail-on-change"});
  EXPECT_EQ(same.exit_code, 0) << same.out << same.err;
  EXPECT_THAT(same.out, HasSubstr("no replayed decision would change"));

  // Live: the compliance office reads every entry; acme-ml its own calls, which are the pushes.
  for (const char* tenant : {"compliance", ""}) {
    auto live = Sovctl({"policy", "impact", candidate}, tenant);
    ASSERT_EQ(live.exit_code, 0) << tenant << ": " << live.out << live.err;
    EXPECT_THAT(live.out, HasSubstr("source:         the gateway's audit log"));
    EXPECT_THAT(live.out, HasSubstr(block));
  }
  auto live_last = Sovctl({"policy", "impact", candidate, "--last", "2", "--output", "json"},
                          "compliance");
  ASSERT_EQ(live_last.exit_code, 0) << live_last.err;
  EXPECT_EQ(nlohmann::json::parse(live_last.out)["decisions"], 2);
  auto live_window = Sovctl({"policy", "impact", candidate, "--since", "2000-01-01", "--until",
                             "2000-01-02", "--output", "json"},
                            "compliance");
  ASSERT_EQ(live_window.exit_code, 0) << live_window.err;
  EXPECT_EQ(nlohmann::json::parse(live_window.out)["decisions"], 0);
}

}  // namespace
}  // namespace sov
