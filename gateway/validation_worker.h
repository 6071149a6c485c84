// ValidationWorkerPool: the threads that run validation jobs from the registry's durable queue
// (Registry::ClaimJob and friends). sovd runs `validation.workers` of them beside its gRPC
// server; `sovd eval-worker` runs only them, on a GPU machine that shares the data directory.
// Each worker loops: claim a job it can run (backends "cpu", plus "cuda" when gpu-eval finds a
// device), read the model and the validation datasets (those the applicable release gates name,
// each `name@range` resolved to the highest version that satisfies it and is neither erased nor
// revoked, plus the model's `validated-on` lineage) under the policy (`artifact.fetch` decided
// for the model owner), run the gpu-eval suite per dataset with heartbeats between phases, write
// the registry-signed report (release_checks.h names it), evaluate the release gates and complete
// the job with the model's stage change: RELEASED (gates pass, signatures met, the policy allows
// the owner's release), PENDING (only signatures or the release decision missing), REJECTED (a
// gate failed, or the model does not load). A job whose lease another worker took, or that was
// cancelled, is dropped without a trace: CompleteJob commits exactly one outcome per job.
// Plaintext is kept in memory, or for large artifacts in a private 0700 temporary directory that
// is removed when the job ends. Start/Stop from one thread; the workers run on their own.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "crypto/ed25519.h"
#include "gateway/policy_store.h"
#include "gateway/tenants.h"
#include "gpu-eval/suite.h"
#include "policy/policy.h"
#include "registry/registry.h"

namespace sov::gateway {

struct ValidationWorkerOptions {
  int workers = 1;                 // threads; 0: none (Start only requeues)
  std::string backend = "auto";    // "auto" | "cpu" | "cuda": what this pool runs
  std::chrono::seconds lease{60};  // a job whose worker is silent this long is taken again
  std::string name;                // worker name prefix; default "<hostname>/<process>-<pid>"
  std::chrono::milliseconds idle_poll{1000};  // how often an idle worker looks for a job
  gpu_eval::SuiteOptions suite;
  int cpu_threads = 0;             // CPU backend threads; 0: all cores
  // Artifacts up to this size are read into memory; larger ones into a private temp directory.
  uint64_t in_memory_limit = uint64_t{1} << 30;
  std::string temp_root;           // parent of those directories; default $TMPDIR or /tmp
};

// A validation dataset of a model: one named by an applicable release gate (`requirement` as the
// gate writes it, resolved against the model owner's names when it has no '/'), or one of the
// model's `validated-on` lineage (requirement empty).
struct ValidationDataset {
  registry::ArtifactRecord record;
  std::string requirement;  // e.g. "credit-holdout"; empty for lineage
  std::string range;        // e.g. "^2.0.0"
  std::string gate_id;
  policy::SourceLocation location;
};
// Resolves every validation dataset of `model` under `policy`: each gate's `name@range` to the
// highest SemVer version that satisfies the range and is neither erased nor revoked. One entry
// per distinct dataset version. FAILED_PRECONDITION naming the requirement and its FILE:LINE when
// no version qualifies; INVALID_ARGUMENT for a range that does not parse. Reads the registry.
Result<std::vector<ValidationDataset>> ResolveValidationDatasets(
    registry::Registry& registry, const policy::Policy& policy,
    const registry::ArtifactRecord& model);

class ValidationWorkerPool {
 public:
  // `signing_key` signs the reports (the registry key). Nothing runs until Start.
  ValidationWorkerPool(std::shared_ptr<registry::Registry> registry,
                       std::shared_ptr<const PolicyStore> policies,
                       std::shared_ptr<const TenantDirectory> tenants,
                       crypto::Ed25519PrivateKey signing_key, ValidationWorkerOptions options);
  ValidationWorkerPool(const ValidationWorkerPool&) = delete;
  ValidationWorkerPool& operator=(const ValidationWorkerPool&) = delete;
  // Stops the workers.
  ~ValidationWorkerPool();

  // Chooses the backends (FAILED_PRECONDITION for backend "cuda" without a device, with
  // gpu-eval's reason; INVALID_ARGUMENT for an unknown backend), queues a job again for every
  // model left VALIDATING without a QUEUED or RUNNING job, and starts the workers.
  Status Start();
  // Stops claiming, lets each worker end its current phase and returns when all have exited. A
  // job interrupted this way is not completed: another worker takes it when its lease expires.
  void Stop();

  // Wakes the idle workers to look for a job now (a job was just queued in this process).
  void Wake();

  // Claims one job as `worker` and runs it to the end on this thread; false when no job was
  // waiting. For tests and tools; Start need not have been called (the backends are chosen on
  // first use).
  Result<bool> RunOnce(const std::string& worker);
  // Queues a job for every VALIDATING model that has no QUEUED or RUNNING job; returns how many.
  Result<int> RequeueOrphans();

  // The backends this pool claims jobs for ("cpu", "cuda").
  std::set<std::string> backends() const;
  const ValidationWorkerOptions& options() const { return options_; }

 private:
  struct Job;
  Status ChooseBackends();
  void WorkerLoop(std::string name);
  // Runs a claimed job to its end (or until the lease is lost or the pool stops).
  void Run(registry::JobRecord job, const std::string& worker);

  std::shared_ptr<registry::Registry> registry_;
  std::shared_ptr<const PolicyStore> policies_;
  std::shared_ptr<const TenantDirectory> tenants_;
  crypto::Ed25519PrivateKey signing_key_;
  ValidationWorkerOptions options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::set<std::string> backends_;  // guarded by mu_
  uint64_t wakes_ = 0;              // guarded by mu_; Wake calls so far
  bool cuda_ = false;               // guarded by mu_
  bool chosen_ = false;             // guarded by mu_
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
};

}  // namespace sov::gateway
