// Shows what `sovctl audit verify` accepts and how it names the entry or checkpoint at fault in edited, shortened and mis-signed exports.
#include "cli/audit_verify.h"

#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/cli/audit_export_builder.h"

namespace sov::cli {
namespace {

using ::sov::cli::testing::AuditExportBuilder;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Feeds `records` to a verifier trusting `keys`, as the live export path does.
Result<AuditVerification> Verify(const std::vector<v1::ExportResponse>& records,
                                 std::vector<crypto::Ed25519PublicKey> keys) {
  AuditExportVerifier verifier(std::move(keys));
  for (const v1::ExportResponse& record : records) {
    Status st = record.has_entry()
                    ? verifier.AddEntry({record.entry().index(), record.entry().leaf_data(),
                                         record.entry().leaf_hash()})
                    : verifier.AddCheckpoint(ToCryptoEnvelope(record.checkpoint().envelope()));
    if (!st.ok()) return st;
  }
  return verifier.Finish();
}

class AuditVerifyTest : public ::testing::Test {
 protected:
  // entries 0..n-1 with a checkpoint after each entry whose number is in `checkpoints_after`.
  void Build(int n, std::vector<int> checkpoints_at) {
    for (int i = 0; i < n; ++i) {
      builder_.AddEntry(i % 2 == 0 ? "artifact.fetch" : "artifact.push");
      for (int size : checkpoints_at) {
        if (size == i + 1) builder_.AddCheckpoint();
      }
    }
  }

  // The position in records of entry `index`.
  size_t EntryPosition(int64_t index) const {
    for (size_t i = 0; i < builder_.records.size(); ++i) {
      if (builder_.records[i].has_entry() && builder_.records[i].entry().index() == index) return i;
    }
    ADD_FAILURE() << "no entry " << index;
    return 0;
  }

  // Changes entry `index`'s leaf_data (not its leaf_hash field, unless `hide` is set).
  void EditEntry(int64_t index, bool hide = false) {
    v1::AuditEntry* entry = builder_.records[EntryPosition(index)].mutable_entry();
    std::string data = entry->leaf_data();
    size_t at = data.find("artifact.");
    ASSERT_NE(at, std::string::npos);
    data.replace(at, std::string("artifact.").size(), "artefact.");
    entry->set_leaf_data(data);
    if (hide) {
      crypto::merkle::Hash hash = crypto::merkle::LeafHash(data);
      entry->set_leaf_hash(std::string(hash.begin(), hash.end()));
    }
  }

  void DropEntry(int64_t index) {
    builder_.records.erase(builder_.records.begin() + static_cast<long>(EntryPosition(index)));
  }

  Result<AuditVerification> Run() { return Verify(builder_.records, {key_.public_key()}); }

  crypto::Ed25519PrivateKey key_ = crypto::Ed25519PrivateKey::Generate();
  AuditExportBuilder builder_{key_};
};

// A whole export verifies: every entry, every checkpoint, the latest root and who signed it.
TEST_F(AuditVerifyTest, GoodExportVerifies) {
  Build(7, {3, 7});
  Result<AuditVerification> v = Run();
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->entries, 7u);
  EXPECT_EQ(v->checkpoints, 2u);
  EXPECT_EQ(v->tree_size, 7u);
  EXPECT_EQ(v->root_hash, builder_.RootHex());
  EXPECT_EQ(v->origin, "test.example/audit");
  EXPECT_THAT(v->key_ids, ElementsAre(key_.public_key().KeyId()));
  EXPECT_TRUE(v->warnings.empty());
}

// The same export read back from the JSON lines `sovctl audit export` writes verifies too.
TEST_F(AuditVerifyTest, JsonLinesRoundTrip) {
  Build(5, {1, 2, 5});
  std::istringstream in(builder_.Jsonl() + "\n");  // a trailing blank line is fine
  Result<AuditVerification> v = VerifyAuditExportLines(in, "audit.jsonl", {key_.public_key()});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->entries, 5u);
  EXPECT_EQ(v->checkpoints, 3u);
}

// An edited entry is named by the next entry's chain, and its stale leaf_hash gives it away.
TEST_F(AuditVerifyTest, EditedEntryIsNamedByTheChain) {
  Build(6, {6});
  EditEntry(2);
  Result<AuditVerification> v = Run();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(v.status().message(),
              StartsWith("entry 2: leaf_data does not hash to the value entry 3 chains to"));
  EXPECT_THAT(v.status().message(),
              HasSubstr("its leaf_hash field agrees with entry 3, so entry 2's leaf_data was changed"));
}

// In the file form, the failure also says on which line the verifier stopped.
TEST_F(AuditVerifyTest, EditedEntryInFileNamesTheLine) {
  Build(6, {6});
  EditEntry(2);
  std::istringstream in(builder_.Jsonl());
  Result<AuditVerification> v = VerifyAuditExportLines(in, "audit.jsonl", {key_.public_key()});
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(), StartsWith("audit.jsonl:4: entry 2: leaf_data does not hash"));
}

// The last entry before a checkpoint has no successor to chain to it: the signed tree, through
// the entry's unchanged leaf_hash field, names it.
TEST_F(AuditVerifyTest, EditedLastEntryIsNamedAgainstTheSignedTree) {
  Build(5, {5});
  EditEntry(4);
  Result<AuditVerification> v = Run();
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(), StartsWith("checkpoint at tree size 5: root mismatch"));
  EXPECT_THAT(v.status().message(),
              HasSubstr("first entry that differs from the signed tree: entry 4"));
}

// An entry edited with its leaf_hash field to match, just before a checkpoint, is named by the
// chain of the entry after the checkpoint.
TEST_F(AuditVerifyTest, HiddenEditBeforeCheckpointIsNamedByTheNextEntry) {
  Build(7, {5, 7});
  EditEntry(4, /*hide=*/true);
  Result<AuditVerification> v = Run();
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(),
              StartsWith("entry 4: leaf_data does not hash to the value entry 5 chains to"));
  EXPECT_THAT(v.status().message(),
              HasSubstr("the checkpoint at tree size 5 does not match either (root mismatch)"));
}

// With nothing after the checkpoint and the edit hidden, the mismatch names what it can.
TEST_F(AuditVerifyTest, HiddenEditOfTheLastEntryIsARootMismatch) {
  Build(5, {2, 5});
  EditEntry(4, /*hide=*/true);
  Result<AuditVerification> v = Run();
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(), StartsWith("checkpoint at tree size 5: root mismatch (signed "));
  EXPECT_THAT(v.status().message(),
              HasSubstr("so entry 4 was changed, or entries 2 to 4 were rewritten together "
                        "(the checkpoint at tree size 2 verified)"));
}

// A dropped entry is named: the index sequence has a gap.
TEST_F(AuditVerifyTest, DroppedEntryIsNamed) {
  Build(6, {6});
  DropEntry(2);
  Result<AuditVerification> v = Run();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "entry 2 is missing: entry 1 is followed by entry 3");
}

// An entry dropped just before a checkpoint leaves the checkpoint one entry short.
TEST_F(AuditVerifyTest, DroppedEntryBeforeCheckpoint) {
  Build(5, {5});
  DropEntry(4);
  Result<AuditVerification> v = Run();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "checkpoint at tree size 5 follows only 4 entries: entry 4 is missing");
}

// A checkpoint signed by a key other than the registry's fails, naming where it is.
TEST_F(AuditVerifyTest, BadCheckpointSignature) {
  Build(3, {});
  crypto::Ed25519PrivateKey stranger = crypto::Ed25519PrivateKey::Generate();
  builder_.AddCheckpoint(&stranger);
  Result<AuditVerification> v = Run();
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(),
              StartsWith("the checkpoint after entry 2 (claiming tree size 3): signature does "
                         "not verify with the registry key"));
}

// A checkpoint whose payload was edited after signing fails the signature check too.
TEST_F(AuditVerifyTest, EditedCheckpointPayload) {
  Build(3, {3});
  v1::DsseEnvelope* envelope = builder_.records.back().mutable_checkpoint()->mutable_envelope();
  std::string payload = envelope->payload();
  payload.replace(payload.find("\"treeSize\":3"), 12, "\"treeSize\":4");
  envelope->set_payload(payload);
  Result<AuditVerification> v = Run();
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(), HasSubstr("signature does not verify"));
}

// A validly signed checkpoint whose root is not the entries' root is a root mismatch.
TEST_F(AuditVerifyTest, CheckpointRootMismatch) {
  Build(3, {});
  crypto::merkle::Hash wrong = crypto::merkle::LeafHash("not the tree");
  builder_.AddCheckpointWithRoot(wrong, 3);
  Result<AuditVerification> v = Run();
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(),
              StartsWith("checkpoint at tree size 3: root mismatch (signed " +
                         AuditExportBuilder::Hex(wrong) + ", the entries give " +
                         builder_.RootHex() + ")"));
}

// A checkpoint out of place (after more entries than its tree size) is refused.
TEST_F(AuditVerifyTest, CheckpointAfterTooManyEntries) {
  Build(3, {});
  builder_.AddCheckpointWithRoot(crypto::merkle::LeafHash("x"), 2);
  Result<AuditVerification> v = Run();
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(), StartsWith("checkpoint at tree size 2 comes after 3 entries"));
}

// Entries after the last checkpoint are an unverified tail.
TEST_F(AuditVerifyTest, UnverifiedTail) {
  Build(5, {3});
  Result<AuditVerification> v = Run();
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(),
              StartsWith("entries 3 to 4 come after the last checkpoint (tree size 3): "
                         "unverified tail"));
}

// An export without checkpoints, or without entries, verifies nothing.
TEST_F(AuditVerifyTest, NothingSignedOrNothingAtAll) {
  Build(2, {});
  EXPECT_THAT(Run().status().message(), HasSubstr("holds no checkpoint"));
  EXPECT_THAT(Verify({}, {key_.public_key()}).status().message(), HasSubstr("holds no entries"));
}

// An export that does not start at entry 0 cannot be checked against the signed roots.
TEST_F(AuditVerifyTest, ExportMustStartAtZero) {
  Build(4, {4});
  DropEntry(0);
  DropEntry(1);
  Result<AuditVerification> v = Run();
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(), StartsWith("the export starts at entry 2, not at entry 0"));
}

// A wrong leaf_hash field does not matter to the verdict, which uses leaf_data, but is reported.
TEST_F(AuditVerifyTest, WrongLeafHashFieldIsAWarning) {
  Build(3, {3});
  builder_.records[EntryPosition(1)].mutable_entry()->set_leaf_hash(std::string(32, '\x07'));
  Result<AuditVerification> v = Run();
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_EQ(v->warnings.size(), 1u);
  EXPECT_THAT(v->warnings[0], StartsWith("entry 1: its leaf_hash field 0707"));
}

// Checkpoints signed by a rotated key verify when both keys are trusted.
TEST_F(AuditVerifyTest, RotatedKeys) {
  crypto::Ed25519PrivateKey next = crypto::Ed25519PrivateKey::Generate();
  Build(2, {2});
  builder_.AddEntry();
  builder_.AddCheckpoint(&next);
  Result<AuditVerification> v =
      Verify(builder_.records, {key_.public_key(), next.public_key()});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_THAT(v->key_ids, ElementsAre(next.public_key().KeyId()));
  EXPECT_FALSE(Run().ok());  // the old key alone does not cover the new checkpoint
}

// A checkpoint envelope of another payload type is refused.
TEST_F(AuditVerifyTest, WrongPayloadType) {
  Build(1, {1});
  builder_.records.back().mutable_checkpoint()->mutable_envelope()->set_payload_type(
      "application/vnd.in-toto+json");
  EXPECT_THAT(Run().status().message(), HasSubstr("payload type is 'application/vnd.in-toto+json'"));
}

// After the first failure every call repeats it.
TEST_F(AuditVerifyTest, FailureSticks) {
  Build(4, {});
  AuditExportVerifier verifier({key_.public_key()});
  const v1::AuditEntry& second = builder_.records[1].entry();
  Status first = verifier.AddEntry({second.index(), second.leaf_data(), second.leaf_hash()});
  ASSERT_FALSE(first.ok());
  const v1::AuditEntry& zero = builder_.records[0].entry();
  EXPECT_EQ(verifier.AddEntry({zero.index(), zero.leaf_data(), zero.leaf_hash()}), first);
  EXPECT_EQ(verifier.Finish().status(), first);
}

// A line that is not an export record is refused with its line number.
TEST(VerifyAuditExportLines, MalformedLine) {
  crypto::Ed25519PrivateKey key = crypto::Ed25519PrivateKey::Generate();
  AuditExportBuilder builder(key);
  builder.AddEntry();
  std::istringstream garbage(builder.Jsonl() + "{\"entry\": 42}\n");
  Result<AuditVerification> v = VerifyAuditExportLines(garbage, "audit.jsonl", {key.public_key()});
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(v.status().message(), StartsWith("audit.jsonl:2: not an export record"));

  std::istringstream neither("{}\n");
  EXPECT_THAT(VerifyAuditExportLines(neither, "x", {key.public_key()}).status().message(),
              HasSubstr("x:1: neither an \"entry\" nor a \"checkpoint\""));
}

}  // namespace
}  // namespace sov::cli
