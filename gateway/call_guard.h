// CallGuard: the single entry point every RPC handler runs through. It establishes who is
// calling (the certificate tenant the TenantAuthProcessor recorded, or, when no certificate was
// presented, the call's own bearer token via the Authenticator; on the --insecure-loopback
// listener that is the only way in), then runs the handler body, maps its Status to gRPC's, and
// logs one line per call: method, tenant, outcome. The policy decision and the audit-log append
// slot in here, around the body, so that no handler can forget them. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include <grpcpp/server_context.h>

#include "common/status.h"
#include "gateway/authenticator.h"

namespace sov::gateway {

class CallGuard {
 public:
  explicit CallGuard(std::shared_ptr<const Authenticator> authenticator);

  // Returns the principal of the call, or UNAUTHENTICATED. Reads only the call's own metadata
  // and the connection's certificate identity.
  Result<Principal> Authenticate(const grpc::ServerContext& context) const;

  // Authenticates the call, runs `body` with its principal, and returns the gRPC status to
  // answer with. `method` is the full method name, e.g. "/sov.v1.IdentityService/WhoAmI".
  grpc::Status Run(const grpc::ServerContext& context, std::string_view method,
                   const std::function<Status(const Principal&)>& body) const;

 private:
  std::shared_ptr<const Authenticator> authenticator_;
};

}  // namespace sov::gateway
