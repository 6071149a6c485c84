// Shows the policy impact analysis on DECISION leaves built exactly as the gateway builds them (its DecisionEvent and the registry's leaf encoding): groups, counts, rule-only changes, time-dependent rules, entries that cannot be replayed, both windows, and `sovctl policy impact --file` with its exit statuses.
#include "cli/policy_impact.h"

#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/proto_interop.h"
#include "gateway/call_guard.h"
#include "policy/policy.h"
#include "registry/audit_entry.h"
#include "sov/v1/audit.pb.h"
#include "tests/cli/temp_dir.h"

namespace sov::cli {
namespace {

using ::sov::cli::testing::TempDir;
using ::sov::cli::testing::WriteTestFile;
using ::testing::HasSubstr;

constexpr char kOldPolicy[] = R"(version: 1
name: old
rules:
  - id: engineers-push
    effect: allow
    actions: [artifact.push]
    principals: {roles: [ml-engineer]}
    reason: Engineers push.
  - id: owners-read
    effect: allow
    actions: [artifact.get, artifact.fetch]
    principals: {roles: [ml-engineer]}
    when: artifact.owner_tenant == principal.tenant_id
    reason: Owners read their own artifacts.
  - id: everyone-whoami
    effect: allow
    actions: [identity.whoami]
    reason: Everyone may ask who they are.
)";

// engineers-push removed; owners-read no longer covers fetch; gets are frozen in 2025; a new
// allow for mTLS callers comes before everyone-whoami (a change of rule, not of effect).
constexpr char kNewPolicy[] = R"(version: 1
name: new
rules:
  - id: owners-read
    effect: allow
    actions: [artifact.get]
    principals: {roles: [ml-engineer]}
    when: artifact.owner_tenant == principal.tenant_id
    reason: Owners read their own artifacts.
  - id: freeze-2025
    effect: deny
    actions: [artifact.get]
    when: now.getFullYear() == 2025
    reason: Nothing is read in 2025.
  - id: whoami-mtls
    effect: allow
    actions: [identity.whoami]
    when: request.auth_method == 'mtls'
    reason: Certificate holders may ask who they are.
  - id: everyone-whoami
    effect: allow
    actions: [identity.whoami]
    reason: Everyone may ask who they are.
)";

policy::Policy LoadPolicy(const char* text, const std::string& file) {
  Result<policy::Policy> loaded = policy::Policy::Load(text, file);
  EXPECT_TRUE(loaded.ok()) << loaded.status().message();
  return std::move(loaded).value();
}

SystemTime At(const std::string& rfc3339) { return ParseRfc3339(rfc3339).value(); }

const SystemTime kBase = At("2026-03-01T10:00:00Z");

gateway::Principal Caller(const std::string& tenant, std::vector<std::string> roles,
                          gateway::AuthMethod method = gateway::AuthMethod::kMtls) {
  gateway::Principal p;
  p.tenant.id = tenant;
  p.tenant.roles = std::move(roles);
  p.tenant.purposes = {"fraud-detection"};
  p.tenant.jurisdiction = "DE";
  p.method = method;
  p.credential = "CN=" + tenant;
  return p;
}

policy::Artifact Dataset(const std::string& owner) {
  policy::Artifact a;
  a.kind = "dataset";
  a.name = owner + "/fraud/train";
  a.version = "1.0.0";
  a.owner_tenant = owner;
  a.classification = "internal";
  a.purposes = {"fraud-detection"};
  a.stage = "pending";
  return a;
}

// Builds an audit log the way the gateway writes it: entry i is appended at kBase + i minutes.
class LogBuilder {
 public:
  explicit LogBuilder(policy::Policy in_force) : policy_(std::move(in_force)) {}

  // Decides with the policy in force, as GuardedCall::Decide does, and appends the entry.
  void Decide(const gateway::Principal& caller, const std::string& action,
              const policy::Artifact& artifact = {}, SystemTime now = kBase) {
    policy::DecisionRequest request =
        gateway::internal::MakeDecisionRequest(caller, action, artifact);
    request.now = now;
    policy::Decision decision = policy_.Decide(request);
    nlohmann::json principal = {{"tenantId", caller.tenant.id},
                                {"authMethod", caller.method == gateway::AuthMethod::kMtls
                                                   ? "mtls"
                                                   : "bearer_token"},
                                {"credential", caller.credential}};
    Append(gateway::internal::DecisionEvent(request, decision, principal, "req"));
  }

  void Append(const registry::AuditEvent& event) {
    const int64_t index = static_cast<int64_t>(leaves.size());
    leaves.push_back(registry::EncodeLeafData(event, index, kBase + std::chrono::minutes(index),
                                              registry::LeafHash{}));
  }

  // `leaf` (crafted JSON) as entry number size().
  void AppendJson(nlohmann::json leaf) {
    const int64_t index = static_cast<int64_t>(leaves.size());
    leaf["index"] = index;
    leaf["appendTime"] = FormatRfc3339Micros(kBase + std::chrono::minutes(index));
    leaf["previousLeafHash"] = std::string(64, '0');
    leaves.push_back(leaf.dump());
  }

  // The leaves as `sovctl audit export` writes them (entries only).
  std::string Jsonl() const {
    std::string out;
    for (size_t i = 0; i < leaves.size(); ++i) {
      v1::ExportResponse record;
      record.mutable_entry()->set_index(static_cast<int64_t>(i));
      record.mutable_entry()->set_leaf_data(leaves[i]);
      out += ProtoToJsonLine(record) + "\n";
    }
    return out;
  }

  std::vector<std::string> leaves;

 private:
  policy::Policy policy_;
};

class PolicyImpactTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const gateway::Principal acme = Caller("acme-ml", {"ml-engineer"});
    log_.Decide(acme, "artifact.push", Dataset("acme-ml"));  // 0: push allowed -> deny
    log_.Decide(acme, "artifact.push", Dataset("acme-ml"));  // 1: the same
    registry::AuditEvent load;                               // 2: not a decision
    load.type = "POLICY_LOAD";
    load.system_actor = "policy";
    load.action = "policy.load";
    load.body["details"] = {{"trigger", "start"}};
    log_.Append(load);
    log_.Decide(acme, "artifact.fetch", Dataset("acme-ml"));  // 3: allow -> deny by default
    log_.Decide(acme, "artifact.get", Dataset("acme-ml"));    // 4: unchanged (2026)
    log_.Decide(acme, "artifact.get", Dataset("acme-ml"),
                At("2025-06-01T12:00:00Z"));                  // 5: allow -> deny freeze-2025
    log_.Decide(acme, "identity.whoami");                      // 6: rule everyone -> whoami-mtls
    log_.Decide(Caller("acme-ml", {"ml-engineer"}, gateway::AuthMethod::kBearerToken),
                "identity.whoami");                           // 7: unchanged
    log_.AppendJson({{"type", "DECISION"},                    // 8: a listing's summary entry
                     {"action", "artifact.list"},
                     {"principal", {{"tenantId", "acme-ml"}}},
                     {"decision", {{"effect", "allow"}, {"ruleId", "per-item"}}},
                     {"details", {{"shown", 1}, {"hidden", 0}}}});
    log_.AppendJson({{"type", "DECISION"},                    // 9: an older format, no input
                     {"action", "artifact.get"},
                     {"principal", {{"tenantId", "acme-ml"}}},
                     {"decision", {{"effect", "allow"}, {"ruleId", "owners-read"}}}});
    nlohmann::json input = nlohmann::json::parse(log_.leaves[4])["input"];
    input["principal"].erase("roles");
    log_.AppendJson({{"type", "DECISION"},                    // 10: input without roles
                     {"action", "artifact.get"},
                     {"principal", {{"tenantId", "acme-ml"}}},
                     {"decision", {{"effect", "allow"}, {"ruleId", "owners-read"}}},
                     {"input", input}});
    log_.Decide(Caller("partner-us", {"tenant-service"}), "artifact.fetch",
                Dataset("acme-ml"));                          // 11: deny by default, unchanged
  }

  ImpactReport Analyze(const policy::Policy& candidate, ImpactWindow window = {}) {
    ImpactAnalysis analysis(candidate, window);
    for (const std::string& leaf : log_.leaves) EXPECT_TRUE(analysis.Add(leaf).ok());
    return analysis.Finish();
  }

  policy::Policy old_ = LoadPolicy(kOldPolicy, "old.yaml");
  policy::Policy new_ = LoadPolicy(kNewPolicy, "new.yaml");
  LogBuilder log_{old_};
};

// The gateway's recorded input rebuilds the request it decided, field for field.
TEST_F(PolicyImpactTest, RecordedInputRoundTrips) {
  policy::Artifact a = Dataset("acme-ml");
  a.kind = "model";
  a.lawful_basis = "legitimate-interests";
  a.labels = {{"team", "risk"}};
  a.storage_location = "eu-de-1";
  a.storage_jurisdiction = "DE";
  a.lineage = {{"dataset", "acme-ml/fraud/train", "1.0.0", "personal", {"fraud-detection"}}};
  a.created_at = At("2026-02-01T08:00:00Z");
  a.size_bytes = 1234;
  policy::DecisionRequest request = gateway::internal::MakeDecisionRequest(
      Caller("acme-ml", {"ml-engineer"}), "artifact.release", a, {{"gates_passed", "true"}});
  request.now = At("2026-03-01T10:00:00Z");
  registry::AuditEvent event =
      gateway::internal::DecisionEvent(request, old_.Decide(request), nlohmann::json::object(), "r");
  Result<policy::DecisionRequest> back = DecisionRequestFromInput(event.body["input"]);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->action, request.action);
  EXPECT_EQ(back->principal.tenant_id, "acme-ml");
  EXPECT_EQ(back->principal.roles, request.principal.roles);
  EXPECT_EQ(back->principal.purposes, request.principal.purposes);
  EXPECT_EQ(back->principal.jurisdiction, "DE");
  EXPECT_EQ(back->attributes, request.attributes);  // gates_passed and auth_method
  EXPECT_EQ(back->now, request.now);
  const policy::Artifact& b = back->artifact;
  EXPECT_EQ(b.kind, a.kind);
  EXPECT_EQ(b.name, a.name);
  EXPECT_EQ(b.version, a.version);
  EXPECT_EQ(b.owner_tenant, a.owner_tenant);
  EXPECT_EQ(b.classification, a.classification);
  EXPECT_EQ(b.purposes, a.purposes);
  EXPECT_EQ(b.lawful_basis, a.lawful_basis);
  EXPECT_EQ(b.stage, a.stage);
  EXPECT_EQ(b.labels, a.labels);
  EXPECT_EQ(b.storage_location, a.storage_location);
  EXPECT_EQ(b.storage_jurisdiction, a.storage_jurisdiction);
  ASSERT_EQ(b.lineage.size(), 1u);
  EXPECT_EQ(b.lineage[0].classification, "personal");
  EXPECT_EQ(b.lineage[0].purposes, a.lineage[0].purposes);
  EXPECT_EQ(b.created_at, a.created_at);
  EXPECT_EQ(b.size_bytes, 1234);

  // An action on no artifact records an empty artifact, which replays as one.
  request.artifact = {};
  event = gateway::internal::DecisionEvent(request, old_.Decide(request), nullptr, "r");
  back = DecisionRequestFromInput(event.body["input"]);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(back->artifact.name.empty());
}

// Replayed against the policy that made them, no decision changes.
TEST_F(PolicyImpactTest, SamePolicyChangesNothing) {
  ImpactReport report = Analyze(old_);
  EXPECT_EQ(report.decisions, 11);
  EXPECT_EQ(report.replayed, 8);
  EXPECT_EQ(report.unchanged, 8);
  EXPECT_EQ(report.changed, 0);
  EXPECT_TRUE(report.groups.empty());
  EXPECT_THAT(FormatImpactReport(report), HasSubstr("no replayed decision would change"));
}

// Against the new policy: the groups, largest first, with every decision and its rule.
TEST_F(PolicyImpactTest, GroupsTheChanges) {
  ImpactReport report = Analyze(new_);
  EXPECT_EQ(report.policy_name, "new");
  EXPECT_EQ(report.policy_digest, new_.digest());
  EXPECT_EQ(report.decisions, 11);
  EXPECT_EQ(report.first_index, 0);
  EXPECT_EQ(report.last_index, 11);
  EXPECT_EQ(report.replayed, 8);
  EXPECT_EQ(report.unchanged, 3);  // 4, 7, 11
  EXPECT_EQ(report.changed, 5);
  EXPECT_EQ(report.effect_changed, 4);
  ASSERT_EQ(report.recorded_policies.size(), 1u);
  EXPECT_EQ(report.recorded_policies[0].first, old_.digest());
  EXPECT_EQ(report.recorded_policies[0].second, 8);

  ASSERT_EQ(report.groups.size(), 4u);
  const ImpactGroup& push = report.groups[0];
  EXPECT_EQ(push.before_effect, "allow");
  EXPECT_EQ(push.before_rule, "engineers-push");
  EXPECT_EQ(push.after_effect, "deny");
  EXPECT_EQ(push.after_rule, "default-deny");
  EXPECT_EQ(push.count(), 2);
  EXPECT_EQ(push.actions, std::vector<std::string>{"artifact.push"});
  EXPECT_EQ(push.decisions[0].index, 0);
  EXPECT_EQ(push.decisions[1].index, 1);
  EXPECT_EQ(push.decisions[0].tenant, "acme-ml");
  EXPECT_EQ(push.decisions[0].artifact, "acme-ml/fraud/train@1.0.0");

  // Ties: changes of effect before changes of rule only.
  EXPECT_EQ(report.groups[1].before_rule, "owners-read");
  EXPECT_EQ(report.groups[1].after_rule, "default-deny");
  EXPECT_EQ(report.groups[1].decisions[0].index, 3);
  EXPECT_EQ(report.groups[2].after_rule, "freeze-2025");  // `now` is replayed as recorded
  EXPECT_EQ(report.groups[2].after_location.line, 10);
  EXPECT_EQ(report.groups[2].decisions[0].index, 5);
  const ImpactGroup& whoami = report.groups[3];
  EXPECT_FALSE(whoami.effect_changed());
  EXPECT_EQ(whoami.before_rule, "everyone-whoami");
  EXPECT_EQ(whoami.after_rule, "whoami-mtls");  // request attributes are replayed too
  EXPECT_EQ(whoami.decisions[0].index, 6);
}

// Entries without a usable input are counted, each with its reason, and are no failure.
TEST_F(PolicyImpactTest, NotReplayableEntriesAreNamed) {
  ImpactReport report = Analyze(new_);
  ASSERT_EQ(report.not_replayable.size(), 3u);
  EXPECT_EQ(report.not_replayable[0].recorded.index, 8);
  EXPECT_THAT(report.not_replayable[0].reason, HasSubstr("listing's summary entry"));
  EXPECT_EQ(report.not_replayable[1].recorded.index, 9);
  EXPECT_THAT(report.not_replayable[1].reason, HasSubstr("no recorded input"));
  EXPECT_EQ(report.not_replayable[2].recorded.index, 10);
  EXPECT_EQ(report.not_replayable[2].reason, "input.principal.roles is missing");

  nlohmann::json input = nlohmann::json::parse(log_.leaves[4])["input"];
  input["artifact"]["sizeBytes"] = "12";
  EXPECT_EQ(DecisionRequestFromInput(input).status().message(),
            "input.artifact.sizeBytes must be an integer");
  input = nlohmann::json::parse(log_.leaves[4])["input"];
  input["now"] = "yesterday";
  EXPECT_THAT(DecisionRequestFromInput(input).status().message(), HasSubstr("input.now: "));
}

// --last N keeps the last N decisions (other entries do not count); --since/--until select by
// append time, start inclusive and end exclusive.
TEST_F(PolicyImpactTest, Windows) {
  ImpactWindow last_four;
  last_four.last = 4;
  ImpactReport last = Analyze(new_, last_four);
  EXPECT_EQ(last.decisions, 4);  // 8, 9, 10, 11
  EXPECT_EQ(last.first_index, 8);
  EXPECT_EQ(last.replayed, 1);
  EXPECT_EQ(last.not_replayable.size(), 3u);
  EXPECT_EQ(last.changed, 0);

  ImpactWindow minutes_2_to_6;
  minutes_2_to_6.since = kBase + std::chrono::minutes(2);
  minutes_2_to_6.until = kBase + std::chrono::minutes(6);
  ImpactReport window = Analyze(new_, minutes_2_to_6);
  EXPECT_EQ(window.decisions, 3);  // 3, 4, 5 (2 is no decision, 6 is past the end)
  EXPECT_EQ(window.first_index, 3);
  EXPECT_EQ(window.last_index, 5);
  EXPECT_EQ(window.changed, 2);
}

// Something that is not an audit entry is an error, not a skipped decision.
TEST_F(PolicyImpactTest, MalformedLeafIsAnError) {
  ImpactAnalysis analysis(new_, {});
  EXPECT_FALSE(analysis.Add("not json").ok());
  EXPECT_FALSE(analysis.Add(R"({"type":"DECISION"})").ok());
  EXPECT_THAT(analysis.Add(R"({"index":3,"type":"DECISION","appendTime":"x"})").message(),
              HasSubstr("entry 3"));
}

// The text report: counts, one block per group with examples, then what was not replayed; JSON
// lists every decision.
TEST_F(PolicyImpactTest, Rendering) {
  ImpactReport report = Analyze(new_);
  const std::string text = FormatImpactReport(report, 1);
  EXPECT_THAT(text, HasSubstr("changed:        5 (4 change effect, 1 only the deciding rule)\n"));
  EXPECT_THAT(text, HasSubstr("\nallow (rule engineers-push) -> deny (no rule matched): 2 decisions\n"
                              "  actions: artifact.push\n"
                              "  0  2026-03-01T10:00:00.000000Z  acme-ml  artifact.push  "
                              "acme-ml/fraud/train@1.0.0\n"
                              "  ... and 1 more (--output json lists every one)\n"));
  EXPECT_THAT(text, HasSubstr("allow (rule everyone-whoami) -> allow (rule whoami-mtls at "
                              "new.yaml:15:5): 1 decision\n"));
  EXPECT_THAT(text, HasSubstr("\nnot replayable: 3 decisions\n"));
  EXPECT_THAT(text, HasSubstr("  input.principal.roles is missing: 1 decision\n"
                              "    10  2026-03-01T10:10:00.000000Z  acme-ml  artifact.get  -\n"));

  nlohmann::ordered_json doc = ImpactReportJson(report);
  EXPECT_EQ(doc["changed"], 5);
  EXPECT_EQ(doc["groups"][0]["count"], 2);
  EXPECT_EQ(doc["groups"][0]["decisions"].size(), 2u);
  EXPECT_EQ(doc["groups"][0]["after"]["rule"], "default-deny");
  EXPECT_TRUE(doc["groups"][0]["after"]["line"].is_null());
  EXPECT_EQ(doc["groups"][2]["after"]["line"], 10);
  EXPECT_EQ(doc["not_replayable_decisions"][2]["reason"], "input.principal.roles is missing");
}

class PolicyImpactCommandTest : public PolicyImpactTest {
 protected:
  void SetUp() override {
    PolicyImpactTest::SetUp();
    WriteTestFile(dir_.Join("audit.jsonl"), log_.Jsonl());
    WriteTestFile(dir_.Join("new.yaml"), kNewPolicy);
    WriteTestFile(dir_.Join("old.yaml"), kOldPolicy);
  }

  int Run(std::vector<std::string> args) {
    args.insert(args.begin(), "sovctl");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    out_.str("");
    err_.str("");
    return RunSovctl(static_cast<int>(argv.size()), argv.data(), out_, err_,
                     [](const std::string&) { return std::optional<std::string>(); });
  }

  TempDir dir_;
  std::ostringstream out_, err_;
};

// `sovctl policy impact --file`: a report and exit 0 whatever changes; 3 with --fail-on-change.
TEST_F(PolicyImpactCommandTest, ReportsFromAnExportFile) {
  const std::string policy = dir_.Join("new.yaml"), audit = dir_.Join("audit.jsonl");
  EXPECT_EQ(Run({"policy", "impact", policy, "--file", audit}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("window:         the last 10000 decisions\n"));
  EXPECT_THAT(out_.str(), HasSubstr("allow (rule engineers-push) -> deny (no rule matched): 2 decisions"));
  EXPECT_EQ(err_.str(), "");

  EXPECT_EQ(Run({"policy", "impact", policy, "--file", audit, "--fail-on-change"}), 3);
  EXPECT_EQ(err_.str(), "sovctl: 5 of 8 replayed decisions would change (--fail-on-change)\n");
  EXPECT_EQ(Run({"policy", "impact", dir_.Join("old.yaml"), "--file", audit, "--fail-on-change"}), 0);

  EXPECT_EQ(Run({"policy", "impact", policy, "--file", audit, "--since", "2026-03-01T10:02:00Z",
                 "--until", "2026-03-01T10:06:00Z", "--output", "json"}),
            0);
  nlohmann::json doc = nlohmann::json::parse(out_.str());
  EXPECT_EQ(doc["decisions"], 3);
  EXPECT_EQ(doc["changed"], 2);
  EXPECT_EQ(doc["window"], "decisions appended from 2026-03-01T10:02:00Z until 2026-03-01T10:06:00Z (exclusive)");
}

// A candidate that does not load is reported at FILE:LINE:COL, exit 1; bad flags exit 2.
TEST_F(PolicyImpactCommandTest, Errors) {
  const std::string bad = WriteTestFile(dir_.Join("bad.yaml"), "version: 1\nname: bad\nrules:\n"
                                                               "  - id: x\n    effect: alow\n"
                                                               "    actions: [artifact.get]\n");
  EXPECT_EQ(Run({"policy", "impact", bad, "--file", dir_.Join("audit.jsonl")}), 1);
  EXPECT_THAT(err_.str(), HasSubstr(bad + ":5:13: error: unknown effect `alow`"));
  EXPECT_THAT(err_.str(), HasSubstr("does not load"));

  EXPECT_EQ(Run({"policy", "impact", dir_.Join("new.yaml"), "--file", dir_.Join("absent.jsonl")}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("cannot open"));

  WriteTestFile(dir_.Join("junk.jsonl"), "{\"entry\": {\"leafData\": \"bm90IGpzb24=\"}}\n");
  EXPECT_EQ(Run({"policy", "impact", dir_.Join("new.yaml"), "--file", dir_.Join("junk.jsonl")}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("junk.jsonl:1: leaf_data is not a JSON object"));

  EXPECT_EQ(Run({"policy", "impact", dir_.Join("new.yaml"), "--last", "5", "--since", "2026-03-01"}), 2);
  EXPECT_EQ(Run({"policy", "impact", dir_.Join("new.yaml"), "--since", "yesterday"}), 2);
  EXPECT_EQ(Run({"policy", "impact", dir_.Join("new.yaml"), "--last", "0"}), 2);
}

}  // namespace
}  // namespace sov::cli
