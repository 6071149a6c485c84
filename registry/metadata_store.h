// MetadataStore: where the registry keeps its records (artifacts, uploads, wrapped data keys) and
// the audit log (leaves, Merkle nodes, signed checkpoints). Reads are plain queries; every
// change goes through Commit, which applies a WriteBatch atomically: the state change and the
// audit entries that record it become durable together or not at all, so no state change is
// ever unaudited and no audit entry describes a change that did not happen.
//
// Durability and group commit: Commit returns only after the batch is durable (fsynced).
// Concurrent Commit calls are merged into one transaction and one fsync by the store's writer,
// each batch still all-or-nothing (a failed batch does not affect the others merged with it).
// Audit entries are numbered without gaps in commit order and chained (each leaf's JSON holds
// the previous leaf's hash); the store keeps the hash of every complete (perfect) subtree so that
// proofs need O(log n) reads (crypto/merkle.h).
//
// The interface is narrow on purpose: SqliteMetadataStore implements it for one gateway, and a
// PostgreSQL store for replicas can implement the same calls without touching callers.
// Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/status.h"
#include "registry/types.h"

namespace sov::registry {

// Mutations a WriteBatch may hold.
namespace mutation {
// Reserves spec.name@spec.version for a new upload. ALREADY_EXISTS (message "version taken")
// when an artifact with that name+version exists (in any stage, erased included) or another
// open upload holds it.
struct CreateUpload {
  UploadRecord upload;
};
// Replaces an upload's mutable fields (committed offset, state, abort reason, expire and update
// times). ABORTED when the stored revision differs from upload.revision; NOT_FOUND when absent;
// FAILED_PRECONDITION when the stored upload is no longer open; INVALID_ARGUMENT for state
// COMMITTED (only CommitUpload commits). Leaving OPEN (aborting) erases the stored wrapped_key.
struct UpdateUpload {
  UploadRecord upload;
};
// Commits an open upload as a new artifact: the upload becomes COMMITTED (naming the artifact),
// the artifact row, its lineage and signatures are inserted, and its wrapped data key is stored.
// FAILED_PRECONDITION when the upload is not open; ALREADY_EXISTS when the version (or the
// artifact id) exists; NOT_FOUND when the upload is absent; INVALID_ARGUMENT when the artifact's
// name@version is not the upload's. The upload keeps no copy of the key (wrapped_key erased).
struct CommitUpload {
  std::string upload_id;
  ArtifactRecord artifact;
  std::string wrapped_key;
};
// Inserts an artifact written by the gateway itself (a report): as CommitUpload without upload.
struct InsertArtifact {
  ArtifactRecord artifact;
  std::string wrapped_key;
};
// Replaces an artifact's mutable fields: stage, history, signatures, manifest, release_requested,
// tombstone, lineage_notices, update_time. ABORTED when the stored revision differs from
// artifact.revision; NOT_FOUND when no artifact has artifact.id.
// With `link_next_audit`, the change and the entry that records it are linked in the same
// transaction: the record is stored as SetChangeAuditIndex(artifact, i) makes it, where i is the
// index the next AppendAudit of the batch gets. INVALID_ARGUMENT when no AppendAudit follows.
struct UpdateArtifact {
  ArtifactRecord artifact;
  bool link_next_audit = false;
};
// Destroys an artifact's wrapped data key (crypto-shredding). OK when already gone. The commit
// returns once no copy of the key is left in the store's files either (a store with a log of
// old pages, like SQLite's WAL, first cuts it), unless the batch sets await_shredding = false.
struct DeleteDataKey {
  std::string artifact_id;
};
// Queues a new validation job; the store assigns job.seq. ALREADY_EXISTS when job.id exists.
struct EnqueueJob {
  JobRecord job;
};
// Replaces a job's mutable fields (everything but id, seq, model and create_time). ABORTED when
// the stored revision differs from job.revision (another worker took it, or it was cancelled);
// NOT_FOUND when absent.
struct UpdateJob {
  JobRecord job;
};
// Records that a publisher key is revoked. OK (no change) when it is revoked already.
struct RevokeKey {
  KeyRevocation revocation;
};
// Appends one audit entry.
struct AppendAudit {
  AuditEvent event;
};
// Stores a signed checkpoint. INVALID_ARGUMENT when tree_size is below 1 or exceeds the log's
// size after the batch's own appends (checkpoints are checked after the batch's other
// mutations), or when root is not the log's root at tree_size; OK (no change) when a
// checkpoint at that size exists.
struct PutCheckpoint {
  CheckpointRecord checkpoint;
};
}  // namespace mutation

using Mutation =
    std::variant<mutation::CreateUpload, mutation::UpdateUpload, mutation::CommitUpload,
                 mutation::InsertArtifact, mutation::UpdateArtifact, mutation::DeleteDataKey,
                 mutation::EnqueueJob, mutation::UpdateJob, mutation::RevokeKey,
                 mutation::AppendAudit, mutation::PutCheckpoint>;

// Mutations applied in order, all or nothing.
struct WriteBatch {
  std::vector<Mutation> mutations;
  // False: a commit that destroyed a data key returns once it is durable, without waiting for
  // the key's bytes to leave the store's files; the caller then calls
  // MetadataStore::AwaitShredding before it reports the key destroyed. For bulk erasure (the
  // retention sweep), whose next commits need not wait for this one's shredding.
  bool await_shredding = true;

  template <typename M>
  WriteBatch& Add(M m) {
    mutations.emplace_back(std::move(m));
    return *this;
  }
};

struct CommitResult {
  // The index of each AppendAudit in the batch, in batch order.
  std::vector<int64_t> audit_indexes;
  // The audit log's size and root after the batch (and any merged before it).
  int64_t tree_size = 0;
  LeafHash root{};
};

// Which artifacts ListArtifacts returns. Empty/unset fields match everything.
struct ArtifactFilter {
  std::optional<Kind> kind;
  std::string name;         // exact name
  std::string name_prefix;  // names starting with this, e.g. "acme-ml/" or "acme-ml/fraud/"
  std::optional<Stage> stage;
  bool include_erased = false;  // stage unset: erased artifacts are left out unless this is set
  std::map<std::string, std::string> labels;  // all must match exactly
  std::string owner_tenant;
  // Paging by name: only names > after_name; at most `limit` rows, where all
  // versions of the last name are included even past the limit, so that callers can order a
  // name's versions by SemVer. 0: no limit.
  std::string after_name;
  int64_t limit = 0;
  // Only artifacts with a retention deadline before this time (any stage but ERASED unless
  // include_erased). Such a query is ordered by deadline, then name and push order, and
  // after_name paging does not apply.
  std::optional<SystemTime> retention_deadline_before;
};

// Which validation jobs ListJobs returns; fields combine with AND, empty ones match everything.
struct JobFilter {
  std::string model_name;
  std::string model_version;
  std::string model_digest;
  std::vector<JobState> states;
  bool report_only_set = false;  // when true, only jobs whose report_only equals report_only
  bool report_only = false;
  // Jobs a worker may claim at this time: QUEUED ones, and RUNNING ones whose lease expired
  // before it (ANDed with `states` when both are set).
  std::optional<SystemTime> claimable_at;
  // Only jobs whose requested_backend is one of these (empty: any).
  std::vector<std::string> requested_backends;
  // Jobs with seq < before_seq (0: no bound); for paging newest first.
  int64_t before_seq = 0;
  // Jobs with seq > after_seq (0: no bound); for paging oldest first.
  int64_t after_seq = 0;
  bool ascending = false;  // oldest first (queue order) instead of newest first
  int64_t limit = 100;     // 0: no limit
};

// Which audit entries QueryAudit returns; fields combine with AND, empty ones match everything.
struct AuditFilter {
  int64_t start_index = 0;
  int64_t end_index = 0;  // exclusive; 0: no bound
  std::optional<SystemTime> since;
  std::optional<SystemTime> until;  // exclusive
  std::vector<std::string> types;
  std::string tenant_id;
  std::vector<std::string> actions;
  // effect, rule_id and policy_digest match decision entries only (those with an effect), as
  // the hashed leaf records them only there (registry/audit_entry.h).
  std::string effect;
  std::string artifact_name;
  std::string artifact_version;
  std::string rule_id;
  std::string request_id;
  std::string policy_digest;
  bool descending = false;
  int64_t limit = 100;  // 0: no limit
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  // Applies `batch` atomically and durably (see the file comment).
  virtual Result<CommitResult> Commit(WriteBatch batch) = 0;

  // Commits like Commit without waiting for it: `done` runs exactly once with the result, after
  // the batch is durable (or failed), on a thread of the store's choosing, possibly the caller's
  // before CommitAsync returns. `done` must be short and must not commit or wait for a commit:
  // a store may run it on its writer thread. The default commits synchronously and calls `done`.
  using CommitCallback = std::function<void(Result<CommitResult>)>;
  virtual void CommitAsync(WriteBatch batch, CommitCallback done) {
    done(Commit(std::move(batch)));
  }

  // Returns once every key destroyed by a commit that returned before this call has left the
  // store's files, as a commit with await_shredding waits for it (including that wait's
  // deadline). The default is for stores that keep no old copies: nothing to wait for.
  virtual void AwaitShredding() {}

  // Artifacts. Find* return nullopt when absent (erased artifacts are present, stage ERASED).
  virtual Result<std::optional<ArtifactRecord>> FindArtifact(const std::string& name,
                                                             const std::string& version) = 0;
  virtual Result<std::optional<ArtifactRecord>> FindArtifactById(const std::string& id) = 0;
  // Every version of `name`, in push order (erased included).
  virtual Result<std::vector<ArtifactRecord>> ListVersions(const std::string& name) = 0;
  // Ordered by name, then push order; see ArtifactFilter for paging.
  virtual Result<std::vector<ArtifactRecord>> ListArtifacts(const ArtifactFilter& filter) = 0;
  // Artifacts whose lineage names name@version (downstream edges), in push order.
  virtual Result<std::vector<ArtifactRecord>> ListDependents(const std::string& name,
                                                             const std::string& version) = 0;
  // The wrapped data key of an artifact; NOT_FOUND when destroyed (erased) or absent.
  virtual Result<std::string> WrappedDataKey(const std::string& artifact_id) = 0;

  // Uploads.
  virtual Result<std::optional<UploadRecord>> FindUpload(const std::string& upload_id) = 0;
  // The open upload holding name@version, if any.
  virtual Result<std::optional<UploadRecord>> FindOpenUpload(const std::string& name,
                                                             const std::string& version) = 0;
  // Every open upload (for startup cleanup and expiry).
  virtual Result<std::vector<UploadRecord>> ListOpenUploads() = 0;

  virtual Result<TenantUsage> Usage(const std::string& tenant_id) = 0;

  // Validation jobs. FindJob: nullopt when absent.
  virtual Result<std::optional<JobRecord>> FindJob(const std::string& job_id) = 0;
  virtual Result<std::vector<JobRecord>> ListJobs(const JobFilter& filter) = 0;

  // Revoked publisher keys, oldest revocation first.
  virtual Result<std::vector<KeyRevocation>> ListKeyRevocations() = 0;

  // The audit log.
  virtual Result<int64_t> AuditSize() = 0;
  // Entries [begin, end) in index order; an end past the log's size reads to its end.
  // INVALID_ARGUMENT when begin < 0 or end < begin.
  virtual Result<std::vector<AuditRecord>> ReadAudit(int64_t begin, int64_t end) = 0;
  virtual Result<std::vector<AuditRecord>> QueryAudit(const AuditFilter& filter) = 0;
  // The hash of the perfect subtree at (level, index): leaves [index << level,
  // (index + 1) << level); level 0 is the leaf hash. NOT_FOUND when that subtree is incomplete;
  // INVALID_ARGUMENT for a negative level or index.
  virtual Result<LeafHash> AuditNode(int level, int64_t index) = 0;
  // The checkpoint at exactly `tree_size`, or the latest (tree_size 0); nullopt when none.
  virtual Result<std::optional<CheckpointRecord>> FindCheckpoint(int64_t tree_size) = 0;
  // Checkpoints with begin < tree_size <= end, ascending.
  virtual Result<std::vector<CheckpointRecord>> ListCheckpoints(int64_t begin, int64_t end) = 0;
};

}  // namespace sov::registry
