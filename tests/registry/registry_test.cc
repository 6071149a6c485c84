// Tests for Registry over a real SQLite store and a LocalBlobStore in a temporary directory:
// pushes and reads of every chunk shape, resumes, limits, integrity failures, recovery, stage
// changes, signatures and the audit entries that record each change.
#include "registry/registry.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "crypto/chunked_aead.h"
#include "crypto/dsse.h"
#include "crypto/intoto.h"
#include "crypto/sha256.h"
#include "tests/registry/registry_fixture.h"
#include "tests/testing/temp_dir.h"

namespace sov::registry {
namespace {

// Deterministic bytes that differ from chunk to chunk.
std::string Bytes(int64_t size, uint32_t seed = 1) {
  std::string out(static_cast<size_t>(size), '\0');
  uint64_t x = 0x9e3779b97f4a7c15ull * (seed + 1);
  for (auto& c : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return out;
}

std::string DigestOf(std::string_view data) { return crypto::Sha256Of(data).ToString(); }

ArtifactSpec Spec(const std::string& version, const std::string& name = "acme/fraud/data") {
  ArtifactSpec spec = TestSpec(Kind::kDataset, name, version);
  spec.labels = {{"team", "fraud"}};
  return spec;
}

AuditEvent Decision(const std::string& action) { return AllowDecision(action, "ml-push"); }

class RegistryTest : public RegistryFixture {
 protected:
  // Creates an upload, writes `data` in `slice`-byte writes and commits it.
  Result<ArtifactRecord> Push(const std::string& version, const std::string& data,
                              size_t slice = static_cast<size_t>(kMiB),
                              Registry* registry = nullptr) {
    return PushArtifact(Spec(version), data, TenantActor(), {Decision("artifact.push")}, slice,
                        registry);
  }

  // Reads [offset, offset + length) of `artifact`, every piece appended.
  Result<std::string> Read(const ArtifactRecord& artifact, uint64_t offset = 0,
                           std::optional<uint64_t> length = std::nullopt) {
    SOV_ASSIGN_OR_RETURN(std::unique_ptr<ArtifactReader> reader,
                         registry_->OpenReader(artifact, offset, length));
    std::string out;
    while (true) {
      SOV_ASSIGN_OR_RETURN(std::string_view piece, reader->Next());
      if (piece.empty()) break;
      EXPECT_LE(piece.size(), static_cast<size_t>(kMiB));
      out.append(piece);
    }
    return out;
  }

  std::string BlobPath(const std::string& blob_id) {
    return blob_dir() + "/blobs/" + blob_id.substr(0, 2) + "/" + blob_id + ".blob";
  }

  std::string AuditType(const AuditRecord& record) {
    return nlohmann::json::parse(record.leaf_data).value("type", "");
  }
};

// Every chunk shape round-trips: the bytes and digest match, and the manifest verifies with the
// registry key and names the digest.
TEST_F(RegistryTest, PushAndReadRoundTrip) {
  const std::vector<int64_t> sizes = {0, 1, kMiB - 1, kMiB, kMiB + 1, 2 * kMiB, 3 * kMiB + 7};
  int n = 0;
  for (int64_t size : sizes) {
    SCOPED_TRACE("size " + std::to_string(size));
    std::string data = Bytes(size, static_cast<uint32_t>(size));
    std::string version = "1.0." + std::to_string(n++);
    // Odd write sizes as well as whole chunks.
    auto artifact = Push(version, data, n % 2 == 0 ? 7777 : static_cast<size_t>(kMiB));
    ASSERT_TRUE(artifact.ok()) << artifact.status().ToString();
    EXPECT_EQ(artifact->digest, DigestOf(data));
    EXPECT_EQ(artifact->size_bytes, size);
    EXPECT_EQ(artifact->stage, Stage::kPending);
    EXPECT_TRUE(artifact->history.empty());

    auto stored = registry_->Get(artifact->spec.name, version);
    ASSERT_TRUE(stored.ok());
    EXPECT_EQ(stored->digest, artifact->digest);
    auto back = Read(*stored);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_TRUE(*back == data);

    // The blob holds ciphertext of exactly the format's size.
    std::string blob = testing::ReadTextFile(BlobPath(artifact->id));
    EXPECT_EQ(blob.size(), crypto::SealedSize(static_cast<uint64_t>(size)));
    if (size >= 64) {
      EXPECT_EQ(blob.find(data.substr(0, 64)), std::string::npos);
    }

    auto envelope = crypto::DsseEnvelope::FromJson(stored->manifest);
    ASSERT_TRUE(envelope.ok()) << envelope.status().ToString();
    auto statement = crypto::VerifyStatement(*envelope, {registry_->registry_key()});
    ASSERT_TRUE(statement.ok()) << statement.status().ToString();
    ASSERT_EQ(statement->subject.size(), 1u);
    EXPECT_EQ(statement->subject[0].name, "acme/fraud/data");
    EXPECT_EQ("sha256:" + statement->subject[0].digest.at("sha256"), DigestOf(data));
    EXPECT_EQ(statement->predicate_type, kManifestPredicateType);
    EXPECT_EQ(statement->predicate.at("sizeBytes"), size);
    EXPECT_EQ(statement->predicate.at("version"), version);
    ASSERT_EQ(stored->signatures.size(), 1u);
    EXPECT_EQ(stored->signatures[0].role, "registry");
    EXPECT_EQ(stored->signatures[0].keyid, registry_->registry_key().KeyId());
  }
  auto staging = blobs_->ListStaging(kLocation);
  ASSERT_TRUE(staging.ok());
  EXPECT_TRUE(staging->empty());
}

// The manifest's statement is canonical and holds the immutable metadata without floats.
TEST_F(RegistryTest, ManifestStatementHoldsTheMetadata) {
  ArtifactRecord record;
  record.spec = Spec("2.0.0-rc.1");
  record.spec.kind = Kind::kModel;
  record.spec.lineage = {{"acme/fraud/data", "1.0.0", "sha256:" + std::string(64, 'c'),
                          "trained-on", Kind::kDataset}};
  record.spec.retention_deadline = std::chrono::system_clock::from_time_t(1800000000);
  record.spec.retention_action = "erase";
  record.digest = "sha256:" + std::string(64, 'd');
  record.size_bytes = int64_t{5} << 32;
  record.create_time = std::chrono::system_clock::from_time_t(1764427528);
  crypto::Statement statement = ManifestStatement(record);
  EXPECT_EQ(statement.subject[0].digest.at("sha256"), std::string(64, 'd'));
  const nlohmann::json& p = statement.predicate;
  EXPECT_EQ(p.at("kind"), "model");
  EXPECT_EQ(p.at("sizeBytes").get<int64_t>(), int64_t{5} << 32);
  EXPECT_TRUE(p.at("sizeBytes").is_number_integer());
  EXPECT_EQ(p.at("createTime"), "2025-11-29T14:45:28Z");
  EXPECT_EQ(p.at("retention").at("deadline"), "2027-01-15T08:00:00Z");
  // No retain_until from the pusher: none in the manifest.
  EXPECT_FALSE(p.at("retention").contains("retainUntil"));
  EXPECT_EQ(p.at("lineage")[0].at("digest").at("sha256"), std::string(64, 'c'));
  EXPECT_EQ(p.at("lineage")[0].at("relation"), "trained-on");
  EXPECT_EQ(p.at("storage").at("jurisdiction"), "DE");
  EXPECT_EQ(ManifestStatement(record).ToJson(), statement.ToJson());

  // The pusher's retain_until is recorded next to the stored deadline.
  record.spec.retain_until = std::chrono::system_clock::from_time_t(1790000000);
  const nlohmann::json with = ManifestStatement(record).predicate;
  EXPECT_EQ(with.at("retention").at("retainUntil"), "2026-09-21T14:13:20Z");
  EXPECT_EQ(with.at("retention").at("deadline"), "2027-01-15T08:00:00Z");
}

// Ranged reads return exactly the range; the ends are checked.
TEST_F(RegistryTest, RangedReads) {
  std::string data = Bytes(3 * kMiB + 7, 9);
  auto artifact = Push("1.0.0", data);
  ASSERT_TRUE(artifact.ok()) << artifact.status().ToString();
  const uint64_t offset = static_cast<uint64_t>(kMiB + kMiB / 2 - 3);
  auto middle = Read(*artifact, offset, kMiB + 10);
  ASSERT_TRUE(middle.ok()) << middle.status().ToString();
  EXPECT_TRUE(*middle == data.substr(offset, kMiB + 10));
  auto tail = Read(*artifact, 3 * kMiB + 2);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(*tail, data.substr(3 * kMiB + 2));
  auto at_end = Read(*artifact, data.size());
  ASSERT_TRUE(at_end.ok());
  EXPECT_TRUE(at_end->empty());
  EXPECT_EQ(registry_->OpenReader(*artifact, data.size() + 1, std::nullopt).status().code(),
            StatusCode::kOutOfRange);
  EXPECT_EQ(registry_->OpenReader(*artifact, 10, data.size()).status().code(),
            StatusCode::kOutOfRange);
}

// A paused upload resumes at its committed offset (whole chunks only) and nowhere else.
TEST_F(RegistryTest, ResumeAtCommittedOffset) {
  std::string data = Bytes(4 * kMiB + 100, 3);
  auto upload = registry_->CreateUpload(Spec("1.0.0"), std::nullopt, DigestOf(data),
                                        TenantActor(), {});
  ASSERT_TRUE(upload.ok()) << upload.status().ToString();
  {
    auto writer = registry_->OpenUploadWriter(upload->id, 0);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    ASSERT_TRUE((*writer)->Write(std::string_view(data).substr(0, 2 * kMiB + kMiB / 2)).ok());
    EXPECT_EQ((*writer)->received(), 2 * kMiB + kMiB / 2);
    auto paused = (*writer)->Pause();
    ASSERT_TRUE(paused.ok()) << paused.status().ToString();
    EXPECT_EQ(paused->committed_offset, 2 * kMiB);
  }
  EXPECT_EQ(registry_->GetUpload(upload->id)->committed_offset, 2 * kMiB);
  auto wrong = registry_->OpenUploadWriter(upload->id, 2 * kMiB + kMiB / 2);
  EXPECT_EQ(wrong.status().code(), StatusCode::kAborted);
  EXPECT_NE(wrong.status().message().find(std::to_string(2 * kMiB)), std::string::npos);
  EXPECT_EQ(registry_->OpenUploadWriter(upload->id, 0).status().code(), StatusCode::kAborted);

  auto writer = registry_->OpenUploadWriter(upload->id, 2 * kMiB);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  ASSERT_TRUE((*writer)->Write(std::string_view(data).substr(2 * kMiB)).ok());
  auto artifact = (*writer)->Commit("", TenantActor(), {});  // the announced digest
  ASSERT_TRUE(artifact.ok()) << artifact.status().ToString();
  EXPECT_EQ(artifact->digest, DigestOf(data));
  auto back = Read(*artifact);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(*back == data);
  EXPECT_EQ(registry_->GetUpload(upload->id)->state, UploadState::kCommitted);
}

// A writer dropped without Pause keeps its whole chunks, as a broken stream does.
TEST_F(RegistryTest, DroppedWriterPausesItself) {
  std::string data = Bytes(3 * kMiB, 4);
  auto upload = registry_->CreateUpload(Spec("1.0.0"), int64_t{3} * kMiB, "", TenantActor(), {});
  ASSERT_TRUE(upload.ok());
  {
    auto writer = registry_->OpenUploadWriter(upload->id, 0);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Write(std::string_view(data).substr(0, kMiB + 5)).ok());
  }
  EXPECT_EQ(registry_->GetUpload(upload->id)->committed_offset, kMiB);
  auto writer = registry_->OpenUploadWriter(upload->id, kMiB);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  ASSERT_TRUE((*writer)->Write(std::string_view(data).substr(kMiB)).ok());
  auto artifact = (*writer)->Commit(DigestOf(data), TenantActor(), {});
  ASSERT_TRUE(artifact.ok()) << artifact.status().ToString();
  EXPECT_TRUE(*Read(*artifact) == data);
}

// After a restart (no hash state in memory) a resume either continues at the committed offset
// (when the blob store can read staging back) or is sent back to offset 0; both finish right.
TEST_F(RegistryTest, ResumeAfterRestart) {
  std::string data = Bytes(3 * kMiB + 11, 5);
  auto upload = registry_->CreateUpload(Spec("1.0.0"), std::nullopt, "", TenantActor(), {});
  ASSERT_TRUE(upload.ok());
  {
    auto writer = registry_->OpenUploadWriter(upload->id, 0);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Write(std::string_view(data).substr(0, 2 * kMiB + 1)).ok());
    ASSERT_TRUE((*writer)->Pause().ok());
  }
  registry_ = NewRegistry(options_);
  auto writer = registry_->OpenUploadWriter(upload->id, 2 * kMiB);
  int64_t from = 2 * kMiB;
  if (!writer.ok()) {
    ASSERT_EQ(writer.status().code(), StatusCode::kAborted) << writer.status().ToString();
    EXPECT_EQ(registry_->GetUpload(upload->id)->committed_offset, 0);
    from = 0;
    writer = registry_->OpenUploadWriter(upload->id, 0);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  }
  ASSERT_TRUE((*writer)->Write(std::string_view(data).substr(from)).ok());
  auto artifact = (*writer)->Commit(DigestOf(data), TenantActor(), {});
  ASSERT_TRUE(artifact.ok()) << artifact.status().ToString();
  EXPECT_TRUE(*Read(*artifact) == data);
}

// A resumed upload committed without further bytes ends with a correctly sealed final chunk, or
// (on a blob store that cannot read staging back) is refused without leaving anything visible.
TEST_F(RegistryTest, CommitAtResumedOffsetWithoutNewBytes) {
  std::string data = Bytes(2 * kMiB + 1, 6);
  std::string prefix = data.substr(0, 2 * kMiB);
  auto upload = registry_->CreateUpload(Spec("1.0.0"), std::nullopt, "", TenantActor(), {});
  ASSERT_TRUE(upload.ok());
  {
    auto writer = registry_->OpenUploadWriter(upload->id, 0);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Write(data).ok());
    ASSERT_EQ((*writer)->Pause()->committed_offset, 2 * kMiB);
  }
  auto writer = registry_->OpenUploadWriter(upload->id, 2 * kMiB);
  ASSERT_TRUE(writer.ok());
  auto artifact = (*writer)->Commit(DigestOf(prefix), TenantActor(), {});
  if (artifact.ok()) {
    EXPECT_EQ(artifact->size_bytes, 2 * kMiB);
    auto back = Read(*artifact);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_TRUE(*back == prefix);
  } else {
    EXPECT_EQ(artifact.status().code(), StatusCode::kAborted) << artifact.status().ToString();
    EXPECT_EQ(registry_->Get("acme/fraud/data", "1.0.0").status().code(), StatusCode::kNotFound);
    EXPECT_TRUE(registry_->CreateUpload(Spec("1.0.0"), std::nullopt, "", TenantActor(), {}).ok());
  }
}

// Only one stream writes an upload at a time.
TEST_F(RegistryTest, SecondWriterIsAborted) {
  auto upload = registry_->CreateUpload(Spec("1.0.0"), std::nullopt, "", TenantActor(), {});
  ASSERT_TRUE(upload.ok());
  {
    auto first = registry_->OpenUploadWriter(upload->id, 0);
    ASSERT_TRUE(first.ok());
    auto second = registry_->OpenUploadWriter(upload->id, 0);
    EXPECT_EQ(second.status().code(), StatusCode::kAborted);
    EXPECT_EQ(second.status().message(), "another stream is writing this upload");
  }
  EXPECT_TRUE(registry_->OpenUploadWriter(upload->id, 0).ok());
  EXPECT_EQ(registry_->OpenUploadWriter("no-such-upload", 0).status().code(),
            StatusCode::kNotFound);
}

// A wrong digest or size aborts the upload, deletes its bytes and frees the version.
TEST_F(RegistryTest, DigestMismatchAbortsAndFreesVersion) {
  std::string data = Bytes(kMiB + 3, 7);
  auto upload = registry_->CreateUpload(Spec("1.0.0"), std::nullopt, "", TenantActor(), {});
  ASSERT_TRUE(upload.ok());
  auto writer = registry_->OpenUploadWriter(upload->id, 0);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write(data).ok());
  // A malformed digest is refused without consequences.
  EXPECT_EQ((*writer)->Commit("sha256:nothex", TenantActor(), {}).status().code(),
            StatusCode::kInvalidArgument);
  auto committed = (*writer)->Commit(DigestOf("something else"), TenantActor(), {});
  EXPECT_EQ(committed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(committed.status().message().rfind("digest mismatch: ", 0), 0u)
      << committed.status().message();
  writer->reset();

  auto aborted = registry_->GetUpload(upload->id);
  EXPECT_EQ(aborted->state, UploadState::kAborted);
  EXPECT_EQ(aborted->abort_reason, "digest mismatch");
  EXPECT_TRUE(blobs_->ListStaging(kLocation)->empty());
  EXPECT_TRUE(blobs_->ListBlobs(kLocation)->empty());
  EXPECT_EQ(registry_->Get("acme/fraud/data", "1.0.0").status().code(), StatusCode::kNotFound);

  // The declared size is checked too.
  auto sized = registry_->CreateUpload(Spec("1.0.0"), int64_t{10}, "", TenantActor(), {});
  ASSERT_TRUE(sized.ok()) << sized.status().ToString();
  auto w2 = registry_->OpenUploadWriter(sized->id, 0);
  ASSERT_TRUE(w2.ok());
  EXPECT_EQ((*w2)->Write(Bytes(11)).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE((*w2)->Write(Bytes(9)).ok());
  auto short_commit = (*w2)->Commit(DigestOf(Bytes(9)), TenantActor(), {});
  EXPECT_EQ(short_commit.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->GetUpload(sized->id)->state, UploadState::kAborted);
}

// A name+version is never reused: an identical retry gets the same upload, anything else is
// refused, during the upload and after its commit.
TEST_F(RegistryTest, VersionReuseRefused) {
  auto first = registry_->CreateUpload(Spec("1.0.0"), int64_t{5}, "", TenantActor(), {});
  ASSERT_TRUE(first.ok());
  auto retry = registry_->CreateUpload(Spec("1.0.0"), int64_t{5}, "", TenantActor(), {});
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->id, first->id);
  auto other = registry_->CreateUpload(Spec("1.0.0"), int64_t{6}, "", TenantActor(), {});
  EXPECT_EQ(other.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(other.status().message().find("version taken"), std::string::npos);

  auto writer = registry_->OpenUploadWriter(first->id, 0);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write("hello").ok());
  ASSERT_TRUE((*writer)->Commit(DigestOf("hello"), TenantActor(), {}).ok());
  writer->reset();
  auto after = registry_->CreateUpload(Spec("1.0.0"), int64_t{5}, "", TenantActor(), {});
  EXPECT_EQ(after.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(registry_->OpenUploadWriter(first->id, 5).status().code(),
            StatusCode::kFailedPrecondition);
}

// Identical CreateUpload calls racing each other all get the one upload.
TEST_F(RegistryTest, ConcurrentIdenticalCreateUploadsShareOneUpload) {
  constexpr int kThreads = 4;
  std::vector<std::string> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, &ids, t] {
      auto upload = registry_->CreateUpload(Spec("1.0.0"), int64_t{5}, "", TenantActor(), {});
      ASSERT_TRUE(upload.ok()) << upload.status().ToString();
      ids[t] = upload->id;
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& id : ids) EXPECT_EQ(id, ids[0]);
  EXPECT_EQ(*blobs_->ListStaging(kLocation), std::vector<std::string>{ids[0]});
}

// Concurrent read-modify-write changes of one artifact retry on revision conflicts and all
// land.
TEST_F(RegistryTest, ConcurrentSignaturesAllLand) {
  auto artifact = Push("1.0.0", Bytes(10));
  ASSERT_TRUE(artifact.ok());
  auto envelope = crypto::DsseEnvelope::FromJson(artifact->manifest);
  ASSERT_TRUE(envelope.ok());
  const std::string pae = crypto::Pae(envelope->payload_type, envelope->payload);
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  std::vector<crypto::Ed25519PrivateKey> signers;
  for (int t = 0; t < kThreads; ++t) signers.push_back(crypto::Ed25519PrivateKey::Generate());
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto added = registry_->AddSignature("acme/fraud/data", "1.0.0", signers[t].public_key(),
                                           signers[t].Sign(pae), "publisher", "acme",
                                           TenantActor(), {});
      EXPECT_TRUE(added.ok()) << added.status().ToString();
    });
  }
  for (std::thread& t : threads) t.join();
  auto stored = registry_->Get("acme/fraud/data", "1.0.0");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->signatures.size(), 1u + kThreads);
  auto all = crypto::DsseEnvelope::FromJson(stored->manifest);
  ASSERT_TRUE(all.ok());
  std::vector<crypto::Ed25519PublicKey> trusted = {registry_->registry_key()};
  for (const auto& s : signers) trusted.push_back(s.public_key());
  EXPECT_TRUE(crypto::VerifyDsse(*all, trusted, 1 + kThreads).ok());
}

// Names, versions, owners and locations are checked before anything is stored.
TEST_F(RegistryTest, CreateUploadValidatesTheSpec) {
  ArtifactSpec foreign = Spec("1.0.0");
  foreign.owner_tenant = "globex";
  EXPECT_EQ(registry_->CreateUpload(foreign, std::nullopt, "", TenantActor(), {}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->CreateUpload(Spec("v1.0"), std::nullopt, "", TenantActor(), {})
                .status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->CreateUpload(Spec("1.0.0", "Acme/Bad Name"), std::nullopt, "",
                                    TenantActor(), {})
                .status().code(),
            StatusCode::kInvalidArgument);
  ArtifactSpec nowhere = Spec("1.0.0");
  nowhere.storage_location = "mars-1";
  EXPECT_EQ(registry_->CreateUpload(nowhere, std::nullopt, "", TenantActor(), {}).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(registry_->CreateUpload(Spec("1.0.0"), std::nullopt, "md5:abc", TenantActor(), {})
                .status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(*store_->AuditSize(), 0);
  EXPECT_TRUE(blobs_->ListStaging(kLocation)->empty());
}

// Size limits and quotas refuse uploads up front and bytes as they arrive.
TEST_F(RegistryTest, SizeLimitAndQuota) {
  RegistryOptions options = options_;
  options.max_artifact_bytes = 4 * kMiB;
  options.quota_bytes["acme"] = 3 * kMiB;
  registry_ = NewRegistry(options);

  EXPECT_EQ(registry_->CreateUpload(Spec("1.0.0"), 5 * kMiB, "", TenantActor(), {})
                .status().code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(Push("1.0.0", Bytes(2 * kMiB)).ok());
  EXPECT_EQ(registry_->Usage("acme")->used_bytes, 2 * kMiB);
  EXPECT_EQ(registry_->CreateUpload(Spec("1.0.1"), 2 * kMiB, "", TenantActor(), {})
                .status().code(),
            StatusCode::kResourceExhausted);

  // Undeclared size: the quota applies as bytes arrive.
  auto upload = registry_->CreateUpload(Spec("1.0.2"), std::nullopt, "", TenantActor(), {});
  ASSERT_TRUE(upload.ok()) << upload.status().ToString();
  auto writer = registry_->OpenUploadWriter(upload->id, 0);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write(Bytes(kMiB / 2)).ok());
  EXPECT_EQ((*writer)->Write(Bytes(kMiB)).code(), StatusCode::kResourceExhausted);
  writer->reset();

  // Without a quota the per-artifact limit still applies to undeclared uploads.
  options.quota_bytes.clear();
  registry_ = NewRegistry(options);
  auto big = registry_->CreateUpload(Spec("1.0.3"), std::nullopt, "", TenantActor(), {});
  ASSERT_TRUE(big.ok());
  auto big_writer = registry_->OpenUploadWriter(big->id, 0);
  ASSERT_TRUE(big_writer.ok());
  ASSERT_TRUE((*big_writer)->Write(Bytes(4 * kMiB)).ok());
  EXPECT_EQ((*big_writer)->Write("x").code(), StatusCode::kInvalidArgument);
}

// A byte changed in the stored blob makes the read fail with DATA_LOSS at that chunk, and no
// byte of that chunk is returned; chunks after it still read alone.
TEST_F(RegistryTest, TamperedBlobIsDataLoss) {
  std::string data = Bytes(3 * kMiB + 7, 8);
  auto artifact = Push("1.0.0", data);
  ASSERT_TRUE(artifact.ok());
  {
    std::fstream file(BlobPath(artifact->id), std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(file.is_open());
    file.seekp(static_cast<std::streamoff>(crypto::ChunkFileOffset(1) + 5000));
    char c = 0;
    file.seekg(static_cast<std::streamoff>(crypto::ChunkFileOffset(1) + 5000));
    file.read(&c, 1);
    c ^= 0x01;
    file.seekp(static_cast<std::streamoff>(crypto::ChunkFileOffset(1) + 5000));
    file.write(&c, 1);
  }
  auto reader = registry_->OpenReader(*artifact, 0, std::nullopt);
  ASSERT_TRUE(reader.ok());
  auto first = (*reader)->Next();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->size(), static_cast<size_t>(kMiB));
  auto second = (*reader)->Next();
  EXPECT_EQ(second.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(second.status().message().find("acme/fraud/data@1.0.0"), std::string::npos);
  EXPECT_NE(second.status().message().find("chunk 1"), std::string::npos);
  EXPECT_EQ((*reader)->Next().status().code(), StatusCode::kDataLoss);  // stays failed

  auto later = Read(*artifact, 2 * kMiB, std::nullopt);
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  EXPECT_TRUE(*later == data.substr(2 * kMiB));
  EXPECT_EQ(Read(*artifact, kMiB + 10, 5).status().code(), StatusCode::kDataLoss);
}

// A full read whose bytes do not hash to the record's digest withholds its last piece.
TEST_F(RegistryTest, DigestCheckAtTheEndWithholdsTheLastPiece) {
  std::string data = Bytes(2 * kMiB + 5, 10);
  auto artifact = Push("1.0.0", data);
  ASSERT_TRUE(artifact.ok());
  ArtifactRecord wrong = *artifact;
  wrong.digest = DigestOf("not these bytes");
  auto reader = registry_->OpenReader(wrong, 0, std::nullopt);
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE((*reader)->Next().ok());
  ASSERT_TRUE((*reader)->Next().ok());
  auto last = (*reader)->Next();
  EXPECT_EQ(last.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(last.status().message(),
            "stored bytes of acme/fraud/data@1.0.0 do not match its digest");

  // The empty artifact is checked as well.
  auto empty = Push("1.0.1", "");
  ASSERT_TRUE(empty.ok());
  ArtifactRecord wrong_empty = *empty;
  wrong_empty.digest = DigestOf("x");
  EXPECT_EQ(Read(wrong_empty).status().code(), StatusCode::kDataLoss);

  // A truncated blob is refused at open.
  std::filesystem::resize_file(BlobPath(artifact->id), crypto::SealedSize(data.size()) - 1);
  EXPECT_EQ(registry_->OpenReader(*artifact, 0, std::nullopt).status().code(),
            StatusCode::kDataLoss);
}

// An erased artifact (data key destroyed) cannot be read.
TEST_F(RegistryTest, DestroyedKeyCannotBeRead) {
  auto artifact = Push("1.0.0", Bytes(100));
  ASSERT_TRUE(artifact.ok());
  WriteBatch batch;
  batch.Add(mutation::DeleteDataKey{artifact->id});
  ASSERT_TRUE(store_->Commit(std::move(batch)).ok());
  EXPECT_EQ(registry_->OpenReader(*artifact, 0, std::nullopt).status().code(),
            StatusCode::kFailedPrecondition);
}

// Recover removes orphan staging objects and unreferenced blobs, and aborts open uploads whose
// staging object is gone or whose time is up; committed artifacts stay readable.
TEST_F(RegistryTest, RecoverCleansUp) {
  std::string data = Bytes(kMiB + 1, 11);
  auto kept = Push("1.0.0", data);
  ASSERT_TRUE(kept.ok());

  // An orphan staging object and an unreferenced blob (a crash between publish and commit).
  ASSERT_TRUE(blobs_->OpenStaging(kLocation, "orphan", 0).ok());
  ASSERT_TRUE(blobs_->OpenStaging(kLocation, "published", 0).ok());
  ASSERT_TRUE(blobs_->Publish(kLocation, "published", "0123456789abcdef").ok());
  // An open upload whose staging object vanished, and a healthy one.
  auto lost = registry_->CreateUpload(Spec("2.0.0"), std::nullopt, "", TenantActor(), {});
  ASSERT_TRUE(lost.ok());
  ASSERT_TRUE(blobs_->DiscardStaging(kLocation, lost->id).ok());
  auto healthy = registry_->CreateUpload(Spec("3.0.0"), std::nullopt, "", TenantActor(), {});
  ASSERT_TRUE(healthy.ok());

  auto removed = registry_->Recover();
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 2);
  EXPECT_EQ(*blobs_->ListStaging(kLocation), std::vector<std::string>{healthy->id});
  EXPECT_EQ(*blobs_->ListBlobs(kLocation), std::vector<std::string>{kept->id});
  auto lost_now = registry_->GetUpload(lost->id);
  EXPECT_EQ(lost_now->state, UploadState::kAborted);
  EXPECT_EQ(lost_now->abort_reason, "staging object lost");
  EXPECT_EQ(registry_->GetUpload(healthy->id)->state, UploadState::kOpen);
  EXPECT_TRUE(*Read(*kept) == data);

  // Expired uploads are aborted and their bytes removed.
  RegistryOptions short_lived = options_;
  short_lived.upload_ttl = std::chrono::seconds(0);
  registry_ = NewRegistry(short_lived);
  auto expiring = registry_->CreateUpload(Spec("4.0.0"), std::nullopt, "", TenantActor(), {});
  ASSERT_TRUE(expiring.ok());
  EXPECT_EQ(registry_->OpenUploadWriter(expiring->id, 0).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(registry_->GetUpload(expiring->id)->abort_reason, "expired");
  auto expiring2 = registry_->CreateUpload(Spec("5.0.0"), std::nullopt, "", TenantActor(), {});
  ASSERT_TRUE(expiring2.ok());
  removed = registry_->Recover();
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(registry_->GetUpload(expiring2->id)->abort_reason, "expired");
  EXPECT_EQ(registry_->GetUpload(healthy->id)->state, UploadState::kOpen);
  EXPECT_EQ(*blobs_->ListStaging(kLocation), std::vector<std::string>{healthy->id});
}

// Cancel aborts an open upload and deletes its bytes; it is idempotent, and refused once
// committed.
TEST_F(RegistryTest, CancelUpload) {
  auto upload = registry_->CreateUpload(Spec("1.0.0"), std::nullopt, "", TenantActor(), {});
  ASSERT_TRUE(upload.ok());
  auto cancelled = registry_->CancelUpload(upload->id, TenantActor(), {});
  ASSERT_TRUE(cancelled.ok()) << cancelled.status().ToString();
  EXPECT_EQ(cancelled->state, UploadState::kAborted);
  EXPECT_EQ(cancelled->abort_reason, "cancelled");
  EXPECT_TRUE(blobs_->ListStaging(kLocation)->empty());
  EXPECT_TRUE(registry_->CancelUpload(upload->id, TenantActor(), {}).ok());

  auto pushed = Push("1.0.0", "abc");
  ASSERT_TRUE(pushed.ok()) << pushed.status().ToString();
  auto committed = store_->FindOpenUpload("acme/fraud/data", "1.0.0");
  ASSERT_TRUE(committed.ok());
  EXPECT_FALSE(committed->has_value());
}

// Stage changes follow the allowed transitions, record history with the audit index, and are
// idempotent when the artifact is already there.
TEST_F(RegistryTest, ChangeStage) {
  auto artifact = Push("1.0.0", Bytes(10));
  ASSERT_TRUE(artifact.ok());
  Registry::Transition to_released{{Stage::kValidating}, Stage::kReleased, "gates passed",
                                   "release-gates", "policy.yaml:3:5", false};
  auto wrong = registry_->ChangeStage("acme/fraud/data", "1.0.0", to_released, TenantActor(), {});
  EXPECT_EQ(wrong.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong.status().message().find("wrong stage"), std::string::npos);

  Actor validation;
  validation.system_actor = "validation";
  Registry::Transition to_validating{{Stage::kPending}, Stage::kValidating, "queued", "", "",
                                     false};
  auto validating =
      registry_->ChangeStage("acme/fraud/data", "1.0.0", to_validating, validation, {});
  ASSERT_TRUE(validating.ok()) << validating.status().ToString();
  EXPECT_EQ(validating->stage, Stage::kValidating);
  // A change and its entry's index in the history commit together: one revision each.
  EXPECT_EQ(validating->revision, registry_->Get("acme/fraud/data", "1.0.0")->revision);

  auto released = registry_->ChangeStage("acme/fraud/data", "1.0.0", to_released, TenantActor(),
                                         {Decision("artifact.release")});
  ASSERT_TRUE(released.ok()) << released.status().ToString();
  EXPECT_EQ(released->revision, validating->revision + 1);
  EXPECT_GE(released->history.back().audit_index, 0);
  auto again = registry_->ChangeStage("acme/fraud/data", "1.0.0", to_released, TenantActor(), {});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->revision, released->revision);

  auto stored = registry_->Get("acme/fraud/data", "1.0.0");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->stage, Stage::kReleased);
  EXPECT_EQ(stored->revision, released->revision);
  ASSERT_EQ(stored->history.size(), 2u);
  EXPECT_EQ(stored->history[0].system_actor, "validation");
  EXPECT_EQ(stored->history[1].from, Stage::kValidating);
  EXPECT_EQ(stored->history[1].tenant_id, "acme");
  EXPECT_EQ(stored->history[1].rule_location, "policy.yaml:3:5");

  std::vector<AuditRecord> entries = AuditEntries();
  for (const StageEvent& event : stored->history) {
    ASSERT_GE(event.audit_index, 0);
    ASSERT_LT(event.audit_index, static_cast<int64_t>(entries.size()));
    auto json = nlohmann::json::parse(entries[event.audit_index].leaf_data);
    EXPECT_EQ(json.at("type"), "STAGE_CHANGE");
    EXPECT_EQ(json.at("stageChange").at("toStage"), StageName(event.to));
    EXPECT_EQ(json.at("stageChange").at("fromStage"), StageName(event.from));
  }
  // The release decision was committed right after its STAGE_CHANGE entry, in the same batch.
  int64_t index = stored->history[1].audit_index;
  EXPECT_EQ(AuditType(entries[index + 1]), "DECISION");
}

// A publisher signature over the manifest's PAE is added once; a bad one is refused.
TEST_F(RegistryTest, AddSignature) {
  auto artifact = Push("1.0.0", Bytes(10));
  ASSERT_TRUE(artifact.ok());
  auto publisher = crypto::Ed25519PrivateKey::Generate();
  auto envelope = crypto::DsseEnvelope::FromJson(artifact->manifest);
  ASSERT_TRUE(envelope.ok());
  std::string pae = crypto::Pae(envelope->payload_type, envelope->payload);

  auto bad = registry_->AddSignature("acme/fraud/data", "1.0.0", publisher.public_key(),
                                     publisher.Sign("something else"), "publisher", "acme",
                                     TenantActor(), {});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("bad signature"), std::string::npos);

  auto signed_once = registry_->AddSignature("acme/fraud/data", "1.0.0", publisher.public_key(),
                                             publisher.Sign(pae), "publisher", "acme",
                                             TenantActor(), {});
  ASSERT_TRUE(signed_once.ok()) << signed_once.status().ToString();
  ASSERT_EQ(signed_once->signatures.size(), 2u);
  EXPECT_EQ(signed_once->signatures[1].role, "publisher");
  EXPECT_EQ(signed_once->signatures[1].signer, "acme");
  auto both = crypto::DsseEnvelope::FromJson(signed_once->manifest);
  ASSERT_TRUE(both.ok());
  EXPECT_TRUE(crypto::VerifyDsse(*both, {registry_->registry_key(), publisher.public_key()}, 2)
                  .ok());

  auto twice = registry_->AddSignature("acme/fraud/data", "1.0.0", publisher.public_key(),
                                       publisher.Sign(pae), "publisher", "acme", TenantActor(),
                                       {});
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(twice->signatures.size(), 2u);
  EXPECT_EQ(twice->revision, signed_once->revision);
  EXPECT_EQ(registry_->Get("acme/fraud/data", "1.0.0")->signatures.size(), 2u);
}

// Each state change is committed with the audit entries that record it, in one batch, and a
// refused change appends nothing.
TEST_F(RegistryTest, AuditEntriesCommitWithTheirChange) {
  std::string data = Bytes(1000);
  auto upload = registry_->CreateUpload(Spec("1.0.0"), std::nullopt, "", TenantActor(),
                                        {Decision("artifact.push")});
  ASSERT_TRUE(upload.ok());
  auto entries = AuditEntries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(AuditType(entries[0]), "DECISION");

  EXPECT_FALSE(registry_->CreateUpload(Spec("1.0.0"), int64_t{1}, "", TenantActor(),
                                       {Decision("artifact.push")})
                   .ok());
  EXPECT_EQ(AuditEntries().size(), 1u);

  auto writer = registry_->OpenUploadWriter(upload->id, 0);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write(data).ok());
  AuditEvent extra = Decision("artifact.push");
  extra.request_id = "req-commit";
  auto artifact = (*writer)->Commit(DigestOf(data), TenantActor(), {extra});
  ASSERT_TRUE(artifact.ok());
  entries = AuditEntries();
  ASSERT_EQ(entries.size(), 3u);
  auto created = nlohmann::json::parse(entries[1].leaf_data);
  EXPECT_EQ(created.at("type"), "ARTIFACT_CREATED");
  EXPECT_EQ(created.at("action"), "artifact.push");
  EXPECT_EQ(created.at("artifact").at("digest"), DigestOf(data));
  EXPECT_EQ(created.at("details").at("size"), 1000);
  EXPECT_EQ(created.at("details").at("location"), kLocation);
  EXPECT_EQ(created.at("principal").at("tenantId"), "acme");
  EXPECT_EQ(nlohmann::json::parse(entries[2].leaf_data).at("requestId"), "req-commit");
  // Both were appended by one commit: the same append batch leaves them adjacent and a
  // checkpoint right after covers both.
  EXPECT_LE(entries[1].append_time, entries[2].append_time);
  // No key material in any entry.
  for (const AuditRecord& r : entries) {
    EXPECT_EQ(r.leaf_data.find(upload->wrapped_key), std::string::npos);
  }

  auto publisher = crypto::Ed25519PrivateKey::Generate();
  auto envelope = crypto::DsseEnvelope::FromJson(artifact->manifest);
  ASSERT_TRUE(registry_->AddSignature(
      "acme/fraud/data", "1.0.0", publisher.public_key(),
      publisher.Sign(crypto::Pae(envelope->payload_type, envelope->payload)), "publisher",
      "acme", TenantActor(), {Decision("artifact.sign")})
                  .ok());
  entries = AuditEntries();
  ASSERT_EQ(entries.size(), 5u);
  EXPECT_EQ(AuditType(entries[3]), "SIGNATURE_ADDED");
  EXPECT_EQ(AuditType(entries[4]), "DECISION");
}

// Versions come back highest SemVer first, whatever the push order.
TEST_F(RegistryTest, VersionsSortBySemVer) {
  for (const char* v : {"1.0.0", "1.10.0", "1.2.0", "1.0.0-rc.1", "1.0.0-alpha"}) {
    ASSERT_TRUE(Push(v, v).ok()) << v;
  }
  auto other = registry_->CreateUpload(Spec("0.1.0", "acme/other"), std::nullopt, "",
                                       TenantActor(), {});
  ASSERT_TRUE(other.ok());
  auto versions = registry_->Versions("acme/fraud/data");
  ASSERT_TRUE(versions.ok());
  std::vector<std::string> order;
  for (const ArtifactRecord& r : *versions) order.push_back(r.spec.version);
  EXPECT_EQ(order, (std::vector<std::string>{"1.10.0", "1.2.0", "1.0.0", "1.0.0-rc.1",
                                             "1.0.0-alpha"}));
  ArtifactFilter filter;
  filter.name_prefix = "acme/";
  auto listed = registry_->List(filter);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 5u);
  EXPECT_EQ((*listed)[0].spec.version, "1.10.0");
  EXPECT_EQ((*listed)[4].spec.version, "1.0.0-alpha");
}

// Throughput of one push and one full read, in process (SOV_REGISTRY_BENCH_MIB, default 64).
TEST_F(RegistryTest, Throughput) {
  int64_t mib = 64;
  if (const char* env = std::getenv("SOV_REGISTRY_BENCH_MIB")) mib = std::atoll(env);
  std::string data = Bytes(mib * kMiB, 12);
  auto upload = registry_->CreateUpload(Spec("1.0.0"), mib * kMiB, "", TenantActor(), {});
  ASSERT_TRUE(upload.ok());
  std::string digest = DigestOf(data);

  auto start = std::chrono::steady_clock::now();
  auto writer = registry_->OpenUploadWriter(upload->id, 0);
  ASSERT_TRUE(writer.ok());
  for (int64_t at = 0; at < mib * kMiB; at += kMiB) {
    ASSERT_TRUE((*writer)->Write(std::string_view(data).substr(at, kMiB)).ok());
  }
  auto written = std::chrono::steady_clock::now();
  auto artifact = (*writer)->Commit(digest, TenantActor(), {});
  ASSERT_TRUE(artifact.ok()) << artifact.status().ToString();
  auto pushed = std::chrono::steady_clock::now();

  auto reader = registry_->OpenReader(*artifact, 0, std::nullopt);
  ASSERT_TRUE(reader.ok());
  size_t total = 0;
  while (true) {
    auto piece = (*reader)->Next();
    ASSERT_TRUE(piece.ok()) << piece.status().ToString();
    if (piece->empty()) break;
    total += piece->size();
  }
  auto read = std::chrono::steady_clock::now();
  EXPECT_EQ(total, data.size());
  auto mbps = [&](auto d) {
    return static_cast<double>(data.size()) / 1e6 / std::chrono::duration<double>(d).count();
  };
  std::printf("push %lld MiB: %.0f MB/s (writes alone %.0f MB/s; commit with fsync %.0f ms); "
              "full read: %.0f MB/s\n",
              static_cast<long long>(mib), mbps(pushed - start), mbps(written - start),
              std::chrono::duration<double, std::milli>(pushed - written).count(),
              mbps(read - pushed));
}

}  // namespace
}  // namespace sov::registry
