// Retention and records of processing end to end, with the real binaries: `sovd --dev` whose
// policy grants the compliance office retention.read, retention.sweep and records.export, and
// `sovctl` as acme-ml (push, pull) and as the compliance officer (retention plan, retention
// sweep --dry-run, records export --format csv). Also: the CSV quoting sovctl uses, and a caller
// the policy does not allow is refused with the rule named.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/testing/process.h"
#include "tests/testing/temp_dir.h"

namespace sov {
namespace cli {
// cli/commands_governance.cc: one RFC 4180 field.
std::string CsvField(std::string_view field);
}  // namespace cli

namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Grants the compliance office the governance calls (the example policy leaves them out).
constexpr char kGovernanceRules[] = R"(
  - id: compliance-governance
    effect: allow
    actions: [retention.read, retention.sweep, records.export]
    principals: {roles: [compliance-officer]}
    reason: Compliance officers plan and apply retention and keep the records of processing.
)";

class GovernanceEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sovctl_ = sov::testing::BuildPath("cli/sovctl");
    ASSERT_EQ(::access(sovctl_.c_str(), X_OK), 0) << "sovctl is not built at " << sovctl_;
    // First start creates the dev environment; then the policy and config are extended.
    Start();
    ASSERT_EQ(sovd_->Stop(SIGTERM), 0);
    sovd_.reset();
    std::ofstream(dir() + "/policy.yaml", std::ios::app) << kGovernanceRules;
    std::ofstream(dir() + "/sovd.yaml", std::ios::app) << "\nretention:\n  sweep_interval: 1h\n";
    Start();
  }

  void Start() {
    std::string error;
    sovd_ = sov::testing::SovdProcess::Start({"--dev", "--data-dir", dir()}, &error);
    ASSERT_NE(sovd_, nullptr) << error;
  }

  std::string dir() const { return tmp_.Join("dev"); }

  sov::testing::ProcessResult Sovctl(std::vector<std::string> args, bool compliance = false) {
    sov::testing::Environment env = sov::testing::MinimalEnvironment();
    env["SOV_CONFIG"] = dir() + "/sovctl.yaml";
    if (compliance) {
      env["SOV_CERT"] = dir() + "/clients/compliance.pem";
      env["SOV_KEY"] = dir() + "/clients/compliance.key";
    }
    args.insert(args.begin(), sovctl_);
    return sov::testing::RunProcess(args, env, std::chrono::seconds(60));
  }

  std::string sovctl_;
  sov::testing::TempDir tmp_;
  std::unique_ptr<sov::testing::SovdProcess> sovd_;
};

TEST_F(GovernanceEndToEndTest, RetentionPlanAndRecordsExportThroughSovd) {
  const std::string file = tmp_.Join("customers.csv");
  std::ofstream(file) << "id,name\n1,Ada\n";
  auto pushed = Sovctl({"push", file, "--kind", "dataset", "--name", "acme-ml/crm/customers",
                        "--version", "1.0.0", "--classification", "personal", "--purpose",
                        "fraud-detection", "--lawful-basis", "legitimate-interests",
                        "--no-progress"});
  ASSERT_EQ(pushed.exit_code, 0) << pushed.out << pushed.err;
  auto pulled = Sovctl({"pull", "acme-ml/crm/customers@1.0.0", "-o", tmp_.Join("pulled.csv"),
                        "--no-progress"});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.out << pulled.err;

  // Personal data: 730 days, then erased (examples/policy.yaml). Not within the default 30
  // days; within 800.
  auto soon = Sovctl({"retention", "plan"}, true);
  ASSERT_EQ(soon.exit_code, 0) << soon.err;
  EXPECT_THAT(soon.out, ::testing::Not(HasSubstr("acme-ml/crm/customers")));
  auto plan = Sovctl({"retention", "plan", "--horizon", "800d"}, true);
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_THAT(plan.out, StartsWith("DEADLINE"));
  EXPECT_THAT(plan.out, HasSubstr("acme-ml/crm/customers@1.0.0"));
  EXPECT_THAT(plan.out, HasSubstr("erase"));
  EXPECT_THAT(plan.out, HasSubstr("policy.yaml:"));
  auto plan_json =
      Sovctl({"retention", "plan", "--horizon", "800d", "--kind", "dataset", "--output", "json"},
             true);
  ASSERT_EQ(plan_json.exit_code, 0) << plan_json.err;
  nlohmann::json doc = nlohmann::json::parse(plan_json.out);
  ASSERT_EQ(doc["items"].size(), 1u);
  EXPECT_EQ(doc["items"][0]["action"], "RETENTION_ACTION_ERASE");
  EXPECT_EQ(doc["items"][0]["ruleLocation"]["file"], "policy.yaml");
  EXPECT_THAT(doc["policy_digest"].get<std::string>(), StartsWith("sha256:"));

  // Nothing is due yet: a dry-run sweep changes nothing.
  auto sweep = Sovctl({"retention", "sweep", "--dry-run"}, true);
  ASSERT_EQ(sweep.exit_code, 0) << sweep.err;
  EXPECT_THAT(sweep.out, HasSubstr("would be erased"));

  const std::string csv = tmp_.Join("records.csv");
  auto exported = Sovctl({"records", "export", "--format", "csv", "-o", csv}, true);
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_THAT(exported.out, HasSubstr("records:"));
  std::ifstream in(csv, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, StartsWith("name,version,digest,kind,owner_tenant,purposes,lawful_basis,"
                               "special_category_condition,classification,storage_location,"
                               "storage_jurisdiction,stage,create_time,erase_time,"
                               "retention_deadline,retention_action,derived_models,recipients,"
                               "third_country_recipients\r\n"));
  EXPECT_THAT(text, HasSubstr("acme-ml/crm/customers,1.0.0,sha256:"));
  EXPECT_THAT(text, HasSubstr(",personal,eu-de-1,DE,pending,"));
  // acme-ml (DE) fetched it once: a recipient inside the EEA, so no third-country transfer.
  EXPECT_THAT(text, HasSubstr(",erase,,acme-ml[DE] fetched x1,\r\n"));
  EXPECT_FALSE(std::filesystem::exists(csv + ".part"));

  // acme-ml may not read the plan: the policy denies by default, and sovctl names the rule.
  auto denied = Sovctl({"retention", "plan"});
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_THAT(denied.err, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(denied.err, HasSubstr("retention.read"));
}

// Bad flags are usage errors (exit 2) that say what is expected, before any connection.
TEST(GovernanceCommandsTest, UsageErrorsTeach) {
  const std::string sovctl = sov::testing::BuildPath("cli/sovctl");
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), sovctl);
    return sov::testing::RunProcess(args, sov::testing::MinimalEnvironment(),
                                    std::chrono::seconds(30));
  };
  auto horizon = run({"retention", "plan", "--horizon", "soon"});
  EXPECT_EQ(horizon.exit_code, 2) << horizon.err;
  EXPECT_THAT(horizon.err, HasSubstr("--horizon"));
  EXPECT_THAT(horizon.err, HasSubstr("30d"));
  auto format = run({"records", "export", "--format", "xml"});
  EXPECT_EQ(format.exit_code, 2);
  EXPECT_THAT(format.err, HasSubstr("--format"));
  auto help = run({"records", "export", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("third-country"));
  EXPECT_THAT(help.out, HasSubstr("RFC 4180"));
}

// RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled.
TEST(GovernanceCommandsTest, CsvFieldQuoting) {
  EXPECT_EQ(cli::CsvField("plain"), "plain");
  EXPECT_EQ(cli::CsvField("a;b"), "a;b");
  EXPECT_EQ(cli::CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(cli::CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(cli::CsvField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(cli::CsvField(""), "");
}

}  // namespace
}  // namespace sov
