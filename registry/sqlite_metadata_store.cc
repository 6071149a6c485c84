#include "registry/sqlite_metadata_store.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <mutex>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <utility>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "crypto/merkle.h"
#include "registry/audit_entry.h"
#include "registry/internal/gathering_vfs.h"
#include "registry/internal/sqlite.h"
#include "registry/internal/sqlite_schema.h"

namespace sov::registry {
namespace {

// Crypto-shredding checkpoints (RunGroup): how often an idle writer tries again to cut a WAL
// that readers held up while a key-destroying commit still waits for the cut, and once none
// waits any longer; how long the checkpoints at open and at close wait for readers.
constexpr std::chrono::milliseconds kShredHeldRetryInterval{1};
constexpr std::chrono::milliseconds kShredRetryInterval{50};
constexpr int kShredWaitMs = 100;
// How long the writer may put off a cut, once a key is destroyed, while more groups are queued
// and no committer waits for the cut (WriteBatch::await_shredding off, as in a retention
// sweep): each cut costs about as much as a commit (mostly its syncs), so under a bulk erasure
// one cut after several groups serves all their erasures. A commit that awaits its shredding
// (a tenant's Erase) is cut right after its group, as before.
constexpr std::chrono::milliseconds kShredCoalesceLimit{10};

using internal::Connection;
using internal::SqlValue;
using internal::Statement;
using Json = nlohmann::json;
namespace merkle = crypto::merkle;

// ---------------------------------------------------------------------------------------------
// Conversions

int64_t ToNanos(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
SystemTime FromNanos(int64_t ns) {
  return SystemTime(std::chrono::duration_cast<SystemTime::duration>(std::chrono::nanoseconds(ns)));
}
int64_t FloorMicros(SystemTime t) {
  return std::chrono::floor<std::chrono::microseconds>(t.time_since_epoch()).count();
}
int64_t CeilMicros(SystemTime t) {
  return std::chrono::ceil<std::chrono::microseconds>(t.time_since_epoch()).count();
}
SystemTime FromMicros(int64_t us) {
  return SystemTime(
      std::chrono::duration_cast<SystemTime::duration>(std::chrono::microseconds(us)));
}

std::string_view HashBytes(const LeafHash& h) {
  return std::string_view(reinterpret_cast<const char*>(h.data()), h.size());
}

Result<LeafHash> HashFromBlob(std::string_view blob, std::string_view what) {
  LeafHash h{};
  if (blob.size() != h.size()) {
    return DataLoss(std::string(what) + " has " + std::to_string(blob.size()) +
                    " bytes, not 32");
  }
  std::memcpy(h.data(), blob.data(), h.size());
  return h;
}

// JSON text for columns that no query filters on. Refuses invalid UTF-8 rather than store
// something other than what was given.
Result<std::string> DumpJson(const Json& j, std::string_view what) {
  try {
    return j.dump();
  } catch (const Json::exception& e) {
    return InvalidArgument(std::string(what) + " is not valid UTF-8: " + e.what());
  }
}

Json LineageToJson(const std::vector<LineageLink>& links) {
  Json out = Json::array();
  for (const LineageLink& l : links) {
    out.push_back({{"name", l.name},
                   {"version", l.version},
                   {"digest", l.digest},
                   {"relation", l.relation},
                   {"kind", KindName(l.kind)}});
  }
  return out;
}

Result<std::vector<LineageLink>> LineageFromJson(const Json& j) {
  std::vector<LineageLink> out;
  for (const Json& l : j) {
    LineageLink link;
    link.name = l.at("name").get<std::string>();
    link.version = l.at("version").get<std::string>();
    link.digest = l.at("digest").get<std::string>();
    link.relation = l.at("relation").get<std::string>();
    SOV_ASSIGN_OR_RETURN(link.kind, ParseKind(l.at("kind").get<std::string>()));
    out.push_back(std::move(link));
  }
  return out;
}

Json SpecToJson(const ArtifactSpec& s) {
  Json labels = Json::object();
  for (const auto& [k, v] : s.labels) labels[k] = v;
  return {
      {"kind", KindName(s.kind)},
      {"name", s.name},
      {"version", s.version},
      {"mediaType", s.media_type},
      {"description", s.description},
      {"classification", s.classification},
      {"effectiveClassification", s.effective_classification},
      {"purposes", s.purposes},
      {"lawfulBasis", s.lawful_basis},
      {"specialCategoryCondition", s.special_category_condition},
      {"lineage", LineageToJson(s.lineage)},
      {"labels", std::move(labels)},
      {"retentionDeadline",
       s.retention_deadline.has_value() ? Json(ToNanos(*s.retention_deadline)) : Json(nullptr)},
      {"retentionAction", s.retention_action},
      {"retainUntil", s.retain_until.has_value() ? Json(ToNanos(*s.retain_until)) : Json(nullptr)},
      {"ownerTenant", s.owner_tenant},
      {"storageLocation", s.storage_location},
      {"storageJurisdiction", s.storage_jurisdiction},
      {"createdBy", s.created_by},
  };
}

Result<ArtifactSpec> SpecFromJson(std::string_view text) {
  try {
    Json j = Json::parse(text);
    ArtifactSpec s;
    SOV_ASSIGN_OR_RETURN(s.kind, ParseKind(j.at("kind").get<std::string>()));
    s.name = j.at("name").get<std::string>();
    s.version = j.at("version").get<std::string>();
    s.media_type = j.at("mediaType").get<std::string>();
    s.description = j.at("description").get<std::string>();
    s.classification = j.at("classification").get<std::string>();
    s.effective_classification = j.at("effectiveClassification").get<std::string>();
    s.purposes = j.at("purposes").get<std::vector<std::string>>();
    s.lawful_basis = j.at("lawfulBasis").get<std::string>();
    s.special_category_condition = j.at("specialCategoryCondition").get<std::string>();
    SOV_ASSIGN_OR_RETURN(s.lineage, LineageFromJson(j.at("lineage")));
    s.labels = j.at("labels").get<std::map<std::string, std::string>>();
    if (const Json& d = j.at("retentionDeadline"); !d.is_null()) {
      s.retention_deadline = FromNanos(d.get<int64_t>());
    }
    s.retention_action = j.at("retentionAction").get<std::string>();
    // Absent from uploads opened before schema 4.
    if (auto r = j.find("retainUntil"); r != j.end() && !r->is_null()) {
      s.retain_until = FromNanos(r->get<int64_t>());
    }
    s.owner_tenant = j.at("ownerTenant").get<std::string>();
    s.storage_location = j.at("storageLocation").get<std::string>();
    s.storage_jurisdiction = j.at("storageJurisdiction").get<std::string>();
    s.created_by = j.at("createdBy").get<std::string>();
    return s;
  } catch (const Json::exception& e) {
    return DataLoss(std::string("stored upload spec is malformed: ") + e.what());
  }
}

Json TombstoneToJson(const Tombstone& t) {
  return {
      {"eraseTime", ToNanos(t.erase_time)},
      {"tenantId", t.tenant_id},
      {"principal", t.principal},
      {"systemActor", t.system_actor},
      {"reason", t.reason},
      {"subjectRequestId", t.subject_request_id},
      {"auditIndex", t.audit_index},
  };
}

// Throws Json::exception on a malformed value; callers turn it into DATA_LOSS.
Tombstone TombstoneFromJson(const Json& j) {
  Tombstone t;
  t.erase_time = FromNanos(j.at("eraseTime").get<int64_t>());
  t.tenant_id = j.at("tenantId").get<std::string>();
  t.principal = j.at("principal");
  t.system_actor = j.at("systemActor").get<std::string>();
  t.reason = j.at("reason").get<std::string>();
  t.subject_request_id = j.at("subjectRequestId").get<std::string>();
  t.audit_index = j.at("auditIndex").get<int64_t>();
  return t;
}

Json NoticesToJson(const std::vector<LineageNotice>& notices) {
  Json out = Json::array();
  for (const LineageNotice& n : notices) {
    out.push_back({{"erasedName", n.erased_name},
                   {"erasedVersion", n.erased_version},
                   {"erasedDigest", n.erased_digest},
                   {"action", n.action},
                   {"ruleId", n.rule_id},
                   {"ruleLocation", n.rule_location},
                   {"time", ToNanos(n.time)}});
  }
  return out;
}

// Throws Json::exception on a malformed value; callers turn it into DATA_LOSS.
std::vector<LineageNotice> NoticesFromJson(const Json& j) {
  std::vector<LineageNotice> out;
  for (const Json& n : j) {
    LineageNotice notice;
    notice.erased_name = n.at("erasedName").get<std::string>();
    notice.erased_version = n.at("erasedVersion").get<std::string>();
    notice.erased_digest = n.at("erasedDigest").get<std::string>();
    notice.action = n.at("action").get<std::string>();
    notice.rule_id = n.at("ruleId").get<std::string>();
    notice.rule_location = n.at("ruleLocation").get<std::string>();
    notice.time = FromNanos(n.at("time").get<int64_t>());
    out.push_back(std::move(notice));
  }
  return out;
}

// The tombstone and lineage notices columns of an artifact row.
struct ErasureColumns {
  SqlValue tombstone;  // NULL when none
  std::string notices;
};

Result<ErasureColumns> ErasureColumnsOf(const ArtifactRecord& r) {
  ErasureColumns out;
  if (r.tombstone.has_value()) {
    SOV_ASSIGN_OR_RETURN(std::string t, DumpJson(TombstoneToJson(*r.tombstone), "tombstone"));
    out.tombstone = std::move(t);
  } else {
    out.tombstone = nullptr;
  }
  SOV_ASSIGN_OR_RETURN(out.notices, DumpJson(NoticesToJson(r.lineage_notices), "lineage notices"));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Queries

// Runs `sql` with `params` bound to ?1..?n and converts each row with `read_row`, a function
// from the Statement to Result<T>. The first failing step or conversion is the result.
template <typename T, typename ReadRow>
Result<std::vector<T>> QueryRows(Connection& c, const std::string& sql,
                                 const std::vector<SqlValue>& params, ReadRow read_row) {
  SOV_ASSIGN_OR_RETURN(Statement st, c.Prepare(sql));
  st.BindAll(params);
  std::vector<T> out;
  while (true) {
    SOV_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    SOV_ASSIGN_OR_RETURN(T value, read_row(st));
    out.push_back(std::move(value));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Artifact rows

constexpr char kArtifactColumns[] =
    "a.seq, a.id, a.name, a.version, a.kind, a.stage, a.owner_tenant, a.digest, a.size_bytes, "
    "a.media_type, a.description, a.classification, a.effective_classification, a.purposes, "
    "a.lawful_basis, a.special_category_condition, a.retention_deadline, a.retention_action, "
    "a.storage_location, a.storage_jurisdiction, a.created_by, a.manifest, "
    "a.release_requested, a.create_time, a.update_time, a.revision, a.tombstone, "
    "a.lineage_notices, a.retain_until";

struct StoredArtifact {
  int64_t seq = 0;
  ArtifactRecord record;
};

Result<StoredArtifact> ReadArtifactRow(const Statement& st) {
  StoredArtifact out;
  ArtifactRecord& r = out.record;
  ArtifactSpec& s = r.spec;
  out.seq = st.Int64(0);
  r.id = st.Text(1);
  s.name = st.Text(2);
  s.version = st.Text(3);
  SOV_ASSIGN_OR_RETURN(s.kind, ParseKind(st.Text(4)));
  SOV_ASSIGN_OR_RETURN(r.stage, ParseStage(st.Text(5)));
  s.owner_tenant = st.Text(6);
  r.digest = st.Text(7);
  r.size_bytes = st.Int64(8);
  s.media_type = st.Text(9);
  s.description = st.Text(10);
  s.classification = st.Text(11);
  s.effective_classification = st.Text(12);
  try {
    s.purposes = Json::parse(st.Text(13)).get<std::vector<std::string>>();
  } catch (const Json::exception& e) {
    return DataLoss("artifact " + r.id + ": stored purposes are malformed: " + e.what());
  }
  s.lawful_basis = st.Text(14);
  s.special_category_condition = st.Text(15);
  if (!st.IsNull(16)) s.retention_deadline = FromNanos(st.Int64(16));
  s.retention_action = st.Text(17);
  s.storage_location = st.Text(18);
  s.storage_jurisdiction = st.Text(19);
  s.created_by = st.Text(20);
  if (!st.IsNull(28)) s.retain_until = FromNanos(st.Int64(28));
  r.manifest = st.Text(21);
  r.release_requested = st.Int64(22) != 0;
  r.create_time = FromNanos(st.Int64(23));
  r.update_time = FromNanos(st.Int64(24));
  r.revision = st.Int64(25);
  try {
    if (!st.IsNull(26)) r.tombstone = TombstoneFromJson(Json::parse(st.Text(26)));
    r.lineage_notices = NoticesFromJson(Json::parse(st.Text(27)));
  } catch (const Json::exception& e) {
    return DataLoss("artifact " + r.id + ": stored tombstone or lineage notices are malformed: " +
                    e.what());
  }
  return out;
}

using Label = std::pair<std::string, std::string>;

Result<Label> ReadLabelRow(const Statement& st) { return Label(st.Text(0), st.Text(1)); }

Result<LineageLink> ReadLineageRow(const Statement& st) {
  LineageLink l;
  l.name = st.Text(0);
  l.version = st.Text(1);
  l.digest = st.Text(2);
  l.relation = st.Text(3);
  SOV_ASSIGN_OR_RETURN(l.kind, ParseKind(st.Text(4)));
  return l;
}

// An artifact's signatures and stage history, by its seq, in position order.
constexpr char kSelectSignatures[] =
    "SELECT keyid, role, signer, sig, time FROM artifact_signatures WHERE artifact_seq = ? "
    "ORDER BY position";
constexpr char kSelectHistory[] =
    "SELECT from_stage, to_stage, time, tenant_id, system_actor, reason, rule_id, "
    "rule_location, audit_index FROM stage_history WHERE artifact_seq = ? ORDER BY position";

Result<SignatureRecord> ReadSignatureRow(const Statement& st) {
  SignatureRecord s;
  s.keyid = st.Text(0);
  s.role = st.Text(1);
  s.signer = st.Text(2);
  s.sig = st.Blob(3);
  s.time = FromNanos(st.Int64(4));
  return s;
}

Result<StageEvent> ReadStageEventRow(const Statement& st) {
  StageEvent e;
  SOV_ASSIGN_OR_RETURN(e.from, ParseStage(st.Text(0)));
  SOV_ASSIGN_OR_RETURN(e.to, ParseStage(st.Text(1)));
  e.time = FromNanos(st.Int64(2));
  e.tenant_id = st.Text(3);
  e.system_actor = st.Text(4);
  e.reason = st.Text(5);
  e.rule_id = st.Text(6);
  e.rule_location = st.Text(7);
  e.audit_index = st.Int64(8);
  return e;
}

Status LoadChildren(Connection& c, StoredArtifact& a) {
  ArtifactRecord& r = a.record;
  SOV_ASSIGN_OR_RETURN(
      std::vector<Label> labels,
      QueryRows<Label>(c, "SELECT key, value FROM artifact_labels WHERE artifact_seq = ?",
                       {a.seq}, ReadLabelRow));
  for (Label& label : labels) r.spec.labels.emplace(std::move(label));
  SOV_ASSIGN_OR_RETURN(r.spec.lineage,
                       QueryRows<LineageLink>(c,
                                              "SELECT name, version, digest, relation, kind FROM "
                                              "artifact_lineage WHERE artifact_seq = ? "
                                              "ORDER BY position",
                                              {a.seq}, ReadLineageRow));
  SOV_ASSIGN_OR_RETURN(r.signatures,
                       QueryRows<SignatureRecord>(c, kSelectSignatures, {a.seq},
                                                  ReadSignatureRow));
  SOV_ASSIGN_OR_RETURN(r.history,
                       QueryRows<StageEvent>(c, kSelectHistory, {a.seq}, ReadStageEventRow));
  return OkStatus();
}

// Runs an artifact query (selecting kArtifactColumns) and loads each row's children.
Result<std::vector<StoredArtifact>> QueryArtifacts(Connection& c, const std::string& sql,
                                                   const std::vector<SqlValue>& params) {
  SOV_ASSIGN_OR_RETURN(std::vector<StoredArtifact> out,
                       QueryRows<StoredArtifact>(c, sql, params, ReadArtifactRow));
  for (StoredArtifact& a : out) SOV_RETURN_IF_ERROR(LoadChildren(c, a));
  return out;
}

std::vector<ArtifactRecord> Records(std::vector<StoredArtifact> stored) {
  std::vector<ArtifactRecord> out;
  out.reserve(stored.size());
  for (StoredArtifact& a : stored) out.push_back(std::move(a.record));
  return out;
}

Result<std::optional<ArtifactRecord>> First(Result<std::vector<StoredArtifact>> rows) {
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<ArtifactRecord>();
  return std::optional<ArtifactRecord>(std::move(rows->front().record));
}

// Inserts an artifact's signatures (or, below, history events) from position `first` on.
Status InsertSignatures(Connection& c, int64_t seq, const std::vector<SignatureRecord>& sigs,
                        size_t first = 0) {
  for (size_t i = first; i < sigs.size(); ++i) {
    const SignatureRecord& s = sigs[i];
    SOV_ASSIGN_OR_RETURN(Statement st,
                         c.Prepare("INSERT INTO artifact_signatures (artifact_seq, position, "
                                   "keyid, role, signer, sig, time) VALUES (?, ?, ?, ?, ?, ?, ?)"));
    st.Bind(1, seq).Bind(2, static_cast<int64_t>(i)).Bind(3, s.keyid).Bind(4, s.role);
    st.Bind(5, s.signer).BindBlob(6, s.sig).Bind(7, ToNanos(s.time));
    SOV_RETURN_IF_ERROR(st.Run());
  }
  return OkStatus();
}

Status InsertHistory(Connection& c, int64_t seq, const std::vector<StageEvent>& history,
                     size_t first = 0) {
  for (size_t i = first; i < history.size(); ++i) {
    const StageEvent& e = history[i];
    SOV_ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("INSERT INTO stage_history (artifact_seq, position, from_stage, to_stage, time, "
                  "tenant_id, system_actor, reason, rule_id, rule_location, audit_index) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    st.Bind(1, seq).Bind(2, static_cast<int64_t>(i)).Bind(3, StageName(e.from));
    st.Bind(4, StageName(e.to)).Bind(5, ToNanos(e.time)).Bind(6, e.tenant_id);
    st.Bind(7, e.system_actor).Bind(8, e.reason).Bind(9, e.rule_id).Bind(10, e.rule_location);
    st.Bind(11, e.audit_index);
    SOV_RETURN_IF_ERROR(st.Run());
  }
  return OkStatus();
}

// Brings an artifact's child rows in `table` (read in position order by `select`, one parameter:
// the artifact's seq) in line with `wanted`, rewriting them only from the first position where
// they differ: an update usually appends one history event and keeps the signatures as they are.
template <typename T, typename ReadRow, typename Insert>
Status UpdateChildRows(Connection& c, int64_t seq, const char* table, const char* select,
                       ReadRow read_row, const std::vector<T>& wanted, Insert insert) {
  SOV_ASSIGN_OR_RETURN(std::vector<T> stored, QueryRows<T>(c, select, {seq}, read_row));
  size_t same = 0;
  while (same < stored.size() && same < wanted.size() && stored[same] == wanted[same]) ++same;
  if (same < stored.size()) {
    SOV_ASSIGN_OR_RETURN(Statement st,
                         c.Prepare(std::string("DELETE FROM ") + table +
                                   " WHERE artifact_seq = ? AND position >= ?"));
    st.Bind(1, seq).Bind(2, static_cast<int64_t>(same));
    SOV_RETURN_IF_ERROR(st.Run());
  }
  return insert(c, seq, wanted, same);
}

Result<int64_t> InsertArtifactRow(Connection& c, const ArtifactRecord& r) {
  const ArtifactSpec& s = r.spec;
  SOV_ASSIGN_OR_RETURN(std::string purposes, DumpJson(Json(s.purposes), "artifact purposes"));
  SOV_ASSIGN_OR_RETURN(ErasureColumns erasure, ErasureColumnsOf(r));
  {
    SOV_ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("INSERT INTO artifacts (id, name, version, kind, stage, owner_tenant, digest, "
                  "size_bytes, media_type, description, classification, "
                  "effective_classification, purposes, lawful_basis, "
                  "special_category_condition, retention_deadline, retention_action, "
                  "storage_location, storage_jurisdiction, created_by, manifest, "
                  "release_requested, create_time, update_time, revision, tombstone, "
                  "lineage_notices, retain_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                  "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    st.Bind(1, r.id).Bind(2, s.name).Bind(3, s.version).Bind(4, KindName(s.kind));
    st.Bind(5, StageName(r.stage)).Bind(6, s.owner_tenant).Bind(7, r.digest);
    st.Bind(8, r.size_bytes).Bind(9, s.media_type).Bind(10, s.description);
    st.Bind(11, s.classification).Bind(12, s.effective_classification).Bind(13, purposes);
    st.Bind(14, s.lawful_basis).Bind(15, s.special_category_condition);
    if (s.retention_deadline.has_value()) {
      st.Bind(16, ToNanos(*s.retention_deadline));
    } else {
      st.BindNull(16);
    }
    st.Bind(17, s.retention_action).Bind(18, s.storage_location);
    st.Bind(19, s.storage_jurisdiction).Bind(20, s.created_by).Bind(21, r.manifest);
    st.Bind(22, int64_t{r.release_requested ? 1 : 0}).Bind(23, ToNanos(r.create_time));
    st.Bind(24, ToNanos(r.update_time)).Bind(25, r.revision);
    st.BindValue(26, erasure.tombstone).Bind(27, erasure.notices);
    if (s.retain_until.has_value()) {
      st.Bind(28, ToNanos(*s.retain_until));
    } else {
      st.BindNull(28);
    }
    SOV_RETURN_IF_ERROR(st.Run());
  }
  int64_t seq = c.LastInsertRowid();
  for (const auto& [key, value] : s.labels) {
    SOV_ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("INSERT INTO artifact_labels (artifact_seq, key, value) VALUES (?, ?, ?)"));
    st.Bind(1, seq).Bind(2, key).Bind(3, value);
    SOV_RETURN_IF_ERROR(st.Run());
  }
  for (size_t i = 0; i < s.lineage.size(); ++i) {
    const LineageLink& l = s.lineage[i];
    SOV_ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("INSERT INTO artifact_lineage (artifact_seq, position, name, version, digest, "
                  "relation, kind) VALUES (?, ?, ?, ?, ?, ?, ?)"));
    st.Bind(1, seq).Bind(2, static_cast<int64_t>(i)).Bind(3, l.name).Bind(4, l.version);
    st.Bind(5, l.digest).Bind(6, l.relation).Bind(7, KindName(l.kind));
    SOV_RETURN_IF_ERROR(st.Run());
  }
  SOV_RETURN_IF_ERROR(InsertSignatures(c, seq, r.signatures));
  SOV_RETURN_IF_ERROR(InsertHistory(c, seq, r.history));
  return seq;
}

// ---------------------------------------------------------------------------------------------
// Upload rows

constexpr char kUploadColumns[] =
    "id, spec, declared_size, expected_digest, committed_offset, state, wrapped_key, "
    "blob_header, artifact_id, abort_reason, create_time, update_time, expire_time, "
    "decision_rule, decision_policy, revision";

Result<UploadRecord> ReadUploadRow(const Statement& st) {
  UploadRecord u;
  u.id = st.Text(0);
  SOV_ASSIGN_OR_RETURN(u.spec, SpecFromJson(st.Text(1)));
  if (!st.IsNull(2)) u.declared_size = st.Int64(2);
  u.expected_digest = st.Text(3);
  u.committed_offset = st.Int64(4);
  SOV_ASSIGN_OR_RETURN(u.state, ParseUploadState(st.Text(5)));
  u.wrapped_key = st.Blob(6);
  u.blob_header = st.Blob(7);
  u.artifact_id = st.Text(8);
  u.abort_reason = st.Text(9);
  u.create_time = FromNanos(st.Int64(10));
  u.update_time = FromNanos(st.Int64(11));
  u.expire_time = FromNanos(st.Int64(12));
  u.decision_rule = st.Text(13);
  u.decision_policy = st.Text(14);
  u.revision = st.Int64(15);
  return u;
}

// ---------------------------------------------------------------------------------------------
// Validation job rows

constexpr char kJobColumns[] =
    "seq, id, model_name, model_version, model_digest, state, report_only, requested_backend, "
    "backend, worker, attempt, progress, phase, datasets, create_time, start_time, end_time, "
    "lease_expire_time, report_name, report_version, report_digest, gate_results, "
    "outcome_stage, error, requested_by, policy_digest, revision";

Result<JobRecord> ReadJobRow(const Statement& st) {
  JobRecord j;
  j.seq = st.Int64(0);
  j.id = st.Text(1);
  j.model_name = st.Text(2);
  j.model_version = st.Text(3);
  j.model_digest = st.Text(4);
  SOV_ASSIGN_OR_RETURN(j.state, ParseJobState(st.Text(5)));
  j.report_only = st.Int64(6) != 0;
  j.requested_backend = st.Text(7);
  j.backend = st.Text(8);
  j.worker = st.Text(9);
  j.attempt = static_cast<int32_t>(st.Int64(10));
  j.progress = st.Double(11);
  j.phase = st.Text(12);
  try {
    SOV_ASSIGN_OR_RETURN(j.datasets, LineageFromJson(Json::parse(st.Text(13))));
    j.gate_results = Json::parse(st.Text(21));
  } catch (const Json::exception& e) {
    return DataLoss("validation job " + j.id + ": stored datasets or gate results are malformed: " +
                    e.what());
  }
  j.create_time = FromNanos(st.Int64(14));
  j.start_time = FromNanos(st.Int64(15));
  j.end_time = FromNanos(st.Int64(16));
  j.lease_expire_time = FromNanos(st.Int64(17));
  j.report_name = st.Text(18);
  j.report_version = st.Text(19);
  j.report_digest = st.Text(20);
  if (!st.IsNull(22)) {
    SOV_ASSIGN_OR_RETURN(Stage stage, ParseStage(st.Text(22)));
    j.outcome_stage = stage;
  }
  j.error = st.Text(23);
  j.requested_by = st.Text(24);
  j.policy_digest = st.Text(25);
  j.revision = st.Int64(26);
  return j;
}

// The JSON columns of a job row.
struct JobJson {
  std::string datasets;
  std::string gate_results;
};

Result<JobJson> JobJsonOf(const JobRecord& j) {
  JobJson out;
  SOV_ASSIGN_OR_RETURN(out.datasets, DumpJson(LineageToJson(j.datasets), "job datasets"));
  SOV_ASSIGN_OR_RETURN(out.gate_results, DumpJson(j.gate_results, "job gate results"));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Audit rows

// Reads a row of "SELECT idx, append_time, leaf_data, leaf_hash FROM audit_entries".
Result<AuditRecord> ReadAuditRow(const Statement& st) {
  AuditRecord r;
  r.index = st.Int64(0);
  r.append_time = FromMicros(st.Int64(1));
  r.leaf_data = st.Blob(2);
  SOV_ASSIGN_OR_RETURN(r.leaf_hash,
                       HashFromBlob(st.Blob(3), "leaf hash " + std::to_string(r.index)));
  return r;
}

// ---------------------------------------------------------------------------------------------
// Checkpoint and key revocation rows

// Reads a row of "SELECT tree_size, root, time, envelope FROM checkpoints".
Result<CheckpointRecord> ReadCheckpointRow(const Statement& st) {
  CheckpointRecord cp;
  cp.tree_size = st.Int64(0);
  SOV_ASSIGN_OR_RETURN(cp.root, HashFromBlob(st.Blob(1), "checkpoint root"));
  cp.time = FromNanos(st.Int64(2));
  cp.envelope = st.Text(3);
  return cp;
}

// Reads a row of "SELECT keyid, owner_tenant, reason, revoked_by, time FROM key_revocations".
Result<KeyRevocation> ReadKeyRevocationRow(const Statement& st) {
  KeyRevocation r;
  r.keyid = st.Text(0);
  r.owner_tenant = st.Text(1);
  r.reason = st.Text(2);
  r.revoked_by = st.Text(3);
  r.time = FromNanos(st.Int64(4));
  return r;
}

// One past the last leaf of the perfect subtree at (level, index): audit_nodes' key. Callers
// check that it fits (index < INT64_MAX >> level).
int64_t SubtreeEnd(int level, int64_t index) { return (index + 1) << level; }

// The perfect subtree hash at (level, index) as `c` sees it.
Result<LeafHash> ReadNode(Connection& c, int level, int64_t index) {
  if (level < 0 || level > 62 || index < 0) {
    return InvalidArgument("no audit subtree at level " + std::to_string(level) + ", index " +
                           std::to_string(index));
  }
  auto incomplete = [&] {
    return NotFound("the audit subtree at level " + std::to_string(level) + ", index " +
                    std::to_string(index) + " is not complete");
  };
  if (index >= (INT64_MAX >> level)) return incomplete();  // it would end beyond any log
  std::string sql = level == 0 ? "SELECT leaf_hash FROM audit_entries WHERE idx = ?"
                               : "SELECT hash FROM audit_nodes WHERE end_idx = ? AND level = ?";
  SOV_ASSIGN_OR_RETURN(Statement st, c.Prepare(sql));
  st.Bind(1, level == 0 ? index : SubtreeEnd(level, index));
  if (level > 0) st.Bind(2, int64_t{level});
  SOV_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return incomplete();
  return HashFromBlob(st.Blob(0), "audit node");
}

merkle::NodeSource NodeSourceOf(Connection& c) {
  return [&c](int level, uint64_t index) -> Result<merkle::Hash> {
    return ReadNode(c, level, static_cast<int64_t>(index));
  };
}

SqlValue NullIfEmpty(const std::string& s) {
  if (s.empty()) return nullptr;
  return s;
}

std::string Placeholders(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += i == 0 ? "?" : ", ?";
  return out;
}

// The smallest string greater than every string that starts with `prefix`, or nullopt when none
// exists (the prefix is all 0xff bytes).
std::optional<std::string> PrefixUpperBound(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (prefix.empty()) return std::nullopt;
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

template <typename... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <typename... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

// Sleeps until `word` may no longer hold `seen` (spurious returns allowed). A bare futex:
// std::atomic::wait spins and calls sched_yield first, which on a busy machine costs more than
// it saves for waits that last a whole group commit.
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
              std::atomic<uint32_t>::is_always_lock_free);
void FutexWait(std::atomic<uint32_t>& word, uint32_t seen) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, seen, nullptr,
            nullptr, 0);
}

// Waits until the counter `word` reaches `target`. Counters wrap around: a value at or after
// `target` (within half the range) has reached it.
void WaitUntilReached(std::atomic<uint32_t>& word, uint32_t target) {
  for (uint32_t seen = word.load(std::memory_order_acquire);
       static_cast<int32_t>(seen - target) < 0; seen = word.load(std::memory_order_acquire)) {
    FutexWait(word, seen);
  }
}

// Wakes every thread in FutexWait on `word`, with one system call.
void FutexWakeAll(std::atomic<uint32_t>& word) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
            nullptr, 0);
}

// True when `batch` may change what FindArtifact returns: it holds more than audit appends,
// checkpoints, upload, job and key revocation changes. (A tombstone or lineage notice changes
// through UpdateArtifact, so it counts.)
bool MayChangeArtifacts(const WriteBatch& batch) {
  return std::any_of(batch.mutations.begin(), batch.mutations.end(), [](const Mutation& m) {
    return !std::holds_alternative<mutation::AppendAudit>(m) &&
           !std::holds_alternative<mutation::PutCheckpoint>(m) &&
           !std::holds_alternative<mutation::CreateUpload>(m) &&
           !std::holds_alternative<mutation::UpdateUpload>(m) &&
           !std::holds_alternative<mutation::EnqueueJob>(m) &&
           !std::holds_alternative<mutation::UpdateJob>(m) &&
           !std::holds_alternative<mutation::RevokeKey>(m);
  });
}

// True when `batch` only appends audit entries: nothing in it can be refused.
bool AppendsOnly(const WriteBatch& batch) {
  return std::all_of(batch.mutations.begin(), batch.mutations.end(), [](const Mutation& m) {
    return std::holds_alternative<mutation::AppendAudit>(m);
  });
}

Status CreatePrivateFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return OkStatus();
    return Unavailable("cannot create database " + path + ": " + std::strerror(errno));
  }
  Status st;
  if (::fchmod(fd, 0600) != 0) {
    st = Internal("cannot chmod database " + path + ": " + std::strerror(errno));
  }
  ::close(fd);
  return st;
}

}  // namespace

// -----------------------------------------------------------------------------------------------
// Impl

class SqliteMetadataStore::Impl {
 public:
  explicit Impl(Options options) : options_(options) {}
  ~Impl();

  Status Init(const std::string& path);

  Result<CommitResult> Commit(WriteBatch batch);
  void CommitAsync(WriteBatch batch, CommitCallback done);
  void AwaitShredding();
  GroupCommitStats stats() const {
    GroupCommitStats stats;
    stats.groups = groups_.load();
    stats.batches = batches_.load();
    stats.shred_checkpoints_deferred = shred_deferred_.load();
    stats.shred_checkpoint_pending = shred_pending_.load();
    stats.shred_checkpoint_wal_bytes = shred_wal_bytes_.load();
    stats.shred_cuts = shred_cuts_.load();
    stats.shred_key_groups = shred_key_groups_.load();
    return stats;
  }

  // FindArtifact's answers are kept while no group that may change an artifact runs: read the
  // generation before taking the snapshot, and cache what the snapshot gave under it. Odd
  // generations (such a group is running) are never cached or answered from the cache.
  uint64_t artifact_generation() const {
    return artifact_generation_.load(std::memory_order_acquire);
  }
  bool cache_artifacts() const { return options_.cache_artifacts; }
  std::optional<ArtifactRecord> CachedArtifact(const std::string& name,
                                               const std::string& version, uint64_t generation);
  void CacheArtifact(const ArtifactRecord& record, uint64_t generation);

  // Runs `f(connection)` on a pooled read connection inside one read transaction, so that it
  // sees one snapshot.
  template <typename T, typename F>
  Result<T> Read(F&& f);

 private:
  // The audit tree's right edge and chain head, as of the writer's open transaction.
  struct AuditState {
    merkle::CompactRange range;
    LeafHash last_leaf{};
    int64_t last_time_us = 0;
  };
  struct Pending {
    WriteBatch batch;
    // The leaves of the batch's AppendAudit mutations, in batch order, prepared by the
    // committing thread: the writer, which every commit waits for, only places them.
    std::vector<PreparedLeaf> leaves;
    uint32_t group = 0;  // the number of the group it commits in
    std::optional<Result<CommitResult>> result;  // set by the writer before it finishes the group
    // Set for CommitAsync: the Pending is then the writer's, which calls `done` and deletes it.
    CommitCallback done;
    // Set by the writer while it applies the group: the batch destroyed a data key.
    bool destroyed_key = false;
    // Set by the writer before it finishes the group: nonzero when the batch destroyed a key
    // and readers held up the WAL's cut; its committer then waits on past the group until
    // shred_released_ reaches this ticket.
    uint32_t shred_ticket = 0;
  };
  // The key-destroying commits of one group whose WAL cut readers held up, waiting for it.
  struct HeldShred {
    uint32_t ticket;
    std::chrono::steady_clock::time_point deadline;  // released uncut after it
    std::vector<std::unique_ptr<Pending>> asynchronous;  // their callbacks wait too
  };

  // Prepares the batch's audit leaves and queues it for the writer; UNAVAILABLE, with nothing
  // queued, once the store is stopping.
  Status Enqueue(Pending& pending);
  Status Migrate(const std::string& path);
  // Loads the audit tree's right edge and chain head from the database; at Open also checks
  // the latest checkpoint against the log.
  Status LoadAuditState(bool verify_checkpoint);
  // Inside the writer's transaction: reloads the audit state when another connection (another
  // process on the same file) has committed since this writer last looked.
  Status SyncAuditState();
  void WriterLoop();
  void CompleterLoop();
  void RunGroup(std::vector<Pending*>& group, uint32_t number);
  // Hands finished CommitAsync batches to the completer thread, which runs their callbacks.
  void Complete(std::vector<std::unique_ptr<Pending>>& asynchronous);
  // Applies and commits `group` in one transaction, filling `results`. False, with nothing
  // applied, when a batch without a savepoint of its own failed.
  bool ApplyGroup(std::vector<Pending*>& group,
                  std::vector<std::optional<Result<CommitResult>>>& results,
                  bool savepoint_every_batch);
  Result<CommitResult> ApplyBatch(const Pending& pending);

  Status Apply(const mutation::CreateUpload& m);
  Status Apply(const mutation::UpdateUpload& m);
  Status Apply(const mutation::CommitUpload& m);
  Status Apply(const mutation::InsertArtifact& m);
  Status Apply(const mutation::UpdateArtifact& m);
  Status Apply(const mutation::DeleteDataKey& m);
  Status Apply(const mutation::EnqueueJob& m);
  Status Apply(const mutation::UpdateJob& m);
  Status Apply(const mutation::RevokeKey& m);
  Status Apply(const mutation::AppendAudit& m, const PreparedLeaf& leaf, CommitResult& result);
  Status Apply(const mutation::PutCheckpoint& m);

  Result<bool> Exists(const std::string& sql, const std::vector<SqlValue>& params);
  Status CheckVersionFree(const std::string& name, const std::string& version);
  Status InsertDataKey(const std::string& artifact_id, const std::string& wrapped_key);

  // Checkpoints the WAL into the database and cuts it to zero length, waiting at most
  // `busy_timeout_ms` for readers of older snapshots; false when one held it up (or it failed).
  // A cut adds the WAL's size to shred_wal_bytes_.
  bool TruncateWal(int busy_timeout_ms);
  // After a group's COMMIT: the crypto-shredding checkpoint, when the group destroyed a key or
  // an earlier cut is still to be done. True when the WAL is cut (or needed no cut).
  bool ShredCheckpoint(bool destroyed_key);
  // After a group's COMMIT, with a cut due: true when it may wait for the next group instead
  // (no committer awaits the cut, more batches are queued, and the first key destroyed since
  // the last cut was destroyed less than kShredCoalesceLimit ago).
  bool CoalesceCut();
  // Lets the first `count` held sets' committers return (their WAL was cut when `cut`).
  void ReleaseHeld(size_t count, bool cut);
  // Releases, uncut, the held sets whose deadline has passed.
  void ExpireHeld();

  std::unique_ptr<Connection> AcquireReader();
  void ReleaseReader(std::unique_ptr<Connection> c);

  const Options options_;

  // Writer state: used by the writer thread only, once it runs (by Init before).
  std::unique_ptr<Connection> writer_;
  AuditState audit_;
  int64_t keys_destroyed_ = 0;  // data key rows deleted, rolled-back deletions included
  std::deque<HeldShred> held_;  // oldest first
  // The ticket of the last held set (0: none yet), for AwaitShredding.
  std::atomic<uint32_t> last_ticket_{0};
  // When the first key destroyed since the last cut was committed; empty when none is uncut.
  std::optional<std::chrono::steady_clock::time_point> uncut_since_;
  // A commit that awaits its shredding destroyed a key since the last cut.
  bool awaited_uncut_ = false;
  uint32_t next_ticket_ = 0;
  // A key-destroying group's checkpoint could not truncate the WAL yet (set by the writer,
  // read by stats()).
  std::atomic<bool> shred_pending_{false};
  std::atomic<int64_t> shred_deferred_{0};
  std::atomic<int64_t> shred_wal_bytes_{0};
  std::atomic<int64_t> shred_cuts_{0};
  std::atomic<int64_t> shred_key_groups_{0};
  std::string wal_path_;  // the database's -wal file
  int64_t data_version_ = 0;  // PRAGMA data_version when audit_ was last in step with the file

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Pending*> queue_;  // SOV_GUARDED_BY(queue_mu_)
  bool stopping_ = false;       // SOV_GUARDED_BY(queue_mu_)
  uint32_t next_group_ = 1;     // SOV_GUARDED_BY(queue_mu_): the group the queue will form
  // The number of the last finished group of each parity. Committers wait on their group's
  // word, so that finishing a group wakes all of its committers with one call (waking them
  // one by one let each woken thread preempt the writer) and none queued for the next group.
  std::atomic<uint32_t> finished_[2] = {0, 0};
  // The ticket of the last held set released (HeldShred); tickets are given in order and
  // released in order, so every ticket up to it is released.
  std::atomic<uint32_t> shred_released_{0};
  std::thread thread_;
  // Finished CommitAsync batches whose callbacks the completer thread is to run.
  std::mutex completions_mu_;
  std::condition_variable completions_cv_;
  std::vector<std::unique_ptr<Pending>> completions_;  // SOV_GUARDED_BY(completions_mu_)
  bool completer_stopping_ = false;                    // SOV_GUARDED_BY(completions_mu_)
  std::thread completer_;
  std::atomic<int64_t> groups_{0};
  std::atomic<int64_t> batches_{0};

  // Made odd before a group that may change an artifact starts, and even again after it ends
  // (before its committers return), so that no reader's snapshot can straddle a change
  // unnoticed.
  std::atomic<uint64_t> artifact_generation_{0};
  std::mutex cache_mu_;
  uint64_t cache_generation_ = 0;  // SOV_GUARDED_BY(cache_mu_): of every cached record
  std::map<std::pair<std::string, std::string>, ArtifactRecord>
      artifact_cache_;  // SOV_GUARDED_BY(cache_mu_), by name and version

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Connection>> idle_readers_;  // SOV_GUARDED_BY(pool_mu_)
};

SqliteMetadataStore::Impl::~Impl() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard<std::mutex> lock(completions_mu_);
    completer_stopping_ = true;
  }
  completions_cv_.notify_all();
  if (completer_.joinable()) completer_.join();
}

Status SqliteMetadataStore::Impl::Init(const std::string& path) {
  SOV_RETURN_IF_ERROR(CreatePrivateFile(path));
  wal_path_ = path + "-wal";
  SOV_ASSIGN_OR_RETURN(writer_, Connection::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                                 internal::GatheringVfsName()));
  writer_->SetBusyTimeout(options_.busy_timeout_ms);
  {
    // journal_mode answers with the mode in force; anything but "wal" (a file system without
    // shared memory, say) would silently lose the readers-beside-writer design.
    SOV_ASSIGN_OR_RETURN(Statement st, writer_->Prepare("PRAGMA journal_mode = WAL"));
    SOV_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row || st.Text(0) != "wal") {
      return FailedPrecondition("database " + path + " cannot use WAL journal mode (got '" +
                                (row ? st.Text(0) : std::string()) + "')");
    }
  }
  // temp_store = MEMORY keeps each batch's savepoint journal in memory: on disk it is a temp
  // file opened, written page by page and unlinked in every group (most of the writer's time),
  // and it would leave copies of pages (data keys included) in /var/tmp.
  SOV_RETURN_IF_ERROR(writer_->Exec(
      "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; "
      "PRAGMA journal_size_limit = 67108864; PRAGMA temp_store = MEMORY;"));
  SOV_RETURN_IF_ERROR(Migrate(path));
  SOV_RETURN_IF_ERROR(LoadAuditState(/*verify_checkpoint=*/true));
  SOV_ASSIGN_OR_RETURN(data_version_, writer_->QueryInt("PRAGMA data_version"));
  // A crash can leave a destroyed key's old page in the WAL (before its group's checkpoint, or
  // while a reader held that up): cut the WAL now. Should another process's reader hold it up,
  // the writer retries (WriterLoop).
  shred_pending_ = !TruncateWal(kShredWaitMs);

  for (int i = 0; i < std::max(1, options_.read_connections); ++i) {
    SOV_ASSIGN_OR_RETURN(std::unique_ptr<Connection> reader,
                         Connection::Open(path, SQLITE_OPEN_READONLY));
    reader->SetBusyTimeout(options_.busy_timeout_ms);
    idle_readers_.push_back(std::move(reader));
  }
  thread_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "sov-db-writer");
    WriterLoop();
  });
  completer_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "sov-db-complete");
    CompleterLoop();
  });
  return OkStatus();
}

Status SqliteMetadataStore::Impl::Migrate(const std::string& path) {
  std::span<const std::string_view> migrations = internal::SqliteMigrations();
  const auto known = static_cast<int64_t>(migrations.size());
  SOV_ASSIGN_OR_RETURN(int64_t version, writer_->QueryInt("PRAGMA user_version"));
  if (version > known) {
    return FailedPrecondition("database " + path + " has schema version " +
                              std::to_string(version) + ", but this build knows versions up to " +
                              std::to_string(known) +
                              ": it was written by a newer sovd; run that version (or newer), or "
                              "restore a backup made for this one");
  }
  if (version < 0) {
    return DataLoss("database " + path + " has a negative schema version " +
                    std::to_string(version));
  }
  for (int64_t v = version; v < known; ++v) {
    Status st = writer_->Run("BEGIN IMMEDIATE");
    if (st.ok()) st = writer_->Exec(migrations[static_cast<size_t>(v)]);
    // user_version lives in the database header, which the transaction covers.
    if (st.ok()) st = writer_->Exec("PRAGMA user_version = " + std::to_string(v + 1));
    if (st.ok()) st = writer_->Run("COMMIT");
    if (!st.ok()) {
      if (!writer_->InAutocommit()) (void)writer_->Run("ROLLBACK");
      return st.WithContext("migrating " + path + " to schema version " + std::to_string(v + 1));
    }
  }
  return OkStatus();
}

Status SqliteMetadataStore::Impl::SyncAuditState() {
  // data_version changes only when another connection commits; this writer's own commits (and
  // the read-only pool, which never writes) leave it alone, so the check costs one pragma.
  SOV_ASSIGN_OR_RETURN(int64_t version, writer_->QueryInt("PRAGMA data_version"));
  if (version == data_version_) return OkStatus();
  SOV_RETURN_IF_ERROR(LoadAuditState(/*verify_checkpoint=*/false));
  data_version_ = version;
  return OkStatus();
}

Status SqliteMetadataStore::Impl::LoadAuditState(bool verify_checkpoint) {
  Connection& c = *writer_;
  SOV_ASSIGN_OR_RETURN(int64_t size,
                       c.QueryInt("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_entries"));
  std::vector<merkle::Hash> frontier;
  for (int level = 62; level >= 0; --level) {
    if ((size >> level & 1) == 0) continue;
    Result<LeafHash> node = ReadNode(c, level, (size >> level) - 1);
    if (!node.ok()) {
      return DataLoss("audit log of " + std::to_string(size) +
                      " entries is missing a subtree hash: " + node.status().message());
    }
    frontier.push_back(*node);
  }
  Result<merkle::CompactRange> range =
      merkle::CompactRange::FromFrontier(static_cast<uint64_t>(size), std::move(frontier));
  if (!range.ok()) return DataLoss("audit tree: " + range.status().message());
  audit_.range = std::move(*range);

  if (size > 0) {
    SOV_ASSIGN_OR_RETURN(
        Statement st,
        c.Prepare("SELECT leaf_data, leaf_hash, append_time FROM audit_entries WHERE idx = ?"));
    st.Bind(1, size - 1);
    SOV_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return DataLoss("audit entry " + std::to_string(size - 1) + " is missing");
    SOV_ASSIGN_OR_RETURN(audit_.last_leaf, HashFromBlob(st.Blob(1), "last audit leaf hash"));
    if (merkle::LeafHash(st.Blob(0)) != audit_.last_leaf) {
      return DataLoss("audit entry " + std::to_string(size - 1) +
                      " does not match its stored leaf hash");
    }
    audit_.last_time_us = st.Int64(2);
  } else {
    audit_.last_leaf = LeafHash{};
    audit_.last_time_us = 0;
  }
  if (!verify_checkpoint) return OkStatus();

  // The latest signed checkpoint must still describe this log.
  SOV_ASSIGN_OR_RETURN(
      Statement st,
      c.Prepare("SELECT tree_size, root FROM checkpoints ORDER BY tree_size DESC LIMIT 1"));
  SOV_ASSIGN_OR_RETURN(bool row, st.Step());
  if (row) {
    int64_t tree_size = st.Int64(0);
    SOV_ASSIGN_OR_RETURN(LeafHash root, HashFromBlob(st.Blob(1), "checkpoint root"));
    if (tree_size > size) {
      return DataLoss("the latest audit checkpoint covers " + std::to_string(tree_size) +
                      " entries but the log holds only " + std::to_string(size));
    }
    Result<merkle::Hash> actual =
        merkle::SubtreeHash(0, static_cast<uint64_t>(tree_size), NodeSourceOf(c));
    if (!actual.ok() || *actual != root) {
      return DataLoss("the audit log no longer matches its checkpoint at tree size " +
                      std::to_string(tree_size));
    }
  }
  return OkStatus();
}

std::unique_ptr<Connection> SqliteMetadataStore::Impl::AcquireReader() {
  std::unique_lock<std::mutex> lock(pool_mu_);
  pool_cv_.wait(lock, [this] { return !idle_readers_.empty(); });
  std::unique_ptr<Connection> c = std::move(idle_readers_.back());
  idle_readers_.pop_back();
  return c;
}

void SqliteMetadataStore::Impl::ReleaseReader(std::unique_ptr<Connection> c) {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    idle_readers_.push_back(std::move(c));
  }
  pool_cv_.notify_one();
}

template <typename T, typename F>
Result<T> SqliteMetadataStore::Impl::Read(F&& f) {
  std::unique_ptr<Connection> c = AcquireReader();
  Status begin = c->Run("BEGIN");
  if (!begin.ok()) {
    ReleaseReader(std::move(c));
    return begin;
  }
  Result<T> result = f(*c);
  // A read transaction has nothing to keep; ending it releases the snapshot.
  Status end = c->Run("COMMIT");
  if (!end.ok() && !c->InAutocommit()) (void)c->Run("ROLLBACK");
  ReleaseReader(std::move(c));
  if (result.ok() && !end.ok()) return end;
  return result;
}

std::optional<ArtifactRecord> SqliteMetadataStore::Impl::CachedArtifact(
    const std::string& name, const std::string& version, uint64_t generation) {
  if (generation % 2 != 0) return std::nullopt;
  std::lock_guard<std::mutex> lock(cache_mu_);
  if (cache_generation_ != generation) return std::nullopt;
  auto it = artifact_cache_.find({name, version});
  if (it == artifact_cache_.end()) return std::nullopt;
  return it->second;
}

void SqliteMetadataStore::Impl::CacheArtifact(const ArtifactRecord& record, uint64_t generation) {
  // Enough for the artifacts in use; an older generation's records are never valid again.
  constexpr size_t kMaxCached = 1024;
  if (generation % 2 != 0) return;
  std::lock_guard<std::mutex> lock(cache_mu_);
  if (generation != artifact_generation()) return;
  if (cache_generation_ != generation || artifact_cache_.size() >= kMaxCached) {
    artifact_cache_.clear();
    cache_generation_ = generation;
  }
  artifact_cache_.emplace(std::make_pair(record.spec.name, record.spec.version), record);
}

// ---------------------------------------------------------------------------------------------
// The writer

Status SqliteMetadataStore::Impl::Enqueue(Pending& pending) {
  for (const Mutation& m : pending.batch.mutations) {
    if (const auto* append = std::get_if<mutation::AppendAudit>(&m)) {
      pending.leaves.push_back(PrepareLeafData(append->event));
    }
  }
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (stopping_) return Unavailable("the metadata store is shutting down");
    pending.group = next_group_;
    queue_.push_back(&pending);
  }
  queue_cv_.notify_one();
  return OkStatus();
}

Result<CommitResult> SqliteMetadataStore::Impl::Commit(WriteBatch batch) {
  Pending pending{std::move(batch), {}, 0, std::nullopt, nullptr};
  SOV_RETURN_IF_ERROR(Enqueue(pending));
  // A finished number at or after our group's means ours is done.
  WaitUntilReached(finished_[pending.group % 2], pending.group);
  // Our key's destruction is committed, but readers held up the WAL's cut: wait for it (or for
  // the deadline; see RunGroup).
  if (pending.shred_ticket != 0) WaitUntilReached(shred_released_, pending.shred_ticket);
  return std::move(*pending.result);
}

void SqliteMetadataStore::Impl::AwaitShredding() {
  // Every key-destroying group that finished before this call has either been cut, or holds a
  // ticket no later than the last one given: wait for that one's release.
  const uint32_t ticket = last_ticket_.load(std::memory_order_acquire);
  if (ticket != 0) WaitUntilReached(shred_released_, ticket);
}

void SqliteMetadataStore::Impl::CommitAsync(WriteBatch batch, CommitCallback done) {
  auto pending = std::make_unique<Pending>(
      Pending{std::move(batch), {}, 0, std::nullopt, std::move(done)});
  if (Status queued = Enqueue(*pending); !queued.ok()) {
    pending->done(std::move(queued));
    return;
  }
  (void)pending.release();  // the writer's now
}

void SqliteMetadataStore::Impl::WriterLoop() {
  while (true) {
    std::vector<Pending*> group;
    uint32_t number;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      auto ready = [this] { return stopping_ || !queue_.empty(); };
      if (!held_.empty()) {
        // Committers wait for the cut: try again soon, and release them at their deadline.
        const auto now = std::chrono::steady_clock::now();
        const auto until = std::min(now + kShredHeldRetryInterval, held_.front().deadline);
        queue_cv_.wait_until(lock, std::max(now, until), ready);
      } else if (shred_pending_.load()) {
        queue_cv_.wait_for(lock, kShredRetryInterval, ready);
      } else {
        queue_cv_.wait(lock, ready);
      }
      if (queue_.empty()) {
        const bool stop = stopping_;
        lock.unlock();
        // Idle with a shredding checkpoint still to do: try again (once more, waiting, when
        // stopping; closing the last connection checkpoints too).
        if (shred_pending_.load() && TruncateWal(stop ? kShredWaitMs : 0)) {
          shred_pending_ = false;
          ReleaseHeld(held_.size(), /*cut=*/true);
        }
        if (stop) {
          ReleaseHeld(held_.size(), /*cut=*/false);
          return;  // and nothing left to do
        }
        ExpireHeld();
        continue;
      }
      group.assign(queue_.begin(), queue_.end());
      queue_.clear();
      number = next_group_++;
    }
    RunGroup(group, number);
  }
}

void SqliteMetadataStore::Impl::RunGroup(std::vector<Pending*>& group, uint32_t number) {
  std::vector<std::optional<Result<CommitResult>>> results(group.size());
  const bool changes_artifacts = std::any_of(
      group.begin(), group.end(), [](const Pending* p) { return MayChangeArtifacts(p->batch); });
  if (changes_artifacts) artifact_generation_.fetch_add(1);  // odd: uncacheable meanwhile
  // With a savepoint around every batch, ApplyGroup always settles the whole group.
  if (!ApplyGroup(group, results, /*savepoint_every_batch=*/false)) {
    (void)ApplyGroup(group, results, /*savepoint_every_batch=*/true);
  }
  if (changes_artifacts) artifact_generation_.fetch_add(1);
  groups_.fetch_add(1);
  batches_.fetch_add(static_cast<int64_t>(group.size()));
  // Crypto-shredding: a batch that destroyed a key returns once the WAL is cut, so that no old
  // page holds the key any more. The cut needs every reader out of the WAL; when one is in it,
  // the batches that destroyed a key wait (while the writer goes on with later groups and tries
  // again after each, and every millisecond while idle) until the cut or their deadline, and
  // the rest of the group returns now.
  bool destroyed_key = false;
  for (size_t i = 0; i < group.size(); ++i) {
    // A failure after the batch applied (the COMMIT's, say) undid its deletion too.
    group[i]->destroyed_key = group[i]->destroyed_key && results[i]->ok();
    destroyed_key = destroyed_key || group[i]->destroyed_key;
  }
  if (destroyed_key) {
    shred_key_groups_.fetch_add(1);
    if (!uncut_since_) uncut_since_ = std::chrono::steady_clock::now();
    for (const Pending* pending : group) {
      if (pending->destroyed_key && pending->batch.await_shredding) awaited_uncut_ = true;
    }
  }
  // While more groups are queued and no committer awaits the cut, it may wait for them
  // (kShredCoalesceLimit); until it is made, its key-destroying groups hold a ticket, as for a
  // cut that readers held up.
  bool cut = false;
  if (CoalesceCut()) {
    shred_pending_ = true;
  } else {
    cut = ShredCheckpoint(destroyed_key);
  }
  HeldShred held{0, {}, {}};
  if (!cut && destroyed_key) {
    if (++next_ticket_ == 0) ++next_ticket_;  // 0 means "no wait"
    held.ticket = next_ticket_;
    held.deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(std::max(0, options_.shred_wait_ms));
  }
  // A synchronous committer may return (and free its Pending) as soon as the group's number is
  // published, so the asynchronous ones are picked out before.
  std::vector<std::unique_ptr<Pending>> asynchronous;
  if (held.ticket != 0) last_ticket_.store(held.ticket, std::memory_order_release);
  for (size_t i = 0; i < group.size(); ++i) {
    // A batch that does not await its shredding returns now (AwaitShredding waits for it).
    const bool holds =
        held.ticket != 0 && group[i]->destroyed_key && group[i]->batch.await_shredding;
    group[i]->result = std::move(*results[i]);
    if (holds) group[i]->shred_ticket = held.ticket;
    if (!group[i]->done) continue;
    (holds ? held.asynchronous : asynchronous).emplace_back(group[i]);
  }
  if (held.ticket != 0) held_.push_back(std::move(held));
  finished_[number % 2].store(number, std::memory_order_release);
  FutexWakeAll(finished_[number % 2]);
  if (cut) ReleaseHeld(held_.size(), /*cut=*/true);
  ExpireHeld();
  Complete(asynchronous);
}

void SqliteMetadataStore::Impl::Complete(std::vector<std::unique_ptr<Pending>>& asynchronous) {
  if (asynchronous.empty()) return;
  // Their callbacks run on the completer thread: a callback that answers a gRPC call writes to
  // its socket, which must not hold up the next group.
  {
    std::lock_guard<std::mutex> lock(completions_mu_);
    for (std::unique_ptr<Pending>& pending : asynchronous) {
      completions_.push_back(std::move(pending));
    }
  }
  completions_cv_.notify_one();
}

void SqliteMetadataStore::Impl::CompleterLoop() {
  std::unique_lock<std::mutex> lock(completions_mu_);
  while (true) {
    completions_cv_.wait(lock, [this] { return completer_stopping_ || !completions_.empty(); });
    if (completions_.empty()) return;  // stopping, and nothing left to do
    std::vector<std::unique_ptr<Pending>> batch;
    batch.swap(completions_);
    lock.unlock();
    for (std::unique_ptr<Pending>& pending : batch) pending->done(std::move(*pending->result));
    batch.clear();
    lock.lock();
  }
}

bool SqliteMetadataStore::Impl::ApplyGroup(
    std::vector<Pending*>& group, std::vector<std::optional<Result<CommitResult>>>& results,
    bool savepoint_every_batch) {
  auto fail_all = [&](const Status& st, std::string_view context) {
    for (auto& r : results) {
      if (!r.has_value() || r->ok()) r.emplace(st.WithContext(context));
    }
    return true;
  };

  for (auto& r : results) r.reset();
  for (Pending* pending : group) pending->destroyed_key = false;
  if (Status begin = writer_->Run("BEGIN IMMEDIATE"); !begin.ok()) {
    return fail_all(begin, "cannot start the write transaction");
  }
  // Another process (sovd eval-worker) may have appended to the log since the last group.
  if (Status synced = SyncAuditState(); !synced.ok()) {
    if (!writer_->InAutocommit()) (void)writer_->Run("ROLLBACK");
    return fail_all(synced, "cannot read the audit log's state");
  }
  const AuditState group_start = audit_;

  for (size_t i = 0; i < group.size(); ++i) {
    // A savepoint per batch lets a failing batch roll back alone, but costs a copy of every
    // page the batch touches. Audit appends fail only when the database does (I/O, disk full,
    // corruption), so they run without one; should one fail, the group runs again with a
    // savepoint around every batch.
    const bool savepoint = savepoint_every_batch || !AppendsOnly(group[i]->batch);
    const AuditState before = audit_;
    const int64_t destroyed_before = keys_destroyed_;
    Status opened = savepoint ? writer_->Run("SAVEPOINT batch") : OkStatus();
    Result<CommitResult> result =
        opened.ok() ? ApplyBatch(*group[i]) : Result<CommitResult>(opened);
    if (writer_->InAutocommit()) {
      // Some errors (I/O, disk full) make SQLite roll back the whole transaction: every batch
      // of the group so far is gone, and the rest cannot run in it.
      audit_ = group_start;
      Status st = result.ok() ? Internal("the write transaction ended unexpectedly")
                              : result.status();
      return fail_all(st, "the group's transaction was rolled back");
    }
    if (!savepoint && !result.ok()) {
      (void)writer_->Run("ROLLBACK");
      audit_ = group_start;
      return false;
    }
    if (savepoint && result.ok()) {
      if (Status release = writer_->Run("RELEASE batch"); !release.ok()) result = release;
    }
    if (!result.ok()) {
      Status undo = writer_->Run("ROLLBACK TO batch");
      if (undo.ok()) undo = writer_->Run("RELEASE batch");
      audit_ = before;
      if (!undo.ok()) {
        if (!writer_->InAutocommit()) (void)writer_->Run("ROLLBACK");
        audit_ = group_start;
        results[i].emplace(result.status());
        return fail_all(undo, "cannot undo a failed batch");
      }
    }
    group[i]->destroyed_key = result.ok() && keys_destroyed_ > destroyed_before;
    results[i].emplace(std::move(result));
  }

  if (Status commit = writer_->Run("COMMIT"); !commit.ok()) {
    if (!writer_->InAutocommit()) (void)writer_->Run("ROLLBACK");
    audit_ = group_start;
    return fail_all(commit, "commit failed");
  }
  return true;
}

bool SqliteMetadataStore::Impl::TruncateWal(int busy_timeout_ms) {
  std::error_code ec;
  const uintmax_t wal_bytes = std::filesystem::file_size(wal_path_, ec);
  writer_->SetBusyTimeout(busy_timeout_ms);
  // Its row's first column is 1 when a reader or writer held it up.
  Result<int64_t> busy = writer_->QueryInt("PRAGMA wal_checkpoint(TRUNCATE)");
  writer_->SetBusyTimeout(options_.busy_timeout_ms);
  const bool done = busy.ok() && *busy == 0;
  // Counted once, by the try that cut the WAL: a held-up checkpoint is tried again and again,
  // and counting each try would count the same frames again.
  if (done && !ec) shred_wal_bytes_.fetch_add(static_cast<int64_t>(wal_bytes));
  if (done && uncut_since_) {
    shred_cuts_.fetch_add(1);
    uncut_since_.reset();
  }
  if (done) awaited_uncut_ = false;
  return done;
}

bool SqliteMetadataStore::Impl::CoalesceCut() {
  if (!uncut_since_ || awaited_uncut_ ||
      std::chrono::steady_clock::now() - *uncut_since_ >= kShredCoalesceLimit) {
    return false;
  }
  std::lock_guard<std::mutex> lock(queue_mu_);
  return !queue_.empty() && !stopping_;
}

bool SqliteMetadataStore::Impl::ShredCheckpoint(bool destroyed_key) {
  // Crypto-shredding: the deleted key's bytes must not linger in the WAL (nor in the database
  // page the checkpoint overwrites, with secure_delete). A reader in the WAL blocks the cut;
  // the writer does not wait for it here, but tries again after each later group and while
  // idle (WriterLoop) until the WAL is cut, while the committers that destroyed a key wait
  // (RunGroup).
  if (!destroyed_key && !shred_pending_.load()) return true;
  const bool done = TruncateWal(0);
  shred_pending_ = !done;
  return done;
}

void SqliteMetadataStore::Impl::ReleaseHeld(size_t count, bool cut) {
  if (count == 0) return;
  uint32_t last = 0;
  std::vector<std::unique_ptr<Pending>> asynchronous;
  for (size_t i = 0; i < count; ++i) {
    HeldShred& held = held_.front();
    if (!cut) shred_deferred_.fetch_add(1);
    last = held.ticket;
    for (std::unique_ptr<Pending>& pending : held.asynchronous) {
      asynchronous.push_back(std::move(pending));
    }
    held_.pop_front();
  }
  Complete(asynchronous);
  shred_released_.store(last, std::memory_order_release);
  FutexWakeAll(shred_released_);
}

void SqliteMetadataStore::Impl::ExpireHeld() {
  const auto now = std::chrono::steady_clock::now();
  size_t expired = 0;
  while (expired < held_.size() && held_[expired].deadline <= now) ++expired;
  ReleaseHeld(expired, /*cut=*/false);
}

Result<CommitResult> SqliteMetadataStore::Impl::ApplyBatch(const Pending& pending) {
  CommitResult result;
  std::vector<const mutation::PutCheckpoint*> checkpoints;
  size_t leaf = 0;
  for (const Mutation& m : pending.batch.mutations) {
    Status st = std::visit(
        Overloaded{
            [&](const mutation::AppendAudit& a) {
              return Apply(a, pending.leaves[leaf++], result);
            },
            [&](const mutation::UpdateArtifact& u) {
              if (!u.link_next_audit) return Apply(u);
              if (leaf == pending.leaves.size()) {
                return InvalidArgument("artifact " + u.artifact.spec.name + "@" +
                                       u.artifact.spec.version +
                                       ": an update linked to the next audit entry needs an "
                                       "AppendAudit after it in the batch");
              }
              // The next append takes the log's current size as its index.
              mutation::UpdateArtifact linked{u.artifact};
              SetChangeAuditIndex(linked.artifact, static_cast<int64_t>(audit_.range.size()));
              return Apply(linked);
            },
            [&](const mutation::PutCheckpoint& p) {
              // Checked against the log after every append of the batch.
              checkpoints.push_back(&p);
              return OkStatus();
            },
            [&](const auto& other) { return Apply(other); },
        },
        m);
    SOV_RETURN_IF_ERROR(st);
  }
  for (const mutation::PutCheckpoint* p : checkpoints) SOV_RETURN_IF_ERROR(Apply(*p));
  result.tree_size = static_cast<int64_t>(audit_.range.size());
  result.root = audit_.range.Root();
  return result;
}

Result<bool> SqliteMetadataStore::Impl::Exists(const std::string& sql,
                                               const std::vector<SqlValue>& params) {
  SOV_ASSIGN_OR_RETURN(Statement st, writer_->Prepare(sql));
  st.BindAll(params);
  return st.Step();
}

Status SqliteMetadataStore::Impl::CheckVersionFree(const std::string& name,
                                                   const std::string& version) {
  SOV_ASSIGN_OR_RETURN(bool artifact,
                       Exists("SELECT 1 FROM artifacts WHERE name = ? AND version = ?",
                              {name, version}));
  SOV_ASSIGN_OR_RETURN(
      bool upload,
      Exists("SELECT 1 FROM uploads WHERE name = ? AND version = ? AND state = 'open'",
             {name, version}));
  if (artifact || upload) return AlreadyExists("version taken");
  return OkStatus();
}

Status SqliteMetadataStore::Impl::InsertDataKey(const std::string& artifact_id,
                                                const std::string& wrapped_key) {
  if (wrapped_key.empty()) {
    return InvalidArgument("artifact " + artifact_id + " has an empty wrapped data key");
  }
  SOV_ASSIGN_OR_RETURN(Statement st,
                       writer_->Prepare("INSERT INTO data_keys (artifact_id, wrapped) VALUES (?, ?)"));
  st.Bind(1, artifact_id).BindBlob(2, wrapped_key);
  return st.Run();
}

Status SqliteMetadataStore::Impl::Apply(const mutation::CreateUpload& m) {
  const UploadRecord& u = m.upload;
  if (u.id.empty()) return InvalidArgument("an upload needs an id");
  SOV_ASSIGN_OR_RETURN(bool id_taken, Exists("SELECT 1 FROM uploads WHERE id = ?", {u.id}));
  if (id_taken) return AlreadyExists("upload id " + u.id + " exists already");
  SOV_RETURN_IF_ERROR(CheckVersionFree(u.spec.name, u.spec.version));
  SOV_ASSIGN_OR_RETURN(std::string spec, DumpJson(SpecToJson(u.spec), "upload spec"));
  SOV_ASSIGN_OR_RETURN(
      Statement st,
      writer_->Prepare(std::string("INSERT INTO uploads (name, version, owner_tenant, ") +
                       kUploadColumns +
                       ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  st.Bind(1, u.spec.name).Bind(2, u.spec.version).Bind(3, u.spec.owner_tenant);
  st.Bind(4, u.id).Bind(5, spec);
  if (u.declared_size.has_value()) {
    st.Bind(6, *u.declared_size);
  } else {
    st.BindNull(6);
  }
  st.Bind(7, u.expected_digest).Bind(8, u.committed_offset).Bind(9, UploadStateName(u.state));
  // Only an open upload holds its data key (see UpdateUpload).
  st.BindBlob(10, u.state == UploadState::kOpen ? std::string_view(u.wrapped_key) : "");
  st.BindBlob(11, u.blob_header).Bind(12, u.artifact_id).Bind(13, u.abort_reason);
  st.Bind(14, ToNanos(u.create_time)).Bind(15, ToNanos(u.update_time));
  st.Bind(16, ToNanos(u.expire_time)).Bind(17, u.decision_rule).Bind(18, u.decision_policy);
  st.Bind(19, u.revision);
  return st.Run();
}

Status SqliteMetadataStore::Impl::Apply(const mutation::UpdateUpload& m) {
  const UploadRecord& u = m.upload;
  int64_t stored_revision;
  std::string stored_state;
  {
    SOV_ASSIGN_OR_RETURN(Statement st,
                         writer_->Prepare("SELECT revision, state FROM uploads WHERE id = ?"));
    st.Bind(1, u.id);
    SOV_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return NotFound("upload " + u.id + " not found");
    stored_revision = st.Int64(0);
    stored_state = st.Text(1);
  }
  if (stored_revision != u.revision) {
    return Aborted("upload " + u.id + " was changed concurrently (stored revision " +
                   std::to_string(stored_revision) + ", expected " + std::to_string(u.revision) +
                   "); read it again and retry");
  }
  if (stored_state != UploadStateName(UploadState::kOpen)) {
    return FailedPrecondition("upload " + u.id + " is " + stored_state +
                              "; only an open upload can change");
  }
  if (u.state == UploadState::kCommitted) {
    return InvalidArgument("upload " + u.id + " can become committed only through CommitUpload");
  }
  // Leaving OPEN destroys the upload's copy of the data key: its staged bytes become unreadable.
  SOV_ASSIGN_OR_RETURN(
      Statement st,
      writer_->Prepare("UPDATE uploads SET committed_offset = ?, state = ?, abort_reason = ?, "
                       "expire_time = ?, update_time = ?, revision = revision + 1, "
                       "wrapped_key = CASE WHEN ?2 = 'open' THEN wrapped_key ELSE X'' END "
                       "WHERE id = ?"));
  st.Bind(1, u.committed_offset).Bind(2, UploadStateName(u.state)).Bind(3, u.abort_reason);
  st.Bind(4, ToNanos(u.expire_time)).Bind(5, ToNanos(u.update_time)).Bind(6, u.id);
  return st.Run();
}

Status SqliteMetadataStore::Impl::Apply(const mutation::CommitUpload& m) {
  const ArtifactRecord& a = m.artifact;
  {
    SOV_ASSIGN_OR_RETURN(
        Statement st, writer_->Prepare("SELECT state, name, version FROM uploads WHERE id = ?"));
    st.Bind(1, m.upload_id);
    SOV_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return NotFound("upload " + m.upload_id + " not found");
    if (st.Text(0) != UploadStateName(UploadState::kOpen)) {
      return FailedPrecondition("upload " + m.upload_id + " is " + st.Text(0) + ", not open");
    }
    if (st.Text(1) != a.spec.name || st.Text(2) != a.spec.version) {
      return InvalidArgument("upload " + m.upload_id + " is for " + st.Text(1) + "@" +
                             st.Text(2) + ", not " + a.spec.name + "@" + a.spec.version);
    }
  }
  SOV_ASSIGN_OR_RETURN(bool taken,
                       Exists("SELECT 1 FROM artifacts WHERE name = ? AND version = ?",
                              {a.spec.name, a.spec.version}));
  if (taken) return AlreadyExists("version taken");
  SOV_ASSIGN_OR_RETURN(bool id_taken, Exists("SELECT 1 FROM artifacts WHERE id = ?", {a.id}));
  if (id_taken) return AlreadyExists("artifact id " + a.id + " exists already");
  {
    // The artifact's data key moves to data_keys; the upload keeps no copy.
    SOV_ASSIGN_OR_RETURN(
        Statement st,
        writer_->Prepare("UPDATE uploads SET state = 'committed', artifact_id = ?, "
                         "wrapped_key = X'', update_time = ?, revision = revision + 1 "
                         "WHERE id = ?"));
    st.Bind(1, a.id).Bind(2, ToNanos(a.update_time)).Bind(3, m.upload_id);
    SOV_RETURN_IF_ERROR(st.Run());
  }
  SOV_RETURN_IF_ERROR(InsertArtifactRow(*writer_, a).status());
  return InsertDataKey(a.id, m.wrapped_key);
}

Status SqliteMetadataStore::Impl::Apply(const mutation::InsertArtifact& m) {
  const ArtifactRecord& a = m.artifact;
  SOV_RETURN_IF_ERROR(CheckVersionFree(a.spec.name, a.spec.version));
  SOV_ASSIGN_OR_RETURN(bool id_taken, Exists("SELECT 1 FROM artifacts WHERE id = ?", {a.id}));
  if (id_taken) return AlreadyExists("artifact id " + a.id + " exists already");
  SOV_RETURN_IF_ERROR(InsertArtifactRow(*writer_, a).status());
  return InsertDataKey(a.id, m.wrapped_key);
}

Status SqliteMetadataStore::Impl::Apply(const mutation::UpdateArtifact& m) {
  const ArtifactRecord& a = m.artifact;
  int64_t seq;
  {
    SOV_ASSIGN_OR_RETURN(Statement st,
                         writer_->Prepare("SELECT seq, revision FROM artifacts WHERE id = ?"));
    st.Bind(1, a.id);
    SOV_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return NotFound("artifact " + a.id + " not found");
    seq = st.Int64(0);
    if (st.Int64(1) != a.revision) {
      return Aborted("artifact " + a.spec.name + "@" + a.spec.version +
                     " was changed concurrently (stored revision " +
                     std::to_string(st.Int64(1)) + ", expected " + std::to_string(a.revision) +
                     "); read it again and retry");
    }
  }
  {
    SOV_ASSIGN_OR_RETURN(ErasureColumns erasure, ErasureColumnsOf(a));
    SOV_ASSIGN_OR_RETURN(
        Statement st,
        writer_->Prepare("UPDATE artifacts SET stage = ?, manifest = ?, release_requested = ?, "
                         "update_time = ?, tombstone = ?, lineage_notices = ?, "
                         "revision = revision + 1 WHERE seq = ?"));
    st.Bind(1, StageName(a.stage)).Bind(2, a.manifest);
    st.Bind(3, int64_t{a.release_requested ? 1 : 0}).Bind(4, ToNanos(a.update_time));
    st.BindValue(5, erasure.tombstone).Bind(6, erasure.notices).Bind(7, seq);
    SOV_RETURN_IF_ERROR(st.Run());
  }
  SOV_RETURN_IF_ERROR(UpdateChildRows(*writer_, seq, "artifact_signatures", kSelectSignatures,
                                      ReadSignatureRow, a.signatures, InsertSignatures));
  return UpdateChildRows(*writer_, seq, "stage_history", kSelectHistory, ReadStageEventRow,
                         a.history, InsertHistory);
}

Status SqliteMetadataStore::Impl::Apply(const mutation::DeleteDataKey& m) {
  SOV_ASSIGN_OR_RETURN(Statement st,
                       writer_->Prepare("DELETE FROM data_keys WHERE artifact_id = ?"));
  st.Bind(1, m.artifact_id);
  SOV_RETURN_IF_ERROR(st.Run());
  if (writer_->Changes() > 0) ++keys_destroyed_;
  return OkStatus();
}

Status SqliteMetadataStore::Impl::Apply(const mutation::EnqueueJob& m) {
  const JobRecord& j = m.job;
  if (j.id.empty()) return InvalidArgument("a validation job needs an id");
  SOV_ASSIGN_OR_RETURN(bool taken, Exists("SELECT 1 FROM validation_jobs WHERE id = ?", {j.id}));
  if (taken) return AlreadyExists("validation job " + j.id + " exists already");
  SOV_ASSIGN_OR_RETURN(JobJson json, JobJsonOf(j));
  // seq is left to SQLite: the rowid, one above the highest so far (queue order).
  SOV_ASSIGN_OR_RETURN(
      Statement st,
      writer_->Prepare("INSERT INTO validation_jobs (id, model_name, model_version, model_digest, "
                       "state, report_only, requested_backend, backend, worker, attempt, "
                       "progress, phase, datasets, create_time, start_time, end_time, "
                       "lease_expire_time, report_name, report_version, report_digest, "
                       "gate_results, outcome_stage, error, requested_by, policy_digest, "
                       "revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                       "?, ?, ?, ?, ?, ?, ?, ?)"));
  st.Bind(1, j.id).Bind(2, j.model_name).Bind(3, j.model_version).Bind(4, j.model_digest);
  st.Bind(5, JobStateName(j.state)).Bind(6, int64_t{j.report_only ? 1 : 0});
  st.Bind(7, j.requested_backend).Bind(8, j.backend).Bind(9, j.worker);
  st.Bind(10, int64_t{j.attempt}).BindDouble(11, j.progress).Bind(12, j.phase);
  st.Bind(13, json.datasets).Bind(14, ToNanos(j.create_time)).Bind(15, ToNanos(j.start_time));
  st.Bind(16, ToNanos(j.end_time)).Bind(17, ToNanos(j.lease_expire_time));
  st.Bind(18, j.report_name).Bind(19, j.report_version).Bind(20, j.report_digest);
  st.Bind(21, json.gate_results);
  if (j.outcome_stage.has_value()) {
    st.Bind(22, StageName(*j.outcome_stage));
  } else {
    st.BindNull(22);
  }
  st.Bind(23, j.error).Bind(24, j.requested_by).Bind(25, j.policy_digest).Bind(26, j.revision);
  return st.Run();
}

Status SqliteMetadataStore::Impl::Apply(const mutation::UpdateJob& m) {
  const JobRecord& j = m.job;
  {
    SOV_ASSIGN_OR_RETURN(Statement st,
                         writer_->Prepare("SELECT revision FROM validation_jobs WHERE id = ?"));
    st.Bind(1, j.id);
    SOV_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return NotFound("validation job " + j.id + " not found");
    if (st.Int64(0) != j.revision) {
      return Aborted("validation job " + j.id + " was changed concurrently (stored revision " +
                     std::to_string(st.Int64(0)) + ", expected " + std::to_string(j.revision) +
                     "): another worker took it, or it was cancelled");
    }
  }
  SOV_ASSIGN_OR_RETURN(JobJson json, JobJsonOf(j));
  SOV_ASSIGN_OR_RETURN(
      Statement st,
      writer_->Prepare("UPDATE validation_jobs SET state = ?, report_only = ?, "
                       "requested_backend = ?, backend = ?, worker = ?, attempt = ?, "
                       "progress = ?, phase = ?, datasets = ?, start_time = ?, end_time = ?, "
                       "lease_expire_time = ?, report_name = ?, report_version = ?, "
                       "report_digest = ?, gate_results = ?, outcome_stage = ?, error = ?, "
                       "requested_by = ?, policy_digest = ?, revision = revision + 1 "
                       "WHERE id = ?"));
  st.Bind(1, JobStateName(j.state)).Bind(2, int64_t{j.report_only ? 1 : 0});
  st.Bind(3, j.requested_backend).Bind(4, j.backend).Bind(5, j.worker);
  st.Bind(6, int64_t{j.attempt}).BindDouble(7, j.progress).Bind(8, j.phase);
  st.Bind(9, json.datasets).Bind(10, ToNanos(j.start_time)).Bind(11, ToNanos(j.end_time));
  st.Bind(12, ToNanos(j.lease_expire_time)).Bind(13, j.report_name).Bind(14, j.report_version);
  st.Bind(15, j.report_digest).Bind(16, json.gate_results);
  if (j.outcome_stage.has_value()) {
    st.Bind(17, StageName(*j.outcome_stage));
  } else {
    st.BindNull(17);
  }
  st.Bind(18, j.error).Bind(19, j.requested_by).Bind(20, j.policy_digest).Bind(21, j.id);
  return st.Run();
}

Status SqliteMetadataStore::Impl::Apply(const mutation::RevokeKey& m) {
  const KeyRevocation& r = m.revocation;
  if (r.keyid.empty()) return InvalidArgument("a key revocation needs a keyid");
  // The first revocation stands: its time, reason and author are what was recorded.
  SOV_ASSIGN_OR_RETURN(
      Statement st,
      writer_->Prepare("INSERT INTO key_revocations (keyid, owner_tenant, reason, revoked_by, "
                       "time) VALUES (?, ?, ?, ?, ?) ON CONFLICT (keyid) DO NOTHING"));
  st.Bind(1, r.keyid).Bind(2, r.owner_tenant).Bind(3, r.reason).Bind(4, r.revoked_by);
  st.Bind(5, ToNanos(r.time));
  return st.Run();
}

Status SqliteMetadataStore::Impl::Apply(const mutation::AppendAudit& m, const PreparedLeaf& leaf,
                                        CommitResult& result) {
  const AuditEvent& e = m.event;
  const auto index = static_cast<int64_t>(audit_.range.size());
  // Never before the previous entry, so that time order and index order agree even when the
  // wall clock steps back.
  int64_t time_us = std::max(FloorMicros(std::chrono::system_clock::now()), audit_.last_time_us);
  std::string leaf_data = FinishLeafData(leaf, index, FromMicros(time_us), audit_.last_leaf);
  merkle::Hash leaf_hash = merkle::LeafHash(leaf_data);

  std::string tenant_id;
  if (e.principal.is_object()) {
    auto it = e.principal.find("tenantId");
    if (it != e.principal.end() && it->is_string()) tenant_id = it->get<std::string>();
  }
  {
    SOV_ASSIGN_OR_RETURN(
        Statement st,
        writer_->Prepare("INSERT INTO audit_entries (idx, append_time, type, tenant_id, action, "
                         "artifact_name, artifact_version, effect, rule_id, request_id, "
                         "policy_digest, leaf_data, leaf_hash) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    st.Bind(1, index).Bind(2, time_us).Bind(3, e.type).BindValue(4, NullIfEmpty(tenant_id));
    st.BindValue(5, NullIfEmpty(e.action)).BindValue(6, NullIfEmpty(e.artifact_name));
    st.BindValue(7, NullIfEmpty(e.artifact_version));
    // The leaf holds rule and policy digest only with an effect (a decision); the columns
    // index exactly what the leaf says.
    bool decision = !e.effect.empty();
    st.BindValue(8, NullIfEmpty(e.effect));
    st.BindValue(9, decision ? NullIfEmpty(e.rule_id) : SqlValue(nullptr));
    st.BindValue(10, NullIfEmpty(e.request_id));
    st.BindValue(11, decision ? NullIfEmpty(e.policy_digest) : SqlValue(nullptr));
    st.BindBlob(12, leaf_data).BindBlob(13, HashBytes(leaf_hash));
    SOV_RETURN_IF_ERROR(st.Run());
  }
  std::vector<merkle::Node> nodes;
  audit_.range.Append(leaf_hash, [&nodes](const merkle::Node& node) {
    if (node.level > 0) nodes.push_back(node);
  });
  for (const merkle::Node& node : nodes) {
    SOV_ASSIGN_OR_RETURN(
        Statement st,
        writer_->Prepare("INSERT INTO audit_nodes (end_idx, level, hash) VALUES (?, ?, ?)"));
    st.Bind(1, SubtreeEnd(node.level, static_cast<int64_t>(node.index)));
    st.Bind(2, int64_t{node.level});
    st.BindBlob(3, HashBytes(node.hash));
    SOV_RETURN_IF_ERROR(st.Run());
  }
  audit_.last_leaf = leaf_hash;
  audit_.last_time_us = time_us;
  result.audit_indexes.push_back(index);
  return OkStatus();
}

Status SqliteMetadataStore::Impl::Apply(const mutation::PutCheckpoint& m) {
  const CheckpointRecord& cp = m.checkpoint;
  const auto size = static_cast<int64_t>(audit_.range.size());
  if (cp.tree_size < 1 || cp.tree_size > size) {
    return InvalidArgument("checkpoint tree size " + std::to_string(cp.tree_size) +
                           " is outside the audit log's 1.." + std::to_string(size));
  }
  SOV_ASSIGN_OR_RETURN(bool exists,
                       Exists("SELECT 1 FROM checkpoints WHERE tree_size = ?", {cp.tree_size}));
  if (exists) return OkStatus();
  merkle::Hash root;
  if (cp.tree_size == size) {
    root = audit_.range.Root();
  } else {
    SOV_ASSIGN_OR_RETURN(root, merkle::SubtreeHash(0, static_cast<uint64_t>(cp.tree_size),
                                                   NodeSourceOf(*writer_)));
  }
  if (root != cp.root) {
    return InvalidArgument("checkpoint root does not match the audit log at tree size " +
                           std::to_string(cp.tree_size));
  }
  SOV_ASSIGN_OR_RETURN(
      Statement st,
      writer_->Prepare("INSERT INTO checkpoints (tree_size, root, time, envelope) "
                       "VALUES (?, ?, ?, ?)"));
  st.Bind(1, cp.tree_size).BindBlob(2, HashBytes(cp.root)).Bind(3, ToNanos(cp.time));
  st.Bind(4, cp.envelope);
  return st.Run();
}

// -----------------------------------------------------------------------------------------------
// SqliteMetadataStore

SqliteMetadataStore::SqliteMetadataStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteMetadataStore::~SqliteMetadataStore() = default;

Result<std::unique_ptr<SqliteMetadataStore>> SqliteMetadataStore::Open(const std::string& path) {
  return Open(path, Options());
}

Result<std::unique_ptr<SqliteMetadataStore>> SqliteMetadataStore::Open(const std::string& path,
                                                                       Options options) {
  auto impl = std::make_unique<Impl>(options);
  SOV_RETURN_IF_ERROR(impl->Init(path));
  return std::unique_ptr<SqliteMetadataStore>(new SqliteMetadataStore(std::move(impl)));
}

int SqliteMetadataStore::SchemaVersion() {
  return static_cast<int>(internal::SqliteMigrations().size());
}

SqliteMetadataStore::GroupCommitStats SqliteMetadataStore::group_commit_stats() const {
  return impl_->stats();
}

Result<CommitResult> SqliteMetadataStore::Commit(WriteBatch batch) {
  return impl_->Commit(std::move(batch));
}

void SqliteMetadataStore::CommitAsync(WriteBatch batch, CommitCallback done) {
  impl_->CommitAsync(std::move(batch), std::move(done));
}

void SqliteMetadataStore::AwaitShredding() { impl_->AwaitShredding(); }

Result<std::optional<ArtifactRecord>> SqliteMetadataStore::FindArtifact(
    const std::string& name, const std::string& version) {
  const uint64_t generation = impl_->artifact_generation();
  const bool cache = impl_->cache_artifacts();
  if (cache) {
    if (std::optional<ArtifactRecord> cached = impl_->CachedArtifact(name, version, generation)) {
      return cached;
    }
  }
  Result<std::optional<ArtifactRecord>> found =
      First(impl_->Read<std::vector<StoredArtifact>>([&](Connection& c) {
        return QueryArtifacts(c,
                              std::string("SELECT ") + kArtifactColumns +
                                  " FROM artifacts a WHERE a.name = ? AND a.version = ?",
                              {name, version});
      }));
  if (cache && found.ok() && found->has_value()) impl_->CacheArtifact(**found, generation);
  return found;
}

Result<std::optional<ArtifactRecord>> SqliteMetadataStore::FindArtifactById(const std::string& id) {
  return First(impl_->Read<std::vector<StoredArtifact>>([&](Connection& c) {
    return QueryArtifacts(
        c, std::string("SELECT ") + kArtifactColumns + " FROM artifacts a WHERE a.id = ?", {id});
  }));
}

Result<std::vector<ArtifactRecord>> SqliteMetadataStore::ListVersions(const std::string& name) {
  SOV_ASSIGN_OR_RETURN(
      std::vector<StoredArtifact> rows,
      impl_->Read<std::vector<StoredArtifact>>([&](Connection& c) {
        return QueryArtifacts(c,
                              std::string("SELECT ") + kArtifactColumns +
                                  " FROM artifacts a WHERE a.name = ? ORDER BY a.seq",
                              {name});
      }));
  return Records(std::move(rows));
}

Result<std::vector<ArtifactRecord>> SqliteMetadataStore::ListArtifacts(
    const ArtifactFilter& filter) {
  std::string where = " WHERE 1";
  std::vector<SqlValue> params;
  if (filter.kind.has_value()) {
    where += " AND a.kind = ?";
    params.emplace_back(std::string(KindName(*filter.kind)));
  }
  if (!filter.name.empty()) {
    where += " AND a.name = ?";
    params.emplace_back(filter.name);
  }
  if (!filter.name_prefix.empty()) {
    // A range, not LIKE: exact bytes, no wildcards, and the name index serves it.
    where += " AND a.name >= ?";
    params.emplace_back(filter.name_prefix);
    if (std::optional<std::string> upper = PrefixUpperBound(filter.name_prefix)) {
      where += " AND a.name < ?";
      params.emplace_back(std::move(*upper));
    }
  }
  if (filter.stage.has_value()) {
    where += " AND a.stage = ?";
    params.emplace_back(std::string(StageName(*filter.stage)));
  } else if (!filter.include_erased) {
    where += " AND a.stage <> 'erased'";
  }
  for (const auto& [key, value] : filter.labels) {
    // Driven by the (key, value) index: label filters are usually selective.
    where += " AND a.seq IN (SELECT artifact_seq FROM artifact_labels WHERE key = ? AND "
             "value = ?)";
    params.emplace_back(key);
    params.emplace_back(value);
  }
  if (!filter.owner_tenant.empty()) {
    where += " AND a.owner_tenant = ?";
    params.emplace_back(filter.owner_tenant);
  }
  const std::string select = std::string("SELECT ") + kArtifactColumns + " FROM artifacts a";
  if (filter.retention_deadline_before.has_value()) {
    // Served by the partial retention index; name paging does not apply (see ArtifactFilter).
    where += " AND a.retention_deadline IS NOT NULL AND a.retention_deadline < ?";
    params.emplace_back(ToNanos(*filter.retention_deadline_before));
    std::string sql = select + where + " ORDER BY a.retention_deadline, a.name, a.seq";
    if (filter.limit > 0) {
      sql += " LIMIT ?";
      params.emplace_back(filter.limit);
    }
    SOV_ASSIGN_OR_RETURN(std::vector<StoredArtifact> rows,
                         impl_->Read<std::vector<StoredArtifact>>(
                             [&](Connection& c) { return QueryArtifacts(c, sql, params); }));
    return Records(std::move(rows));
  }
  if (!filter.after_name.empty()) {
    where += " AND a.name > ?";
    params.emplace_back(filter.after_name);
  }

  SOV_ASSIGN_OR_RETURN(
      std::vector<StoredArtifact> rows,
      impl_->Read<std::vector<StoredArtifact>>([&](Connection& c)
                                                   -> Result<std::vector<StoredArtifact>> {
        std::vector<SqlValue> page_params = params;
        std::string sql = select + where + " ORDER BY a.name, a.seq";
        if (filter.limit > 0) {
          sql += " LIMIT ?";
          page_params.emplace_back(filter.limit);
        }
        SOV_ASSIGN_OR_RETURN(std::vector<StoredArtifact> page, QueryArtifacts(c, sql, page_params));
        if (filter.limit <= 0 || static_cast<int64_t>(page.size()) < filter.limit) return page;
        // The page ended inside a name, maybe: add that name's remaining matching versions, in
        // the same snapshot, so that the caller sees every version of each name it gets.
        std::vector<SqlValue> rest_params = params;
        rest_params.emplace_back(page.back().record.spec.name);
        rest_params.emplace_back(page.back().seq);
        SOV_ASSIGN_OR_RETURN(
            std::vector<StoredArtifact> rest,
            QueryArtifacts(c, select + where + " AND a.name = ? AND a.seq > ? ORDER BY a.seq",
                           rest_params));
        for (StoredArtifact& a : rest) page.push_back(std::move(a));
        return page;
      }));
  return Records(std::move(rows));
}

Result<std::vector<ArtifactRecord>> SqliteMetadataStore::ListDependents(
    const std::string& name, const std::string& version) {
  SOV_ASSIGN_OR_RETURN(
      std::vector<StoredArtifact> rows,
      impl_->Read<std::vector<StoredArtifact>>([&](Connection& c) {
        return QueryArtifacts(c,
                              std::string("SELECT ") + kArtifactColumns +
                                  " FROM artifacts a WHERE a.seq IN (SELECT artifact_seq FROM "
                                  "artifact_lineage WHERE name = ? AND version = ?) "
                                  "ORDER BY a.seq",
                              {name, version});
      }));
  return Records(std::move(rows));
}

Result<std::string> SqliteMetadataStore::WrappedDataKey(const std::string& artifact_id) {
  return impl_->Read<std::string>([&](Connection& c) -> Result<std::string> {
    SOV_ASSIGN_OR_RETURN(Statement st,
                         c.Prepare("SELECT wrapped FROM data_keys WHERE artifact_id = ?"));
    st.Bind(1, artifact_id);
    SOV_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) {
      return NotFound("no data key for artifact " + artifact_id + " (erased, or no such artifact)");
    }
    return st.Blob(0);
  });
}

Result<std::optional<UploadRecord>> SqliteMetadataStore::FindUpload(const std::string& upload_id) {
  SOV_ASSIGN_OR_RETURN(std::vector<UploadRecord> rows,
                       impl_->Read<std::vector<UploadRecord>>([&](Connection& c) {
                         return QueryRows<UploadRecord>(
                             c,
                             std::string("SELECT ") + kUploadColumns +
                                 " FROM uploads WHERE id = ?",
                             {upload_id}, ReadUploadRow);
                       }));
  if (rows.empty()) return std::optional<UploadRecord>();
  return std::optional<UploadRecord>(std::move(rows.front()));
}

Result<std::optional<UploadRecord>> SqliteMetadataStore::FindOpenUpload(
    const std::string& name, const std::string& version) {
  SOV_ASSIGN_OR_RETURN(
      std::vector<UploadRecord> rows,
      impl_->Read<std::vector<UploadRecord>>([&](Connection& c) {
        return QueryRows<UploadRecord>(
            c,
            std::string("SELECT ") + kUploadColumns +
                " FROM uploads WHERE name = ? AND version = ? AND state = 'open'",
            {name, version}, ReadUploadRow);
      }));
  if (rows.empty()) return std::optional<UploadRecord>();
  return std::optional<UploadRecord>(std::move(rows.front()));
}

Result<std::vector<UploadRecord>> SqliteMetadataStore::ListOpenUploads() {
  return impl_->Read<std::vector<UploadRecord>>([&](Connection& c) {
    return QueryRows<UploadRecord>(
        c,
        std::string("SELECT ") + kUploadColumns +
            " FROM uploads WHERE state = 'open' ORDER BY create_time, id",
        {}, ReadUploadRow);
  });
}

Result<TenantUsage> SqliteMetadataStore::Usage(const std::string& tenant_id) {
  return impl_->Read<TenantUsage>([&](Connection& c) -> Result<TenantUsage> {
    TenantUsage usage;
    {
      SOV_ASSIGN_OR_RETURN(
          Statement st,
          c.Prepare("SELECT COALESCE(SUM(size_bytes), 0), COUNT(*) FROM artifacts "
                    "WHERE owner_tenant = ? AND stage <> 'erased'"));
      st.Bind(1, tenant_id);
      SOV_ASSIGN_OR_RETURN(bool row, st.Step());
      if (row) {
        usage.used_bytes = st.Int64(0);
        usage.artifact_count = st.Int64(1);
      }
    }
    {
      SOV_ASSIGN_OR_RETURN(
          Statement st,
          c.Prepare("SELECT COALESCE(SUM(COALESCE(declared_size, committed_offset)), 0) "
                    "FROM uploads WHERE owner_tenant = ? AND state = 'open'"));
      st.Bind(1, tenant_id);
      SOV_ASSIGN_OR_RETURN(bool row, st.Step());
      if (row) usage.reserved_bytes = st.Int64(0);
    }
    return usage;
  });
}

Result<std::optional<JobRecord>> SqliteMetadataStore::FindJob(const std::string& job_id) {
  SOV_ASSIGN_OR_RETURN(std::vector<JobRecord> rows,
                       impl_->Read<std::vector<JobRecord>>([&](Connection& c) {
                         return QueryRows<JobRecord>(c,
                                                     std::string("SELECT ") + kJobColumns +
                                                         " FROM validation_jobs WHERE id = ?",
                                                     {job_id}, ReadJobRow);
                       }));
  if (rows.empty()) return std::optional<JobRecord>();
  return std::optional<JobRecord>(std::move(rows.front()));
}

Result<std::vector<JobRecord>> SqliteMetadataStore::ListJobs(const JobFilter& filter) {
  std::string sql = std::string("SELECT ") + kJobColumns + " FROM validation_jobs WHERE 1";
  std::vector<SqlValue> params;
  if (!filter.model_name.empty()) {
    sql += " AND model_name = ?";
    params.emplace_back(filter.model_name);
  }
  if (!filter.model_version.empty()) {
    sql += " AND model_version = ?";
    params.emplace_back(filter.model_version);
  }
  if (!filter.model_digest.empty()) {
    sql += " AND model_digest = ?";
    params.emplace_back(filter.model_digest);
  }
  if (!filter.states.empty()) {
    sql += " AND state IN (" + Placeholders(filter.states.size()) + ")";
    for (JobState s : filter.states) params.emplace_back(std::string(JobStateName(s)));
  }
  if (filter.report_only_set) {
    sql += " AND report_only = ?";
    params.emplace_back(int64_t{filter.report_only ? 1 : 0});
  }
  if (filter.claimable_at.has_value()) {
    sql += " AND (state = 'queued' OR (state = 'running' AND lease_expire_time < ?))";
    params.emplace_back(ToNanos(*filter.claimable_at));
  }
  if (!filter.requested_backends.empty()) {
    sql += " AND requested_backend IN (" + Placeholders(filter.requested_backends.size()) + ")";
    for (const std::string& b : filter.requested_backends) params.emplace_back(b);
  }
  if (filter.before_seq > 0) {
    sql += " AND seq < ?";
    params.emplace_back(filter.before_seq);
  }
  if (filter.after_seq > 0) {
    sql += " AND seq > ?";
    params.emplace_back(filter.after_seq);
  }
  sql += filter.ascending ? " ORDER BY seq" : " ORDER BY seq DESC";
  if (filter.limit > 0) {
    sql += " LIMIT ?";
    params.emplace_back(filter.limit);
  }
  return impl_->Read<std::vector<JobRecord>>(
      [&](Connection& c) { return QueryRows<JobRecord>(c, sql, params, ReadJobRow); });
}

Result<std::vector<KeyRevocation>> SqliteMetadataStore::ListKeyRevocations() {
  return impl_->Read<std::vector<KeyRevocation>>(
      [&](Connection& c) {
        return QueryRows<KeyRevocation>(c,
                                        "SELECT keyid, owner_tenant, reason, revoked_by, time "
                                        "FROM key_revocations ORDER BY seq",
                                        {}, ReadKeyRevocationRow);
      });
}

Result<int64_t> SqliteMetadataStore::AuditSize() {
  return impl_->Read<int64_t>([](Connection& c) {
    return c.QueryInt("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_entries");
  });
}

Result<std::vector<AuditRecord>> SqliteMetadataStore::ReadAudit(int64_t begin, int64_t end) {
  if (begin < 0 || end < begin) {
    return InvalidArgument("bad audit range [" + std::to_string(begin) + ", " +
                           std::to_string(end) + ")");
  }
  return impl_->Read<std::vector<AuditRecord>>([&](Connection& c) {
    return QueryRows<AuditRecord>(
        c,
        "SELECT idx, append_time, leaf_data, leaf_hash FROM audit_entries "
        "WHERE idx >= ? AND idx < ? ORDER BY idx",
        {begin, end}, ReadAuditRow);
  });
}

Result<std::vector<AuditRecord>> SqliteMetadataStore::QueryAudit(const AuditFilter& filter) {
  std::string sql = "SELECT idx, append_time, leaf_data, leaf_hash FROM audit_entries WHERE 1";
  std::vector<SqlValue> params;
  auto add = [&](std::string_view clause, SqlValue value) {
    sql += " AND ";
    sql += clause;
    params.push_back(std::move(value));
  };
  auto add_in = [&](std::string_view column, const std::vector<std::string>& values) {
    if (values.empty()) return;
    sql += " AND " + std::string(column) + " IN (" + Placeholders(values.size()) + ")";
    for (const std::string& v : values) params.emplace_back(v);
  };
  if (filter.start_index > 0) add("idx >= ?", filter.start_index);
  if (filter.end_index > 0) add("idx < ?", filter.end_index);
  // Append times never decrease with the index, so a time bound is an index bound: found once
  // through the time index, it lets every other filter use its (column, idx) index.
  constexpr std::string_view kFirstAtOrAfter =
      "COALESCE((SELECT idx FROM audit_entries WHERE append_time >= ? ORDER BY append_time "
      "LIMIT 1), 9223372036854775807)";
  if (filter.since.has_value()) {
    add("idx >= " + std::string(kFirstAtOrAfter), CeilMicros(*filter.since));
  }
  if (filter.until.has_value()) {
    add("idx < " + std::string(kFirstAtOrAfter), CeilMicros(*filter.until));
  }
  add_in("type", filter.types);
  if (!filter.tenant_id.empty()) add("tenant_id = ?", filter.tenant_id);
  add_in("action", filter.actions);
  if (!filter.effect.empty()) add("effect = ?", filter.effect);
  if (!filter.artifact_name.empty()) add("artifact_name = ?", filter.artifact_name);
  if (!filter.artifact_version.empty()) add("artifact_version = ?", filter.artifact_version);
  if (!filter.rule_id.empty()) add("rule_id = ?", filter.rule_id);
  if (!filter.request_id.empty()) add("request_id = ?", filter.request_id);
  if (!filter.policy_digest.empty()) add("policy_digest = ?", filter.policy_digest);
  sql += filter.descending ? " ORDER BY idx DESC" : " ORDER BY idx";
  if (filter.limit > 0) {
    sql += " LIMIT ?";
    params.emplace_back(filter.limit);
  }
  return impl_->Read<std::vector<AuditRecord>>(
      [&](Connection& c) { return QueryRows<AuditRecord>(c, sql, params, ReadAuditRow); });
}

Result<LeafHash> SqliteMetadataStore::AuditNode(int level, int64_t index) {
  return impl_->Read<LeafHash>([&](Connection& c) { return ReadNode(c, level, index); });
}

Result<std::optional<CheckpointRecord>> SqliteMetadataStore::FindCheckpoint(int64_t tree_size) {
  if (tree_size < 0) {
    return InvalidArgument("bad checkpoint tree size " + std::to_string(tree_size));
  }
  SOV_ASSIGN_OR_RETURN(
      std::vector<CheckpointRecord> rows,
      impl_->Read<std::vector<CheckpointRecord>>(
          [&](Connection& c) {
            // Either query returns at most one row: tree_size is the primary key.
            std::string sql = "SELECT tree_size, root, time, envelope FROM checkpoints ";
            sql += tree_size == 0 ? "ORDER BY tree_size DESC LIMIT 1" : "WHERE tree_size = ?";
            std::vector<SqlValue> params;
            if (tree_size != 0) params.emplace_back(tree_size);
            return QueryRows<CheckpointRecord>(c, sql, params, ReadCheckpointRow);
          }));
  if (rows.empty()) return std::optional<CheckpointRecord>();
  return std::optional<CheckpointRecord>(std::move(rows.front()));
}

Result<std::vector<CheckpointRecord>> SqliteMetadataStore::ListCheckpoints(int64_t begin,
                                                                           int64_t end) {
  return impl_->Read<std::vector<CheckpointRecord>>(
      [&](Connection& c) {
        return QueryRows<CheckpointRecord>(
            c,
            "SELECT tree_size, root, time, envelope FROM checkpoints "
            "WHERE tree_size > ? AND tree_size <= ? ORDER BY tree_size",
            {begin, end}, ReadCheckpointRow);
      });
}

}  // namespace sov::registry
