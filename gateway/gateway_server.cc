#include "gateway/gateway_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <netdb.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/file.h"
#include "crypto/key_hierarchy.h"
#include "gateway/auth_processor.h"
#include "gateway/log.h"
#include "gateway/queue_signal.h"
#include "registry/local_blob_store.h"
#include "registry/sqlite_metadata_store.h"

namespace sov::gateway {
namespace {

// Handler threads kept polling for calls (see GatewayServer::Start); idle ones beyond gRPC's
// minimum exit after its completion-queue timeout.
constexpr int kMaxPollers = 64;

struct TlsMaterial {
  std::string cert_pem;
  std::string key_pem;
  std::string client_ca_pem;
};

// Reads a file named by config key `key`; a failure is one line at that key.
Result<std::string> ReadConfiguredFile(const ServerConfig& config, std::string_view key,
                                       const std::string& path, bool is_private) {
  Result<std::string> text = is_private ? ReadPrivateFile(path) : ReadFile(path);
  if (!text.ok()) return config.ErrorAt(key, text.status());
  return text;
}

Result<TlsMaterial> LoadTls(const ServerConfig& config) {
  TlsMaterial tls;
  SOV_ASSIGN_OR_RETURN(tls.cert_pem, ReadConfiguredFile(config, "tls.cert", config.tls->cert, false));
  SOV_ASSIGN_OR_RETURN(tls.key_pem, ReadConfiguredFile(config, "tls.key", config.tls->key, true));
  SOV_ASSIGN_OR_RETURN(tls.client_ca_pem,
                       ReadConfiguredFile(config, "tls.client_ca", config.tls->client_ca, false));
  return tls;
}

Result<crypto::SecretKey> LoadMasterKey(const ServerConfig& config) {
  // The mode check comes first so that its message (with the chmod that fixes it) is the one
  // shown, whatever the key loader would say.
  Status mode = CheckPrivateFileMode(config.master_key);
  if (!mode.ok()) return config.ErrorAt("master_key", mode);
  Result<crypto::SecretKey> key = crypto::LoadMasterKeyFile(config.master_key);
  if (!key.ok()) return config.ErrorAt("master_key", key.status());
  return key;
}

Result<crypto::Ed25519PrivateKey> LoadSigningKey(const ServerConfig& config) {
  Status mode = CheckPrivateFileMode(config.signing_key);
  if (!mode.ok()) return config.ErrorAt("signing_key", mode);
  Result<crypto::Ed25519PrivateKey> key = crypto::LoadPrivateKeyFile(config.signing_key);
  if (!key.ok()) return config.ErrorAt("signing_key", key.status());
  return key;
}

Result<std::shared_ptr<const TenantDirectory>> LoadTenants(const ServerConfig& config) {
  SOV_ASSIGN_OR_RETURN(std::string text, ReadConfiguredFile(config, "tenants", config.tenants, false));
  // Errors inside the tenants file already name that file, line and column.
  SOV_ASSIGN_OR_RETURN(TenantDirectory directory, TenantDirectory::Parse(text, config.tenants));
  return std::make_shared<const TenantDirectory>(std::move(directory));
}

// Loads the policy file; a file that cannot be read is reported at the `policy` key, a policy
// that does not compile as its own diagnostics, which already name the file, line and column.
Result<std::shared_ptr<PolicyStore>> LoadPolicy(const ServerConfig& config) {
  Result<std::unique_ptr<PolicyStore>> store = PolicyStore::Load(config.policy);
  if (!store.ok()) {
    if (store.status().code() == StatusCode::kInvalidArgument) return store.status();
    return config.ErrorAt("policy", store.status());
  }
  return std::shared_ptr<PolicyStore>(std::move(*store));
}

Status CreateDirectories(const ServerConfig& config) {
  Status status = MakeDirectories(config.data_dir, 0700);
  if (!status.ok()) return config.ErrorAt("data_dir", status);
  for (size_t i = 0; i < config.storage.size(); ++i) {
    status = MakeDirectories(config.storage[i].path, 0700);
    if (!status.ok()) {
      return config.ErrorAt("storage[" + std::to_string(i) + "].path", status);
    }
  }
  return OkStatus();
}

// gRPC reports a failed bind only in its log; binding the address once more here recovers the
// operating system's reason ("Address already in use") for sovd's one-line error.
std::string BindFailureReason(const ListenAddress& address) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* results = nullptr;
  const std::string port = std::to_string(address.port);
  if (int rc = ::getaddrinfo(address.host.c_str(), port.c_str(), &hints, &results); rc != 0) {
    return ::gai_strerror(rc);
  }
  std::string reason;
  for (addrinfo* ai = results; ai != nullptr && reason.empty(); ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) reason = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(results);
  return reason;
}

// The POLICY_LOAD audit entry for a policy coming into force (or a reload refused).
registry::AuditEvent PolicyLoadEvent(const PolicyEvent& e) {
  registry::AuditEvent event;
  event.type = "POLICY_LOAD";
  event.system_actor = "policy";
  event.action = e.refused ? "policy.reload-refused" : "policy.load";
  nlohmann::json details = {{"trigger", e.trigger},
                            {"file", std::filesystem::path(e.file).filename().string()},
                            {"name", e.name},
                            {"policyDigest", e.new_digest}};
  if (!e.old_digest.empty()) details["previousPolicyDigest"] = e.old_digest;
  if (e.refused) details["error"] = e.error;
  event.body["details"] = std::move(details);
  return event;
}

}  // namespace

Status GatewayServer::OpenRegistry(const ServerConfig& config,
                                   const std::shared_ptr<const TenantDirectory>& tenants) {
  // One gateway per data directory: crash recovery deletes what no record references, which
  // would race another gateway's uploads.
  const std::string lock_path = (std::filesystem::path(config.data_dir) / "sovd.lock").string();
  data_lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (data_lock_fd_ < 0) {
    return config.ErrorAt("data_dir", Unavailable("cannot open " + lock_path + ": " +
                                                  std::strerror(errno)));
  }
  if (::flock(data_lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return config.ErrorAt("data_dir", FailedPrecondition("another sovd is using " + config.data_dir +
                                                         " (it holds " + lock_path + ")"));
  }
  registry::SqliteMetadataStore::Options store_options;
  // Eval-workers in other processes change artifact records: read them from the file each time.
  store_options.cache_artifacts = !config.validation.external_workers;
  Result<std::unique_ptr<registry::SqliteMetadataStore>> store =
      registry::SqliteMetadataStore::Open(config.registry.database, store_options);
  if (!store.ok()) return config.ErrorAt("registry.database", store.status());
  std::shared_ptr<registry::MetadataStore> metadata = std::move(*store);
  std::vector<registry::LocalBlobLocation> directories;
  for (const StorageLocation& location : config.storage) {
    directories.push_back({location.name, location.path});
  }
  Result<std::unique_ptr<registry::LocalBlobStore>> blobs =
      registry::LocalBlobStore::Create(std::move(directories));
  if (!blobs.ok()) return config.ErrorAt("storage", blobs.status());
  registry::AuditLogOptions audit_options;
  audit_options.origin = config.audit.origin;
  audit_options.checkpoint_interval = std::chrono::milliseconds(config.audit.checkpoint_interval_ms);
  audit_ = std::make_shared<registry::AuditLog>(metadata, signing_key_, audit_options);
  registry::RegistryOptions options;
  for (const StorageLocation& location : config.storage) {
    options.locations.push_back({location.name, location.jurisdiction});
  }
  options.max_artifact_bytes = config.registry.max_artifact_bytes;
  options.max_chunk_bytes = config.registry.max_chunk_bytes;
  options.upload_ttl = std::chrono::seconds(config.registry.upload_ttl_seconds);
  options.max_job_attempts = config.validation.max_attempts;
  for (const Tenant& tenant : tenants->tenants()) {
    if (tenant.quota_bytes > 0) options.quota_bytes[tenant.id] = tenant.quota_bytes;
  }
  registry_ = std::make_shared<registry::Registry>(metadata, std::shared_ptr<registry::BlobStore>(std::move(*blobs)),
                                                   audit_, master_key_, signing_key_, options);
  Result<int> removed = registry_->Recover();
  if (!removed.ok()) return removed.status();
  recovered_objects_ = *removed;
  return OkStatus();
}

Result<std::unique_ptr<GatewayServer>> GatewayServer::Start(const ServerConfig& config,
                                                           const ServeOptions& options) {
  if (options.insecure_loopback && !config.listen.IsLoopback()) {
    return config.ErrorAt(
        "listen", FailedPrecondition("--insecure-loopback serves plaintext and is refused on " +
                                     config.listen.ToString() +
                                     ", which is not a loopback address (use 127.0.0.1, ::1 "
                                     "or localhost, or drop --insecure-loopback and use mTLS)"));
  }
  if (!options.insecure_loopback && !config.tls.has_value()) {
    return FailedPrecondition(config.file +
                              ": error: tls: required key is missing (sovd serves mTLS; only "
                              "--insecure-loopback runs without it)");
  }

  std::optional<TlsMaterial> tls;
  if (!options.insecure_loopback) {
    SOV_ASSIGN_OR_RETURN(TlsMaterial material, LoadTls(config));
    tls = std::move(material);
  }
  SOV_ASSIGN_OR_RETURN(crypto::SecretKey master_key, LoadMasterKey(config));
  SOV_ASSIGN_OR_RETURN(crypto::Ed25519PrivateKey signing_key, LoadSigningKey(config));
  SOV_ASSIGN_OR_RETURN(std::shared_ptr<const TenantDirectory> tenants, LoadTenants(config));
  SOV_ASSIGN_OR_RETURN(std::shared_ptr<PolicyStore> policy_store, LoadPolicy(config));
  SOV_RETURN_IF_ERROR(CreateDirectories(config));

  std::unique_ptr<GatewayServer> gateway(
      new GatewayServer(std::move(master_key), std::move(signing_key)));
  gateway->insecure_loopback_ = options.insecure_loopback;
  gateway->policy_store_ = std::move(policy_store);
  gateway->authenticator_ = std::make_shared<const Authenticator>(
      tenants, tls.has_value() ? tls->client_ca_pem : std::string());
  // A port that is taken is reported before the registry is touched.
  if (config.listen.port != 0) {
    std::string reason = BindFailureReason(config.listen);
    if (!reason.empty()) {
      return config.ErrorAt("listen", Unavailable("cannot listen on " + config.listen.ToString() +
                                                  ": " + reason));
    }
  }
  SOV_RETURN_IF_ERROR(gateway->OpenRegistry(config, tenants));
  gateway->guard_ = std::make_shared<const CallGuard>(gateway->authenticator_,
                                                      gateway->policy_store_, gateway->audit_);
  gateway->identity_service_ = std::make_unique<IdentityService>(gateway->guard_);
  // Page tokens are sealed under a key of the master key's, so that they survive restarts.
  auto page_tokens = std::make_shared<const PageTokens>(
      crypto::DerivePurposeKey(gateway->master_key_, "page-tokens"));
  gateway->registry_service_ = std::make_unique<RegistryService>(
      gateway->guard_, gateway->registry_, tenants, page_tokens);
  gateway->audit_service_ = std::make_unique<AuditService>(gateway->guard_, gateway->audit_);
  gateway->governance_service_ = std::make_unique<GovernanceService>(
      gateway->guard_, gateway->registry_, tenants,
      static_cast<size_t>(config.retention.sweep_concurrency));
  gateway->evaluation_service_ =
      std::make_unique<EvaluationService>(gateway->guard_, gateway->registry_, page_tokens);

  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (tls.has_value()) {
    // The TLS layer asks for a client certificate but lets the call through without one, or
    // with one it cannot verify; the processor then rejects the call with UNAUTHENTICATED and
    // a message a user can act on, instead of an opaque handshake failure.
    grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
    ssl.pem_root_certs = tls->client_ca_pem;
    ssl.pem_key_cert_pairs.push_back({tls->key_pem, tls->cert_pem});
    credentials = grpc::SslServerCredentials(ssl);
    credentials->SetAuthMetadataProcessor(
        std::make_shared<TenantAuthProcessor>(gateway->authenticator_));
  } else {
    credentials = grpc::InsecureServerCredentials();
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Without this, gRPC sets SO_REUSEPORT and a second sovd would silently share the port.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  int port = 0;
  builder.AddListeningPort(config.listen.ToString(), credentials, &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.registry.max_chunk_bytes + (64 << 10)));
  // A handler thread that finishes while max_pollers threads poll exits, and the next call
  // starts a new one. Calls wait for the audit log's group commit, so with gRPC's default of 2
  // every concurrent call cost a thread start and exit; keep enough threads to poll instead.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, kMaxPollers);
  builder.RegisterService(gateway->identity_service_.get());
  builder.RegisterService(gateway->registry_service_.get());
  builder.RegisterService(gateway->audit_service_.get());
  builder.RegisterService(gateway->governance_service_.get());
  builder.RegisterService(gateway->evaluation_service_.get());
  gateway->server_ = builder.BuildAndStart();
  if (gateway->server_ == nullptr || port == 0) {
    if (gateway->server_ != nullptr) gateway->server_->Shutdown();
    gateway->server_.reset();
    std::string reason = BindFailureReason(config.listen);
    return config.ErrorAt("listen", Unavailable("cannot listen on " + config.listen.ToString() +
                                                ": " + (reason.empty() ? "gRPC refused the address" : reason)));
  }
  gateway->address_ = config.listen.WithPort(static_cast<uint16_t>(port));

  std::string storage;
  for (const StorageLocation& location : config.storage) {
    if (!storage.empty()) storage += ",";
    storage += location.name + ":" + location.jurisdiction;
  }
  std::shared_ptr<const policy::Policy> in_force = gateway->policy_store_->Current();
  LogEvent(*ModuleLogger("policy"), spdlog::level::info, "policy loaded",
           {{"file", config.policy},
            {"name", in_force->name()},
            {"digest", in_force->digest()},
            {"rules", std::to_string(in_force->rules().size())},
            {"watch", options.policy_poll_interval.count() > 0
                          ? std::to_string(options.policy_poll_interval.count()) + "ms"
                          : std::string("off (SIGHUP only)")}});
  // The policy in force at start, and every later change, is on the audit record.
  {
    PolicyEvent started;
    started.trigger = "start";
    started.file = config.policy;
    started.new_digest = in_force->digest();
    started.name = in_force->name();
    Result<std::vector<int64_t>> appended = gateway->audit_->Append({PolicyLoadEvent(started)});
    if (!appended.ok()) return appended.status();
    std::weak_ptr<registry::AuditLog> audit = gateway->audit_;
    gateway->policy_store_->SetObserver([audit](const PolicyEvent& event) {
      if (auto log = audit.lock()) {
        Result<std::vector<int64_t>> done = log->Append({PolicyLoadEvent(event)});
        if (!done.ok()) {
          LogEvent(*ModuleLogger("audit"), spdlog::level::err, "audit append failed",
                   {{"event", "POLICY_LOAD"}, {"error", done.status().message()}});
        }
      }
    });
  }
  if (config.validation.workers > 0) {
    ValidationWorkerOptions workers;
    workers.workers = config.validation.workers;
    workers.backend = config.validation.backend;
    workers.lease = std::chrono::seconds(config.validation.lease_seconds);
    workers.idle_poll = std::chrono::milliseconds(config.validation.poll_interval_ms);
    gateway->validation_workers_ = std::make_unique<ValidationWorkerPool>(
        gateway->registry_, gateway->policy_store_, tenants, gateway->signing_key_, workers);
    Status started = gateway->validation_workers_->Start();
    if (!started.ok()) {
      gateway->Shutdown(std::chrono::system_clock::now());
      return config.ErrorAt("validation.backend", started);
    }
  }
  // A queued job wakes this gateway's idle workers, and through the queue signal those of the
  // eval-worker processes on its data directory, instead of their next poll.
  std::string signal;
  if (config.validation.external_workers) signal = QueueSignalPath(config.registry.database);
  if (gateway->validation_workers_ != nullptr || !signal.empty()) {
    gateway->registry_->SetJobQueuedListener(
        [pool = gateway->validation_workers_.get(), signal] {
          if (pool != nullptr) pool->Wake();
          if (signal.empty()) return;
          if (Status raised = RaiseQueueSignal(signal); !raised.ok()) {
            LogEvent(*ModuleLogger("gateway"), spdlog::level::warn,
                     "could not signal the eval-workers; they find the job at their next poll",
                     {{"error", raised.message()}});
          }
        });
  }
  if (options.policy_poll_interval.count() > 0) {
    gateway->policy_watcher_ = std::make_unique<PolicyFileWatcher>(
        *gateway->policy_store_, options.policy_poll_interval);
  }
  if (config.retention.sweep_interval_ms > 0) {
    std::weak_ptr<PolicyStore> policies = gateway->policy_store_;
    std::shared_ptr<const policy::Policy> initial = in_force;
    gateway->retention_sweeper_ = std::make_unique<RetentionSweeper>(
        gateway->registry_,
        [policies, initial] {
          std::shared_ptr<PolicyStore> store = policies.lock();
          return store != nullptr ? store->Current() : initial;
        },
        std::chrono::milliseconds(config.retention.sweep_interval_ms), SystemNow,
        static_cast<size_t>(config.retention.sweep_concurrency));
    gateway->retention_sweeper_->Start();
  }
  LogEvent(*ModuleLogger("registry"), spdlog::level::info, "registry opened",
           {{"database", config.registry.database},
            {"recovered_objects", std::to_string(gateway->recovered_objects_)}});
  LogEvent(*ModuleLogger("gateway"), spdlog::level::info, "sovd started",
           {{"listen", gateway->address_.ToString()},
            {"mode", gateway->mode_name()},
            {"config", config.file},
            {"tenants", std::to_string(tenants->tenants().size())},
            {"storage", storage},
            {"policy", config.policy},
            {"policy_name", in_force->name()},
            {"policy_sha256", in_force->digest()},
            {"signing_key_id", gateway->signing_key_.public_key().KeyId()}});
  if (options.insecure_loopback) {
    LogEvent(*ModuleLogger("gateway"), spdlog::level::warn,
             "serving plaintext on loopback: only bearer tokens authenticate, and the health "
             "and reflection services are open to local callers",
             {{"listen", gateway->address_.ToString()}});
  }
  return gateway;
}

GatewayServer::~GatewayServer() {
  Shutdown(std::chrono::system_clock::now());
  if (server_ != nullptr) server_->Wait();
  if (data_lock_fd_ >= 0) ::close(data_lock_fd_);
}

void GatewayServer::Shutdown(std::chrono::system_clock::time_point deadline) {
  std::call_once(shutdown_once_, [&] {
    if (policy_watcher_ != nullptr) policy_watcher_->Stop();
    // A job interrupted here is taken again by a worker once its lease has expired.
    if (registry_ != nullptr) registry_->SetJobQueuedListener({});
    if (validation_workers_ != nullptr) validation_workers_->Stop();
    // A sweep in progress stops after its current item; the next start goes on from there.
    if (retention_sweeper_ != nullptr) retention_sweeper_->Stop();
    // Open audit tails end with UNAVAILABLE (and where to resume) instead of holding the grace.
    if (audit_service_ != nullptr) audit_service_->Stop();
    if (server_ != nullptr) server_->Shutdown(deadline);
  });
}

void GatewayServer::Wait() {
  if (server_ != nullptr) server_->Wait();
}

}  // namespace sov::gateway
