#include "gateway/identity_service.h"

namespace sov::gateway {

IdentityService::IdentityService(std::shared_ptr<const CallGuard> guard)
    : guard_(std::move(guard)) {}

grpc::Status IdentityService::WhoAmI(grpc::ServerContext* context,
                                     const sov::v1::WhoAmIRequest* /*request*/,
                                     sov::v1::WhoAmIResponse* response) {
  return guard_->Run(*context, kWhoAmIMethod,
                     [response](GuardedCall& call) {
                       const Principal& principal = call.principal();
                       const Tenant& tenant = principal.tenant;
                       response->set_tenant_id(tenant.id);
                       response->set_display_name(tenant.display_name);
                       for (const auto& role : tenant.roles) response->add_roles(role);
                       for (const auto& purpose : tenant.purposes) response->add_purposes(purpose);
                       response->set_jurisdiction(tenant.jurisdiction);
                       response->set_auth_method(principal.method == AuthMethod::kMtls
                                                     ? sov::v1::AUTH_METHOD_MTLS
                                                     : sov::v1::AUTH_METHOD_BEARER_TOKEN);
                       response->set_credential(principal.credential);
                       return OkStatus();
                     });
}

}  // namespace sov::gateway
