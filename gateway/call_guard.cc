#include "gateway/call_guard.h"

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include <grpc/grpc_security_constants.h>

#include "gateway/auth_processor.h"
#include "gateway/grpc_status.h"
#include "gateway/log.h"
#include "policy/policy.h"

namespace sov::gateway {
namespace {

std::string FirstProperty(const grpc::AuthContext& context, const char* name) {
  std::vector<grpc::string_ref> values = context.FindPropertyValues(name);
  if (values.empty()) return {};
  return std::string(values.front().data(), values.front().size());
}

// A rule's place for a caller: the policy file's base name only, so that denial messages do
// not disclose the server's directory layout.
std::string PublicLocation(const policy::SourceLocation& location) {
  policy::SourceLocation shown = location;
  shown.file = std::filesystem::path(location.file).filename().string();
  return shown.ToString();
}

// Condition errors say why a rule did not match; they may quote request values, so they go to
// the server's log only, never to the caller.
void LogRuleErrors(const policy::Decision& decision, std::string_view method,
                   std::string_view tenant) {
  for (const policy::RuleError& error : decision.errors) {
    LogEvent(*ModuleLogger("policy"), spdlog::level::warn, "rule condition failed",
             {{"method", method},
              {"tenant", tenant},
              {"rule", error.rule != nullptr ? std::string_view(error.rule->id) : "-"},
              {"at", error.location.ToString()},
              {"error", error.message}});
  }
}

}  // namespace

namespace internal {

policy::DecisionRequest MakeDecisionRequest(const Principal& principal, std::string_view action) {
  policy::DecisionRequest request;
  request.action = std::string(action);
  request.principal.tenant_id = principal.tenant.id;
  request.principal.roles = principal.tenant.roles;
  request.principal.purposes = principal.tenant.purposes;
  request.principal.jurisdiction = principal.tenant.jurisdiction;
  request.attributes["auth_method"] = std::string(AuthMethodName(principal.method));
  request.now = std::chrono::system_clock::now();
  return request;
}

Status DenialStatus(const policy::Decision& decision, std::string_view action) {
  std::string message(action);
  if (decision.deciding_rule != nullptr) {
    message += " denied by policy rule " + decision.deciding_rule->id + " (" +
               PublicLocation(decision.deciding_rule->location) + "): ";
  } else {
    message += " denied: ";
  }
  message += decision.reason();
  message += " (policy ";
  message += decision.policy_digest;
  message += ")";
  return PermissionDenied(std::move(message));
}

}  // namespace internal

CallGuard::CallGuard(std::shared_ptr<const Authenticator> authenticator,
                     std::shared_ptr<const PolicyStore> policies)
    : authenticator_(std::move(authenticator)), policies_(std::move(policies)) {}

Result<Principal> CallGuard::Authenticate(const grpc::ServerContext& context) const {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr && !FirstProperty(*auth, GRPC_X509_PEM_CERT_PROPERTY_NAME).empty()) {
    std::string tenant_id = FirstProperty(*auth, kTenantIdProperty);
    if (tenant_id.empty()) {
      // The processor runs before every call on a TLS listener; reaching here means it did not.
      return Unauthenticated("client certificate was not authenticated");
    }
    return authenticator_->PrincipalFor(tenant_id, AuthMethod::kMtls,
                                        FirstProperty(*auth, kCredentialProperty));
  }
  PresentedCredentials presented;
  const auto& metadata = context.client_metadata();
  auto [begin, end] = metadata.equal_range("authorization");
  for (auto it = begin; it != end; ++it) {
    presented.authorization.emplace_back(it->second.data(), it->second.size());
  }
  return authenticator_->Authenticate(presented);
}

grpc::Status CallGuard::Run(const grpc::ServerContext& context, const GuardedMethod& method,
                            const std::function<Status(const Principal&)>& body) const {
  const auto start = std::chrono::steady_clock::now();
  Result<Principal> principal = Authenticate(context);
  // The decision is kept whole (it holds the policy that made it alive) for the audit log.
  std::optional<policy::Decision> decision;
  Status outcome;
  if (!principal.ok()) {
    outcome = principal.status();
  } else {
    // One snapshot per call: a reload during the call does not change what decided it.
    std::shared_ptr<const policy::Policy> in_force = policies_->Current();
    decision.emplace(in_force->Decide(internal::MakeDecisionRequest(*principal, method.action)));
    if (!decision->errors.empty()) LogRuleErrors(*decision, method.name, principal->tenant.id);
    outcome = decision->allowed() ? body(*principal)
                                  : internal::DenialStatus(*decision, method.action);
  }
  // Later work: append `decision` and `outcome` to the audit log here.
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count();
  const std::string tenant = principal.ok() ? principal->tenant.id : "-";
  const std::string auth =
      principal.ok() ? std::string(AuthMethodName(principal->method)) : std::string("-");
  const std::string elapsed = std::to_string(micros);
  std::string_view effect = "-";
  std::string_view rule = "-";
  std::string rule_at = "-";
  std::string_view digest = "-";
  if (decision.has_value()) {
    effect = policy::EffectName(decision->effect);
    if (decision->deciding_rule != nullptr) {
      rule = decision->deciding_rule->id;
      rule_at = decision->deciding_rule->location.ToString();
    } else {
      rule = "default-deny";
    }
    digest = decision->policy_digest;
  }
  auto level = outcome.ok() ? spdlog::level::info : spdlog::level::warn;
  if (outcome.ok()) {
    LogEvent(*ModuleLogger("gateway"), level, "call",
             {{"method", method.name}, {"tenant", tenant}, {"auth", auth},
              {"action", method.action}, {"effect", effect}, {"rule", rule},
              {"rule_at", rule_at}, {"policy", digest},
              {"outcome", StatusCodeName(outcome.code())}, {"micros", elapsed}});
  } else {
    LogEvent(*ModuleLogger("gateway"), level, "call",
             {{"method", method.name}, {"tenant", tenant}, {"auth", auth},
              {"action", method.action}, {"effect", effect}, {"rule", rule},
              {"rule_at", rule_at}, {"policy", digest},
              {"outcome", StatusCodeName(outcome.code())}, {"micros", elapsed},
              {"reason", outcome.message()}});
  }
  return ToGrpcStatus(outcome);
}

}  // namespace sov::gateway
