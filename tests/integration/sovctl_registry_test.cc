// The ML engineer's path end to end, with the real binaries: `sovd --dev` and `sovctl` with the
// dev SOV_CONFIG. Push, list, show, pull (digest and registry signature checked), verify; a
// push whose client is killed mid-stream resumes where the gateway's durable offset says when
// run again; and an audit entry edited in the database is named by `sovctl audit verify`.
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/dsse.h"
#include "crypto/sha256.h"
#include "tests/testing/process.h"
#include "tests/testing/temp_dir.h"

namespace sov {
namespace {

namespace fs = std::filesystem;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

class SovctlEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sovctl_ = sov::testing::BuildPath("cli/sovctl");
    ASSERT_EQ(::access(sovctl_.c_str(), X_OK), 0) << "sovctl is not built at " << sovctl_;
    Start();
  }

  void Start() {
    std::string error;
    sovd_ = sov::testing::SovdProcess::Start({"--dev", "--data-dir", dir()}, &error);
    ASSERT_NE(sovd_, nullptr) << error;
  }

  std::string dir() const { return tmp_.Join("dev"); }

  sov::testing::Environment Env() const {
    sov::testing::Environment env = sov::testing::MinimalEnvironment();
    env["SOV_CONFIG"] = dir() + "/sovctl.yaml";
    return env;
  }

  sov::testing::ProcessResult Sovctl(std::vector<std::string> args) {
    args.insert(args.begin(), sovctl_);
    return sov::testing::RunProcess(args, Env(), std::chrono::seconds(120));
  }

  // Writes `mib` MiB (plus 12345 bytes, so the last chunk is partial) of random bytes.
  std::string WriteRandomFile(const std::string& name, int mib, uint64_t seed) {
    const std::string path = tmp_.Join(name);
    std::mt19937_64 rng(seed);
    std::string bytes(static_cast<size_t>(mib) * (1 << 20) + 12345, '\0');
    for (size_t i = 0; i + 8 <= bytes.size(); i += 8) {
      uint64_t w = rng();
      std::memcpy(&bytes[i], &w, 8);
    }
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
  }

  static std::string DigestOf(const std::string& path) {
    Result<crypto::Digest> digest = crypto::Sha256File(path);
    EXPECT_TRUE(digest.ok()) << digest.status().message();
    return digest.ok() ? digest->ToString() : "";
  }

  std::string sovctl_;
  sov::testing::TempDir tmp_;
  std::unique_ptr<sov::testing::SovdProcess> sovd_;
};

TEST_F(SovctlEndToEndTest, PushListShowPullVerify) {
  const std::string file = WriteRandomFile("data.bin", 3, 1);
  const std::string digest = DigestOf(file);
  auto pushed = Sovctl({"push", file, "--kind", "dataset", "--name", "acme-ml/fraud/transactions",
                        "--version", "1.0.0", "--classification", "internal", "--purpose",
                        "fraud-detection", "--label", "team=risk", "--output", "json"});
  ASSERT_EQ(pushed.exit_code, 0) << pushed.out << pushed.err;
  nlohmann::json artifact = nlohmann::json::parse(pushed.out)["artifact"];
  EXPECT_EQ(artifact["digest"], digest);
  EXPECT_EQ(artifact["stage"], "STAGE_PENDING");
  // Internal data may stay anywhere in the EEA; the first such location in config order.
  EXPECT_EQ(artifact["storageLocation"]["id"], "eu-de-1");

  auto listed = Sovctl({"ls", "acme-ml/"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("acme-ml/fraud/transactions"));
  EXPECT_THAT(listed.out, HasSubstr("1.0.0"));

  auto shown = Sovctl({"show", "acme-ml/fraud/transactions@1.0.0"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr(digest));
  EXPECT_THAT(shown.out, HasSubstr("team=risk"));
  // Pushed without --retain-until: no such line.
  EXPECT_THAT(shown.out, Not(HasSubstr("retain_until")));

  const std::string out = tmp_.Join("pulled.bin");
  auto pulled = Sovctl({"pull", "acme-ml/fraud/transactions@1.0.0", "-o", out, "--no-progress"});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.out << pulled.err;
  EXPECT_EQ(DigestOf(out), digest);
  EXPECT_FALSE(fs::exists(out + ".part"));

  auto verified = Sovctl({"verify", "acme-ml/fraud/transactions@1.0.0", "--file", file});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;

  // A local file with other bytes does not verify.
  const std::string other = WriteRandomFile("other.bin", 0, 2);
  auto mismatch = Sovctl({"verify", "acme-ml/fraud/transactions@1.0.0", "--file", other});
  EXPECT_EQ(mismatch.exit_code, 1) << mismatch.out << mismatch.err;

  // Versions are immutable.
  auto again = Sovctl({"push", other, "--kind", "dataset", "--name", "acme-ml/fraud/transactions",
                       "--version", "1.0.0", "--classification", "internal", "--purpose",
                       "fraud-detection"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("ALREADY_EXISTS"));
}

// --retain-until reaches the gateway: internal data has no retention rule in the dev policy, so
// the artifact's deadline is the pusher's (erase), and the signed manifest records it as asked.
// `show` prints the pusher's limit on its own line, apart from the effective deadline, and its
// JSON carries it as artifact.retainUntil.
TEST_F(SovctlEndToEndTest, PushWithRetainUntil) {
  const std::string file = WriteRandomFile("data.bin", 0, 3);
  auto pushed = Sovctl({"push", file, "--kind", "dataset", "--name", "acme-ml/fraud/scratch",
                        "--version", "1.0.0", "--classification", "internal", "--purpose",
                        "fraud-detection", "--retain-until", "2030-01-31", "--no-progress"});
  ASSERT_EQ(pushed.exit_code, 0) << pushed.out << pushed.err;

  auto shown = Sovctl({"show", "acme-ml/fraud/scratch@1.0.0", "--output", "json"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  nlohmann::json doc = nlohmann::json::parse(shown.out);
  EXPECT_EQ(doc["artifact"]["retentionDeadline"], "2030-01-31T00:00:00Z");
  EXPECT_EQ(doc["artifact"]["retentionAction"], "RETENTION_ACTION_ERASE");
  EXPECT_EQ(doc["artifact"]["retainUntil"], "2030-01-31T00:00:00Z");
  Result<std::string> payload =
      crypto::Base64Decode(doc["manifest"]["payload"].get<std::string>());
  ASSERT_TRUE(payload.ok()) << payload.status().message();
  nlohmann::json statement = nlohmann::json::parse(*payload);
  EXPECT_EQ(statement["predicate"]["retention"]["retainUntil"], "2030-01-31T00:00:00Z");

  auto text = Sovctl({"show", "acme-ml/fraud/scratch@1.0.0"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("2030-01-31T00:00:00Z (erase)"));
  EXPECT_THAT(text.out, ContainsRegex("\nretain_until: +2030-01-31T00:00:00Z \\(set at push\\)\n"));
}

// Returns the size of the largest staging file under the dev blob directories.
uint64_t LargestStagingFile(const std::string& dir) {
  uint64_t largest = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir + "/blobs", ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->path().extension() == ".part") largest = std::max<uint64_t>(largest, it->file_size(ec));
  }
  return largest;
}

TEST_F(SovctlEndToEndTest, KilledPushResumesFromTheDurableOffset) {
  const std::string file = WriteRandomFile("big.bin", 96, 3);
  const std::string digest = DigestOf(file);
  const std::vector<std::string> push = {
      sovctl_, "push", file, "--kind", "dataset", "--name", "acme-ml/fraud/big", "--version",
      "1.0.0", "--classification", "internal", "--purpose", "fraud-detection", "--no-progress"};

  // Start the push and kill -9 the client once the gateway has staged a few chunks.
  pid_t pid = ::fork();
  if (pid == 0) {
    int null_fd = ::open("/dev/null", O_WRONLY);
    ::dup2(null_fd, 1);
    ::dup2(null_fd, 2);
    std::vector<char*> argv;
    for (const auto& a : push) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : Env()) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ASSERT_GT(pid, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool staged = false;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (LargestStagingFile(dir()) > (8u << 20)) {
      staged = true;
      break;
    }
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(staged) << "the push finished or stalled before 8 MiB were staged";
  // The gateway notices the broken stream and records its durable offset.
  std::this_thread::sleep_for(std::chrono::seconds(1));

  // The rerun finds the open upload and resumes after the bytes the gateway made durable when
  // the stream broke.
  auto resumed = sov::testing::RunProcess(push, Env(), std::chrono::seconds(120));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_THAT(resumed.err + resumed.out, ::testing::ContainsRegex("resuming upload [^ ]+ at [1-9]"));

  const std::string out = tmp_.Join("big.pulled");
  auto pulled = Sovctl({"pull", "acme-ml/fraud/big@1.0.0", "-o", out, "--no-progress"});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  EXPECT_EQ(DigestOf(out), digest);
}

TEST_F(SovctlEndToEndTest, AuditVerifyNamesAnEditedEntry) {
  const std::string file = WriteRandomFile("d.bin", 0, 4);
  for (const char* version : {"1.0.0", "1.1.0", "1.2.0"}) {
    auto pushed = Sovctl({"push", file, "--kind", "dataset", "--name", "acme-ml/audit/data",
                          "--version", version, "--classification", "internal", "--purpose",
                          "fraud-detection", "--no-progress"});
    ASSERT_EQ(pushed.exit_code, 0) << pushed.err;
  }
  // The compliance officer exports and verifies the whole log.
  sov::testing::Environment compliance = Env();
  compliance["SOV_CERT"] = dir() + "/clients/compliance.pem";
  compliance["SOV_KEY"] = dir() + "/clients/compliance.key";
  auto ok = sov::testing::RunProcess({sovctl_, "audit", "verify"}, compliance);
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("audit log verified"));

  // Edit one entry's content behind the gateway's back: the action of entry 3.
  ASSERT_EQ(sovd_->Stop(SIGTERM), 0);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir() + "/registry.db").c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db,
                        "UPDATE audit_entries SET leaf_data = "
                        "replace(CAST(leaf_data AS TEXT), 'artifact.', 'artifacT.') WHERE idx = 3",
                        nullptr, nullptr, &err);
  ASSERT_EQ(rc, SQLITE_OK) << (err != nullptr ? err : "");
  EXPECT_EQ(sqlite3_changes(db), 1);
  sqlite3_close(db);
  Start();

  auto bad = sov::testing::RunProcess({sovctl_, "audit", "verify"}, compliance);
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_THAT(bad.out + bad.err, ::testing::ContainsRegex("entry 3([^0-9]|$)"));
}

}  // namespace
}  // namespace sov
