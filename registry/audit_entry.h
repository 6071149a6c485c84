// The canonical encoding of one audit leaf: the exact bytes (`leaf_data`) that the audit log
// hashes into its Merkle tree and that verifiers hash again. It is the JSON object written by
// nlohmann::json::dump() (keys sorted bytewise, no whitespace, UTF-8, integers only) with keys
//   "index", "appendTime" (RFC 3339 UTC, six fraction digits), "type", "previousLeafHash"
//   (64 lower-case hex), and when set "requestId", "principal", "systemActor", "action",
//   "artifact" {"name","version","digest"} (each only when non-empty),
// plus every member of AuditEvent::body at top level. When AuditEvent::effect is set, the body's
// "decision" object (created when absent) gets "effect", "ruleId" and "policyDigest" from the
// event, so that the indexed columns a store keeps and the hashed content cannot disagree.
// Invalid UTF-8 in any string is replaced by U+FFFD, so that an entry about a malformed request
// can always be written. Pure functions; thread-safe.
//
// The encoding is split in two for the store's single writer thread: PrepareLeafData does the
// costly part (everything but the leaf's place in the log) on the caller's thread, and
// FinishLeafData splices in "index", "appendTime" and "previousLeafHash" on the writer's.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/time.h"
#include "registry/types.h"

namespace sov::registry {

// Returns the leaf data of `e` as entry `index`, appended at `append_time` (microseconds are
// kept, anything finer dropped) after the leaf whose hash is `previous_leaf_hash` (all zero for
// index 0). Preconditions (asserted in debug builds): e.body is an object without floating-point
// numbers and without a top-level key that the encoding itself writes ("index", "type", ...);
// in release builds such keys are overwritten by the event's fields.
std::string EncodeLeafData(const AuditEvent& e, int64_t index, SystemTime append_time,
                           const LeafHash& previous_leaf_hash);

// A leaf without its place in the log: the encoded members (`"key":value`, comma-separated)
// that sort before "appendTime", between it and "index", between "index" and
// "previousLeafHash", and after that, each possibly empty.
struct PreparedLeaf {
  std::array<std::string, 4> members;
};

// Returns everything of EncodeLeafData(e, ...) that does not depend on the position; same
// preconditions. FinishLeafData(PrepareLeafData(e), index, time, previous) is byte for byte
// EncodeLeafData(e, index, time, previous).
PreparedLeaf PrepareLeafData(const AuditEvent& e);
std::string FinishLeafData(const PreparedLeaf& leaf, int64_t index, SystemTime append_time,
                           const LeafHash& previous_leaf_hash);

// Parses leaf data back into the event and, for each non-null pointer, the index, append time
// and previous leaf hash. effect, rule_id and policy_digest come from body["decision"] when it
// holds an "effect" string. INVALID_ARGUMENT naming the problem when `leaf_data` is not JSON
// or lacks a required key or has one of the wrong type.
Result<AuditEvent> DecodeLeafData(std::string_view leaf_data, int64_t* index,
                                  SystemTime* append_time, LeafHash* previous_leaf_hash);

}  // namespace sov::registry
