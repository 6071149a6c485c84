// GatewayServer: sovd's running gRPC server. Start loads everything the config names (TLS
// files, master key, registry signing key, tenants, the policy), creates the storage
// directories, opens the registry (metadata store, blob store, audit log; recovering from a
// crash), and serves IdentityService, RegistryService, AuditService, GovernanceService,
// EvaluationService, grpc.health.v1 and server reflection on the configured address: over mTLS with the TenantAuthProcessor guarding every call, or, with
// insecure_loopback, in plaintext on a loopback address with bearer tokens only. Every sov.v1
// call is decided by the policy in force (CallGuard); the policy is reloaded through
// policy_store() (SIGHUP) and, unless disabled, whenever its file changes (PolicyFileWatcher).
// Errors that come from a file are one line naming the config key and file; a policy that does
// not compile is every diagnostic, one FILE:LINE:COL line each. Start/Shutdown/Wait may be
// called from different threads; Shutdown is idempotent.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include <grpcpp/server.h>

#include "common/status.h"
#include "crypto/ed25519.h"
#include "crypto/secret_key.h"
#include "gateway/call_guard.h"
#include "gateway/config.h"
#include "gateway/audit_service.h"
#include "gateway/evaluation_service.h"
#include "gateway/governance_service.h"
#include "gateway/identity_service.h"
#include "gateway/registry_service.h"
#include "gateway/policy_store.h"
#include "gateway/policy_watcher.h"
#include "gateway/validation_worker.h"
#include "gateway/retention.h"

namespace sov::gateway {

struct ServeOptions {
  // Serve plaintext (bearer tokens only); refused unless the listen address is loopback.
  bool insecure_loopback = false;
  // How often the policy file is checked for changes; zero: only PolicyStore::Reload (SIGHUP)
  // reloads it.
  std::chrono::milliseconds policy_poll_interval = kPolicyPollInterval;
};

class GatewayServer {
 public:
  // Loads the config's files and starts serving. FAILED_PRECONDITION for an unusable setup
  // (no tls section without insecure_loopback, insecure_loopback on a non-loopback address,
  // a port that cannot be bound); the status of the failing load otherwise, as one line naming
  // the config key and file.
  static Result<std::unique_ptr<GatewayServer>> Start(const ServerConfig& config,
                                                      const ServeOptions& options);

  GatewayServer(const GatewayServer&) = delete;
  GatewayServer& operator=(const GatewayServer&) = delete;
  // Shuts down at once (cancelling calls) if Shutdown was not called.
  ~GatewayServer();

  // The address actually bound (the chosen port when the config said 0).
  const ListenAddress& address() const { return address_; }
  bool mtls() const { return !insecure_loopback_; }
  // "mtls" or "insecure-loopback".
  std::string_view mode_name() const { return mtls() ? "mtls" : "insecure-loopback"; }
  // The policy in force and its reload; thread-safe.
  PolicyStore& policy_store() const { return *policy_store_; }

  // Stops watching the policy file, stops accepting calls, lets in-flight calls finish until
  // `deadline`, then cancels the rest.
  void Shutdown(std::chrono::system_clock::time_point deadline);
  // Blocks until the server has shut down.
  void Wait();

 private:
  GatewayServer(crypto::SecretKey master_key, crypto::Ed25519PrivateKey signing_key)
      : master_key_(std::move(master_key)), signing_key_(std::move(signing_key)) {}

  // Opens the metadata store, the blob store, the audit log and the registry, and recovers
  // from a crash (orphan uploads and blobs).
  Status OpenRegistry(const ServerConfig& config,
                      const std::shared_ptr<const TenantDirectory>& tenants);

  ListenAddress address_;
  bool insecure_loopback_ = false;
  crypto::SecretKey master_key_;
  crypto::Ed25519PrivateKey signing_key_;  // signs manifests and checkpoints
  std::shared_ptr<registry::AuditLog> audit_;
  std::shared_ptr<registry::Registry> registry_;
  std::shared_ptr<PolicyStore> policy_store_;
  std::unique_ptr<PolicyFileWatcher> policy_watcher_;
  std::shared_ptr<const Authenticator> authenticator_;
  std::shared_ptr<const CallGuard> guard_;
  std::unique_ptr<IdentityService> identity_service_;
  std::unique_ptr<RegistryService> registry_service_;
  std::unique_ptr<AuditService> audit_service_;
  std::unique_ptr<GovernanceService> governance_service_;
  std::unique_ptr<EvaluationService> evaluation_service_;
  // Applies the policy's retention every retention.sweep_interval (none when 0).
  std::unique_ptr<RetentionSweeper> retention_sweeper_;
  std::unique_ptr<grpc::Server> server_;
  // Runs validation jobs (config `validation.workers`); null when the gateway runs none.
  std::unique_ptr<ValidationWorkerPool> validation_workers_;
  std::once_flag shutdown_once_;
  int data_lock_fd_ = -1;  // flock on DATA_DIR/sovd.lock, held while the gateway lives
  int recovered_objects_ = 0;
};

}  // namespace sov::gateway
