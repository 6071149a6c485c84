// The registry's records as plain structs: artifacts with their lineage, signatures and stage
// history; uploads in progress; audit events and the stored audit leaves; signed checkpoints.
// Stores (registry/metadata_store.h) persist them, the Registry (registry/registry.h) changes
// them, and the gateway converts them to and from the sov.v1 protobuf messages; nothing here
// knows gRPC or SQLite. Values; thread-compatible.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "common/time.h"

namespace sov::registry {

enum class Kind : uint8_t { kDataset, kModel, kReport };
enum class Stage : uint8_t { kPending, kValidating, kReleased, kRejected, kRevoked, kErased };
enum class UploadState : uint8_t { kOpen, kCommitted, kAborted };

// Lower-case names as the policy language and the store use them: "dataset", "released", ...
std::string_view KindName(Kind kind);
std::string_view StageName(Stage stage);
std::string_view UploadStateName(UploadState state);
// Parse the names above; INVALID_ARGUMENT naming the bad value otherwise.
Result<Kind> ParseKind(std::string_view name);
Result<Stage> ParseStage(std::string_view name);
Result<UploadState> ParseUploadState(std::string_view name);

// One lineage edge: this artifact depends on `name@version` (digest resolved at push).
struct LineageLink {
  std::string name;
  std::string version;
  std::string digest;
  std::string relation;  // trained-on | validated-on | derived-from | evaluates | based-on
  Kind kind = Kind::kDataset;
  friend bool operator==(const LineageLink&, const LineageLink&) = default;
};

// One stage transition, oldest first in ArtifactRecord::history.
struct StageEvent {
  Stage from = Stage::kPending;
  Stage to = Stage::kPending;
  SystemTime time;
  std::string tenant_id;     // who caused it; empty when the gateway did by itself
  std::string system_actor;  // e.g. "validation", "retention"; empty when a tenant did
  std::string reason;
  std::string rule_id;        // the deciding policy rule, when one allowed the change
  std::string rule_location;  // its "FILE:LINE:COL"
  int64_t audit_index = -1;   // the audit entry that records the change
  friend bool operator==(const StageEvent&, const StageEvent&) = default;
};

// One signature on the manifest that the registry verified when it was added.
struct SignatureRecord {
  std::string keyid;   // "sha256:<hex>" of the raw public key
  std::string role;    // "registry" | "publisher"
  std::string signer;  // "registry" or the publisher's tenant id
  std::string sig;     // 64 raw signature bytes
  SystemTime time;
  friend bool operator==(const SignatureRecord&, const SignatureRecord&) = default;
};

// What a pusher declares about a new artifact version (ArtifactSpec in the API), plus what the
// gateway decided at CreateUpload (owner, location, effective classification, retention).
struct ArtifactSpec {
  Kind kind = Kind::kDataset;
  std::string name;     // "<owner tenant>/<path>"
  std::string version;  // SemVer 2.0, no build metadata
  std::string media_type;
  std::string description;
  std::string classification;            // declared: public, internal, personal, ...
  std::string effective_classification;  // the policy's view (strictest of lineage for models)
  std::vector<std::string> purposes;
  std::string lawful_basis;                // policy names: consent, contract, ...; may be empty
  std::string special_category_condition;  // e.g. "explicit-consent"; may be empty
  std::vector<LineageLink> lineage;
  std::map<std::string, std::string> labels;
  std::optional<SystemTime> retention_deadline;
  std::string retention_action;  // "none" | "erase" | "revoke"
  std::string owner_tenant;
  std::string storage_location;      // e.g. "eu-de-1"
  std::string storage_jurisdiction;  // e.g. "DE"
  std::string created_by;            // tenant id of the pusher; empty for gateway-written reports
  friend bool operator==(const ArtifactSpec&, const ArtifactSpec&) = default;
};

// A stored artifact version. Immutable fields come from the spec and the push; the rest
// (stage, history, signatures, manifest, release request) change through the Registry.
struct ArtifactRecord {
  std::string id;  // random, opaque; also names the blob and binds the wrapped data key
  ArtifactSpec spec;
  std::string digest;  // "sha256:<hex>" of the plaintext
  int64_t size_bytes = 0;
  Stage stage = Stage::kPending;
  std::vector<StageEvent> history;
  std::vector<SignatureRecord> signatures;
  // The DSSE envelope (JSON form) of the registry-signed manifest, with every signature.
  std::string manifest;
  bool release_requested = false;
  SystemTime create_time;
  SystemTime update_time;
  // Optimistic concurrency: MetadataStore::UpdateArtifact succeeds only when the stored revision
  // equals this one, and then stores revision + 1. Starts at 1.
  int64_t revision = 1;
};

// An upload in progress (or finished: committed, aborted).
struct UploadRecord {
  std::string id;
  ArtifactSpec spec;
  std::optional<int64_t> declared_size;
  std::string expected_digest;  // "sha256:<hex>" or empty
  int64_t committed_offset = 0;  // plaintext bytes made durable in the staging blob
  UploadState state = UploadState::kOpen;
  std::string wrapped_key;   // the artifact's data key, wrapped under the owner's tenant key;
                             // erased by the store once the upload is no longer open
  std::string blob_header;   // the staging blob's header (crypto/chunked_aead.h)
  std::string artifact_id;   // the id the artifact gets at commit
  std::string abort_reason;  // when aborted
  SystemTime create_time;
  SystemTime update_time;
  SystemTime expire_time;
  // The decision that allowed the upload: rule id and policy digest, for the record.
  std::string decision_rule;
  std::string decision_policy;
  int64_t revision = 1;  // as ArtifactRecord::revision
};

// A tenant's storage use.
struct TenantUsage {
  int64_t used_bytes = 0;      // committed artifacts, erased ones excluded
  int64_t reserved_bytes = 0;  // open uploads: declared size, else committed offset
  int64_t artifact_count = 0;
};

// One event to append to the audit log. The store adds the index, the append time and the
// previous leaf hash, and hashes the canonical JSON (registry/audit_entry.h) into the tree.
// Never put a secret or artifact content here.
struct AuditEvent {
  std::string type;  // AuditEventType without its prefix: "DECISION", "STAGE_CHANGE", ...
  std::string request_id;
  nlohmann::json principal;  // {"tenantId", "authMethod", "credential"} or null
  std::string system_actor;
  std::string action;
  std::string artifact_name;
  std::string artifact_version;
  std::string artifact_digest;
  std::string effect;  // "allow" | "deny" for decisions, else empty
  std::string rule_id;
  std::string policy_digest;
  // The rest of the entry, by AuditEntry field name: "decision", "input", "stageChange",
  // "record", "details". Objects only; no floating-point numbers (canonical JSON).
  nlohmann::json body = nlohmann::json::object();
};

using LeafHash = std::array<uint8_t, 32>;

// A stored audit leaf.
struct AuditRecord {
  int64_t index = 0;
  SystemTime append_time;
  std::string leaf_data;  // the exact bytes hashed: canonical JSON
  LeafHash leaf_hash{};
};

// A signed checkpoint of the audit tree.
struct CheckpointRecord {
  int64_t tree_size = 0;
  LeafHash root{};
  SystemTime time;
  std::string envelope;  // DSSE envelope JSON, payload type application/vnd.sov.checkpoint.v1+json
};

}  // namespace sov::registry
