// Shows `sovctl policy check|test|explain` end to end against the built sovctl and the example EU policy: summaries, exact FILE:LINE:COL errors, pass/fail tables, explained decisions, exit statuses and --output json.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/sha256.h"
#include "policy/policy.h"
#include "tests/cli/sovctl_process.h"
#include "tests/cli/temp_dir.h"

namespace sov::cli {
namespace {

using ::sov::cli::testing::ReadTestFile;
using ::sov::cli::testing::SovctlFixture;
using ::sov::cli::testing::SovctlRun;
using ::sov::cli::testing::WriteTestFile;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// A policy with two mistakes: a misspelt key (line 10, which also leaves `store_in` missing) and
// a CEL condition with a stray `)` (line 16). Every error must be reported at its position.
constexpr const char* kBrokenPolicy =
    "version: 1\n"
    "name: broken\n"
    "jurisdictions:\n"
    "  EEA: [DE, FR, NO]\n"
    "residency:\n"
    "  personal:\n"
    "    store_in: [EEA]\n"
    "    transfer_to: [EEA]\n"
    "  public:\n"
    "    store_inn: [\"*\"]\n"
    "    transfer_to: [\"*\"]\n"
    "rules:\n"
    "  - id: engineers-push\n"
    "    effect: allow\n"
    "    actions: [artifact.push]\n"
    "    when: artifact.stage == 'pending' && )\n"
    "    reason: Engineers push pending artifacts.\n";

// The request of the example cases file's "service in China fetches a personal model".
constexpr const char* kChinaFetch =
    "action: artifact.fetch\n"
    "principal: {tenant_id: shop, roles: [tenant-service], purposes: [fraud-detection], "
    "jurisdiction: CN}\n"
    "artifact: {kind: model, name: fraud, version: 2.0.0, owner_tenant: acme, classification: "
    "personal, purposes: [fraud-detection], stage: released}\n"
    "request: {target_jurisdiction: CN}\n"
    "now: 2025-06-01T12:00:00Z\n";

size_t CountLines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// Copies the example policy and cases into a temporary directory and runs sovctl there, so that
// file names in the output are the short ones the docs show.
class SovctlPolicyTest : public SovctlFixture {
 protected:
  void SetUp() override {
    SovctlFixture::SetUp();
    if (HasFatalFailure()) return;
    const std::string examples = SourceDir() + "/examples/policies/";
    policy_text_ = ReadTestFile(examples + "eu-gdpr.yaml");
    cases_text_ = ReadTestFile(examples + "eu-gdpr.cases.yaml");
    ASSERT_FALSE(policy_text_.empty());
    ASSERT_FALSE(cases_text_.empty());
    WriteTestFile(dir_.Join("eu-gdpr.yaml"), policy_text_);
    WriteTestFile(dir_.Join("eu-gdpr.cases.yaml"), cases_text_);
  }

  // "FILE:LINE:COL" of a rule of the example policy, as the policy library places it.
  std::string RuleLocation(const std::string& id) {
    Result<policy::Policy> loaded = policy::Policy::Load(policy_text_, "eu-gdpr.yaml");
    EXPECT_TRUE(loaded.ok()) << loaded.status().message();
    if (!loaded.ok()) return "";
    for (const policy::RuleInfo* rule : loaded->rules()) {
      if (rule->id == id) return rule->location.ToString();
    }
    ADD_FAILURE() << "no rule " << id;
    return "";
  }

  std::string policy_text_;
  std::string cases_text_;
};

// check on the example policy exits 0 and prints the library's summary of what it allows.
TEST_F(SovctlPolicyTest, CheckValidPolicyPrintsSummary) {
  SovctlRun run = Sovctl({"policy", "check", "eu-gdpr.yaml"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_THAT(run.out, StartsWith("policy eu-gdpr (eu-gdpr.yaml) is valid\n"));
  EXPECT_THAT(run.out, HasSubstr("digest: " + crypto::Sha256Of(policy_text_).ToString() + "\n"));
  EXPECT_THAT(run.out, HasSubstr("\nresidency ("));
  EXPECT_THAT(run.out, HasSubstr("  special-category: stored in DE; transferred to DE\n"));
  EXPECT_THAT(run.out, HasSubstr("\nrules (deny by default; any matching deny overrides every allow):\n"));
  EXPECT_THAT(run.out, HasSubstr("engineers-push (" + RuleLocation("engineers-push") + ")"));
}

// check on a broken policy exits 1 and prints each error as FILE:LINE:COL: error: ... on stderr.
TEST_F(SovctlPolicyTest, CheckBrokenPolicyPrintsEveryErrorWithPosition) {
  WriteTestFile(dir_.Join("broken.yaml"), kBrokenPolicy);
  SovctlRun run = Sovctl({"policy", "check", "broken.yaml"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err,
            "broken.yaml:10:5: error: unknown key `store_inn` in residency.public "
            "(hint: did you mean `store_in`?)\n"
            "broken.yaml:9:3: error: residency.public needs `store_in` "
            "(hint: e.g. `store_in: [EEA]`)\n"
            "broken.yaml:16:42: error: invalid condition: unexpected ')'\n"
            "sovctl: error: policy broken.yaml does not load: 3 errors\n");
}

// check --output json: one parseable object, with the errors as objects and no summary.
TEST_F(SovctlPolicyTest, CheckJsonOutputParses) {
  SovctlRun ok = Sovctl({"policy", "check", "eu-gdpr.yaml", "--output", "json"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  nlohmann::json doc = nlohmann::json::parse(ok.out);
  EXPECT_EQ(doc["ok"], true);
  EXPECT_EQ(doc["digest"], crypto::Sha256Of(policy_text_).ToString());
  EXPECT_TRUE(doc["errors"].is_array() && doc["errors"].empty());
  EXPECT_THAT(doc["summary"].get<std::string>(), StartsWith("policy eu-gdpr (eu-gdpr.yaml) is valid"));

  WriteTestFile(dir_.Join("broken.yaml"), kBrokenPolicy);
  SovctlRun bad = Sovctl({"--output", "json", "policy", "check", "broken.yaml"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.err, "sovctl: error: policy broken.yaml does not load: 3 errors\n");
  doc = nlohmann::json::parse(bad.out);
  EXPECT_EQ(doc["ok"], false);
  EXPECT_EQ(doc["digest"], crypto::Sha256Of(kBrokenPolicy).ToString());
  EXPECT_TRUE(doc["summary"].is_null());
  ASSERT_EQ(doc["errors"].size(), 3u);
  EXPECT_EQ(doc["errors"][0],
            nlohmann::json({{"file", "broken.yaml"},
                            {"line", 10},
                            {"column", 5},
                            {"message", "unknown key `store_inn` in residency.public"},
                            {"hint", "did you mean `store_in`?"}}));
  EXPECT_EQ(doc["errors"][2]["line"], 16);
  EXPECT_EQ(doc["errors"][2]["column"], 42);
  EXPECT_TRUE(doc["errors"][2]["hint"].is_null());
}

// check on a file that does not exist fails with the read error at the file.
TEST_F(SovctlPolicyTest, CheckMissingFile) {
  SovctlRun run = Sovctl({"policy", "check", "nope.yaml"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, StartsWith("nope.yaml: error: "));
  EXPECT_THAT(run.err, HasSubstr("\nsovctl: error: policy nope.yaml does not load: 1 error\n"));
}

// test on the example cases passes every case: exit 0, a PASS row per case, "N passed, 0 failed".
TEST_F(SovctlPolicyTest, TestExampleCasesPass) {
  SovctlRun run = Sovctl({"policy", "test", "eu-gdpr.yaml", "eu-gdpr.cases.yaml"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_THAT(run.out, Not(HasSubstr("FAIL")));
  EXPECT_THAT(run.out, HasSubstr("PASS  push personal dataset stored in Germany "));
  EXPECT_THAT(run.out, ::testing::EndsWith(" passed, 0 failed\n"));
}

// One wrong expectation: that case's row says FAIL with where the case is and why; exit 1.
TEST_F(SovctlPolicyTest, TestWrongExpectationFails) {
  std::string cases = cases_text_;
  const std::string right = "  expect: allow\n  rule: engineers-push\n";
  const size_t at = cases.find(right);
  ASSERT_NE(at, std::string::npos);
  cases.replace(at, right.size(), "  expect: deny\n");
  WriteTestFile(dir_.Join("wrong.cases.yaml"), cases);
  const size_t case_at = cases.find("- name: push personal dataset stored in Germany\n");
  ASSERT_NE(case_at, std::string::npos);
  const long case_line = std::count(cases.begin(), cases.begin() + static_cast<long>(case_at), '\n') + 1;

  SovctlRun run = Sovctl({"policy", "test", "eu-gdpr.yaml", "wrong.cases.yaml"});
  EXPECT_EQ(run.exit_code, 1);
  const std::string rule = "engineers-push (" + RuleLocation("engineers-push") + ")";
  EXPECT_THAT(run.out, HasSubstr("FAIL  push personal dataset stored in Germany "));
  EXPECT_THAT(run.out, ::testing::ContainsRegex("FAIL  push personal dataset stored in Germany +"
                                                "expect deny   got allow by engineers-push"));
  EXPECT_THAT(run.out, HasSubstr("      wrong.cases.yaml:" + std::to_string(case_line) +
                                 ":3: expected deny, got allow by " + rule + "\n"));
  EXPECT_THAT(run.out, ::testing::EndsWith(" passed, 1 failed\n"));
  EXPECT_THAT(run.err, ::testing::MatchesRegex("sovctl: error: 1 of [0-9]+ cases failed\n"));
}

// A malformed cases file (an unknown key, an unknown rule id) is refused before any case runs,
// each error at the cases file's FILE:LINE:COL.
TEST_F(SovctlPolicyTest, TestMalformedCasesFile) {
  WriteTestFile(dir_.Join("bad.cases.yaml"),
                "- name: one\n"
                "  request: {action: artifact.fetch}\n"
                "  expect: deny\n"
                "  rules: default\n"
                "- name: two\n"
                "  request: {action: artifact.fetch}\n"
                "  expect: deny\n"
                "  rule: engineers-pus\n");
  SovctlRun run = Sovctl({"policy", "test", "eu-gdpr.yaml", "bad.cases.yaml"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_THAT(run.err, HasSubstr("bad.cases.yaml:4:3: error: unknown key `rules`"));
  EXPECT_THAT(run.err, HasSubstr("bad.cases.yaml:8:9: error: the policy has no rule `engineers-pus`"));
  EXPECT_THAT(run.err, HasSubstr("sovctl: error: cases file bad.cases.yaml: 2 errors; no case ran\n"));

  SovctlRun json = Sovctl({"policy", "test", "eu-gdpr.yaml", "bad.cases.yaml", "--output", "json"});
  EXPECT_EQ(json.exit_code, 1);
  nlohmann::json doc = nlohmann::json::parse(json.out);
  EXPECT_EQ(doc["ok"], false);
  ASSERT_EQ(doc["errors"].size(), 2u);
  EXPECT_EQ(doc["errors"][1]["file"], "bad.cases.yaml");
  EXPECT_EQ(doc["errors"][1]["line"], 8);
  EXPECT_EQ(doc["errors"][1]["column"], 9);
  EXPECT_EQ(doc["errors"][1]["message"], "the policy has no rule `engineers-pus`");
  EXPECT_EQ(doc["errors"][1]["hint"], "did you mean `engineers-push`?");
}

// test --output json: every case with its expectation, decision and deciding rule.
TEST_F(SovctlPolicyTest, TestJsonOutputParses) {
  SovctlRun run = Sovctl({"policy", "test", "eu-gdpr.yaml", "eu-gdpr.cases.yaml", "--output", "json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  nlohmann::json doc = nlohmann::json::parse(run.out);
  EXPECT_EQ(doc["ok"], true);
  EXPECT_EQ(doc["failed"], 0);
  EXPECT_EQ(doc["digest"], crypto::Sha256Of(policy_text_).ToString());
  ASSERT_EQ(doc["cases"].size(), doc["passed"].get<size_t>());
  const nlohmann::json& first = doc["cases"][0];
  EXPECT_EQ(first["name"], "push personal dataset stored in Germany");
  EXPECT_EQ(first["passed"], true);
  EXPECT_EQ(first["expected"], "allow");
  EXPECT_EQ(first["got"], "allow");
  EXPECT_EQ(first["rule"]["id"], "engineers-push");
  EXPECT_EQ(first["rule"]["file"], "eu-gdpr.yaml");
  EXPECT_GT(first["rule"]["line"].get<int>(), 0);
  EXPECT_EQ(first["location"]["file"], "eu-gdpr.cases.yaml");
  EXPECT_TRUE(first["failure"].is_null());
}

// explain prints the decision, the deciding rule with file:line and reason, every matched rule
// and the policy digest; a deny is an answer, not a failure (exit 0).
TEST_F(SovctlPolicyTest, ExplainPrintsDecidingRule) {
  WriteTestFile(dir_.Join("request.yaml"), kChinaFetch);
  SovctlRun run = Sovctl({"policy", "explain", "eu-gdpr.yaml", "request.yaml"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  const std::string at = RuleLocation("residency.personal.transfer_to");
  EXPECT_THAT(run.out, StartsWith("decision: deny\nrequest:  artifact.fetch by tenant shop\n"
                                  "rule:     residency.personal.transfer_to (" + at + ")\n"
                                  "reason:   "));
  EXPECT_THAT(run.out, HasSubstr("  deny   residency.personal.transfer_to  " + at + "\n"));
  EXPECT_THAT(run.out, HasSubstr("  allow  services-fetch-released  " +
                                 RuleLocation("services-fetch-released") + "\n"));
  EXPECT_THAT(run.out, ::testing::EndsWith("policy:   " + crypto::Sha256Of(policy_text_).ToString() + "\n"));
}

// explain --output json: effect, deciding rule with position, matched rules, digest.
TEST_F(SovctlPolicyTest, ExplainJsonOutputParses) {
  WriteTestFile(dir_.Join("request.yaml"), kChinaFetch);
  SovctlRun run = Sovctl({"policy", "explain", "eu-gdpr.yaml", "request.yaml", "--output", "json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  nlohmann::json doc = nlohmann::json::parse(run.out);
  EXPECT_EQ(doc["effect"], "deny");
  EXPECT_EQ(doc["action"], "artifact.fetch");
  EXPECT_EQ(doc["rule"]["id"], "residency.personal.transfer_to");
  EXPECT_EQ(doc["rule"]["file"], "eu-gdpr.yaml");
  EXPECT_EQ(doc["rule"]["section"], "residency");
  EXPECT_EQ(doc["reason"], doc["rule"]["reason"]);
  EXPECT_GE(doc["matched"].size(), 2u);
  EXPECT_TRUE(doc["rule_errors"].is_array());
  EXPECT_EQ(doc["digest"], crypto::Sha256Of(policy_text_).ToString());
}

// explain refuses a malformed request file with its FILE:LINE:COL, and a broken policy with its
// errors; both exit 1.
TEST_F(SovctlPolicyTest, ExplainMalformedInputs) {
  WriteTestFile(dir_.Join("request.yaml"), "action: artifact.fetch\nprincipal: {tenant: shop}\n");
  SovctlRun run = Sovctl({"policy", "explain", "eu-gdpr.yaml", "request.yaml"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_THAT(run.err, StartsWith("request.yaml:2:"));
  EXPECT_THAT(run.err, HasSubstr("unknown key `tenant`"));
  EXPECT_THAT(run.err, HasSubstr("sovctl: error: request file request.yaml: 1 error\n"));

  WriteTestFile(dir_.Join("broken.yaml"), kBrokenPolicy);
  SovctlRun broken = Sovctl({"policy", "explain", "broken.yaml", "request.yaml"});
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_THAT(broken.err, HasSubstr("broken.yaml:10:5: error: unknown key `store_inn`"));
  EXPECT_THAT(broken.err, ::testing::EndsWith(
                              "sovctl: error: policy broken.yaml does not load: 3 errors (run "
                              "'sovctl policy check broken.yaml')\n"));
  EXPECT_EQ(CountLines(broken.err), 4u) << broken.err;
}

// Each command's --help says what it does, points to docs/policy.md and shows the example files.
TEST_F(SovctlPolicyTest, HelpTeaches) {
  for (const char* command : {"check", "test", "explain"}) {
    SovctlRun run = Sovctl({"policy", command, "--help"});
    EXPECT_EQ(run.exit_code, 0) << command;
    EXPECT_THAT(run.out, HasSubstr("docs/policy.md")) << command;
    EXPECT_THAT(run.out, HasSubstr("sovctl policy " + std::string(command) +
                                   " examples/policies/eu-gdpr.yaml"))
        << command;
  }
  EXPECT_THAT(Sovctl({"policy", "test", "--help"}).out, HasSubstr("eu-gdpr.cases.yaml"));
  SovctlRun usage = Sovctl({"policy", "test", "eu-gdpr.yaml"});
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_THAT(usage.err, HasSubstr("Run 'sovctl policy test --help' for usage."));
}

}  // namespace
}  // namespace sov::cli
