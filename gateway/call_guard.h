// CallGuard: the single entry point every RPC handler runs through. It establishes who is
// calling (the certificate tenant the TenantAuthProcessor recorded, or, when no certificate was
// presented, the call's own bearer token via the Authenticator; on the --insecure-loopback
// listener that is the only way in), asks the policy in force whether that principal may perform
// the method's action, and only then runs the handler body. A denied call ends with
// PERMISSION_DENIED saying which rule denied it (id, file:line, reason) and under which policy
// digest. The guard maps the body's Status to gRPC's and logs one line per call: method, tenant,
// action, effect, deciding rule, policy digest, outcome. The audit-log append slots in here,
// next to the decision, so that no handler can forget either. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include <grpcpp/server_context.h>

#include "common/status.h"
#include "gateway/authenticator.h"
#include "gateway/methods.h"
#include "gateway/policy_store.h"
#include "policy/decision.h"

namespace sov::gateway {

class CallGuard {
 public:
  // `policies` supplies the policy in force for each call; both must be non-null.
  CallGuard(std::shared_ptr<const Authenticator> authenticator,
            std::shared_ptr<const PolicyStore> policies);

  // Returns the principal of the call, or UNAUTHENTICATED. Reads only the call's own metadata
  // and the connection's certificate identity.
  Result<Principal> Authenticate(const grpc::ServerContext& context) const;

  // Authenticates the call, decides `method.action` for its principal with the policy in force,
  // runs `body` with the principal when allowed, and returns the gRPC status to answer with:
  // UNAUTHENTICATED, PERMISSION_DENIED (the body does not run), or the body's status.
  grpc::Status Run(const grpc::ServerContext& context, const GuardedMethod& method,
                   const std::function<Status(const Principal&)>& body) const;

 private:
  std::shared_ptr<const Authenticator> authenticator_;
  std::shared_ptr<const PolicyStore> policies_;
};

namespace internal {

// Builds the decision request for `principal` performing `action`, now. Who the caller is
// (tenant id, roles, purposes, jurisdiction) comes from the tenants file through the principal,
// never from the request; the only request attribute is `auth_method` ("mtls" or
// "bearer_token"), which the transport established.
policy::DecisionRequest MakeDecisionRequest(const Principal& principal, std::string_view action);

// The PERMISSION_DENIED status for a denying decision. Its message names the action, the
// deciding rule's id with the policy file's base name, line and column, the rule's reason (or
// the deny-by-default explanation) and the policy digest, and nothing else: not the matched
// rules, not condition errors, not server paths, so it cannot carry another tenant's data.
Status DenialStatus(const policy::Decision& decision, std::string_view action);

}  // namespace internal

}  // namespace sov::gateway
