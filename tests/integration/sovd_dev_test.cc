// Shows that `sovd --dev` starts an mTLS gateway that sovctl, C++ gRPC stubs and Python's grpcio
// can call, that every wrong credential is UNAUTHENTICATED, and that it restarts and stops cleanly.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/x509.h"
#include "gateway/bearer_token.h"
#include "sov/v1/identity.grpc.pb.h"
#include "tests/testing/process.h"
#include "tests/testing/temp_dir.h"

namespace sov {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using sov::testing::ReadTextFile;

constexpr char kPython[] = "/usr/bin/python3";

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

struct ClientIdentity {
  std::string cert_pem;  // empty: no client certificate
  std::string key_pem;
  std::string token;     // empty: no authorization header
};

class DevGatewayTest : public ::testing::Test {
 protected:
  void SetUp() override { StartSovd({}); }

  void StartSovd(const std::vector<std::string>& extra) {
    std::vector<std::string> args{"--dev", "--data-dir", dir()};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string error;
    sovd_ = sov::testing::SovdProcess::Start(args, &error);
    ASSERT_NE(sovd_, nullptr) << error;
  }

  std::string dir() const { return tmp_.Join("dev"); }
  std::string File(const std::string& name) const { return dir() + "/" + name; }

  grpc::Status WhoAmI(const ClientIdentity& who, v1::WhoAmIResponse* response) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ReadTextFile(File("ca.pem"));
    tls.pem_cert_chain = who.cert_pem;
    tls.pem_private_key = who.key_pem;
    auto channel = grpc::CreateChannel(sovd_->address(), grpc::SslCredentials(tls));
    auto stub = v1::IdentityService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!who.token.empty()) context.AddMetadata("authorization", "Bearer " + who.token);
    return stub->WhoAmI(&context, v1::WhoAmIRequest(), response);
  }

  ClientIdentity Tenant(const std::string& id) {
    return {ReadTextFile(File("clients/" + id + ".pem")),
            ReadTextFile(File("clients/" + id + ".key")), ""};
  }
  std::string DevToken() { return Trimmed(ReadTextFile(File("clients/acme-ml.token"))); }

  // Runs a Python probe from tests/integration with the dev CA and (optionally) acme-ml's
  // client certificate; skips the test when Debian's python3-grpcio is not installed.
  sov::testing::ProcessResult RunProbe(const std::string& script, bool with_client_cert) {
    std::vector<std::string> argv{kPython,
                                  sov::testing::BuildPath("tests/integration/pystubs/" + script),
                                  "--addr", sovd_->address(), "--ca", File("ca.pem"),
                                  "--stubs",
                                  sov::testing::BuildPath("tests/integration/pystubs")};
    if (with_client_cert) {
      argv.insert(argv.end(), {"--cert", File("clients/acme-ml.pem"), "--key",
                               File("clients/acme-ml.key")});
    }
    return sov::testing::RunProcess(argv, sov::testing::MinimalEnvironment());
  }

  bool PythonGrpcAvailable(std::string* why) {
    if (::access(kPython, X_OK) != 0) {
      *why = std::string(kPython) + " is not installed";
      return false;
    }
    auto probe = sov::testing::RunProcess({kPython, "-c", "import grpc, google.protobuf"},
                                          sov::testing::MinimalEnvironment());
    if (probe.exit_code != 0) {
      *why = "Debian's python3-grpcio is not installed: " + probe.err;
      return false;
    }
    if (!std::filesystem::exists(sov::testing::BuildPath("tests/integration/pystubs/health_pb2.py"))) {
      *why = "the Python stubs were not generated (grpc_python_plugin missing)";
      return false;
    }
    return true;
  }

  sov::testing::TempDir tmp_;
  std::unique_ptr<sov::testing::SovdProcess> sovd_;
};

TEST_F(DevGatewayTest, PrintsReadyLineAndSovctlEnvironment) {
  // The ready line, then how to point sovctl at the gateway; the token itself is never printed.
  const std::string out = sovd_->Stdout();
  EXPECT_TRUE(std::regex_search(out, std::regex("^sovd listening on 127\\.0\\.0\\.1:[0-9]+ \\(mtls\\)\n")))
      << out;
  EXPECT_EQ(sovd_->mode(), "mtls");
  // The rest of stdout is written right after the ready line; give the reader a moment.
  for (int i = 0; i < 100 && sovd_->Stdout().find("sovctl whoami") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string all = sovd_->Stdout();
  EXPECT_THAT(all, HasSubstr("export SOV_CONFIG=" + File("sovctl.yaml") + "\n"));
  EXPECT_THAT(all, HasSubstr("export SOV_ADDR=" + sovd_->address() + "\n"));
  EXPECT_THAT(all, HasSubstr("export SOV_CA=" + File("ca.pem") + "\n"));
  EXPECT_THAT(all, HasSubstr("export SOV_CERT=" + File("clients/acme-ml.pem") + "\n"));
  EXPECT_THAT(all, HasSubstr("export SOV_KEY=" + File("clients/acme-ml.key") + "\n"));
  EXPECT_THAT(all, Not(HasSubstr(DevToken())));
  EXPECT_THAT(ReadTextFile(File("sovd.yaml")), HasSubstr("\nlisten: " + sovd_->address() + "\n"));
  EXPECT_THAT(ReadTextFile(File("sovctl.yaml")), HasSubstr("address: " + sovd_->address() + "\n"));
}

TEST_F(DevGatewayTest, SovctlWhoAmIOverMtlsAnswersTheTenant) {
  // sovctl with SOV_CONFIG pointing at the dev setup is acme-ml, in DE, over mTLS.
  const std::string sovctl = sov::testing::BuildPath("cli/sovctl");
  if (::access(sovctl.c_str(), X_OK) != 0) GTEST_SKIP() << "sovctl is not built at " << sovctl;
  auto env = sov::testing::MinimalEnvironment();
  env["SOV_CONFIG"] = File("sovctl.yaml");
  auto result = sov::testing::RunProcess({sovctl, "whoami", "--output", "json"}, env);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  auto json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["tenant_id"], "acme-ml");
  EXPECT_EQ(json["jurisdiction"], "DE");
  EXPECT_EQ(json["auth_method"], "mtls");
  EXPECT_EQ(json["roles"], nlohmann::json::array({"ml-engineer"}));
  EXPECT_EQ(json["purposes"], nlohmann::json::array({"fraud-detection"}));
}

TEST_F(DevGatewayTest, SovctlWithAWrongTokenReportsUnauthenticated) {
  // sovctl's one-line error names the canonical code; exit status 1.
  const std::string sovctl = sov::testing::BuildPath("cli/sovctl");
  if (::access(sovctl.c_str(), X_OK) != 0) GTEST_SKIP() << "sovctl is not built at " << sovctl;
  auto env = sov::testing::MinimalEnvironment();
  env["SOV_ADDR"] = sovd_->address();
  env["SOV_CA"] = File("ca.pem");
  env["SOV_TOKEN"] = gateway::GenerateBearerToken();
  auto result = sov::testing::RunProcess({sovctl, "whoami", "--output", "json"}, env);
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_THAT(result.err, HasSubstr("sovctl: error: UNAUTHENTICATED: "));
}

TEST_F(DevGatewayTest, EachTenantCertificateMapsToItsTenant) {
  // The subject of each example client certificate selects its tenant from tenants.yaml.
  struct Expected { const char* id; const char* jurisdiction; const char* role; };
  for (const Expected& e : {Expected{"acme-ml", "DE", "ml-engineer"},
                            Expected{"compliance", "DE", "compliance-officer"},
                            Expected{"partner-us", "US", "tenant-service"}}) {
    v1::WhoAmIResponse response;
    grpc::Status status = WhoAmI(Tenant(e.id), &response);
    ASSERT_TRUE(status.ok()) << e.id << ": " << status.error_message();
    EXPECT_EQ(response.tenant_id(), e.id);
    EXPECT_EQ(response.jurisdiction(), e.jurisdiction);
    ASSERT_EQ(response.roles_size(), 1);
    EXPECT_EQ(response.roles(0), e.role);
    EXPECT_EQ(response.auth_method(), v1::AUTH_METHOD_MTLS);
    EXPECT_EQ(response.credential(), "CN=" + std::string(e.id) + ",O=Sovereign Dev");
  }
}

TEST_F(DevGatewayTest, NoCertificateAndNoTokenIsUnauthenticated) {
  // TLS without a client certificate and without a token: the call, not the handshake, fails.
  v1::WhoAmIResponse response;
  grpc::Status status = WhoAmI({}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("no credentials"));
}

TEST_F(DevGatewayTest, CertificateFromAnotherCaIsUnauthenticated) {
  // A certificate for CN=acme-ml from a CA the gateway does not trust.
  auto other_ca = crypto::CreateCertificateAuthority("Impostor CA", "Sovereign Dev",
                                                     std::chrono::hours(24));
  ASSERT_TRUE(other_ca.ok()) << other_ca.status().ToString();
  auto forged = crypto::IssueClientCertificate(*other_ca, "acme-ml", "Sovereign Dev",
                                               std::chrono::hours(24));
  ASSERT_TRUE(forged.ok()) << forged.status().ToString();
  v1::WhoAmIResponse response;
  grpc::Status status = WhoAmI({forged->cert_pem, forged->key_pem, ""}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("client certificate rejected"));
  // A valid token does not rescue a bad certificate: a presented certificate must verify.
  status = WhoAmI({forged->cert_pem, forged->key_pem, DevToken()}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(DevGatewayTest, WrongTokenIsUnauthenticated) {
  // A well-formed token that is not registered, and a malformed one.
  v1::WhoAmIResponse response;
  grpc::Status status = WhoAmI({"", "", gateway::GenerateBearerToken()}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(status.error_message(), "bearer token not recognised");
  status = WhoAmI({"", "", "not-a-token"}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(DevGatewayTest, DevTokenAuthenticatesAsBearerToken) {
  // The token in clients/acme-ml.token is acme-ml, by bearer token, named dev-token.
  v1::WhoAmIResponse response;
  grpc::Status status = WhoAmI({"", "", DevToken()}, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.tenant_id(), "acme-ml");
  EXPECT_EQ(response.jurisdiction(), "DE");
  EXPECT_EQ(response.auth_method(), v1::AUTH_METHOD_BEARER_TOKEN);
  EXPECT_EQ(response.credential(), "dev-token");
}

TEST_F(DevGatewayTest, CallsOnOneConnectionAreAuthenticatedEachByItsOwnToken) {
  // The auth context is per connection, tokens are per call: a good token on one call does not
  // let the next call on the same channel through without one.
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadTextFile(File("ca.pem"));
  auto stub = v1::IdentityService::NewStub(
      grpc::CreateChannel(sovd_->address(), grpc::SslCredentials(tls)));
  auto call = [&](const std::string& token) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    v1::WhoAmIResponse response;
    return stub->WhoAmI(&context, v1::WhoAmIRequest(), &response).error_code();
  };
  EXPECT_EQ(call(DevToken()), grpc::StatusCode::OK);
  EXPECT_EQ(call(""), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(call(gateway::GenerateBearerToken()), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(call(DevToken()), grpc::StatusCode::OK);
}

TEST_F(DevGatewayTest, PythonHealthCheckOverMtlsIsServing) {
  // Debian's python3-grpcio asks grpc.health.v1 over mTLS: SERVING. Without a client
  // certificate the health service is guarded too.
  std::string why;
  if (!PythonGrpcAvailable(&why)) GTEST_SKIP() << why;
  auto result = RunProbe("health_check.py", true);
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(Trimmed(result.out), "SERVING");
  auto anonymous = RunProbe("health_check.py", false);
  EXPECT_EQ(anonymous.exit_code, 1);
  EXPECT_THAT(anonymous.err, HasSubstr("health_check: error: UNAUTHENTICATED: no credentials"));
}

TEST_F(DevGatewayTest, ReflectionListsIdentityService) {
  // Server reflection (v1alpha) lists the sov.v1 service and the health service.
  std::string why;
  if (!PythonGrpcAvailable(&why)) GTEST_SKIP() << why;
  auto result = RunProbe("reflection_list.py", true);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_THAT(result.out, HasSubstr("sov.v1.IdentityService\n"));
  EXPECT_THAT(result.out, HasSubstr("grpc.health.v1.Health\n"));
}

TEST_F(DevGatewayTest, RestartReusesTheSetupAndThePort) {
  // SIGTERM exits 0; the next start keeps the CA, the keys and the address.
  const std::string ca = ReadTextFile(File("ca.pem"));
  const std::string master = ReadTextFile(File("master.key"));
  const std::string address = sovd_->address();
  ASSERT_EQ(sovd_->Stop(SIGTERM), 0) << sovd_->Stderr();
  sovd_.reset();
  StartSovd({});
  EXPECT_EQ(sovd_->address(), address);
  EXPECT_EQ(ReadTextFile(File("ca.pem")), ca);
  EXPECT_EQ(ReadTextFile(File("master.key")), master);
  v1::WhoAmIResponse response;
  EXPECT_TRUE(WhoAmI(Tenant("acme-ml"), &response).ok());
}

TEST_F(DevGatewayTest, SecondSovdOnTheSamePortIsRefused) {
  // The kept port is taken: one error line with the operating system's reason, and no silent
  // port sharing (gRPC's SO_REUSEPORT is off).
  auto second = sov::testing::RunProcess(
      {sov::testing::BuildPath("gateway/sovd"), "--dev", "--data-dir", dir()},
      sov::testing::MinimalEnvironment(), std::chrono::seconds(30));
  EXPECT_EQ(second.exit_code, 1) << second.out << second.err;
  EXPECT_EQ(sov::testing::CountLines(second.err), 1u) << second.err;
  EXPECT_THAT(second.err, HasSubstr("sovd.yaml:4:9: error: listen: cannot listen on " +
                                    sovd_->address() + ": Address already in use"));
}

TEST_F(DevGatewayTest, SecondSovdOnTheSameDataDirectoryIsRefused) {
  // Another port, the same data: refused before it touches the registry (crash recovery would
  // delete the running gateway's uploads in flight).
  std::string config = ReadTextFile(File("sovd.yaml"));
  const size_t at = config.find("\nlisten: ");
  ASSERT_NE(at, std::string::npos);
  config.replace(at + 1, config.find('\n', at + 1) - at - 1, "listen: 127.0.0.1:0");
  {
    std::ofstream out(File("second.yaml"));
    out << config;
  }
  auto second = sov::testing::RunProcess(
      {sov::testing::BuildPath("gateway/sovd"), "--config", File("second.yaml")},
      sov::testing::MinimalEnvironment(), std::chrono::seconds(30));
  EXPECT_EQ(second.exit_code, 1) << second.out << second.err;
  EXPECT_EQ(sov::testing::CountLines(second.err), 1u) << second.err;
  EXPECT_THAT(second.err, HasSubstr("another sovd is using"));
}

TEST_F(DevGatewayTest, SigtermAndSigintExitZero) {
  // Both shutdown signals end sovd gracefully with status 0.
  ASSERT_EQ(sovd_->Stop(SIGTERM), 0) << sovd_->Stderr();
  EXPECT_THAT(sovd_->Stderr(), HasSubstr("shutting down"));
  sovd_.reset();
  StartSovd({});
  ASSERT_EQ(sovd_->Stop(SIGINT), 0) << sovd_->Stderr();
}

TEST_F(DevGatewayTest, JsonLogsAreOneObjectPerLineWithoutSecrets) {
  // With --log-format json every stderr line is a JSON object with time, level, logger, msg;
  // neither the token nor key material appears in the logs.
  ASSERT_EQ(sovd_->Stop(SIGTERM), 0);
  sovd_.reset();
  StartSovd({"--log-format", "json"});
  v1::WhoAmIResponse response;
  ASSERT_TRUE(WhoAmI({"", "", DevToken()}, &response).ok());
  grpc::Status rejected = WhoAmI({"", "", gateway::GenerateBearerToken()}, &response);
  ASSERT_FALSE(rejected.ok());
  ASSERT_EQ(sovd_->Stop(SIGTERM), 0);
  const std::string logs = sovd_->Stderr();
  std::istringstream lines(logs);
  int calls = 0;
  for (std::string line; std::getline(lines, line);) {
    nlohmann::json json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(json.is_object()) << line;
    for (const char* key : {"time", "level", "logger", "msg"}) {
      EXPECT_TRUE(json.contains(key)) << key << " in " << line;
    }
    if (json["msg"] == "call" && json.value("tenant", "") == "acme-ml") ++calls;
  }
  EXPECT_GE(calls, 1) << logs;
  EXPECT_THAT(logs, Not(HasSubstr(DevToken())));
  EXPECT_THAT(logs, Not(HasSubstr("PRIVATE KEY")));
  EXPECT_THAT(logs, HasSubstr("policy_sha256"));
}

}  // namespace
}  // namespace sov
