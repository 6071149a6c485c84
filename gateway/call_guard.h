// CallGuard: the single entry point every RPC handler runs through. It establishes who is
// calling (the certificate tenant the TenantAuthProcessor recorded, or, when no certificate was
// presented, the call's own bearer token via the Authenticator; on the --insecure-loopback
// listener that is the only way in), gives the call a request id (the `sov-request-id` response
// header), and hands the handler a GuardedCall through which every policy decision is made and
// recorded. Methods whose action concerns no artifact (WhoAmI, audit, quota) are decided by the
// guard before the handler runs; artifact methods decide inside the handler, with the artifact's
// record, and the guard refuses (INTERNAL) a handler that returns without deciding anything.
//
// Every decision, allow or deny, becomes a DECISION audit entry: either in the same durable
// batch as the state change it allowed (the handler takes the pending entries and hands them to
// the registry), or appended by the guard before the call returns. A denied call ends with
// PERMISSION_DENIED naming the rule (id, file:line), its reason and the policy digest. The guard
// maps the body's Status to gRPC's and logs one line per call. Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <grpcpp/server_context.h>

#include "common/status.h"
#include "gateway/authenticator.h"
#include "gateway/methods.h"
#include "gateway/policy_store.h"
#include "policy/decision.h"
#include "registry/audit_log.h"
#include "registry/registry.h"
#include "registry/types.h"

namespace sov::gateway {

// One authenticated call, as the handler sees it. Not thread-safe: one handler thread.
class GuardedCall {
 public:
  GuardedCall(Principal principal, std::string request_id,
              std::shared_ptr<const policy::Policy> policy);

  const Principal& principal() const { return principal_; }
  const std::string& request_id() const { return request_id_; }
  // The policy snapshot of this call: a reload during the call does not change what decides it.
  const policy::Policy& policy() const { return *policy_; }

  // Decides `action` on `artifact` (empty for none) with extra request `attributes`, and
  // records the decision for the audit log. The returned reference stays valid for the call.
  const policy::Decision& Decide(std::string_view action, const policy::Artifact& artifact = {},
                                 const std::map<std::string, std::string>& attributes = {});
  // Decides like Decide but records nothing: for per-item filtering in List calls, whose
  // outcome the handler records once with RecordSummary.
  policy::Decision DecideQuietly(std::string_view action, const policy::Artifact& artifact,
                                 const std::map<std::string, std::string>& attributes = {}) const;
  // Records one DECISION entry summarising a filtered listing: `action`, how many items were
  // shown and hidden.
  void RecordSummary(std::string_view action, int64_t shown, int64_t hidden,
                     std::string_view policy_digest);

  // The audit events recorded and not yet taken: pass them to a registry call so they commit
  // with its change. Events not taken are appended by the guard before the call returns.
  std::vector<registry::AuditEvent> TakeAuditEvents();
  // Adds an event (e.g. INTEGRITY_FAILURE) for the guard to append.
  void AddAuditEvent(registry::AuditEvent event);
  // Appends the events not yet taken to `audit` now, instead of when the guard would after the
  // handler returns: for streams, which disclose records long before they end and may never end
  // cleanly (a crash, a kill), so the decision to read must be on record first. UNAVAILABLE when
  // the log cannot take them; the handler then stops, as the guard would.
  Status AppendAuditEventsNow(registry::AuditLog& audit);

  // Who acts, for the registry's own entries.
  registry::Actor actor() const;
  // The principal as audit entries record it: {"tenantId","authMethod","credential"}.
  nlohmann::json PrincipalJson() const;

  // The status for a denying decision (see internal::DenialStatus).
  Status Denied(const policy::Decision& decision, std::string_view action) const;

  int64_t decisions_made() const { return decisions_made_; }
  // The last decision made with Decide, or nullptr; for the guard's log line.
  const policy::Decision* last_decision() const;
  std::string_view last_action() const { return last_action_; }

 private:
  Principal principal_;
  std::string request_id_;
  std::shared_ptr<const policy::Policy> policy_;
  std::vector<std::unique_ptr<policy::Decision>> decisions_;
  std::vector<registry::AuditEvent> pending_;
  int64_t decisions_made_ = 0;
  std::string last_action_;
};

class CallGuard {
 public:
  // `policies` supplies the policy in force for each call; `audit` receives the entries (null
  // only in unit tests: nothing is audited).
  CallGuard(std::shared_ptr<const Authenticator> authenticator,
            std::shared_ptr<const PolicyStore> policies,
            std::shared_ptr<registry::AuditLog> audit = nullptr);

  // Returns the principal of the call, or UNAUTHENTICATED. Reads only the call's own metadata
  // and the connection's certificate identity.
  Result<Principal> Authenticate(const grpc::ServerContextBase& context) const;

  // Authenticates the call, sets its request id, decides `method.action` first unless the
  // method is decided by its handler, runs `body`, appends the pending audit entries, and
  // returns the gRPC status to answer with.
  grpc::Status Run(grpc::ServerContextBase& context, const GuardedMethod& method,
                   const std::function<Status(GuardedCall&)>& body) const;
  // Run for gRPC's callback API: the same steps, but the handler's thread does not wait for the
  // audit append. `finish` gets the status to answer with once the entries are durable, on the
  // audit store's thread (so it must be short: ServerUnaryReactor::Finish), or on this thread
  // before RunAsync returns when there is nothing to append. `body` runs before RunAsync
  // returns; what it wrote into the response must stay untouched until `finish`.
  void RunAsync(grpc::ServerContextBase& context, const GuardedMethod& method,
                const std::function<Status(GuardedCall&)>& body,
                std::function<void(grpc::Status)> finish) const;

 private:
  struct CallState;
  std::unique_ptr<CallState> Begin(grpc::ServerContextBase& context, const GuardedMethod& method,
                                   const std::function<Status(GuardedCall&)>& body) const;
  std::vector<registry::AuditEvent> PendingEntries(CallState& state) const;
  // Turns an append failure into UNAVAILABLE, logs the call's line and maps its outcome.
  grpc::Status Finish(CallState& state, const Status& appended) const;

  std::shared_ptr<const Authenticator> authenticator_;
  std::shared_ptr<const PolicyStore> policies_;
  std::shared_ptr<registry::AuditLog> audit_;
};

namespace internal {

// Builds the decision request for `principal` performing `action` on `artifact`, now. Who the
// caller is (tenant id, roles, purposes, jurisdiction) comes from the tenants file through the
// principal, never from the request; `auth_method` ("mtls" or "bearer_token") is set from the
// transport and overrides any attribute of that name.
policy::DecisionRequest MakeDecisionRequest(const Principal& principal, std::string_view action,
                                            const policy::Artifact& artifact = {},
                                            const std::map<std::string, std::string>& attributes = {});

// The PERMISSION_DENIED status for a denying decision. Its message names the action, the
// deciding rule's id with the policy file's base name, line and column, the rule's reason (or
// the deny-by-default explanation) and the policy digest, and nothing else: not the matched
// rules, not condition errors, not server paths, so it cannot carry another tenant's data.
Status DenialStatus(const policy::Decision& decision, std::string_view action);

// The DECISION audit event for one decision: the decision (effect, rule, location, reason,
// matched rules, policy digest) and its full input (so that it can be replayed).
registry::AuditEvent DecisionEvent(const policy::DecisionRequest& request,
                                   const policy::Decision& decision,
                                   const nlohmann::json& principal, std::string_view request_id);

// A fresh request id: 32 lower-case hex characters, the first 12 the time in milliseconds
// since 1970, the rest random.
std::string NewRequestId();

}  // namespace internal

}  // namespace sov::gateway
