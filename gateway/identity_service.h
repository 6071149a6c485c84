// IdentityService (sov.v1): tells a caller who the gateway believes it is. Every answer comes
// from the tenants file through the CallGuard's principal; nothing in the request is used.
// WhoAmI is decided by the policy as action `identity.whoami` (kWhoAmIMethod).
// Thread-safe (gRPC calls its handlers from many threads).
#pragma once

#include <memory>

#include "gateway/call_guard.h"
#include "sov/v1/identity.grpc.pb.h"

namespace sov::gateway {

class IdentityService final : public sov::v1::IdentityService::Service {
 public:
  explicit IdentityService(std::shared_ptr<const CallGuard> guard);

  grpc::Status WhoAmI(grpc::ServerContext* context, const sov::v1::WhoAmIRequest* request,
                      sov::v1::WhoAmIResponse* response) override;

 private:
  std::shared_ptr<const CallGuard> guard_;
};

}  // namespace sov::gateway
