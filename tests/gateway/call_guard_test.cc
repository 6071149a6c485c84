// Shows what the call guard asks the policy and what a denied caller is told: the request
// carries only the tenants file's facts about the caller, every guarded method names an action
// the engine knows, and a denial names rule, file:line and reason but no server path, no other
// rule and no condition error; a streaming handler can put its decisions on record before the
// call ends.
#include "gateway/call_guard.h"

#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/policy.h"
#include "tests/gateway/governance_testing.h"

namespace sov::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Principal AcmeOverToken() {
  Principal principal;
  principal.tenant.id = "acme-ml";
  principal.tenant.display_name = "ACME ML";
  principal.tenant.jurisdiction = "DE";
  principal.tenant.roles = {"ml-engineer"};
  principal.tenant.purposes = {"fraud-detection"};
  principal.method = AuthMethod::kBearerToken;
  principal.credential = "ci";
  return principal;
}

// Two tenants' rules; line 10 holds `suspend-acme`, line 16 a rule about partner-us whose
// condition fails to evaluate (a missing request key).
constexpr char kPolicy[] = R"(version: 1
name: guard-test
rules:
  - id: everyone-whoami
    effect: allow
    actions: [identity.whoami]
    principals: {tenants: ["*"]}
    reason: Every tenant may ask who it is.

  - id: suspend-acme
    effect: deny
    actions: [identity.whoami]
    principals: {tenants: [acme-ml]}
    reason: acme-ml is suspended pending review.

  - id: partner-us-secret-rule
    effect: deny
    actions: [identity.whoami]
    when: request.secret_partner_attribute == "x"
    reason: partner-us details.
)";

TEST(CallGuardTest, DecisionRequestComesFromTheTenantsFile) {
  // Tenant id, roles, purposes and jurisdiction are the principal's; auth_method is the only
  // request attribute.
  policy::DecisionRequest request = internal::MakeDecisionRequest(AcmeOverToken(),
                                                                  kWhoAmIMethod.action);
  EXPECT_EQ(request.action, "identity.whoami");
  EXPECT_EQ(request.principal.tenant_id, "acme-ml");
  EXPECT_EQ(request.principal.roles, std::vector<std::string>{"ml-engineer"});
  EXPECT_EQ(request.principal.purposes, std::vector<std::string>{"fraud-detection"});
  EXPECT_EQ(request.principal.jurisdiction, "DE");
  EXPECT_EQ(request.attributes, (std::map<std::string, std::string>{{"auth_method", "bearer_token"}}));
  EXPECT_LE(std::chrono::system_clock::now() - request.now, std::chrono::seconds(5));
}

TEST(CallGuardTest, EveryGuardedMethodNamesAKnownAction) {
  // A typo in an action would make every call deny by default; the engine's list is the truth.
  auto known = policy::KnownActions();
  for (const GuardedMethod& method : kGuardedMethods) {
    EXPECT_NE(std::find(known.begin(), known.end(), method.action), known.end())
        << method.name << " -> " << method.action;
    EXPECT_TRUE(method.name.starts_with("/sov.v1.")) << method.name;
  }
}

TEST(CallGuardTest, DenialNamesRuleLineAndReasonOnly) {
  // PERMISSION_DENIED: action, rule id, base name:line:col, reason, digest; nothing else.
  auto policy = policy::Policy::Load(kPolicy, "/etc/sovereign/secret-dir/policy.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  policy::Decision decision =
      policy->Decide(internal::MakeDecisionRequest(AcmeOverToken(), "identity.whoami"));
  ASSERT_FALSE(decision.allowed());
  ASSERT_EQ(decision.errors.size(), 1u);  // partner-us-secret-rule failed to evaluate
  Status status = internal::DenialStatus(decision, "identity.whoami");
  EXPECT_EQ(status.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(status.message(),
            "identity.whoami denied by policy rule suspend-acme (policy.yaml:10:5): acme-ml is "
            "suspended pending review. (policy " + policy->digest() + ")");
  EXPECT_THAT(status.message(), Not(HasSubstr("secret")));
  EXPECT_THAT(status.message(), Not(HasSubstr("partner")));
  EXPECT_THAT(status.message(), Not(HasSubstr("everyone-whoami")));
}

TEST(CallGuardTest, DefaultDenySaysSo) {
  // With no matching rule, the message gives the deny-by-default explanation and no rule.
  auto policy = policy::Policy::Load("version: 1\nname: empty\n", "policy.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  policy::Decision decision =
      policy->Decide(internal::MakeDecisionRequest(AcmeOverToken(), "identity.whoami"));
  Status status = internal::DenialStatus(decision, "identity.whoami");
  EXPECT_EQ(status.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(status.message(), "identity.whoami denied: " +
                                  std::string(policy::kDefaultDenyReason) + " (policy " +
                                  policy->digest() + ")");
}

TEST(CallGuardTest, AppendAuditEventsNowRecordsDecisionsBeforeTheCallEnds) {
  // A stream discloses records long before it ends: its decision is in the log as soon as the
  // handler asks, and is taken, so that the guard does not append it a second time.
  testing::GovernanceRegistry governance;
  auto policy = policy::Policy::Load(kPolicy, "policy.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  GuardedCall call(AcmeOverToken(), "req-append-now",
                   std::make_shared<const policy::Policy>(std::move(*policy)));
  EXPECT_FALSE(call.Decide("identity.whoami").allowed());
  ASSERT_TRUE(call.AppendAuditEventsNow(governance.registry().audit()).ok());

  std::vector<registry::AuditEvent> decisions = governance.Entries("DECISION");
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].action, "identity.whoami");
  EXPECT_EQ(decisions[0].request_id, "req-append-now");
  EXPECT_TRUE(call.TakeAuditEvents().empty());

  // Nothing pending: nothing appended.
  ASSERT_TRUE(call.AppendAuditEventsNow(governance.registry().audit()).ok());
  EXPECT_EQ(governance.Entries("DECISION").size(), 1u);
}

}  // namespace
}  // namespace sov::gateway
