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
enum class JobState : uint8_t { kQueued, kRunning, kSucceeded, kFailed, kCancelled };

// Lower-case names as the policy language and the store use them: "dataset", "released", ...
std::string_view KindName(Kind kind);
std::string_view StageName(Stage stage);
std::string_view UploadStateName(UploadState state);
std::string_view JobStateName(JobState state);  // "queued", "running", "succeeded", ...
// Parse the names above; INVALID_ARGUMENT naming the bad value otherwise.
Result<Kind> ParseKind(std::string_view name);
Result<Stage> ParseStage(std::string_view name);
Result<UploadState> ParseUploadState(std::string_view name);
Result<JobState> ParseJobState(std::string_view name);

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

// What remains of an erased artifact besides its record: who erased it, when and why. The
// artifact's record itself (name, version, digest, size, kind) stays, with stage ERASED.
struct Tombstone {
  SystemTime erase_time;     // when the data key was destroyed
  std::string tenant_id;     // who asked; empty when the gateway did (retention)
  nlohmann::json principal;  // {"tenantId","authMethod","credential"} or null
  std::string system_actor;  // "retention" when the sweeper erased it; else empty
  std::string reason;
  std::string subject_request_id;  // e.g. the data subject request's ticket; may be empty
  int64_t audit_index = -1;        // the signed ERASURE entry
  friend bool operator==(const Tombstone&, const Tombstone&) = default;
};

// A notice on an artifact derived (directly or transitively) from an erased one.
struct LineageNotice {
  std::string erased_name;
  std::string erased_version;
  std::string erased_digest;
  std::string action;  // "revoke" | "flag-retrain" | "none"
  std::string rule_id;
  std::string rule_location;  // "FILE:LINE:COL"
  SystemTime time;
  friend bool operator==(const LineageNotice&, const LineageNotice&) = default;
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
  // What the policy said at push, or the pusher's earlier retain_until; for the record only
  // (the retention sweeper recomputes the deadline, see gateway/retention.h).
  std::optional<SystemTime> retention_deadline;
  std::string retention_action;  // "none" | "erase" | "revoke"
  // The pusher's own "keep no longer than" (the API's retain_until), as asked; the sweeper erases
  // the artifact at the earlier of this and the policy's deadline. Unset when the pusher gave
  // none, and on artifacts stored before schema 4, whose stored deadline cannot tell.
  std::optional<SystemTime> retain_until;
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
  std::optional<Tombstone> tombstone;         // set exactly when stage is ERASED
  std::vector<LineageNotice> lineage_notices;  // oldest first
  SystemTime create_time;
  SystemTime update_time;
  // Optimistic concurrency: MetadataStore::UpdateArtifact succeeds only when the stored revision
  // equals this one, and then stores revision + 1. Starts at 1.
  int64_t revision = 1;
};

// Points the change an artifact record is about to commit at the audit entry that records it:
// the last history event and the tombstone take `audit_index` where theirs is still -1.
void SetChangeAuditIndex(ArtifactRecord& artifact, int64_t audit_index);

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

// A validation job in the durable queue: one run of the benchmark suite on one model version
// (Registry::QueueValidation and friends, registry/validation.cc). A job that was RUNNING when
// its worker died is taken again by another worker once its lease has expired; completing it is
// conditional on the job's revision, so each job completes exactly once.
struct JobRecord {
  std::string id;
  int64_t seq = 0;  // queue order, assigned by the store at EnqueueJob (newest is highest)
  std::string model_name;
  std::string model_version;
  std::string model_digest;
  JobState state = JobState::kQueued;
  bool report_only = false;
  std::string requested_backend = "auto";  // "auto" | "cpu" | "cuda"
  std::string backend;                     // "cpu" | "cuda" once a worker ran it
  std::string worker;                      // who holds (or held) it, e.g. "host/eval-worker-1"
  int32_t attempt = 0;                     // claims so far
  double progress = 0.0;                   // 0..1 while running
  std::string phase;                       // e.g. "loading model", "quality"
  std::vector<LineageLink> datasets;       // the validation datasets the gates named
  SystemTime create_time;
  SystemTime start_time;                   // of the current attempt
  SystemTime end_time;
  SystemTime lease_expire_time;            // RUNNING: others may take it after this
  std::string report_name;                 // the report artifact, once SUCCEEDED
  std::string report_version;
  std::string report_digest;
  nlohmann::json gate_results = nlohmann::json::array();  // [{gate_id, condition, location,
                                                          //   outcome, observed, dataset, error}]
  std::optional<Stage> outcome_stage;  // the model's stage after the job; unset if report_only
  std::string error;                   // FAILED: why
  std::string requested_by;            // tenant id; empty when the push queued it
  std::string policy_digest;           // the policy whose gates the job applied
  int64_t revision = 1;                // as ArtifactRecord::revision
};

// A revoked publisher signing key: its signatures no longer count towards any threshold.
struct KeyRevocation {
  std::string keyid;         // "sha256:<hex>"
  std::string owner_tenant;  // the tenant the key was registered to
  std::string reason;
  std::string revoked_by;    // tenant id of the caller
  SystemTime time;
  friend bool operator==(const KeyRevocation&, const KeyRevocation&) = default;
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
