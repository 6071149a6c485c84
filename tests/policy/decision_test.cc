// Shows the decision semantics: deny by default, deny overrides allow, action wildcards,
// principals by role and tenant, CEL conditions (with their evaluation errors recorded), and
// the rules that residency, purposes and release gates generate, with model inheritance.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "policy/explain.h"
#include "policy/policy.h"

namespace sov::policy {
namespace {

Policy MustLoad(const std::string& text) {
  Result<Policy> p = Policy::Load(text, "p.yaml");
  EXPECT_TRUE(p.ok()) << p.status().message();
  if (!p.ok()) std::abort();
  return *p;
}

DecisionRequest Request(std::string action, std::vector<std::string> roles = {"ml-engineer"},
                        std::string tenant = "acme") {
  DecisionRequest r;
  r.action = std::move(action);
  r.principal.tenant_id = std::move(tenant);
  r.principal.roles = std::move(roles);
  r.principal.jurisdiction = "DE";
  r.now = SystemTime(std::chrono::seconds(1750000000));
  return r;
}

std::string Decided(const Decision& d) {
  return std::string(EffectName(d.effect)) + " " + (d.deciding_rule ? d.deciding_rule->id : "default");
}

std::vector<std::string> MatchedIds(const Decision& d) {
  std::vector<std::string> ids;
  for (const RuleInfo* r : d.matched) ids.push_back(r->id);
  return ids;
}

constexpr char kRules[] = R"(version: 1
name: semantics
rules:
  - id: engineers-get
    effect: allow
    actions: [artifact.get]
    principals: {roles: [ml-engineer]}
    reason: Engineers may read metadata.
  - id: no-get-on-frozen
    effect: deny
    actions: [artifact.*]
    when: has(artifact.labels.frozen)
    reason: Frozen artifacts are off limits.
  - id: acme-list
    effect: allow
    actions: [artifact.list]
    principals: {tenants: [acme]}
  - id: auditors-of-globex
    effect: allow
    actions: [audit.read]
    principals: {roles: [auditor], tenants: [globex]}
  - id: everything-for-root
    effect: allow
    actions: ["*"]
    principals: {roles: [root]}
  - id: big-artifacts
    effect: allow
    actions: [artifact.fetch]
    when: artifact.size_bytes / int(request.divisor) > 10
)";

// With no matching rule the answer is deny, and the decision says so.
TEST(PolicyDecision, DenyByDefault) {
  Policy p = MustLoad(kRules);
  Decision d = p.Decide(Request("artifact.push"));
  EXPECT_EQ(Decided(d), "deny default");
  EXPECT_TRUE(d.matched.empty());
  EXPECT_EQ(d.reason(), kDefaultDenyReason);
  EXPECT_EQ(d.policy_digest, p.digest());
}

// An allow decides when nothing denies; a matching deny overrides it, and both are listed.
TEST(PolicyDecision, DenyOverridesAllow) {
  Policy p = MustLoad(kRules);
  DecisionRequest r = Request("artifact.get");
  Decision allowed = p.Decide(r);
  EXPECT_EQ(Decided(allowed), "allow engineers-get");
  EXPECT_EQ(allowed.reason(), "Engineers may read metadata.");
  EXPECT_EQ(allowed.deciding_rule->location.ToString(), "p.yaml:4:5");
  r.artifact.labels["frozen"] = "yes";
  Decision denied = p.Decide(r);
  EXPECT_EQ(Decided(denied), "deny no-get-on-frozen");
  EXPECT_EQ(MatchedIds(denied), (std::vector<std::string>{"engineers-get", "no-get-on-frozen"}));
}

// `artifact.*` covers every artifact action and `*` every action, including unknown ones.
TEST(PolicyDecision, Wildcards) {
  Policy p = MustLoad(kRules);
  DecisionRequest r = Request("artifact.erase", {"root"});
  EXPECT_EQ(Decided(p.Decide(r)), "allow everything-for-root");
  r.artifact.labels["frozen"] = "1";
  EXPECT_EQ(Decided(p.Decide(r)), "deny no-get-on-frozen");
  EXPECT_EQ(Decided(p.Decide(Request("audit.read", {"root"}))), "allow everything-for-root");
  EXPECT_EQ(Decided(p.Decide(Request("made.up.action", {"root"}))), "allow everything-for-root");
  EXPECT_EQ(Decided(p.Decide(Request("made.up.action"))), "deny default");
}

// Principals select by tenant, by role, or by both (both must hold); unauthenticated callers
// match no allow.
TEST(PolicyDecision, PrincipalsByRoleAndTenant) {
  Policy p = MustLoad(kRules);
  EXPECT_EQ(Decided(p.Decide(Request("artifact.list", {}, "acme"))), "allow acme-list");
  EXPECT_EQ(Decided(p.Decide(Request("artifact.list", {}, "globex"))), "deny default");
  EXPECT_EQ(Decided(p.Decide(Request("audit.read", {"auditor"}, "globex"))), "allow auditors-of-globex");
  EXPECT_EQ(Decided(p.Decide(Request("audit.read", {"auditor"}, "acme"))), "deny default");
  EXPECT_EQ(Decided(p.Decide(Request("audit.read", {"viewer", "auditor"}, "globex"))), "allow auditors-of-globex");
  EXPECT_EQ(Decided(p.Decide(Request("artifact.get", {"ml-engineer"}, ""))), "deny default");
}

// A condition that fails to evaluate does not match; the error names the rule and the file
// position of the failing sub-expression.
TEST(PolicyDecision, ConditionErrorsAreRecorded) {
  Policy p = MustLoad(kRules);
  DecisionRequest r = Request("artifact.fetch");
  r.artifact.size_bytes = 1000;
  Decision missing = p.Decide(r);  // request.divisor is absent
  EXPECT_EQ(Decided(missing), "deny default");
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_EQ(missing.errors[0].rule->id, "big-artifacts");
  EXPECT_EQ(missing.errors[0].location.ToString(), "p.yaml:29:45");
  EXPECT_NE(missing.errors[0].message.find("divisor"), std::string::npos) << missing.errors[0].message;
  r.attributes["divisor"] = "0";
  Decision zero = p.Decide(r);
  ASSERT_EQ(zero.errors.size(), 1u);
  EXPECT_EQ(zero.errors[0].location.ToString(), "p.yaml:29:31");
  EXPECT_NE(zero.errors[0].message.find("division by zero"), std::string::npos) << zero.errors[0].message;
  r.attributes["divisor"] = "10";
  EXPECT_EQ(Decided(p.Decide(r)), "allow big-artifacts");
  std::string text = FormatDecision(missing, r);
  EXPECT_NE(text.find("big-artifacts  p.yaml:29:45: no such key"), std::string::npos) << text;
}

// A condition that is not a bool is an error, not a match.
TEST(PolicyDecision, NonBoolConditionIsAnError) {
  Policy p = MustLoad("version: 1\nname: t\nrules:\n  - id: r\n    effect: allow\n    actions: [artifact.get]\n"
                      "    when: request.flag\n");
  DecisionRequest r = Request("artifact.get");
  r.attributes["flag"] = "true";
  Decision d = p.Decide(r);
  EXPECT_EQ(Decided(d), "deny default");
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_EQ(d.errors[0].message, "condition evaluated to string, not bool");
  EXPECT_EQ(d.errors[0].location.ToString(), "p.yaml:7:11");
}

// Conditions see principal, artifact (with effective classification and lineage), request, now.
TEST(PolicyDecision, ConditionVariables) {
  Policy p = MustLoad(R"(version: 1
name: t
rules:
  - id: r
    effect: allow
    actions: [artifact.get]
    when: >
      principal.jurisdiction == 'DE' && 'x' in principal.purposes &&
      artifact.classification == 'personal' && artifact.declared_classification == 'internal' &&
      artifact.lineage[0].name == 'd' && artifact.created_at < now &&
      now - artifact.created_at > duration('24h') && request.purpose == 'x' &&
      artifact.labels.team == 'risk'
)");
  DecisionRequest r = Request("artifact.get");
  r.principal.purposes = {"x"};
  r.artifact.kind = "model";
  r.artifact.classification = "internal";
  r.artifact.lineage.push_back(LineageEntry{"dataset", "d", "1.0.0", "personal", {"x"}});
  r.artifact.created_at = r.now - std::chrono::hours(48);
  r.artifact.labels["team"] = "risk";
  r.attributes["purpose"] = "x";
  Decision d = p.Decide(r);
  EXPECT_EQ(Decided(d), "allow r") << (d.errors.empty() ? "" : d.errors[0].message);
}

constexpr char kSections[] = R"(version: 1
name: sections
jurisdictions:
  EU: [DE, FR, NL]
  ADEQUATE: [CH, JP]
  EU-PLUS: [EU, ADEQUATE]
residency:
  personal:
    store_in: [EU]
    transfer_to: [EU-PLUS]
  special-category:
    store_in: [DE]
    transfer_to: [DE]
  public:
    store_in: ["*"]
    transfer_to: ["*"]
purposes:
  fraud:
    lawful_basis: legitimate-interests
  credit:
    lawful_basis: contract
release_gates:
  - id: credit-gate
    applies_when: "'credit' in artifact.purposes"
rules:
  - id: allow-all
    effect: allow
    actions: [artifact.push, artifact.fetch, artifact.release]
)";

DecisionRequest Push(std::string classification, std::string where) {
  DecisionRequest r = Request("artifact.push");
  r.artifact.kind = "dataset";
  r.artifact.classification = std::move(classification);
  r.artifact.storage_jurisdiction = std::move(where);
  r.artifact.purposes = {"fraud"};
  r.artifact.lawful_basis = "legitimate-interests";
  return r;
}

// Residency compiles into store_in deny rules for pushes and transfer_to deny rules for fetches,
// located at their YAML keys; unlisted classifications are refused.
TEST(PolicySections, ResidencyRules) {
  Policy p = MustLoad(kSections);
  EXPECT_EQ(Decided(p.Decide(Push("personal", "FR"))), "allow allow-all");
  Decision d = p.Decide(Push("personal", "US"));
  EXPECT_EQ(Decided(d), "deny residency.personal.store_in");
  EXPECT_EQ(d.deciding_rule->location.ToString(), "p.yaml:9:5");
  EXPECT_EQ(d.reason(), "personal data may be stored only in: EU");
  EXPECT_EQ(Decided(p.Decide(Push("special-category", "FR"))), "deny residency.special-category.store_in");
  EXPECT_EQ(Decided(p.Decide(Push("public", "CN"))), "allow allow-all");
  EXPECT_EQ(Decided(p.Decide(Push("internal", "DE"))), "deny residency.unlisted");
  // Not chosen yet: the registry picks a location from StorageJurisdictions afterwards.
  EXPECT_EQ(Decided(p.Decide(Push("personal", ""))), "allow allow-all");

  DecisionRequest fetch = Push("personal", "DE");
  fetch.action = "artifact.fetch";
  fetch.principal.purposes = {"fraud"};
  fetch.principal.jurisdiction = "JP";
  EXPECT_EQ(Decided(p.Decide(fetch)), "allow allow-all");
  fetch.principal.jurisdiction = "US";
  Decision t = p.Decide(fetch);
  EXPECT_EQ(Decided(t), "deny residency.personal.transfer_to");
  EXPECT_EQ(t.deciding_rule->location.ToString(), "p.yaml:10:5");
  fetch.principal.jurisdiction = "FR";
  fetch.attributes["target_jurisdiction"] = "US";
  EXPECT_EQ(Decided(p.Decide(fetch)), "deny residency.personal.transfer_to");
}

// The registry's residency queries: where a classification may live and go.
TEST(PolicySections, JurisdictionQueries) {
  Policy p = MustLoad(kSections);
  JurisdictionSet store = p.StorageJurisdictions("personal");
  EXPECT_EQ(store.codes, (std::vector<std::string>{"DE", "FR", "NL"}));
  EXPECT_TRUE(store.Contains("NL"));
  EXPECT_FALSE(store.Contains("CH"));
  EXPECT_EQ(p.TransferJurisdictions("personal").codes,
            (std::vector<std::string>{"CH", "DE", "FR", "JP", "NL"}));
  EXPECT_TRUE(p.StorageJurisdictions("public").anywhere);
  EXPECT_TRUE(p.StorageJurisdictions("internal").codes.empty());
  EXPECT_FALSE(p.StorageJurisdictions("internal").Contains("DE"));
  EXPECT_EQ(p.JurisdictionGroup("EU-PLUS")->codes.size(), 5u);
  EXPECT_EQ(p.JurisdictionGroup("NOPE").status().code(), StatusCode::kNotFound);
  Policy open = MustLoad("version: 1\nname: t\n");
  EXPECT_TRUE(open.StorageJurisdictions("personal").anywhere);
}

// A model takes the strictest classification in its lineage, unless the policy says `declared`.
TEST(PolicySections, ModelInheritance) {
  Policy p = MustLoad(kSections);
  Artifact model;
  model.kind = "model";
  model.classification = "public";
  model.lineage = {LineageEntry{"dataset", "a", "1.0.0", "personal", {}},
                   LineageEntry{"dataset", "b", "1.0.0", "special-category", {}},
                   LineageEntry{"dataset", "c", "1.0.0", "anonymised", {}}};
  EXPECT_EQ(p.EffectiveClassification(model), "special-category");
  DecisionRequest r = Push("public", "FR");
  r.artifact.kind = "model";
  r.artifact.lineage = model.lineage;
  EXPECT_EQ(Decided(p.Decide(r)), "deny residency.special-category.store_in");
  Artifact dataset = model;
  dataset.kind = "dataset";
  EXPECT_EQ(p.EffectiveClassification(dataset), "public");
  Policy declared = MustLoad("version: 1\nname: t\nmodels:\n  inherit_classification: declared\n");
  EXPECT_EQ(declared.EffectiveClassification(model), "public");
  EXPECT_TRUE(Policy::StricterThan("personal", "pseudonymised"));
  EXPECT_FALSE(Policy::StricterThan("public", "anonymised"));
}

// Purposes compile into rules: fetch needs a shared purpose, push needs declared purposes, the
// declared lawful basis for personal data, and a model's purposes within its datasets'.
TEST(PolicySections, PurposeRules) {
  Policy p = MustLoad(kSections);
  DecisionRequest fetch = Push("personal", "DE");
  fetch.action = "artifact.fetch";
  fetch.principal.purposes = {"credit"};
  Decision d = p.Decide(fetch);
  EXPECT_EQ(Decided(d), "deny purposes.fetch");
  EXPECT_EQ(d.deciding_rule->location.ToString(), "p.yaml:17:1");

  DecisionRequest push = Push("personal", "DE");
  push.artifact.purposes = {"fraud", "marketing"};
  EXPECT_EQ(Decided(p.Decide(push)), "deny purposes.declared");
  push.artifact.purposes = {"credit"};
  EXPECT_EQ(Decided(p.Decide(push)), "deny purposes.lawful_basis");
  push.artifact.lawful_basis = "contract";
  EXPECT_EQ(Decided(p.Decide(push)), "allow allow-all");
  push.artifact.purposes = {};
  EXPECT_EQ(Decided(p.Decide(push)), "deny purposes.lawful_basis");
  DecisionRequest public_push = Push("public", "DE");
  public_push.artifact.purposes = {};
  public_push.artifact.lawful_basis = "";
  EXPECT_EQ(Decided(p.Decide(public_push)), "allow allow-all");

  DecisionRequest model = Push("public", "DE");
  model.artifact.kind = "model";
  model.artifact.purposes = {"fraud", "credit"};
  model.artifact.lineage = {LineageEntry{"dataset", "a", "1.0.0", "public", {"fraud"}}};
  EXPECT_EQ(Decided(p.Decide(model)), "deny purposes.lineage");
  model.artifact.lineage[0].purposes = {"credit", "fraud"};
  EXPECT_EQ(Decided(p.Decide(model)), "allow allow-all");
}

// Releasing a model that a gate applies to needs request.gates_passed == "true".
TEST(PolicySections, ReleaseGateRule) {
  Policy p = MustLoad(kSections);
  DecisionRequest r = Push("public", "DE");
  r.action = "artifact.release";
  r.artifact.kind = "model";
  r.artifact.purposes = {"credit"};
  Decision d = p.Decide(r);
  EXPECT_EQ(Decided(d), "deny release_gates");
  EXPECT_EQ(d.deciding_rule->location.ToString(), "p.yaml:22:1");
  r.attributes["gates_passed"] = "true";
  EXPECT_EQ(Decided(p.Decide(r)), "allow allow-all");
  r.attributes.clear();
  r.artifact.purposes = {"fraud"};  // no gate applies
  EXPECT_EQ(Decided(p.Decide(r)), "allow allow-all");
}

// A policy can be decided from many threads at once.
TEST(PolicyDecision, ConcurrentDecisions) {
  Policy p = MustLoad(kSections);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        Decision d = p.Decide(Push(i % 2 ? "personal" : "special-category", i % 3 ? "DE" : "FR"));
        // Stored in DE: allowed for both; in FR: allowed only for personal data.
        const bool expect_allow = i % 3 != 0 || i % 2 == 1;
        if (d.allowed() != expect_allow) wrong++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace sov::policy
