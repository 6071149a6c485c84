// Authenticator: turns what a caller presented (an mTLS client certificate, or an
// `authorization: Bearer <token>` header) into a Principal from the tenants file, or
// UNAUTHENTICATED with a message that says what to fix. It is the one place authentication is
// decided: the gRPC AuthMetadataProcessor calls it on TLS connections, and the call guard calls
// it for --insecure-loopback, where there is no TLS. The rule: a presented certificate must chain
// to the client CA and its subject must belong to a tenant; a token is used only when no
// certificate was presented. Tokens are hashed and compared against every stored hash in
// constant time, and never logged or echoed. Immutable after construction; thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "gateway/tenants.h"

namespace sov::gateway {

enum class AuthMethod { kMtls, kBearerToken };

// Returns "mtls" or "bearer_token".
std::string_view AuthMethodName(AuthMethod method);
// Parses AuthMethodName's output; nullopt otherwise.
std::optional<AuthMethod> ParseAuthMethod(std::string_view name);

// Who is calling, as the tenants file describes them.
struct Principal {
  Tenant tenant;
  AuthMethod method = AuthMethod::kMtls;
  // The certificate subject (mTLS) or the token's name (never the token).
  std::string credential;
};

// What a caller presented on one call.
struct PresentedCredentials {
  std::optional<std::string> client_cert_pem;  // the TLS peer's leaf certificate, if any
  std::vector<std::string> authorization;      // every `authorization` metadata value
};

class Authenticator {
 public:
  // `client_ca_pem` is the CA bundle client certificates must chain to; empty on the
  // insecure-loopback path, where certificates cannot be presented.
  Authenticator(std::shared_ptr<const TenantDirectory> tenants, std::string client_ca_pem);

  // Returns the principal for `presented`, or UNAUTHENTICATED saying why: no credentials, a
  // certificate that does not verify or whose subject is not registered, a malformed
  // authorization header, or an unknown token.
  Result<Principal> Authenticate(const PresentedCredentials& presented) const;

  // Returns the principal for a tenant the transport already authenticated (the processor's
  // auth-context properties); UNAUTHENTICATED when the tenant is not (or no longer) known.
  Result<Principal> PrincipalFor(std::string_view tenant_id, AuthMethod method,
                                 std::string credential) const;

  const TenantDirectory& tenants() const { return *tenants_; }

 private:
  Result<Principal> AuthenticateCertificate(const std::string& cert_pem) const;
  Result<Principal> AuthenticateToken(std::string_view authorization) const;

  std::shared_ptr<const TenantDirectory> tenants_;
  std::string client_ca_pem_;
};

}  // namespace sov::gateway
