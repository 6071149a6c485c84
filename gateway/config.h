// sovd's configuration file (YAML): where it listens, its TLS files, keys, storage locations,
// tenants and policy files. ParseServerConfig checks shape and values and resolves relative
// paths against the config file's directory; it does not open the files it names (the gateway
// does that at start and reports a missing file at the key that names it, via ErrorAt).
// Every error is one line "FILE:LINE:COLUMN: error: KEY: what". Unknown keys are errors: they
// are usually typos. docs/operations.md documents every key. Plain values; thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "gateway/listen_address.h"

namespace sov::gateway {

struct TlsFiles {
  std::string cert;       // server certificate chain (PEM)
  std::string key;        // server private key (PEM), must be 0600
  std::string client_ca;  // CA certificate(s) that client certificates must chain to
};

// A named place where artifact blobs are stored, and the jurisdiction it lies in.
struct StorageLocation {
  std::string name;          // e.g. "eu-de-1"
  std::string jurisdiction;  // ISO 3166-1 alpha-2, e.g. "DE"
  std::string path;          // directory, created at start when missing
};

// Registry limits (`registry:` section; every key optional).
struct RegistryLimits {
  std::string database;  // metadata database file; default DATA_DIR/registry.db
  int64_t max_artifact_bytes = int64_t{64} << 30;  // max_artifact_size, e.g. "64GiB"
  int64_t max_chunk_bytes = int64_t{2} << 20;      // max_chunk_size, e.g. "2MiB"
  int64_t upload_ttl_seconds = 24 * 3600;          // upload_ttl, e.g. "24h"
};

// The audit log (`audit:` section; every key optional).
struct AuditSettings {
  std::string origin = "sovereign/audit";  // the log's name in signed checkpoints
  int64_t checkpoint_interval_ms = 1000;   // checkpoint_interval, e.g. "1s", "500ms"
};

// Validation workers (`validation:` section; every key optional).
struct ValidationSettings {
  int workers = 1;                 // threads in this gateway; 0: it runs none
  std::string backend = "auto";    // auto | cpu | cuda
  int64_t lease_seconds = 60;      // lease, e.g. "60s": a silent worker's job is taken again
  // `sovd eval-worker` processes share this data directory: the gateway then reads artifact
  // records from the database every time (their stage changes come from another process).
  bool external_workers = false;
  // max_attempts: a job whose worker stopped reporting on this many attempts is failed and its
  // model rejected instead of being handed to yet another worker; 0: no limit.
  int max_attempts = 3;
  // poll_interval, e.g. "1s": how often an idle worker looks for a job nobody announced (one
  // whose lease ran out; one queued where the queue signal does not reach, gateway/queue_signal.h).
  int64_t poll_interval_ms = 1000;
};

// The most lineage groups one retention sweep works on at once (retention.sweep_concurrency).
inline constexpr int kMaxSweepConcurrency = 128;

// The retention sweeper (`retention:` section; every key optional).
struct RetentionSettings {
  // sweep_interval, e.g. "1h", "15m"; 0 disables the background sweep (SweepRetention still
  // runs one on request).
  int64_t sweep_interval_ms = 3'600'000;
  // sweep_concurrency: lineage groups a sweep erases or revokes at once, 1 to
  // kMaxSweepConcurrency; 1 applies one item after another (gateway/retention.h). More
  // workers make bigger commit groups: a faster sweep, slower other writes while it runs
  // (docs/performance.md, "Erasure and retention sweep").
  int sweep_concurrency = 32;
};

struct ServerConfig {
  std::string file;  // the config file, as given
  ListenAddress listen;
  std::string data_dir;
  std::optional<TlsFiles> tls;  // absent only for --insecure-loopback setups
  std::string master_key;
  std::string signing_key;
  std::vector<StorageLocation> storage;
  std::string tenants;
  std::string policy;
  RegistryLimits registry;
  AuditSettings audit;
  ValidationSettings validation;
  RetentionSettings retention;

  // "FILE:LINE:COLUMN" of each setting's value, keyed by its name ("tls.cert",
  // "storage[1].path"), so that problems found later point at the line that caused them.
  std::map<std::string, std::string> locations;

  // Returns `status`'s message as a one-line error at `key`: "FILE:L:C: error: key: message",
  // keeping the status's code.
  Status ErrorAt(std::string_view key, const Status& status) const;
};

// Parses config text; `file` names it in errors and its directory anchors relative paths.
Result<ServerConfig> ParseServerConfig(std::string_view text, const std::string& file);

// Reads and parses a config file; NOT_FOUND naming the file when it does not exist.
Result<ServerConfig> LoadServerConfig(const std::string& file);

}  // namespace sov::gateway
