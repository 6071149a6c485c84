#include "registry/audit_log.h"

#include <utility>

#include <nlohmann/json.hpp>

#include "common/hex.h"
#include "common/time.h"
#include "crypto/dsse.h"
#include "crypto/merkle.h"

namespace sov::registry {
namespace {

// The store's perfect-subtree hashes as the node source of crypto/merkle.h. A perfect subtree
// never changes once complete, so proofs and roots for any size up to the current one are
// consistent however many appends run meanwhile.
crypto::merkle::NodeSource NodeSourceOf(MetadataStore& store) {
  return [&store](int level, uint64_t index) -> Result<crypto::merkle::Hash> {
    return store.AuditNode(level, static_cast<int64_t>(index));
  };
}

}  // namespace

std::string CheckpointPayload(std::string_view origin, int64_t tree_size, const LeafHash& root,
                              SystemTime time) {
  nlohmann::json payload = {
      {"origin", std::string(origin)},
      {"rootHash", HexEncode(std::span<const uint8_t>(root))},
      {"time", FormatRfc3339(time)},
      {"treeSize", tree_size},
  };
  // nlohmann's objects are std::maps: dump() writes the keys sorted, without whitespace.
  return payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

AuditLog::AuditLog(std::shared_ptr<MetadataStore> store, crypto::Ed25519PrivateKey signing_key,
                   AuditLogOptions options)
    : store_(std::move(store)),
      signing_key_(std::move(signing_key)),
      public_key_(signing_key_.public_key()),
      options_(std::move(options)) {
  thread_ = std::thread([this] { CheckpointLoop(); });
}

AuditLog::~AuditLog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // The final checkpoint covers whatever was appended since the last one. A failure here has
  // no one to report to; the next start signs that size instead.
  (void)CheckpointNow();
}

Result<std::vector<int64_t>> AuditLog::Append(std::vector<AuditEvent> events) {
  if (events.empty()) return std::vector<int64_t>{};
  WriteBatch batch;
  for (AuditEvent& event : events) batch.Add(mutation::AppendAudit{std::move(event)});
  SOV_ASSIGN_OR_RETURN(CommitResult result, store_->Commit(std::move(batch)));
  return std::move(result.audit_indexes);
}

void AuditLog::AppendAsync(std::vector<AuditEvent> events, AppendCallback done) {
  if (events.empty()) {
    done(std::vector<int64_t>{});
    return;
  }
  WriteBatch batch;
  for (AuditEvent& event : events) batch.Add(mutation::AppendAudit{std::move(event)});
  store_->CommitAsync(std::move(batch), [done = std::move(done)](Result<CommitResult> result) {
    if (!result.ok()) {
      done(result.status());
    } else {
      done(std::move(result->audit_indexes));
    }
  });
}

Result<CheckpointRecord> AuditLog::CheckpointNow() {
  std::lock_guard<std::mutex> lock(checkpoint_mutex_);
  SOV_ASSIGN_OR_RETURN(int64_t size, store_->AuditSize());
  SOV_ASSIGN_OR_RETURN(std::optional<CheckpointRecord> latest, store_->FindCheckpoint(0));
  if (latest.has_value() && latest->tree_size >= size) return std::move(*latest);
  if (size == 0) return NotFound("the audit log is empty: no checkpoint yet");

  // Only the size read above is signed: its root comes from perfect subtrees that can no
  // longer change, so a concurrent append cannot make the signed root disagree with the size.
  SOV_ASSIGN_OR_RETURN(crypto::merkle::Hash root,
                       crypto::merkle::SubtreeHash(0, static_cast<uint64_t>(size),
                                                   NodeSourceOf(*store_)));
  CheckpointRecord checkpoint;
  checkpoint.tree_size = size;
  checkpoint.root = root;
  // The payload has whole seconds; the record keeps the same instant.
  checkpoint.time = std::chrono::time_point_cast<std::chrono::seconds>(
      std::chrono::system_clock::now());
  crypto::DsseEnvelope envelope =
      crypto::SignDsse(kCheckpointPayloadType,
                       CheckpointPayload(options_.origin, size, root, checkpoint.time),
                       signing_key_);
  checkpoint.envelope = envelope.ToJson();

  WriteBatch batch;
  batch.Add(mutation::PutCheckpoint{checkpoint});
  SOV_RETURN_IF_ERROR(store_->Commit(std::move(batch)).status());
  return checkpoint;
}

Result<CheckpointRecord> AuditLog::Checkpoint(int64_t tree_size) {
  if (tree_size < 0) return InvalidArgument("tree size must not be negative");
  SOV_ASSIGN_OR_RETURN(std::optional<CheckpointRecord> checkpoint,
                       store_->FindCheckpoint(tree_size));
  if (!checkpoint.has_value()) {
    if (tree_size == 0) return NotFound("no audit checkpoint yet");
    return NotFound("no audit checkpoint at tree size " + std::to_string(tree_size));
  }
  return std::move(*checkpoint);
}

Result<std::vector<LeafHash>> AuditLog::InclusionProof(int64_t leaf_index, int64_t tree_size) {
  if (leaf_index < 0 || tree_size < 0) {
    return InvalidArgument("leaf index and tree size must not be negative");
  }
  SOV_ASSIGN_OR_RETURN(int64_t size, store_->AuditSize());
  if (tree_size > size) {
    return OutOfRange("tree size " + std::to_string(tree_size) + " exceeds the audit log's " +
                      std::to_string(size) + " entries");
  }
  if (leaf_index >= tree_size) {
    return OutOfRange("leaf index " + std::to_string(leaf_index) + " is not in a tree of " +
                      std::to_string(tree_size) + " entries");
  }
  return crypto::merkle::InclusionProof(static_cast<uint64_t>(leaf_index),
                                        static_cast<uint64_t>(tree_size), NodeSourceOf(*store_));
}

Result<std::vector<LeafHash>> AuditLog::ConsistencyProof(int64_t first_size,
                                                         int64_t second_size) {
  if (first_size < 0 || second_size < 0) {
    return InvalidArgument("tree sizes must not be negative");
  }
  if (first_size > second_size) {
    return InvalidArgument("first tree size " + std::to_string(first_size) +
                           " exceeds the second, " + std::to_string(second_size));
  }
  SOV_ASSIGN_OR_RETURN(int64_t size, store_->AuditSize());
  if (second_size > size) {
    return OutOfRange("tree size " + std::to_string(second_size) + " exceeds the audit log's " +
                      std::to_string(size) + " entries");
  }
  return crypto::merkle::ConsistencyProof(static_cast<uint64_t>(first_size),
                                          static_cast<uint64_t>(second_size),
                                          NodeSourceOf(*store_));
}

void AuditLog::CheckpointLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, options_.checkpoint_interval, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    // A failed checkpoint (store busy or down) is retried on the next tick; appends do not
    // depend on it.
    (void)CheckpointNow();
    lock.lock();
  }
}

}  // namespace sov::registry
