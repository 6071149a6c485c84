#include "registry/registry.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>

#include "common/hex.h"
#include "common/time.h"
#include "crypto/chunked_aead.h"
#include "crypto/key_hierarchy.h"
#include "crypto/sha256.h"
#include "registry/internal/background_task.h"
#include "registry/internal/stage_change.h"
#include "registry/names.h"
#include "registry/semver.h"

namespace sov::registry {
namespace {

using Json = nlohmann::json;

constexpr uint64_t kChunkBytes = crypto::kChunkPlaintextBytes;
// How often a read-modify-write of a record is retried after a revision conflict.
constexpr int kMaxRevisionAttempts = 8;
// How many paused uploads keep their hash state in memory (see OpenUploadWriter).
constexpr size_t kMaxResumePoints = 4096;

std::string Ref(const std::string& name, const std::string& version) {
  return name + "@" + version;
}

using internal::AddAudit;
using internal::EventFrom;
using internal::RandomId;

// The bytes of a staging object that holds `sealed_chunks` whole (non-final) chunks.
uint64_t StagingBytes(uint64_t sealed_chunks) {
  return crypto::kBlobHeaderBytes + sealed_chunks * crypto::kSealedChunkBytes;
}

SystemTime Now() { return std::chrono::system_clock::now(); }

// The policy action that a move to `to` stands for, for the STAGE_CHANGE entry.
std::string_view StageAction(Stage to) {
  switch (to) {
    case Stage::kReleased: return "artifact.release";
    case Stage::kRevoked: return "artifact.revoke";
    case Stage::kErased: return "artifact.erase";
    case Stage::kPending:
    case Stage::kValidating:
    case Stage::kRejected: return "artifact.validate";
  }
  return "artifact.validate";
}

// {"sha256": "<hex>"} for a "sha256:<hex>" digest, as in-toto resource descriptors write it.
Json DigestObject(const std::string& digest) {
  constexpr std::string_view kPrefix = "sha256:";
  if (digest.rfind(kPrefix, 0) == 0) return Json{{"sha256", digest.substr(kPrefix.size())}};
  return Json::object();
}

// Sorts each run of equal names by SemVer precedence, highest first; keeps the order of names.
void SortVersionsWithinNames(std::vector<ArtifactRecord>& records) {
  auto higher = [](const ArtifactRecord& a, const ArtifactRecord& b) {
    Result<SemVer> va = SemVer::Parse(a.spec.version);
    Result<SemVer> vb = SemVer::Parse(b.spec.version);
    // Stored versions were validated at push; a bad one (never expected) sorts last.
    if (!va.ok() || !vb.ok()) return va.ok() && !vb.ok();
    return *va > *vb;
  };
  auto begin = records.begin();
  while (begin != records.end()) {
    auto end = std::find_if(begin, records.end(), [&](const ArtifactRecord& r) {
      return r.spec.name != begin->spec.name;
    });
    std::stable_sort(begin, end, higher);
    begin = end;
  }
}

}  // namespace

namespace internal {

std::string RandomId() {
  crypto::SecretKey random = crypto::SecretKey::Random();
  return HexEncode(random.bytes().substr(0, 16));
}

AuditEvent EventFrom(const Actor& actor, std::string type, std::string action) {
  AuditEvent event;
  event.type = std::move(type);
  event.request_id = actor.request_id;
  event.principal = actor.principal;
  event.system_actor = actor.system_actor;
  event.action = std::move(action);
  return event;
}

AuditEvent EventFrom(const Actor& actor, std::string type, std::string action,
                     const ArtifactRecord& artifact) {
  AuditEvent event = EventFrom(actor, std::move(type), std::move(action));
  event.artifact_name = artifact.spec.name;
  event.artifact_version = artifact.spec.version;
  event.artifact_digest = artifact.digest;
  return event;
}

void AddAudit(WriteBatch& batch, std::vector<AuditEvent>& audit) {
  for (AuditEvent& event : audit) batch.Add(mutation::AppendAudit{std::move(event)});
  audit.clear();
}

const LineageNotice* RevokingNotice(const ArtifactRecord& artifact) {
  for (const LineageNotice& notice : artifact.lineage_notices) {
    if (notice.action == "revoke") return &notice;
  }
  return nullptr;
}

std::string RevokingNoticeText(const LineageNotice& notice) {
  return "derived from erased " + notice.erased_name + "@" + notice.erased_version +
         "; lineage rule " + notice.rule_id +
         (notice.rule_location.empty() ? "" : " (" + notice.rule_location + ")") + " revokes it";
}

StageChange MakeStageChange(const ArtifactRecord& artifact, const Registry::Transition& transition,
                            const Actor& actor, SystemTime time) {
  StageChange out;
  ArtifactRecord& updated = out.updated;
  updated = artifact;
  StageEvent event;
  event.from = artifact.stage;
  event.to = transition.to;
  event.time = time;
  event.tenant_id = actor.tenant_id;
  event.system_actor = actor.system_actor;
  event.reason = transition.reason;
  event.rule_id = transition.rule_id;
  event.rule_location = transition.rule_location;
  event.audit_index = -1;  // linked to the entry by the commit (link_next_audit)
  updated.stage = transition.to;
  updated.history.push_back(event);
  if (transition.mark_release_requested) updated.release_requested = true;
  updated.update_time = event.time;

  AuditEvent& change = out.entry;
  change = EventFrom(actor, "STAGE_CHANGE", std::string(StageAction(transition.to)), artifact);
  change.rule_id = transition.rule_id;
  change.body = {{"stageChange",
                  {{"fromStage", std::string(StageName(event.from))},
                   {"toStage", std::string(StageName(event.to))},
                   {"reason", transition.reason},
                   {"ruleId", transition.rule_id}}}};
  return out;
}

}  // namespace internal

crypto::Statement ManifestStatement(const ArtifactRecord& artifact) {
  const ArtifactSpec& spec = artifact.spec;
  Json lineage = Json::array();
  for (const LineageLink& link : spec.lineage) {
    Json item = {{"name", link.name},
                 {"version", link.version},
                 {"relation", link.relation},
                 {"kind", std::string(KindName(link.kind))}};
    if (!link.digest.empty()) item["digest"] = DigestObject(link.digest);
    lineage.push_back(std::move(item));
  }
  Json labels = Json::object();
  for (const auto& [key, value] : spec.labels) labels[key] = value;

  // Integers and strings only (canonical JSON has no floats); times in RFC 3339, whole seconds.
  Json predicate = {
      {"kind", std::string(KindName(spec.kind))},
      {"version", spec.version},
      {"sizeBytes", artifact.size_bytes},
      {"owner", spec.owner_tenant},
      {"storage", {{"location", spec.storage_location},
                   {"jurisdiction", spec.storage_jurisdiction}}},
      {"classification", spec.classification},
      {"purposes", spec.purposes},
      {"labels", std::move(labels)},
      {"lineage", std::move(lineage)},
      {"createTime", FormatRfc3339(artifact.create_time)},
  };
  auto set_if = [&predicate](const char* key, const std::string& value) {
    if (!value.empty()) predicate[key] = value;
  };
  set_if("mediaType", spec.media_type);
  set_if("description", spec.description);
  set_if("effectiveClassification", spec.effective_classification);
  set_if("lawfulBasis", spec.lawful_basis);
  set_if("specialCategoryCondition", spec.special_category_condition);
  set_if("createdBy", spec.created_by);
  if (spec.retention_deadline.has_value() || !spec.retention_action.empty() ||
      spec.retain_until.has_value()) {
    Json retention = Json::object();
    if (spec.retention_deadline.has_value()) {
      retention["deadline"] = FormatRfc3339(*spec.retention_deadline);
    }
    if (!spec.retention_action.empty()) retention["action"] = spec.retention_action;
    // The pusher's own limit, as asked: the deadline above may be the policy's.
    if (spec.retain_until.has_value()) {
      retention["retainUntil"] = FormatRfc3339(*spec.retain_until);
    }
    predicate["retention"] = std::move(retention);
  }

  crypto::Statement statement;
  crypto::ResourceDescriptor subject;
  subject.name = spec.name;
  subject.digest = DigestObject(artifact.digest).get<std::map<std::string, std::string>>();
  statement.subject.push_back(std::move(subject));
  statement.predicate_type = std::string(kManifestPredicateType);
  statement.predicate = std::move(predicate);
  return statement;
}

// ---------------------------------------------------------------------------------------------
// UploadWriter

namespace internal {

class UploadWriterImpl final : public UploadWriter {
 public:
  UploadWriterImpl(Registry* registry, UploadRecord upload, crypto::SecretKey data_key,
                   std::unique_ptr<BlobAppender> staging, crypto::Sha256 hash,
                   int64_t allowance)
      : registry_(registry),
        upload_(std::move(upload)),
        data_key_(std::move(data_key)),
        staging_(std::move(staging)),
        hash_(std::move(hash)),
        sealed_chunks_(static_cast<uint64_t>(upload_.committed_offset) / kChunkBytes),
        allowance_(allowance) {
    for (std::string& buffer : buffers_) buffer.reserve(kChunkBytes);
    sealed_.reserve(crypto::kSealedChunkBytes);
  }

  ~UploadWriterImpl() override;

  Status Write(std::string_view bytes) override;
  int64_t received() const override {
    return static_cast<int64_t>(sealed_chunks_ * kChunkBytes + buffers_[current_].size());
  }
  Result<UploadRecord> Pause() override;
  Result<ArtifactRecord> Commit(const std::string& digest, const Actor& actor,
                                std::vector<AuditEvent> audit) override;

 private:
  // Encrypts `plaintext` as chunk `index` and appends it to the staging object. Runs on the
  // sealer's thread for whole chunks, on the caller's for the final one (never both at once).
  Status SealAndAppend(const std::string& plaintext, uint64_t index, bool is_final);
  // Hands the current buffer to the sealer as whole chunk `sealed_chunks_` (never final),
  // hashes it meanwhile, and switches buffers.
  Status SealCurrent();
  // Waits for the sealer and closes the staging object, so that it can be reopened or removed.
  Status CloseStaging();
  // Re-seals the last whole chunk as the final one (see Commit).
  Status ResealLastChunkAsFinal();
  Status Fail(Status status) {
    if (error_.ok()) error_ = status;
    return status;
  }

  Registry* registry_;
  UploadRecord upload_;  // revision kept current through Pause
  crypto::SecretKey data_key_;
  std::unique_ptr<BlobAppender> staging_;
  std::string sealed_;               // the sealer's output buffer
  internal::BackgroundTask sealer_;  // declared after what its jobs use: destroyed first
  crypto::Sha256 hash_;              // over the sealed chunks' plaintext, exactly
  uint64_t sealed_chunks_;           // whole chunks handed to the sealer
  std::string buffers_[2];           // plaintext chunks: one being filled, one being sealed
  int current_ = 0;
  int64_t allowance_;                // the most bytes this upload may hold under its quota
  bool paused_ = true;               // nothing sealed since the last durable point
  bool finished_ = false;            // committed or aborted: no further calls
  Status error_;                     // sticky: the first failure that broke the stream
};

Status UploadWriterImpl::Write(std::string_view bytes) {
  if (finished_) return FailedPrecondition("upload " + upload_.id + " is finished");
  SOV_RETURN_IF_ERROR(error_);
  const int64_t total = received() + static_cast<int64_t>(bytes.size());
  if (upload_.declared_size.has_value() && total > *upload_.declared_size) {
    return InvalidArgument("upload " + upload_.id + ": " + std::to_string(total) +
                           " bytes exceed the declared size of " +
                           std::to_string(*upload_.declared_size));
  }
  const RegistryOptions& options = registry_->options();
  if (total > options.max_artifact_bytes) {
    return InvalidArgument("upload " + upload_.id + ": " + std::to_string(total) +
                           " bytes exceed the limit of " +
                           std::to_string(options.max_artifact_bytes) + " bytes per artifact");
  }
  if (total > allowance_) {
    return ResourceExhausted("upload " + upload_.id + ": " + std::to_string(total) +
                             " bytes exceed the storage quota of tenant " +
                             upload_.spec.owner_tenant);
  }
  while (!bytes.empty()) {
    // A full chunk is sealed only once a further byte arrives: until then it may be the final
    // one, and the final chunk is sealed differently.
    if (buffers_[current_].size() == kChunkBytes) SOV_RETURN_IF_ERROR(SealCurrent());
    std::string& buffer = buffers_[current_];
    size_t n = std::min(bytes.size(), kChunkBytes - buffer.size());
    buffer.append(bytes.data(), n);
    bytes.remove_prefix(n);
  }
  return OkStatus();
}

Status UploadWriterImpl::SealAndAppend(const std::string& plaintext, uint64_t index,
                                       bool is_final) {
  sealed_.clear();
  SOV_RETURN_IF_ERROR(
      crypto::EncryptChunk(data_key_, upload_.blob_header, index, is_final, plaintext, sealed_));
  return staging_->Append(sealed_);
}

Status UploadWriterImpl::SealCurrent() {
  // The previous job used the other buffer; once it is done that buffer is free again.
  if (Status st = sealer_.Wait(); !st.ok()) return Fail(std::move(st));
  const std::string& buffer = buffers_[current_];
  const uint64_t index = sealed_chunks_;
  sealer_.Start([this, &buffer, index] { return SealAndAppend(buffer, index, false); });
  hash_.Update(buffer);  // reads the same buffer as the sealer, side by side
  ++sealed_chunks_;
  paused_ = false;
  current_ ^= 1;
  buffers_[current_].clear();
  return OkStatus();
}

Result<UploadRecord> UploadWriterImpl::Pause() {
  if (finished_) return FailedPrecondition("upload " + upload_.id + " is finished");
  SOV_RETURN_IF_ERROR(error_);
  if (Status st = sealer_.Wait(); !st.ok()) return Fail(std::move(st));
  if (Status st = staging_->Sync(); !st.ok()) return Fail(std::move(st));

  UploadRecord updated = upload_;
  updated.committed_offset = static_cast<int64_t>(sealed_chunks_ * kChunkBytes);
  updated.update_time = Now();
  updated.expire_time = updated.update_time + registry_->options().upload_ttl;
  WriteBatch batch;
  batch.Add(mutation::UpdateUpload{updated});
  if (Status st = registry_->store().Commit(std::move(batch)).status(); !st.ok()) {
    // The chunks stay in the staging object; a resume truncates them back to the old offset.
    return Fail(std::move(st));
  }
  ++updated.revision;
  upload_ = updated;
  paused_ = true;
  return upload_;
}

Status UploadWriterImpl::CloseStaging() {
  Status st = sealer_.Wait();
  staging_.reset();
  return st;
}

Status UploadWriterImpl::ResealLastChunkAsFinal() {
  // The last chunk was sealed as a whole chunk with more to come; it must become the final
  // one. Read it back, then cut it off and seal it again as final.
  const uint64_t index = sealed_chunks_ - 1;
  SOV_RETURN_IF_ERROR(sealer_.Wait());
  SOV_RETURN_IF_ERROR(staging_->Sync());
  std::string plaintext;
  {
    SOV_ASSIGN_OR_RETURN(std::unique_ptr<BlobReader> reader,
                         registry_->blobs_->OpenStagingReader(upload_.spec.storage_location,
                                                              upload_.id));
    std::string sealed;
    SOV_RETURN_IF_ERROR(
        reader->ReadAt(crypto::ChunkFileOffset(index), crypto::kSealedChunkBytes, sealed));
    SOV_RETURN_IF_ERROR(crypto::DecryptChunk(data_key_, upload_.blob_header, index,
                                             /*is_final=*/false, sealed, plaintext));
  }
  SOV_RETURN_IF_ERROR(CloseStaging());
  SOV_ASSIGN_OR_RETURN(staging_, registry_->blobs_->OpenStaging(upload_.spec.storage_location,
                                                                upload_.id, StagingBytes(index)));
  return SealAndAppend(plaintext, index, /*is_final=*/true);
}

Result<ArtifactRecord> UploadWriterImpl::Commit(const std::string& digest, const Actor& actor,
                                                std::vector<AuditEvent> audit) {
  if (finished_) return FailedPrecondition("upload " + upload_.id + " is finished");
  SOV_RETURN_IF_ERROR(error_);
  // A malformed digest is the caller's mistake and leaves the upload as it is.
  std::string claimed = digest.empty() ? upload_.expected_digest : digest;
  if (claimed.empty()) return InvalidArgument("upload " + upload_.id + ": a digest is required");
  SOV_ASSIGN_OR_RETURN(crypto::Digest claimed_digest, crypto::Digest::Parse(claimed));

  const std::string ref = Ref(upload_.spec.name, upload_.spec.version);
  const std::string& last = buffers_[current_];
  const int64_t size = received();
  const bool reseal = last.empty() && sealed_chunks_ > 0;
  crypto::Sha256 hash = std::move(hash_);
  hash.Update(last);
  crypto::Digest actual = hash.Finish();

  std::string mismatch;
  if (upload_.declared_size.has_value() && size != *upload_.declared_size) {
    mismatch = "digest mismatch: " + ref + " has " + std::to_string(size) +
               " bytes, declared " + std::to_string(*upload_.declared_size);
  } else if (!upload_.expected_digest.empty() && upload_.expected_digest != claimed) {
    mismatch = "digest mismatch: " + ref + " was announced as " + upload_.expected_digest +
               ", committed as " + claimed;
  } else if (!(actual == claimed_digest)) {
    mismatch = "digest mismatch: " + ref + " received bytes with " + actual.ToString() +
               ", not " + claimed;
  }
  finished_ = true;
  if (!mismatch.empty()) {
    (void)CloseStaging();
    // The version is freed for a new upload; a failure to record that is reported instead.
    SOV_RETURN_IF_ERROR(registry_->AbortUpload(upload_, "digest mismatch", {}));
    return InvalidArgument(mismatch);
  }

  // The final chunk, then the durable blob.
  Status sealed = sealer_.Wait();
  if (sealed.ok()) {
    sealed = reseal ? ResealLastChunkAsFinal()
                    : SealAndAppend(last, sealed_chunks_, /*is_final=*/true);
  }
  if (sealed.ok()) sealed = staging_->Sync();
  Status closed = CloseStaging();
  if (sealed.ok()) sealed = closed;
  if (!sealed.ok()) {
    if (reseal && sealed.code() == StatusCode::kUnimplemented) {
      // Without a way to read the staging object back the upload cannot end here.
      (void)registry_->AbortUpload(upload_, "cannot finish at a resumed offset", {});
      return Aborted("upload " + upload_.id + " cannot be finished at offset " +
                     std::to_string(size) + " without further bytes on this blob store; "
                     "create a new upload");
    }
    error_ = sealed;
    return sealed;
  }
  BlobStore& blobs = *registry_->blobs_;
  const std::string& location = upload_.spec.storage_location;
  if (Status st = blobs.Publish(location, upload_.id, upload_.artifact_id); !st.ok()) {
    error_ = st;
    return st;
  }

  ArtifactRecord artifact;
  artifact.id = upload_.artifact_id;
  artifact.spec = upload_.spec;
  artifact.digest = actual.ToString();
  artifact.size_bytes = size;
  artifact.stage = Stage::kPending;
  artifact.create_time = Now();
  artifact.update_time = artifact.create_time;
  artifact.revision = 1;
  registry_->SignManifest(artifact);

  AuditEvent created = EventFrom(actor, "ARTIFACT_CREATED", "artifact.push", artifact);
  created.body = {{"details", {{"size", size}, {"location", location}}}};

  WriteBatch batch;
  batch.Add(mutation::CommitUpload{upload_.id, artifact, upload_.wrapped_key});
  batch.Add(mutation::AppendAudit{std::move(created)});
  AddAudit(batch, audit);
  Result<CommitResult> committed = registry_->store().Commit(std::move(batch));
  if (!committed.ok()) {
    // The blob is published but not referenced. Delete it unless the commit happened after all
    // (a lost reply); when even that cannot be told, Recover deletes it at the next start.
    Result<std::optional<ArtifactRecord>> found =
        registry_->store().FindArtifactById(artifact.id);
    if (found.ok() && found->has_value()) return std::move(**found);
    if (found.ok()) {
      (void)blobs.Delete(location, artifact.id);
      (void)registry_->AbortUpload(upload_, "commit failed", {});
    }
    error_ = committed.status();
    return committed.status();
  }
  return artifact;
}

UploadWriterImpl::~UploadWriterImpl() {
  if (!finished_ && error_.ok()) {
    // A stream that ended without a commit keeps what is durable; its hash state stays in
    // memory so that a resume need not read the staging object back.
    Result<UploadRecord> paused = paused_ ? Result<UploadRecord>(upload_) : Pause();
    if (paused.ok()) {
      registry_->SaveResumePoint(upload_.id, upload_.committed_offset, upload_.revision,
                                 std::move(hash_));
    }
  }
  (void)CloseStaging();
  registry_->ReleaseWriter(upload_.id);
}

}  // namespace internal

// ---------------------------------------------------------------------------------------------
// ArtifactReader

namespace {

class ArtifactReaderImpl final : public ArtifactReader {
 public:
  ArtifactReaderImpl(const ArtifactRecord& artifact, crypto::SecretKey data_key,
                     std::string header, std::unique_ptr<BlobReader> blob, uint64_t offset,
                     uint64_t end)
      : ref_(Ref(artifact.spec.name, artifact.spec.version)),
        digest_(artifact.digest),
        size_(static_cast<uint64_t>(artifact.size_bytes)),
        data_key_(std::move(data_key)),
        header_(std::move(header)),
        blob_(std::move(blob)),
        offset_(offset),
        end_(end),
        full_read_(offset == 0 && end == size_) {}

  Result<std::string_view> Next() override;
  uint64_t offset() const override { return offset_; }
  uint64_t end() const override { return end_; }

 private:
  // Reads and opens chunk `index` into `plain`. Runs on the loader's thread for read-ahead, on
  // the caller's otherwise (never both at once).
  Status LoadChunk(uint64_t index, std::string& plain);
  Status Fail(Status status) {
    error_ = status;
    return status;
  }

  std::string ref_;
  std::string digest_;
  uint64_t size_;
  crypto::SecretKey data_key_;
  std::string header_;
  std::unique_ptr<BlobReader> blob_;
  uint64_t offset_;
  uint64_t end_;
  bool full_read_;
  bool verified_ = false;  // a full read's digest was checked
  crypto::Sha256 hash_;
  std::string sealed_;    // the loader's input buffer
  std::string plain_[2];  // plain_[current_]: the chunk last returned; the other: read-ahead
  int current_ = 0;
  std::optional<uint64_t> ahead_;  // the chunk being loaded into plain_[current_ ^ 1]
  internal::BackgroundTask loader_;  // declared after what its jobs use: destroyed first
  Status error_;  // sticky: nothing more is returned after a failure
};

Status ArtifactReaderImpl::LoadChunk(uint64_t index, std::string& plain) {
  const uint64_t plain_size = crypto::ChunkPlaintextSize(index, size_);
  Status st = blob_->ReadAt(crypto::ChunkFileOffset(index),
                            plain_size + crypto::kChunkOverheadBytes, sealed_);
  if (!st.ok()) {
    if (st.code() == StatusCode::kDataLoss) {
      return DataLoss("stored bytes of " + ref_ + " are truncated at chunk " +
                      std::to_string(index));
    }
    return st;
  }
  plain.clear();
  st = crypto::DecryptChunk(data_key_, header_, index, crypto::IsFinalChunk(index, size_),
                            sealed_, plain);
  if (!st.ok()) {
    plain.clear();
    return DataLoss("stored bytes of " + ref_ + " failed authentication at chunk " +
                    std::to_string(index));
  }
  return OkStatus();
}

Result<std::string_view> ArtifactReaderImpl::Next() {
  SOV_RETURN_IF_ERROR(error_);
  if (offset_ >= end_) {
    if (full_read_ && !verified_) {
      // The empty artifact: its one (empty) chunk is still authenticated.
      SOV_RETURN_IF_ERROR(Fail(LoadChunk(0, plain_[current_])));
      hash_.Update(plain_[current_]);
      verified_ = true;
      if (hash_.Finish().ToString() != digest_) {
        return Fail(DataLoss("stored bytes of " + ref_ + " do not match its digest"));
      }
    }
    return std::string_view();
  }
  const uint64_t index = offset_ / kChunkBytes;
  const uint64_t chunk_start = index * kChunkBytes;
  // The caller is done with the piece returned last, so its buffer is free for this chunk.
  Status loaded = loader_.Wait();
  if (!ahead_.has_value() || *ahead_ != index) {
    std::string& target = plain_[current_ ^ 1];
    loaded = LoadChunk(index, target);
  }
  ahead_.reset();
  SOV_RETURN_IF_ERROR(Fail(std::move(loaded)));
  current_ ^= 1;
  const std::string& plain = plain_[current_];

  // Read ahead: the next chunk is authenticated and decrypted while this one is hashed and
  // sent. A failure there is reported only when that chunk is asked for.
  if (chunk_start + kChunkBytes < end_) {
    ahead_ = index + 1;
    std::string& next = plain_[current_ ^ 1];
    loader_.Start([this, &next, i = index + 1] { return LoadChunk(i, next); });
  }

  const uint64_t from = offset_ - chunk_start;
  const uint64_t to = std::min<uint64_t>(end_ - chunk_start, plain.size());
  std::string_view piece(plain.data() + from, to - from);
  if (full_read_) {
    hash_.Update(piece);
    if (chunk_start + to == end_) {
      verified_ = true;
      if (hash_.Finish().ToString() != digest_) {
        return Fail(DataLoss("stored bytes of " + ref_ + " do not match its digest"));
      }
    }
  }
  offset_ = chunk_start + to;
  return piece;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Registry

Registry::Registry(std::shared_ptr<MetadataStore> store, std::shared_ptr<BlobStore> blobs,
                   std::shared_ptr<AuditLog> audit, crypto::SecretKey master_key,
                   crypto::Ed25519PrivateKey signing_key, RegistryOptions options)
    : store_(std::move(store)),
      blobs_(std::move(blobs)),
      audit_(std::move(audit)),
      master_key_(std::move(master_key)),
      signing_key_(std::move(signing_key)),
      registry_key_(signing_key_.public_key()),
      options_(std::move(options)) {}

Registry::~Registry() = default;

crypto::SecretKey Registry::TenantKey(const std::string& tenant_id) const {
  return crypto::DeriveTenantKey(master_key_, tenant_id);
}

void Registry::ReleaseWriter(const std::string& upload_id) {
  std::lock_guard<std::mutex> lock(writers_mutex_);
  active_writers_.erase(upload_id);
}

void Registry::SaveResumePoint(const std::string& upload_id, int64_t offset, int64_t revision,
                               crypto::Sha256 hash) {
  std::lock_guard<std::mutex> lock(writers_mutex_);
  if (resume_points_.size() >= kMaxResumePoints && !resume_points_.contains(upload_id)) {
    // Dropping one costs only a read-back of its staging object on resume.
    resume_points_.erase(resume_points_.begin());
  }
  resume_points_.insert_or_assign(upload_id, ResumePoint{offset, revision, std::move(hash)});
}

std::optional<Registry::ResumePoint> Registry::TakeResumePoint(const std::string& upload_id) {
  std::lock_guard<std::mutex> lock(writers_mutex_);
  auto it = resume_points_.find(upload_id);
  if (it == resume_points_.end()) return std::nullopt;
  ResumePoint point = std::move(it->second);
  resume_points_.erase(it);
  return point;
}

Status Registry::PlaceInLocation(ArtifactSpec& spec) const {
  const RegistryLocation* location = nullptr;
  for (const RegistryLocation& l : options_.locations) {
    if (l.name == spec.storage_location) {
      location = &l;
      break;
    }
  }
  if (location == nullptr) {
    return NotFound("unknown storage location '" + spec.storage_location + "'");
  }
  if (spec.storage_jurisdiction.empty()) {
    spec.storage_jurisdiction = location->jurisdiction;
  } else if (spec.storage_jurisdiction != location->jurisdiction) {
    return InvalidArgument("storage location '" + location->name + "' is in " +
                           location->jurisdiction + ", not " + spec.storage_jurisdiction);
  }
  return OkStatus();
}

void Registry::SignManifest(ArtifactRecord& artifact) const {
  crypto::DsseEnvelope envelope = crypto::SignStatement(ManifestStatement(artifact), signing_key_);
  SignatureRecord signature;
  signature.keyid = registry_key_.KeyId();
  signature.role = "registry";
  signature.signer = "registry";
  signature.sig = envelope.signatures.front().sig;
  signature.time = artifact.create_time;
  envelope.signatures.front().keyid = signature.keyid;
  artifact.manifest = envelope.ToJson();
  artifact.signatures = {std::move(signature)};
}

Status Registry::AbortUpload(UploadRecord upload, const std::string& reason,
                             std::vector<AuditEvent> audit) {
  for (int attempt = 0; upload.state == UploadState::kOpen; ++attempt) {
    if (attempt == kMaxRevisionAttempts) {
      return Aborted("upload " + upload.id + " kept changing; try again");
    }
    UploadRecord aborted = upload;
    aborted.state = UploadState::kAborted;
    aborted.abort_reason = reason;
    aborted.update_time = Now();
    WriteBatch batch;
    batch.Add(mutation::UpdateUpload{aborted});
    std::vector<AuditEvent> events = audit;
    AddAudit(batch, events);
    Result<CommitResult> committed = store_->Commit(std::move(batch));
    if (committed.ok()) break;
    if (committed.status().code() != StatusCode::kAborted) return committed.status();
    // A revision conflict: someone else changed it; look again.
    SOV_ASSIGN_OR_RETURN(std::optional<UploadRecord> current, store_->FindUpload(upload.id));
    if (!current.has_value()) return NotFound("upload " + upload.id + " not found");
    upload = std::move(*current);
  }
  if (upload.state == UploadState::kCommitted) {
    return FailedPrecondition("upload " + upload.id + " is committed");
  }
  TakeResumePoint(upload.id);
  return blobs_->DiscardStaging(upload.spec.storage_location, upload.id);
}

Result<int> Registry::Recover() {
  int removed = 0;
  SOV_ASSIGN_OR_RETURN(std::vector<UploadRecord> open, store_->ListOpenUploads());
  const SystemTime now = Now();
  JobFilter running;
  running.states = {JobState::kRunning};
  running.limit = 0;
  SOV_ASSIGN_OR_RETURN(std::vector<JobRecord> running_jobs, store_->ListJobs(running));
  // While a worker (maybe in another process) holds a live job lease, the report it writes is
  // first a generated staging object and then an unreferenced blob until its job completes. Both
  // were written after the worker claimed the job, so only objects written since the earliest
  // claim among the live leases are kept (a second of slack for the file system's clock);
  // everything older is an orphan whatever the leases.
  std::optional<SystemTime> oldest_live_claim;
  for (const JobRecord& job : running_jobs) {
    if (job.lease_expire_time <= now) continue;
    if (!oldest_live_claim.has_value() || job.start_time < *oldest_live_claim) {
      oldest_live_claim = job.start_time;
    }
  }
  // `write_time` is only called (a stat) while some lease is live.
  auto may_be_live_report = [&](const auto& write_time) {
    if (!oldest_live_claim.has_value()) return false;
    const Result<SystemTime> written = write_time();
    // When the time cannot be read, keep the object: the next start looks again.
    return !written.ok() || *written + std::chrono::seconds(1) >= *oldest_live_claim;
  };
  for (const std::string& location : blobs_->Locations()) {
    SOV_ASSIGN_OR_RETURN(std::vector<std::string> staging, blobs_->ListStaging(location));
    std::set<std::string> staged(staging.begin(), staging.end());
    std::set<std::string> open_here;
    for (const UploadRecord& upload : open) {
      if (upload.spec.storage_location != location) continue;
      const bool has_staging = staged.contains(upload.id);
      if (upload.expire_time <= now || !has_staging) {
        SOV_RETURN_IF_ERROR(AbortUpload(
            upload, has_staging ? "expired" : "staging object lost", {}));
        if (has_staging) ++removed;
        continue;
      }
      open_here.insert(upload.id);
    }
    for (const std::string& upload_id : staging) {
      if (open_here.contains(upload_id)) continue;
      if (std::any_of(open.begin(), open.end(), [&](const UploadRecord& u) {
            return u.id == upload_id && u.spec.storage_location == location;
          })) {
        continue;  // aborted above, staging removed with it
      }
      // A report being written by a worker that holds a live lease (see above).
      if (upload_id.rfind(internal::kGeneratedStagingPrefix, 0) == 0 &&
          may_be_live_report([&] { return blobs_->StagingWriteTime(location, upload_id); })) {
        continue;
      }
      SOV_RETURN_IF_ERROR(blobs_->DiscardStaging(location, upload_id));
      ++removed;
    }
    SOV_ASSIGN_OR_RETURN(std::vector<std::string> blob_ids, blobs_->ListBlobs(location));
    for (const std::string& blob_id : blob_ids) {
      SOV_ASSIGN_OR_RETURN(std::optional<ArtifactRecord> artifact,
                           store_->FindArtifactById(blob_id));
      // A blob that no artifact references was published by a push whose commit never
      // happened, or is the report of a validation job whose completion never happened; an
      // erased artifact's blob is unreadable (its key is gone) and was meant to go.
      if (artifact.has_value() && artifact->stage != Stage::kErased &&
          artifact->spec.storage_location == location) {
        continue;
      }
      // An unreferenced blob written since a live lease's claim may be the report its worker is
      // about to commit: leave it for a later start.
      if (!artifact.has_value() &&
          may_be_live_report([&] { return blobs_->BlobWriteTime(location, blob_id); })) {
        continue;
      }
      SOV_RETURN_IF_ERROR(blobs_->Delete(location, blob_id));
      ++removed;
    }
  }
  return removed;
}

Result<UploadRecord> Registry::CreateUpload(ArtifactSpec spec,
                                            std::optional<int64_t> declared_size,
                                            std::string expected_digest, const Actor& actor,
                                            std::vector<AuditEvent> audit) {
  (void)actor;  // the gateway's decision entries in `audit` name the caller
  SOV_RETURN_IF_ERROR(ValidateArtifactName(spec.name));
  SOV_RETURN_IF_ERROR(ValidateVersion(spec.version));
  SOV_RETURN_IF_ERROR(ValidateLabels(spec.labels));
  if (spec.owner_tenant.empty() || OwnerTenantOf(spec.name) != spec.owner_tenant) {
    return InvalidArgument("artifact name '" + spec.name + "' must start with its owner '" +
                           spec.owner_tenant + "/'");
  }
  if (declared_size.has_value()) {
    if (*declared_size < 0) return InvalidArgument("declared size must not be negative");
    if (*declared_size > options_.max_artifact_bytes) {
      return InvalidArgument("declared size of " + std::to_string(*declared_size) +
                             " bytes exceeds the limit of " +
                             std::to_string(options_.max_artifact_bytes) + " bytes per artifact");
    }
  }
  if (!expected_digest.empty()) {
    SOV_RETURN_IF_ERROR(crypto::Digest::Parse(expected_digest).status());
  }
  SOV_RETURN_IF_ERROR(PlaceInLocation(spec));

  // An identical open upload is a retry: hand it back. Checked again below if a concurrent
  // identical CreateUpload wins the race for the version.
  auto find_retry = [&]() -> Result<std::optional<UploadRecord>> {
    SOV_ASSIGN_OR_RETURN(std::optional<UploadRecord> existing,
                         store_->FindOpenUpload(spec.name, spec.version));
    if (!existing.has_value()) return std::optional<UploadRecord>();
    if (existing->spec == spec && existing->declared_size == declared_size &&
        existing->expected_digest == expected_digest) {
      return existing;
    }
    return AlreadyExists("version taken: " + Ref(spec.name, spec.version) +
                         " is being uploaded by another upload");
  };
  {
    SOV_ASSIGN_OR_RETURN(std::optional<UploadRecord> retry, find_retry());
    if (retry.has_value()) {
      SOV_RETURN_IF_ERROR(audit_->Append(std::move(audit)).status());
      return std::move(*retry);
    }
  }

  if (auto quota = options_.quota_bytes.find(spec.owner_tenant);
      quota != options_.quota_bytes.end() && quota->second > 0) {
    SOV_ASSIGN_OR_RETURN(TenantUsage usage, store_->Usage(spec.owner_tenant));
    const int64_t wanted = usage.used_bytes + usage.reserved_bytes + declared_size.value_or(0);
    if (wanted > quota->second) {
      return ResourceExhausted("tenant " + spec.owner_tenant + " would use " +
                               std::to_string(wanted) + " bytes, over its quota of " +
                               std::to_string(quota->second));
    }
  }

  UploadRecord upload;
  upload.id = RandomId();
  upload.artifact_id = RandomId();
  upload.spec = spec;  // `spec` is compared again if the version is taken meanwhile
  upload.declared_size = declared_size;
  upload.expected_digest = expected_digest;
  upload.committed_offset = 0;
  upload.state = UploadState::kOpen;
  upload.wrapped_key = crypto::WrapDataKey(TenantKey(upload.spec.owner_tenant),
                                           crypto::NewDataKey(), upload.artifact_id);
  upload.blob_header = crypto::NewBlobHeader();
  upload.create_time = Now();
  upload.update_time = upload.create_time;
  upload.expire_time = upload.create_time + options_.upload_ttl;
  upload.revision = 1;

  // The staging object exists before the upload does, so an open upload always has one; a
  // crash in between leaves an orphan that Recover removes.
  const std::string& where = upload.spec.storage_location;
  {
    SOV_ASSIGN_OR_RETURN(std::unique_ptr<BlobAppender> staging,
                         blobs_->OpenStaging(where, upload.id, 0));
    Status st = staging->Append(upload.blob_header);
    if (st.ok()) st = staging->Sync();
    if (!st.ok()) {
      staging.reset();
      (void)blobs_->DiscardStaging(where, upload.id);
      return st;
    }
  }
  WriteBatch batch;
  batch.Add(mutation::CreateUpload{upload});
  std::vector<AuditEvent> events = audit;
  AddAudit(batch, events);
  Result<CommitResult> committed = store_->Commit(std::move(batch));
  if (!committed.ok()) {
    (void)blobs_->DiscardStaging(where, upload.id);
    if (committed.status().code() == StatusCode::kAlreadyExists) {
      SOV_ASSIGN_OR_RETURN(std::optional<UploadRecord> retry, find_retry());
      if (retry.has_value()) {
        SOV_RETURN_IF_ERROR(audit_->Append(std::move(audit)).status());
        return std::move(*retry);
      }
      return AlreadyExists("version taken: " + Ref(upload.spec.name, upload.spec.version) +
                           " exists already");
    }
    return committed.status();
  }
  return upload;
}

Result<UploadRecord> Registry::GetUpload(const std::string& upload_id) {
  SOV_ASSIGN_OR_RETURN(std::optional<UploadRecord> upload, store_->FindUpload(upload_id));
  if (!upload.has_value()) return NotFound("upload " + upload_id + " not found");
  return std::move(*upload);
}

Result<UploadRecord> Registry::CancelUpload(const std::string& upload_id, const Actor& actor,
                                            std::vector<AuditEvent> audit) {
  (void)actor;
  SOV_ASSIGN_OR_RETURN(UploadRecord upload, GetUpload(upload_id));
  if (upload.state == UploadState::kCommitted) {
    return FailedPrecondition("upload " + upload_id + " is committed");
  }
  if (upload.state == UploadState::kAborted) {
    SOV_RETURN_IF_ERROR(audit_->Append(std::move(audit)).status());
    return upload;
  }
  SOV_RETURN_IF_ERROR(AbortUpload(upload, "cancelled", std::move(audit)));
  return GetUpload(upload_id);
}

Result<std::unique_ptr<UploadWriter>> Registry::OpenUploadWriter(const std::string& upload_id,
                                                                 int64_t offset) {
  SOV_ASSIGN_OR_RETURN(UploadRecord upload, GetUpload(upload_id));
  if (upload.state != UploadState::kOpen) {
    return FailedPrecondition("upload " + upload_id + " is " +
                              std::string(UploadStateName(upload.state)));
  }
  if (upload.expire_time <= Now()) {
    SOV_RETURN_IF_ERROR(AbortUpload(upload, "expired", {}));
    return FailedPrecondition("upload " + upload_id + " has expired");
  }
  if (offset != upload.committed_offset) {
    return Aborted("upload " + upload_id + " is committed up to offset " +
                   std::to_string(upload.committed_offset) + "; resume from there, not " +
                   std::to_string(offset));
  }
  {
    std::lock_guard<std::mutex> lock(writers_mutex_);
    if (!active_writers_.insert(upload_id).second) {
      return Aborted("another stream is writing this upload");
    }
  }
  // From here on the slot is ours; every failure must give it back.
  auto result = [&]() -> Result<std::unique_ptr<UploadWriter>> {
    const std::string& location = upload.spec.storage_location;
    const uint64_t chunks = static_cast<uint64_t>(upload.committed_offset) / kChunkBytes;
    Result<crypto::SecretKey> unwrapped = crypto::UnwrapDataKey(
        TenantKey(upload.spec.owner_tenant), upload.wrapped_key, upload.artifact_id);
    if (!unwrapped.ok()) {
      return DataLoss("the data key of upload " + upload_id + " does not unwrap");
    }
    crypto::SecretKey data_key = std::move(unwrapped).value();

    // The hash state of the durable prefix: kept in memory when this process paused the
    // upload, else recomputed by reading the staging object back (no hash state is persisted).
    std::optional<crypto::Sha256> hash;
    if (std::optional<ResumePoint> point = TakeResumePoint(upload_id);
        point.has_value() && point->offset == upload.committed_offset &&
        point->revision == upload.revision) {
      hash = std::move(point->hash);
    } else if (chunks == 0) {
      hash.emplace();
    } else {
      Result<crypto::Sha256> restored = RestoreHash(upload, data_key, chunks);
      if (restored.ok()) {
        hash = std::move(restored).value();
      } else if (restored.status().code() == StatusCode::kUnimplemented ||
                 restored.status().code() == StatusCode::kDataLoss) {
        // The durable prefix cannot be used: the upload starts over from zero.
        UploadRecord reset = upload;
        reset.committed_offset = 0;
        reset.update_time = Now();
        WriteBatch batch;
        batch.Add(mutation::UpdateUpload{reset});
        SOV_RETURN_IF_ERROR(store_->Commit(std::move(batch)).status());
        return Aborted("upload " + upload_id + " is committed up to offset 0 (" +
                       restored.status().message() + "); resume from there");
      } else {
        return restored.status();
      }
    }

    SOV_ASSIGN_OR_RETURN(std::unique_ptr<BlobAppender> staging,
                         blobs_->OpenStaging(location, upload_id, StagingBytes(chunks)));

    int64_t allowance = options_.max_artifact_bytes;
    if (auto quota = options_.quota_bytes.find(upload.spec.owner_tenant);
        quota != options_.quota_bytes.end() && quota->second > 0) {
      SOV_ASSIGN_OR_RETURN(TenantUsage usage, store_->Usage(upload.spec.owner_tenant));
      // Usage counts this upload's reservation too: its declared size, else its offset.
      const int64_t own = upload.declared_size.value_or(upload.committed_offset);
      allowance = quota->second - usage.used_bytes - (usage.reserved_bytes - own);
    }
    return std::unique_ptr<UploadWriter>(new internal::UploadWriterImpl(
        this, std::move(upload), std::move(data_key), std::move(staging), std::move(*hash),
        allowance));
  }();
  if (!result.ok()) ReleaseWriter(upload_id);
  return result;
}

Result<crypto::Sha256> Registry::RestoreHash(const UploadRecord& upload,
                                             const crypto::SecretKey& data_key,
                                             uint64_t chunks) {
  SOV_ASSIGN_OR_RETURN(std::unique_ptr<BlobReader> reader,
                       blobs_->OpenStagingReader(upload.spec.storage_location, upload.id));
  std::string header;
  SOV_RETURN_IF_ERROR(reader->ReadAt(0, crypto::kBlobHeaderBytes, header));
  if (header != upload.blob_header) {
    return DataLoss("staging object of upload " + upload.id + " has a foreign header");
  }
  crypto::Sha256 hash;
  std::string sealed;
  std::string plaintext;
  for (uint64_t index = 0; index < chunks; ++index) {
    SOV_RETURN_IF_ERROR(
        reader->ReadAt(crypto::ChunkFileOffset(index), crypto::kSealedChunkBytes, sealed));
    plaintext.clear();
    if (!crypto::DecryptChunk(data_key, upload.blob_header, index, /*is_final=*/false, sealed,
                              plaintext)
             .ok()) {
      return DataLoss("staging object of upload " + upload.id +
                      " failed authentication at chunk " + std::to_string(index));
    }
    hash.Update(plaintext);
  }
  return hash;
}

Result<ArtifactRecord> Registry::Get(const std::string& name, const std::string& version) {
  SOV_ASSIGN_OR_RETURN(std::optional<ArtifactRecord> artifact,
                       store_->FindArtifact(name, version));
  if (!artifact.has_value()) return NotFound("artifact " + Ref(name, version) + " not found");
  return std::move(*artifact);
}

Result<std::vector<ArtifactRecord>> Registry::Versions(const std::string& name) {
  SOV_ASSIGN_OR_RETURN(std::vector<ArtifactRecord> versions, store_->ListVersions(name));
  SortVersionsWithinNames(versions);
  return versions;
}

Result<std::vector<ArtifactRecord>> Registry::List(const ArtifactFilter& filter) {
  SOV_ASSIGN_OR_RETURN(std::vector<ArtifactRecord> artifacts, store_->ListArtifacts(filter));
  SortVersionsWithinNames(artifacts);
  return artifacts;
}

Result<std::vector<ArtifactRecord>> Registry::Dependents(const std::string& name,
                                                        const std::string& version) {
  return store_->ListDependents(name, version);
}

Result<std::unique_ptr<ArtifactReader>> Registry::OpenReader(const ArtifactRecord& artifact,
                                                             uint64_t offset,
                                                             std::optional<uint64_t> length) {
  const std::string ref = Ref(artifact.spec.name, artifact.spec.version);
  if (artifact.stage == Stage::kErased) {
    return FailedPrecondition("artifact " + ref + " is erased");
  }
  const uint64_t size = static_cast<uint64_t>(artifact.size_bytes);
  if (offset > size) {
    return OutOfRange("offset " + std::to_string(offset) + " is past the end of " + ref + " (" +
                      std::to_string(size) + " bytes)");
  }
  uint64_t end = size;
  if (length.has_value()) {
    if (*length > size - offset) {
      return OutOfRange("range of " + std::to_string(*length) + " bytes at offset " +
                        std::to_string(offset) + " is past the end of " + ref + " (" +
                        std::to_string(size) + " bytes)");
    }
    end = offset + *length;
  }

  Result<std::string> wrapped = store_->WrappedDataKey(artifact.id);
  if (!wrapped.ok()) {
    if (wrapped.status().code() == StatusCode::kNotFound) {
      return FailedPrecondition("artifact " + ref + " is erased: its data key is destroyed");
    }
    return wrapped.status();
  }
  Result<crypto::SecretKey> data_key =
      crypto::UnwrapDataKey(TenantKey(artifact.spec.owner_tenant), *wrapped, artifact.id);
  if (!data_key.ok()) {
    return DataLoss("the data key of " + ref + " does not unwrap");
  }

  Result<std::unique_ptr<BlobReader>> blob =
      blobs_->Open(artifact.spec.storage_location, artifact.id);
  if (!blob.ok()) {
    if (blob.status().code() == StatusCode::kNotFound) {
      return DataLoss("the stored bytes of " + ref + " are missing");
    }
    return blob.status();
  }
  if ((*blob)->size() != crypto::SealedSize(size)) {
    return DataLoss("the stored bytes of " + ref + " have " + std::to_string((*blob)->size()) +
                    " bytes, not the " + std::to_string(crypto::SealedSize(size)) +
                    " that its size seals to");
  }
  std::string header;
  SOV_RETURN_IF_ERROR((*blob)->ReadAt(0, crypto::kBlobHeaderBytes, header));
  if (!crypto::CheckBlobHeader(header).ok()) {
    return DataLoss("the stored bytes of " + ref + " have no valid header");
  }
  return std::unique_ptr<ArtifactReader>(new ArtifactReaderImpl(
      artifact, std::move(data_key).value(), std::move(header), std::move(blob).value(), offset,
      end));
}

Result<ArtifactRecord> Registry::AddSignature(const std::string& name, const std::string& version,
                                              const crypto::Ed25519PublicKey& key,
                                              std::string sig, std::string signer_role,
                                              std::string signer_tenant, const Actor& actor,
                                              std::vector<AuditEvent> audit) {
  const std::string ref = Ref(name, version);
  for (int attempt = 0; attempt < kMaxRevisionAttempts; ++attempt) {
    SOV_ASSIGN_OR_RETURN(ArtifactRecord artifact, Get(name, version));
    if (artifact.stage == Stage::kErased) {
      return FailedPrecondition("artifact " + ref + " is erased");
    }
    SOV_ASSIGN_OR_RETURN(crypto::DsseEnvelope envelope,
                         crypto::DsseEnvelope::FromJson(artifact.manifest));
    if (!crypto::Ed25519Verify(key, crypto::Pae(envelope.payload_type, envelope.payload), sig)) {
      return InvalidArgument("bad signature: it does not verify with key " + key.KeyId() +
                             " over the manifest of " + ref);
    }
    const std::string keyid = key.KeyId();
    if (std::any_of(artifact.signatures.begin(), artifact.signatures.end(),
                    [&](const SignatureRecord& s) { return s.keyid == keyid; })) {
      SOV_RETURN_IF_ERROR(audit_->Append(std::move(audit)).status());
      return artifact;
    }

    ArtifactRecord updated = artifact;
    envelope.signatures.push_back(crypto::DsseSignature{keyid, sig});
    updated.manifest = envelope.ToJson();
    SignatureRecord record;
    record.keyid = keyid;
    record.role = signer_role;
    record.signer = signer_role == "registry" ? "registry" : signer_tenant;
    record.sig = sig;
    record.time = Now();
    updated.signatures.push_back(record);
    updated.update_time = record.time;

    AuditEvent added = EventFrom(actor, "SIGNATURE_ADDED", "artifact.sign", artifact);
    added.body = {
        {"details", {{"keyid", keyid}, {"role", record.role}, {"signer", record.signer}}}};

    WriteBatch batch;
    batch.Add(mutation::UpdateArtifact{updated});
    batch.Add(mutation::AppendAudit{std::move(added)});
    std::vector<AuditEvent> events = audit;
    AddAudit(batch, events);
    Result<CommitResult> committed = store_->Commit(std::move(batch));
    if (committed.ok()) {
      ++updated.revision;
      return updated;
    }
    if (committed.status().code() != StatusCode::kAborted) return committed.status();
  }
  return Aborted("artifact " + ref + " kept changing; try again");
}

Result<ArtifactRecord> Registry::ChangeStage(const std::string& name, const std::string& version,
                                             const Transition& transition, const Actor& actor,
                                             std::vector<AuditEvent> audit) {
  const std::string ref = Ref(name, version);
  for (int attempt = 0; attempt < kMaxRevisionAttempts; ++attempt) {
    SOV_ASSIGN_OR_RETURN(ArtifactRecord artifact, Get(name, version));
    if (artifact.stage == transition.to) {
      SOV_RETURN_IF_ERROR(audit_->Append(std::move(audit)).status());
      return artifact;
    }
    if (!transition.from.contains(artifact.stage)) {
      std::string expected;
      for (Stage s : transition.from) {
        expected += (expected.empty() ? "" : ", ") + std::string(StageName(s));
      }
      return FailedPrecondition("wrong stage: " + ref + " is " +
                                std::string(StageName(artifact.stage)) + ", not " +
                                (expected.empty() ? "any stage allowed" : expected));
    }

    if (transition.to == Stage::kReleased) {
      if (const LineageNotice* notice = internal::RevokingNotice(artifact)) {
        return FailedPrecondition("cannot release " + ref + ": " +
                                  internal::RevokingNoticeText(*notice));
      }
    }
    internal::StageChange change = internal::MakeStageChange(artifact, transition, actor, Now());
    ArtifactRecord& updated = change.updated;

    WriteBatch batch;
    batch.Add(mutation::UpdateArtifact{updated, /*link_next_audit=*/true});
    batch.Add(mutation::AppendAudit{std::move(change.entry)});
    std::vector<AuditEvent> events = audit;
    AddAudit(batch, events);
    Result<CommitResult> committed = store_->Commit(std::move(batch));
    if (!committed.ok()) {
      if (committed.status().code() == StatusCode::kAborted) continue;
      return committed.status();
    }
    ++updated.revision;
    SetChangeAuditIndex(updated, committed->audit_indexes.front());
    return updated;
  }
  return Aborted("artifact " + ref + " kept changing; try again");
}

Result<TenantUsage> Registry::Usage(const std::string& tenant_id) {
  return store_->Usage(tenant_id);
}

}  // namespace sov::registry
