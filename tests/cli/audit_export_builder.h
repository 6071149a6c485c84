// Builds audit log exports by hand for the tests of `sovctl audit verify`: entries whose
// leaf_data is canonical JSON with "index" and "previousLeafHash", and checkpoints signed with a
// test registry key over the Merkle root of the entries so far, in the order AuditService.Export
// sends them. Tests then edit, drop or re-sign records to make tampered exports. Not thread-safe.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/proto_interop.h"
#include "common/hex.h"
#include "crypto/dsse.h"
#include "crypto/ed25519.h"
#include "crypto/merkle.h"
#include "sov/v1/audit.pb.h"

namespace sov::cli::testing {

class AuditExportBuilder {
 public:
  explicit AuditExportBuilder(const crypto::Ed25519PrivateKey& key) : key_(key) {}

  // Appends entry number size() with `action`, chained to the previous entry.
  void AddEntry(const std::string& action = "artifact.fetch") {
    const uint64_t index = leaves_.size();
    nlohmann::json leaf = {{"index", index},
                           {"action", action},
                           {"previousLeafHash", Hex(previous_)},
                           {"effect", "EFFECT_ALLOW"}};
    const std::string leaf_data = leaf.dump();  // std::map keys: sorted, no whitespace
    const crypto::merkle::Hash hash = crypto::merkle::LeafHash(leaf_data);
    v1::ExportResponse record;
    v1::AuditEntry* entry = record.mutable_entry();
    entry->set_index(static_cast<int64_t>(index));
    entry->set_action(action);
    entry->set_leaf_data(leaf_data);
    entry->set_leaf_hash(std::string(hash.begin(), hash.end()));
    entry->set_previous_leaf_hash(std::string(previous_.begin(), previous_.end()));
    records.push_back(std::move(record));
    leaves_.push_back(hash);
    previous_ = hash;
  }

  // Appends a checkpoint over every entry so far, signed with `key` (default: the builder's).
  void AddCheckpoint(const crypto::Ed25519PrivateKey* key = nullptr) {
    AddCheckpointWithRoot(crypto::merkle::RootFromLeaves(leaves_), leaves_.size(), key);
  }

  // Appends a checkpoint that states `root` and `tree_size`, whatever the entries say.
  void AddCheckpointWithRoot(const crypto::merkle::Hash& root, uint64_t tree_size,
                             const crypto::Ed25519PrivateKey* key = nullptr) {
    nlohmann::json payload = {{"origin", "test.example/audit"},
                              {"rootHash", Hex(root)},
                              {"time", "2026-11-29T14:45:28Z"},
                              {"treeSize", tree_size}};
    crypto::DsseEnvelope envelope =
        crypto::SignDsse("application/vnd.sov.checkpoint.v1+json", payload.dump(),
                         key != nullptr ? *key : key_);
    v1::ExportResponse record;
    v1::Checkpoint* checkpoint = record.mutable_checkpoint();
    checkpoint->set_origin("test.example/audit");
    checkpoint->set_tree_size(static_cast<int64_t>(tree_size));
    checkpoint->set_root_hash(std::string(root.begin(), root.end()));
    *checkpoint->mutable_envelope() = ToProtoEnvelope(envelope);
    records.push_back(std::move(record));
  }

  // The root of every entry so far, lower-case hex.
  std::string RootHex() const { return Hex(crypto::merkle::RootFromLeaves(leaves_)); }

  // Returns the records as `sovctl audit export` writes them: one proto3 JSON object per line.
  std::string Jsonl() const {
    std::string out;
    for (const v1::ExportResponse& record : records) out += ProtoToJsonLine(record) + "\n";
    return out;
  }

  // The records, in export order; tests edit them.
  std::vector<v1::ExportResponse> records;

  static std::string Hex(const crypto::merkle::Hash& hash) {
    return HexEncode(std::span<const uint8_t>(hash));
  }

 private:
  const crypto::Ed25519PrivateKey& key_;
  std::vector<crypto::merkle::Hash> leaves_;
  crypto::merkle::Hash previous_{};
};

}  // namespace sov::cli::testing
