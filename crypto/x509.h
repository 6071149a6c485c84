// X.509 for mTLS: a development certificate authority that issues the server certificate
// (localhost, 127.0.0.1, ::1) and client certificates whose subject names a tenant, plus the
// subject and chain checks the gateway's authentication uses. Built on OpenSSL's X509 API with
// ECDSA P-256 keys; nothing shells out. Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sov::crypto {

struct CertificateAndKey {
  std::string cert_pem;
  std::string key_pem;  // PKCS#8 PEM; secret: write it 0600 and never log it
};

// Creates a self-signed CA certificate (critical basicConstraints CA:TRUE with pathlen:0,
// keyUsage keyCertSign and cRLSign) named "CN=<common_name>,O=<organization>". Certificates are
// valid from 5 minutes ago (clock skew) for `validity`; INVALID_ARGUMENT when validity is not
// positive or exceeds ten years, or a name is empty (CN) or longer than 64 bytes.
Result<CertificateAndKey> CreateCertificateAuthority(std::string_view common_name,
                                                     std::string_view organization,
                                                     std::chrono::hours validity);

// Issues a TLS server certificate signed by `ca` with the given DNS names and IP addresses as
// subjectAltNames (extendedKeyUsage serverAuth); its subject is "CN=<first name>,O=<the CA's O>".
// INVALID_ARGUMENT when there is no name at all, an address does not parse, or `ca` is not a CA
// certificate with its matching key.
Result<CertificateAndKey> IssueServerCertificate(const CertificateAndKey& ca,
                                                 const std::vector<std::string>& dns_names,
                                                 const std::vector<std::string>& ip_addresses,
                                                 std::chrono::hours validity);

// Issues a TLS client certificate signed by `ca` whose subject is
// "CN=<common_name>,O=<organization>" (extendedKeyUsage clientAuth).
Result<CertificateAndKey> IssueClientCertificate(const CertificateAndKey& ca,
                                                 std::string_view common_name,
                                                 std::string_view organization,
                                                 std::chrono::hours validity);

// Returns the certificate's subject in RFC 2253 form ("CN=acme-ml,O=Sovereign Dev"), the form
// gRPC reports as the peer's x509_subject; INVALID_ARGUMENT when the PEM does not parse.
Result<std::string> CertificateSubject(std::string_view cert_pem);

// Checks that `leaf_pem` chains to `ca_pem` (which may hold several certificates), is within its
// validity period and may be used for TLS client authentication; UNAUTHENTICATED with OpenSSL's
// reason otherwise. INVALID_ARGUMENT when either PEM does not parse.
Status VerifyClientCertificate(std::string_view leaf_pem, std::string_view ca_pem);

}  // namespace sov::crypto
