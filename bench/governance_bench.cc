// Erasure latency and a retention sweep over 10,000 artifacts, beside the raw cost of the same
// number of durable SQLite transactions on the same disk.
//
// 1. A registry (SQLite store, local blob store, audit log) in a temporary directory with N
//    small artifacts (10,000 by default) inserted straight through the store, in batches, so
//    that setup is fast; each has a 4 KiB encrypted-size stand-in blob on disk. The policy
//    erases personal data one day after creation; one sweep (gateway/retention.h) at day two
//    erases all of them, each with its RETENTION entry, key destruction, tombstone, signed
//    erasure record and blob deletion, on SweepOptions::concurrency workers (--concurrency;
//    the default is the gateway's). Prints the sweep's wall time and erasures per second.
//    While the sweep runs, a probe thread erases other artifacts through EraseWithLineage one
//    at a time, as a tenant's Erase call would: its p50 and p99 show what a sweep on C workers
//    costs the gateway's other writes, which share the store's commit groups with it. A
//    second probe appends one audit entry at a time (the DECISION entry every gRPC call
//    appends, a read's included): a write that destroys no key. --no-erasure-probe leaves the
//    first probe out: a sweep while no tenant erases anything, the usual case.
// 2. Single erasures through EraseWithLineage (what the Erase call runs after its decision),
//    one at a time on M more artifacts (1,000 by default) with nothing else running: p50, p99
//    and max latency.
// 3. The peer, measured in the same run on the same disk: a plain sqlite3 loop with
//    journal_mode=WAL and synchronous=FULL doing one DELETE and one INSERT per item, each its
//    own transaction (one fsync each) over a table of the same N rows. The ratio of erasures per
//    second to those transactions per second is the overhead of everything an erasure does
//    besides one durable metadata transaction.
//
// Usage: governance_bench [--artifacts N] [--single M] [--concurrency C] [--no-erasure-probe]
//                         [--keep]
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "crypto/ed25519.h"
#include "crypto/secret_key.h"
#include "crypto/sha256.h"
#include "gateway/erasure.h"
#include "gateway/retention.h"
#include "policy/policy.h"
#include "registry/local_blob_store.h"
#include "registry/registry.h"
#include "registry/sqlite_metadata_store.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using sov::registry::ArtifactRecord;

constexpr char kPolicy[] = R"(version: 1
name: governance-bench
retention:
  - classification: personal
    max_age: 1d
    at_deadline: erase
)";

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Options {
  int artifacts = 10000;
  int single = 1000;
  int concurrency = static_cast<int>(sov::gateway::kDefaultSweepConcurrency);
  bool keep = false;
  bool erasure_probe = true;
};

bool ParseArgs(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--keep") {
      o.keep = true;
    } else if (arg == "--no-erasure-probe") {
      o.erasure_probe = false;
    } else if ((arg == "--artifacts" || arg == "--single" || arg == "--concurrency") &&
               i + 1 < argc) {
      int value = std::atoi(argv[++i]);
      if (value <= 0) return false;
      (arg == "--artifacts" ? o.artifacts : arg == "--single" ? o.single : o.concurrency) = value;
    } else {
      return false;
    }
  }
  return true;
}

struct Bench {
  std::shared_ptr<sov::registry::SqliteMetadataStore> store;
  std::shared_ptr<sov::registry::LocalBlobStore> blobs;
  std::shared_ptr<sov::registry::AuditLog> audit;
  std::shared_ptr<sov::registry::Registry> registry;
};

// Inserts `count` personal datasets named PREFIX/NNNNN directly through the store, 500 per
// batch, each with a random wrapped key and a 4 KiB file standing in for its blob.
bool Insert(Bench& b, const fs::path& blob_dir, const std::string& prefix, int count,
            sov::SystemTime created) {
  constexpr int kBatch = 500;
  for (int start = 0; start < count; start += kBatch) {
    sov::registry::WriteBatch batch;
    for (int i = start; i < std::min(count, start + kBatch); ++i) {
      char suffix[16];
      std::snprintf(suffix, sizeof suffix, "%05d", i);
      ArtifactRecord a;
      a.id = prefix + "-" + suffix;
      a.spec.kind = sov::registry::Kind::kDataset;
      a.spec.name = "bench/" + prefix + "/" + suffix;
      a.spec.version = "1.0.0";
      a.spec.media_type = "application/octet-stream";
      a.spec.classification = "personal";
      a.spec.effective_classification = "personal";
      a.spec.purposes = {"analytics"};
      a.spec.lawful_basis = "consent";
      a.spec.owner_tenant = "bench";
      a.spec.storage_location = "eu-de-1";
      a.spec.storage_jurisdiction = "DE";
      a.spec.created_by = "bench";
      a.digest = sov::crypto::Sha256Of(a.id).ToString();
      a.size_bytes = 4096;
      a.create_time = created;
      a.update_time = created;
      const std::string key(72, static_cast<char>('a' + i % 26));
      batch.Add(sov::registry::mutation::InsertArtifact{a, key});
      // A stand-in blob where the local blob store keeps this id's blob.
      const fs::path blob = blob_dir / "blobs" / a.id.substr(0, 2) / (a.id + ".blob");
      fs::create_directories(blob.parent_path());
      FILE* f = std::fopen(blob.c_str(), "wb");
      if (f == nullptr) return false;
      std::string bytes(4096, 'x');
      std::fwrite(bytes.data(), 1, bytes.size(), f);
      std::fclose(f);
    }
    auto committed = b.store->Commit(std::move(batch));
    if (!committed.ok()) {
      std::fprintf(stderr, "insert failed: %s\n", committed.status().message().c_str());
      return false;
    }
  }
  return true;
}

// One DELETE and one INSERT per item, each its own transaction, WAL with synchronous=FULL.
double SqlitePeer(const fs::path& path, int items) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return -1;
  auto exec = [&](const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); };
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=FULL");
  exec("CREATE TABLE keys (id TEXT PRIMARY KEY, wrapped BLOB)");
  exec("CREATE TABLE tombstones (id TEXT PRIMARY KEY, reason TEXT, time INTEGER)");
  exec("BEGIN");
  sqlite3_stmt* fill = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO keys VALUES (?, ?)", -1, &fill, nullptr);
  const std::string key(72, 'k');
  for (int i = 0; i < items; ++i) {
    const std::string id = "id-" + std::to_string(i);
    sqlite3_bind_text(fill, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(fill, 2, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    sqlite3_step(fill);
    sqlite3_reset(fill);
  }
  sqlite3_finalize(fill);
  exec("COMMIT");
  sqlite3_stmt* del = nullptr;
  sqlite3_stmt* ins = nullptr;
  sqlite3_prepare_v2(db, "DELETE FROM keys WHERE id = ?", -1, &del, nullptr);
  sqlite3_prepare_v2(db, "INSERT INTO tombstones VALUES (?, 'retention', ?)", -1, &ins, nullptr);
  const auto start = Clock::now();
  for (int i = 0; i < items; ++i) {
    const std::string id = "id-" + std::to_string(i);
    exec("BEGIN");
    sqlite3_bind_text(del, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_step(del);
    sqlite3_reset(del);
    sqlite3_bind_text(ins, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(ins, 2, i);
    sqlite3_step(ins);
    sqlite3_reset(ins);
    if (exec("COMMIT") != SQLITE_OK) {
      std::fprintf(stderr, "sqlite peer: %s\n", sqlite3_errmsg(db));
      break;
    }
  }
  const double seconds = Seconds(Clock::now() - start);
  sqlite3_finalize(del);
  sqlite3_finalize(ins);
  sqlite3_close(db);
  return items / seconds;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: governance_bench [--artifacts N] [--single M] [--concurrency C] "
                 "[--no-erasure-probe] [--keep]\n");
    return 2;
  }
  const fs::path work =
      fs::temp_directory_path() / ("sov-bench-governance-" + std::to_string(::getpid()));
  fs::create_directories(work);
  std::printf("governance_bench: %d artifacts swept (%d workers), %d single erasures, in %s\n",
              o.artifacts, o.concurrency, o.single, work.c_str());

  Bench b;
  auto store = sov::registry::SqliteMetadataStore::Open((work / "registry.db").string());
  if (!store.ok()) {
    std::fprintf(stderr, "open store: %s\n", store.status().message().c_str());
    return 1;
  }
  b.store = std::move(*store);
  const fs::path blob_dir = work / "eu-de-1";
  auto blobs = sov::registry::LocalBlobStore::Create({{"eu-de-1", blob_dir.string()}});
  if (!blobs.ok()) {
    std::fprintf(stderr, "blob store: %s\n", blobs.status().message().c_str());
    return 1;
  }
  b.blobs = std::move(*blobs);
  const auto signing_key = sov::crypto::Ed25519PrivateKey::Generate();
  sov::registry::AuditLogOptions audit_options;
  audit_options.checkpoint_interval = std::chrono::seconds(1);
  b.audit = std::make_shared<sov::registry::AuditLog>(b.store, signing_key, audit_options);
  sov::registry::RegistryOptions options;
  options.locations = {{"eu-de-1", "DE"}};
  b.registry = std::make_shared<sov::registry::Registry>(
      b.store, b.blobs, b.audit, sov::crypto::SecretKey::Random(), signing_key, options);
  auto policy = sov::policy::Policy::Load(kPolicy, "bench-policy.yaml");
  if (!policy.ok()) {
    std::fprintf(stderr, "policy: %s\n", policy.status().message().c_str());
    return 1;
  }

  const sov::SystemTime now = std::chrono::system_clock::now();
  auto setup_start = Clock::now();
  if (!Insert(b, blob_dir, "swept", o.artifacts, now) ||
      !Insert(b, blob_dir, "single", o.single, now + std::chrono::hours(24 * 365))) {
    return 1;
  }
  // The probe's artifacts: as many as the sweep could possibly leave it time for.
  const int probe_count = std::max(100, o.artifacts / 4);
  if (!Insert(b, blob_dir, "probe", probe_count, now + std::chrono::hours(24 * 365))) return 1;
  std::printf("setup: %d artifacts inserted in %.1f s\n", o.artifacts + o.single + probe_count,
              Seconds(Clock::now() - setup_start));

  // The sweep starts by reading the whole catalog. Each read transaction holds up the WAL cut
  // that a concurrent erasure waits for, so the longest one bounds that wait: the catalog in
  // the sweep's pages beside the same catalog in one read.
  double catalog_ms[2] = {0, 0};
  for (int one_read = 0; one_read < 2; ++one_read) {
    const auto load_start = Clock::now();
    auto catalog = sov::gateway::ArtifactCatalog::Load(
        *b.registry, one_read ? 0 : sov::gateway::ArtifactCatalog::kDefaultPageRows);
    if (!catalog.ok()) {
      std::fprintf(stderr, "catalog: %s\n", catalog.status().message().c_str());
      return 1;
    }
    catalog_ms[one_read] = Seconds(Clock::now() - load_start) * 1000.0;
  }

  sov::registry::Actor actor;
  actor.tenant_id = "compliance";
  sov::registry::Registry::EraseRequest request;
  request.reason = "Art. 17 request (bench)";
  // Erases PREFIX/NNNNN through EraseWithLineage; returns its latency in ms, or -1.
  auto erase_one = [&](const char* prefix, int i) {
    char name[48];
    std::snprintf(name, sizeof name, "bench/%s/%05d", prefix, i);
    auto target = b.registry->Get(name, "1.0.0");
    if (!target.ok()) return -1.0;
    const auto start = Clock::now();
    auto erased = sov::gateway::EraseWithLineage(*b.registry, *policy, *target, request, actor,
                                                 {}, false);
    if (!erased.ok()) {
      std::fprintf(stderr, "erase %s: %s\n", name, erased.status().message().c_str());
      return -1.0;
    }
    return Seconds(Clock::now() - start) * 1000.0;
  };

  // 1. One sweep that expires all of them, and the probe beside it.
  std::atomic<bool> sweeping{true};
  std::vector<double> probe_ms;
  bool probe_failed = false;
  std::thread probe([&] {
    for (int i = 0; o.erasure_probe && i < probe_count && sweeping.load(); ++i) {
      const double ms = erase_one("probe", i);
      if (ms < 0) {
        probe_failed = true;
        return;
      }
      if (sweeping.load()) probe_ms.push_back(ms);
    }
  });
  // The second probe: one DECISION entry at a time, as an audited read appends.
  std::vector<double> audit_ms;
  bool audit_failed = false;
  std::thread audit_probe([&] {
    for (int i = 0; sweeping.load(); ++i) {
      sov::registry::AuditEvent event;
      event.type = "DECISION";
      event.request_id = "bench-read-" + std::to_string(i);
      event.principal = {{"tenantId", "acme"}, {"authMethod", "mtls"}, {"credential", "CN=acme"}};
      event.action = "artifact.get";
      event.artifact_name = "bench/probe/00000";
      event.artifact_version = "1.0.0";
      event.effect = "allow";
      event.rule_id = "bench";
      event.policy_digest = "sha256:bench";
      const auto start = Clock::now();
      auto appended = b.audit->Append({std::move(event)});
      if (!appended.ok()) {
        std::fprintf(stderr, "audit append: %s\n", appended.status().message().c_str());
        audit_failed = true;
        return;
      }
      if (sweeping.load()) audit_ms.push_back(Seconds(Clock::now() - start) * 1000.0);
    }
  });
  const auto sweep_start = Clock::now();
  const auto commits_before = b.store->group_commit_stats();
  sov::gateway::SweepOptions sweep_options;
  sweep_options.concurrency = static_cast<size_t>(o.concurrency);
  auto report = sov::gateway::SweepRetention(*b.registry, *policy,
                                             now + std::chrono::hours(48), sweep_options);
  const double sweep_s = Seconds(Clock::now() - sweep_start);
  const auto commits_after = b.store->group_commit_stats();
  sweeping = false;
  probe.join();
  audit_probe.join();
  if (probe_failed || audit_failed) return 1;
  if (!report.ok()) {
    std::fprintf(stderr, "sweep: %s\n", report.status().message().c_str());
    return 1;
  }
  const double sweep_rate = static_cast<double>(report->erased) / sweep_s;

  // 2. Single erasures, one at a time.
  std::vector<double> latencies_ms;
  for (int i = 0; i < o.single; ++i) {
    const double ms = erase_one("single", i);
    if (ms < 0) return 1;
    latencies_ms.push_back(ms);
  }

  // 3. The peer on the same disk, in the same run.
  const double peer_rate = SqlitePeer(work / "peer.db", o.artifacts);

  std::printf("\n%-52s %12s\n", "retention sweep", "value");
  std::printf("%-52s %12lld\n", "artifacts erased", static_cast<long long>(report->erased));
  std::printf("%-52s %12lld\n", "failed", static_cast<long long>(report->failed));
  std::printf("%-52s %12.2f\n", "wall time (s)", sweep_s);
  std::printf("%-52s %12.0f\n", "erasures/s (sweep)", sweep_rate);
  std::printf("%-52s %12lld\n", "store commit groups (one fsync each)",
              static_cast<long long>(commits_after.groups - commits_before.groups));
  std::printf("%-52s %12lld\n", "store batches committed",
              static_cast<long long>(commits_after.batches - commits_before.batches));
  char paged[64];
  std::snprintf(paged, sizeof paged, "catalog read, pages of %lld rows (ms)",
                static_cast<long long>(sov::gateway::ArtifactCatalog::kDefaultPageRows));
  std::printf("%-52s %12.1f\n", paged, catalog_ms[0]);
  std::printf("%-52s %12.1f\n", "catalog read, one transaction (ms)", catalog_ms[1]);
  std::printf("%-52s %12lld\n", "WAL checkpoints a reader held up (retried)",
              static_cast<long long>(commits_after.shred_checkpoints_deferred -
                                     commits_before.shred_checkpoints_deferred));
  {
    // How many WAL cuts the key-destroying groups needed (a cut may wait for the next queued
    // group, so one can serve several), and what each cut copied into the database file.
    const int64_t cuts = commits_after.shred_cuts - commits_before.shred_cuts;
    std::printf("%-52s %12lld\n", "commit groups that destroyed a key",
                static_cast<long long>(commits_after.shred_key_groups -
                                       commits_before.shred_key_groups));
    std::printf("%-52s %12lld\n", "WAL cuts after them (crypto-shredding)",
                static_cast<long long>(cuts));
    const double kib = static_cast<double>(commits_after.shred_checkpoint_wal_bytes -
                                           commits_before.shred_checkpoint_wal_bytes) / 1024.0;
    std::printf("%-52s %12.0f\n", "WAL checkpointed per cut (KiB)",
                cuts > 0 ? kib / static_cast<double>(cuts) : 0.0);
    std::printf("%-52s %12.1f\n", "WAL checkpointed per erasure (KiB)",
                report->erased > 0 ? kib / static_cast<double>(report->erased) : 0.0);
  }
  std::printf("\n%-52s %12s %12s %12s\n", "single erasure (EraseWithLineage)", "p50 ms", "p99 ms",
              "max ms");
  char during[64];
  if (o.erasure_probe) {
    std::snprintf(during, sizeof during, "  during the sweep (%zu, one at a time)",
                  probe_ms.size());
    std::printf("%-52s %12.2f %12.2f %12.2f\n", during, Percentile(probe_ms, 0.50),
                Percentile(probe_ms, 0.99), Percentile(probe_ms, 1.0));
  } else {
    std::printf("%-52s %12s\n", "  during the sweep", "not run (--no-erasure-probe)");
  }
  std::printf("%-52s %12.2f %12.2f %12.2f\n", "  alone", Percentile(latencies_ms, 0.50),
              Percentile(latencies_ms, 0.99), Percentile(latencies_ms, 1.0));
  std::snprintf(during, sizeof during, "audit entry during the sweep (%zu, one at a time)",
                audit_ms.size());
  std::printf("%-52s %12.2f %12.2f %12.2f\n", during, Percentile(audit_ms, 0.50),
              Percentile(audit_ms, 0.99), Percentile(audit_ms, 1.0));
  std::printf("\n%-52s %12s\n", "peer: sqlite3 DELETE+INSERT, WAL, synchronous=FULL", "txn/s");
  std::printf("%-52s %12.0f\n", "", peer_rate);
  if (peer_rate > 0) {
    std::printf("ratio sweep erasures/s : peer transactions/s = %.2fx\n", sweep_rate / peer_rate);
  }
  if (!o.keep) {
    b = Bench{};
    std::error_code ec;
    fs::remove_all(work, ec);
  }
  return report->failed == 0 ? 0 : 1;
}
