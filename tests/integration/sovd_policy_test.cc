// Shows that a real sovd enforces its policy file: a bad file stops it at start with
// FILE:LINE:COL, a policy that denies identity.whoami for acme-ml takes effect after SIGHUP or
// after the file is rewritten, and a broken new file is refused while the old policy stays.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "common/file.h"
#include "gateway/dev_environment.h"
#include "policy/policy.h"
#include "sov/v1/identity.grpc.pb.h"
#include "tests/testing/process.h"
#include "tests/testing/temp_dir.h"

namespace sov {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using sov::testing::ReadTextFile;

constexpr char kDenyRuleId[] = "suspend-acme-whoami";
constexpr char kDenyReason[] = "acme-ml is suspended pending a data protection review.";

// Returns the 1-based line of the first line of `text` that contains `needle`, or 0.
int LineOf(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.find(needle) != std::string::npos) return number;
  }
  return 0;
}

// Counts the occurrences of `needle` in `text`.
size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

class SovdPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = gateway::PrepareDevEnvironment(tmp_.Join("dev"));
    ASSERT_TRUE(env.ok()) << env.status().ToString();
    dir_ = env->dir;
    original_policy_ = ReadTextFile(PolicyFile());
    ASSERT_THAT(original_policy_, HasSubstr("\nrules:\n"));
  }

  std::string File(const std::string& name) const { return dir_ + "/" + name; }
  std::string PolicyFile() const { return File("policy.yaml"); }

  // The dev policy with a rule appended (rules: is its last section) that denies WhoAmI to
  // acme-ml only.
  std::string DenyPolicy() const {
    return original_policy_ +
           "\n  - id: " + std::string(kDenyRuleId) + "\n"
           "    effect: deny\n"
           "    actions: [identity.whoami]\n"
           "    principals: {tenants: [acme-ml]}\n"
           "    reason: " + std::string(kDenyReason) + "\n";
  }
  // The dev policy with a misspelt effect, and the line of that error.
  std::string BrokenPolicy(int* line) const {
    std::string text = original_policy_;
    size_t at = text.find("effect: allow");
    text.replace(at, 13, "effect: alow");
    *line = LineOf(text, "effect: alow");
    return text;
  }
  static std::string DigestOf(const std::string& text) {
    auto policy = policy::Policy::Load(text, "policy.yaml");
    EXPECT_TRUE(policy.ok()) << policy.status().ToString();
    return policy.ok() ? policy->digest() : std::string();
  }

  void StartSovd(const std::vector<std::string>& extra) {
    std::vector<std::string> args{"--config", File("sovd.yaml")};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string error;
    sovd_ = sov::testing::SovdProcess::Start(args, &error);
    ASSERT_NE(sovd_, nullptr) << error;
  }

  // Calls WhoAmI over mTLS as `tenant` (a channel per call, closed at once).
  grpc::Status WhoAmI(const std::string& tenant, v1::WhoAmIResponse* response = nullptr) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ReadTextFile(File("ca.pem"));
    tls.pem_cert_chain = ReadTextFile(File("clients/" + tenant + ".pem"));
    tls.pem_private_key = ReadTextFile(File("clients/" + tenant + ".key"));
    auto stub = v1::IdentityService::NewStub(
        grpc::CreateChannel(sovd_->address(), grpc::SslCredentials(tls)));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::WhoAmIResponse ignored;
    return stub->WhoAmI(&context, v1::WhoAmIRequest(), response ? response : &ignored);
  }

  // Waits up to `timeout` until sovd's stderr holds `needle` at least `count` times.
  bool WaitForLog(const std::string& needle, size_t count = 1,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (Count(sovd_->Stderr(), needle) >= count) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return Count(sovd_->Stderr(), needle) >= count;
  }

  // Waits up to `timeout` until WhoAmI as `tenant` answers `code`; returns the last status.
  grpc::Status WaitForWhoAmI(const std::string& tenant, grpc::StatusCode code,
                             std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    grpc::Status status = WhoAmI(tenant);
    while (status.error_code() != code && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      status = WhoAmI(tenant);
    }
    return status;
  }

  // Checks the denial acme-ml gets from DenyPolicy(): the rule, where it is, and why.
  void ExpectDeniedByTheRule(const grpc::Status& status) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
    const int line = LineOf(DenyPolicy(), std::string("id: ") + kDenyRuleId);
    EXPECT_THAT(status.error_message(),
                HasSubstr(std::string("identity.whoami denied by policy rule ") + kDenyRuleId +
                          " (policy.yaml:" + std::to_string(line) + ":"));
    EXPECT_THAT(status.error_message(), HasSubstr(kDenyReason));
    EXPECT_THAT(status.error_message(), HasSubstr(DigestOf(DenyPolicy())));
    // Neither the server's directory nor anything about other tenants.
    EXPECT_THAT(status.error_message(), Not(HasSubstr(dir_)));
    EXPECT_THAT(status.error_message(), Not(HasSubstr("partner-us")));
    EXPECT_THAT(status.error_message(), Not(HasSubstr("compliance")));
  }

  void StopSovd() {
    EXPECT_EQ(sovd_->Stop(SIGTERM), 0) << sovd_->Stderr();
  }

  sov::testing::TempDir tmp_;
  std::string dir_;
  std::string original_policy_;
  std::unique_ptr<sov::testing::SovdProcess> sovd_;
};

TEST_F(SovdPolicyTest, BadPolicyAtStartStopsSovdWithEveryErrorAtFileLineColumn) {
  // Exit 1, nothing on stdout, and each stderr line is "FILE:LINE:COL: error: ...".
  int line = 0;
  std::string broken = BrokenPolicy(&line);
  broken.replace(broken.find("actions: [identity.whoami]"), 26, "actions: [identity.whoareyou]");
  sov::testing::WriteTextFile(PolicyFile(), broken);
  auto result = sov::testing::RunProcess(
      {sov::testing::BuildPath("gateway/sovd"), "--config", File("sovd.yaml")},
      sov::testing::MinimalEnvironment(), std::chrono::seconds(30));
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(sov::testing::CountLines(result.err), 2u) << result.err;
  std::istringstream lines(result.err);
  for (std::string l; std::getline(lines, l);) {
    EXPECT_TRUE(std::regex_search(l, std::regex("^" + PolicyFile() + ":[0-9]+:[0-9]+: error: ")))
        << l;
  }
  EXPECT_THAT(result.err, HasSubstr(PolicyFile() + ":" + std::to_string(line) + ":13: error: "));
  EXPECT_THAT(result.err, HasSubstr("identity.whoareyou"));
}

TEST_F(SovdPolicyTest, MissingPolicyFileIsNamedAtItsConfigKey) {
  // A policy file that does not exist is one line at the `policy:` key of sovd.yaml.
  ASSERT_EQ(::unlink(PolicyFile().c_str()), 0);
  auto result = sov::testing::RunProcess(
      {sov::testing::BuildPath("gateway/sovd"), "--config", File("sovd.yaml")},
      sov::testing::MinimalEnvironment(), std::chrono::seconds(30));
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_EQ(sov::testing::CountLines(result.err), 1u) << result.err;
  EXPECT_THAT(result.err, StartsWith(File("sovd.yaml") + ":"));
  EXPECT_THAT(result.err, HasSubstr("error: policy: "));
  EXPECT_THAT(result.err, HasSubstr(PolicyFile()));
}

TEST_F(SovdPolicyTest, StartLogsThePolicyNameAndDigest) {
  // "policy loaded" names the policy and its digest; every call line names its decision.
  StartSovd({});
  ASSERT_TRUE(WhoAmI("acme-ml").ok());
  ASSERT_TRUE(WaitForLog("outcome=OK"));
  const std::string log = sovd_->Stderr();
  EXPECT_THAT(log, HasSubstr("policy loaded"));
  EXPECT_THAT(log, HasSubstr("name=eu-ml-platform"));
  EXPECT_THAT(log, HasSubstr("digest=" + DigestOf(original_policy_)));
  EXPECT_THAT(log, HasSubstr("action=identity.whoami effect=allow rule=everyone-whoami"));
  StopSovd();
}

TEST_F(SovdPolicyTest, SighupLoadsAPolicyThatDeniesWhoAmIToAcme) {
  // With file watching off, only SIGHUP reloads; then acme-ml is denied, naming the rule, and
  // other tenants are not.
  StartSovd({"--no-policy-watch"});
  ASSERT_TRUE(WhoAmI("acme-ml").ok());
  ASSERT_TRUE(WriteFileAtomic(PolicyFile(), DenyPolicy(), 0644).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // 3 poll intervals
  EXPECT_TRUE(WhoAmI("acme-ml").ok()) << "reloaded without SIGHUP despite --no-policy-watch";

  ASSERT_EQ(::kill(sovd_->pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitForLog("policy reloaded")) << sovd_->Stderr();
  ExpectDeniedByTheRule(WhoAmI("acme-ml"));
  v1::WhoAmIResponse response;
  grpc::Status compliance = WhoAmI("compliance", &response);
  EXPECT_TRUE(compliance.ok()) << compliance.error_message();
  EXPECT_EQ(response.tenant_id(), "compliance");

  const std::string log = sovd_->Stderr();
  EXPECT_THAT(log, HasSubstr("trigger=SIGHUP"));
  EXPECT_THAT(log, HasSubstr("old_digest=" + DigestOf(original_policy_)));
  EXPECT_THAT(log, HasSubstr("new_digest=" + DigestOf(DenyPolicy())));
  ASSERT_TRUE(WaitForLog("outcome=PERMISSION_DENIED"));
  EXPECT_THAT(sovd_->Stderr(),
              HasSubstr(std::string("tenant=acme-ml auth=mtls action=identity.whoami effect=deny "
                                    "rule=") + kDenyRuleId));

  // sovctl shows the same denial to a user.
  const std::string sovctl = sov::testing::BuildPath("cli/sovctl");
  if (::access(sovctl.c_str(), X_OK) == 0) {
    auto env = sov::testing::MinimalEnvironment();
    env["SOV_ADDR"] = sovd_->address();
    env["SOV_CA"] = File("ca.pem");
    env["SOV_CERT"] = File("clients/acme-ml.pem");
    env["SOV_KEY"] = File("clients/acme-ml.key");
    auto result = sov::testing::RunProcess({sovctl, "whoami"}, env);
    EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
    EXPECT_THAT(result.err, HasSubstr("PERMISSION_DENIED"));
    EXPECT_THAT(result.err, HasSubstr(kDenyRuleId));
  }
  StopSovd();
}

TEST_F(SovdPolicyTest, RewritingTheFileReloadsItWithoutASignal) {
  // An in-place rewrite denies acme-ml within seconds; a rename-replace (as editors do) allows
  // it again.
  StartSovd({});
  ASSERT_TRUE(WhoAmI("acme-ml").ok());
  sov::testing::WriteTextFile(PolicyFile(), DenyPolicy());
  ExpectDeniedByTheRule(WaitForWhoAmI("acme-ml", grpc::StatusCode::PERMISSION_DENIED));
  EXPECT_THAT(sovd_->Stderr(), HasSubstr("trigger=\"file change\""));
  EXPECT_TRUE(WhoAmI("partner-us").ok());

  ASSERT_TRUE(WriteFileAtomic(PolicyFile(), original_policy_, 0644).ok());
  grpc::Status status = WaitForWhoAmI("acme-ml", grpc::StatusCode::OK);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(Count(sovd_->Stderr(), "policy reloaded"), 2u) << sovd_->Stderr();
  StopSovd();
}

TEST_F(SovdPolicyTest, BrokenFileOnSighupIsRefusedAndTheOldPolicyStays) {
  // The error is logged at file:line:col, WhoAmI still answers, and a good file after that is
  // taken on the next SIGHUP.
  StartSovd({"--no-policy-watch"});
  int line = 0;
  ASSERT_TRUE(WriteFileAtomic(PolicyFile(), BrokenPolicy(&line), 0644).ok());
  ASSERT_EQ(::kill(sovd_->pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitForLog("policy reload refused")) << sovd_->Stderr();
  ASSERT_TRUE(WaitForLog("policy error"));
  EXPECT_THAT(sovd_->Stderr(), HasSubstr(PolicyFile() + ":" + std::to_string(line) + ":13: error: "));
  EXPECT_THAT(sovd_->Stderr(), HasSubstr("in_force=" + DigestOf(original_policy_)));
  v1::WhoAmIResponse response;
  grpc::Status status = WhoAmI("acme-ml", &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.tenant_id(), "acme-ml");

  ASSERT_TRUE(WriteFileAtomic(PolicyFile(), DenyPolicy(), 0644).ok());
  ASSERT_EQ(::kill(sovd_->pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitForLog("policy reloaded")) << sovd_->Stderr();
  ExpectDeniedByTheRule(WhoAmI("acme-ml"));
  StopSovd();
}

}  // namespace
}  // namespace sov
