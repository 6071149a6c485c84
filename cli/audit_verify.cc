#include "cli/audit_verify.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include <nlohmann/json.hpp>

#include "cli/proto_interop.h"
#include "common/hex.h"
#include "sov/v1/audit.pb.h"

namespace sov::cli {
namespace {

using crypto::merkle::Hash;
using Json = nlohmann::json;

std::string Hex(const Hash& hash) { return HexEncode(std::span<const uint8_t>(hash)); }

std::string N(uint64_t n) { return std::to_string(n); }

// Reads a JSON integer that is a number or a string of decimal digits (as proto3 JSON writes
// int64); nullopt otherwise.
std::optional<uint64_t> JsonInteger(const Json& value) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer()) {
    int64_t v = value.get<int64_t>();
    if (v < 0) return std::nullopt;
    return static_cast<uint64_t>(v);
  }
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    if (text.empty() || text.size() > 19) return std::nullopt;
    uint64_t v = 0;
    for (char c : text) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    return v;
  }
  return std::nullopt;
}

// Parses 64 lower-case hex digits into a hash.
std::optional<Hash> HashFromHex(const Json& value) {
  if (!value.is_string()) return std::nullopt;
  const std::string& text = value.get_ref<const std::string&>();
  if (text.size() != 64) return std::nullopt;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  std::optional<std::vector<uint8_t>> bytes = HexDecode(text);
  if (!bytes || bytes->size() != 32) return std::nullopt;
  Hash hash;
  std::copy(bytes->begin(), bytes->end(), hash.begin());
  return hash;
}

// "entry 17" or "entries 17 to 19".
std::string EntryRange(uint64_t first, uint64_t last) {
  return first == last ? "entry " + N(first) : "entries " + N(first) + " to " + N(last);
}

}  // namespace

AuditExportVerifier::AuditExportVerifier(std::vector<crypto::Ed25519PublicKey> registry_keys)
    : keys_(std::move(registry_keys)) {}

Status AuditExportVerifier::Fail(std::string message) {
  pending_root_mismatch_.reset();
  failure_ = DataLoss(std::move(message));
  return failure_;
}

Status AuditExportVerifier::ResolvePendingRootMismatch(const std::string& chain_failure) {
  std::string root_mismatch = std::move(*pending_root_mismatch_);
  if (chain_failure.empty()) return Fail(std::move(root_mismatch));
  // The chain names the changed entry, which also explains the checkpoint before it.
  return Fail(chain_failure + "; the checkpoint at tree size " + N(entries_) +
              " does not match either (root mismatch)");
}

Status AuditExportVerifier::AddEntry(const AuditExportEntry& entry) {
  if (!failure_.ok()) return failure_;
  const uint64_t expected = entries_;
  const std::string name = "entry " + N(expected);

  Json doc = Json::parse(entry.leaf_data, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    if (pending_root_mismatch_) return ResolvePendingRootMismatch("");
    return Fail(name + ": leaf_data is not a JSON object");
  }
  std::optional<uint64_t> index;
  if (auto it = doc.find("index"); it != doc.end()) index = JsonInteger(*it);
  if (!index) {
    if (pending_root_mismatch_) return ResolvePendingRootMismatch("");
    return Fail(name + ": leaf_data has no integer \"index\"");
  }
  if (*index != expected) {
    if (pending_root_mismatch_) return ResolvePendingRootMismatch("");
    if (expected == 0) {
      return Fail("the export starts at entry " + N(*index) +
                  ", not at entry 0: verification needs the whole log (export without --start)");
    }
    if (*index > expected) {
      return Fail(EntryRange(expected, *index - 1) + (*index - 1 == expected ? " is" : " are") +
                  " missing: entry " + N(expected - 1) + " is followed by entry " + N(*index));
    }
    return Fail("entry " + N(*index) + " appears again after entry " + N(expected - 1));
  }

  std::optional<Hash> chained;
  if (auto it = doc.find("previousLeafHash"); it != doc.end()) chained = HashFromHex(*it);
  if (!chained) {
    if (pending_root_mismatch_) return ResolvePendingRootMismatch("");
    return Fail(name + ": leaf_data has no \"previousLeafHash\" of 64 lower-case hex digits");
  }
  if (*chained != previous_leaf_) {
    if (expected == 0) return Fail("entry 0: previousLeafHash is not 32 zero bytes");
    std::string message = "entry " + N(expected - 1) +
                          ": leaf_data does not hash to the value entry " + N(expected) +
                          " chains to (entry " + N(expected - 1) + " hashes to " +
                          Hex(previous_leaf_) + ", entry " + N(expected) +
                          "'s previousLeafHash is " + Hex(*chained) + ")";
    if (previous_claim_differs_ && previous_claimed_ == *chained) {
      message += "; its leaf_hash field agrees with entry " + N(expected) + ", so entry " +
                 N(expected - 1) + "'s leaf_data was changed";
    }
    if (pending_root_mismatch_) return ResolvePendingRootMismatch(message);
    return Fail(std::move(message));
  }
  // The chain to the entry before a mismatched checkpoint is intact: the mismatch stands alone.
  if (pending_root_mismatch_) return ResolvePendingRootMismatch("");

  const Hash leaf = crypto::merkle::LeafHash(entry.leaf_data);
  if (entry.index != static_cast<int64_t>(expected)) {
    summary_.warnings.push_back(name + ": its index field says " + std::to_string(entry.index) +
                                "; leaf_data, which is what is signed, says " + N(expected));
  }
  Hash claimed = leaf;
  bool claim_differs = false;
  if (!entry.leaf_hash.empty()) {
    if (entry.leaf_hash.size() != claimed.size()) {
      summary_.warnings.push_back(name + ": its leaf_hash field is " +
                                  N(entry.leaf_hash.size()) + " bytes, not 32 (ignored)");
    } else {
      std::memcpy(claimed.data(), entry.leaf_hash.data(), claimed.size());
      if (claimed != leaf) {
        claim_differs = true;
        summary_.warnings.push_back(name + ": its leaf_hash field " + Hex(claimed) +
                                    " is not SHA-256(0x00 || leaf_data) " + Hex(leaf) +
                                    " (the field is ignored)");
        if (!first_differing_claim_) {
          first_differing_claim_ = expected;
          first_differing_recomputed_ = Hex(leaf);
          first_differing_claimed_ = Hex(claimed);
        }
      }
    }
  }
  tree_.Append(leaf);
  claimed_tree_.Append(claimed);
  previous_leaf_ = leaf;
  previous_claimed_ = claimed;
  previous_claim_differs_ = claim_differs;
  ++entries_;
  return OkStatus();
}

Status AuditExportVerifier::AddCheckpoint(const crypto::DsseEnvelope& envelope) {
  if (!failure_.ok()) return failure_;
  if (pending_root_mismatch_) return ResolvePendingRootMismatch("");
  const std::string where = entries_ == 0 ? std::string("the checkpoint before entry 0")
                                          : "the checkpoint after entry " + N(entries_ - 1);
  if (envelope.payload_type != kCheckpointPayloadType) {
    return Fail(where + ": payload type is '" + envelope.payload_type + "', not '" +
                std::string(kCheckpointPayloadType) + "'");
  }
  Result<std::vector<std::string>> key_ids = crypto::VerifyDsse(envelope, keys_, 1);
  if (!key_ids.ok()) {
    // The payload is not trusted, but its tree size helps the reader find the record.
    std::string claimed_size;
    Json unverified = Json::parse(envelope.payload, nullptr, /*allow_exceptions=*/false);
    if (unverified.is_object() && unverified.contains("treeSize")) {
      if (std::optional<uint64_t> size = JsonInteger(unverified["treeSize"])) {
        claimed_size = " (claiming tree size " + N(*size) + ")";
      }
    }
    return Fail(where + claimed_size +
                ": signature does not verify with the registry key: " + key_ids.status().message());
  }

  Json payload = Json::parse(envelope.payload, nullptr, /*allow_exceptions=*/false);
  if (payload.is_discarded() || !payload.is_object()) {
    return Fail(where + ": the signed payload is not a JSON object");
  }
  std::optional<uint64_t> tree_size;
  std::optional<Hash> root;
  if (auto it = payload.find("treeSize"); it != payload.end()) tree_size = JsonInteger(*it);
  if (auto it = payload.find("rootHash"); it != payload.end()) root = HashFromHex(*it);
  auto origin = payload.find("origin");
  auto time = payload.find("time");
  if (!tree_size) return Fail(where + ": the signed payload has no integer treeSize");
  const std::string name = "checkpoint at tree size " + N(*tree_size);
  if (!root) return Fail(name + ": the signed payload has no rootHash of 64 lower-case hex digits");
  if (origin == payload.end() || !origin->is_string()) {
    return Fail(name + ": the signed payload has no origin");
  }
  if (time == payload.end() || !time->is_string()) {
    return Fail(name + ": the signed payload has no time");
  }

  if (*tree_size > entries_) {
    return Fail(name + " follows only " + N(entries_) + " entries: " +
                EntryRange(entries_, *tree_size - 1) +
                (*tree_size - entries_ == 1 ? " is" : " are") + " missing");
  }
  if (*tree_size < entries_) {
    return Fail(name + " comes after " + N(entries_) +
                " entries; an export puts each checkpoint right after the entry that completes "
                "its tree");
  }
  const std::string& origin_text = origin->get_ref<const std::string&>();
  if (summary_.checkpoints > 0 && origin_text != summary_.origin) {
    return Fail(name + ": origin '" + origin_text + "' differs from the earlier checkpoints' '" +
                summary_.origin + "'");
  }

  const Hash computed = tree_.Root();
  if (computed != *root) {
    std::string base = name + ": root mismatch (signed " + Hex(*root) + ", the entries give " +
                       Hex(computed) + ")";
    if (first_differing_claim_ && claimed_tree_.Root() == *root) {
      return Fail(base + "; first entry that differs from the signed tree: entry " +
                  N(*first_differing_claim_) + " (its leaf_data hashes to " +
                  first_differing_recomputed_ + "; the signed tree has " +
                  first_differing_claimed_ + ", its leaf_hash field)");
    }
    if (entries_ == 0) return Fail(std::move(base));
    const uint64_t last = entries_ - 1;
    if (last_good_size_ == last) {
      base += "; entry " + N(last) + " differs from the signed tree";
    } else {
      base += "; the hash chain of the entries is intact, so entry " + N(last) +
              " was changed, or " + EntryRange(last_good_size_, last) +
              " were rewritten together (the checkpoint " +
              (summary_.checkpoints == 0 ? std::string("is the first") :
                                           "at tree size " + N(last_good_size_) + " verified") +
              ")";
    }
    // The next entry, if any, may name the changed entry through its previousLeafHash.
    pending_root_mismatch_ = std::move(base);
    return OkStatus();
  }

  ++summary_.checkpoints;
  last_good_size_ = entries_;
  summary_.tree_size = *tree_size;
  summary_.root_hash = Hex(*root);
  summary_.origin = origin_text;
  summary_.time = time->get<std::string>();
  summary_.key_ids = std::move(key_ids).value();
  return OkStatus();
}

Result<AuditVerification> AuditExportVerifier::Finish() {
  if (!failure_.ok()) return failure_;
  if (pending_root_mismatch_) return ResolvePendingRootMismatch("");
  if (entries_ == 0) return Fail("the export holds no entries");
  if (summary_.checkpoints == 0) {
    return Fail("the export holds no checkpoint, so none of its " + N(entries_) +
                " entries is covered by a signature");
  }
  if (last_good_size_ < entries_) {
    return Fail(EntryRange(last_good_size_, entries_ - 1) +
                " come after the last checkpoint (tree size " + N(last_good_size_) +
                "): unverified tail; export again to end on a checkpoint that covers them "
                "(`sovctl audit export` without --end ends on the latest one)");
  }
  summary_.entries = entries_;
  return summary_;
}

Result<AuditVerification> VerifyAuditExportLines(std::istream& in, std::string_view source,
                                                 std::vector<crypto::Ed25519PublicKey> registry_keys) {
  AuditExportVerifier verifier(std::move(registry_keys));
  std::string line;
  uint64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = std::string(source) + ":" + N(line_number);
    v1::ExportResponse record;
    if (Status st = ProtoFromJson(line, record); !st.ok()) {
      return InvalidArgument(where + ": not an export record: " + st.message());
    }
    Status st;
    switch (record.record_case()) {
      case v1::ExportResponse::kEntry: {
        const v1::AuditEntry& entry = record.entry();
        st = verifier.AddEntry({entry.index(), entry.leaf_data(), entry.leaf_hash()});
        break;
      }
      case v1::ExportResponse::kCheckpoint:
        st = verifier.AddCheckpoint(ToCryptoEnvelope(record.checkpoint().envelope()));
        break;
      default:
        return InvalidArgument(where + ": neither an \"entry\" nor a \"checkpoint\"");
    }
    if (!st.ok()) return DataLoss(where + ": " + st.message());
  }
  if (in.bad()) return Internal(std::string(source) + ": read error");
  return verifier.Finish();
}

}  // namespace sov::cli
