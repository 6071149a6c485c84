// SqliteMetadataStore: the MetadataStore of one gateway, in one SQLite file (WAL mode,
// synchronous=FULL, foreign keys on, secure_delete on so that a destroyed data key's bytes are
// overwritten). The schema is versioned (PRAGMA user_version): Open applies the migrations the
// file lacks, each in its own transaction, and refuses a file written by a newer build.
//
// One writer thread owns the only write connection and does group commit: it takes every batch
// queued by concurrent Commit calls, applies them in one BEGIN IMMEDIATE transaction, each
// inside its own SAVEPOINT (a failing batch is rolled back alone, its audit appends included;
// batches of audit appends alone, which only a failing database can refuse, run without one and
// make the group run again with savepoints if one fails), and makes them all durable with one
// COMMIT (one fsync, the WAL frames gathered into few writes: internal/gathering_vfs.h).
// Committers prepare their audit leaves themselves, so the writer only places them in the log;
// one system call wakes a whole group's committers. After a group that destroyed a data key,
// the writer cuts the WAL (wal_checkpoint(TRUNCATE)) so that no old page keeps the key: the
// commits that destroyed one return after the cut, or after Options::shred_wait_ms while
// readers hold it up (the writer goes on meanwhile and retries); the others never wait for
// it. A commit that does not await its shredding (WriteBatch::await_shredding off: a retention
// sweep's erasures) returns at its group's commit; while more groups are queued and no
// committer awaits the cut, the writer runs them before the cut, for at most 10 ms, so that
// one cut serves them all, and AwaitShredding waits for it. Reads use a small pool of read-only
// connections that run beside the writer (WAL) and each see one consistent snapshot;
// FindArtifact's answers are also kept in memory, and not used while or after a group that may
// change an artifact runs; the cache knows only this store's commits, so a file that another
// process writes too (a `sovd eval-worker`) is opened with Options::cache_artifacts false.
//
// Audit append times come from the system clock at microsecond precision and never go below the
// previous entry's, so that index order and time order agree. Several stores (processes) may
// write one file: each group's transaction first reloads the audit tree's right edge when
// another connection has committed (PRAGMA data_version), so the log stays gapless and chained.
// Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "registry/metadata_store.h"

namespace sov::registry {

class SqliteMetadataStore final : public MetadataStore {
 public:
  struct Options {
    int read_connections = 4;    // readers beyond this many wait for a free connection
    int busy_timeout_ms = 5000;  // for another process holding the file (sqlite3 CLI, backup)
    // Keep FindArtifact's answers in memory (see the file comment). The cache sees only this
    // store's own commits: when another process writes the same file (`sovd eval-worker`
    // moving a model's stage), open the store with false so that FindArtifact always reads
    // the database.
    bool cache_artifacts = true;
    // How long a commit that destroyed a data key waits, past its group, for the WAL to be cut
    // when readers are in it (crypto-shredding; see docs/security.md). Other commits never
    // wait for it.
    int shred_wait_ms = 100;
  };

  // Opens (creating it 0600 when absent) and migrates the database at `path`, loads the audit
  // tree's right edge and starts the writer. FAILED_PRECONDITION when the file's schema is newer
  // than SchemaVersion(); DATA_LOSS when it is not a database or its audit tree is inconsistent;
  // the failing SQLite call otherwise.
  static Result<std::unique_ptr<SqliteMetadataStore>> Open(const std::string& path);
  static Result<std::unique_ptr<SqliteMetadataStore>> Open(const std::string& path,
                                                           Options options);

  // The schema version this build creates and understands.
  static int SchemaVersion();

  // Group commit counters since Open: transactions (one fsync each) and batches committed
  // through them (failed ones included).
  struct GroupCommitStats {
    int64_t groups = 0;
    int64_t batches = 0;
    // Key-destroying groups whose WAL cut (crypto-shredding) readers held up past
    // Options::shred_wait_ms, so that their commits returned uncut; the writer retries the cut
    // after every later group and every 50 ms while idle, until it truncates the WAL.
    int64_t shred_checkpoints_deferred = 0;
    // True while such a checkpoint is still to be done.
    bool shred_checkpoint_pending = false;
    // The WAL's size before each crypto-shredding checkpoint that cut it (after a
    // key-destroying group, a retry of a held-up one, or at open), summed: about what those
    // checkpoints copied into the database file (a page and a 24-byte header per frame), the
    // write amplification of erasures.
    int64_t shred_checkpoint_wal_bytes = 0;
    // Cuts of the WAL after destroyed keys, and the groups that destroyed one: while more
    // groups are queued and no committer awaits the cut, the writer puts it off for at most
    // 10 ms, so that under a bulk erasure one cut serves several groups.
    int64_t shred_cuts = 0;
    int64_t shred_key_groups = 0;
  };
  GroupCommitStats group_commit_stats() const;

  // Finishes the queued batches, then stops the writer. No Commit may start meanwhile.
  ~SqliteMetadataStore() override;

  Result<CommitResult> Commit(WriteBatch batch) override;
  // `done` runs on the store's completer thread once the batch's group has committed, in order.
  void CommitAsync(WriteBatch batch, CommitCallback done) override;
  void AwaitShredding() override;
  Result<std::optional<ArtifactRecord>> FindArtifact(const std::string& name,
                                                     const std::string& version) override;
  Result<std::optional<ArtifactRecord>> FindArtifactById(const std::string& id) override;
  Result<std::vector<ArtifactRecord>> ListVersions(const std::string& name) override;
  Result<std::vector<ArtifactRecord>> ListArtifacts(const ArtifactFilter& filter) override;
  Result<std::vector<ArtifactRecord>> ListDependents(const std::string& name,
                                                     const std::string& version) override;
  Result<std::string> WrappedDataKey(const std::string& artifact_id) override;
  Result<std::optional<UploadRecord>> FindUpload(const std::string& upload_id) override;
  Result<std::optional<UploadRecord>> FindOpenUpload(const std::string& name,
                                                     const std::string& version) override;
  Result<std::vector<UploadRecord>> ListOpenUploads() override;
  Result<TenantUsage> Usage(const std::string& tenant_id) override;
  Result<std::optional<JobRecord>> FindJob(const std::string& job_id) override;
  Result<std::vector<JobRecord>> ListJobs(const JobFilter& filter) override;
  Result<std::vector<KeyRevocation>> ListKeyRevocations() override;
  Result<int64_t> AuditSize() override;
  Result<std::vector<AuditRecord>> ReadAudit(int64_t begin, int64_t end) override;
  Result<std::vector<AuditRecord>> QueryAudit(const AuditFilter& filter) override;
  Result<LeafHash> AuditNode(int level, int64_t index) override;
  Result<std::optional<CheckpointRecord>> FindCheckpoint(int64_t tree_size) override;
  Result<std::vector<CheckpointRecord>> ListCheckpoints(int64_t begin, int64_t end) override;


 private:
  class Impl;
  explicit SqliteMetadataStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sov::registry
