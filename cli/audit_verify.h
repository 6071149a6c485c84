// Offline verification of an audit log export (`sovctl audit verify`): the entries, in index
// order from entry 0, with the signed checkpoints between them, as AuditService.Export streams
// them and `sovctl audit export` writes them (one JSON object per line, {"entry": AuditEntry} or
// {"checkpoint": Checkpoint}, in proto3 JSON).
//
// Nothing the export says about itself is trusted but leaf_data and the checkpoints' DSSE
// envelopes. For each entry the verifier recomputes the leaf hash SHA-256(0x00 || leaf_data),
// checks that leaf_data is a JSON object whose "index" is the next index and whose
// "previousLeafHash" (lower-case hex) is the previous entry's recomputed leaf hash (32 zero bytes
// for entry 0), and appends the leaf to a compact Merkle range (crypto/merkle.h), so the whole
// export costs O(n) hashes. At each checkpoint it verifies the envelope with the registry key
// (payload type application/vnd.sov.checkpoint.v1+json, payload {"origin","rootHash","time",
// "treeSize"}), that treeSize is the number of entries so far, and that rootHash is the root of
// their tree. The export must end with a checkpoint that covers every entry.
//
// The first failure names the entry or checkpoint at fault and why, e.g. "entry 17: leaf_data
// does not hash to the value entry 18 chains to"; after it every call returns the same failure.
// The entry's own leaf_hash field is only used to explain a root mismatch and is reported (as a
// warning) when it differs. A verifier is single-threaded.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "crypto/dsse.h"
#include "crypto/ed25519.h"
#include "crypto/merkle.h"

namespace sov::cli {

inline constexpr std::string_view kCheckpointPayloadType = "application/vnd.sov.checkpoint.v1+json";

// One entry of an export, as far as verification goes.
struct AuditExportEntry {
  int64_t index = 0;      // the entry's index field (not trusted: leaf_data's "index" counts)
  std::string leaf_data;  // the bytes the tree hashes
  std::string leaf_hash;  // the leaf_hash field as sent: 32 bytes, or empty when absent
};

// What a successful verification covered.
struct AuditVerification {
  uint64_t entries = 0;
  uint64_t checkpoints = 0;
  uint64_t tree_size = 0;             // of the last checkpoint (= entries)
  std::string root_hash;              // its root, lower-case hex
  std::string origin;                 // its origin
  std::string time;                   // its time, as signed
  std::vector<std::string> key_ids;   // the registry keys whose signature on it verified
  std::vector<std::string> warnings;  // e.g. leaf_hash fields that differ from leaf_data's hash
};

class AuditExportVerifier {
 public:
  // Verifies checkpoints against `registry_keys` (any one of them suffices).
  explicit AuditExportVerifier(std::vector<crypto::Ed25519PublicKey> registry_keys);

  // Checks the next entry of the export. DATA_LOSS naming the entry (or the entry whose
  // leaf_data it chains to) on the first failure.
  Status AddEntry(const AuditExportEntry& entry);

  // Checks a checkpoint against the entries so far. DATA_LOSS naming the checkpoint (by tree
  // size) on a bad signature or payload, a tree size other than the entries so far, or a root
  // mismatch; a root mismatch names the first entry that differs from the signed tree when the
  // entries tell which.
  Status AddCheckpoint(const crypto::DsseEnvelope& envelope);

  // Ends the export. DATA_LOSS when it holds no entry or no checkpoint, or when entries follow
  // the last checkpoint (an unverified tail); the earlier failure when there was one.
  Result<AuditVerification> Finish();

  uint64_t entries() const { return entries_; }

 private:
  Status Fail(std::string message);
  Status ResolvePendingRootMismatch(const std::string& chain_failure);

  std::vector<crypto::Ed25519PublicKey> keys_;
  Status failure_;
  // A root mismatch that the next entry may explain better (its chain names the changed entry).
  std::optional<std::string> pending_root_mismatch_;

  uint64_t entries_ = 0;
  crypto::merkle::Hash previous_leaf_{};  // recomputed hash of the last entry (zeros before 0)
  crypto::merkle::Hash previous_claimed_{};  // its leaf_hash field (or the recomputed hash)
  bool previous_claim_differs_ = false;
  crypto::merkle::CompactRange tree_;          // recomputed leaf hashes
  crypto::merkle::CompactRange claimed_tree_;  // leaf_hash fields where given
  // The first entry since the last good checkpoint whose leaf_hash field differs from its
  // recomputed hash, for explaining a root mismatch.
  std::optional<uint64_t> first_differing_claim_;
  std::string first_differing_recomputed_;
  std::string first_differing_claimed_;

  uint64_t last_good_size_ = 0;  // tree size of the last checkpoint that verified
  AuditVerification summary_;
};

// Verifies an export in `sovctl audit export`'s format, one JSON object per line, read from
// `in`; `source` names it in messages ("audit.jsonl"). Blank lines are skipped. DATA_LOSS as
// the verifier reports; INVALID_ARGUMENT "SOURCE:LINE: ..." for a line that is neither an entry
// nor a checkpoint.
Result<AuditVerification> VerifyAuditExportLines(std::istream& in, std::string_view source,
                                                 std::vector<crypto::Ed25519PublicKey> registry_keys);

}  // namespace sov::cli
