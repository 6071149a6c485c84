// Shows how the Authenticator maps certificates and bearer tokens to tenants, and that every
// wrong credential is UNAUTHENTICATED with a message that never contains the token.
#include "gateway/authenticator.h"

#include <chrono>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/x509.h"
#include "gateway/bearer_token.h"

namespace sov::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::chrono::hours kDay{24};

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = crypto::CreateCertificateAuthority("Test CA", "Sovereign Test", kDay);
    ASSERT_TRUE(ca.ok()) << ca.status().ToString();
    ca_ = *ca;
    auto acme = crypto::IssueClientCertificate(ca_, "acme-ml", "Sovereign Test", kDay);
    ASSERT_TRUE(acme.ok()) << acme.status().ToString();
    acme_cert_ = acme->cert_pem;
    auto subject = crypto::CertificateSubject(acme_cert_);
    ASSERT_TRUE(subject.ok());
    acme_subject_ = *subject;

    token_ = GenerateBearerToken();
    std::string yaml = "tenants:\n"
                       "  - id: acme-ml\n"
                       "    jurisdiction: DE\n"
                       "    roles: [ml-engineer]\n"
                       "    mtls_subjects: [\"" + acme_subject_ + "\"]\n"
                       "  - id: partner-us\n"
                       "    jurisdiction: US\n"
                       "    tokens:\n"
                       "      - {name: other, sha256: \"" + HashBearerToken(GenerateBearerToken()).ToString() + "\"}\n"
                       "      - {name: ci, sha256: \"" + HashBearerToken(token_).ToString() + "\"}\n";
    auto tenants = TenantDirectory::Parse(yaml, "tenants.yaml");
    ASSERT_TRUE(tenants.ok()) << tenants.status().ToString();
    authenticator_ = std::make_unique<Authenticator>(
        std::make_shared<const TenantDirectory>(*tenants), ca_.cert_pem);
  }

  Result<Principal> WithCert(const std::string& pem) {
    PresentedCredentials presented;
    presented.client_cert_pem = pem;
    return authenticator_->Authenticate(presented);
  }
  Result<Principal> WithAuthorization(std::vector<std::string> values) {
    PresentedCredentials presented;
    presented.authorization = std::move(values);
    return authenticator_->Authenticate(presented);
  }

  crypto::CertificateAndKey ca_;
  std::string acme_cert_;
  std::string acme_subject_;
  std::string token_;
  std::unique_ptr<Authenticator> authenticator_;
};

TEST_F(AuthenticatorTest, MatchingTokenAuthenticatesItsTenant) {
  // The second of two stored hashes matches; the credential is the token's name.
  Result<Principal> principal = WithAuthorization({"Bearer " + token_});
  ASSERT_TRUE(principal.ok()) << principal.status().ToString();
  EXPECT_EQ(principal->tenant.id, "partner-us");
  EXPECT_EQ(principal->tenant.jurisdiction, "US");
  EXPECT_EQ(principal->method, AuthMethod::kBearerToken);
  EXPECT_EQ(principal->credential, "ci");
  // The scheme is case-insensitive (RFC 6750).
  EXPECT_TRUE(WithAuthorization({"bearer " + token_}).ok());
}

TEST_F(AuthenticatorTest, MismatchedTokenIsRejectedWithoutEchoingIt) {
  // A well-formed token that is not registered.
  std::string wrong = GenerateBearerToken();
  Result<Principal> principal = WithAuthorization({"Bearer " + wrong});
  ASSERT_FALSE(principal.ok());
  EXPECT_EQ(principal.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(principal.status().message(), "bearer token not recognised");
  EXPECT_THAT(principal.status().message(), Not(HasSubstr(wrong.substr(5))));
}

TEST_F(AuthenticatorTest, MalformedAuthorizationIsRejected) {
  // Wrong scheme, a truncated token, two headers.
  for (const std::string& value :
       {std::string("Basic dXNlcjpwYXNz"), "Bearer " + token_.substr(0, 20), token_}) {
    Result<Principal> principal = WithAuthorization({value});
    ASSERT_FALSE(principal.ok());
    EXPECT_EQ(principal.status().code(), StatusCode::kUnauthenticated);
    EXPECT_THAT(principal.status().message(), HasSubstr("malformed"));
  }
  Result<Principal> two = WithAuthorization({"Bearer " + token_, "Bearer " + token_});
  EXPECT_EQ(two.status().code(), StatusCode::kUnauthenticated);
}

TEST_F(AuthenticatorTest, NoCredentialsIsRejected) {
  // Nothing presented: the message says what to present.
  Result<Principal> principal = authenticator_->Authenticate(PresentedCredentials{});
  ASSERT_FALSE(principal.ok());
  EXPECT_EQ(principal.status().code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(principal.status().message(), HasSubstr("no credentials"));
}

TEST_F(AuthenticatorTest, RegisteredCertificateAuthenticatesItsTenant) {
  // A certificate from the client CA whose subject is registered.
  Result<Principal> principal = WithCert(acme_cert_);
  ASSERT_TRUE(principal.ok()) << principal.status().ToString();
  EXPECT_EQ(principal->tenant.id, "acme-ml");
  EXPECT_EQ(principal->method, AuthMethod::kMtls);
  EXPECT_EQ(principal->credential, acme_subject_);
}

TEST_F(AuthenticatorTest, UnknownSubjectIsRejected) {
  // A valid certificate for a subject no tenant registered.
  auto stranger = crypto::IssueClientCertificate(ca_, "stranger", "Sovereign Test", kDay);
  ASSERT_TRUE(stranger.ok());
  Result<Principal> principal = WithCert(stranger->cert_pem);
  ASSERT_FALSE(principal.ok());
  EXPECT_EQ(principal.status().code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(principal.status().message(), HasSubstr("is not registered to any tenant"));
  EXPECT_THAT(principal.status().message(), HasSubstr("stranger"));
}

TEST_F(AuthenticatorTest, CertificateFromAnotherCaIsRejected) {
  // Same subject as acme-ml, but issued by a CA the gateway does not trust.
  auto other_ca = crypto::CreateCertificateAuthority("Other CA", "Elsewhere", kDay);
  ASSERT_TRUE(other_ca.ok());
  auto forged = crypto::IssueClientCertificate(*other_ca, "acme-ml", "Sovereign Test", kDay);
  ASSERT_TRUE(forged.ok());
  Result<Principal> principal = WithCert(forged->cert_pem);
  ASSERT_FALSE(principal.ok());
  EXPECT_EQ(principal.status().code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(principal.status().message(), HasSubstr("client certificate rejected"));
}

TEST_F(AuthenticatorTest, CertificateWinsOverToken) {
  // A presented certificate decides, even when a valid token comes along; a bad certificate
  // is not rescued by a good token.
  PresentedCredentials presented;
  presented.client_cert_pem = acme_cert_;
  presented.authorization = {"Bearer " + token_};
  Result<Principal> principal = authenticator_->Authenticate(presented);
  ASSERT_TRUE(principal.ok());
  EXPECT_EQ(principal->tenant.id, "acme-ml");
  presented.client_cert_pem = "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n";
  EXPECT_EQ(authenticator_->Authenticate(presented).status().code(), StatusCode::kUnauthenticated);
}

TEST_F(AuthenticatorTest, PrincipalForLooksUpTheTenantsFile) {
  // Roles and jurisdiction come from the tenants file only.
  Result<Principal> principal = authenticator_->PrincipalFor("acme-ml", AuthMethod::kMtls, "x");
  ASSERT_TRUE(principal.ok());
  EXPECT_EQ(principal->tenant.roles, std::vector<std::string>{"ml-engineer"});
  EXPECT_EQ(authenticator_->PrincipalFor("ghost", AuthMethod::kMtls, "x").status().code(),
            StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace sov::gateway
