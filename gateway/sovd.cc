#include "gateway/sovd.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <atomic>
#include <thread>
#include <utility>

#include <unistd.h>

#include "common/file.h"
#include "crypto/ed25519.h"
#include "crypto/key_hierarchy.h"
#include "gateway/config.h"
#include "gateway/dev_environment.h"
#include "gateway/gateway_server.h"
#include "gateway/policy_store.h"
#include "gateway/policy_watcher.h"
#include "gateway/queue_signal.h"
#include "gateway/tenants.h"
#include "gateway/validation_worker.h"
#include "registry/audit_log.h"
#include "registry/local_blob_store.h"
#include "registry/registry.h"
#include "registry/sqlite_metadata_store.h"

namespace sov::gateway {
namespace {

// Prints one error line. Errors that already carry a location ("FILE:L:C: error: ...") are
// printed as they are, as compilers do; others get the program's name.
int Fail(const Status& status) {
  const std::string& message = status.message();
  if (message.find(": error: ") != std::string::npos) {
    std::fprintf(stderr, "%s\n", message.c_str());
  } else {
    std::fprintf(stderr, "sovd: error: %s\n", message.c_str());
  }
  std::fflush(stderr);
  return kExitStartFailed;
}

// A file the config names, read as the gateway reads it; a failure is one line at the key.
template <typename T>
Result<T> AtKey(const ServerConfig& config, std::string_view key, Result<T> loaded) {
  if (!loaded.ok()) return config.ErrorAt(key, loaded.status());
  return loaded;
}

// Threads that libraries start before main (OpenBLAS's pool, from its library constructor) do
// not block the shutdown signals, so the kernel may deliver a process-directed SIGTERM to one of
// them, where the default action would kill the process. A handler there hands the signal to
// the thread that waits for it with sigwait; until that thread exists, the signal is kept.
std::atomic<pthread_t> g_signal_waiter{};
std::atomic<bool> g_signal_waiter_set{false};
std::atomic<int> g_early_signal{0};

void ForwardSignal(int signal) {
  if (g_signal_waiter_set.load()) {
    pthread_kill(g_signal_waiter.load(), signal);
  } else {
    g_early_signal.store(signal);
  }
}

// Makes the calling thread the one ForwardSignal hands signals to; returns a signal that arrived
// before, or 0.
int BecomeSignalWaiter() {
  g_signal_waiter.store(pthread_self());
  g_signal_waiter_set.store(true);
  return g_early_signal.exchange(0);
}

// Waits for the next shutdown or reload signal (one forwarded early counts first).
int WaitForSignal(const sigset_t& signals, int& early) {
  if (early != 0) return std::exchange(early, 0);
  int signal = 0;
  while (sigwait(&signals, &signal) != 0) {
  }
  return signal;
}

}  // namespace

int RunEvalWorker(const EvalWorkerOptions& options, const sigset_t& signals) {
  ConfigureLogging(options.log_format, options.log_level);
  Result<ServerConfig> config = LoadServerConfig(options.config_file);
  if (!config.ok()) return Fail(config.status());
  ValidationWorkerOptions workers;
  workers.workers = options.workers.value_or(
      config->validation.workers > 0 ? config->validation.workers : 1);
  workers.backend = options.backend.value_or(config->validation.backend);
  workers.lease = std::chrono::seconds(config->validation.lease_seconds);
  workers.idle_poll = std::chrono::milliseconds(config->validation.poll_interval_ms);
  if (workers.workers < 1) return Fail(InvalidArgument("--workers must be at least 1"));

  if (Status mode = CheckPrivateFileMode(config->master_key); !mode.ok()) {
    return Fail(config->ErrorAt("master_key", mode));
  }
  Result<crypto::SecretKey> master_key =
      AtKey(*config, "master_key", crypto::LoadMasterKeyFile(config->master_key));
  if (!master_key.ok()) return Fail(master_key.status());
  if (Status mode = CheckPrivateFileMode(config->signing_key); !mode.ok()) {
    return Fail(config->ErrorAt("signing_key", mode));
  }
  Result<crypto::Ed25519PrivateKey> signing_key =
      AtKey(*config, "signing_key", crypto::LoadPrivateKeyFile(config->signing_key));
  if (!signing_key.ok()) return Fail(signing_key.status());
  Result<TenantDirectory> tenants = TenantDirectory::Load(config->tenants);
  if (!tenants.ok()) {
    return Fail(tenants.status().code() == StatusCode::kNotFound
                    ? config->ErrorAt("tenants", tenants.status())
                    : tenants.status());
  }
  auto tenant_directory = std::make_shared<const TenantDirectory>(std::move(*tenants));
  Result<std::unique_ptr<PolicyStore>> loaded_policy = PolicyStore::Load(config->policy);
  if (!loaded_policy.ok()) {
    return Fail(loaded_policy.status().code() == StatusCode::kInvalidArgument
                    ? loaded_policy.status()
                    : config->ErrorAt("policy", loaded_policy.status()));
  }
  std::shared_ptr<PolicyStore> policies(std::move(*loaded_policy));

  // The gateway owns the data directory (its lock, crash recovery); this process only adds
  // reports and job outcomes through the same database, which it reads afresh every time.
  registry::SqliteMetadataStore::Options store_options;
  store_options.cache_artifacts = false;
  Result<std::unique_ptr<registry::SqliteMetadataStore>> store =
      registry::SqliteMetadataStore::Open(config->registry.database, store_options);
  if (!store.ok()) return Fail(config->ErrorAt("registry.database", store.status()));
  std::shared_ptr<registry::MetadataStore> metadata = std::move(*store);
  std::vector<registry::LocalBlobLocation> directories;
  for (const StorageLocation& location : config->storage) {
    directories.push_back({location.name, location.path});
  }
  Result<std::unique_ptr<registry::LocalBlobStore>> blobs =
      registry::LocalBlobStore::Create(std::move(directories));
  if (!blobs.ok()) return Fail(config->ErrorAt("storage", blobs.status()));
  registry::AuditLogOptions audit_options;
  audit_options.origin = config->audit.origin;
  audit_options.checkpoint_interval =
      std::chrono::milliseconds(config->audit.checkpoint_interval_ms);
  auto audit = std::make_shared<registry::AuditLog>(metadata, *signing_key, audit_options);
  registry::RegistryOptions registry_options;
  for (const StorageLocation& location : config->storage) {
    registry_options.locations.push_back({location.name, location.jurisdiction});
  }
  registry_options.max_artifact_bytes = config->registry.max_artifact_bytes;
  registry_options.max_job_attempts = config->validation.max_attempts;
  auto registry = std::make_shared<registry::Registry>(
      metadata, std::shared_ptr<registry::BlobStore>(std::move(*blobs)), audit,
      std::move(*master_key), *signing_key, registry_options);

  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::strcpy(host, "localhost");
  workers.name = std::string(host) + "/eval-worker-" + std::to_string(::getpid());
  ValidationWorkerPool pool(registry, policies, tenant_directory, *signing_key, workers);
  if (Status started = pool.Start(); !started.ok()) return Fail(started);
  // The gateway (with validation.external_workers) raises the queue signal for every job it
  // queues: the idle workers start at once instead of at their next poll.
  const std::string signal_file = QueueSignalPath(config->registry.database);
  Result<std::unique_ptr<QueueSignalWatcher>> queue_signal =
      QueueSignalWatcher::Start(signal_file, [&pool] { pool.Wake(); });
  if (!queue_signal.ok()) {
    LogEvent(*ModuleLogger("gateway"), spdlog::level::warn,
             "cannot watch the job-queue signal; idle workers find jobs by polling only",
             {{"error", queue_signal.status().message()},
              {"poll_interval_ms", std::to_string(config->validation.poll_interval_ms)}});
  }
  std::unique_ptr<PolicyFileWatcher> watcher;
  if (options.watch_policy) {
    watcher = std::make_unique<PolicyFileWatcher>(*policies, kPolicyPollInterval);
  }
  std::string backends;
  for (const std::string& b : pool.backends()) backends += (backends.empty() ? "" : ",") + b;
  std::cout << "sovd eval-worker running " << workers.workers << " worker(s) on "
            << config->registry.database << " (backends: " << backends << ")\n"
            << std::flush;
  LogEvent(*ModuleLogger("gateway"), spdlog::level::info, "sovd eval-worker started",
           {{"config", config->file},
            {"database", config->registry.database},
            {"workers", std::to_string(workers.workers)},
            {"backends", backends},
            {"queue_signal", queue_signal.ok() ? signal_file : "none (polling)"},
            {"policy_sha256", policies->Current()->digest()},
            {"signing_key_id", signing_key->public_key().KeyId()}});
  int early = BecomeSignalWaiter();
  int signal = 0;
  for (;;) {
    signal = WaitForSignal(signals, early);
    if (signal != SIGHUP) break;
    (void)policies->Reload("SIGHUP");
  }
  LogEvent(*ModuleLogger("gateway"), spdlog::level::info, "shutting down",
           {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
  if (watcher != nullptr) watcher->Stop();
  if (queue_signal.ok()) (*queue_signal)->Stop();
  pool.Stop();
  LogEvent(*ModuleLogger("gateway"), spdlog::level::info, "sovd eval-worker stopped");
  return kExitOk;
}

sigset_t BlockSovdSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  struct sigaction forward {};
  forward.sa_handler = ForwardSignal;
  sigemptyset(&forward.sa_mask);
  forward.sa_flags = SA_RESTART;
  for (int signal : {SIGTERM, SIGINT, SIGHUP}) sigaction(signal, &forward, nullptr);
  return set;
}

std::optional<std::string> DefaultDevDataDir() {
  if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && *state == '/') {
    return std::string(state) + "/sovereign/dev";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/') {
    return std::string(home) + "/.local/state/sovereign/dev";
  }
  return std::nullopt;
}

int RunSovd(const SovdOptions& options, const sigset_t& signals) {
  ConfigureLogging(options.log_format, options.log_level);

  std::optional<DevEnvironment> dev;
  std::string config_file;
  if (options.dev) {
    std::optional<std::string> dir = options.data_dir ? options.data_dir : DefaultDevDataDir();
    if (!dir) return Fail(InvalidArgument("--dev needs --data-dir DIR (HOME is not set)"));
    Result<DevEnvironment> env = PrepareDevEnvironment(*dir);
    if (!env.ok()) return Fail(env.status());
    dev = *env;
    config_file = dev->config_file;
  } else if (options.config_file) {
    config_file = *options.config_file;
  } else {
    return Fail(InvalidArgument(
        "no configuration: run `sovd --config FILE`, or `sovd --dev --data-dir DIR` for a "
        "development gateway (see sovd --help)"));
  }

  Result<ServerConfig> config = LoadServerConfig(config_file);
  if (!config.ok()) return Fail(config.status());
  if (options.data_dir && !options.dev) config->data_dir = *options.data_dir;

  ServeOptions serve;
  serve.insecure_loopback = options.insecure_loopback;
  if (!options.watch_policy) serve.policy_poll_interval = std::chrono::milliseconds(0);
  SuppressGrpcLogs(true);  // a failed start is one line of sovd's, not gRPC's internals
  Result<std::unique_ptr<GatewayServer>> server = GatewayServer::Start(*config, serve);
  SuppressGrpcLogs(false);
  if (!server.ok()) return Fail(server.status());
  GatewayServer& gateway = **server;

  if (dev) {
    Status recorded = RecordDevAddress(*dev, gateway.address());
    if (!recorded.ok()) {
      gateway.Shutdown(std::chrono::system_clock::now());
      gateway.Wait();
      return Fail(recorded.WithContext("cannot record the dev gateway's address"));
    }
  }

  std::cout << "sovd listening on " << gateway.address().ToString() << " ("
            << gateway.mode_name() << ")\n";
  if (dev) std::cout << DevInstructions(*dev, gateway.address(), gateway.mtls());
  std::cout << std::flush;

  std::thread signal_thread([&gateway, signals] {
    int early = BecomeSignalWaiter();
    int signal = 0;
    for (;;) {
      signal = WaitForSignal(signals, early);
      if (signal != SIGHUP) break;
      // The store logs the outcome; a bad file leaves the policy in force and sovd serving.
      (void)gateway.policy_store().Reload("SIGHUP");
    }
    LogEvent(*ModuleLogger("gateway"), spdlog::level::info, "shutting down",
             {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"},
              {"grace_seconds", std::to_string(kShutdownGrace.count())}});
    gateway.Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  });
  gateway.Wait();
  signal_thread.join();
  LogEvent(*ModuleLogger("gateway"), spdlog::level::info, "sovd stopped");
  return kExitOk;
}

}  // namespace sov::gateway
