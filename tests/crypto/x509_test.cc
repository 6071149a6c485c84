// Shows that the dev CA's certificates pass OpenSSL's mTLS checks and that client checks refuse misuse.
#include "crypto/x509.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

namespace sov::crypto {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr std::chrono::hours kDay{24};
constexpr std::chrono::hours kYear{24 * 365};

struct X509Free { void operator()(X509* p) const { X509_free(p); } };
using X509Ptr = std::unique_ptr<X509, X509Free>;
struct PkeyFree { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

X509Ptr ReadCert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509Ptr cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return cert;
}

PkeyPtr ReadKey(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return key;
}

// Verifies `leaf` against `ca` for `purpose` as `openssl verify -purpose ...` does; returns the
// X509_V_ error code (X509_V_OK on success).
int OpenSslVerify(const std::string& leaf_pem, const std::string& ca_pem, int purpose) {
  X509Ptr leaf = ReadCert(leaf_pem);
  X509Ptr ca = ReadCert(ca_pem);
  if (!leaf || !ca) return -1;
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf.get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx, purpose);
  // Strict mode adds RFC 5280 profile checks (key identifiers, CA key usage, ...).
  X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
  int result = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return result;
}

std::string ExtKeyIdHex(const ASN1_OCTET_STRING* id) {
  if (id == nullptr) return "";
  std::string out;
  char buf[3];
  for (int i = 0; i < ASN1_STRING_length(id); ++i) {
    std::snprintf(buf, sizeof(buf), "%02x", ASN1_STRING_get0_data(id)[i]);
    out += buf;
  }
  return out;
}

// Returns dotted-quad IPv4 or full colon-separated hex IPv6 for an iPAddress SAN.
std::string IpText(const ASN1_OCTET_STRING* ip) {
  const unsigned char* b = ASN1_STRING_get0_data(ip);
  int n = ASN1_STRING_length(ip);
  char buf[8];
  std::string out;
  if (n == 4) {
    for (int i = 0; i < 4; ++i) {
      std::snprintf(buf, sizeof(buf), i == 0 ? "%d" : ".%d", b[i]);
      out += buf;
    }
  } else if (n == 16) {
    for (int i = 0; i < 16; i += 2) {
      std::snprintf(buf, sizeof(buf), i == 0 ? "%x" : ":%x", b[i] << 8 | b[i + 1]);
      out += buf;
    }
  }
  return out;
}

class X509Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto ca = CreateCertificateAuthority("Sovereign Dev CA", "Sovereign Dev", kYear);
    ASSERT_TRUE(ca.ok()) << ca.status().ToString();
    ca_ = new CertificateAndKey(*ca);
  }
  static void TearDownTestSuite() {
    delete ca_;
    ca_ = nullptr;
  }
  static const CertificateAndKey& ca() { return *ca_; }

 private:
  static CertificateAndKey* ca_;
};
CertificateAndKey* X509Test::ca_ = nullptr;

// The CA is a self-signed P-256 CA with critical CA:TRUE, keyCertSign+cRLSign and a key id.
TEST_F(X509Test, CertificateAuthorityHasCaExtensions) {
  X509Ptr cert = ReadCert(ca().cert_pem);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);
  EXPECT_EQ(X509_check_ca(cert.get()), 1);
  EXPECT_EQ(X509_get_extension_flags(cert.get()) & EXFLAG_SS, EXFLAG_SS);  // self-signed
  EXPECT_EQ(X509_get_key_usage(cert.get()), uint32_t{KU_KEY_CERT_SIGN | KU_CRL_SIGN});
  EXPECT_EQ(X509_get_pathlen(cert.get()), 0);
  int crit = 0;
  auto* bc = static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(cert.get(), NID_basic_constraints, &crit, nullptr));
  ASSERT_NE(bc, nullptr);
  EXPECT_TRUE(bc->ca);
  EXPECT_EQ(crit, 1);
  BASIC_CONSTRAINTS_free(bc);
  EXPECT_NE(X509_get0_subject_key_id(cert.get()), nullptr);
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_ecdsa_with_SHA256);

  // Its own signature verifies under its own key.
  PkeyPtr key = ReadKey(ca().key_pem);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(X509_verify(cert.get(), key.get()), 1);
  EXPECT_EQ(OpenSslVerify(ca().cert_pem, ca().cert_pem, X509_PURPOSE_ANY), X509_V_OK);

  auto subject = CertificateSubject(ca().cert_pem);
  ASSERT_TRUE(subject.ok()) << subject.status().ToString();
  EXPECT_EQ(*subject, "CN=Sovereign Dev CA,O=Sovereign Dev");
}

// Keys are unencrypted PKCS#8 PEM holding an EC P-256 key.
TEST_F(X509Test, KeysArePkcs8P256) {
  EXPECT_THAT(ca().key_pem, StartsWith("-----BEGIN PRIVATE KEY-----\n"));
  PkeyPtr key = ReadKey(ca().key_pem);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(key.get()), EVP_PKEY_EC);
  char group[64] = {};
  size_t group_len = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(key.get(), group, sizeof(group), &group_len), 1);
  EXPECT_STREQ(group, "prime256v1");
  EXPECT_EQ(EVP_PKEY_get_bits(key.get()), 256);
}

// notBefore lies a few minutes in the past (clock skew) and notAfter at the requested lifetime.
TEST_F(X509Test, ValidityAllowsClockSkew) {
  auto client = IssueClientCertificate(ca(), "acme-ml", "Sovereign Dev", kDay);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  X509Ptr cert = ReadCert(client->cert_pem);
  ASSERT_NE(cert, nullptr);
  time_t now = time(nullptr);
  time_t three_minutes_ago = now - 3 * 60;
  time_t ten_minutes_ago = now - 10 * 60;
  EXPECT_LT(X509_cmp_time(X509_get0_notBefore(cert.get()), &three_minutes_ago), 0);
  EXPECT_GT(X509_cmp_time(X509_get0_notBefore(cert.get()), &ten_minutes_ago), 0);
  time_t almost_a_day = now + 24 * 3600 - 60;
  time_t more_than_a_day = now + 24 * 3600 + 60;
  EXPECT_GT(X509_cmp_time(X509_get0_notAfter(cert.get()), &almost_a_day), 0);
  EXPECT_LT(X509_cmp_time(X509_get0_notAfter(cert.get()), &more_than_a_day), 0);
}

// Serial numbers are positive, at most 20 octets, and differ between certificates.
TEST_F(X509Test, SerialsArePositiveAndRandom) {
  std::set<std::string> serials;
  for (int i = 0; i < 8; ++i) {
    auto client = IssueClientCertificate(ca(), "tenant-" + std::to_string(i), "Org", kDay);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    X509Ptr cert = ReadCert(client->cert_pem);
    const ASN1_INTEGER* serial = X509_get0_serialNumber(cert.get());
    BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr);
    ASSERT_NE(bn, nullptr);
    EXPECT_FALSE(BN_is_negative(bn));
    EXPECT_FALSE(BN_is_zero(bn));
    EXPECT_LE(BN_num_bytes(bn), 20);
    char* hex = BN_bn2hex(bn);
    serials.insert(hex);
    OPENSSL_free(hex);
    BN_free(bn);
  }
  EXPECT_EQ(serials.size(), 8u);
}

// The server certificate chains to the CA for TLS server use, as `openssl verify` would check.
TEST_F(X509Test, ServerCertificateChainsToCa) {
  auto server = IssueServerCertificate(ca(), {"localhost"}, {"127.0.0.1", "::1"}, kYear);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  EXPECT_EQ(OpenSslVerify(server->cert_pem, ca().cert_pem, X509_PURPOSE_SSL_SERVER), X509_V_OK);

  X509Ptr cert = ReadCert(server->cert_pem);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  EXPECT_EQ(X509_get_key_usage(cert.get()), uint32_t{KU_DIGITAL_SIGNATURE});
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()), uint32_t{XKU_SSL_SERVER});
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_ecdsa_with_SHA256);
  // authorityKeyIdentifier names the CA's subjectKeyIdentifier.
  X509Ptr ca_cert = ReadCert(ca().cert_pem);
  EXPECT_EQ(ExtKeyIdHex(X509_get0_authority_key_id(cert.get())),
            ExtKeyIdHex(X509_get0_subject_key_id(ca_cert.get())));
  EXPECT_NE(ExtKeyIdHex(X509_get0_subject_key_id(cert.get())), "");

  // The leaf's key matches its certificate.
  PkeyPtr key = ReadKey(server->key_pem);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);

  auto subject = CertificateSubject(server->cert_pem);
  ASSERT_TRUE(subject.ok());
  EXPECT_EQ(*subject, "CN=localhost,O=Sovereign Dev");
}

// The server certificate carries every requested DNS name and IP address as a subjectAltName.
TEST_F(X509Test, ServerCertificateHasSubjectAltNames) {
  auto server = IssueServerCertificate(ca(), {"localhost", "sovd.internal"},
                                       {"127.0.0.1", "::1"}, kYear);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  X509Ptr cert = ReadCert(server->cert_pem);
  ASSERT_NE(cert, nullptr);

  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  ASSERT_NE(names, nullptr);
  std::vector<std::string> dns;
  std::vector<std::string> ips;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type == GEN_DNS) {
      dns.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.dNSName)),
                       ASN1_STRING_length(name->d.dNSName));
    } else if (name->type == GEN_IPADD) {
      ips.push_back(IpText(name->d.iPAddress));
    }
  }
  GENERAL_NAMES_free(names);
  EXPECT_EQ(dns, (std::vector<std::string>{"localhost", "sovd.internal"}));
  ASSERT_EQ(ips.size(), 2u);
  EXPECT_EQ(ips[0], "127.0.0.1");
  EXPECT_EQ(ips[1], "0:0:0:0:0:0:0:1");

  // Hostname checks as a TLS client makes them.
  EXPECT_EQ(X509_check_host(cert.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "sovd.internal", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "example.com", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "10.0.0.1", 0), 0);
}

// A client certificate's subject prints exactly "CN=<cn>,O=<org>" and it verifies as a client.
TEST_F(X509Test, ClientCertificateSubjectAndVerification) {
  auto client = IssueClientCertificate(ca(), "acme-ml", "Sovereign Dev", kYear);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto subject = CertificateSubject(client->cert_pem);
  ASSERT_TRUE(subject.ok()) << subject.status().ToString();
  EXPECT_EQ(*subject, "CN=acme-ml,O=Sovereign Dev");

  Status verified = VerifyClientCertificate(client->cert_pem, ca().cert_pem);
  EXPECT_TRUE(verified.ok()) << verified.ToString();
  EXPECT_EQ(OpenSslVerify(client->cert_pem, ca().cert_pem, X509_PURPOSE_SSL_CLIENT), X509_V_OK);

  X509Ptr cert = ReadCert(client->cert_pem);
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()), uint32_t{XKU_SSL_CLIENT});
  EXPECT_EQ(X509_get_key_usage(cert.get()), uint32_t{KU_DIGITAL_SIGNATURE});
  EXPECT_EQ(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr), nullptr);
}

// RFC 2253 escapes special characters in the subject just as gRPC's call prints them.
TEST_F(X509Test, SubjectEscapesSpecialCharacters) {
  auto client = IssueClientCertificate(ca(), "team,ml", "Acme+Co", kDay);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto subject = CertificateSubject(client->cert_pem);
  ASSERT_TRUE(subject.ok());
  EXPECT_EQ(*subject, "CN=team\\,ml,O=Acme\\+Co");
}

// A client certificate issued by another CA is UNAUTHENTICATED, naming OpenSSL's reason.
TEST_F(X509Test, ClientCertificateFromAnotherCaIsRefused) {
  auto other_ca = CreateCertificateAuthority("Other CA", "Elsewhere", kYear);
  ASSERT_TRUE(other_ca.ok());
  auto client = IssueClientCertificate(*other_ca, "acme-ml", "Sovereign Dev", kYear);
  ASSERT_TRUE(client.ok());
  Status verified = VerifyClientCertificate(client->cert_pem, ca().cert_pem);
  EXPECT_EQ(verified.code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(verified.message(), HasSubstr("unable to get local issuer certificate"));
}

// A CA bundle with several certificates accepts clients of any of them.
TEST_F(X509Test, CaBundleWithSeveralCertificates) {
  auto other_ca = CreateCertificateAuthority("Other CA", "Elsewhere", kYear);
  ASSERT_TRUE(other_ca.ok());
  auto client = IssueClientCertificate(*other_ca, "acme-ml", "Elsewhere", kYear);
  ASSERT_TRUE(client.ok());
  std::string bundle = ca().cert_pem + other_ca->cert_pem;
  Status verified = VerifyClientCertificate(client->cert_pem, bundle);
  EXPECT_TRUE(verified.ok()) << verified.ToString();
  auto own = IssueClientCertificate(ca(), "acme-ml", "Sovereign Dev", kYear);
  ASSERT_TRUE(own.ok());
  EXPECT_TRUE(VerifyClientCertificate(own->cert_pem, bundle).ok());
}

// A server certificate (serverAuth only) is refused as a client certificate.
TEST_F(X509Test, ServerCertificateIsNotAClientCertificate) {
  auto server = IssueServerCertificate(ca(), {"localhost"}, {"127.0.0.1"}, kYear);
  ASSERT_TRUE(server.ok());
  Status verified = VerifyClientCertificate(server->cert_pem, ca().cert_pem);
  EXPECT_EQ(verified.code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(verified.message(), HasSubstr("unsuitable certificate purpose"));
}

// Text that is not a PEM certificate is INVALID_ARGUMENT wherever a certificate is expected.
TEST_F(X509Test, GarbagePemIsInvalidArgument) {
  const std::string garbage = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n"
                              "-----END CERTIFICATE-----\n";
  EXPECT_EQ(CertificateSubject("hello").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CertificateSubject(garbage).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CertificateSubject("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CertificateSubject(std::string_view()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyClientCertificate(garbage, ca().cert_pem).code(),
            StatusCode::kInvalidArgument);
  auto client = IssueClientCertificate(ca(), "acme-ml", "Sovereign Dev", kDay);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(VerifyClientCertificate(client->cert_pem, "").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyClientCertificate(client->cert_pem, ca().cert_pem + garbage).code(),
            StatusCode::kInvalidArgument);
}

// Issuing checks its inputs: a CA that is not one, a mismatched or garbled key, bad names.
TEST_F(X509Test, IssuingRejectsBadInput) {
  auto client = IssueClientCertificate(ca(), "acme-ml", "Sovereign Dev", kDay);
  ASSERT_TRUE(client.ok());
  // A leaf cannot issue.
  EXPECT_EQ(IssueClientCertificate(*client, "x", "y", kDay).status().code(),
            StatusCode::kInvalidArgument);
  // The CA certificate with someone else's key.
  CertificateAndKey mismatched{ca().cert_pem, client->key_pem};
  auto refused = IssueClientCertificate(mismatched, "x", "y", kDay);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("does not match"));
  // A garbled key never appears in the message.
  CertificateAndKey garbled{ca().cert_pem, "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n"
                                           "-----END PRIVATE KEY-----\n"};
  auto bad_key = IssueClientCertificate(garbled, "x", "y", kDay);
  EXPECT_EQ(bad_key.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_key.status().message(), Not(HasSubstr("c2VjcmV0")));

  EXPECT_EQ(IssueClientCertificate(ca(), "", "Org", kDay).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(IssueClientCertificate(ca(), std::string(65, 'a'), "Org", kDay).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(IssueClientCertificate(ca(), "acme", "Org", std::chrono::hours{0}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateCertificateAuthority("CA", "Org", std::chrono::hours{-1}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(IssueServerCertificate(ca(), {}, {}, kDay).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(IssueServerCertificate(ca(), {"localhost"}, {"256.0.0.1"}, kDay).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(IssueServerCertificate(ca(), {"a,DNS:evil"}, {}, kDay).status().code(),
            StatusCode::kInvalidArgument);
}

// The CA's key PEM is never echoed into a status message, whatever goes wrong.
TEST_F(X509Test, ErrorsDoNotEchoTheCaKey) {
  CertificateAndKey broken_cert{"not a certificate", ca().key_pem};
  auto refused = IssueServerCertificate(broken_cert, {"localhost"}, {}, kDay);
  ASSERT_FALSE(refused.ok());
  // The base64 body's first line, without the header.
  std::string body = ca().key_pem.substr(ca().key_pem.find('\n') + 1, 40);
  EXPECT_THAT(refused.status().message(), Not(HasSubstr(body)));
}

}  // namespace
}  // namespace sov::crypto
