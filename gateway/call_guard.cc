#include "gateway/call_guard.h"

#include <chrono>

#include <grpc/grpc_security_constants.h>

#include "gateway/auth_processor.h"
#include "gateway/grpc_status.h"
#include "gateway/log.h"

namespace sov::gateway {
namespace {

std::string FirstProperty(const grpc::AuthContext& context, const char* name) {
  std::vector<grpc::string_ref> values = context.FindPropertyValues(name);
  if (values.empty()) return {};
  return std::string(values.front().data(), values.front().size());
}

}  // namespace

CallGuard::CallGuard(std::shared_ptr<const Authenticator> authenticator)
    : authenticator_(std::move(authenticator)) {}

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

grpc::Status CallGuard::Run(const grpc::ServerContext& context, std::string_view method,
                            const std::function<Status(const Principal&)>& body) const {
  const auto start = std::chrono::steady_clock::now();
  Result<Principal> principal = Authenticate(context);
  Status outcome = principal.ok() ? body(*principal) : principal.status();
  // Later work: policy decision before `body`, audit append after it.
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count();
  const std::string tenant = principal.ok() ? principal->tenant.id : "-";
  const std::string auth =
      principal.ok() ? std::string(AuthMethodName(principal->method)) : std::string("-");
  const std::string elapsed = std::to_string(micros);
  auto level = outcome.ok() ? spdlog::level::info : spdlog::level::warn;
  if (outcome.ok()) {
    LogEvent(*ModuleLogger("gateway"), level, "call",
             {{"method", method}, {"tenant", tenant}, {"auth", auth},
              {"outcome", StatusCodeName(outcome.code())}, {"micros", elapsed}});
  } else {
    LogEvent(*ModuleLogger("gateway"), level, "call",
             {{"method", method}, {"tenant", tenant}, {"auth", auth},
              {"outcome", StatusCodeName(outcome.code())}, {"micros", elapsed},
              {"reason", outcome.message()}});
  }
  return ToGrpcStatus(outcome);
}

}  // namespace sov::gateway
