// Shows that pathological policy files (deep YAML nesting, deep, huge or endless conditions,
// long chains of jurisdiction groups) are refused or fail with an error, never a crash or a
// hang. The fuzz targets in tests/fuzz search for more such inputs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/policy.h"

namespace sov::policy {
namespace {

constexpr char kHeader[] = "version: 1\nname: t\n";

// Returns the diagnostics of loading `body` (after a two-line header) as "LINE:COL: message".
std::vector<std::string> Errors(const std::string& body) {
  PolicyCheck check = Policy::Check(kHeader + body, "p.yaml");
  std::vector<std::string> out;
  for (const Diagnostic& d : check.diagnostics) {
    out.push_back(std::to_string(d.location.line) + ":" + std::to_string(d.location.column) + ": " +
                  d.message);
  }
  EXPECT_EQ(check.policy.has_value(), out.empty());
  return out;
}

std::string Rule(const std::string& when) {
  return "rules:\n  - id: r\n    effect: allow\n    actions: [artifact.fetch]\n    when: " + when +
         "\n    reason: r\n";
}

// yaml-cpp refuses nesting deeper than its own limit; the loader reports it at a position.
TEST(PolicyLimits, DeepYamlNestingIsRefused) {
  const std::string inputs[] = {
      "rules: " + std::string(3000, '[') + std::string(3000, ']') + "\n",
      [] {
        std::string s = "rules: ";
        for (int i = 0; i < 1500; ++i) s += "{a: ";
        return s + "1" + std::string(1500, '}') + "\n";
      }(),
      [] {
        std::string s = "rules:\n  ";
        for (int i = 0; i < 2000; ++i) s += "- ";
        return s + "x\n";
      }(),
  };
  for (const std::string& input : inputs) {
    std::vector<std::string> errors = Errors(input);
    ASSERT_EQ(errors.size(), 1u) << testing::PrintToString(errors);
    EXPECT_NE(errors[0].find(": invalid YAML: "), std::string::npos) << errors[0];
    EXPECT_NE(errors[0][0], '0') << "no line: " << errors[0];
  }
}

// A condition nested deeper than CEL's limit is refused where the limit was crossed.
TEST(PolicyLimits, DeepConditionIsRefused) {
  std::vector<std::string> errors = Errors(Rule(std::string(150, '(') + "true" + std::string(150, ')')));
  ASSERT_EQ(errors.size(), 1u) << testing::PrintToString(errors);
  EXPECT_EQ(errors[0], "7:111: invalid condition: expression nested too deeply (the limit is 100 levels)");
  std::string chain = "true";
  for (int i = 0; i < 300; ++i) chain += " && true";
  errors = Errors(Rule(chain));
  ASSERT_EQ(errors.size(), 1u) << testing::PrintToString(errors);
  EXPECT_NE(errors[0].find("nested too deeply"), std::string::npos) << errors[0];
}

// Huge conditions and literals out of range are refused, not truncated or wrapped.
TEST(PolicyLimits, HugeConditionsAndLiteralsAreRefused) {
  std::vector<std::string> errors = Errors(Rule("artifact.name == '" + std::string(200000, 'a') + "'"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("expression too long"), std::string::npos) << errors[0].substr(0, 200);
  for (const std::string& literal : std::vector<std::string>{std::string(400, '9'), "99999999999999999999", "18446744073709551616u",
                              "1" + std::string(400, '0') + ".5", "1e999"}) {
    errors = Errors(Rule("artifact.size_bytes == " + literal));
    ASSERT_EQ(errors.size(), 1u) << literal;
    EXPECT_NE(errors[0].find("7:34: invalid condition: "), std::string::npos) << errors[0];
    EXPECT_NE(errors[0].find("literal"), std::string::npos) << errors[0];
  }
}

// A condition that would run for ages exhausts its evaluation budget: the rule does not match,
// and the decision lists the error instead of hanging.
TEST(PolicyLimits, EndlessConditionFailsWithinItsBudget) {
  std::string ten = "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]";
  std::string when = "'" + ten + ".map(a, " + ten + ".map(b, " + ten + ".map(c, " + ten +
                     ".map(d, " + ten + ".all(e, a + b + c + d + e >= 0))))).size() > 0'";
  Result<Policy> policy = Policy::Load(kHeader + Rule(when), "p.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status().message();
  DecisionRequest request;
  request.action = "artifact.fetch";
  request.principal.tenant_id = "acme";
  Decision d = policy->Decide(request);
  EXPECT_FALSE(d.allowed());
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_EQ(d.errors[0].code, StatusCode::kResourceExhausted) << d.errors[0].message;
}

// A cycle through many jurisdiction groups is one error that names it.
TEST(PolicyLimits, LongGroupCycleIsReported) {
  std::string body = "jurisdictions:\n";
  for (int i = 0; i < 500; ++i) {
    body += "  G" + std::to_string(i) + ": [G" + std::to_string((i + 1) % 500) + "]\n";
  }
  std::vector<std::string> errors = Errors(body);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("jurisdiction groups form a cycle: G0 -> G1 -> "), std::string::npos);
}

TEST(PolicyLimits, LongGroupChainLoads) {
  // A chain of 20,000 nested groups used to overflow the loader's stack; it now resolves.
  std::string body = "jurisdictions:\n";
  for (int i = 0; i < 20000; ++i) {
    body += "  G" + std::to_string(i) + ": [G" + std::to_string(i + 1) + "]\n";
  }
  body += "  G20000: [DE]\n";
  PolicyCheck check = Policy::Check(kHeader + body, "p.yaml");
  ASSERT_TRUE(check.policy.has_value());
  Result<JurisdictionSet> g0 = check.policy->JurisdictionGroup("G0");
  ASSERT_TRUE(g0.ok());
  EXPECT_TRUE(g0->Contains("DE"));
}

TEST(PolicyLimits, LongUnknownNamesGetNoEditDistanceHint) {
  // Did-you-mean hints skip names over 64 characters (edit distance is quadratic in length), so
  // 100 unknown 1000-character names are reported without comparing them to every group.
  std::string body = "jurisdictions:\n";
  std::string refs;
  for (int i = 0; i < 100; ++i) {
    std::string n = std::to_string(1000 + i);
    body += "  " + std::string(1000, 'G') + n + ": [DE]\n";
    refs += (i ? ", " : "") + std::string(1000, 'x') + n;
  }
  body += "  REFS: [" + refs + "]\n";
  PolicyCheck check = Policy::Check(kHeader + body, "p.yaml");
  EXPECT_FALSE(check.policy.has_value());
  ASSERT_EQ(check.diagnostics.size(), 100u);
  for (const auto& d : check.diagnostics) {
    EXPECT_EQ(d.hint.find("did you mean"), std::string::npos) << d.hint;
  }
}

}  // namespace
}  // namespace sov::policy
