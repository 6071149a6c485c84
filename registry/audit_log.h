// AuditLog: the tamper-evident log over a MetadataStore. Appends go through the store's group
// commit (durable before Append returns); a background thread signs a checkpoint (origin, tree
// size, root hash, time) with the registry key whenever the log grew, at most once per
// `checkpoint_interval`; proofs are computed from the store's perfect-subtree hashes in
// O(log n) reads (RFC 9162 sections 2.1.3 and 2.1.4). Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "crypto/ed25519.h"
#include "registry/metadata_store.h"
#include "registry/types.h"

namespace sov::registry {

inline constexpr std::string_view kCheckpointPayloadType = "application/vnd.sov.checkpoint.v1+json";

// The canonical checkpoint payload: {"origin","rootHash" (hex),"time" (RFC 3339 UTC, whole
// seconds),"treeSize" (number)}, keys sorted, no whitespace.
std::string CheckpointPayload(std::string_view origin, int64_t tree_size, const LeafHash& root,
                              SystemTime time);

struct AuditLogOptions {
  std::string origin = "sovereign/audit";
  std::chrono::milliseconds checkpoint_interval{1000};
};

class AuditLog {
 public:
  // `store` and `signing_key` outlive nothing: the log keeps what it needs. Starts the
  // checkpoint thread; the destructor stops it after a final checkpoint.
  AuditLog(std::shared_ptr<MetadataStore> store, crypto::Ed25519PrivateKey signing_key,
           AuditLogOptions options);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends events in one batch; returns their indexes. Durable on return.
  Result<std::vector<int64_t>> Append(std::vector<AuditEvent> events);
  // Appends like Append without waiting: `done` gets the indexes once they are durable (or the
  // error), on the store's thread (see MetadataStore::CommitAsync), so it must be short.
  using AppendCallback = std::function<void(Result<std::vector<int64_t>>)>;
  void AppendAsync(std::vector<AuditEvent> events, AppendCallback done);

  // Signs and stores a checkpoint of the current tree now, unless the latest one covers it;
  // returns the latest checkpoint. NOT_FOUND while the log is empty.
  Result<CheckpointRecord> CheckpointNow();
  // The checkpoint at `tree_size`, or the latest (0). NOT_FOUND when none.
  Result<CheckpointRecord> Checkpoint(int64_t tree_size);

  // RFC 9162 proofs. OUT_OF_RANGE when an index or size exceeds the log.
  Result<std::vector<LeafHash>> InclusionProof(int64_t leaf_index, int64_t tree_size);
  Result<std::vector<LeafHash>> ConsistencyProof(int64_t first_size, int64_t second_size);

  const std::string& origin() const { return options_.origin; }
  const crypto::Ed25519PublicKey& public_key() const { return public_key_; }
  MetadataStore& store() { return *store_; }

 private:
  void CheckpointLoop();

  std::shared_ptr<MetadataStore> store_;
  crypto::Ed25519PrivateKey signing_key_;
  crypto::Ed25519PublicKey public_key_;
  AuditLogOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::mutex checkpoint_mutex_;  // one signer at a time
  std::thread thread_;
};

}  // namespace sov::registry
