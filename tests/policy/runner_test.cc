// Shows the policy test runner: the examples/policies cases file passes in full, failing cases
// and malformed cases files are reported with file:line, requests parse for `explain`, and the
// check summary and the example policies load.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "common/file.h"
#include "policy/explain.h"
#include "policy/policy.h"
#include "policy/test_runner.h"

namespace sov::policy {
namespace {

const std::string kSource = SOV_TEST_SOURCE_DIR;

constexpr char kPolicy[] = R"(version: 1
name: t
rules:
  - id: engineers-get
    effect: allow
    actions: [artifact.get]
    principals: {roles: [ml-engineer]}
)";

// Every case of the EU GDPR example passes, and every rule of the policy decides some case.
TEST(PolicyRunner, ExampleCasesPassInFull) {
  Result<Policy> p = Policy::LoadFile(kSource + "/examples/policies/eu-gdpr.yaml");
  ASSERT_TRUE(p.ok()) << p.status().message();
  Result<TestReport> report = RunPolicyTestFile(*p, kSource + "/examples/policies/eu-gdpr.cases.yaml");
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_TRUE(report->ok()) << FormatTestReport(*report);
  EXPECT_GE(report->passed, 40);
  std::set<std::string> deciding;
  for (const TestCaseResult& c : report->cases) {
    if (c.decision.deciding_rule != nullptr) deciding.insert(c.decision.deciding_rule->id);
  }
  for (const RuleInfo* rule : p->rules()) {
    // "*" residency entries can never deny.
    if (rule->id == "residency.public.store_in" || rule->id == "residency.public.transfer_to" ||
        rule->id == "residency.anonymised.transfer_to") {
      continue;
    }
    EXPECT_TRUE(deciding.count(rule->id)) << "no case is decided by " << rule->id;
  }
}

// The draft example policy loads too.
TEST(PolicyRunner, DraftExamplePolicyLoads) {
  Result<Policy> p = Policy::LoadFile(kSource + "/examples/policy.yaml");
  EXPECT_TRUE(p.ok()) << p.status().message();
}

// A case whose effect or rule differs fails, names itself and the cases file line, and the
// table ends with the counts.
TEST(PolicyRunner, FailingCasesAreReported) {
  Result<Policy> p = Policy::Load(kPolicy, "p.yaml");
  ASSERT_TRUE(p.ok());
  Result<TestReport> r = RunPolicyTests(*p, R"(- name: engineer reads
  request: {action: artifact.get, principal: {tenant_id: a, roles: [ml-engineer]}}
  expect: allow
  rule: engineers-get
- name: wrong expectation
  request: {action: artifact.get, principal: {tenant_id: a, roles: [viewer]}}
  expect: allow
- name: wrong rule
  request: {action: artifact.get, principal: {tenant_id: a, roles: [viewer]}}
  expect: deny
  rule: engineers-get
)", "c.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->passed, 1);
  EXPECT_EQ(r->failed, 2);
  EXPECT_EQ(r->cases[1].failure, "expected allow, got deny by default deny");
  EXPECT_EQ(r->cases[2].failure, "expected rule engineers-get, decided by default deny");
  const std::string table = FormatTestReport(*r);
  EXPECT_NE(table.find("PASS  engineer reads"), std::string::npos) << table;
  EXPECT_NE(table.find("FAIL  wrong expectation"), std::string::npos) << table;
  EXPECT_NE(table.find("c.yaml:5:3: expected allow"), std::string::npos) << table;
  EXPECT_NE(table.find("1 passed, 2 failed"), std::string::npos) << table;
}

// Mistakes in a cases file are errors with file:line:col, not failing cases.
TEST(PolicyRunner, MalformedCasesFile) {
  Result<Policy> p = Policy::Load(kPolicy, "p.yaml");
  ASSERT_TRUE(p.ok());
  Result<TestReport> r = RunPolicyTests(*p, R"(- name: a
  request: {action: artifact.get, principal: {tenant: a}}
  expect: alow
  rule: engineers-gte
)", "c.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "c.yaml:2:47: error: unknown key `tenant` in principal (hint: expected one of: tenant_id, roles, purposes, jurisdiction)\n"
            "c.yaml:3:11: error: unknown effect `alow` (hint: did you mean `allow`?)\n"
            "c.yaml:4:9: error: the policy has no rule `engineers-gte` (hint: did you mean `engineers-get`?)");
  EXPECT_FALSE(RunPolicyTests(*p, "{a: b}", "c.yaml").ok());
  EXPECT_EQ(RunPolicyTestFile(*p, "/nonexistent.yaml").status().code(), StatusCode::kNotFound);
}

// A request file parses into a DecisionRequest, and explain renders the whole decision.
TEST(PolicyRunner, ParseRequestAndExplain) {
  Result<DecisionRequest> r = ParseDecisionRequest(R"(action: artifact.fetch
principal: {tenant_id: shop, roles: [tenant-service], purposes: [fraud-detection], jurisdiction: FR}
artifact:
  kind: model
  classification: personal
  purposes: [fraud-detection]
  stage: released
  labels: {team: risk}
  created_at: 2025-01-01T00:00:00Z
  size_bytes: 42
  lineage:
    - {name: payments, version: 1.0.0, classification: personal, purposes: [fraud-detection]}
request: {target_jurisdiction: FR}
now: 2025-06-01T12:00:00Z
)", "r.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->principal.jurisdiction, "FR");
  EXPECT_EQ(r->artifact.lineage.at(0).kind, "dataset");
  EXPECT_EQ(r->artifact.size_bytes, 42);
  EXPECT_EQ(r->now, SystemTime(std::chrono::seconds(1748779200)));
  Result<Policy> p = Policy::LoadFile(kSource + "/examples/policies/eu-gdpr.yaml");
  ASSERT_TRUE(p.ok());
  const std::string text = FormatDecision(p->Decide(*r), *r);
  EXPECT_NE(text.find("decision: allow"), std::string::npos) << text;
  EXPECT_NE(text.find("rule:     services-fetch-released (" + kSource + "/examples/policies/eu-gdpr.yaml:"), std::string::npos) << text;
  EXPECT_NE(text.find("policy:   sha256:"), std::string::npos) << text;

  Result<DecisionRequest> bad = ParseDecisionRequest("action: x\nnow: yesterday\n", "r.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().substr(0, 40), "r.yaml:2:6: error: invalid time `yesterd");
}

// The check summary says what the policy allows.
TEST(PolicyRunner, CheckSummary) {
  Result<Policy> p = Policy::LoadFile(kSource + "/examples/policies/eu-gdpr.yaml");
  ASSERT_TRUE(p.ok());
  const std::string summary = SummarizePolicy(*p);
  EXPECT_NE(summary.find("policy eu-gdpr"), std::string::npos);
  EXPECT_NE(summary.find("special-category: stored in DE; transferred to DE"), std::string::npos) << summary;
  EXPECT_NE(summary.find("high-risk-credit"), std::string::npos);
  EXPECT_NE(summary.find("allow  artifact.push for roles ml-engineer"), std::string::npos) << summary;
  PolicyCheck bad = Policy::Check("version: 1\nname: t\nrulez: []\n", "b.yaml");
  EXPECT_EQ(FormatDiagnostics(bad.diagnostics),
            "b.yaml:3:1: error: unknown key `rulez` in the policy file (hint: did you mean `rules`?)\n");
}

}  // namespace
}  // namespace sov::policy
