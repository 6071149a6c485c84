// Shows that SqliteMetadataStore keeps every record field, enforces each mutation's rules
// (version taken, revisions, open uploads), filters and pages artifacts, never answers from
// memory what a committed change made stale, and keeps a gapless, chained audit log whose
// stored subtree hashes and roots match the RFC 6962 tree, also under concurrent group commit,
// across a failed batch merged with good ones (audit-only ones too), and across reopening and
// the migrations from schemas 1, 2 and 3 (the pusher's retain_until: NULL on old rows); and that
// it keeps validation jobs (queue order, revision checks, filters), key revocations, tombstones
// and lineage notices.
#include "registry/sqlite_metadata_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "common/hex.h"
#include "crypto/merkle.h"
#include "registry/audit_entry.h"
#include "registry/internal/sqlite_schema.h"
#include "tests/testing/temp_dir.h"

namespace sov::registry {
namespace {

namespace merkle = crypto::merkle;
using Json = nlohmann::json;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// A stored INTEGER time (nanoseconds since the epoch) as the store reads it.
SystemTime FromNanosForTest(int64_t nanos) {
  return SystemTime(std::chrono::duration_cast<SystemTime::duration>(nanoseconds(nanos)));
}

SystemTime T(int64_t secs, int64_t nanos = 0) {
  return SystemTime(std::chrono::duration_cast<SystemTime::duration>(seconds(secs) +
                                                                     nanoseconds(nanos)));
}

ArtifactSpec Spec(const std::string& name, const std::string& version, Kind kind = Kind::kDataset) {
  ArtifactSpec s;
  s.kind = kind;
  s.name = name;
  s.version = version;
  s.owner_tenant = name.substr(0, name.find('/'));
  s.media_type = "application/octet-stream";
  s.classification = "internal";
  s.effective_classification = "internal";
  s.retention_action = "none";
  s.storage_location = "eu-de-1";
  s.storage_jurisdiction = "DE";
  s.created_by = s.owner_tenant;
  return s;
}

ArtifactRecord Artifact(const std::string& id, const std::string& name, const std::string& version,
                        Kind kind = Kind::kDataset, int64_t size = 100) {
  ArtifactRecord a;
  a.id = id;
  a.spec = Spec(name, version, kind);
  a.digest = "sha256:" + std::string(64, 'a');
  a.size_bytes = size;
  a.create_time = T(1700000000, 123456789);
  a.update_time = a.create_time;
  return a;
}

UploadRecord Upload(const std::string& id, const std::string& name, const std::string& version) {
  UploadRecord u;
  u.id = id;
  u.spec = Spec(name, version);
  u.wrapped_key = std::string("\x00\x01key-for-", 10) + id;
  u.blob_header = std::string("\x00hdr", 4);
  u.artifact_id = "art-" + id;
  u.create_time = T(1700000100, 5);
  u.update_time = T(1700000100, 5);
  u.expire_time = T(1700086500, 7);
  u.decision_rule = "push-ok";
  u.decision_policy = "sha256:" + std::string(64, 'b');
  return u;
}

AuditEvent Event(const std::string& type, const std::string& tenant = "acme",
                 const std::string& action = "artifact.push") {
  AuditEvent e;
  e.type = type;
  e.request_id = "req-" + type;
  e.principal = {{"tenantId", tenant}, {"authMethod", "token"}, {"credential", "t1"}};
  e.action = action;
  return e;
}

void ExpectSameArtifact(const ArtifactRecord& got, const ArtifactRecord& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.spec, want.spec);
  EXPECT_EQ(got.digest, want.digest);
  EXPECT_EQ(got.size_bytes, want.size_bytes);
  EXPECT_EQ(got.stage, want.stage);
  EXPECT_EQ(got.history, want.history);
  EXPECT_EQ(got.signatures, want.signatures);
  EXPECT_EQ(got.manifest, want.manifest);
  EXPECT_EQ(got.release_requested, want.release_requested);
  EXPECT_EQ(got.tombstone, want.tombstone);
  EXPECT_EQ(got.lineage_notices, want.lineage_notices);
  EXPECT_EQ(got.create_time, want.create_time);
  EXPECT_EQ(got.update_time, want.update_time);
  EXPECT_EQ(got.revision, want.revision);
}

JobRecord Job(const std::string& id, const std::string& model_version = "1.0.0") {
  JobRecord j;
  j.id = id;
  j.model_name = "acme/fraud/model";
  j.model_version = model_version;
  j.model_digest = "sha256:" + std::string(64, 'm');
  j.create_time = T(1700000200, 11);
  j.policy_digest = "sha256:" + std::string(64, 'p');
  return j;
}

std::vector<std::string> JobIds(const std::vector<JobRecord>& jobs) {
  std::vector<std::string> ids;
  for (const JobRecord& j : jobs) ids.push_back(j.id);
  return ids;
}

void ExpectSameJob(const JobRecord& got, const JobRecord& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.model_name, want.model_name);
  EXPECT_EQ(got.model_version, want.model_version);
  EXPECT_EQ(got.model_digest, want.model_digest);
  EXPECT_EQ(got.state, want.state);
  EXPECT_EQ(got.report_only, want.report_only);
  EXPECT_EQ(got.requested_backend, want.requested_backend);
  EXPECT_EQ(got.backend, want.backend);
  EXPECT_EQ(got.worker, want.worker);
  EXPECT_EQ(got.attempt, want.attempt);
  EXPECT_EQ(got.progress, want.progress);
  EXPECT_EQ(got.phase, want.phase);
  EXPECT_EQ(got.datasets, want.datasets);
  EXPECT_EQ(got.create_time, want.create_time);
  EXPECT_EQ(got.start_time, want.start_time);
  EXPECT_EQ(got.end_time, want.end_time);
  EXPECT_EQ(got.lease_expire_time, want.lease_expire_time);
  EXPECT_EQ(got.report_name, want.report_name);
  EXPECT_EQ(got.report_version, want.report_version);
  EXPECT_EQ(got.report_digest, want.report_digest);
  EXPECT_EQ(got.gate_results, want.gate_results);
  EXPECT_EQ(got.outcome_stage, want.outcome_stage);
  EXPECT_EQ(got.error, want.error);
  EXPECT_EQ(got.requested_by, want.requested_by);
  EXPECT_EQ(got.policy_digest, want.policy_digest);
  EXPECT_EQ(got.revision, want.revision);
}

std::vector<std::string> Ids(const std::vector<ArtifactRecord>& records) {
  std::vector<std::string> ids;
  for (const ArtifactRecord& r : records) ids.push_back(r.id);
  return ids;
}

class SqliteMetadataStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    store_.reset();
    auto store = SqliteMetadataStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  CommitResult MustCommit(WriteBatch batch) {
    auto result = store_->Commit(std::move(batch));
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? *result : CommitResult{};
  }

  Status CommitStatus(WriteBatch batch) { return store_->Commit(std::move(batch)).status(); }

  // Another connection inside a read transaction, which keeps the WAL from being cut until it
  // commits; null on failure.
  sqlite3* OpenReaderInTheWal() {
    sqlite3* reader = nullptr;
    if (sqlite3_open(path_.c_str(), &reader) != SQLITE_OK ||
        sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM artifacts;", nullptr, nullptr,
                     nullptr) != SQLITE_OK) {
      ADD_FAILURE() << "cannot open a reader: " << sqlite3_errmsg(reader);
      sqlite3_close(reader);
      return nullptr;
    }
    return reader;
  }

  // Reopens the store so that a commit that destroyed a key waits up to `ms` for the WAL's cut.
  void ReopenWithShredWait(int ms) {
    store_.reset();
    SqliteMetadataStore::Options options;
    options.shred_wait_ms = ms;
    auto opened = SqliteMetadataStore::Open(path_, options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
  }

  void Insert(const ArtifactRecord& a, const std::string& key = "wrapped") {
    MustCommit(WriteBatch().Add(mutation::InsertArtifact{a, key}));
  }

  // Makes `path` a database as an older build left it (this build's first `version` migrations,
  // then `rows_sql`, then user_version = version) and opens it as the store, which migrates it.
  void OpenDatabaseAtSchema(const std::string& path, size_t version, const std::string& rows_sql) {
    store_.reset();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const auto migrations = internal::SqliteMigrations();
    ASSERT_GT(migrations.size(), version);
    std::string sql;
    for (size_t v = 0; v < version; ++v) sql += std::string(migrations[v]);
    sql += rows_sql + "PRAGMA user_version = " + std::to_string(version) + ";";
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
    auto opened = SqliteMetadataStore::Open(path);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
  }

  // The first column of the first row of `query` on the database file at `path`, read through a
  // separate read-only connection; -1 (and a test failure) when there is none.
  static int QueryIntOnDisk(const std::string& path, const char* query) {
    sqlite3* db = nullptr;
    sqlite3_stmt* st = nullptr;
    int value = -1;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK &&
        sqlite3_prepare_v2(db, query, -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      value = sqlite3_column_int(st, 0);
    } else {
      ADD_FAILURE() << query << ": " << sqlite3_errmsg(db);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return value;
  }

  // The ids of the jobs ListJobs returns for `filter`, in its order.
  std::vector<std::string> ListJobIds(const JobFilter& filter) {
    auto jobs = store_->ListJobs(filter);
    EXPECT_TRUE(jobs.ok()) << jobs.status().ToString();
    return jobs.ok() ? JobIds(*jobs) : std::vector<std::string>{};
  }

  JobRecord MustFindJob(const std::string& id) {
    auto found = store_->FindJob(id);
    EXPECT_TRUE(found.ok() && found->has_value()) << id;
    return found.ok() && found->has_value() ? **found : JobRecord{};
  }

  ArtifactRecord MustFind(const std::string& name, const std::string& version) {
    auto found = store_->FindArtifact(name, version);
    EXPECT_TRUE(found.ok() && found->has_value()) << name << "@" << version;
    return found.ok() && found->has_value() ? **found : ArtifactRecord{};
  }

  // Every leaf hash, read back, with its leaf data checked against it.
  std::vector<merkle::Hash> LeafHashes() {
    auto size = store_->AuditSize();
    EXPECT_TRUE(size.ok());
    auto records = store_->ReadAudit(0, *size);
    EXPECT_TRUE(records.ok());
    std::vector<merkle::Hash> hashes;
    for (const AuditRecord& r : *records) {
      EXPECT_EQ(merkle::LeafHash(r.leaf_data), r.leaf_hash) << r.index;
      hashes.push_back(r.leaf_hash);
    }
    return hashes;
  }

  // Checks indexes 0..n-1, the previousLeafHash chain, every perfect subtree and the root.
  void ExpectConsistentLog(const LeafHash& root) {
    auto size = store_->AuditSize();
    ASSERT_TRUE(size.ok());
    auto records = store_->ReadAudit(0, *size);
    ASSERT_TRUE(records.ok());
    ASSERT_EQ(static_cast<int64_t>(records->size()), *size);
    LeafHash previous{};
    std::vector<merkle::Hash> leaves;
    for (int64_t i = 0; i < *size; ++i) {
      const AuditRecord& r = (*records)[static_cast<size_t>(i)];
      ASSERT_EQ(r.index, i);
      int64_t index = -1;
      SystemTime time;
      LeafHash chained{};
      auto event = DecodeLeafData(r.leaf_data, &index, &time, &chained);
      ASSERT_TRUE(event.ok()) << event.status().ToString();
      EXPECT_EQ(index, i);
      EXPECT_EQ(time, r.append_time);
      EXPECT_EQ(chained, previous) << "chain broken at " << i;
      EXPECT_EQ(merkle::LeafHash(r.leaf_data), r.leaf_hash);
      if (i > 0) {
        EXPECT_GE(r.append_time, (*records)[static_cast<size_t>(i - 1)].append_time);
      }
      previous = r.leaf_hash;
      leaves.push_back(r.leaf_hash);
    }
    for (int level = 0; (int64_t{1} << level) <= *size; ++level) {
      int64_t width = int64_t{1} << level;
      for (int64_t index = 0; (index + 1) * width <= *size; ++index) {
        auto node = store_->AuditNode(level, index);
        ASSERT_TRUE(node.ok()) << level << "/" << index << ": " << node.status().ToString();
        EXPECT_EQ(*node, merkle::RootFromLeaves(std::span<const merkle::Hash>(leaves).subspan(
                             static_cast<size_t>(index * width), static_cast<size_t>(width))))
            << "level " << level << " index " << index;
      }
      // The next subtree at this level is incomplete.
      EXPECT_EQ(store_->AuditNode(level, *size / width).status().code(), StatusCode::kNotFound);
    }
    EXPECT_EQ(root, merkle::RootFromLeaves(leaves));
  }

  testing::TempDir dir_;
  std::string path_ = dir_.Join("meta.db");
  std::unique_ptr<SqliteMetadataStore> store_;
};

TEST_F(SqliteMetadataStoreTest, DatabaseFileIsPrivate) {
  // The file is created 0600.
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(SqliteMetadataStoreTest, ArtifactRoundTripsEveryField) {
  // Every field of a fully populated artifact comes back equal, by name and by id.
  ArtifactRecord a = Artifact("id-full", "acme/fraud/model", "1.2.3-rc.1", Kind::kModel, 4242);
  ArtifactSpec& s = a.spec;
  s.description = "a model";
  s.classification = "personal";
  s.effective_classification = "special-category";
  s.purposes = {"fraud-detection", "research"};
  s.lawful_basis = "consent";
  s.special_category_condition = "explicit-consent";
  s.lineage = {{"acme/data/train", "1.0.0", "sha256:" + std::string(64, 'c'), "trained-on",
                Kind::kDataset},
               {"acme/data/val", "2.0.0", "sha256:" + std::string(64, 'd'), "validated-on",
                Kind::kDataset}};
  s.labels = {{"team", "risk"}, {"app.kubernetes.io/name", "fraud ü"}};
  s.retention_deadline = T(1800000000, 999);
  s.retention_action = "erase";
  s.retain_until = T(1790000000, 123);
  s.created_by = "acme";
  a.stage = Stage::kValidating;
  a.history = {{Stage::kPending, Stage::kValidating, T(1700000001, 1), "acme", "", "push",
                "r-1", "policy.yaml:3:5", 7},
               {Stage::kValidating, Stage::kValidating, T(1700000002, 2), "", "validation",
                "re-run", "", "", -1}};
  a.signatures = {{"sha256:" + std::string(64, 'e'), "registry", "registry",
                   std::string("\x00\xff sig", 6), T(1700000003, 3)},
                  {"sha256:" + std::string(64, 'f'), "publisher", "acme", std::string(64, 's'),
                   T(1700000004, 4)}};
  a.manifest = "{\"payloadType\":\"x\"}";
  a.release_requested = true;
  a.revision = 1;
  Insert(a, std::string("\x00wrapped\xff", 9));

  ExpectSameArtifact(MustFind("acme/fraud/model", "1.2.3-rc.1"), a);
  auto by_id = store_->FindArtifactById("id-full");
  ASSERT_TRUE(by_id.ok() && by_id->has_value());
  ExpectSameArtifact(**by_id, a);
  auto key = store_->WrappedDataKey("id-full");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, std::string("\x00wrapped\xff", 9));

  // Absent ones are nullopt / NOT_FOUND.
  EXPECT_FALSE(store_->FindArtifact("acme/fraud/model", "9.9.9")->has_value());
  EXPECT_FALSE(store_->FindArtifactById("nope")->has_value());
  EXPECT_EQ(store_->WrappedDataKey("nope").status().code(), StatusCode::kNotFound);

  // The pusher's retain_until comes back to the nanosecond, apart from the stored deadline.
  EXPECT_EQ(MustFind("acme/fraud/model", "1.2.3-rc.1").spec.retain_until, T(1790000000, 123));

  // No retention deadline and no retain_until stay nullopt.
  ArtifactRecord plain = Artifact("id-plain", "acme/plain", "1.0.0");
  Insert(plain);
  EXPECT_FALSE(MustFind("acme/plain", "1.0.0").spec.retention_deadline.has_value());
  EXPECT_FALSE(MustFind("acme/plain", "1.0.0").spec.retain_until.has_value());
}

TEST_F(SqliteMetadataStoreTest, UploadRoundTripsEveryField) {
  // Every field of an upload comes back equal; FindOpenUpload and ListOpenUploads see it.
  UploadRecord u = Upload("up-1", "acme/data/set", "1.0.0");
  u.spec.labels = {{"k", "v"}};
  u.spec.purposes = {"p"};
  u.spec.lineage = {{"acme/x", "0.1.0", "sha256:00", "derived-from", Kind::kReport}};
  u.spec.retention_deadline = T(1900000000, 1);
  u.spec.retain_until = T(1890000000, 7);  // kept in the upload's spec JSON until commit
  u.declared_size = 1 << 20;
  u.expected_digest = "sha256:" + std::string(64, '1');
  u.committed_offset = 0;
  MustCommit(WriteBatch().Add(mutation::CreateUpload{u}));

  auto found = store_->FindUpload("up-1");
  ASSERT_TRUE(found.ok() && found->has_value());
  const UploadRecord& got = **found;
  EXPECT_EQ(got.id, u.id);
  EXPECT_EQ(got.spec, u.spec);
  EXPECT_EQ(got.declared_size, u.declared_size);
  EXPECT_EQ(got.expected_digest, u.expected_digest);
  EXPECT_EQ(got.committed_offset, u.committed_offset);
  EXPECT_EQ(got.state, u.state);
  EXPECT_EQ(got.wrapped_key, u.wrapped_key);
  EXPECT_EQ(got.blob_header, u.blob_header);
  EXPECT_EQ(got.artifact_id, u.artifact_id);
  EXPECT_EQ(got.abort_reason, u.abort_reason);
  EXPECT_EQ(got.create_time, u.create_time);
  EXPECT_EQ(got.update_time, u.update_time);
  EXPECT_EQ(got.expire_time, u.expire_time);
  EXPECT_EQ(got.decision_rule, u.decision_rule);
  EXPECT_EQ(got.decision_policy, u.decision_policy);
  EXPECT_EQ(got.revision, u.revision);

  auto open = store_->FindOpenUpload("acme/data/set", "1.0.0");
  ASSERT_TRUE(open.ok() && open->has_value());
  EXPECT_EQ((*open)->id, "up-1");
  EXPECT_EQ(store_->ListOpenUploads()->size(), 1u);
  EXPECT_FALSE(store_->FindUpload("nope")->has_value());
}

TEST_F(SqliteMetadataStoreTest, UploadLifecycleAndErrors) {
  // Update with the right revision bumps it; stale revisions are ABORTED; commit moves the key;
  // committed uploads cannot change or commit again.
  UploadRecord u = Upload("up-2", "acme/m", "1.0.0");
  MustCommit(WriteBatch().Add(mutation::CreateUpload{u}));

  // Taken while open: by another upload, and by an artifact insert.
  EXPECT_EQ(CommitStatus(WriteBatch().Add(mutation::CreateUpload{Upload("up-3", "acme/m", "1.0.0")})),
            AlreadyExists("version taken"));
  EXPECT_EQ(CommitStatus(WriteBatch().Add(mutation::InsertArtifact{Artifact("x", "acme/m", "1.0.0"), "k"})),
            AlreadyExists("version taken"));
  EXPECT_EQ(CommitStatus(WriteBatch().Add(mutation::CreateUpload{Upload("up-2", "acme/m", "2.0.0")})).code(),
            StatusCode::kAlreadyExists);

  u.committed_offset = 1 << 20;
  u.update_time = T(1700000200);
  MustCommit(WriteBatch().Add(mutation::UpdateUpload{u}));
  auto stored = store_->FindUpload("up-2");
  EXPECT_EQ((*stored)->revision, 2);
  EXPECT_EQ((*stored)->committed_offset, 1 << 20);
  EXPECT_EQ((*stored)->update_time, T(1700000200));

  Status stale = CommitStatus(WriteBatch().Add(mutation::UpdateUpload{u}));  // revision 1
  EXPECT_EQ(stale.code(), StatusCode::kAborted) << stale.ToString();
  UploadRecord missing = Upload("nope", "acme/m", "1.0.0");
  EXPECT_EQ(CommitStatus(WriteBatch().Add(mutation::UpdateUpload{missing})).code(),
            StatusCode::kNotFound);
  u.revision = 2;
  u.state = UploadState::kCommitted;
  EXPECT_EQ(CommitStatus(WriteBatch().Add(mutation::UpdateUpload{u})).code(),
            StatusCode::kInvalidArgument);
  u.state = UploadState::kOpen;

  // Commit: wrong name is refused; then the real one.
  ArtifactRecord wrong = Artifact("art-up-2", "acme/other", "1.0.0");
  EXPECT_EQ(CommitStatus(WriteBatch().Add(mutation::CommitUpload{"up-2", wrong, "k"})).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CommitStatus(WriteBatch().Add(mutation::CommitUpload{"nope", wrong, "k"})).code(),
            StatusCode::kNotFound);
  ArtifactRecord a = Artifact("art-up-2", "acme/m", "1.0.0");
  MustCommit(WriteBatch().Add(mutation::CommitUpload{"up-2", a, "data-key"}));
  ExpectSameArtifact(MustFind("acme/m", "1.0.0"), a);
  EXPECT_EQ(*store_->WrappedDataKey("art-up-2"), "data-key");
  stored = store_->FindUpload("up-2");
  EXPECT_EQ((*stored)->state, UploadState::kCommitted);
  EXPECT_EQ((*stored)->artifact_id, "art-up-2");
  EXPECT_EQ((*stored)->revision, 3);
  EXPECT_TRUE((*stored)->wrapped_key.empty()) << "a committed upload keeps no key copy";
  EXPECT_FALSE(store_->FindOpenUpload("acme/m", "1.0.0")->has_value());
  EXPECT_TRUE(store_->ListOpenUploads()->empty());

  // Not open any more.
  EXPECT_EQ(CommitStatus(WriteBatch().Add(mutation::CommitUpload{"up-2", a, "k"})).code(),
            StatusCode::kFailedPrecondition);
  u.revision = 3;
  EXPECT_EQ(CommitStatus(WriteBatch().Add(mutation::UpdateUpload{u})).code(),
            StatusCode::kFailedPrecondition);
  // The version stays taken, for uploads and inserts.
  EXPECT_EQ(CommitStatus(WriteBatch().Add(mutation::CreateUpload{Upload("up-4", "acme/m", "1.0.0")})),
            AlreadyExists("version taken"));

  // An upload whose version got taken by an insert cannot commit.
  MustCommit(WriteBatch().Add(mutation::CreateUpload{Upload("up-5", "acme/m", "5.0.0")}));
  UploadRecord aborted = *store_->FindUpload("up-5").value();
  aborted.state = UploadState::kAborted;
  aborted.abort_reason = "cancelled";
  MustCommit(WriteBatch().Add(mutation::UpdateUpload{aborted}));
  stored = store_->FindUpload("up-5");
  EXPECT_EQ((*stored)->state, UploadState::kAborted);
  EXPECT_EQ((*stored)->abort_reason, "cancelled");
  EXPECT_TRUE((*stored)->wrapped_key.empty()) << "an aborted upload keeps no key";
  // An aborted upload frees its version.
  MustCommit(WriteBatch().Add(mutation::CreateUpload{Upload("up-6", "acme/m", "5.0.0")}));
  Insert(Artifact("art-7", "acme/m", "7.0.0"));
  MustCommit(WriteBatch().Add(mutation::CreateUpload{Upload("up-7", "acme/m", "7.0.1")}));
  EXPECT_EQ(CommitStatus(WriteBatch().Add(
                mutation::CommitUpload{"up-7", Artifact("art-7", "acme/m", "7.0.1"), "k"})).code(),
            StatusCode::kAlreadyExists)
      << "artifact id taken";
}

TEST_F(SqliteMetadataStoreTest, ArtifactUpdatesAndRevisions) {
  // UpdateArtifact replaces the mutable fields and bumps the revision; a stale one is ABORTED
  // and changes nothing; an unknown id is NOT_FOUND.
  ArtifactRecord a = Artifact("a1", "acme/d", "1.0.0");
  Insert(a);
  EXPECT_EQ(CommitStatus(WriteBatch().Add(mutation::InsertArtifact{a, "k"})),
            AlreadyExists("version taken"));

  ArtifactRecord changed = a;
  changed.stage = Stage::kReleased;
  changed.history.push_back({Stage::kPending, Stage::kReleased, T(1700001000), "acme", "", "ok",
                             "rel", "p.yaml:1:1", 3});
  changed.signatures.push_back({"sha256:k", "publisher", "acme", "sig", T(1700001000)});
  changed.manifest = "{}";
  changed.release_requested = true;
  changed.update_time = T(1700001000, 1);
  // Immutable fields are not touched by an update.
  changed.spec.description = "ignored";
  MustCommit(WriteBatch().Add(mutation::UpdateArtifact{changed}));
  ArtifactRecord stored = MustFind("acme/d", "1.0.0");
  EXPECT_EQ(stored.revision, 2);
  EXPECT_EQ(stored.stage, Stage::kReleased);
  EXPECT_EQ(stored.history, changed.history);
  EXPECT_EQ(stored.signatures, changed.signatures);
  EXPECT_EQ(stored.manifest, "{}");
  EXPECT_TRUE(stored.release_requested);
  EXPECT_EQ(stored.update_time, changed.update_time);
  EXPECT_EQ(stored.spec.description, "");

  // The same revision again is stale now.
  changed.stage = Stage::kRevoked;
  Status stale = CommitStatus(WriteBatch().Add(mutation::UpdateArtifact{changed}));
  EXPECT_EQ(stale.code(), StatusCode::kAborted) << stale.ToString();
  EXPECT_EQ(MustFind("acme/d", "1.0.0").stage, Stage::kReleased);

  // Signatures shrink too when replaced.
  stored.signatures.clear();
  MustCommit(WriteBatch().Add(mutation::UpdateArtifact{stored}));
  EXPECT_TRUE(MustFind("acme/d", "1.0.0").signatures.empty());
  EXPECT_EQ(MustFind("acme/d", "1.0.0").revision, 3);

  ArtifactRecord unknown = Artifact("zz", "acme/d", "9.0.0");
  EXPECT_EQ(CommitStatus(WriteBatch().Add(mutation::UpdateArtifact{unknown})).code(),
            StatusCode::kNotFound);
}

TEST_F(SqliteMetadataStoreTest, ArtifactUpdatesStoreHistoryAndSignaturesExactly) {
  // The store rewrites an artifact's history and signatures only from the first entry that
  // changed; whatever the change (appended, altered in the middle, shortened, emptied, none),
  // what is read back is exactly what was written.
  ArtifactRecord a = Artifact("a1", "acme/h", "1.0.0");
  Insert(a);
  auto event = [](int i, const std::string& reason) {
    return StageEvent{Stage::kPending, Stage::kValidating, T(1700001000 + i), "acme", "",
                      reason, "r" + std::to_string(i), "p.yaml:1:" + std::to_string(i), i};
  };
  auto signature = [](const std::string& keyid, const std::string& sig) {
    return SignatureRecord{"sha256:" + keyid, "publisher", "acme", sig, T(1700002000)};
  };
  auto update = [&](const std::function<void(ArtifactRecord&)>& change) {
    ArtifactRecord next = MustFind("acme/h", "1.0.0");
    change(next);
    MustCommit(WriteBatch().Add(mutation::UpdateArtifact{next}));
    ArtifactRecord got = MustFind("acme/h", "1.0.0");
    EXPECT_EQ(got.history, next.history);
    EXPECT_EQ(got.signatures, next.signatures);
    EXPECT_EQ(got.revision, next.revision + 1);
  };
  update([&](ArtifactRecord& r) {
    r.history = {event(0, "a"), event(1, "b"), event(2, "c")};
    r.signatures = {signature("k1", "s1"), signature("k2", "s2")};
  });
  update([&](ArtifactRecord& r) { r.history.push_back(event(3, "d")); });
  update([&](ArtifactRecord& r) {
    r.history[1].reason = "b, amended";
    r.history.pop_back();
    r.signatures[0].sig = "s1, re-signed";
  });
  update([&](ArtifactRecord& r) { r.signatures.push_back(signature("k3", "s3")); });
  update([&](ArtifactRecord& r) { r.history.erase(r.history.begin()); });
  update([](ArtifactRecord&) {});
  update([](ArtifactRecord& r) {
    r.history.clear();
    r.signatures.clear();
  });
  update([&](ArtifactRecord& r) { r.history = {event(9, "again")}; });
}

TEST_F(SqliteMetadataStoreTest, FindArtifactSeesEveryCommittedChange) {
  // FindArtifact's answers are kept in memory, but never outlive a change: after each update
  // commits, the updater and concurrent readers see it (readers never go back in revisions),
  // while audit appends leave the kept answer in place.
  Insert(Artifact("a1", "acme/c", "1.0.0"));
  EXPECT_EQ(MustFind("acme/c", "1.0.0").revision, 1);
  MustCommit(WriteBatch().Add(mutation::AppendAudit{Event("DECISION")}));
  EXPECT_EQ(MustFind("acme/c", "1.0.0").revision, 1);

  std::atomic<bool> done{false};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      int64_t last = 0;
      while (!done.load()) {
        ArtifactRecord r = MustFind("acme/c", "1.0.0");
        EXPECT_GE(r.revision, last);
        last = r.revision;
      }
    });
  }
  for (int i = 0; i < 50; ++i) {
    ArtifactRecord current = MustFind("acme/c", "1.0.0");
    ASSERT_EQ(current.revision, i + 1);
    current.release_requested = i % 2 == 0;
    MustCommit(WriteBatch()
                   .Add(mutation::UpdateArtifact{current})
                   .Add(mutation::AppendAudit{Event("STAGE_CHANGE")}));
  }
  done = true;
  for (auto& th : readers) th.join();
  EXPECT_EQ(MustFind("acme/c", "1.0.0").revision, 51);
}

TEST_F(SqliteMetadataStoreTest, BatchIsAllOrNothing) {
  // A batch whose last mutation fails leaves nothing of its earlier ones, audit included.
  Insert(Artifact("a1", "acme/d", "1.0.0"));
  auto size = store_->AuditSize();
  WriteBatch batch;
  batch.Add(mutation::InsertArtifact{Artifact("a2", "acme/d", "2.0.0"), "k"});
  batch.Add(mutation::AppendAudit{Event("ARTIFACT_CREATED")});
  batch.Add(mutation::InsertArtifact{Artifact("a3", "acme/d", "1.0.0"), "k"});  // taken
  EXPECT_EQ(CommitStatus(std::move(batch)), AlreadyExists("version taken"));
  EXPECT_FALSE(store_->FindArtifact("acme/d", "2.0.0")->has_value());
  EXPECT_EQ(*store_->AuditSize(), *size);
  EXPECT_EQ(store_->WrappedDataKey("a2").status().code(), StatusCode::kNotFound);
}

TEST_F(SqliteMetadataStoreTest, LinkedUpdateTakesTheNextAuditEntrysIndex) {
  // With link_next_audit the change's new history event and tombstone point at the AppendAudit
  // that follows them in the batch, committed with it; events and tombstones that already have
  // an index keep it. Without an AppendAudit after it the batch is refused, whole.
  Insert(Artifact("a1", "acme/d", "1.0.0"));
  Insert(Artifact("a2", "acme/d", "2.0.0"));
  MustCommit(WriteBatch()
                 .Add(mutation::AppendAudit{Event("DECISION")})
                 .Add(mutation::AppendAudit{Event("DECISION")}));
  const int64_t size = *store_->AuditSize();

  ArtifactRecord released = MustFind("acme/d", "1.0.0");
  released.stage = Stage::kReleased;
  released.history.push_back({Stage::kPending, Stage::kReleased, T(1700001000), "acme", "", "ok",
                              "rel", "p.yaml:1:1", 0});
  released.history.push_back({Stage::kReleased, Stage::kReleased, T(1700001001), "acme", "",
                              "again", "", "", -1});
  ArtifactRecord erased = MustFind("acme/d", "2.0.0");
  erased.stage = Stage::kErased;
  erased.history.push_back({Stage::kPending, Stage::kErased, T(1700001002), "", "retention",
                            "deadline", "", "", -1});
  erased.tombstone = Tombstone{T(1700001002), "", nullptr, "retention", "deadline", "", -1};
  Result<CommitResult> committed = store_->Commit(
      WriteBatch()
          .Add(mutation::AppendAudit{Event("DECISION")})
          .Add(mutation::UpdateArtifact{released, /*link_next_audit=*/true})
          .Add(mutation::DeleteDataKey{"a2"})
          .Add(mutation::UpdateArtifact{erased, /*link_next_audit=*/true})
          .Add(mutation::AppendAudit{Event("ERASURE")})
          .Add(mutation::AppendAudit{Event("DECISION")}));
  ASSERT_TRUE(committed.ok()) << committed.status().ToString();
  ASSERT_EQ(committed->audit_indexes,
            (std::vector<int64_t>{size, size + 1, size + 2}));

  ArtifactRecord got = MustFind("acme/d", "1.0.0");
  EXPECT_EQ(got.revision, 2);
  ASSERT_EQ(got.history.size(), 2u);
  EXPECT_EQ(got.history[0].audit_index, 0);  // had one already
  EXPECT_EQ(got.history[1].audit_index, size + 1);
  got = MustFind("acme/d", "2.0.0");
  ASSERT_EQ(got.history.size(), 1u);
  EXPECT_EQ(got.history[0].audit_index, size + 1);
  ASSERT_TRUE(got.tombstone.has_value());
  EXPECT_EQ(got.tombstone->audit_index, size + 1);
  SetChangeAuditIndex(erased, size + 1);
  erased.revision = 2;
  ExpectSameArtifact(got, erased);

  // Linked with no append after it: refused, and the earlier append goes with it.
  ArtifactRecord again = MustFind("acme/d", "1.0.0");
  again.stage = Stage::kRevoked;
  again.history.push_back({Stage::kReleased, Stage::kRevoked, T(1700001003), "acme", "", "bad",
                           "", "", -1});
  Status refused = CommitStatus(WriteBatch()
                                    .Add(mutation::AppendAudit{Event("STAGE_CHANGE")})
                                    .Add(mutation::UpdateArtifact{again, true}));
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument) << refused.ToString();
  EXPECT_NE(refused.message().find("acme/d@1.0.0"), std::string::npos) << refused.ToString();
  EXPECT_EQ(MustFind("acme/d", "1.0.0").stage, Stage::kReleased);
  EXPECT_EQ(*store_->AuditSize(), size + 3);
}

TEST_F(SqliteMetadataStoreTest, DataKeyDeletion) {
  // Deleting a data key makes it NOT_FOUND, keeps the artifact, and is idempotent.
  Insert(Artifact("a1", "acme/d", "1.0.0"), "secret-key");
  const int64_t wal_bytes = store_->group_commit_stats().shred_checkpoint_wal_bytes;
  MustCommit(WriteBatch().Add(mutation::DeleteDataKey{"a1"}));
  EXPECT_EQ(store_->WrappedDataKey("a1").status().code(), StatusCode::kNotFound);
  // Its checkpoint copied what the WAL held: the insert's pages and the deletion's, each a
  // 4,096-byte page and its frame header.
  const int64_t checkpointed = store_->group_commit_stats().shred_checkpoint_wal_bytes;
  EXPECT_GE(checkpointed - wal_bytes, 2 * (4096 + 24));
  MustCommit(WriteBatch().Add(mutation::DeleteDataKey{"a1"}));
  MustCommit(WriteBatch().Add(mutation::DeleteDataKey{"never-existed"}));
  EXPECT_TRUE(store_->FindArtifactById("a1")->has_value());
  // Deleting no key destroys nothing: no shredding checkpoint, nothing counted.
  EXPECT_EQ(store_->group_commit_stats().shred_checkpoint_wal_bytes, checkpointed);
  // secure_delete and the WAL checkpoint leave no copy of the key bytes in the files, while
  // the store is open and after it closed.
  for (int open = 1; open >= 0; --open) {
    if (open == 0) store_.reset();
    for (const std::string& file : {path_, path_ + "-wal"}) {
      std::string bytes = testing::ReadTextFile(file);
      EXPECT_EQ(bytes.find("secret-key"), std::string::npos) << file << " open=" << open;
    }
  }
}

TEST_F(SqliteMetadataStoreTest, ShreddingCheckpointHeldUpByAReaderIsRetried) {
  // A reader holding an older snapshot keeps the destroyed key's page in the WAL past the
  // group's wait; once it ends, the idle writer's retry truncates the WAL without another write.
  Insert(Artifact("a1", "acme/d", "1.0.0"), "held-secret-key");
  auto contains_key = [&](const std::string& file) {
    return testing::ReadTextFile(file).find("held-secret-key") != std::string::npos;
  };
  ASSERT_TRUE(contains_key(path_ + "-wal"));  // the insert's frames, not yet checkpointed

  sqlite3* reader = OpenReaderInTheWal();
  ASSERT_NE(reader, nullptr);
  const int64_t wal_bytes_before = store_->group_commit_stats().shred_checkpoint_wal_bytes;
  MustCommit(WriteBatch().Add(mutation::DeleteDataKey{"a1"}));
  SqliteMetadataStore::GroupCommitStats stats = store_->group_commit_stats();
  EXPECT_EQ(stats.shred_checkpoints_deferred, 1);
  EXPECT_TRUE(stats.shred_checkpoint_pending);
  EXPECT_TRUE(contains_key(path_ + "-wal"));  // what the reader's snapshot still needs
  const auto held_wal_bytes = static_cast<int64_t>(std::filesystem::file_size(path_ + "-wal"));

  ASSERT_EQ(sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(reader);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (store_->group_commit_stats().shred_checkpoint_pending &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(store_->group_commit_stats().shred_checkpoint_pending);
  EXPECT_FALSE(contains_key(path_ + "-wal"));
  EXPECT_FALSE(contains_key(path_));
  EXPECT_EQ(store_->group_commit_stats().shred_checkpoints_deferred, 1);
  // The WAL is counted once, by the try that cut it, however often the held-up one was tried.
  EXPECT_EQ(store_->group_commit_stats().shred_checkpoint_wal_bytes - wal_bytes_before,
            held_wal_bytes);
}

TEST_F(SqliteMetadataStoreTest, AHeldUpShreddingCheckpointHoldsOnlyTheCommitThatDestroyedAKey) {
  // While a reader keeps the WAL from being cut, the commit that destroyed a key waits for the
  // cut (here as long as the reader reads: its wait is a minute), and a commit that destroyed
  // none returns without waiting for it.
  ASSERT_NO_FATAL_FAILURE(ReopenWithShredWait(60'000));
  Insert(Artifact("a1", "acme/d", "1.0.0"), "waiting-secret-key");
  auto contains_key = [&](const std::string& file) {
    return testing::ReadTextFile(file).find("waiting-secret-key") != std::string::npos;
  };

  sqlite3* reader = OpenReaderInTheWal();
  ASSERT_NE(reader, nullptr);
  const int64_t groups = store_->group_commit_stats().groups;
  std::atomic<bool> erased{false};
  std::thread eraser([&] {
    MustCommit(WriteBatch().Add(mutation::DeleteDataKey{"a1"}));
    erased = true;
  });
  // The deletion commits; the cut is held up.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((store_->group_commit_stats().groups == groups ||
          !store_->group_commit_stats().shred_checkpoint_pending) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(store_->group_commit_stats().shred_checkpoint_pending);
  EXPECT_EQ(store_->WrappedDataKey("a1").status().code(), StatusCode::kNotFound);

  // An audit entry, committed meanwhile, returns while the deletion still waits.
  MustCommit(WriteBatch().Add(mutation::AppendAudit{Event("DECISION")}));
  EXPECT_FALSE(erased.load());
  EXPECT_TRUE(store_->group_commit_stats().shred_checkpoint_pending);
  EXPECT_TRUE(contains_key(path_ + "-wal"));

  // Once the reader ends, the writer's next try cuts the WAL and the deletion returns.
  ASSERT_EQ(sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(reader);
  eraser.join();
  EXPECT_TRUE(erased.load());
  EXPECT_FALSE(store_->group_commit_stats().shred_checkpoint_pending);
  EXPECT_EQ(store_->group_commit_stats().shred_checkpoints_deferred, 0);
  EXPECT_FALSE(contains_key(path_ + "-wal"));
  EXPECT_FALSE(contains_key(path_));
}

TEST_F(SqliteMetadataStoreTest, KeyDeletionsBesideOtherWritesAndReadersAllReturnCut) {
  // Threads destroying keys and threads appending audit entries commit side by side while
  // another connection keeps opening read transactions, which hold up some of the cuts: every
  // commit returns, and once the reads stop no destroyed key is left in the files.
  constexpr int kKeys = 48;
  for (int i = 0; i < kKeys; ++i) {
    Insert(Artifact("k" + std::to_string(i), "acme/k" + std::to_string(i), "1.0.0"),
           "stress-secret-" + std::to_string(1000 + i));
  }
  std::atomic<bool> reading{true};
  std::thread reads([&] {
    sqlite3* reader = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &reader), SQLITE_OK);
    while (reading.load()) {
      EXPECT_EQ(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM artifacts;", nullptr,
                             nullptr, nullptr),
                SQLITE_OK);
      std::this_thread::sleep_for(std::chrono::microseconds(300));
      EXPECT_EQ(sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
    }
    sqlite3_close(reader);
  });
  std::vector<std::thread> writers;
  std::atomic<int> failed{0};
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = t; i < kKeys; i += 4) {
        if (!store_->Commit(WriteBatch().Add(mutation::DeleteDataKey{"k" + std::to_string(i)}))
                 .ok()) {
          ++failed;
        }
      }
    });
    writers.emplace_back([&] {
      for (int i = 0; i < kKeys / 4; ++i) {
        if (!store_->Commit(WriteBatch().Add(mutation::AppendAudit{Event("DECISION")})).ok()) {
          ++failed;
        }
      }
    });
  }
  for (std::thread& w : writers) w.join();
  reading = false;
  reads.join();
  EXPECT_EQ(failed.load(), 0);
  for (int i = 0; i < kKeys; ++i) {
    EXPECT_EQ(store_->WrappedDataKey("k" + std::to_string(i)).status().code(),
              StatusCode::kNotFound);
  }
  // The last cut may still be due: the idle writer retries it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (store_->group_commit_stats().shred_checkpoint_pending &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(store_->group_commit_stats().shred_checkpoint_pending);
  for (const std::string& file : {path_, path_ + "-wal"}) {
    EXPECT_EQ(testing::ReadTextFile(file).find("stress-secret-"), std::string::npos) << file;
  }
}

// Two key deletions, the second queued while the writer waits for a lock that another
// connection holds on the first one's group; returns the WAL cuts the two groups needed, or -1
// when the writer had not taken the first deletion alone yet when the second arrived (both then
// form one group). Each deletion's completion checks that its key is out of the files, unless
// it did not await its shredding, in which case AwaitShredding does so afterwards.
int64_t CutsForTwoQueuedDeletions(SqliteMetadataStore& store, const std::string& path,
                                  const std::string& tag, bool first_awaits,
                                  std::vector<std::string>& failures) {
  auto in_files = [&](const std::string& secret) {
    return testing::ReadTextFile(path).find(secret) != std::string::npos ||
           testing::ReadTextFile(path + "-wal").find(secret) != std::string::npos;
  };
  const SqliteMetadataStore::GroupCommitStats before = store.group_commit_stats();
  sqlite3* blocker = nullptr;
  if (sqlite3_open(path.c_str(), &blocker) != SQLITE_OK ||
      sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
    failures.push_back("cannot lock the database: " + std::string(sqlite3_errmsg(blocker)));
    sqlite3_close(blocker);
    return -1;
  }
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  auto delete_key = [&](const std::string& id, bool await) {
    WriteBatch batch;
    batch.await_shredding = await;
    batch.Add(mutation::DeleteDataKey{id});
    store.CommitAsync(std::move(batch), [&, id, await](Result<CommitResult> result) {
      std::string failure;
      if (!result.ok()) failure = id + ": " + result.status().ToString();
      if (await && in_files("queued-secret-" + id)) failure = id + ": key still in the files";
      std::lock_guard<std::mutex> lock(mu);
      if (!failure.empty()) failures.push_back(failure);
      ++done;
      cv.notify_all();
    });
  };
  delete_key("qa" + tag, first_awaits);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the writer takes it, waits
  delete_key("qb" + tag, false);
  sqlite3_exec(blocker, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(blocker);
  {
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(30), [&] { return done == 2; })) {
      failures.push_back("the deletions did not complete");
      return -1;
    }
  }
  store.AwaitShredding();
  for (const std::string& id : {"qa" + tag, "qb" + tag}) {
    if (in_files("queued-secret-" + id)) failures.push_back(id + ": key still in the files");
  }
  const SqliteMetadataStore::GroupCommitStats after = store.group_commit_stats();
  if (after.shred_key_groups - before.shred_key_groups != 2) return -1;
  return after.shred_cuts - before.shred_cuts;
}

TEST_F(SqliteMetadataStoreTest, KeyDeletionsQueuedBehindEachOtherShareOneCut) {
  // A key-destroying group that no committer awaits puts its WAL cut off while the next group is
  // already queued, so that one cut serves both. A group whose committer awaits the cut (a
  // tenant's Erase) is cut at once, whatever is queued behind it.
  ASSERT_NO_FATAL_FAILURE(ReopenWithShredWait(60'000));
  for (bool first_awaits : {false, true}) {
    SCOPED_TRACE(first_awaits ? "the first deletion awaits its cut" : "neither awaits its cut");
    int64_t cuts = -1;
    for (int attempt = 0; attempt < 5 && cuts < 0; ++attempt) {
      const std::string tag = std::to_string(first_awaits) + "-" + std::to_string(attempt);
      Insert(Artifact("qa" + tag, "acme/qa" + tag, "1.0.0"), "queued-secret-qa" + tag);
      Insert(Artifact("qb" + tag, "acme/qb" + tag, "1.0.0"), "queued-secret-qb" + tag);
      std::vector<std::string> failures;
      cuts = CutsForTwoQueuedDeletions(*store_, path_, tag, first_awaits, failures);
      ASSERT_TRUE(failures.empty()) << failures.front();
    }
    ASSERT_GE(cuts, 0) << "the writer never took the first deletion alone";
    EXPECT_EQ(cuts, first_awaits ? 2 : 1);
    EXPECT_FALSE(store_->group_commit_stats().shred_checkpoint_pending);
  }
}

TEST_F(SqliteMetadataStoreTest, EveryKeyDeletionReturnsAfterItsKeyLeftTheFiles) {
  // Many threads destroying keys at once: groups queue behind each other, and cuts are put off
  // while they do. Each deletion, as it returns, finds its key in neither the database nor the
  // WAL.
  // A deletion returns by its cut, never by its deadline.
  ASSERT_NO_FATAL_FAILURE(ReopenWithShredWait(60'000));
  constexpr int kThreads = 8;
  constexpr int kKeysPerThread = 6;
  auto secret = [](int i) { return "returning-secret-" + std::to_string(1000 + i); };
  for (int i = 0; i < kThreads * kKeysPerThread; ++i) {
    Insert(Artifact("r" + std::to_string(i), "acme/r" + std::to_string(i), "1.0.0"), secret(i));
  }
  const SqliteMetadataStore::GroupCommitStats before = store_->group_commit_stats();
  std::atomic<int> failed{0};
  std::atomic<int> lingering{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kThreads * kKeysPerThread; i += kThreads) {
        if (!store_->Commit(WriteBatch().Add(mutation::DeleteDataKey{"r" + std::to_string(i)}))
                 .ok()) {
          ++failed;
        }
        for (const std::string& file : {path_, path_ + "-wal"}) {
          if (testing::ReadTextFile(file).find(secret(i)) != std::string::npos) ++lingering;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(lingering.load(), 0);
  const SqliteMetadataStore::GroupCommitStats after = store_->group_commit_stats();
  EXPECT_GE(after.shred_key_groups - before.shred_key_groups, 1);
  EXPECT_LE(after.shred_cuts - before.shred_cuts, after.shred_key_groups - before.shred_key_groups);
  EXPECT_FALSE(after.shred_checkpoint_pending);
}

TEST_F(SqliteMetadataStoreTest, ACommitThatDoesNotAwaitShreddingReturnsAndAwaitShreddingWaits) {
  // With await_shredding off, a key-destroying commit returns while a reader holds up the WAL's
  // cut; AwaitShredding returns only once the cut has been made.
  ASSERT_NO_FATAL_FAILURE(ReopenWithShredWait(60'000));
  store_->AwaitShredding();  // nothing destroyed yet: returns at once
  Insert(Artifact("a1", "acme/d", "1.0.0"), "unawaited-secret-key");
  sqlite3* reader = OpenReaderInTheWal();
  ASSERT_NE(reader, nullptr);
  WriteBatch batch;
  batch.await_shredding = false;
  batch.Add(mutation::DeleteDataKey{"a1"});
  MustCommit(std::move(batch));
  EXPECT_TRUE(store_->group_commit_stats().shred_checkpoint_pending);
  EXPECT_NE(testing::ReadTextFile(path_ + "-wal").find("unawaited-secret-key"), std::string::npos);

  std::atomic<bool> awaited{false};
  std::thread waiter([&] {
    store_->AwaitShredding();
    awaited = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(awaited.load());
  ASSERT_EQ(sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(reader);
  waiter.join();
  EXPECT_TRUE(awaited.load());
  EXPECT_FALSE(store_->group_commit_stats().shred_checkpoint_pending);
  for (const std::string& file : {path_, path_ + "-wal"}) {
    EXPECT_EQ(testing::ReadTextFile(file).find("unawaited-secret-key"), std::string::npos) << file;
  }
}

TEST_F(SqliteMetadataStoreTest, OpenCutsTheWalACrashLeft) {
  // Deleted bytes that another connection left in the WAL (as a crash between a key's deletion
  // and its checkpoint would) are gone once the store has opened.
  store_.reset();
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other,
                         "PRAGMA wal_autocheckpoint = 0; CREATE TABLE scratch (v BLOB); "
                         "INSERT INTO scratch VALUES ('left-over-secret'); DELETE FROM scratch;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  ASSERT_NE(testing::ReadTextFile(path_ + "-wal").find("left-over-secret"), std::string::npos);
  auto reopened = SqliteMetadataStore::Open(path_);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_FALSE((*reopened)->group_commit_stats().shred_checkpoint_pending);
  EXPECT_EQ(testing::ReadTextFile(path_ + "-wal").find("left-over-secret"), std::string::npos);
  sqlite3_close(other);
}

TEST_F(SqliteMetadataStoreTest, ListArtifactsFiltersAndPages) {
  // Each filter selects what it says; results are ordered by name, then push order; a page
  // includes all versions of its last name.
  auto add = [&](const std::string& id, const std::string& name, const std::string& version,
                 Kind kind, Stage stage, std::map<std::string, std::string> labels) {
    ArtifactRecord a = Artifact(id, name, version, kind);
    a.stage = stage;
    a.spec.labels = std::move(labels);
    Insert(a);
  };
  add("1", "acme/a", "2.0.0", Kind::kDataset, Stage::kReleased, {{"team", "x"}});
  add("2", "acme/a", "1.0.0", Kind::kDataset, Stage::kPending, {{"team", "y"}});
  add("3", "acme/b", "1.0.0", Kind::kModel, Stage::kReleased, {{"team", "x"}, {"tier", "1"}});
  add("4", "acme/b/c", "1.0.0", Kind::kModel, Stage::kErased, {});
  add("5", "beta/a", "1.0.0", Kind::kReport, Stage::kReleased, {{"team", "x"}});
  add("6", "acme/a", "3.0.0", Kind::kDataset, Stage::kRejected, {});
  add("7", "acme/b", "2.0.0", Kind::kModel, Stage::kValidating, {});
  add("8", "acme/c", "1.0.0", Kind::kDataset, Stage::kReleased, {});

  auto list = [&](const ArtifactFilter& f) {
    auto r = store_->ListArtifacts(f);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? Ids(*r) : std::vector<std::string>{};
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(list({}), (V{"1", "2", "6", "3", "7", "8", "5"}));  // erased left out
  ArtifactFilter f;
  f.include_erased = true;
  EXPECT_EQ(list(f), (V{"1", "2", "6", "3", "7", "4", "8", "5"}));
  f = {};
  f.stage = Stage::kErased;
  EXPECT_EQ(list(f), (V{"4"}));
  f = {};
  f.kind = Kind::kModel;
  EXPECT_EQ(list(f), (V{"3", "7"}));
  f = {};
  f.name = "acme/a";
  EXPECT_EQ(list(f), (V{"1", "2", "6"}));
  f = {};
  f.name_prefix = "acme/b";
  f.include_erased = true;
  EXPECT_EQ(list(f), (V{"3", "7", "4"}));
  f = {};
  f.name_prefix = "acme/b/";
  f.include_erased = true;
  EXPECT_EQ(list(f), (V{"4"}));
  f = {};
  f.stage = Stage::kReleased;
  EXPECT_EQ(list(f), (V{"1", "3", "8", "5"}));
  f = {};
  f.labels = {{"team", "x"}};
  EXPECT_EQ(list(f), (V{"1", "3", "5"}));
  f.labels = {{"team", "x"}, {"tier", "1"}};
  EXPECT_EQ(list(f), (V{"3"}));
  f.labels = {{"team", "z"}};
  EXPECT_EQ(list(f), V{});
  f = {};
  f.owner_tenant = "beta";
  EXPECT_EQ(list(f), (V{"5"}));
  f = {};
  f.owner_tenant = "acme";
  f.stage = Stage::kReleased;
  f.kind = Kind::kDataset;
  EXPECT_EQ(list(f), (V{"1", "8"}));

  // Paging: limit 2 ends inside acme/a, so its third version comes too; the next page starts
  // after that name.
  f = {};
  f.limit = 2;
  EXPECT_EQ(list(f), (V{"1", "2", "6"}));
  f.after_name = "acme/a";
  EXPECT_EQ(list(f), (V{"3", "7"}));
  f.after_name = "acme/b";
  EXPECT_EQ(list(f), (V{"8", "5"}));
  f.after_name = "beta/a";
  EXPECT_EQ(list(f), V{});
  // A page that ends exactly at a name boundary adds nothing.
  f = {};
  f.limit = 3;
  EXPECT_EQ(list(f), (V{"1", "2", "6"}));
  // Filters apply to the extra versions too.
  f = {};
  f.limit = 1;
  f.stage = Stage::kReleased;
  EXPECT_EQ(list(f), (V{"1"}));

  // ListVersions: every version in push order, erased included.
  auto versions = store_->ListVersions("acme/a");
  ASSERT_TRUE(versions.ok());
  EXPECT_EQ(Ids(*versions), (V{"1", "2", "6"}));
}

TEST_F(SqliteMetadataStoreTest, ListDependents) {
  // Artifacts naming name@version in their lineage come back in push order, once each.
  Insert(Artifact("d1", "acme/data", "1.0.0"));
  Insert(Artifact("d2", "acme/data", "2.0.0"));
  auto model = [&](const std::string& id, const std::string& version,
                   std::vector<LineageLink> lineage) {
    ArtifactRecord a = Artifact(id, "acme/model", version, Kind::kModel);
    a.spec.lineage = std::move(lineage);
    Insert(a);
  };
  LineageLink d1{"acme/data", "1.0.0", "sha256:1", "trained-on", Kind::kDataset};
  LineageLink d1_val{"acme/data", "1.0.0", "sha256:1", "validated-on", Kind::kDataset};
  LineageLink d2{"acme/data", "2.0.0", "sha256:2", "trained-on", Kind::kDataset};
  model("m1", "1.0.0", {d1});
  model("m2", "2.0.0", {d2});
  model("m3", "3.0.0", {d1, d1_val});
  auto deps = store_->ListDependents("acme/data", "1.0.0");
  ASSERT_TRUE(deps.ok());
  EXPECT_EQ(Ids(*deps), (std::vector<std::string>{"m1", "m3"}));
  EXPECT_EQ(Ids(*store_->ListDependents("acme/data", "2.0.0")), std::vector<std::string>{"m2"});
  EXPECT_TRUE(store_->ListDependents("acme/data", "3.0.0")->empty());
}

TEST_F(SqliteMetadataStoreTest, Usage) {
  // Used bytes count committed, non-erased artifacts; reserved bytes count open uploads by
  // declared size, else committed offset.
  Insert(Artifact("a1", "acme/d", "1.0.0", Kind::kDataset, 1000));
  Insert(Artifact("a2", "acme/d", "2.0.0", Kind::kDataset, 500));
  ArtifactRecord erased = Artifact("a3", "acme/d", "3.0.0", Kind::kDataset, 7000);
  erased.stage = Stage::kErased;
  Insert(erased);
  Insert(Artifact("b1", "beta/d", "1.0.0", Kind::kDataset, 99));
  UploadRecord declared = Upload("u1", "acme/x", "1.0.0");
  declared.declared_size = 300;
  declared.committed_offset = 10;
  UploadRecord undeclared = Upload("u2", "acme/x", "2.0.0");
  undeclared.committed_offset = 40;
  UploadRecord done = Upload("u3", "acme/x", "3.0.0");
  done.state = UploadState::kAborted;
  done.declared_size = 1 << 30;
  MustCommit(WriteBatch()
                 .Add(mutation::CreateUpload{declared})
                 .Add(mutation::CreateUpload{undeclared})
                 .Add(mutation::CreateUpload{done}));
  auto usage = store_->Usage("acme");
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->used_bytes, 1500);
  EXPECT_EQ(usage->artifact_count, 2);
  EXPECT_EQ(usage->reserved_bytes, 340);
  EXPECT_EQ(store_->Usage("nobody")->used_bytes, 0);
}

TEST_F(SqliteMetadataStoreTest, ConcurrentAuditAppendsAreGaplessAndChained) {
  // 1000 appends from 16 threads, in batches of 1 to 3, get indexes 0..999 exactly once; the
  // log's chain, subtree hashes and root are the RFC 6962 ones.
  constexpr int kThreads = 16;
  constexpr int kTotal = 1000;
  std::atomic<int> next{0};
  std::mutex mu;
  std::vector<int64_t> indexes;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (true) {
        int n = 1 + (t % 3);
        int start = next.fetch_add(n);
        if (start >= kTotal) return;
        n = std::min(n, kTotal - start);
        WriteBatch batch;
        for (int i = 0; i < n; ++i) {
          batch.Add(mutation::AppendAudit{Event("DECISION", "tenant" + std::to_string(t))});
        }
        auto result = store_->Commit(std::move(batch));
        ASSERT_TRUE(result.ok()) << result.status().ToString();
        ASSERT_EQ(static_cast<int>(result->audit_indexes.size()), n);
        for (int i = 1; i < n; ++i) {
          EXPECT_EQ(result->audit_indexes[i], result->audit_indexes[i - 1] + 1);
        }
        EXPECT_GT(result->tree_size, result->audit_indexes.back());
        std::lock_guard<std::mutex> lock(mu);
        indexes.insert(indexes.end(), result->audit_indexes.begin(), result->audit_indexes.end());
      }
    });
  }
  for (auto& th : threads) th.join();
  std::sort(indexes.begin(), indexes.end());
  ASSERT_EQ(indexes.size(), static_cast<size_t>(kTotal));
  for (int i = 0; i < kTotal; ++i) ASSERT_EQ(indexes[i], i);

  CommitResult last = MustCommit(WriteBatch());  // an empty batch reports size and root
  EXPECT_EQ(last.tree_size, kTotal);
  EXPECT_EQ(*store_->AuditSize(), kTotal);
  ExpectConsistentLog(last.root);
  auto stats = store_->group_commit_stats();
  std::printf("[ info ] 16 threads: %lld batches in %lld transactions\n",
              static_cast<long long>(stats.batches), static_cast<long long>(stats.groups));
}

TEST_F(SqliteMetadataStoreTest, FailedBatchInAGroupLeavesOthersCommitted) {
  // Good and failing batches committed concurrently: every good one commits with its appends,
  // no failing one leaves an append or a change, and the log stays consistent.
  constexpr int kThreads = 16;
  constexpr int kPerThread = 25;
  std::atomic<int> good{0};
  std::atomic<int> bad{0};
  std::mutex mu;
  std::set<std::string> good_requests;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string tag = std::to_string(t) + "-" + std::to_string(i);
        bool fail = (t + i) % 4 == 0;
        WriteBatch batch;
        AuditEvent first = Event("DECISION");
        first.request_id = "first-" + tag;
        batch.Add(mutation::AppendAudit{first});
        batch.Add(mutation::InsertArtifact{Artifact("id-" + tag, "acme/g/" + tag, "1.0.0"), "k"});
        AuditEvent second = Event("ARTIFACT_CREATED");
        second.request_id = "second-" + tag;
        batch.Add(mutation::AppendAudit{second});
        if (fail) {
          UploadRecord missing = Upload("missing-" + tag, "acme/x", "1.0.0");
          batch.Add(mutation::UpdateUpload{missing});  // NOT_FOUND, after two appends
        }
        auto result = store_->Commit(std::move(batch));
        if (fail) {
          EXPECT_EQ(result.status().code(), StatusCode::kNotFound);
          ++bad;
        } else {
          ASSERT_TRUE(result.ok()) << result.status().ToString();
          EXPECT_EQ(result->audit_indexes.size(), 2u);
          ++good;
          std::lock_guard<std::mutex> lock(mu);
          good_requests.insert("first-" + tag);
          good_requests.insert("second-" + tag);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_GT(bad.load(), 0);

  auto size = store_->AuditSize();
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 2 * good.load());
  auto records = store_->ReadAudit(0, *size);
  ASSERT_TRUE(records.ok());
  std::set<std::string> seen;
  for (const AuditRecord& r : *records) {
    auto e = DecodeLeafData(r.leaf_data, nullptr, nullptr, nullptr);
    ASSERT_TRUE(e.ok());
    seen.insert(e->request_id);
  }
  EXPECT_EQ(seen, good_requests);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      std::string tag = std::to_string(t) + "-" + std::to_string(i);
      EXPECT_EQ(store_->FindArtifact("acme/g/" + tag, "1.0.0")->has_value(), (t + i) % 4 != 0);
    }
  }
  CommitResult last = MustCommit(WriteBatch());
  ExpectConsistentLog(last.root);
  auto stats = store_->group_commit_stats();
  std::printf("[ info ] %d good + %d failing batches in %lld transactions\n", good.load(),
              bad.load(), static_cast<long long>(stats.groups));
}

TEST_F(SqliteMetadataStoreTest, FailedAppendOnlyBatchInAGroupFailsAlone) {
  // Append-only batches run without a savepoint of their own; when one fails anyway (here a
  // trigger refuses type POISON), it fails alone and the rest of its group still commits.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TRIGGER poison BEFORE INSERT ON audit_entries "
                           "WHEN NEW.type = 'POISON' BEGIN SELECT RAISE(ABORT, 'poison'); END",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  constexpr int kThreads = 16;
  constexpr int kPerThread = 25;
  std::atomic<int> good{0};
  std::mutex mu;
  std::set<std::string> good_requests;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string tag = std::to_string(t) + "-" + std::to_string(i);
        bool fail = (t + i) % 5 == 0;
        AuditEvent first = Event("DECISION");
        first.request_id = "first-" + tag;
        AuditEvent second = Event(fail ? "POISON" : "DECISION");
        second.request_id = "second-" + tag;
        auto result = store_->Commit(WriteBatch()
                                         .Add(mutation::AppendAudit{first})
                                         .Add(mutation::AppendAudit{second}));
        if (fail) {
          EXPECT_FALSE(result.ok());
          continue;
        }
        ASSERT_TRUE(result.ok()) << result.status().ToString();
        ++good;
        std::lock_guard<std::mutex> lock(mu);
        good_requests.insert("first-" + tag);
        good_requests.insert("second-" + tag);
      }
    });
  }
  for (auto& th : threads) th.join();

  auto size = store_->AuditSize();
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 2 * good.load());
  auto records = store_->ReadAudit(0, *size);
  ASSERT_TRUE(records.ok());
  std::set<std::string> seen;
  for (const AuditRecord& r : *records) {
    auto e = DecodeLeafData(r.leaf_data, nullptr, nullptr, nullptr);
    ASSERT_TRUE(e.ok());
    seen.insert(e->request_id);
  }
  EXPECT_EQ(seen, good_requests);
  CommitResult last = MustCommit(WriteBatch());
  ExpectConsistentLog(last.root);
}

TEST_F(SqliteMetadataStoreTest, AsynchronousCommitsShareGroupsWithSynchronousOnes) {
  // 8 threads commit synchronously while 600 asynchronous commits are queued, some of them
  // failing: every callback runs exactly once, after its batch is durable (a fresh connection
  // reads its entries when the callback runs), with the same results Commit would give, and the
  // log stays gapless and consistent.
  constexpr int kAsync = 600;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  std::atomic<int> callbacks{0};
  std::atomic<int> failed{0};
  std::atomic<int> durable_checks{0};
  std::mutex mu;
  std::vector<int64_t> indexes;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto result = store_->Commit(WriteBatch().Add(mutation::AppendAudit{Event("SYNC")}));
        ASSERT_TRUE(result.ok()) << result.status().ToString();
        std::lock_guard<std::mutex> lock(mu);
        indexes.push_back(result->audit_indexes.front());
      }
      (void)t;
    });
  }
  for (int i = 0; i < kAsync; ++i) {
    const bool fail = i % 10 == 3;
    WriteBatch batch;
    batch.Add(mutation::AppendAudit{Event("ASYNC")});
    if (fail) batch.Add(mutation::UpdateUpload{Upload("missing-" + std::to_string(i), "a/x", "1.0.0")});
    store_->CommitAsync(std::move(batch), [&, fail, i](Result<CommitResult> result) {
      ++callbacks;
      if (fail) {
        EXPECT_EQ(result.status().code(), StatusCode::kNotFound) << i;
        ++failed;
        return;
      }
      ASSERT_TRUE(result.ok()) << result.status().ToString();
      ASSERT_EQ(result->audit_indexes.size(), 1u);
      if (i % 100 == 0) {
        // Durable and visible to any reader by the time the callback runs.
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
        sqlite3_stmt* st = nullptr;
        ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM audit_entries WHERE idx = ?", -1,
                                     &st, nullptr),
                  SQLITE_OK);
        sqlite3_bind_int64(st, 1, result->audit_indexes.front());
        ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
        EXPECT_EQ(sqlite3_column_int64(st, 0), 1);
        sqlite3_finalize(st);
        sqlite3_close(db);
        ++durable_checks;
      }
      std::lock_guard<std::mutex> lock(mu);
      indexes.push_back(result->audit_indexes.front());
    });
  }
  for (auto& th : threads) th.join();
  for (int waited = 0; callbacks.load() < kAsync && waited < 30000; ++waited) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CommitResult last = MustCommit(WriteBatch());
  EXPECT_EQ(callbacks.load(), kAsync);
  EXPECT_EQ(failed.load(), kAsync / 10);
  EXPECT_EQ(durable_checks.load(), kAsync / 100);
  std::lock_guard<std::mutex> lock(mu);
  std::sort(indexes.begin(), indexes.end());
  const int expected = kThreads * kPerThread + kAsync - kAsync / 10;
  ASSERT_EQ(static_cast<int>(indexes.size()), expected);
  for (int i = 0; i < expected; ++i) ASSERT_EQ(indexes[static_cast<size_t>(i)], i);
  EXPECT_EQ(last.tree_size, expected);
  ExpectConsistentLog(last.root);
}

TEST_F(SqliteMetadataStoreTest, AsynchronousCommitsQueuedAtCloseStillRun) {
  // Closing the store finishes what is queued: no callback is lost, none runs twice.
  std::atomic<int> ok{0};
  for (int i = 0; i < 200; ++i) {
    store_->CommitAsync(WriteBatch().Add(mutation::AppendAudit{Event("ASYNC")}),
                        [&](Result<CommitResult> result) {
                          EXPECT_TRUE(result.ok()) << result.status().ToString();
                          ++ok;
                        });
  }
  store_.reset();
  EXPECT_EQ(ok.load(), 200);
  Reopen();
  EXPECT_EQ(*store_->AuditSize(), 200);
}

TEST_F(SqliteMetadataStoreTest, CommitResultRootMatchesLeaves) {
  // After each batch, the reported size and root are those of the leaves so far.
  std::vector<merkle::Hash> leaves;
  for (int n = 1; n <= 9; ++n) {
    WriteBatch batch;
    for (int i = 0; i < n % 4; ++i) batch.Add(mutation::AppendAudit{Event("POLICY_LOAD")});
    CommitResult result = MustCommit(std::move(batch));
    leaves = LeafHashes();
    EXPECT_EQ(result.tree_size, static_cast<int64_t>(leaves.size()));
    EXPECT_EQ(result.root, merkle::RootFromLeaves(leaves));
  }
}

TEST_F(SqliteMetadataStoreTest, ReopenRestoresTheLog) {
  // Size, root and chain survive closing; appends after reopening continue the chain.
  for (int i = 0; i < 13; ++i) MustCommit(WriteBatch().Add(mutation::AppendAudit{Event("X")}));
  CommitResult before = MustCommit(WriteBatch());
  Reopen();
  CommitResult after = MustCommit(WriteBatch());
  EXPECT_EQ(after.tree_size, before.tree_size);
  EXPECT_EQ(after.root, before.root);
  for (int i = 0; i < 6; ++i) MustCommit(WriteBatch().Add(mutation::AppendAudit{Event("Y")}));
  CommitResult grown = MustCommit(WriteBatch());
  EXPECT_EQ(grown.tree_size, 19);
  ExpectConsistentLog(grown.root);
}

TEST_F(SqliteMetadataStoreTest, SchemaV1AuditTreeIsMigrated) {
  // A log written with schema 1 (subtree hashes keyed by level and index) opens, verifies
  // against its checkpoint and keeps growing after the migration to the current schema.
  for (int i = 0; i < 21; ++i) MustCommit(WriteBatch().Add(mutation::AppendAudit{Event("X")}));
  CommitResult before = MustCommit(WriteBatch());
  CheckpointRecord cp;
  cp.tree_size = before.tree_size;
  cp.root = before.root;
  cp.time = T(1700000000);
  cp.envelope = "{}";
  MustCommit(WriteBatch().Add(mutation::PutCheckpoint{cp}));
  store_.reset();
  {
    // Back to schema 1's layout, as a file written by an older build has it (without the
    // tables and columns of the later migrations).
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "DROP TABLE validation_jobs; DROP TABLE key_revocations;"
                           "ALTER TABLE artifacts DROP COLUMN tombstone;"
                           "ALTER TABLE artifacts DROP COLUMN lineage_notices;"
                           "ALTER TABLE artifacts DROP COLUMN retain_until;"
                           "CREATE TABLE v1_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, "
                           "hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID;"
                           "INSERT INTO v1_nodes SELECT level, (end_idx >> level) - 1, hash "
                           "FROM audit_nodes;"
                           "DROP TABLE audit_nodes; ALTER TABLE v1_nodes RENAME TO audit_nodes;"
                           "PRAGMA user_version = 1;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  Reopen();
  ASSERT_NE(store_, nullptr);
  CommitResult after = MustCommit(WriteBatch());
  EXPECT_EQ(after.tree_size, before.tree_size);
  EXPECT_EQ(after.root, before.root);
  for (int i = 0; i < 11; ++i) MustCommit(WriteBatch().Add(mutation::AppendAudit{Event("Y")}));
  ExpectConsistentLog(MustCommit(WriteBatch()).root);
}

TEST_F(SqliteMetadataStoreTest, FutureSchemaIsRefused) {
  // A file whose user_version is beyond this build's is FAILED_PRECONDITION naming both.
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  std::string sql = "PRAGMA user_version = " + std::to_string(SqliteMetadataStore::SchemaVersion() + 1);
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto store = SqliteMetadataStore::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("newer"), std::string::npos) << store.status().message();
}

TEST_F(SqliteMetadataStoreTest, NotADatabaseIsDataLoss) {
  // A file that is not SQLite is refused as DATA_LOSS.
  std::string other = dir_.Join("junk.db");
  testing::WriteTextFile(other, std::string(8192, 'j'), 0600);
  auto store = SqliteMetadataStore::Open(other);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kDataLoss) << store.status().ToString();
}

TEST_F(SqliteMetadataStoreTest, TamperedLeafIsDetectedAtOpen) {
  // Changing the last leaf's bytes behind the store's back makes Open fail with DATA_LOSS.
  for (int i = 0; i < 3; ++i) MustCommit(WriteBatch().Add(mutation::AppendAudit{Event("X")}));
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE audit_entries SET leaf_data = '{}' WHERE idx = 2", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = SqliteMetadataStore::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kDataLoss);
}

TEST_F(SqliteMetadataStoreTest, QueryAuditFilters) {
  // Every filter field selects what it says, combined with AND, in either order, with a limit.
  auto append = [&](AuditEvent e) {
    return MustCommit(WriteBatch().Add(mutation::AppendAudit{std::move(e)})).audit_indexes.at(0);
  };
  AuditEvent allow = Event("DECISION", "acme", "artifact.fetch");
  allow.effect = "allow";
  allow.rule_id = "r-allow";
  allow.policy_digest = "sha256:p1";
  allow.artifact_name = "acme/m";
  allow.artifact_version = "1.0.0";
  allow.request_id = "q1";
  AuditEvent deny = allow;
  deny.effect = "deny";
  deny.rule_id = "r-deny";
  deny.principal = {{"tenantId", "beta"}};
  deny.request_id = "q2";
  deny.artifact_version = "2.0.0";
  AuditEvent stage = Event("STAGE_CHANGE", "acme", "artifact.release");
  stage.rule_id = "r-allow";  // not a decision: not indexed as one
  stage.request_id = "q3";
  stage.artifact_name = "acme/m";
  stage.artifact_version = "1.0.0";
  AuditEvent system;
  system.type = "RETENTION";
  system.system_actor = "retention";
  system.policy_digest = "sha256:p2";

  append(allow);                             // 0
  append(deny);                              // 1
  append(stage);                             // 2
  append(system);                            // 3
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  SystemTime middle = std::chrono::system_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  allow.policy_digest = "sha256:p2";
  append(allow);                             // 4

  auto query = [&](const AuditFilter& f) {
    auto r = store_->QueryAudit(f);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<int64_t> out;
    if (r.ok()) {
      for (const AuditRecord& a : *r) out.push_back(a.index);
    }
    return out;
  };
  using V = std::vector<int64_t>;
  AuditFilter f;
  EXPECT_EQ(query(f), (V{0, 1, 2, 3, 4}));
  f.descending = true;
  EXPECT_EQ(query(f), (V{4, 3, 2, 1, 0}));
  f.limit = 2;
  EXPECT_EQ(query(f), (V{4, 3}));
  f = {};
  f.start_index = 1;
  f.end_index = 3;
  EXPECT_EQ(query(f), (V{1, 2}));
  f = {};
  f.types = {"DECISION", "RETENTION"};
  EXPECT_EQ(query(f), (V{0, 1, 3, 4}));
  f = {};
  f.tenant_id = "acme";
  EXPECT_EQ(query(f), (V{0, 2, 4}));
  f = {};
  f.actions = {"artifact.release"};
  EXPECT_EQ(query(f), (V{2}));
  f = {};
  f.effect = "deny";
  EXPECT_EQ(query(f), (V{1}));
  f = {};
  f.artifact_name = "acme/m";
  EXPECT_EQ(query(f), (V{0, 1, 2, 4}));
  f.artifact_version = "2.0.0";
  EXPECT_EQ(query(f), (V{1}));
  f = {};
  f.rule_id = "r-allow";
  EXPECT_EQ(query(f), (V{0, 4}));
  f = {};
  f.request_id = "q3";
  EXPECT_EQ(query(f), (V{2}));
  f = {};
  f.policy_digest = "sha256:p2";
  EXPECT_EQ(query(f), (V{4}));
  f = {};
  f.since = middle;
  EXPECT_EQ(query(f), (V{4}));
  f = {};
  f.until = middle;
  EXPECT_EQ(query(f), (V{0, 1, 2, 3}));
  f = {};
  f.tenant_id = "acme";
  f.effect = "allow";
  f.since = middle;
  EXPECT_EQ(query(f), (V{4}));

  // ReadAudit ranges.
  EXPECT_EQ(store_->ReadAudit(1, 3)->size(), 2u);
  EXPECT_EQ(store_->ReadAudit(3, 99)->size(), 2u);
  EXPECT_EQ(store_->ReadAudit(-1, 2).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->AuditNode(-1, 0).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SqliteMetadataStoreTest, Checkpoints) {
  // Checkpoints must describe the log: beyond its size or with a wrong root they are refused;
  // a repeat is a no-op; Find and List return them by size.
  EXPECT_FALSE(store_->FindCheckpoint(0)->has_value());
  std::vector<CommitResult> after;
  for (int i = 0; i < 5; ++i) {
    after.push_back(MustCommit(WriteBatch().Add(mutation::AppendAudit{Event("X")})));
  }
  auto checkpoint = [&](int64_t size, const LeafHash& root) {
    CheckpointRecord cp;
    cp.tree_size = size;
    cp.root = root;
    cp.time = T(1700000000 + size, 17);
    cp.envelope = "{\"size\":" + std::to_string(size) + "}";
    return cp;
  };
  MustCommit(WriteBatch().Add(mutation::PutCheckpoint{checkpoint(5, after[4].root)}));
  MustCommit(WriteBatch().Add(mutation::PutCheckpoint{checkpoint(2, after[1].root)}));
  MustCommit(WriteBatch().Add(mutation::PutCheckpoint{checkpoint(3, after[2].root)}));
  // Repeat: OK, unchanged.
  CheckpointRecord repeat = checkpoint(3, after[2].root);
  repeat.envelope = "other";
  MustCommit(WriteBatch().Add(mutation::PutCheckpoint{repeat}));
  EXPECT_EQ((*store_->FindCheckpoint(3))->envelope, "{\"size\":3}");

  EXPECT_EQ(CommitStatus(WriteBatch().Add(mutation::PutCheckpoint{checkpoint(6, after[4].root)})).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CommitStatus(WriteBatch().Add(mutation::PutCheckpoint{checkpoint(4, after[4].root)})).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CommitStatus(WriteBatch().Add(mutation::PutCheckpoint{checkpoint(0, after[4].root)})).code(),
            StatusCode::kInvalidArgument);
  // A checkpoint after the batch's own append counts that append.
  WriteBatch batch;
  batch.Add(mutation::PutCheckpoint{checkpoint(6, LeafHash{})});  // root fixed below
  batch.Add(mutation::AppendAudit{Event("X")});
  Status wrong_root = CommitStatus(std::move(batch));
  EXPECT_EQ(wrong_root.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong_root.message().find("root"), std::string::npos) << wrong_root.ToString();
  CommitResult six = MustCommit(WriteBatch().Add(mutation::AppendAudit{Event("X")}));
  MustCommit(WriteBatch().Add(mutation::PutCheckpoint{checkpoint(6, six.root)}));

  auto latest = store_->FindCheckpoint(0);
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->tree_size, 6);
  EXPECT_EQ((*latest)->root, six.root);
  auto three = store_->FindCheckpoint(3);
  ASSERT_TRUE(three->has_value());
  EXPECT_EQ((*three)->root, after[2].root);
  EXPECT_EQ((*three)->time, T(1700000003, 17));
  EXPECT_FALSE(store_->FindCheckpoint(4)->has_value());

  auto listed = store_->ListCheckpoints(2, 5);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].tree_size, 3);
  EXPECT_EQ((*listed)[1].tree_size, 5);
  EXPECT_EQ(store_->ListCheckpoints(0, 100)->size(), 4u);

  // The checkpoint is checked again at open.
  Reopen();
  EXPECT_EQ((*store_->FindCheckpoint(0))->tree_size, 6);
}

TEST_F(SqliteMetadataStoreTest, GroupCommitUnder32Committers) {
  // Prints how many commits share one transaction (one fsync) with 32 concurrent committers,
  // each committing an artifact and its audit entry; not asserted.
  constexpr int kThreads = 32;
  constexpr int kPerThread = 40;
  auto commit_one = [&](const std::string& tag) {
    WriteBatch batch;
    batch.Add(mutation::InsertArtifact{Artifact("gc-" + tag, "acme/gc/" + tag, "1.0.0"), "k"});
    batch.Add(mutation::AppendAudit{Event("ARTIFACT_CREATED")});
    return store_->Commit(std::move(batch)).ok();
  };
  // The baseline: one committer, one transaction per commit.
  auto serial_start = std::chrono::steady_clock::now();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(commit_one("serial-" + std::to_string(i)));
  double serial_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - serial_start).count();
  std::printf("[ perf ] 1 committer: %.0f commits/s\n", 50 / serial_s);

  auto before = store_->group_commit_stats();
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        ASSERT_TRUE(commit_one(std::to_string(t) + "-" + std::to_string(i)));
      }
    });
  }
  for (auto& th : threads) th.join();
  double elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto after = store_->group_commit_stats();
  int64_t batches = after.batches - before.batches;
  int64_t groups = after.groups - before.groups;
  std::printf("[ perf ] 32 committers: %lld commits in %lld transactions (%.1f commits per "
              "fsync), %.0f commits/s\n",
              static_cast<long long>(batches), static_cast<long long>(groups),
              static_cast<double>(batches) / static_cast<double>(groups),
              static_cast<double>(batches) / elapsed_s);
  EXPECT_EQ(batches, kThreads * kPerThread);
}

TEST_F(SqliteMetadataStoreTest, JobRoundTripsEveryFieldInQueueOrder) {
  // Every field of a job comes back equal; the store numbers jobs in enqueue order and refuses
  // a second job with the same id.
  JobRecord first = Job("job-1");
  MustCommit(WriteBatch().Add(mutation::EnqueueJob{first}));
  JobRecord full = Job("job-2", "2.0.0");
  full.state = JobState::kRunning;
  full.report_only = true;
  full.requested_backend = "cuda";
  full.backend = "cuda";
  full.worker = "host-a/eval-worker-1";
  full.attempt = 3;
  full.progress = 0.375;
  full.phase = "quality ü";
  full.datasets = {{"acme/data/val", "2.0.0", "sha256:" + std::string(64, 'd'), "validated-on",
                    Kind::kDataset}};
  full.start_time = T(1700000300, 1);
  full.end_time = T(1700000400, 2);
  full.lease_expire_time = T(1700000500, 3);
  full.report_name = "acme/fraud/model.report";
  full.report_version = "2.0.0-eval.1";
  full.report_digest = "sha256:" + std::string(64, 'r');
  full.gate_results = Json::array({{{"gate_id", "auc"}, {"observed", 0.912345678901}}});
  full.outcome_stage = Stage::kReleased;
  full.error = "none";
  full.requested_by = "acme";
  full.revision = 4;
  MustCommit(WriteBatch().Add(mutation::EnqueueJob{full}));

  JobRecord got_first = MustFindJob("job-1");
  JobRecord got_full = MustFindJob("job-2");
  EXPECT_GT(got_first.seq, 0);
  EXPECT_GT(got_full.seq, got_first.seq);
  first.seq = got_first.seq;
  full.seq = got_full.seq;
  ExpectSameJob(got_first, first);
  ExpectSameJob(got_full, full);
  EXPECT_FALSE(got_first.outcome_stage.has_value());
  EXPECT_FALSE(store_->FindJob("job-none")->has_value());

  EXPECT_EQ(CommitStatus(WriteBatch().Add(mutation::EnqueueJob{Job("job-1", "3.0.0")})).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(CommitStatus(WriteBatch().Add(mutation::EnqueueJob{Job("")})).code(),
            StatusCode::kInvalidArgument);
  Reopen();
  ExpectSameJob(MustFindJob("job-2"), full);
}

TEST_F(SqliteMetadataStoreTest, UpdateJobChecksTheRevision) {
  // UpdateJob stores the new fields and revision + 1 only from the current revision: a stale
  // writer gets ABORTED and changes nothing; an unknown job is NOT_FOUND; the model fields and
  // create time stay as enqueued.
  MustCommit(WriteBatch().Add(mutation::EnqueueJob{Job("job-1")}));
  JobRecord j = MustFindJob("job-1");
  JobRecord stale = j;
  j.state = JobState::kRunning;
  j.worker = "w1";
  j.attempt = 1;
  j.lease_expire_time = T(1700001000);
  j.model_name = "other/model";
  j.create_time = T(1);
  MustCommit(WriteBatch().Add(mutation::UpdateJob{j}));
  JobRecord got = MustFindJob("job-1");
  EXPECT_EQ(got.revision, 2);
  EXPECT_EQ(got.state, JobState::kRunning);
  EXPECT_EQ(got.worker, "w1");
  EXPECT_EQ(got.attempt, 1);
  EXPECT_EQ(got.lease_expire_time, T(1700001000));
  EXPECT_EQ(got.model_name, "acme/fraud/model");
  EXPECT_EQ(got.create_time, T(1700000200, 11));

  stale.state = JobState::kCancelled;
  Status st = CommitStatus(WriteBatch()
                               .Add(mutation::UpdateJob{stale})
                               .Add(mutation::AppendAudit{Event("VALIDATION")}));
  EXPECT_EQ(st.code(), StatusCode::kAborted) << st.ToString();
  EXPECT_EQ(MustFindJob("job-1").state, JobState::kRunning);
  EXPECT_EQ(*store_->AuditSize(), 0);

  EXPECT_EQ(CommitStatus(WriteBatch().Add(mutation::UpdateJob{Job("job-x")})).code(),
            StatusCode::kNotFound);
}

TEST_F(SqliteMetadataStoreTest, ListJobsFiltersAndPages) {
  // Each JobFilter field selects what it says; newest first unless ascending; before_seq pages.
  std::vector<std::string> ids = {"j-a", "j-b", "j-c", "j-d", "j-e"};
  for (size_t i = 0; i < ids.size(); ++i) {
    JobRecord j = Job(ids[i], i < 3 ? "1.0.0" : "2.0.0");
    j.state = i % 2 == 0 ? JobState::kQueued : JobState::kSucceeded;
    j.report_only = i == 4;
    if (i == 4) j.model_digest = "sha256:" + std::string(64, 'n');
    MustCommit(WriteBatch().Add(mutation::EnqueueJob{j}));
  }
  auto list = [&](const JobFilter& f) { return ListJobIds(f); };
  using V = std::vector<std::string>;
  EXPECT_EQ(list({}), (V{"j-e", "j-d", "j-c", "j-b", "j-a"}));
  JobFilter f;
  f.ascending = true;
  EXPECT_EQ(list(f), (V{"j-a", "j-b", "j-c", "j-d", "j-e"}));
  f = {};
  f.states = {JobState::kQueued};
  f.ascending = true;
  EXPECT_EQ(list(f), (V{"j-a", "j-c", "j-e"}));
  f.states = {JobState::kQueued, JobState::kSucceeded};
  f.limit = 2;
  EXPECT_EQ(list(f), (V{"j-a", "j-b"}));
  f = {};
  f.model_version = "2.0.0";
  EXPECT_EQ(list(f), (V{"j-e", "j-d"}));
  f = {};
  f.model_name = "acme/fraud/model";
  f.model_version = "1.0.0";
  f.limit = 0;
  EXPECT_EQ(list(f), (V{"j-c", "j-b", "j-a"}));
  f = {};
  f.model_name = "acme/other";
  EXPECT_EQ(list(f), V{});
  f = {};
  f.model_digest = "sha256:" + std::string(64, 'n');
  EXPECT_EQ(list(f), V{"j-e"});
  f = {};
  f.report_only_set = true;
  f.report_only = false;
  EXPECT_EQ(list(f), (V{"j-d", "j-c", "j-b", "j-a"}));
  f.report_only = true;
  EXPECT_EQ(list(f), V{"j-e"});
  // Paging newest first: the page after j-c.
  f = {};
  f.before_seq = MustFindJob("j-c").seq;
  EXPECT_EQ(list(f), (V{"j-b", "j-a"}));
  // Paging oldest first: the page after j-b.
  f = {};
  f.ascending = true;
  f.after_seq = MustFindJob("j-b").seq;
  EXPECT_EQ(list(f), (V{"j-c", "j-d", "j-e"}));
}

TEST_F(SqliteMetadataStoreTest, ListJobsSelectsClaimableJobsByBackend) {
  // claimable_at: QUEUED jobs, and RUNNING ones whose lease expired before it; never a RUNNING
  // job with a live lease (or one expiring exactly then) nor a finished one.
  const SystemTime now = FromNanosForTest(int64_t{1800000000} * 1000000000);
  struct Row {
    std::string id;
    JobState state;
    SystemTime lease_expire_time;
    std::string backend;
  };
  const std::vector<Row> rows = {
      {"queued-auto", JobState::kQueued, {}, "auto"},
      {"running-live", JobState::kRunning, now + std::chrono::seconds(5), "auto"},
      {"running-expired", JobState::kRunning, now - std::chrono::seconds(5), "cpu"},
      {"running-at-now", JobState::kRunning, now, "cpu"},
      {"succeeded", JobState::kSucceeded, now - std::chrono::seconds(5), "auto"},
      {"queued-cuda", JobState::kQueued, {}, "cuda"},
  };
  for (const Row& row : rows) {
    JobRecord j = Job(row.id, "1.0.0");
    j.state = row.state;
    j.lease_expire_time = row.lease_expire_time;
    j.requested_backend = row.backend;
    MustCommit(WriteBatch().Add(mutation::EnqueueJob{j}));
  }
  auto list = [&](const JobFilter& f) { return ListJobIds(f); };
  using V = std::vector<std::string>;
  JobFilter f;
  f.ascending = true;
  f.limit = 0;
  f.claimable_at = now;
  EXPECT_EQ(list(f), (V{"queued-auto", "running-expired", "queued-cuda"}));
  f.requested_backends = {"cpu", "auto"};
  EXPECT_EQ(list(f), (V{"queued-auto", "running-expired"}));
  f.requested_backends = {"cuda"};
  EXPECT_EQ(list(f), (V{"queued-cuda"}));
  // With `states`, both apply.
  f.requested_backends.clear();
  f.states = {JobState::kRunning};
  EXPECT_EQ(list(f), (V{"running-expired"}));
}

TEST_F(SqliteMetadataStoreTest, KeyRevocationsAreIdempotentAndDurable) {
  // A revocation is kept as first recorded: revoking again changes nothing; order is oldest
  // first; they survive reopening.
  KeyRevocation r1{"sha256:" + std::string(64, '1'), "acme", "key leaked", "acme-admin",
                   T(1700000000, 5)};
  KeyRevocation r2{"sha256:" + std::string(64, '2'), "beta", "rotated", "beta-admin",
                   T(1700000100, 6)};
  MustCommit(WriteBatch().Add(mutation::RevokeKey{r1}));
  MustCommit(WriteBatch().Add(mutation::RevokeKey{r2}));
  KeyRevocation again = r1;
  again.reason = "second time";
  again.time = T(1800000000);
  MustCommit(WriteBatch().Add(mutation::RevokeKey{again}));
  EXPECT_EQ(CommitStatus(WriteBatch().Add(mutation::RevokeKey{KeyRevocation{}})).code(),
            StatusCode::kInvalidArgument);
  Reopen();
  auto list = store_->ListKeyRevocations();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(*list, (std::vector<KeyRevocation>{r1, r2}));
}

TEST_F(SqliteMetadataStoreTest, TombstoneAndNoticesRoundTrip) {
  // A tombstone and lineage notices are stored by InsertArtifact and UpdateArtifact and read
  // back by every artifact read; FindArtifact's kept answer does not outlive such an update.
  ArtifactRecord model = Artifact("m1", "acme/model", "1.0.0", Kind::kModel);
  model.lineage_notices = {{"acme/data", "1.0.0", "sha256:" + std::string(64, 'c'),
                            "flag-retrain", "lineage-1", "policy.yaml:10:3", T(1700000000, 1)}};
  Insert(model);
  ExpectSameArtifact(MustFind("acme/model", "1.0.0"), model);

  ArtifactRecord data = Artifact("d1", "acme/data", "2.0.0");
  Insert(data);
  ArtifactRecord got = MustFind("acme/data", "2.0.0");  // now kept in memory
  EXPECT_FALSE(got.tombstone.has_value());
  EXPECT_TRUE(got.lineage_notices.empty());

  got.stage = Stage::kErased;
  got.tombstone = Tombstone{T(1700000500, 7),
                            "acme-dpo",
                            {{"tenantId", "acme-dpo"}, {"authMethod", "mtls"},
                             {"credential", "CN=dpo"}},
                            "",
                            "Art. 17 request",
                            "DSR-42",
                            17};
  MustCommit(WriteBatch().Add(mutation::UpdateArtifact{got}));
  got.revision = 2;
  ExpectSameArtifact(MustFind("acme/data", "2.0.0"), got);
  auto by_id = store_->FindArtifactById("d1");
  ASSERT_TRUE(by_id.ok() && by_id->has_value());
  ExpectSameArtifact(**by_id, got);
  ArtifactFilter all;
  all.include_erased = true;
  auto listed = store_->ListArtifacts(all);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  ExpectSameArtifact((*listed)[0], got);
  ExpectSameArtifact((*listed)[1], model);

  // A notice added later, and a system-erased tombstone (null principal).
  ArtifactRecord m = MustFind("acme/model", "1.0.0");
  m.lineage_notices.push_back({"acme/data", "2.0.0", got.digest, "revoke", "lineage-2",
                               "policy.yaml:20:3", T(1700000600)});
  m.stage = Stage::kRevoked;
  MustCommit(WriteBatch().Add(mutation::UpdateArtifact{m}));
  m.revision = 2;
  ExpectSameArtifact(MustFind("acme/model", "1.0.0"), m);
  ASSERT_EQ(MustFind("acme/model", "1.0.0").lineage_notices.size(), 2u);

  ArtifactRecord swept = Artifact("s1", "acme/swept", "1.0.0");
  swept.stage = Stage::kErased;
  swept.tombstone = Tombstone{T(1700000700), "", nullptr, "retention", "deadline passed", "", 3};
  Insert(swept);
  Reopen();
  ExpectSameArtifact(MustFind("acme/swept", "1.0.0"), swept);
  ExpectSameArtifact(MustFind("acme/model", "1.0.0"), m);
}

TEST_F(SqliteMetadataStoreTest, RetentionDeadlineBeforeOrdersByDeadline) {
  // retention_deadline_before selects artifacts whose deadline is before the bound, ordered by
  // deadline, then name and push order; erased ones only with include_erased; other filters and
  // the limit apply, name paging does not.
  auto add = [&](const std::string& id, const std::string& name, std::optional<int64_t> secs,
                 Stage stage = Stage::kReleased) {
    ArtifactRecord a = Artifact(id, name, "1.0.0");
    if (secs.has_value()) a.spec.retention_deadline = T(*secs);
    a.stage = stage;
    Insert(a);
  };
  add("late", "acme/a-late", 3000);
  add("early", "acme/z-early", 1000);
  add("none", "acme/b-none", std::nullopt);
  add("tie-b", "acme/tie-b", 2000);
  add("tie-a", "acme/tie-a", 2000);
  add("erased", "acme/erased", 500, Stage::kErased);
  add("future", "acme/future", 9000);
  ArtifactFilter f;
  f.retention_deadline_before = T(5000);
  auto list = [&](const ArtifactFilter& filter) {
    auto rows = store_->ListArtifacts(filter);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    return rows.ok() ? Ids(*rows) : std::vector<std::string>{};
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(list(f), (V{"early", "tie-a", "tie-b", "late"}));
  f.include_erased = true;
  EXPECT_EQ(list(f), (V{"erased", "early", "tie-a", "tie-b", "late"}));
  f.limit = 2;
  EXPECT_EQ(list(f), (V{"erased", "early"}));
  f.limit = 0;
  f.after_name = "acme/zzz";  // ignored for this query
  f.retention_deadline_before = T(2000);  // strictly before
  EXPECT_EQ(list(f), (V{"erased", "early"}));
  f.name_prefix = "acme/z";
  EXPECT_EQ(list(f), V{"early"});
}

TEST_F(SqliteMetadataStoreTest, UncachedStoreSeesAnotherWriter) {
  // With cache_artifacts off, FindArtifact reads the database every time, so changes that
  // another store (another process) commits to the same file are seen at once.
  SqliteMetadataStore::Options options;
  options.cache_artifacts = false;
  auto reader = SqliteMetadataStore::Open(path_, options);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  Insert(Artifact("a1", "acme/shared", "1.0.0"));
  for (int i = 0; i < 3; ++i) {
    auto seen = (*reader)->FindArtifact("acme/shared", "1.0.0");
    ASSERT_TRUE(seen.ok() && seen->has_value());
    EXPECT_EQ((*seen)->revision, i + 1);
    ArtifactRecord current = MustFind("acme/shared", "1.0.0");
    current.stage = i % 2 == 0 ? Stage::kValidating : Stage::kPending;
    MustCommit(WriteBatch().Add(mutation::UpdateArtifact{current}));
  }
  auto last = (*reader)->FindArtifact("acme/shared", "1.0.0");
  ASSERT_TRUE(last.ok() && last->has_value());
  EXPECT_EQ((*last)->revision, 4);
  EXPECT_EQ((*last)->stage, Stage::kValidating);
}

TEST_F(SqliteMetadataStoreTest, SchemaV2DatabaseIsMigrated) {
  // A database at schema 2 (built here with this build's first two migrations, as an older
  // build made it), holding an artifact, opens: the artifact reads back without tombstone or
  // notices, and jobs, revocations and tombstones work.
  const std::string old_path = dir_.Join("v2.db");
  OpenDatabaseAtSchema(old_path, 2,
                       "INSERT INTO artifacts (id, name, version, kind, stage, owner_tenant, "
                       "digest, size_bytes, media_type, description, classification, "
                       "effective_classification, purposes, lawful_basis, "
                       "special_category_condition, retention_deadline, retention_action, "
                       "storage_location, storage_jurisdiction, created_by, manifest, "
                       "release_requested, create_time, update_time, revision) VALUES "
                       "('old-1', 'acme/old', '1.0.0', 'model', 'released', 'acme', "
                       "'sha256:00', 5, 'x', '', 'internal', 'internal', '[]', '', '', "
                       "1000, 'erase', 'eu-de-1', 'DE', 'acme', '{}', 0, 1, 2, 3);"
                       "INSERT INTO data_keys VALUES ('old-1', x'01');");
  EXPECT_EQ(QueryIntOnDisk(old_path, "PRAGMA user_version"), SqliteMetadataStore::SchemaVersion());
  ArtifactRecord old = MustFind("acme/old", "1.0.0");
  EXPECT_EQ(old.id, "old-1");
  EXPECT_EQ(old.revision, 3);
  EXPECT_FALSE(old.tombstone.has_value());
  EXPECT_TRUE(old.lineage_notices.empty());

  old.stage = Stage::kErased;
  old.tombstone = Tombstone{T(1700000000), "", nullptr, "retention", "deadline", "", 0};
  MustCommit(WriteBatch().Add(mutation::UpdateArtifact{old}).Add(mutation::DeleteDataKey{"old-1"}));
  EXPECT_TRUE(MustFind("acme/old", "1.0.0").tombstone.has_value());
  MustCommit(WriteBatch().Add(mutation::EnqueueJob{Job("job-1")}));
  EXPECT_EQ(MustFindJob("job-1").state, JobState::kQueued);
  MustCommit(WriteBatch().Add(mutation::RevokeKey{KeyRevocation{"sha256:k", "acme", "r", "a",
                                                                T(1)}}));
  EXPECT_EQ(store_->ListKeyRevocations()->size(), 1u);
  ArtifactFilter f;
  f.retention_deadline_before = T(1700000000);
  f.include_erased = true;
  EXPECT_EQ(Ids(*store_->ListArtifacts(f)), std::vector<std::string>{"old-1"});
}

TEST_F(SqliteMetadataStoreTest, SchemaV3DatabaseIsMigratedWithoutRetainUntil) {
  // A database at schema 3 (this build's first three migrations, as an older build made it),
  // holding an artifact with a stored deadline and an upload opened before the upgrade, opens at
  // the current schema: the artifact keeps its stored deadline and has no retain_until (whether
  // the old deadline was the pusher's cannot be told), the upload's spec still reads, and new
  // artifacts keep their retain_until.
  // The upload's spec as schema 3 wrote it: no "retainUntil" member.
  const std::string spec_json =
      R"({"kind":"dataset","name":"acme/open","version":"1.0.0","mediaType":"x",)"
      R"("description":"","classification":"personal","effectiveClassification":"personal",)"
      R"("purposes":[],"lawfulBasis":"consent","specialCategoryCondition":"","lineage":[],)"
      R"("labels":{},"retentionDeadline":5000000000000000000,"retentionAction":"erase",)"
      R"("ownerTenant":"acme","storageLocation":"eu-de-1","storageJurisdiction":"DE",)"
      R"("createdBy":"acme"})";
  const std::string old_path = dir_.Join("v3.db");
  OpenDatabaseAtSchema(
      old_path, 3,
      "INSERT INTO artifacts (id, name, version, kind, stage, owner_tenant, digest, "
      "size_bytes, media_type, description, classification, effective_classification, "
      "purposes, lawful_basis, special_category_condition, retention_deadline, "
      "retention_action, storage_location, storage_jurisdiction, created_by, manifest, "
      "release_requested, create_time, update_time, revision) VALUES "
      "('old-3', 'acme/old3', '1.0.0', 'dataset', 'pending', 'acme', 'sha256:00', 5, 'x', '', "
      "'personal', 'personal', '[]', 'consent', '', 4000000000000000000, 'erase', 'eu-de-1', "
      "'DE', 'acme', '{}', 0, 1, 2, 3);"
      "INSERT INTO data_keys VALUES ('old-3', x'01');"
      "INSERT INTO uploads (id, name, version, owner_tenant, spec, declared_size, "
      "expected_digest, committed_offset, state, wrapped_key, blob_header, artifact_id, "
      "abort_reason, create_time, update_time, expire_time, decision_rule, decision_policy, "
      "revision) VALUES ('up-old', 'acme/open', '1.0.0', 'acme', '" +
          spec_json + "', NULL, '', 0, 'open', x'02', x'03', 'art-up-old', '', 1, 2, 3, 'r', 'p', 1);");
  EXPECT_EQ(QueryIntOnDisk(old_path, "PRAGMA user_version"), SqliteMetadataStore::SchemaVersion());
  // The old row's new column is NULL, not a copy of its stored deadline.
  EXPECT_EQ(QueryIntOnDisk(old_path, "SELECT retain_until IS NULL FROM artifacts WHERE id = 'old-3'"),
            1);
  EXPECT_GE(SqliteMetadataStore::SchemaVersion(), 4);

  ArtifactRecord old = MustFind("acme/old3", "1.0.0");
  EXPECT_EQ(old.spec.retention_deadline, FromNanosForTest(4000000000000000000));
  EXPECT_EQ(old.spec.retention_action, "erase");
  EXPECT_FALSE(old.spec.retain_until.has_value());

  auto upload = store_->FindUpload("up-old");
  ASSERT_TRUE(upload.ok()) << upload.status().ToString();
  ASSERT_TRUE(upload->has_value());
  EXPECT_EQ((*upload)->spec.retention_deadline, FromNanosForTest(5000000000000000000));
  EXPECT_FALSE((*upload)->spec.retain_until.has_value());

  ArtifactRecord fresh = Artifact("id-new", "acme/new", "1.0.0");
  fresh.spec.retain_until = T(1750000000, 42);
  Insert(fresh);
  EXPECT_EQ(MustFind("acme/new", "1.0.0").spec.retain_until, T(1750000000, 42));
}

TEST_F(SqliteMetadataStoreTest, TwoStoresOnOneFileKeepOneChainedLog) {
  // Two stores on the same file (a gateway and an eval-worker process) appending in turn, and
  // concurrently, keep one gapless, chained log whose root each of them reports correctly.
  auto other = SqliteMetadataStore::Open(path_);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  for (int i = 0; i < 5; ++i) {
    MustCommit(WriteBatch().Add(mutation::AppendAudit{Event("A")}));
    auto r = (*other)->Commit(WriteBatch().Add(mutation::AppendAudit{Event("B")}));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->tree_size, 2 * (i + 1));
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      SqliteMetadataStore& store = t % 2 == 0 ? *store_ : **other;
      for (int i = 0; i < 10; ++i) {
        auto r = store.Commit(WriteBatch().Add(mutation::AppendAudit{Event("C")}));
        EXPECT_TRUE(r.ok()) << r.status().ToString();
      }
    });
  }
  for (auto& th : threads) th.join();
  CommitResult mine = MustCommit(WriteBatch());
  auto theirs = (*other)->Commit(WriteBatch());
  ASSERT_TRUE(theirs.ok());
  EXPECT_EQ(mine.tree_size, 50);
  EXPECT_EQ(theirs->tree_size, 50);
  EXPECT_EQ(theirs->root, mine.root);
  ExpectConsistentLog(mine.root);
}

}  // namespace
}  // namespace sov::registry
