#include "gateway/call_guard.h"

#include <array>
#include <chrono>
#include <filesystem>
#include <optional>
#include <random>
#include <string>

#include <grpc/grpc_security_constants.h>
#include <openssl/rand.h>

#include "common/hex.h"
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
void LogRuleErrors(const policy::Decision& decision, std::string_view action,
                   std::string_view tenant) {
  for (const policy::RuleError& error : decision.errors) {
    LogEvent(*ModuleLogger("policy"), spdlog::level::warn, "rule condition failed",
             {{"action", action},
              {"tenant", tenant},
              {"rule", error.rule != nullptr ? std::string_view(error.rule->id) : "-"},
              {"at", error.location.ToString()},
              {"error", error.message}});
  }
}

nlohmann::json ArtifactInputJson(const policy::Artifact& a) {
  nlohmann::json out = nlohmann::json::object();
  if (a.kind.empty() && a.name.empty()) return out;
  out["kind"] = a.kind;
  out["name"] = a.name;
  out["version"] = a.version;
  out["ownerTenant"] = a.owner_tenant;
  out["classification"] = a.classification;
  out["purposes"] = a.purposes;
  out["lawfulBasis"] = a.lawful_basis;
  out["stage"] = a.stage;
  out["labels"] = a.labels;
  out["storageLocation"] = a.storage_location;
  out["storageJurisdiction"] = a.storage_jurisdiction;
  nlohmann::json lineage = nlohmann::json::array();
  for (const policy::LineageEntry& e : a.lineage) {
    lineage.push_back({{"kind", e.kind},
                       {"name", e.name},
                       {"version", e.version},
                       {"classification", e.classification},
                       {"purposes", e.purposes}});
  }
  out["lineage"] = std::move(lineage);
  if (a.created_at.has_value()) out["createdAt"] = FormatRfc3339(*a.created_at);
  out["sizeBytes"] = a.size_bytes;
  return out;
}

}  // namespace

namespace internal {

policy::DecisionRequest MakeDecisionRequest(const Principal& principal, std::string_view action,
                                            const policy::Artifact& artifact,
                                            const std::map<std::string, std::string>& attributes) {
  policy::DecisionRequest request;
  request.action = std::string(action);
  request.principal.tenant_id = principal.tenant.id;
  request.principal.roles = principal.tenant.roles;
  request.principal.purposes = principal.tenant.purposes;
  request.principal.jurisdiction = principal.tenant.jurisdiction;
  request.artifact = artifact;
  request.attributes = attributes;
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

registry::AuditEvent DecisionEvent(const policy::DecisionRequest& request,
                                   const policy::Decision& decision,
                                   const nlohmann::json& principal, std::string_view request_id) {
  registry::AuditEvent event;
  event.type = "DECISION";
  event.request_id = std::string(request_id);
  event.principal = principal;
  event.action = request.action;
  event.artifact_name = request.artifact.name;
  event.artifact_version = request.artifact.version;
  event.effect = std::string(policy::EffectName(decision.effect));
  event.rule_id = decision.deciding_rule != nullptr ? decision.deciding_rule->id : "default-deny";
  event.policy_digest = std::string(decision.policy_digest);
  nlohmann::json d = nlohmann::json::object();
  d["reason"] = std::string(decision.reason());
  if (decision.deciding_rule != nullptr) {
    // The policy file's base name, as in denial messages: tenants read entries about themselves.
    d["ruleLocation"] = PublicLocation(decision.deciding_rule->location);
  }
  nlohmann::json matched = nlohmann::json::array();
  for (const policy::RuleInfo* rule : decision.matched) matched.push_back(rule->id);
  d["matchedRules"] = std::move(matched);
  nlohmann::json input = nlohmann::json::object();
  input["action"] = request.action;
  input["principal"] = {{"tenantId", request.principal.tenant_id},
                        {"roles", request.principal.roles},
                        {"purposes", request.principal.purposes},
                        {"jurisdiction", request.principal.jurisdiction}};
  input["artifact"] = ArtifactInputJson(request.artifact);
  input["attributes"] = request.attributes;
  input["now"] = FormatRfc3339(request.now);
  event.body["decision"] = std::move(d);
  event.body["input"] = std::move(input);
  return event;
}

std::string NewRequestId() {
  // Milliseconds first, then 80 random bits: ids still never repeat, and each call's id lands
  // beside the previous one's in the audit log's request-id index instead of at a random place,
  // which would cost that index one page write per entry. The random bits need to be distinct,
  // not secret: a generator per thread, seeded by OpenSSL, costs far less than RAND_bytes.
  thread_local std::mt19937_64 random = [] {
    std::array<uint32_t, 8> seed;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(seed.data()), sizeof seed) != 1) std::abort();
    std::seed_seq sequence(seed.begin(), seed.end());
    return std::mt19937_64(sequence);
  }();
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const uint64_t high = random();
  const uint64_t low = random();
  unsigned char bytes[16];
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<unsigned char>(millis >> (8 * (5 - i)));
  for (int i = 0; i < 8; ++i) bytes[6 + i] = static_cast<unsigned char>(high >> (8 * i));
  for (int i = 0; i < 2; ++i) bytes[14 + i] = static_cast<unsigned char>(low >> (8 * i));
  return HexEncode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

}  // namespace internal

GuardedCall::GuardedCall(Principal principal, std::string request_id,
                         std::shared_ptr<const policy::Policy> policy)
    : principal_(std::move(principal)),
      request_id_(std::move(request_id)),
      policy_(std::move(policy)) {}

nlohmann::json GuardedCall::PrincipalJson() const {
  return {{"tenantId", principal_.tenant.id},
          {"authMethod", std::string(AuthMethodName(principal_.method))},
          {"credential", principal_.credential}};
}

registry::Actor GuardedCall::actor() const {
  registry::Actor actor;
  actor.tenant_id = principal_.tenant.id;
  actor.principal = PrincipalJson();
  actor.request_id = request_id_;
  return actor;
}

const policy::Decision& GuardedCall::Decide(std::string_view action,
                                            const policy::Artifact& artifact,
                                            const std::map<std::string, std::string>& attributes) {
  policy::DecisionRequest request =
      internal::MakeDecisionRequest(principal_, action, artifact, attributes);
  auto decision = std::make_unique<policy::Decision>(policy_->Decide(request));
  if (!decision->errors.empty()) LogRuleErrors(*decision, action, principal_.tenant.id);
  pending_.push_back(internal::DecisionEvent(request, *decision, PrincipalJson(), request_id_));
  ++decisions_made_;
  last_action_ = std::string(action);
  decisions_.push_back(std::move(decision));
  return *decisions_.back();
}

policy::Decision GuardedCall::DecideQuietly(
    std::string_view action, const policy::Artifact& artifact,
    const std::map<std::string, std::string>& attributes) const {
  return policy_->Decide(internal::MakeDecisionRequest(principal_, action, artifact, attributes));
}

void GuardedCall::RecordSummary(std::string_view action, int64_t shown, int64_t hidden,
                                std::string_view policy_digest) {
  registry::AuditEvent event;
  event.type = "DECISION";
  event.request_id = request_id_;
  event.principal = PrincipalJson();
  event.action = std::string(action);
  event.effect = "allow";
  event.rule_id = "per-item";
  event.policy_digest = std::string(policy_digest);
  event.body["decision"] = {{"reason", "listing filtered item by item by the policy"}};
  event.body["details"] = {{"shown", shown}, {"hidden", hidden}};
  pending_.push_back(std::move(event));
  ++decisions_made_;
  last_action_ = std::string(action);
}

std::vector<registry::AuditEvent> GuardedCall::TakeAuditEvents() {
  std::vector<registry::AuditEvent> out;
  out.swap(pending_);
  return out;
}

void GuardedCall::AddAuditEvent(registry::AuditEvent event) {
  if (event.request_id.empty()) event.request_id = request_id_;
  if (event.principal.is_null()) event.principal = PrincipalJson();
  pending_.push_back(std::move(event));
}

Status GuardedCall::AppendAuditEventsNow(registry::AuditLog& audit) {
  std::vector<registry::AuditEvent> pending = TakeAuditEvents();
  if (pending.empty()) return OkStatus();
  if (!audit.Append(std::move(pending)).ok()) {
    return Unavailable("the audit log is unavailable; retry");
  }
  return OkStatus();
}

Status GuardedCall::Denied(const policy::Decision& decision, std::string_view action) const {
  return internal::DenialStatus(decision, action);
}

const policy::Decision* GuardedCall::last_decision() const {
  return decisions_.empty() ? nullptr : decisions_.back().get();
}

CallGuard::CallGuard(std::shared_ptr<const Authenticator> authenticator,
                     std::shared_ptr<const PolicyStore> policies,
                     std::shared_ptr<registry::AuditLog> audit)
    : authenticator_(std::move(authenticator)),
      policies_(std::move(policies)),
      audit_(std::move(audit)) {}

Result<Principal> CallGuard::Authenticate(const grpc::ServerContextBase& context) const {
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

// One call between Begin and Finish.
struct CallGuard::CallState {
  std::chrono::steady_clock::time_point start;
  std::string request_id;
  const GuardedMethod* method = nullptr;
  Result<Principal> principal = Unauthenticated("");
  std::optional<GuardedCall> call;
  Status outcome;
};

std::unique_ptr<CallGuard::CallState> CallGuard::Begin(
    grpc::ServerContextBase& context, const GuardedMethod& method,
    const std::function<Status(GuardedCall&)>& body) const {
  auto state = std::make_unique<CallState>();
  state->start = std::chrono::steady_clock::now();
  state->request_id = internal::NewRequestId();
  state->method = &method;
  context.AddInitialMetadata("sov-request-id", state->request_id);
  state->principal = Authenticate(context);
  if (!state->principal.ok()) {
    state->outcome = state->principal.status();
    return state;
  }
  std::optional<GuardedCall>& call = state->call;
  call.emplace(*state->principal, state->request_id, policies_->Current());
  if (!method.decided_by_handler) {
    const policy::Decision& decision = call->Decide(method.action);
    state->outcome = decision.allowed() ? body(*call) : call->Denied(decision, method.action);
  } else {
    state->outcome = body(*call);
    if (call->decisions_made() == 0 && state->outcome.ok()) {
      state->outcome = Internal(std::string(method.name) + " returned without a policy decision");
    }
  }
  return state;
}

std::vector<registry::AuditEvent> CallGuard::PendingEntries(CallState& state) const {
  if (audit_ == nullptr || !state.call.has_value()) return {};
  return state.call->TakeAuditEvents();
}

grpc::Status CallGuard::Finish(CallState& state, const Status& appended) const {
  const GuardedMethod& method = *state.method;
  Status& outcome = state.outcome;
  if (!appended.ok()) {
    LogEvent(*ModuleLogger("audit"), spdlog::level::err, "audit append failed",
             {{"method", method.name}, {"error", appended.message()}});
    // A call whose decision cannot be recorded does not succeed.
    outcome = Unavailable("the audit log is unavailable; retry");
  }
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - state.start)
                          .count();
  const Result<Principal>& principal = state.principal;
  const std::string tenant = principal.ok() ? principal->tenant.id : "-";
  const std::string auth =
      principal.ok() ? std::string(AuthMethodName(principal->method)) : std::string("-");
  const std::string elapsed = std::to_string(micros);
  std::string_view effect = "-";
  std::string_view rule = "-";
  std::string rule_at = "-";
  std::string_view digest = "-";
  std::string_view action = method.action;
  const policy::Decision* decision = state.call.has_value() ? state.call->last_decision() : nullptr;
  if (decision != nullptr) {
    action = state.call->last_action();
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
  std::vector<LogField> fields = {
      {"method", method.name}, {"request_id", state.request_id}, {"tenant", tenant},
      {"auth", auth},          {"action", action},               {"effect", effect},
      {"rule", rule},          {"rule_at", rule_at},             {"policy", digest},
      {"outcome", StatusCodeName(outcome.code())}, {"micros", elapsed}};
  if (!outcome.ok()) fields.push_back({"reason", outcome.message()});
  LogEvent(*ModuleLogger("gateway"), level, "call", fields);
  return ToGrpcStatus(outcome);
}

grpc::Status CallGuard::Run(grpc::ServerContextBase& context, const GuardedMethod& method,
                            const std::function<Status(GuardedCall&)>& body) const {
  std::unique_ptr<CallState> state = Begin(context, method, body);
  std::vector<registry::AuditEvent> pending = PendingEntries(*state);
  Status appended;
  if (!pending.empty()) appended = audit_->Append(std::move(pending)).status();
  return Finish(*state, appended);
}

void CallGuard::RunAsync(grpc::ServerContextBase& context, const GuardedMethod& method,
                         const std::function<Status(GuardedCall&)>& body,
                         std::function<void(grpc::Status)> finish) const {
  std::shared_ptr<CallState> state = Begin(context, method, body);
  std::vector<registry::AuditEvent> pending = PendingEntries(*state);
  if (pending.empty()) {
    finish(Finish(*state, OkStatus()));
    return;
  }
  audit_->AppendAsync(std::move(pending),
                      [this, state, finish = std::move(finish)](
                          Result<std::vector<int64_t>> appended) {
                        finish(Finish(*state, appended.status()));
                      });
}

}  // namespace sov::gateway
