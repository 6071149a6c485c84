// TenantAuthProcessor: the gRPC AuthMetadataProcessor installed on sovd's TLS listener. gRPC
// runs it before every call on every service (sov.v1, health, reflection), with or without
// metadata, so no call reaches a handler unauthenticated. It hands the peer's certificate (the
// auth context's "x509_pem_cert", present when the client sent one; the TLS layer requests but
// does not verify it) and the `authorization` metadata to the Authenticator; a failure ends the
// call with UNAUTHENTICATED and the Authenticator's message.
//
// The auth context belongs to the connection and is shared by all its calls, concurrent ones
// included. So the processor records there only what is the same for every call of the
// connection, the certificate's tenant (kTenantIdProperty, written once under a lock), and
// handlers re-authenticate a bearer token from their own call's metadata (CallGuard). Thread-safe.
#pragma once

#include <memory>
#include <mutex>

#include <grpcpp/security/auth_metadata_processor.h>

#include "gateway/authenticator.h"

namespace sov::gateway {

// Auth-context properties the processor sets on mTLS connections.
inline constexpr char kTenantIdProperty[] = "sov.tenant_id";
inline constexpr char kCredentialProperty[] = "sov.credential";  // the certificate subject

class TenantAuthProcessor final : public grpc::AuthMetadataProcessor {
 public:
  explicit TenantAuthProcessor(std::shared_ptr<const Authenticator> authenticator);

  // Authentication is CPU-only and short (a hash, a certificate check), so it runs inline.
  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  std::shared_ptr<const Authenticator> authenticator_;
  // Serialises writes to connection auth contexts (grpc's are not synchronised).
  std::mutex context_mu_;
};

}  // namespace sov::gateway
