#include "gateway/auth_processor.h"

#include <grpc/grpc_security_constants.h>

#include "gateway/grpc_status.h"
#include "gateway/log.h"

namespace sov::gateway {
namespace {

constexpr std::string_view kAuthorizationKey = "authorization";

std::string ToString(grpc::string_ref ref) { return std::string(ref.data(), ref.size()); }

}  // namespace

TenantAuthProcessor::TenantAuthProcessor(std::shared_ptr<const Authenticator> authenticator)
    : authenticator_(std::move(authenticator)) {}

grpc::Status TenantAuthProcessor::Process(const InputMetadata& auth_metadata,
                                          grpc::AuthContext* context,
                                          OutputMetadata* /*consumed_auth_metadata*/,
                                          OutputMetadata* /*response_metadata*/) {
  PresentedCredentials presented;
  std::string method = "?";
  for (const auto& [key, value] : auth_metadata) {
    std::string_view name(key.data(), key.size());
    if (name == kAuthorizationKey) {
      presented.authorization.push_back(ToString(value));
    } else if (name == ":path") {
      method = ToString(value);
    }
  }

  {
    std::lock_guard<std::mutex> lock(context_mu_);
    std::vector<grpc::string_ref> certs =
        context->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    if (!certs.empty() && certs.front().size() > 0) {
      // An earlier call on this connection already authenticated the same certificate.
      if (!context->FindPropertyValues(kTenantIdProperty).empty()) return grpc::Status::OK;
      presented.client_cert_pem = ToString(certs.front());
    }
  }

  Result<Principal> principal = authenticator_->Authenticate(presented);
  if (!principal.ok()) {
    // The message says what was wrong with the credential; it never contains the token.
    LogEvent(*ModuleLogger("auth"), spdlog::level::warn, "call rejected",
             {{"method", method},
              {"outcome", StatusCodeName(principal.status().code())},
              {"reason", principal.status().message()}});
    return ToGrpcStatus(principal.status());
  }
  if (principal->method == AuthMethod::kMtls) {
    std::lock_guard<std::mutex> lock(context_mu_);
    // Two first calls on one connection may both get here; the first one records the tenant.
    if (!context->FindPropertyValues(kTenantIdProperty).empty()) return grpc::Status::OK;
    context->AddProperty(kTenantIdProperty, principal->tenant.id);
    context->AddProperty(kCredentialProperty, principal->credential);
    context->SetPeerIdentityPropertyName(kTenantIdProperty);
    LogEvent(*ModuleLogger("auth"), spdlog::level::debug, "connection authenticated",
             {{"tenant", principal->tenant.id}, {"subject", principal->credential}});
  }
  return grpc::Status::OK;
}

}  // namespace sov::gateway
