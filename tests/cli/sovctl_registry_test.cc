// Shows the built sovctl's registry and audit commands without a gateway: argument errors with hints (exit 2), the registry key that must be pinned, and audit verify of hand-built export files, good and tampered.
#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/ed25519.h"
#include "tests/cli/audit_export_builder.h"
#include "tests/cli/sovctl_process.h"
#include "tests/cli/temp_dir.h"

namespace sov::cli {
namespace {

using ::sov::cli::testing::AuditExportBuilder;
using ::sov::cli::testing::SovctlFixture;
using ::sov::cli::testing::SovctlRun;
using ::sov::cli::testing::WriteTestFile;
using ::testing::HasSubstr;
using ::testing::StartsWith;

size_t CountLines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

class SovctlRegistryTest : public SovctlFixture {
 protected:
  void SetUp() override {
    SovctlFixture::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(crypto::WritePublicKeyFile(dir_.Join("signing.pub"), registry_.public_key()).ok());
  }

  crypto::Ed25519PrivateKey registry_ = crypto::Ed25519PrivateKey::Generate();
};

// Malformed names, versions and labels are usage errors with a hint, before any connection.
TEST_F(SovctlRegistryTest, ArgumentErrorsAreUsageErrors) {
  ExpectUsageError({"pull", "classifier", "-o", "model.bin"}, "has no tenant", "pull");
  ExpectUsageError({"show", "acme-ml/fraud@v1.0.0"}, "did you mean '1.0.0'?", "show");
  ExpectUsageError({"sign", "acme-ml/fraud", "--key", "k"}, "needs a version", "sign");
  ExpectUsageError({"revoke", "acme-ml/fraud@1.0.0", "--reason", ""}, "1 to 1024", "revoke");
  ExpectUsageError({"ls", "Acme-ML/fraud"}, "did you mean 'acme-ml/fraud'?", "ls");
  ExpectUsageError({"ls", "--all", "--stage", "released"}, "exclude each other", "ls");
  WriteTestFile(dir_.Join("data.bin"), "rows");
  ExpectUsageError({"push", "data.bin", "--kind", "dataset", "--name", "acme-ml/train",
                    "--version", "1.0.0", "--label", "team"},
                   "--label: label 'team' has no '='", "push");
  ExpectUsageError({"push", "data.bin", "--kind", "dataset", "--name", "acme-ml/train",
                    "--version", "1.0", "--trained-on", "acme-ml/x@1.0.0"},
                   "--version: version '1.0'", "push");
  ExpectUsageError({"push", "data.bin", "--kind", "dataset", "--name", "acme-ml/train",
                    "--version", "1.0.0", "--retain-until", "soon"},
                   "--retain-until: 'soon' is neither a duration from now", "push");
  ExpectUsageError({"audit", "query", "--since", "yesterday"}, "not an RFC 3339 time",
                   "audit query");
}

// push --help teaches --retain-until: what it keeps, and that the earlier deadline wins.
TEST_F(SovctlRegistryTest, PushHelpTeachesRetainUntil) {
  SovctlRun run = Sovctl({"push", "--help"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("--retain-until TIME"));
  EXPECT_THAT(run.out, HasSubstr("Keep the artifact no longer than TIME"));
  EXPECT_THAT(run.out, HasSubstr("whichever is first"));
}

// CLI11's own checks cover enum words and missing required flags.
TEST_F(SovctlRegistryTest, EnumWordsAreChecked) {
  SovctlRun run = Sovctl({"push", "f", "--kind", "dataset", "--name", "acme-ml/x", "--version",
                          "1.0.0", "--classification", "personel"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("personel"));
  EXPECT_EQ(Sovctl({"revoke", "acme-ml/x@1.0.0"}).exit_code, 2);  // --reason is required
}

// pull refuses to trust a key it was not given, before it downloads anything.
TEST_F(SovctlRegistryTest, PullNeedsAPinnedRegistryKey) {
  SovctlRun run = Sovctl({"--insecure", "--addr", "127.0.0.1:1", "pull", "acme-ml/fraud@1.0.0",
                          "-o", "model.bin"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, StartsWith("sovctl: error: no registry key to verify signatures with"));
  EXPECT_THAT(run.err, HasSubstr("--trust-server-key"));
  EXPECT_EQ(CountLines(run.err), 1u);
  EXPECT_FALSE(std::filesystem::exists(dir_.Join("model.bin")));
  EXPECT_FALSE(std::filesystem::exists(dir_.Join("model.bin.part")));
}

// With a key, a pull against an unreachable gateway fails UNAVAILABLE and writes nothing.
TEST_F(SovctlRegistryTest, PullUnavailableWritesNothing) {
  SovctlRun run = Sovctl({"--insecure", "--addr", "127.0.0.1:1", "pull", "acme-ml/fraud@1.0.0",
                          "-o", "model.bin", "--registry-key", "signing.pub"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, StartsWith("sovctl: error: UNAVAILABLE: "));
  EXPECT_EQ(CountLines(run.err), 1u) << run.err;
  EXPECT_FALSE(std::filesystem::exists(dir_.Join("model.bin")));
  EXPECT_FALSE(std::filesystem::exists(dir_.Join("model.bin.part")));
}

class SovctlAuditVerifyTest : public SovctlRegistryTest {
 protected:
  void SetUp() override {
    SovctlRegistryTest::SetUp();
    for (int i = 0; i < 5; ++i) {
      builder_.AddEntry(i % 2 == 0 ? "artifact.fetch" : "artifact.push");
      if (i == 1 || i == 4) builder_.AddCheckpoint();
    }
  }

  AuditExportBuilder builder_{registry_};
};

// A good export verifies offline with the key from the flag, the environment or the config file.
TEST_F(SovctlAuditVerifyTest, GoodExportVerifies) {
  WriteTestFile(dir_.Join("audit.jsonl"), builder_.Jsonl());
  const std::string expected = "audit log verified: 5 entries, 2 checkpoints, latest root " +
                               builder_.RootHex() + " at tree size 5 signed by " +
                               registry_.public_key().KeyId() + "\n";
  SovctlRun flag = Sovctl({"audit", "verify", "--file", "audit.jsonl", "--registry-key", "signing.pub"});
  EXPECT_EQ(flag.exit_code, 0) << flag.err;
  EXPECT_EQ(flag.out, expected);
  EXPECT_EQ(flag.err, "");

  SovctlRun env = Sovctl({"audit", "verify", "--file", "audit.jsonl"},
                         {{"SOV_REGISTRY_KEY", dir_.Join("signing.pub")}});
  EXPECT_EQ(env.exit_code, 0) << env.err;
  EXPECT_EQ(env.out, expected);

  WriteTestFile(dir_.Join("sovctl.yaml"), "registry_key: signing.pub\n");
  SovctlRun config = Sovctl({"--config", "sovctl.yaml", "audit", "verify", "--file", "audit.jsonl"});
  EXPECT_EQ(config.exit_code, 0) << config.err;
  EXPECT_EQ(config.out, expected);

  SovctlRun json = Sovctl({"audit", "verify", "--file", "audit.jsonl", "--registry-key",
                           "signing.pub", "--output", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json doc = nlohmann::json::parse(json.out);
  EXPECT_EQ(doc["verified"], true);
  EXPECT_EQ(doc["entries"], 5);
  EXPECT_EQ(doc["root_hash"], builder_.RootHex());
}

// An edited entry fails with one line naming the entry, exit 1.
TEST_F(SovctlAuditVerifyTest, EditedEntryFails) {
  v1::AuditEntry* entry = builder_.records[3].mutable_entry();  // entry 2 (after a checkpoint)
  ASSERT_EQ(entry->index(), 2);
  std::string data = entry->leaf_data();
  data.replace(data.find("artifact.fetch"), 14, "artifact.erase");
  entry->set_leaf_data(data);
  WriteTestFile(dir_.Join("audit.jsonl"), builder_.Jsonl());
  SovctlRun run = Sovctl({"audit", "verify", "--file", "audit.jsonl", "--registry-key", "signing.pub"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, StartsWith("sovctl: error: audit log verification failed: audit.jsonl:5: "
                                  "entry 2: leaf_data does not hash to the value entry 3 chains to"));
  EXPECT_EQ(CountLines(run.err), 1u);
  EXPECT_EQ(run.out, "");
}

// An export verified against another key fails at the first checkpoint.
TEST_F(SovctlAuditVerifyTest, WrongKeyFails) {
  crypto::Ed25519PrivateKey other = crypto::Ed25519PrivateKey::Generate();
  ASSERT_TRUE(crypto::WritePublicKeyFile(dir_.Join("other.pub"), other.public_key()).ok());
  WriteTestFile(dir_.Join("audit.jsonl"), builder_.Jsonl());
  SovctlRun run = Sovctl({"audit", "verify", "--file", "audit.jsonl", "--registry-key", "other.pub"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("audit.jsonl:3: the checkpoint after entry 1 (claiming tree size "
                                 "2): signature does not verify with the registry key"));
}

// Without a key anywhere, audit verify says how to give one.
TEST_F(SovctlAuditVerifyTest, NeedsAKey) {
  WriteTestFile(dir_.Join("audit.jsonl"), builder_.Jsonl());
  SovctlRun run = Sovctl({"audit", "verify", "--file", "audit.jsonl"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, StartsWith("sovctl: error: no registry key"));
}

// A missing export file is named.
TEST_F(SovctlAuditVerifyTest, MissingFileIsNamed) {
  SovctlRun run = Sovctl({"audit", "verify", "--file", "absent.jsonl", "--registry-key", "signing.pub"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("cannot open absent.jsonl"));
}

}  // namespace
}  // namespace sov::cli
