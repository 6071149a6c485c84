#include "registry/internal/sqlite_schema.h"

#include <array>

namespace sov::registry::internal {
namespace {

// Conventions: times are INTEGER nanoseconds since the Unix epoch (audit append times:
// microseconds, as in the hashed leaf); enums are their lower-case names; lists and maps that no
// query filters on are JSON text. Artifacts are never deleted (a name+version is never reused),
// so `seq` is push order. Audit columns hold NULL rather than '' for "none" so that the partial
// indexes below stay small and are usable for `col = ?` filters.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE artifacts (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('dataset', 'model', 'report')),
  stage TEXT NOT NULL CHECK (stage IN ('pending', 'validating', 'released', 'rejected',
                                       'revoked', 'erased')),
  owner_tenant TEXT NOT NULL,
  digest TEXT NOT NULL,
  size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
  media_type TEXT NOT NULL,
  description TEXT NOT NULL,
  classification TEXT NOT NULL,
  effective_classification TEXT NOT NULL,
  purposes TEXT NOT NULL,
  lawful_basis TEXT NOT NULL,
  special_category_condition TEXT NOT NULL,
  retention_deadline INTEGER,
  retention_action TEXT NOT NULL,
  storage_location TEXT NOT NULL,
  storage_jurisdiction TEXT NOT NULL,
  created_by TEXT NOT NULL,
  manifest TEXT NOT NULL,
  release_requested INTEGER NOT NULL CHECK (release_requested IN (0, 1)),
  create_time INTEGER NOT NULL,
  update_time INTEGER NOT NULL,
  revision INTEGER NOT NULL,
  UNIQUE (name, version)
);
CREATE INDEX artifacts_by_name ON artifacts (name, seq);
CREATE INDEX artifacts_by_owner ON artifacts (owner_tenant, name, seq);
CREATE INDEX artifacts_by_stage ON artifacts (stage, name, seq);
CREATE INDEX artifacts_by_kind ON artifacts (kind, name, seq);
CREATE INDEX artifacts_by_retention ON artifacts (retention_deadline)
  WHERE retention_deadline IS NOT NULL;

CREATE TABLE artifact_labels (
  artifact_seq INTEGER NOT NULL REFERENCES artifacts (seq),
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (artifact_seq, key)
) WITHOUT ROWID;
CREATE INDEX artifact_labels_by_value ON artifact_labels (key, value, artifact_seq);

CREATE TABLE artifact_lineage (
  artifact_seq INTEGER NOT NULL REFERENCES artifacts (seq),
  position INTEGER NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  digest TEXT NOT NULL,
  relation TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('dataset', 'model', 'report')),
  PRIMARY KEY (artifact_seq, position)
) WITHOUT ROWID;
CREATE INDEX artifact_lineage_by_target ON artifact_lineage (name, version, artifact_seq);

CREATE TABLE artifact_signatures (
  artifact_seq INTEGER NOT NULL REFERENCES artifacts (seq),
  position INTEGER NOT NULL,
  keyid TEXT NOT NULL,
  role TEXT NOT NULL,
  signer TEXT NOT NULL,
  sig BLOB NOT NULL,
  time INTEGER NOT NULL,
  PRIMARY KEY (artifact_seq, position)
) WITHOUT ROWID;

CREATE TABLE stage_history (
  artifact_seq INTEGER NOT NULL REFERENCES artifacts (seq),
  position INTEGER NOT NULL,
  from_stage TEXT NOT NULL,
  to_stage TEXT NOT NULL,
  time INTEGER NOT NULL,
  tenant_id TEXT NOT NULL,
  system_actor TEXT NOT NULL,
  reason TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  rule_location TEXT NOT NULL,
  audit_index INTEGER NOT NULL,
  PRIMARY KEY (artifact_seq, position)
) WITHOUT ROWID;

-- Apart from the artifact, so that crypto-shredding deletes exactly one row.
CREATE TABLE data_keys (
  artifact_id TEXT PRIMARY KEY REFERENCES artifacts (id),
  wrapped BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE uploads (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  owner_tenant TEXT NOT NULL,
  spec TEXT NOT NULL,
  declared_size INTEGER,
  expected_digest TEXT NOT NULL,
  committed_offset INTEGER NOT NULL CHECK (committed_offset >= 0),
  state TEXT NOT NULL CHECK (state IN ('open', 'committed', 'aborted')),
  wrapped_key BLOB NOT NULL,
  blob_header BLOB NOT NULL,
  artifact_id TEXT NOT NULL,
  abort_reason TEXT NOT NULL,
  create_time INTEGER NOT NULL,
  update_time INTEGER NOT NULL,
  expire_time INTEGER NOT NULL,
  decision_rule TEXT NOT NULL,
  decision_policy TEXT NOT NULL,
  revision INTEGER NOT NULL
) WITHOUT ROWID;
-- One open upload per name+version; finished uploads keep their rows for the record.
CREATE UNIQUE INDEX uploads_open_by_name ON uploads (name, version) WHERE state = 'open';
CREATE INDEX uploads_open_by_owner ON uploads (owner_tenant) WHERE state = 'open';

CREATE TABLE audit_entries (
  idx INTEGER PRIMARY KEY CHECK (idx >= 0),
  append_time INTEGER NOT NULL,
  type TEXT NOT NULL,
  tenant_id TEXT,
  action TEXT,
  artifact_name TEXT,
  artifact_version TEXT,
  effect TEXT,
  rule_id TEXT,
  request_id TEXT,
  policy_digest TEXT,
  leaf_data BLOB NOT NULL,
  leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32)
);
-- Append times never decrease with idx (the store clamps them), so a time window is an idx
-- range found through this index.
CREATE INDEX audit_by_time ON audit_entries (append_time);
CREATE INDEX audit_by_type ON audit_entries (type, idx);
CREATE INDEX audit_by_tenant ON audit_entries (tenant_id, idx) WHERE tenant_id IS NOT NULL;
CREATE INDEX audit_by_action ON audit_entries (action, idx) WHERE action IS NOT NULL;
CREATE INDEX audit_by_artifact_name ON audit_entries (artifact_name, idx)
  WHERE artifact_name IS NOT NULL;
CREATE INDEX audit_by_artifact ON audit_entries (artifact_name, artifact_version, idx)
  WHERE artifact_name IS NOT NULL;
CREATE INDEX audit_by_effect ON audit_entries (effect, idx) WHERE effect IS NOT NULL;
CREATE INDEX audit_by_rule ON audit_entries (rule_id, idx) WHERE rule_id IS NOT NULL;
CREATE INDEX audit_by_request ON audit_entries (request_id, idx) WHERE request_id IS NOT NULL;
CREATE INDEX audit_by_policy ON audit_entries (policy_digest, idx)
  WHERE policy_digest IS NOT NULL;

-- Every perfect subtree of level >= 1 (level 0 is audit_entries.leaf_hash): the node at
-- (level, idx) covers leaves [idx << level, (idx + 1) << level).
CREATE TABLE audit_nodes (
  level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 63),
  idx INTEGER NOT NULL CHECK (idx >= 0),
  hash BLOB NOT NULL CHECK (length(hash) = 32),
  PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
  tree_size INTEGER PRIMARY KEY CHECK (tree_size > 0),
  root BLOB NOT NULL CHECK (length(root) = 32),
  time INTEGER NOT NULL,
  envelope TEXT NOT NULL
);
)sql";

// The audit tree's perfect subtrees clustered by where they end, (idx + 1) << level, instead of
// by level: the nodes one group of appends completes then sit together at the table's end (one
// or two pages written per group), not one page per level.
constexpr std::string_view kV2 = R"sql(
CREATE TABLE audit_nodes_by_end (
  end_idx INTEGER NOT NULL CHECK (end_idx > 0),
  level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 63),
  hash BLOB NOT NULL CHECK (length(hash) = 32),
  PRIMARY KEY (end_idx, level)
) WITHOUT ROWID;
INSERT INTO audit_nodes_by_end (end_idx, level, hash)
  SELECT (idx + 1) << level, level, hash FROM audit_nodes;
DROP TABLE audit_nodes;
ALTER TABLE audit_nodes_by_end RENAME TO audit_nodes;
)sql";

// The durable validation job queue (Registry::QueueValidation, ClaimJob, ...), revoked publisher
// keys, and what erasure leaves on artifacts: the tombstone of an erased one (JSON, NULL when
// none) and the lineage notices on its dependents (a JSON array, oldest first). `seq` is queue
// order; a worker looks for the oldest QUEUED job or an expired RUNNING one through
// (state, seq), which also serves filters on state alone. The retention index of schema 1
// (artifacts_by_retention) serves ArtifactFilter::retention_deadline_before.
constexpr std::string_view kV3 = R"sql(
ALTER TABLE artifacts ADD COLUMN tombstone TEXT;
ALTER TABLE artifacts ADD COLUMN lineage_notices TEXT NOT NULL DEFAULT '[]';

CREATE TABLE validation_jobs (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  model_name TEXT NOT NULL,
  model_version TEXT NOT NULL,
  model_digest TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed',
                                       'cancelled')),
  report_only INTEGER NOT NULL CHECK (report_only IN (0, 1)),
  requested_backend TEXT NOT NULL,
  backend TEXT NOT NULL,
  worker TEXT NOT NULL,
  attempt INTEGER NOT NULL CHECK (attempt >= 0),
  progress REAL NOT NULL,
  phase TEXT NOT NULL,
  datasets TEXT NOT NULL,
  create_time INTEGER NOT NULL,
  start_time INTEGER NOT NULL,
  end_time INTEGER NOT NULL,
  lease_expire_time INTEGER NOT NULL,
  report_name TEXT NOT NULL,
  report_version TEXT NOT NULL,
  report_digest TEXT NOT NULL,
  gate_results TEXT NOT NULL,
  outcome_stage TEXT CHECK (outcome_stage IN ('pending', 'validating', 'released', 'rejected',
                                              'revoked', 'erased')),
  error TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  policy_digest TEXT NOT NULL,
  revision INTEGER NOT NULL
);
CREATE INDEX validation_jobs_by_model ON validation_jobs (model_name, model_version, seq);
CREATE INDEX validation_jobs_by_digest ON validation_jobs (model_digest, seq);
CREATE INDEX validation_jobs_by_state ON validation_jobs (state, seq);

CREATE TABLE key_revocations (
  seq INTEGER PRIMARY KEY,
  keyid TEXT NOT NULL UNIQUE,
  owner_tenant TEXT NOT NULL,
  reason TEXT NOT NULL,
  revoked_by TEXT NOT NULL,
  time INTEGER NOT NULL
);
)sql";

// The pusher's retain_until (ArtifactSpec::retain_until), apart from the stored deadline, so that
// the retention sweeper can apply it. NULL when the pusher gave none, and on every row written
// before this version: its stored deadline may be the policy's or the pusher's, and which one
// cannot be told, so none is guessed. No index: the sweeper reads every artifact anyway.
constexpr std::string_view kV4 = R"sql(
ALTER TABLE artifacts ADD COLUMN retain_until INTEGER;
)sql";

constexpr std::array<std::string_view, 4> kMigrations = {kV1, kV2, kV3, kV4};

}  // namespace

std::span<const std::string_view> SqliteMigrations() { return kMigrations; }

}  // namespace sov::registry::internal
