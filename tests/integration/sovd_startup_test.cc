// Shows that sovd refuses to start on bad input with one clear error line naming the file (and
// exits non-zero), that --insecure-loopback is loopback-only and token-only, and how flags fail.
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <regex>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "gateway/dev_environment.h"
#include "sov/v1/identity.grpc.pb.h"
#include "tests/testing/process.h"
#include "tests/testing/temp_dir.h"

namespace sov {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using sov::testing::CountLines;
using sov::testing::ReadTextFile;

class SovdStartupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = gateway::PrepareDevEnvironment(tmp_.Join("dev"));
    ASSERT_TRUE(env.ok()) << env.status().ToString();
    dir_ = env->dir;
  }

  std::string File(const std::string& name) const { return dir_ + "/" + name; }

  // Replaces the first `from` in sovd.yaml with `to`.
  void EditConfig(const std::string& from, const std::string& to) {
    std::string text = ReadTextFile(File("sovd.yaml"));
    size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    sov::testing::WriteTextFile(File("sovd.yaml"), text);
  }

  sov::testing::ProcessResult RunSovd(const std::vector<std::string>& args) {
    std::vector<std::string> argv{sov::testing::BuildPath("gateway/sovd")};
    argv.insert(argv.end(), args.begin(), args.end());
    return sov::testing::RunProcess(argv, sov::testing::MinimalEnvironment(),
                                    std::chrono::seconds(30));
  }

  // Expects exit status 1 and exactly one line on stderr (returned), nothing on stdout.
  std::string ExpectOneErrorLine(const sov::testing::ProcessResult& result) {
    EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
    EXPECT_EQ(CountLines(result.err), 1u) << result.err;
    EXPECT_EQ(result.out, "");
    return result.err;
  }

  sov::testing::TempDir tmp_;
  std::string dir_;
};

TEST_F(SovdStartupTest, MalformedConfigIsOneLineWithFileLineColumn) {
  // A YAML syntax error, a wrong type and an unknown key: each names sovd.yaml:LINE:COLUMN.
  sov::testing::WriteTextFile(tmp_.Join("broken.yaml"), "listen: 127.0.0.1:0\ntls: {cert: [a\n");
  std::string err = ExpectOneErrorLine(RunSovd({"--config", tmp_.Join("broken.yaml")}));
  EXPECT_TRUE(std::regex_search(err, std::regex("^" + tmp_.Join("broken.yaml") + ":[0-9]+:[0-9]+: error: ")))
      << err;

  EditConfig("  cert: server.pem", "  cert: [server.pem]");
  err = ExpectOneErrorLine(RunSovd({"--config", File("sovd.yaml")}));
  EXPECT_THAT(err, StartsWith(File("sovd.yaml") + ":7:9: error: tls.cert: expected a string"));

  EditConfig("  cert: [server.pem]", "  cert: server.pem\n  ciphers: all");
  err = ExpectOneErrorLine(RunSovd({"--config", File("sovd.yaml")}));
  EXPECT_THAT(err, StartsWith(File("sovd.yaml") + ":8:3: error: unknown key 'tls.ciphers'"));
}

TEST_F(SovdStartupTest, MasterKeyReadableByOthersIsRefusedWithTheFix) {
  // master.key with mode 0644: one line naming the file and the chmod that fixes it.
  ASSERT_EQ(::chmod(File("master.key").c_str(), 0644), 0);
  std::string err = ExpectOneErrorLine(RunSovd({"--dev", "--data-dir", dir_}));
  EXPECT_THAT(err, HasSubstr("master_key: "));
  EXPECT_THAT(err, HasSubstr(File("master.key")));
  EXPECT_THAT(err, HasSubstr("chmod 600 " + File("master.key")));
  // The same holds for the signing key once the master key is fixed.
  ASSERT_EQ(::chmod(File("master.key").c_str(), 0600), 0);
  ASSERT_EQ(::chmod(File("signing.key").c_str(), 0640), 0);
  err = ExpectOneErrorLine(RunSovd({"--dev", "--data-dir", dir_}));
  EXPECT_THAT(err, HasSubstr("signing_key: "));
  EXPECT_THAT(err, HasSubstr("chmod 600 " + File("signing.key")));
}

TEST_F(SovdStartupTest, MissingFileIsNamedWithItsKey) {
  // A tenants file that does not exist is reported at the line of the `tenants:` key.
  EditConfig("tenants: tenants.yaml", "tenants: nowhere.yaml");
  std::string err = ExpectOneErrorLine(RunSovd({"--config", File("sovd.yaml")}));
  EXPECT_THAT(err, StartsWith(File("sovd.yaml") + ":"));
  EXPECT_THAT(err, HasSubstr("error: tenants: "));
  EXPECT_THAT(err, HasSubstr(File("nowhere.yaml")));
}

TEST_F(SovdStartupTest, BadTenantsFileNamesItsOwnLine) {
  // An error inside tenants.yaml points into tenants.yaml.
  std::string tenants = ReadTextFile(File("tenants.yaml"));
  tenants.replace(tenants.find("jurisdiction: US"), 16, "jurisdiction: USA");
  sov::testing::WriteTextFile(File("tenants.yaml"), tenants);
  std::string err = ExpectOneErrorLine(RunSovd({"--config", File("sovd.yaml")}));
  EXPECT_TRUE(std::regex_search(err, std::regex("^" + File("tenants.yaml") + ":[0-9]+:19: error: .*'USA'")))
      << err;
}

TEST_F(SovdStartupTest, InsecureLoopbackIsRefusedOnANonLoopbackAddress) {
  // Plaintext on 0.0.0.0 is refused before anything listens.
  EditConfig("listen: 127.0.0.1:0", "listen: 0.0.0.0:0");
  std::string err = ExpectOneErrorLine(RunSovd({"--config", File("sovd.yaml"), "--insecure-loopback"}));
  EXPECT_THAT(err, HasSubstr("listen: --insecure-loopback"));
  EXPECT_THAT(err, HasSubstr("not a loopback address"));
}

TEST_F(SovdStartupTest, InsecureLoopbackServesBearerTokensOnly) {
  // On 127.0.0.1 in plaintext: the dev token authenticates, no token does not.
  std::string error;
  auto sovd = sov::testing::SovdProcess::Start({"--config", File("sovd.yaml"), "--insecure-loopback"},
                                               &error);
  ASSERT_NE(sovd, nullptr) << error;
  EXPECT_EQ(sovd->mode(), "insecure-loopback");
  auto stub = v1::IdentityService::NewStub(
      grpc::CreateChannel(sovd->address(), grpc::InsecureChannelCredentials()));
  std::string token = ReadTextFile(File("clients/acme-ml.token"));
  token.pop_back();  // newline
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    context.AddMetadata("authorization", "Bearer " + token);
    v1::WhoAmIResponse response;
    grpc::Status status = stub->WhoAmI(&context, v1::WhoAmIRequest(), &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.tenant_id(), "acme-ml");
    EXPECT_EQ(response.auth_method(), v1::AUTH_METHOD_BEARER_TOKEN);
  }
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::WhoAmIResponse response;
    grpc::Status status = stub->WhoAmI(&context, v1::WhoAmIRequest(), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  // An idle channel nobody polls delays gRPC's server shutdown by seconds; close it first,
  // as a finished client would.
  stub.reset();
  EXPECT_EQ(sovd->Stop(SIGTERM), 0);
}

TEST_F(SovdStartupTest, NonDevDirectoryIsNotTakenOver) {
  // --dev on a directory with unrelated files refuses, and leaves it alone.
  std::filesystem::create_directories(tmp_.Join("mine"));
  sov::testing::WriteTextFile(tmp_.Join("mine/notes.txt"), "keep\n");
  std::string err = ExpectOneErrorLine(RunSovd({"--dev", "--data-dir", tmp_.Join("mine")}));
  EXPECT_THAT(err, StartsWith("sovd: error: "));
  EXPECT_THAT(err, HasSubstr("holds files but no sovd.yaml"));
}

TEST_F(SovdStartupTest, FlagsTeachAndBadFlagsAreUsageErrors) {
  // --help explains the modes; an unknown flag or --config with --dev is exit 2, one line;
  // no flags at all says what to run.
  auto help = RunSovd({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--config", "--dev", "--data-dir", "--insecure-loopback",
                           "--no-policy-watch", "--log-format", "--log-level"}) {
    EXPECT_THAT(help.out, HasSubstr(flag));
  }
  auto bogus = RunSovd({"--bogus"});
  EXPECT_EQ(bogus.exit_code, 2);
  EXPECT_EQ(CountLines(bogus.err), 1u) << bogus.err;
  EXPECT_THAT(bogus.err, StartsWith("sovd: error: "));
  auto both = RunSovd({"--dev", "--config", "x.yaml"});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_EQ(CountLines(both.err), 1u) << both.err;
  auto level = RunSovd({"--log-level", "loud"});
  EXPECT_EQ(level.exit_code, 2);
  std::string err = ExpectOneErrorLine(RunSovd({}));
  EXPECT_THAT(err, HasSubstr("sovd --config FILE"));
}

}  // namespace
}  // namespace sov
