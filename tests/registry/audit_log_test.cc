// Tests for AuditLog: appends, signed checkpoints (background, on demand, at shutdown) and
// RFC 9162 proofs over a real SQLite store, checked with crypto/merkle.h's verifiers.
#include "registry/audit_log.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/hex.h"
#include "crypto/dsse.h"
#include "crypto/merkle.h"
#include "registry/sqlite_metadata_store.h"
#include "tests/testing/temp_dir.h"

namespace sov::registry {
namespace {

using crypto::merkle::Hash;

AuditEvent Event(int n) {
  AuditEvent event;
  event.type = "DECISION";
  event.request_id = "req-" + std::to_string(n);
  event.action = "artifact.fetch";
  event.effect = n % 2 == 0 ? "allow" : "deny";
  event.rule_id = "rule-" + std::to_string(n);
  event.policy_digest = "sha256:" + std::string(64, 'a');
  return event;
}

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteMetadataStore::Open(dir_.Join("meta.db"));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  std::unique_ptr<AuditLog> NewLog(std::chrono::milliseconds interval = std::chrono::hours(1)) {
    AuditLogOptions options;
    options.checkpoint_interval = interval;
    return std::make_unique<AuditLog>(store_, key_, options);
  }

  // The leaf hashes of entries [0, n), as the store keeps them.
  std::vector<Hash> Leaves(int64_t n) {
    auto records = store_->ReadAudit(0, n);
    EXPECT_TRUE(records.ok()) << records.status().ToString();
    std::vector<Hash> leaves;
    for (const AuditRecord& r : *records) leaves.push_back(r.leaf_hash);
    return leaves;
  }

  testing::TempDir dir_;
  std::shared_ptr<MetadataStore> store_;
  crypto::Ed25519PrivateKey key_ = crypto::Ed25519PrivateKey::Generate();
};

// The payload is canonical JSON with sorted keys, hex root, whole-second RFC 3339 time.
TEST_F(AuditLogTest, CheckpointPayloadIsCanonical) {
  LeafHash root{};
  root[0] = 0xab;
  root[31] = 0x01;
  SystemTime t = std::chrono::system_clock::from_time_t(1764427528);  // 2025-11-29T14:45:28Z
  EXPECT_EQ(CheckpointPayload("sovereign/audit", 42, root, t),
            "{\"origin\":\"sovereign/audit\",\"rootHash\":\"ab" + std::string(60, '0') +
                "01\",\"time\":\"2025-11-29T14:45:28Z\",\"treeSize\":42}");
}

// Append returns consecutive indexes and the entries are durable in the store.
TEST_F(AuditLogTest, AppendReturnsConsecutiveIndexes) {
  auto log = NewLog();
  auto first = log->Append({Event(0), Event(1), Event(2)});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, (std::vector<int64_t>{0, 1, 2}));
  auto second = log->Append({Event(3)});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, (std::vector<int64_t>{3}));
  EXPECT_EQ(*store_->AuditSize(), 4);
  auto none = log->Append({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

// AppendAsync hands the durable indexes to its callback; an empty append completes at once.
TEST_F(AuditLogTest, AppendAsyncReportsDurableIndexes) {
  auto log = NewLog();
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::vector<int64_t>> got;
  for (int i = 0; i < 5; ++i) {
    log->AppendAsync({Event(2 * i), Event(2 * i + 1)},
                     [&](Result<std::vector<int64_t>> indexes) {
                       ASSERT_TRUE(indexes.ok()) << indexes.status().ToString();
                       std::lock_guard<std::mutex> lock(mu);
                       got.push_back(*indexes);
                       cv.notify_all();
                     });
  }
  bool empty_done = false;
  log->AppendAsync({}, [&](Result<std::vector<int64_t>> indexes) {
    ASSERT_TRUE(indexes.ok());
    EXPECT_TRUE(indexes->empty());
    empty_done = true;
  });
  EXPECT_TRUE(empty_done);  // nothing to append: no wait
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return got.size() == 5; }));
  std::vector<int64_t> all;
  for (const auto& pair : got) {
    ASSERT_EQ(pair.size(), 2u);
    EXPECT_EQ(pair[1], pair[0] + 1);
    all.insert(all.end(), pair.begin(), pair.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(*store_->AuditSize(), 10);
}

// A checkpoint is a DSSE envelope over the payload, signed by the registry key, whose root is
// the RFC 9162 root of the leaves.
TEST_F(AuditLogTest, CheckpointSignatureVerifies) {
  auto log = NewLog();
  EXPECT_EQ(log->CheckpointNow().status().code(), StatusCode::kNotFound);  // empty log
  ASSERT_TRUE(log->Append({Event(0), Event(1), Event(2), Event(3), Event(4)}).ok());

  auto checkpoint = log->CheckpointNow();
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status().ToString();
  EXPECT_EQ(checkpoint->tree_size, 5);
  EXPECT_EQ(checkpoint->root, crypto::merkle::RootFromLeaves(Leaves(5)));

  auto envelope = crypto::DsseEnvelope::FromJson(checkpoint->envelope);
  ASSERT_TRUE(envelope.ok()) << envelope.status().ToString();
  EXPECT_EQ(envelope->payload_type, kCheckpointPayloadType);
  EXPECT_EQ(envelope->payload, CheckpointPayload(log->origin(), 5, checkpoint->root,
                                                 checkpoint->time));
  auto verified = crypto::VerifyDsse(*envelope, {key_.public_key()});
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_FALSE(crypto::VerifyDsse(*envelope, {crypto::Ed25519PrivateKey::Generate().public_key()})
                   .ok());

  // Nothing new: the same checkpoint; it is stored and found by size and as the latest.
  auto again = log->CheckpointNow();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->envelope, checkpoint->envelope);
  auto by_size = log->Checkpoint(5);
  ASSERT_TRUE(by_size.ok());
  EXPECT_EQ(by_size->envelope, checkpoint->envelope);
  EXPECT_EQ(log->Checkpoint(0)->tree_size, 5);
  EXPECT_EQ(log->Checkpoint(3).status().code(), StatusCode::kNotFound);
}

// The background thread signs a checkpoint once the log has grown.
TEST_F(AuditLogTest, BackgroundThreadCheckpointsGrowth) {
  auto log = NewLog(std::chrono::milliseconds(10));
  ASSERT_TRUE(log->Append({Event(0), Event(1), Event(2)}).ok());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int64_t size = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    auto latest = store_->FindCheckpoint(0);
    ASSERT_TRUE(latest.ok());
    if (latest->has_value() && (*latest)->tree_size == 3) {
      size = 3;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(size, 3);
}

// Destroying the log signs a final checkpoint of everything appended.
TEST_F(AuditLogTest, DestructorSignsFinalCheckpoint) {
  {
    auto log = NewLog();
    ASSERT_TRUE(log->Append({Event(0), Event(1)}).ok());
    ASSERT_TRUE(log->CheckpointNow().ok());
    ASSERT_TRUE(log->Append({Event(2), Event(3), Event(4), Event(5), Event(6)}).ok());
  }
  auto latest = store_->FindCheckpoint(0);
  ASSERT_TRUE(latest.ok());
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->tree_size, 7);
  EXPECT_EQ((*latest)->root, crypto::merkle::RootFromLeaves(Leaves(7)));
}

// Every inclusion and consistency proof of every tree up to 40 leaves verifies against the
// reference root, and a proof for another leaf does not.
TEST_F(AuditLogTest, ProofsVerifyForAllSizes) {
  auto log = NewLog();
  constexpr int kMax = 40;
  std::vector<Hash> roots = {crypto::merkle::EmptyRoot()};
  for (int n = 1; n <= kMax; ++n) {
    ASSERT_TRUE(log->Append({Event(n)}).ok());
    roots.push_back(crypto::merkle::RootFromLeaves(Leaves(n)));
  }
  std::vector<Hash> leaves = Leaves(kMax);
  for (int n = 1; n <= kMax; ++n) {
    for (int i = 0; i < n; ++i) {
      auto proof = log->InclusionProof(i, n);
      ASSERT_TRUE(proof.ok()) << proof.status().ToString();
      EXPECT_TRUE(crypto::merkle::VerifyInclusion(i, n, leaves[i], *proof, roots[n]).ok())
          << "leaf " << i << " of " << n;
      if (n > 1) {
        EXPECT_FALSE(
            crypto::merkle::VerifyInclusion(i, n, leaves[(i + 1) % n], *proof, roots[n]).ok());
      }
    }
    for (int m = 0; m <= n; ++m) {
      auto proof = log->ConsistencyProof(m, n);
      ASSERT_TRUE(proof.ok()) << proof.status().ToString();
      EXPECT_TRUE(crypto::merkle::VerifyConsistency(m, n, roots[m], roots[n], *proof).ok())
          << m << " -> " << n;
    }
  }
}

// Indexes and sizes beyond the log are OUT_OF_RANGE; malformed requests INVALID_ARGUMENT.
TEST_F(AuditLogTest, ProofsBeyondTheLogAreOutOfRange) {
  auto log = NewLog();
  ASSERT_TRUE(log->Append({Event(0), Event(1), Event(2)}).ok());
  EXPECT_EQ(log->InclusionProof(0, 4).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(log->InclusionProof(3, 3).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(log->ConsistencyProof(1, 4).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(log->ConsistencyProof(3, 2).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log->InclusionProof(-1, 2).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(log->InclusionProof(2, 3).ok());
  EXPECT_TRUE(log->ConsistencyProof(3, 3).ok());
}

// Checkpoints signed while other threads append are each consistent with the final tree.
TEST_F(AuditLogTest, CheckpointsDuringConcurrentAppendsAreConsistent) {
  auto log = NewLog(std::chrono::milliseconds(1));
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&log, t] {
      for (int i = 0; i < 25; ++i) ASSERT_TRUE(log->Append({Event(t * 100 + i)}).ok());
    });
  }
  for (std::thread& w : writers) w.join();
  ASSERT_TRUE(log->CheckpointNow().ok());
  auto checkpoints = store_->ListCheckpoints(0, 100);
  ASSERT_TRUE(checkpoints.ok());
  ASSERT_FALSE(checkpoints->empty());
  std::vector<Hash> leaves = Leaves(100);
  Hash final_root = crypto::merkle::RootFromLeaves(leaves);
  for (const CheckpointRecord& c : *checkpoints) {
    EXPECT_EQ(c.root, crypto::merkle::RootFromLeaves(
                          std::span<const Hash>(leaves.data(), static_cast<size_t>(c.tree_size))));
    auto proof = log->ConsistencyProof(c.tree_size, 100);
    ASSERT_TRUE(proof.ok());
    EXPECT_TRUE(
        crypto::merkle::VerifyConsistency(c.tree_size, 100, c.root, final_root, *proof).ok());
  }
}

}  // namespace
}  // namespace sov::registry
