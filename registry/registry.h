// Registry: the artifact lifecycle over a MetadataStore, a BlobStore and the AuditLog. It owns
// the invariants that hold whoever calls: versions are immutable and never reused; bytes are
// hashed (SHA-256 of the plaintext) and encrypted with the artifact's own data key as they
// stream in, and become visible only after the blob is durable and the metadata committed; every
// state change is committed together with the audit entries that record it; stored bytes are
// authenticated chunk by chunk on every read and the whole digest checked at the end, so
// tampered bytes are never returned.
//
// It does not decide who may do what: the gateway asks the policy engine first, completes the
// spec (owner, storage location, effective classification, retention) from the policy and the
// tenants file, and passes its decision entries (`audit`) to be appended in the same batch as
// the change they allowed. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "crypto/dsse.h"
#include "crypto/ed25519.h"
#include "crypto/intoto.h"
#include "crypto/secret_key.h"
#include "crypto/sha256.h"
#include "registry/audit_log.h"
#include "registry/blob_store.h"
#include "registry/metadata_store.h"
#include "registry/types.h"

namespace sov::registry {

// The predicate type of artifact manifests (in-toto Statement v1, registry-signed DSSE).
inline constexpr std::string_view kManifestPredicateType =
    "https://sovereign.dev/attestations/manifest/v1";

struct RegistryLocation {
  std::string name;          // e.g. "eu-de-1"
  std::string jurisdiction;  // e.g. "DE"
};

struct RegistryOptions {
  std::vector<RegistryLocation> locations;
  int64_t max_artifact_bytes = int64_t{64} << 30;  // 64 GiB
  int64_t max_chunk_bytes = int64_t{2} << 20;      // largest Push message chunk
  std::chrono::seconds upload_ttl{24 * 3600};       // idle time before an open upload expires
  std::map<std::string, int64_t> quota_bytes;       // per tenant; absent or 0: unlimited
  // A validation job whose workers stopped reporting (crashed, killed) on this many attempts
  // is not claimed again: ClaimJob fails it and rejects its model. 0: no limit.
  int max_job_attempts = 3;
};

// Who acts, for the audit entries the registry writes about its own changes.
struct Actor {
  std::string tenant_id;                     // empty: the gateway itself
  nlohmann::json principal;                  // {"tenantId","authMethod","credential"} or null
  std::string system_actor;                  // e.g. "validation" when tenant_id is empty
  std::string request_id;
};

// The in-toto Statement of an artifact's manifest: subject = name with its sha256 digest;
// predicate = the immutable metadata (kind, version, size, media type, classification,
// purposes, lawful basis, labels, owner, storage location and jurisdiction, retention, created
// time) and the lineage with digests.
crypto::Statement ManifestStatement(const ArtifactRecord& artifact);

class UploadWriter;
class ArtifactReader;
namespace internal {
class UploadWriterImpl;
}  // namespace internal

class Registry {
 public:
  Registry(std::shared_ptr<MetadataStore> store, std::shared_ptr<BlobStore> blobs,
           std::shared_ptr<AuditLog> audit, crypto::SecretKey master_key,
           crypto::Ed25519PrivateKey signing_key, RegistryOptions options);
  ~Registry();

  // Startup recovery, before serving: deletes staging objects of uploads that are not open and
  // blobs that no artifact references (left by a crash between publish and commit) or that
  // belong to erased artifacts, aborts open uploads whose staging object is gone, and aborts
  // expired uploads. While a validation job holds a live lease, unreferenced blobs and generated
  // staging objects written since the earliest such job was claimed are kept (its worker may be
  // about to commit the report it wrote); older ones go. Returns how many objects it removed,
  // for the log.
  Result<int> Recover();

  const RegistryOptions& options() const { return options_; }
  const crypto::Ed25519PublicKey& registry_key() const { return registry_key_; }
  AuditLog& audit() { return *audit_; }
  MetadataStore& store() { return *store_; }

  // Opens an upload for `spec` (complete: owner, location and the policy's classification and
  // retention filled in). When the same owner already has an open upload of spec.name@version
  // with an identical spec, returns that one instead (idempotent retry). ALREADY_EXISTS
  // "version taken" when the version exists or another upload holds it; INVALID_ARGUMENT for a
  // size over the per-artifact limit; RESOURCE_EXHAUSTED over the owner's quota; NOT_FOUND for
  // an unknown location. `audit` is appended with it.
  Result<UploadRecord> CreateUpload(ArtifactSpec spec, std::optional<int64_t> declared_size,
                                    std::string expected_digest, const Actor& actor,
                                    std::vector<AuditEvent> audit);
  // NOT_FOUND when absent.
  Result<UploadRecord> GetUpload(const std::string& upload_id);
  // Aborts an open upload and deletes its bytes; OK for an aborted one; FAILED_PRECONDITION for
  // a committed one.
  Result<UploadRecord> CancelUpload(const std::string& upload_id, const Actor& actor,
                                    std::vector<AuditEvent> audit);
  // Starts writing an open upload at `offset`, which must equal its committed offset (ABORTED
  // otherwise, with the committed offset in the message). One writer per upload at a time
  // (ABORTED "another stream is writing this upload"). FAILED_PRECONDITION when the upload is
  // not open or has expired (it is then aborted). When the hash state of the durable prefix
  // cannot be restored (see docs/architecture.md) the upload is reset to offset 0 and this
  // returns ABORTED naming offset 0. The writer must not outlive the Registry.
  Result<std::unique_ptr<UploadWriter>> OpenUploadWriter(const std::string& upload_id,
                                                         int64_t offset);

  // The artifact name@version (any stage); NOT_FOUND when absent.
  Result<ArtifactRecord> Get(const std::string& name, const std::string& version);
  // Every version of `name`, highest SemVer first.
  Result<std::vector<ArtifactRecord>> Versions(const std::string& name);
  // As MetadataStore::ListArtifacts, each name's versions highest SemVer first.
  Result<std::vector<ArtifactRecord>> List(const ArtifactFilter& filter);
  // Artifacts whose lineage names name@version.
  Result<std::vector<ArtifactRecord>> Dependents(const std::string& name,
                                                const std::string& version);

  // Opens the artifact's plaintext for reading from `offset`, `length` bytes (nullopt: to the
  // end). OUT_OF_RANGE past the end; FAILED_PRECONDITION when erased. A reader that reads a full
  // artifact also checks its digest at the end.
  Result<std::unique_ptr<ArtifactReader>> OpenReader(const ArtifactRecord& artifact,
                                                     uint64_t offset,
                                                     std::optional<uint64_t> length);

  // Adds a signature over PAE(manifest payload type, payload) by `key` (a publisher key of
  // `signer_tenant`, or the registry key): INVALID_ARGUMENT "bad signature" unless it verifies.
  // Adding one that is there already changes nothing. Appends SIGNATURE_ADDED with `audit`.
  Result<ArtifactRecord> AddSignature(const std::string& name, const std::string& version,
                                      const crypto::Ed25519PublicKey& key, std::string sig,
                                      std::string signer_role, std::string signer_tenant,
                                      const Actor& actor, std::vector<AuditEvent> audit);

  // Moves name@version from a stage in `from` to `to`, recording the history event (reason,
  // rule) and a STAGE_CHANGE entry with `audit`, retrying on revision conflicts.
  // FAILED_PRECONDITION "wrong stage" when the current stage is not in `from`; when it already
  // is `to`, returns the record unchanged (idempotent; `audit` is still appended). The history
  // event's audit_index is written by a second update once the entry's index is known; until
  // then (or if that update fails) it is -1 and the entry is found by QueryAudit.
  struct Transition {
    std::set<Stage> from;
    Stage to = Stage::kReleased;
    std::string reason;
    std::string rule_id;
    std::string rule_location;
    bool mark_release_requested = false;
  };
  Result<ArtifactRecord> ChangeStage(const std::string& name, const std::string& version,
                                     const Transition& transition, const Actor& actor,
                                     std::vector<AuditEvent> audit);

  Result<TenantUsage> Usage(const std::string& tenant_id);

  // ---- Validation jobs (registry/validation.cc) ----------------------------------------------

  struct ValidationRequest {
    bool report_only = false;
    std::string backend = "auto";  // "auto" | "cpu" | "cuda"
    std::string policy_digest;     // the policy in force when it was queued
    std::string requested_by;      // tenant id; empty when the push queued it
  };
  // Queues a validation job for `model` (kind model, any stage but ERASED; not REJECTED or
  // REVOKED unless report_only). Unless report_only, a PENDING model moves to VALIDATING in the
  // same batch (STAGE_CHANGE entry, system actor "validation"). When a QUEUED or RUNNING job for
  // the same digest and report_only exists, returns it and changes nothing. A VALIDATION entry
  // (details.event "queued")
  // and `audit` are appended with it. INVALID_ARGUMENT for a non-model; FAILED_PRECONDITION for
  // a wrong stage.
  Result<JobRecord> QueueValidation(const ArtifactRecord& model, const ValidationRequest& request,
                                    const Actor& actor, std::vector<AuditEvent> audit);
  // Called (on the queueing thread, after the commit) whenever QueueValidation queues a new job,
  // so that this process's idle workers start at once instead of at their next poll; empty to
  // clear. Workers in other processes still poll.
  void SetJobQueuedListener(std::function<void()> listener);
  // NOT_FOUND when absent.
  Result<JobRecord> GetJob(const std::string& job_id);
  Result<std::vector<JobRecord>> ListJobs(const JobFilter& filter);
  // Takes the oldest job this worker may run: QUEUED with requested_backend "auto" or in
  // `backends` ("cpu", "cuda"), or RUNNING with an expired lease (the worker that held it died).
  // It becomes RUNNING with worker, attempt + 1, start_time now, lease_expire_time now + lease,
  // and a VALIDATION entry ("started"). nullopt when there is none. Safe against concurrent claimers in
  // this and other processes: a lost race retries on the next candidate. An expired job that
  // already had RegistryOptions::max_job_attempts attempts is failed instead (its model
  // rejected, "abandoned after N attempts") and not claimed.
  Result<std::optional<JobRecord>> ClaimJob(const std::string& worker,
                                            const std::set<std::string>& backends,
                                            std::chrono::seconds lease);
  // Records progress and extends the lease. ABORTED when `job` is no longer this worker's
  // attempt (cancelled, or taken by another worker after the lease ran out): stop working on it.
  // Returns the updated job (use it for the next call).
  Result<JobRecord> Heartbeat(const JobRecord& job, double progress, std::string phase,
                              std::chrono::seconds lease);

  // An artifact the gateway itself wrote (a report), stored durably as an encrypted blob but not
  // yet visible: CompleteJob commits it. A blob whose commit never happens is removed by
  // Recover() as unreferenced.
  struct PreparedArtifact {
    ArtifactRecord record;  // stage as given in the spec's caller; manifest signed
    std::string wrapped_key;
  };
  // Hashes, encrypts and durably stores `bytes` as a new artifact of `spec` (complete: owner,
  // location, classification, lineage), signs its manifest, and returns it uncommitted, stage
  // `stage`. NOT_FOUND for an unknown location.
  Result<PreparedArtifact> PrepareGeneratedArtifact(ArtifactSpec spec, std::string_view bytes,
                                                    Stage stage);

  // How a job ended, for CompleteJob.
  struct JobOutcome {
    JobState state = JobState::kSucceeded;  // kSucceeded or kFailed
    std::string backend;                    // "cpu" | "cuda"
    std::string error;                      // kFailed: why (no secret, no content)
    std::vector<LineageLink> datasets;
    std::optional<PreparedArtifact> report;  // kSucceeded: the signed report artifact
    nlohmann::json gate_results = nlohmann::json::array();
    std::string policy_digest;
    // The model's stage change; unset for report_only jobs (and when the model left VALIDATING
    // meanwhile, e.g. it was erased: the job then completes without one).
    std::optional<Transition> transition;
  };
  // Finishes `job` exactly once: in one batch, the job's final state, the report artifact, the
  // model's stage change (with its STAGE_CHANGE entry), a VALIDATION entry ("finished") and `audit`.
  // ABORTED when the job's revision moved on (this attempt lost its lease or was cancelled):
  // nothing is committed. Returns the finished job.
  Result<JobRecord> CompleteJob(const JobRecord& job, JobOutcome outcome, const Actor& actor,
                                std::vector<AuditEvent> audit);
  // Cancels a QUEUED or RUNNING job; a VALIDATING model goes back to PENDING in the same batch.
  // A VALIDATION entry ("cancelled") records it. OK for a cancelled job;
  // FAILED_PRECONDITION for a finished one; NOT_FOUND when absent.
  Result<JobRecord> CancelJob(const std::string& job_id, const Actor& actor,
                              std::vector<AuditEvent> audit);

  // ---- Erasure (registry/erasure.cc) ---------------------------------------------------------

  // The payload type of the registry-signed erasure record (the ERASURE entry's "record"): a
  // JSON object {"name","version","digest","sizeBytes","kind","ownerTenant","erasedBy"
  // (principal or null),"systemActor","eraseTime","reason","subjectRequestId"}; never content.
  static constexpr std::string_view kErasurePayloadType = "application/vnd.sov.erasure.v1+json";
  struct EraseRequest {
    std::string reason;              // 1 to 1024 characters
    std::string subject_request_id;  // at most 256 characters; may be empty
    // False: return once the erasure is durable, before the destroyed key's bytes have left
    // the metadata store's files (WriteBatch::await_shredding); the caller must call
    // AwaitShredding() before it reports the erasure done. For bulk erasure.
    bool await_shredding = true;
  };
  // OK when `request` is within the limits above; INVALID_ARGUMENT saying which is not. Erase
  // checks it first; a caller that does other work before erasing (a dry run) checks it itself.
  static Status ValidateEraseRequest(const EraseRequest& request);
  // Crypto-shreds name@version: in one batch, destroys its wrapped data key, sets stage ERASED
  // with a tombstone and history event, and appends a registry-signed ERASURE record (the
  // tombstone as a DSSE envelope in the entry's "record") with `audit`; then deletes the blob
  // (a failed delete is retried by Recover(): an erased artifact's blob is unreferenced).
  // Returns the erased record, tombstone set. Erasing an ERASED artifact returns it unchanged
  // (OK). Cancels the artifact's QUEUED/RUNNING validation jobs in the same batch.
  Result<ArtifactRecord> Erase(const std::string& name, const std::string& version,
                               const EraseRequest& request, const Actor& actor,
                               std::vector<AuditEvent> audit);
  // Returns once the keys of every Erase that returned before this call have left the metadata
  // store's files (MetadataStore::AwaitShredding); for erasures made with await_shredding off.
  void AwaitShredding();
  // Adds a lineage notice to name@version, and when `transition` is set, changes its stage in
  // the same batch (a revoke). A LINEAGE_PROPAGATION entry records it with `audit`. Idempotent: a
  // notice for the same erased ancestor is not added twice.
  Result<ArtifactRecord> AddLineageNotice(const std::string& name, const std::string& version,
                                          LineageNotice notice,
                                          std::optional<Transition> transition, const Actor& actor,
                                          std::vector<AuditEvent> audit);

  // ---- Signing keys ----------------------------------------------------------------------------

  // Records a publisher key revocation with a KEY_REVOCATION entry and `audit`. OK when revoked.
  Status RevokeKey(KeyRevocation revocation, const Actor& actor, std::vector<AuditEvent> audit);
  Result<std::vector<KeyRevocation>> KeyRevocations();

 private:
  friend class internal::UploadWriterImpl;

  // Fails a RUNNING job with an expired lease that has used up its attempts (see ClaimJob).
  Status AbandonJob(const JobRecord& job);
  // Claims one candidate of ClaimJob's: the claimed job, or none when it was abandoned or
  // another claimer changed it first.
  Result<std::optional<JobRecord>> TryClaim(const JobRecord& job, const std::string& worker,
                                            SystemTime now, std::chrono::seconds lease);

  // The SHA-256 state of a paused upload's durable prefix, kept in memory by the writer that
  // paused it so that a resume in this process need not read the staging object back.
  struct ResumePoint {
    int64_t offset = 0;
    int64_t revision = 0;  // the upload's revision after the pause
    crypto::Sha256 hash;
  };

  crypto::SecretKey TenantKey(const std::string& tenant_id) const;
  // NOT_FOUND unless spec.storage_location is configured; fills spec.storage_jurisdiction from
  // it, or INVALID_ARGUMENT when the spec names another jurisdiction.
  Status PlaceInLocation(ArtifactSpec& spec) const;
  void ReleaseWriter(const std::string& upload_id);
  void SaveResumePoint(const std::string& upload_id, int64_t offset, int64_t revision,
                       crypto::Sha256 hash);
  std::optional<ResumePoint> TakeResumePoint(const std::string& upload_id);
  // Recomputes the hash of the first `chunks` whole chunks from the staging object: DATA_LOSS
  // when they fail authentication, UNIMPLEMENTED when the blob store cannot read staging back.
  Result<crypto::Sha256> RestoreHash(const UploadRecord& upload,
                                     const crypto::SecretKey& data_key, uint64_t chunks);
  // Signs the manifest of `artifact` (whose other fields are final) with the registry key and
  // sets its manifest and its one (registry) signature.
  void SignManifest(ArtifactRecord& artifact) const;
  // Marks an open upload aborted (re-reading it on revision conflicts), appending `audit` with
  // it, and deletes its staging object. OK when it is aborted already.
  Status AbortUpload(UploadRecord upload, const std::string& reason,
                     std::vector<AuditEvent> audit);

  std::shared_ptr<MetadataStore> store_;
  std::shared_ptr<BlobStore> blobs_;
  std::shared_ptr<AuditLog> audit_;
  crypto::SecretKey master_key_;
  crypto::Ed25519PrivateKey signing_key_;
  crypto::Ed25519PublicKey registry_key_;
  RegistryOptions options_;
  void NotifyJobQueued();

  std::mutex listener_mutex_;
  std::function<void()> job_queued_;  // guarded by listener_mutex_
  std::mutex writers_mutex_;
  std::set<std::string> active_writers_;              // guarded by writers_mutex_
  std::map<std::string, ResumePoint> resume_points_;  // guarded by writers_mutex_
};

// Writes one upload; see Registry::OpenUploadWriter. One thread at a time.
class UploadWriter {
 public:
  virtual ~UploadWriter() = default;
  // Appends plaintext: hashed and encrypted in 1 MiB chunks. INVALID_ARGUMENT past the declared
  // size or the size limit; RESOURCE_EXHAUSTED past the owner's quota.
  virtual Status Write(std::string_view bytes) = 0;
  // Plaintext bytes received so far (durable or not).
  virtual int64_t received() const = 0;
  // Makes every whole chunk that has at least one byte after it durable and records the
  // committed offset (a multiple of 1 MiB; the bytes after it must be sent again, so up to
  // 1 MiB + the partial chunk). Writing may go on afterwards. Called by the destructor when not
  // committed. Errors are sticky: the stream is then broken and resumes from the last offset.
  virtual Result<UploadRecord> Pause() = 0;
  // Finishes: checks `digest` (and the declared size), makes the blob durable, signs the
  // manifest and commits the artifact with an ARTIFACT_CREATED entry and `audit`. An empty
  // `digest` means the expected digest given at CreateUpload. A malformed digest is
  // INVALID_ARGUMENT and changes nothing; a digest or size mismatch aborts the upload
  // (INVALID_ARGUMENT "digest mismatch: ..."). After any other outcome the writer is finished.
  virtual Result<ArtifactRecord> Commit(const std::string& digest, const Actor& actor,
                                        std::vector<AuditEvent> audit) = 0;
};

// Reads one artifact's plaintext; see Registry::OpenReader. One thread at a time.
class ArtifactReader {
 public:
  virtual ~ArtifactReader() = default;
  // The next piece (at most 1 MiB), empty at the end. DATA_LOSS when stored bytes fail their
  // authentication or, at the end of a full read, the digest check; the piece is then withheld.
  virtual Result<std::string_view> Next() = 0;
  virtual uint64_t offset() const = 0;  // of the next piece
  virtual uint64_t end() const = 0;     // one past the last byte to read
};

}  // namespace sov::registry
