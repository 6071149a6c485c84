#include "crypto/x509.h"

#include <cstdint>
#include <memory>
#include <string>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

namespace sov::crypto {
namespace {

// Accepting a certificate that became valid a moment ago on a machine whose clock runs behind.
constexpr long kClockSkewSeconds = 5 * 60;
// RFC 5280 allows serials up to 20 octets; 128 random bits is what the CA/B forum's 64-bit
// minimum asks for, doubled.
constexpr int kSerialBits = 128;
// Ten years; beyond that a dev certificate is a mistake, and time_t arithmetic stays far from
// any limit.
constexpr std::chrono::hours kMaxValidity{24 * 365 * 10};

struct BioFree { void operator()(BIO* p) const { BIO_free_all(p); } };
struct BnFree { void operator()(BIGNUM* p) const { BN_free(p); } };
struct PkeyFree { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct X509Free { void operator()(X509* p) const { X509_free(p); } };
struct NameFree { void operator()(X509_NAME* p) const { X509_NAME_free(p); } };
struct ExtFree { void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); } };
struct GenNamesFree { void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); } };
struct GenNameFree { void operator()(GENERAL_NAME* p) const { GENERAL_NAME_free(p); } };
struct StoreFree { void operator()(X509_STORE* p) const { X509_STORE_free(p); } };
struct StoreCtxFree { void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); } };

using BioPtr = std::unique_ptr<BIO, BioFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using NamePtr = std::unique_ptr<X509_NAME, NameFree>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, ExtFree>;
using GenNamesPtr = std::unique_ptr<GENERAL_NAMES, GenNamesFree>;
using GenNamePtr = std::unique_ptr<GENERAL_NAME, GenNameFree>;
using StorePtr = std::unique_ptr<X509_STORE, StoreFree>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, StoreCtxFree>;

// Returns OpenSSL's most recent error as text and empties this thread's error queue, so that a
// stale entry never explains a later failure. OpenSSL's error strings carry no key material.
std::string DrainOpenSslErrors() {
  unsigned long last = 0;
  while (unsigned long e = ERR_get_error()) last = e;
  if (last == 0) return "no OpenSSL error recorded";
  char buf[256];
  ERR_error_string_n(last, buf, sizeof(buf));
  return buf;
}

Status OpenSslFailure(std::string_view call) {
  std::string message(call);
  message += " failed: ";
  message += DrainOpenSslErrors();
  return Internal(std::move(message));
}

BioPtr MemoryBioOf(std::string_view text) {
  // BIO_new_mem_buf reads `text` in place without copying; the BIO never outlives the call.
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

Result<std::string> BioContents(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  if (size < 0 || (size > 0 && data == nullptr)) return OpenSslFailure("BIO_get_mem_data");
  return std::string(data, static_cast<size_t>(size));
}

Result<X509Ptr> ParseCertificate(std::string_view pem, std::string_view what) {
  if (pem.empty()) return InvalidArgument(std::string(what) + ": empty");
  if (pem.size() > INT32_MAX) return InvalidArgument(std::string(what) + ": PEM too large");
  BioPtr bio = MemoryBioOf(pem);
  if (!bio) return OpenSslFailure("BIO_new_mem_buf");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return InvalidArgument(std::string(what) + ": not a PEM certificate (" +
                           DrainOpenSslErrors() + ")");
  }
  return cert;
}

// Reads every certificate in `pem`; INVALID_ARGUMENT when there is none or one is damaged.
Result<std::vector<X509Ptr>> ParseCertificates(std::string_view pem, std::string_view what) {
  if (pem.empty()) return InvalidArgument(std::string(what) + ": empty");
  if (pem.size() > INT32_MAX) return InvalidArgument(std::string(what) + ": PEM too large");
  BioPtr bio = MemoryBioOf(pem);
  if (!bio) return OpenSslFailure("BIO_new_mem_buf");
  std::vector<X509Ptr> certs;
  for (;;) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (cert) {
      certs.push_back(std::move(cert));
      continue;
    }
    // Running out of PEM blocks is the normal end; anything else is a damaged block.
    unsigned long err = ERR_peek_last_error();
    if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE &&
        !certs.empty()) {
      ERR_clear_error();
      break;
    }
    return InvalidArgument(std::string(what) + ": not a PEM certificate list (" +
                           DrainOpenSslErrors() + ")");
  }
  return certs;
}

Result<PkeyPtr> ParsePrivateKey(std::string_view pem, std::string_view what) {
  if (pem.empty()) return InvalidArgument(std::string(what) + ": empty");
  if (pem.size() > INT32_MAX) return InvalidArgument(std::string(what) + ": PEM too large");
  BioPtr bio = MemoryBioOf(pem);
  if (!bio) return OpenSslFailure("BIO_new_mem_buf");
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    // Deliberately no detail beyond OpenSSL's reason code: the input is secret.
    return InvalidArgument(std::string(what) + ": not a PEM private key (" +
                           DrainOpenSslErrors() + ")");
  }
  return key;
}

Result<PkeyPtr> GenerateP256Key() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return OpenSslFailure("EVP_PKEY_Q_keygen(EC, P-256)");
  return key;
}

Result<NamePtr> MakeName(std::string_view common_name, std::string_view organization) {
  if (common_name.empty()) return InvalidArgument("certificate common name is empty");
  // RFC 5280's upper bounds (ub-common-name, ub-organization-name).
  if (common_name.size() > 64) return InvalidArgument("certificate common name exceeds 64 bytes");
  if (organization.size() > 64) return InvalidArgument("certificate organization exceeds 64 bytes");
  NamePtr name(X509_NAME_new());
  if (!name) return OpenSslFailure("X509_NAME_new");
  // RFC 2253 prints the last RDN first: adding O before CN yields "CN=<cn>,O=<org>", the string
  // gRPC reports as the peer's x509_subject.
  auto add = [&](const char* field, std::string_view value) -> Status {
    if (X509_NAME_add_entry_by_txt(name.get(), field, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      return InvalidArgument(std::string("certificate ") + field + " rejected: " +
                             DrainOpenSslErrors());
    }
    return OkStatus();
  };
  if (!organization.empty()) SOV_RETURN_IF_ERROR(add("O", organization));
  SOV_RETURN_IF_ERROR(add("CN", common_name));
  return name;
}

Status SetRandomSerial(X509* cert) {
  BnPtr bn(BN_new());
  if (!bn) return OpenSslFailure("BN_new");
  do {
    if (BN_rand(bn.get(), kSerialBits, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) {
      return OpenSslFailure("BN_rand");
    }
  } while (BN_is_zero(bn.get()));  // a serial must be positive
  if (BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return OpenSslFailure("BN_to_ASN1_INTEGER");
  }
  return OkStatus();
}

Status CheckValidity(std::chrono::hours validity) {
  if (validity.count() <= 0) return InvalidArgument("certificate validity must be positive");
  if (validity > kMaxValidity) return InvalidArgument("certificate validity exceeds ten years");
  return OkStatus();
}

Status SetValidity(X509* cert, std::chrono::hours validity) {
  long seconds = static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(validity).count());
  if (X509_gmtime_adj(X509_getm_notBefore(cert), -kClockSkewSeconds) == nullptr) {
    return OpenSslFailure("X509_gmtime_adj(notBefore)");
  }
  if (X509_gmtime_adj(X509_getm_notAfter(cert), seconds) == nullptr) {
    return OpenSslFailure("X509_gmtime_adj(notAfter)");
  }
  return OkStatus();
}

// Adds one extension written in OpenSSL's configuration syntax. `issuer` supplies the
// authorityKeyIdentifier; the subject's own public key must already be set for
// subjectKeyIdentifier "hash".
Status AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext) return OpenSslFailure(std::string("X509V3_EXT_conf_nid(") + OBJ_nid2sn(nid) + ")");
  if (X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslFailure(std::string("X509_add_ext(") + OBJ_nid2sn(nid) + ")");
  }
  return OkStatus();
}

// Builds the subjectAltName from structures rather than a configuration string, so that a name
// holding a comma cannot smuggle in a further entry.
Status AddSubjectAltNames(X509* cert, const std::vector<std::string>& dns_names,
                          const std::vector<std::string>& ip_addresses) {
  GenNamesPtr names(GENERAL_NAMES_new());
  if (!names) return OpenSslFailure("GENERAL_NAMES_new");
  for (const std::string& dns : dns_names) {
    if (dns.empty() || dns.size() > 253 ||
        dns.find_first_of(std::string_view(" ,\0", 3)) != std::string::npos) {
      return InvalidArgument("server certificate DNS name \"" + dns + "\" is not a host name");
    }
    GenNamePtr gen(GENERAL_NAME_new());
    ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
    if (!gen || ia5 == nullptr) {
      ASN1_IA5STRING_free(ia5);
      return OpenSslFailure("GENERAL_NAME_new");
    }
    if (ASN1_STRING_set(ia5, dns.data(), static_cast<int>(dns.size())) != 1) {
      ASN1_IA5STRING_free(ia5);
      return OpenSslFailure("ASN1_STRING_set");
    }
    GENERAL_NAME_set0_value(gen.get(), GEN_DNS, ia5);
    if (sk_GENERAL_NAME_push(names.get(), gen.get()) == 0) return OpenSslFailure("sk_push");
    gen.release();
  }
  for (const std::string& ip : ip_addresses) {
    ASN1_OCTET_STRING* octets = a2i_IPADDRESS(ip.c_str());
    if (octets == nullptr || ip.find('\0') != std::string::npos) {
      ASN1_OCTET_STRING_free(octets);
      ERR_clear_error();
      return InvalidArgument("server certificate IP address \"" + ip + "\" is not an address");
    }
    GenNamePtr gen(GENERAL_NAME_new());
    if (!gen) {
      ASN1_OCTET_STRING_free(octets);
      return OpenSslFailure("GENERAL_NAME_new");
    }
    GENERAL_NAME_set0_value(gen.get(), GEN_IPADD, octets);
    if (sk_GENERAL_NAME_push(names.get(), gen.get()) == 0) return OpenSslFailure("sk_push");
    gen.release();
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslFailure("X509_add1_ext_i2d(subjectAltName)");
  }
  return OkStatus();
}

Result<CertificateAndKey> Encode(X509* cert, EVP_PKEY* key) {
  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || !key_bio) return OpenSslFailure("BIO_new");
  if (PEM_write_bio_X509(cert_bio.get(), cert) != 1) return OpenSslFailure("PEM_write_bio_X509");
  // Unencrypted PKCS#8 ("BEGIN PRIVATE KEY"), which gRPC, openssl and Go all read.
  if (PEM_write_bio_PrivateKey(key_bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslFailure("PEM_write_bio_PrivateKey");
  }
  CertificateAndKey out;
  SOV_ASSIGN_OR_RETURN(out.cert_pem, BioContents(cert_bio.get()));
  SOV_ASSIGN_OR_RETURN(out.key_pem, BioContents(key_bio.get()));
  return out;
}

// A certificate under construction: version 3, random serial, validity, subject, public key.
Result<X509Ptr> NewCertificate(const X509_NAME* subject, EVP_PKEY* public_key,
                               std::chrono::hours validity) {
  X509Ptr cert(X509_new());
  if (!cert) return OpenSslFailure("X509_new");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) return OpenSslFailure("X509_set_version");
  SOV_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  SOV_RETURN_IF_ERROR(SetValidity(cert.get(), validity));
  if (X509_set_subject_name(cert.get(), subject) != 1) {
    return OpenSslFailure("X509_set_subject_name");
  }
  if (X509_set_pubkey(cert.get(), public_key) != 1) return OpenSslFailure("X509_set_pubkey");
  return cert;
}

struct LoadedCa {
  X509Ptr cert;
  PkeyPtr key;
};

// Parses the issuing CA and checks that it may issue: a CA certificate whose key it holds.
Result<LoadedCa> LoadCa(const CertificateAndKey& ca) {
  LoadedCa loaded;
  SOV_ASSIGN_OR_RETURN(loaded.cert, ParseCertificate(ca.cert_pem, "CA certificate"));
  SOV_ASSIGN_OR_RETURN(loaded.key, ParsePrivateKey(ca.key_pem, "CA private key"));
  if (X509_check_ca(loaded.cert.get()) == 0) {
    return InvalidArgument("CA certificate is not a certificate authority (basicConstraints)");
  }
  if (X509_check_private_key(loaded.cert.get(), loaded.key.get()) != 1) {
    ERR_clear_error();
    return InvalidArgument("CA private key does not match the CA certificate");
  }
  return loaded;
}

// Issues a leaf certificate for a fresh P-256 key: CA:FALSE, digitalSignature, the given
// extendedKeyUsage, key identifiers; `extra` adds further extensions before signing.
template <typename Extra>
Result<CertificateAndKey> IssueLeaf(const CertificateAndKey& ca, const X509_NAME* subject,
                                    const char* extended_key_usage, std::chrono::hours validity,
                                    Extra extra) {
  SOV_RETURN_IF_ERROR(CheckValidity(validity));
  SOV_ASSIGN_OR_RETURN(LoadedCa issuer, LoadCa(ca));
  SOV_ASSIGN_OR_RETURN(PkeyPtr key, GenerateP256Key());
  SOV_ASSIGN_OR_RETURN(X509Ptr cert, NewCertificate(subject, key.get(), validity));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer.cert.get())) != 1) {
    return OpenSslFailure("X509_set_issuer_name");
  }
  X509* c = cert.get();
  X509* i = issuer.cert.get();
  SOV_RETURN_IF_ERROR(AddExtension(c, i, NID_basic_constraints, "critical,CA:FALSE"));
  SOV_RETURN_IF_ERROR(AddExtension(c, i, NID_key_usage, "critical,digitalSignature"));
  SOV_RETURN_IF_ERROR(AddExtension(c, i, NID_ext_key_usage, extended_key_usage));
  SOV_RETURN_IF_ERROR(AddExtension(c, i, NID_subject_key_identifier, "hash"));
  SOV_RETURN_IF_ERROR(AddExtension(c, i, NID_authority_key_identifier, "keyid:always"));
  SOV_RETURN_IF_ERROR(extra(c));
  if (X509_sign(c, issuer.key.get(), EVP_sha256()) <= 0) return OpenSslFailure("X509_sign");
  return Encode(c, key.get());
}

// The organization ("O") of a name, or empty when it has none.
std::string OrganizationOf(const X509_NAME* name) {
  int index = X509_NAME_get_index_by_NID(name, NID_organizationName, -1);
  if (index < 0) return "";
  const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  int size = ASN1_STRING_to_UTF8(&utf8, value);
  if (size < 0) {
    ERR_clear_error();
    return "";
  }
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(size));
  OPENSSL_free(utf8);
  return out;
}

}  // namespace

Result<CertificateAndKey> CreateCertificateAuthority(std::string_view common_name,
                                                     std::string_view organization,
                                                     std::chrono::hours validity) {
  SOV_RETURN_IF_ERROR(CheckValidity(validity));
  SOV_ASSIGN_OR_RETURN(NamePtr name, MakeName(common_name, organization));
  SOV_ASSIGN_OR_RETURN(PkeyPtr key, GenerateP256Key());
  SOV_ASSIGN_OR_RETURN(X509Ptr cert, NewCertificate(name.get(), key.get(), validity));
  X509* c = cert.get();
  if (X509_set_issuer_name(c, name.get()) != 1) return OpenSslFailure("X509_set_issuer_name");
  // pathlen:0: the dev CA issues leaf certificates only, never another CA.
  SOV_RETURN_IF_ERROR(AddExtension(c, c, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  SOV_RETURN_IF_ERROR(AddExtension(c, c, NID_key_usage, "critical,keyCertSign,cRLSign"));
  SOV_RETURN_IF_ERROR(AddExtension(c, c, NID_subject_key_identifier, "hash"));
  if (X509_sign(c, key.get(), EVP_sha256()) <= 0) return OpenSslFailure("X509_sign");
  return Encode(c, key.get());
}

Result<CertificateAndKey> IssueServerCertificate(const CertificateAndKey& ca,
                                                 const std::vector<std::string>& dns_names,
                                                 const std::vector<std::string>& ip_addresses,
                                                 std::chrono::hours validity) {
  if (dns_names.empty() && ip_addresses.empty()) {
    return InvalidArgument("server certificate needs at least one DNS name or IP address");
  }
  SOV_ASSIGN_OR_RETURN(X509Ptr ca_cert, ParseCertificate(ca.cert_pem, "CA certificate"));
  // Clients match subjectAltName only; the CN merely names the server for people reading it.
  const std::string& cn = dns_names.empty() ? ip_addresses.front() : dns_names.front();
  SOV_ASSIGN_OR_RETURN(NamePtr name,
                       MakeName(cn, OrganizationOf(X509_get_subject_name(ca_cert.get()))));
  return IssueLeaf(ca, name.get(), "serverAuth", validity, [&](X509* cert) {
    return AddSubjectAltNames(cert, dns_names, ip_addresses);
  });
}

Result<CertificateAndKey> IssueClientCertificate(const CertificateAndKey& ca,
                                                 std::string_view common_name,
                                                 std::string_view organization,
                                                 std::chrono::hours validity) {
  SOV_ASSIGN_OR_RETURN(NamePtr name, MakeName(common_name, organization));
  return IssueLeaf(ca, name.get(), "clientAuth", validity,
                   [](X509*) { return OkStatus(); });
}

Result<std::string> CertificateSubject(std::string_view cert_pem) {
  SOV_ASSIGN_OR_RETURN(X509Ptr cert, ParseCertificate(cert_pem, "certificate"));
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return OpenSslFailure("BIO_new");
  // Exactly the call gRPC makes for the peer's x509_subject property.
  if (X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert.get()), 0, XN_FLAG_RFC2253) < 0) {
    return OpenSslFailure("X509_NAME_print_ex");
  }
  return BioContents(bio.get());
}

Status VerifyClientCertificate(std::string_view leaf_pem, std::string_view ca_pem) {
  SOV_ASSIGN_OR_RETURN(X509Ptr leaf, ParseCertificate(leaf_pem, "client certificate"));
  SOV_ASSIGN_OR_RETURN(std::vector<X509Ptr> roots, ParseCertificates(ca_pem, "CA certificates"));
  StorePtr store(X509_STORE_new());
  if (!store) return OpenSslFailure("X509_STORE_new");
  for (const X509Ptr& root : roots) {
    if (X509_STORE_add_cert(store.get(), root.get()) != 1) {
      // The same certificate twice in the bundle is harmless.
      unsigned long err = ERR_peek_last_error();
      if (ERR_GET_REASON(err) != X509_R_CERT_ALREADY_IN_HASH_TABLE) {
        return OpenSslFailure("X509_STORE_add_cert");
      }
      ERR_clear_error();
    }
  }
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx) return OpenSslFailure("X509_STORE_CTX_new");
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr) != 1) {
    return OpenSslFailure("X509_STORE_CTX_init");
  }
  // Checks extendedKeyUsage clientAuth on the leaf (and, if present, on the issuers).
  if (X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT) != 1) {
    return OpenSslFailure("X509_STORE_CTX_set_purpose");
  }
  int verified = X509_verify_cert(ctx.get());
  if (verified == 1) return OkStatus();
  int error = X509_STORE_CTX_get_error(ctx.get());
  int depth = X509_STORE_CTX_get_error_depth(ctx.get());
  ERR_clear_error();
  if (verified < 0 || error == X509_V_OK) {
    return Internal("X509_verify_cert failed without a verification error");
  }
  return Unauthenticated("client certificate rejected: " +
                         std::string(X509_verify_cert_error_string(error)) + " (at depth " +
                         std::to_string(depth) + ")");
}

}  // namespace sov::crypto
