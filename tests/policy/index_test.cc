// Shows that the action/principal index changes nothing: a generated 10,000-rule policy decides
// random requests exactly as a brute-force scan of every rule does (effect, deciding rule, and
// the full list of matched rules).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "policy/policy.h"

namespace sov::policy {
namespace {

struct GeneratedRule {
  std::string id;
  bool allow = true;
  std::vector<std::string> actions;
  std::vector<std::string> roles;
  std::vector<std::string> tenants;
  std::string stage;  // when: artifact.stage == stage (empty: no condition)
};

const std::vector<std::string> kActions = {"artifact.push", "artifact.fetch", "artifact.list",
                                           "artifact.get",  "audit.read",     "policy.read",
                                           "identity.whoami"};

bool Matches(const std::string& pattern, const std::string& action) {
  if (pattern == "*") return true;
  if (pattern.size() > 2 && pattern.substr(pattern.size() - 2) == ".*") {
    return action.rfind(pattern.substr(0, pattern.size() - 1), 0) == 0;
  }
  return pattern == action;
}

// The reference semantics, written directly: scan everything.
std::vector<std::string> BruteForce(const std::vector<GeneratedRule>& rules, const DecisionRequest& r,
                                    std::string* decided) {
  std::vector<std::string> matched;
  std::string first_allow, first_deny;
  for (const GeneratedRule& g : rules) {
    bool action = false;
    for (const auto& a : g.actions) action = action || Matches(a, r.action);
    if (!action) continue;
    if (g.allow && r.principal.tenant_id.empty()) continue;
    if (!g.tenants.empty() &&
        std::find(g.tenants.begin(), g.tenants.end(), r.principal.tenant_id) == g.tenants.end()) {
      continue;
    }
    if (!g.roles.empty()) {
      bool any = false;
      for (const auto& role : r.principal.roles) {
        any = any || std::find(g.roles.begin(), g.roles.end(), role) != g.roles.end();
      }
      if (!any) continue;
    }
    if (!g.stage.empty() && r.artifact.stage != g.stage) continue;
    matched.push_back(g.id);
    if (g.allow && first_allow.empty()) first_allow = g.id;
    if (!g.allow && first_deny.empty()) first_deny = g.id;
  }
  *decided = !first_deny.empty() ? "deny " + first_deny
             : !first_allow.empty() ? "allow " + first_allow
                                    : "deny default";
  return matched;
}

std::string List(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const auto& s : items) out += s + ", ";
  return out + "]";
}

// Random policies of 10,000 rules decide 5,000 random requests like the brute-force scan.
TEST(PolicyIndex, TenThousandRulesMatchBruteForce) {
  std::mt19937 rng(12345);
  const auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  std::vector<GeneratedRule> rules;
  std::string text = "version: 1\nname: generated\nrules:\n";
  for (int i = 0; i < 10000; ++i) {
    GeneratedRule g;
    g.id = "r" + std::to_string(i);
    g.allow = pick(10) != 0;
    const int n_actions = 1 + pick(2);
    for (int k = 0; k < n_actions; ++k) {
      const int which = pick(20);
      g.actions.push_back(which == 0 ? "*" : which == 1 ? "artifact.*" : kActions[static_cast<size_t>(pick(7))]);
    }
    const int who = pick(4);
    if (who == 1 || who == 3) {
      for (int k = 0, n = 1 + pick(2); k < n; ++k) g.roles.push_back("role" + std::to_string(pick(50)));
    }
    if (who == 2 || who == 3) {
      for (int k = 0, n = 1 + pick(2); k < n; ++k) g.tenants.push_back("t" + std::to_string(pick(200)));
    }
    if (pick(3) == 0 || !g.allow) g.stage = "s" + std::to_string(pick(5));
    if (!g.allow && g.tenants.empty()) g.tenants.push_back("t" + std::to_string(pick(200)));
    text += "  - id: " + g.id + "\n    effect: " + (g.allow ? "allow" : "deny") + "\n    actions: [";
    for (size_t k = 0; k < g.actions.size(); ++k) text += (k ? ", \"" : "\"") + g.actions[k] + "\"";
    text += "]\n";
    if (!g.roles.empty() || !g.tenants.empty()) {
      text += "    principals: {";
      if (!g.roles.empty()) {
        text += "roles: [";
        for (size_t k = 0; k < g.roles.size(); ++k) text += (k ? ", " : "") + g.roles[k];
        text += "]";
      }
      if (!g.tenants.empty()) {
        text += std::string(g.roles.empty() ? "" : ", ") + "tenants: [";
        for (size_t k = 0; k < g.tenants.size(); ++k) text += (k ? ", " : "") + g.tenants[k];
        text += "]";
      }
      text += "}\n";
    }
    if (!g.stage.empty()) text += "    when: artifact.stage == '" + g.stage + "'\n";
    rules.push_back(std::move(g));
  }
  Result<Policy> policy = Policy::Load(text, "generated.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status().message().substr(0, 2000);

  int allows = 0;
  for (int i = 0; i < 5000; ++i) {
    DecisionRequest r;
    r.action = pick(30) == 0 ? "artifact.unknown" : kActions[static_cast<size_t>(pick(7))];
    r.principal.tenant_id = pick(50) == 0 ? "" : "t" + std::to_string(pick(220));
    for (int k = 0, n = pick(4); k < n; ++k) r.principal.roles.push_back("role" + std::to_string(pick(55)));
    r.artifact.stage = "s" + std::to_string(pick(6));
    std::string want;
    std::vector<std::string> want_matched = BruteForce(rules, r, &want);
    Decision d = policy->Decide(r);
    std::vector<std::string> got_matched;
    for (const RuleInfo* m : d.matched) got_matched.push_back(m->id);
    const std::string got = std::string(EffectName(d.effect)) + " " + (d.deciding_rule ? d.deciding_rule->id : "default");
    ASSERT_EQ(got, want) << "request " << i << " action " << r.action;
    ASSERT_EQ(got_matched, want_matched) << List(got_matched) << " vs " << List(want_matched);
    ASSERT_TRUE(d.errors.empty());
    allows += d.allowed();
  }
  // The generator should exercise both outcomes.
  EXPECT_GT(allows, 500);
  EXPECT_LT(allows, 4500);
}

}  // namespace
}  // namespace sov::policy
