// Shows the built sovctl binary end to end: keygen, sign-blob and verify-blob (with tampering and thresholds), token create, usage and connection errors, argument checks of the registry commands, and --output json.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/dsse.h"
#include "crypto/sha256.h"
#include "tests/cli/sovctl_process.h"
#include "tests/cli/temp_dir.h"

namespace sov::cli {
namespace {

using ::sov::cli::testing::FileMode;
using ::sov::cli::testing::ReadTestFile;
using ::sov::cli::testing::SovctlFixture;
using ::sov::cli::testing::SovctlRun;
using ::sov::cli::testing::WriteTestFile;
using ::testing::HasSubstr;
using ::testing::StartsWith;

size_t CountLines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

class SovctlTest : public SovctlFixture {
 protected:
  // Makes KEY and KEY.pub in the test directory; returns the key id.
  std::string Keygen(const std::string& name) {
    SovctlRun run = Sovctl({"keygen", "--out", name, "--output", "json"});
    EXPECT_EQ(run.exit_code, 0) << run.err;
    return nlohmann::json::parse(run.out).at("key_id").get<std::string>();
  }
};

// keygen writes a 0600 PKCS#8 private key and a 0644 public key and prints the key id.
TEST_F(SovctlTest, KeygenWritesKeyPair) {
  SovctlRun run = Sovctl({"keygen", "--out", "signer.key"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_EQ(FileMode(dir_.Join("signer.key")), 0600);
  EXPECT_EQ(FileMode(dir_.Join("signer.key.pub")), 0644);
  EXPECT_THAT(ReadTestFile(dir_.Join("signer.key")), HasSubstr("-----BEGIN PRIVATE KEY-----"));
  EXPECT_THAT(ReadTestFile(dir_.Join("signer.key.pub")), HasSubstr("-----BEGIN PUBLIC KEY-----"));
  EXPECT_THAT(run.out, ::testing::ContainsRegex("key_id: +sha256:[0-9a-f]{64}\n"));
}

// keygen never overwrites: a second run fails with one line and leaves the key as it was.
TEST_F(SovctlTest, KeygenRefusesToOverwrite) {
  Keygen("signer.key");
  std::string before = ReadTestFile(dir_.Join("signer.key"));
  SovctlRun again = Sovctl({"keygen", "--out", "signer.key"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, StartsWith("sovctl: error: "));
  EXPECT_THAT(again.err, HasSubstr("signer.key"));
  EXPECT_EQ(CountLines(again.err), 1u);
  EXPECT_EQ(ReadTestFile(dir_.Join("signer.key")), before);

  // A stray FILE.pub also stops keygen before it writes anything.
  WriteTestFile(dir_.Join("other.key.pub"), "old");
  EXPECT_EQ(Sovctl({"keygen", "--out", "other.key"}).exit_code, 1);
  EXPECT_FALSE(std::filesystem::exists(dir_.Join("other.key")));
}

// A file signed with -o verifies against the signer's public key, and verify names key and subject.
TEST_F(SovctlTest, SignThenVerifyRoundTrip) {
  std::string key_id = Keygen("signer.key");
  WriteTestFile(dir_.Join("model.bin"), std::string(100000, 'w'));
  SovctlRun sign = Sovctl({"sign-blob", "--key", "signer.key", "model.bin", "-o", "model.dsse.json"});
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  EXPECT_EQ(FileMode(dir_.Join("model.dsse.json")), 0644);

  SovctlRun verify = Sovctl({"verify-blob", "--pub", "signer.key.pub", "model.dsse.json", "model.bin"});
  ASSERT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_EQ(verify.err, "");
  std::string hex = crypto::Sha256File(dir_.Join("model.bin")).value().Hex();
  EXPECT_THAT(verify.out, HasSubstr(key_id));
  EXPECT_THAT(verify.out, HasSubstr("model.bin sha256:" + hex));
  EXPECT_THAT(verify.out, HasSubstr("verified:"));
}

// Without -o, sign prints the envelope: an in-toto statement about the file, signed once.
TEST_F(SovctlTest, SignPrintsEnvelope) {
  std::string key_id = Keygen("signer.key");
  WriteTestFile(dir_.Join("data.csv"), "a,b\n1,2\n");
  SovctlRun sign = Sovctl({"sign-blob", "--key", "signer.key", "data.csv"});
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  nlohmann::json envelope = nlohmann::json::parse(sign.out);
  EXPECT_EQ(envelope["payloadType"], "application/vnd.in-toto+json");
  ASSERT_EQ(envelope["signatures"].size(), 1u);
  EXPECT_EQ(envelope["signatures"][0]["keyid"], key_id);
  nlohmann::json statement =
      nlohmann::json::parse(crypto::Base64Decode(envelope["payload"].get<std::string>()).value());
  EXPECT_EQ(statement["_type"], "https://in-toto.io/Statement/v1");
  EXPECT_EQ(statement["predicateType"], "https://sovereign.dev/attestations/signed-file/v1");
  EXPECT_EQ(statement["subject"][0]["name"], "data.csv");
  EXPECT_EQ(statement["subject"][0]["digest"]["sha256"], crypto::Sha256Of("a,b\n1,2\n").Hex());
  EXPECT_EQ(statement["predicate"]["size"], 8);
  EXPECT_THAT(statement["predicate"]["signed_at"].get<std::string>(),
              ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"));
}

class SignedFileTest : public SovctlTest {
 protected:
  void SetUp() override {
    SovctlTest::SetUp();
    key_id_ = Keygen("signer.key");
    WriteTestFile(dir_.Join("model.bin"), "the weights");
    SovctlRun sign = Sovctl({"sign-blob", "--key", "signer.key", "model.bin", "-o", "model.dsse.json"});
    ASSERT_EQ(sign.exit_code, 0) << sign.err;
  }

  // Expects verify to fail with exit 1 and one error line containing `reason`.
  void ExpectVerifyFails(const std::vector<std::string>& args, const std::string& reason) {
    SovctlRun run = Sovctl(args);
    EXPECT_EQ(run.exit_code, 1) << run.out;
    EXPECT_THAT(run.err, StartsWith("sovctl: error: verification failed: "));
    EXPECT_THAT(run.err, HasSubstr(reason));
    EXPECT_EQ(CountLines(run.err), 1u) << run.err;
  }

  std::string key_id_;
};

// A modified file no longer matches the envelope's subject.
TEST_F(SignedFileTest, VerifyFailsOnModifiedFile) {
  WriteTestFile(dir_.Join("model.bin"), "the weightz");
  ExpectVerifyFails({"verify-blob", "--pub", "signer.key.pub", "model.dsse.json", "model.bin"},
                    "digest mismatch");
}

// An envelope whose payload was edited after signing fails the signature check.
TEST_F(SignedFileTest, VerifyFailsOnTamperedEnvelope) {
  nlohmann::json envelope = nlohmann::json::parse(ReadTestFile(dir_.Join("model.dsse.json")));
  nlohmann::json statement =
      nlohmann::json::parse(crypto::Base64Decode(envelope["payload"].get<std::string>()).value());
  statement["subject"][0]["digest"]["sha256"] = crypto::Sha256Of("evil").Hex();
  envelope["payload"] = crypto::Base64Encode(statement.dump());
  WriteTestFile(dir_.Join("tampered.json"), envelope.dump());
  ExpectVerifyFails({"verify-blob", "--pub", "signer.key.pub", "tampered.json"},
                    "signature check failed");
}

// A public key that did not sign the envelope verifies nothing.
TEST_F(SignedFileTest, VerifyFailsWithWrongKey) {
  Keygen("stranger.key");
  ExpectVerifyFails({"verify-blob", "--pub", "stranger.key.pub", "model.dsse.json", "model.bin"},
                    "signature check failed");
}

// Threshold 2 fails with one signature and passes once a second key signs with sign --envelope.
TEST_F(SignedFileTest, ThresholdTwoNeedsASecondSignature) {
  std::string second_id = Keygen("reviewer.key");
  const std::vector<std::string> verify = {"verify-blob", "--pub", "signer.key.pub",
                                           "--pub", "reviewer.key.pub", "--threshold",
                                           "2", "model.dsse.json", "model.bin"};
  ExpectVerifyFails(verify, "signature check failed");

  SovctlRun cosign = Sovctl(
      {"sign-blob", "--key", "reviewer.key", "--envelope", "model.dsse.json", "-o", "model.dsse.json"});
  ASSERT_EQ(cosign.exit_code, 0) << cosign.err;
  SovctlRun ok = Sovctl(verify);
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr(key_id_));
  EXPECT_THAT(ok.out, HasSubstr(second_id));

  // The same key cannot sign twice, so it cannot count twice either.
  SovctlRun again = Sovctl(
      {"sign-blob", "--key", "reviewer.key", "--envelope", "model.dsse.json", "-o", "model.dsse.json"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("already signed"));
}

// verify --output json prints one object, on success and on failure.
TEST_F(SignedFileTest, VerifyJsonOutputParses) {
  SovctlRun ok = Sovctl({"verify-blob", "--pub", "signer.key.pub", "model.dsse.json", "model.bin", "--output",
                   "json"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  nlohmann::json good = nlohmann::json::parse(ok.out);
  EXPECT_EQ(good["verified"], true);
  EXPECT_EQ(good["key_ids"], nlohmann::json::array({key_id_}));
  EXPECT_EQ(good["subjects"][0]["name"], "model.bin");
  EXPECT_EQ(good["subjects"][0]["digest"]["sha256"],
            crypto::Sha256File(dir_.Join("model.bin")).value().Hex());
  EXPECT_TRUE(good["error"].is_null());

  WriteTestFile(dir_.Join("model.bin"), "changed");
  SovctlRun bad = Sovctl({"--output", "json", "verify-blob", "--pub", "signer.key.pub", "model.dsse.json",
                    "model.bin"});
  EXPECT_EQ(bad.exit_code, 1);
  nlohmann::json failed = nlohmann::json::parse(bad.out);
  EXPECT_EQ(failed["verified"], false);
  EXPECT_THAT(failed["error"].get<std::string>(), HasSubstr("digest mismatch"));
}

// sign refuses FILE together with --envelope as a usage error (exit 2).
TEST_F(SignedFileTest, SignFileAndEnvelopeIsAUsageError) {
  SovctlRun run = Sovctl({"sign-blob", "--key", "signer.key", "--envelope", "model.dsse.json", "model.bin"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--help"));
}

// sign refuses to write the envelope over the file it signs.
TEST_F(SignedFileTest, SignRefusesToOverwriteTheSignedFile) {
  SovctlRun run = Sovctl({"sign-blob", "--key", "signer.key", "model.bin", "-o", "./model.bin"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("FILE itself"));
  EXPECT_EQ(ReadTestFile(dir_.Join("model.bin")), "the weights");
}

// A signing key that others may read is refused before anything is signed.
TEST_F(SignedFileTest, SignRefusesReadableKey) {
  ::chmod(dir_.Join("signer.key").c_str(), 0644);
  SovctlRun run = Sovctl({"sign-blob", "--key", "signer.key", "model.bin"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("signer.key"));
  EXPECT_EQ(run.out, "");
}

// token create --output json gives a well-formed token whose sha256 is the hash to store.
TEST_F(SovctlTest, TokenCreateJson) {
  SovctlRun run = Sovctl({"token", "create", "--name", "ci-pipeline", "--output", "json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  nlohmann::json doc = nlohmann::json::parse(run.out);
  std::string token = doc["token"];
  EXPECT_EQ(doc["name"], "ci-pipeline");
  EXPECT_THAT(token, ::testing::MatchesRegex("sovt_[A-Za-z0-9_-]{43}"));
  EXPECT_EQ(doc["sha256"], crypto::Sha256Of(token).ToString());
  EXPECT_THAT(run.err, HasSubstr("only once"));
}

// token create's text output carries the token and the YAML lines for the tenants file.
TEST_F(SovctlTest, TokenCreateText) {
  SovctlRun run = Sovctl({"token", "create", "--name", "ci-pipeline"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, ::testing::ContainsRegex("token: +sovt_"));
  EXPECT_THAT(run.out, ::testing::ContainsRegex(
                           "tokens:\n  - name: ci-pipeline\n    sha256: \"sha256:[0-9a-f]{64}\"\n"));
}

// token create --out writes the token to a new 0600 file that --token-file accepts.
TEST_F(SovctlTest, TokenCreateToFile) {
  SovctlRun run = Sovctl({"token", "create", "--name", "nb", "--out", "nb.token"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(FileMode(dir_.Join("nb.token")), 0600);
  EXPECT_THAT(ReadTestFile(dir_.Join("nb.token")), ::testing::MatchesRegex("sovt_[A-Za-z0-9_-]{43}\n"));
  EXPECT_THAT(run.out, ::testing::Not(HasSubstr("sovt_")));
  EXPECT_EQ(Sovctl({"token", "create", "--name", "nb", "--out", "nb.token"}).exit_code, 1);
}

// whoami against a port where nothing listens fails UNAVAILABLE: exit 1, one line on stderr.
TEST_F(SovctlTest, WhoAmIUnavailable) {
  // A bound socket that never listens: connections to it are refused, and no one else can take it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::string address = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));

  SovctlRun plaintext = Sovctl({"--insecure", "--addr", address, "--timeout", "10", "whoami"});
  EXPECT_EQ(plaintext.exit_code, 1);
  EXPECT_THAT(plaintext.err, StartsWith("sovctl: error: UNAVAILABLE: "));
  EXPECT_EQ(CountLines(plaintext.err), 1u) << plaintext.err;
  EXPECT_EQ(plaintext.out, "");

  // Over TLS (the default), with the address from the environment and JSON output asked for.
  SovctlRun tls = Sovctl({"whoami", "--output", "json"}, {{"SOV_ADDR", address}});
  EXPECT_EQ(tls.exit_code, 1);
  EXPECT_THAT(tls.err, StartsWith("sovctl: error: UNAVAILABLE: "));
  EXPECT_EQ(CountLines(tls.err), 1u) << tls.err;
  ::close(fd);
}

// whoami with no address anywhere is a local error that says where to give one.
TEST_F(SovctlTest, WhoAmIWithoutAddress) {
  SovctlRun run = Sovctl({"whoami"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, StartsWith("sovctl: error: no gateway address"));
  EXPECT_EQ(CountLines(run.err), 1u);
}

// A malformed config file stops whoami with one line naming FILE:LINE:COL.
TEST_F(SovctlTest, WhoAmIBadConfigFile) {
  std::string config = WriteTestFile(dir_.Join("home/.config/sovctl/config.yaml"),
                                     "address: 127.0.0.1:1\nkey_file: x\n");
  SovctlRun run = Sovctl({"whoami"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err, "sovctl: error: " + config +
                         ":2:1: unknown key 'key_file' (expected one of address, ca, cert, key, "
                         "token_file, registry_key)\n");
}

// A 0644 client key is refused with one line naming the file.
TEST_F(SovctlTest, WhoAmIRefusesReadableClientKey) {
  WriteTestFile(dir_.Join("client.pem"), "cert");
  WriteTestFile(dir_.Join("client.key"), "key", 0644);
  SovctlRun run = Sovctl({"--addr", "127.0.0.1:1", "--cert", "client.pem", "--key", "client.key", "whoami"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, StartsWith("sovctl: error: "));
  EXPECT_THAT(run.err, HasSubstr("client.key"));
  EXPECT_EQ(CountLines(run.err), 1u);
}

// --insecure is refused for an address that is not loopback.
TEST_F(SovctlTest, InsecureRefusedForRemoteAddress) {
  SovctlRun run = Sovctl({"--insecure", "--addr", "10.1.2.3:7443", "whoami"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("not a loopback address"));
}

// Bad flags are usage errors: exit 2, CLI11's message and a pointer to --help.
TEST_F(SovctlTest, UsageErrorsExitTwo) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{},
                                             {"verify-blob", "env.json"},
                                             {"pull", "acme-ml/fraud@1.0.0"},
                                             {"push", "f", "--kind", "dataset"},
                                             {"audit"},
                                             {"keygen"},
                                             {"whoami", "--no-such-flag"},
                                             {"--output", "yaml", "version"},
                                             {"token"}}) {
    SovctlRun run = Sovctl(args);
    EXPECT_EQ(run.exit_code, 2) << ::testing::PrintToString(args) << run.err;
    EXPECT_THAT(run.err, StartsWith("sovctl: error: "));
    EXPECT_THAT(run.err, HasSubstr("--help' for usage."));
  }
}

// Every command's --help exits 0 and shows an example.
TEST_F(SovctlTest, HelpTeaches) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--help"}, {"whoami", "--help"}, {"keygen", "--help"}, {"sign-blob", "--help"},
           {"verify-blob", "--help"}, {"token", "create", "--help"}, {"version", "--help"},
           {"push", "--help"}, {"pull", "--help"}, {"ls", "--help"}, {"show", "--help"},
           {"sign", "--help"}, {"release", "--help"}, {"revoke", "--help"}, {"verify", "--help"},
           {"audit", "--help"}, {"audit", "tail", "--help"}, {"audit", "query", "--help"},
           {"audit", "export", "--help"}, {"audit", "verify", "--help"}}) {
    SovctlRun run = Sovctl(args);
    EXPECT_EQ(run.exit_code, 0) << ::testing::PrintToString(args);
    EXPECT_THAT(run.out, HasSubstr("Example")) << ::testing::PrintToString(args);
  }
}

// The command list shows each command's first sentence: "Art. 17" does not end one.
TEST_F(SovctlTest, HelpListsEachCommandsFirstSentence) {
  SovctlRun run = Sovctl({"--help"});
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_THAT(run.out, HasSubstr("(GDPR Art. 17) by crypto-shredding:"));
  EXPECT_THAT(run.out, HasSubstr("(GDPR Art. 30), built from the registry and the audit log."));
  EXPECT_THAT(run.out, HasSubstr("Read, export and verify the gateway's tamper-evident audit "
                                 "log.\n"));
  EXPECT_THAT(run.out, ::testing::Not(HasSubstr("It records every policy decision")));
}

// version prints sovctl's version, as text and as JSON.
TEST_F(SovctlTest, Version) {
  SovctlRun text = Sovctl({"version"});
  ASSERT_EQ(text.exit_code, 0);
  EXPECT_THAT(text.out, ::testing::ContainsRegex("sovctl: +[0-9]+\\.[0-9]+\\.[0-9]+"));
  SovctlRun json = Sovctl({"version", "--output", "json"});
  ASSERT_EQ(json.exit_code, 0);
  EXPECT_TRUE(nlohmann::json::parse(json.out).contains("version"));
}

}  // namespace
}  // namespace sov::cli
