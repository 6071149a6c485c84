#include "gateway/authenticator.h"

#include <openssl/crypto.h>

#include "crypto/x509.h"
#include "gateway/bearer_token.h"

namespace sov::gateway {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

}  // namespace

std::string_view AuthMethodName(AuthMethod method) {
  return method == AuthMethod::kMtls ? "mtls" : "bearer_token";
}

std::optional<AuthMethod> ParseAuthMethod(std::string_view name) {
  if (name == "mtls") return AuthMethod::kMtls;
  if (name == "bearer_token") return AuthMethod::kBearerToken;
  return std::nullopt;
}

Authenticator::Authenticator(std::shared_ptr<const TenantDirectory> tenants,
                             std::string client_ca_pem)
    : tenants_(std::move(tenants)), client_ca_pem_(std::move(client_ca_pem)) {}

Result<Principal> Authenticator::Authenticate(const PresentedCredentials& presented) const {
  if (presented.client_cert_pem.has_value()) {
    return AuthenticateCertificate(*presented.client_cert_pem);
  }
  if (presented.authorization.size() > 1) {
    return Unauthenticated("more than one authorization header; send exactly one");
  }
  if (presented.authorization.size() == 1) {
    return AuthenticateToken(presented.authorization.front());
  }
  return Unauthenticated(
      "no credentials: present a client certificate issued by the gateway's client CA, or an "
      "'authorization: Bearer <token>' header");
}

Result<Principal> Authenticator::AuthenticateCertificate(const std::string& cert_pem) const {
  if (client_ca_pem_.empty()) {
    return Unauthenticated("client certificates are not accepted on this listener");
  }
  Status verified = crypto::VerifyClientCertificate(cert_pem, client_ca_pem_);
  if (!verified.ok()) {
    return Unauthenticated("client certificate rejected: " + verified.message());
  }
  Result<std::string> subject = crypto::CertificateSubject(cert_pem);
  if (!subject.ok()) {
    return Unauthenticated("client certificate rejected: " + subject.status().message());
  }
  const Tenant* tenant = tenants_->FindBySubject(*subject);
  if (tenant == nullptr) {
    return Unauthenticated("client certificate subject '" + *subject +
                           "' is not registered to any tenant");
  }
  return Principal{*tenant, AuthMethod::kMtls, *subject};
}

Result<Principal> Authenticator::AuthenticateToken(std::string_view authorization) const {
  constexpr std::string_view kScheme = "bearer";
  size_t space = authorization.find(' ');
  if (space == std::string_view::npos ||
      !EqualsIgnoreCase(authorization.substr(0, space), kScheme)) {
    return Unauthenticated("malformed authorization header: expected 'Bearer <token>'");
  }
  std::string_view token = authorization.substr(space + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (!IsWellFormedBearerToken(token)) {
    return Unauthenticated("malformed bearer token: expected 'sovt_' and 43 base64url characters");
  }

  const crypto::Digest presented = HashBearerToken(token);
  // Every stored hash is compared, in constant time, whatever matched earlier.
  const Tenant* match = nullptr;
  const TokenCredential* match_credential = nullptr;
  for (const Tenant& tenant : tenants_->tenants()) {
    for (const TokenCredential& credential : tenant.tokens) {
      bool equal = CRYPTO_memcmp(presented.bytes.data(), credential.sha256.bytes.data(),
                                 presented.bytes.size()) == 0;
      if (equal && match == nullptr) {
        match = &tenant;
        match_credential = &credential;
      }
    }
  }
  if (match == nullptr) return Unauthenticated("bearer token not recognised");
  return Principal{*match, AuthMethod::kBearerToken, match_credential->name};
}

Result<Principal> Authenticator::PrincipalFor(std::string_view tenant_id, AuthMethod method,
                                              std::string credential) const {
  const Tenant* tenant = tenants_->FindById(tenant_id);
  if (tenant == nullptr) {
    return Unauthenticated("tenant '" + std::string(tenant_id) + "' is not known");
  }
  return Principal{*tenant, method, std::move(credential)};
}

}  // namespace sov::gateway
