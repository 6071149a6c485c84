#include "gateway/validation_worker.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/file.h"
#include "common/time.h"
#include "crypto/intoto.h"
#include "crypto/sha256.h"
#include "gateway/call_guard.h"
#include "gateway/internal/artifact_access.h"
#include "gateway/log.h"
#include "gateway/release_checks.h"
#include "gpu-eval/dataset.h"
#include "gpu-eval/devices.h"
#include "gpu-eval/model.h"
#include "gpu-eval/report.h"
#include "gpu-eval/safetensors.h"
// The npm-style ranges of release gates (`credit-holdout@^2.0.0`) are the policy engine's own,
// so that the worker resolves exactly the versions the gate accepts.
#include "policy/semver_range.h"

namespace sov::gateway {
namespace {

using nlohmann::json;
using registry::ArtifactRecord;
using registry::JobRecord;
using registry::JobState;
using registry::Stage;

std::shared_ptr<spdlog::logger> Log() { return ModuleLogger("validation"); }

std::string Ref(const std::string& name, const std::string& version) { return name + "@" + version; }

std::string ShownLocation(const policy::SourceLocation& location) {
  policy::SourceLocation shown = location;
  shown.file = std::filesystem::path(location.file).filename().string();
  shown.column = 0;
  return shown.ToString();
}

std::string DefaultWorkerPrefix() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::strcpy(host, "localhost");
  return std::string(host) + "/sovd-" + std::to_string(::getpid());
}

// A private directory for one job's plaintext, removed with everything in it on destruction.
class PrivateTempDir {
 public:
  static Result<std::unique_ptr<PrivateTempDir>> Create(const std::string& root) {
    std::string base = root;
    if (base.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      base = tmp != nullptr && *tmp == '/' ? tmp : "/tmp";
    }
    std::string pattern = base + "/sov-validation-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      return Unavailable("mkdtemp in " + base + ": " + std::strerror(errno));
    }
    ::chmod(pattern.c_str(), 0700);
    return std::unique_ptr<PrivateTempDir>(new PrivateTempDir(pattern));
  }
  ~PrivateTempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  explicit PrivateTempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// An artifact's plaintext opened as safetensors: in memory, or mapped from a file in the job's
// private directory (unlinked at once: the mapping keeps it readable).
struct OpenedFile {
  std::shared_ptr<const std::string> bytes;  // when in memory; the file's views point into it
  std::shared_ptr<const gpu_eval::SafetensorsFile> file;
};

}  // namespace

// One running job's state.
struct ValidationWorkerPool::Job {
  JobRecord record;
  std::string worker;
  std::string request_id = internal::NewRequestId();
  std::vector<registry::AuditEvent> audit;
  std::unique_ptr<PrivateTempDir> temp;
  bool lost = false;  // the lease or the job is gone: stop without completing

  registry::Actor actor() const {
    registry::Actor a;
    a.system_actor = std::string(kValidationActor);
    a.request_id = request_id;
    return a;
  }
};

Result<std::vector<ValidationDataset>> ResolveValidationDatasets(registry::Registry& registry,
                                                                 const policy::Policy& policy,
                                                                 const ArtifactRecord& model) {
  std::vector<ValidationDataset> out;
  auto add = [&](ValidationDataset d) {
    for (const ValidationDataset& have : out) {
      if (have.record.id == d.record.id) return;
    }
    out.push_back(std::move(d));
  };
  const policy::Artifact view = internal::View(registry, model);
  for (const policy::ReleaseGate* gate : policy.GatesFor(view)) {
    for (const policy::DatasetRequirement& need : gate->validation_datasets) {
      const std::string where = " (" + ShownLocation(need.location) + ")";
      const std::string full = need.name.find('/') == std::string::npos
                                   ? model.spec.owner_tenant + "/" + need.name
                                   : need.name;
      Result<policy::SemVerRange> range = policy::SemVerRange::Parse(need.version_range);
      if (!range.ok()) {
        return InvalidArgument("validation dataset " + need.name + "@" + need.version_range +
                               where + ": " + range.status().message());
      }
      SOV_ASSIGN_OR_RETURN(std::vector<ArtifactRecord> versions, registry.Versions(full));
      std::optional<ArtifactRecord> chosen;
      for (ArtifactRecord& v : versions) {  // highest SemVer first
        if (v.spec.kind != registry::Kind::kDataset || v.stage == Stage::kErased ||
            v.stage == Stage::kRevoked) {
          continue;
        }
        if (range->Matches(v.spec.version)) {
          chosen = std::move(v);
          break;
        }
      }
      if (!chosen.has_value()) {
        return FailedPrecondition(
            "validation dataset " + need.name + "@" +
            (need.version_range.empty() ? "*" : need.version_range) + where + " of gate " +
            gate->id + ": " + full + " has no version in that range that is neither erased nor revoked");
      }
      add(ValidationDataset{std::move(*chosen), need.name, need.version_range, gate->id,
                            need.location});
    }
  }
  for (const registry::LineageLink& link : model.spec.lineage) {
    if (link.relation != "validated-on" || link.kind != registry::Kind::kDataset) continue;
    Result<ArtifactRecord> record = registry.Get(link.name, link.version);
    if (!record.ok()) {
      return FailedPrecondition("validated-on dataset " + Ref(link.name, link.version) + ": " +
                                record.status().message());
    }
    if (record->stage == Stage::kErased || record->stage == Stage::kRevoked) {
      return FailedPrecondition("validated-on dataset " + Ref(link.name, link.version) + " is " +
                                std::string(registry::StageName(record->stage)));
    }
    add(ValidationDataset{std::move(*record), "", "", "", {}});
  }
  return out;
}

ValidationWorkerPool::ValidationWorkerPool(std::shared_ptr<registry::Registry> registry,
                                           std::shared_ptr<const PolicyStore> policies,
                                           std::shared_ptr<const TenantDirectory> tenants,
                                           crypto::Ed25519PrivateKey signing_key,
                                           ValidationWorkerOptions options)
    : registry_(std::move(registry)),
      policies_(std::move(policies)),
      tenants_(std::move(tenants)),
      signing_key_(std::move(signing_key)),
      options_(std::move(options)) {
  if (options_.name.empty()) options_.name = DefaultWorkerPrefix();
}

ValidationWorkerPool::~ValidationWorkerPool() { Stop(); }

Status ValidationWorkerPool::ChooseBackends() {
  std::lock_guard<std::mutex> lock(mu_);
  if (chosen_) return OkStatus();
  if (options_.backend != "auto" && options_.backend != "cpu" && options_.backend != "cuda") {
    return InvalidArgument("validation backend '" + options_.backend +
                           "' is not one of auto, cpu, cuda");
  }
  gpu_eval::DeviceList devices;
  if (options_.backend != "cpu") devices = gpu_eval::ListDevices();
  const bool device = !devices.devices.empty();
  if (options_.backend == "cuda" && !device) {
    return FailedPrecondition("validation backend cuda: no usable CUDA device (" +
                              (devices.reason.empty() ? std::string("none found") : devices.reason) +
                              ")");
  }
  backends_.clear();
  if (options_.backend != "cuda") backends_.insert("cpu");
  if (device) backends_.insert("cuda");
  cuda_ = device;
  chosen_ = true;
  std::string names;
  for (const std::string& b : backends_) names += (names.empty() ? "" : ",") + b;
  LogEvent(*Log(), spdlog::level::info, "validation backends",
           {{"backends", names},
            {"device", device ? devices.devices.front().name : std::string("none")},
            {"reason", device ? std::string() : devices.reason}});
  return OkStatus();
}

std::set<std::string> ValidationWorkerPool::backends() const {
  std::lock_guard<std::mutex> lock(mu_);
  return backends_;
}

Result<int> ValidationWorkerPool::RequeueOrphans() {
  registry::ArtifactFilter filter;
  filter.kind = registry::Kind::kModel;
  filter.stage = Stage::kValidating;
  SOV_ASSIGN_OR_RETURN(std::vector<ArtifactRecord> models, registry_->List(filter));
  int queued = 0;
  for (const ArtifactRecord& model : models) {
    registry::JobFilter jobs;
    jobs.model_name = model.spec.name;
    jobs.model_version = model.spec.version;
    jobs.model_digest = model.digest;
    jobs.states = {JobState::kQueued, JobState::kRunning};
    jobs.report_only_set = true;
    jobs.report_only = false;
    jobs.limit = 1;
    SOV_ASSIGN_OR_RETURN(std::vector<JobRecord> open, registry_->ListJobs(jobs));
    if (!open.empty()) continue;
    registry::Registry::ValidationRequest request;
    request.policy_digest = policies_->Current()->digest();
    registry::Actor actor;
    actor.system_actor = std::string(kValidationActor);
    actor.request_id = internal::NewRequestId();
    Result<JobRecord> job = registry_->QueueValidation(model, request, actor, {});
    if (!job.ok()) {
      LogEvent(*Log(), spdlog::level::warn, "could not queue validation again",
               {{"model", Ref(model.spec.name, model.spec.version)},
                {"error", job.status().message()}});
      continue;
    }
    ++queued;
    LogEvent(*Log(), spdlog::level::info, "validation queued again (model was left validating)",
             {{"model", Ref(model.spec.name, model.spec.version)}, {"job", job->id}});
  }
  return queued;
}

Status ValidationWorkerPool::Start() {
  SOV_RETURN_IF_ERROR(ChooseBackends());
  Result<int> requeued = RequeueOrphans();
  if (!requeued.ok()) {
    LogEvent(*Log(), spdlog::level::warn, "could not look for models left validating",
             {{"error", requeued.status().message()}});
  }
  stopping_ = false;
  for (int i = 0; i < options_.workers; ++i) {
    std::string name = options_.name + "/worker-" + std::to_string(i + 1);
    threads_.emplace_back([this, name] { WorkerLoop(name); });
  }
  LogEvent(*Log(), spdlog::level::info, "validation workers started",
           {{"workers", std::to_string(options_.workers)},
            {"backend", options_.backend},
            {"lease_seconds", std::to_string(options_.lease.count())}});
  return OkStatus();
}

void ValidationWorkerPool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_.exchange(true) && threads_.empty()) return;
  }
  wake_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  if (!threads_.empty()) {
    LogEvent(*Log(), spdlog::level::info, "validation workers stopped",
             {{"workers", std::to_string(threads_.size())}});
  }
  threads_.clear();
}

void ValidationWorkerPool::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++wakes_;
  }
  wake_.notify_all();
}

void ValidationWorkerPool::WorkerLoop(std::string name) {
  uint64_t seen = 0;
  while (!stopping_) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen = wakes_;
    }
    Result<bool> ran = RunOnce(name);
    if (!ran.ok()) {
      LogEvent(*Log(), spdlog::level::warn, "could not claim a validation job",
               {{"worker", name}, {"error", ran.status().message()}});
    }
    if (ran.ok() && *ran) continue;
    std::unique_lock<std::mutex> lock(mu_);
    // A Wake since the claim above means a job was queued after it looked: look again at once.
    wake_.wait_for(lock, options_.idle_poll,
                   [this, seen] { return stopping_.load() || wakes_ != seen; });
  }
}

Result<bool> ValidationWorkerPool::RunOnce(const std::string& worker) {
  SOV_RETURN_IF_ERROR(ChooseBackends());
  SOV_ASSIGN_OR_RETURN(std::optional<JobRecord> job,
                       registry_->ClaimJob(worker, backends(), options_.lease));
  if (!job.has_value()) return false;
  Run(std::move(*job), worker);
  return true;
}

namespace {

// Reads an artifact's whole plaintext and opens it as safetensors.
Result<OpenedFile> OpenArtifact(registry::Registry& registry, const ArtifactRecord& artifact,
                                uint64_t in_memory_limit, const std::string& temp_dir) {
  SOV_ASSIGN_OR_RETURN(std::unique_ptr<registry::ArtifactReader> reader,
                       registry.OpenReader(artifact, 0, std::nullopt));
  const std::string ref = Ref(artifact.spec.name, artifact.spec.version);
  OpenedFile opened;
  if (static_cast<uint64_t>(artifact.size_bytes) <= in_memory_limit || temp_dir.empty()) {
    auto bytes = std::make_shared<std::string>();
    bytes->reserve(static_cast<size_t>(artifact.size_bytes));
    for (;;) {
      SOV_ASSIGN_OR_RETURN(std::string_view piece, reader->Next());
      if (piece.empty()) break;
      bytes->append(piece);
    }
    Result<gpu_eval::SafetensorsFile> file = gpu_eval::SafetensorsFile::Parse(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(bytes->data()), bytes->size()),
        ref);
    if (!file.ok()) return file.status();
    opened.bytes = std::move(bytes);
    opened.file = std::make_shared<const gpu_eval::SafetensorsFile>(std::move(*file));
    return opened;
  }
  const std::string path = temp_dir + "/" + artifact.id + ".safetensors";
  {
    FILE* out = std::fopen(path.c_str(), "wbx");
    if (out == nullptr) return Unavailable("cannot create a temporary file: " + std::string(std::strerror(errno)));
    ::fchmod(::fileno(out), 0600);
    Status written = OkStatus();
    for (;;) {
      Result<std::string_view> piece = reader->Next();
      if (!piece.ok()) {
        written = piece.status();
        break;
      }
      if (piece->empty()) break;
      if (std::fwrite(piece->data(), 1, piece->size(), out) != piece->size()) {
        written = Unavailable("cannot write a temporary file: " + std::string(std::strerror(errno)));
        break;
      }
    }
    if (std::fclose(out) != 0 && written.ok()) written = Unavailable("cannot write a temporary file");
    if (!written.ok()) return written;
  }
  Result<gpu_eval::SafetensorsFile> file = gpu_eval::SafetensorsFile::Open(path);
  ::unlink(path.c_str());  // the mapping keeps the bytes readable
  if (!file.ok()) {
    // The message names the temporary path; say which artifact instead.
    std::string message = file.status().message();
    if (size_t at = message.find(path); at != std::string::npos) message.replace(at, path.size(), ref);
    return Status(file.status().code(), message);
  }
  opened.file = std::make_shared<const gpu_eval::SafetensorsFile>(std::move(*file));
  return opened;
}

// A problem that is the job's environment's, not the model's: leave the job for a retry.
bool Transient(const Status& status) {
  return status.code() == StatusCode::kUnavailable || status.code() == StatusCode::kAborted ||
         status.code() == StatusCode::kDeadlineExceeded ||
         status.code() == StatusCode::kResourceExhausted;
}

}  // namespace

void ValidationWorkerPool::Run(JobRecord record, const std::string& worker) {
  Job job;
  job.record = std::move(record);
  job.worker = worker;
  const std::string model_ref = Ref(job.record.model_name, job.record.model_version);
  const auto started = std::chrono::steady_clock::now();
  LogEvent(*Log(), spdlog::level::info, "validation job started",
           {{"job", job.record.id},
            {"model", model_ref},
            {"attempt", std::to_string(job.record.attempt)},
            {"worker", worker}});
  const std::shared_ptr<const policy::Policy> policy = policies_->Current();

  auto heartbeat = [&](double progress, std::string phase) -> bool {
    if (job.lost) return false;
    if (stopping_) {
      job.lost = true;
      LogEvent(*Log(), spdlog::level::info, "validation job interrupted by shutdown",
               {{"job", job.record.id}, {"phase", phase}});
      return false;
    }
    LogEvent(*Log(), spdlog::level::info, "validation progress",
             {{"job", job.record.id}, {"phase", phase},
              {"progress", std::to_string(static_cast<int>(progress * 100)) + "%"}});
    Result<JobRecord> beat = registry_->Heartbeat(job.record, progress, phase, options_.lease);
    if (!beat.ok()) {
      if (beat.status().code() == StatusCode::kAborted) {
        LogEvent(*Log(), spdlog::level::warn, "validation job is no longer ours; stopping",
                 {{"job", job.record.id}, {"reason", beat.status().message()}});
        job.lost = true;
        return false;
      }
      // A failed heartbeat is not fatal: the lease is long enough for the next one.
      LogEvent(*Log(), spdlog::level::warn, "validation heartbeat failed",
               {{"job", job.record.id}, {"error", beat.status().message()}});
      return true;
    }
    job.record = std::move(*beat);
    return true;
  };

  // Ends the job FAILED; the model is REJECTED (unless report_only) with `error`.
  auto fail = [&](const std::string& error, std::string backend,
                  std::vector<registry::LineageLink> datasets = {}) {
    registry::Registry::JobOutcome outcome;
    outcome.state = JobState::kFailed;
    outcome.backend = std::move(backend);
    outcome.error = error;
    outcome.datasets = std::move(datasets);
    outcome.policy_digest = policy->digest();
    if (!job.record.report_only) {
      registry::Registry::Transition t;
      t.from = {Stage::kValidating};
      t.to = Stage::kRejected;
      t.reason = "validation failed: " + error;
      outcome.transition = t;
    }
    Result<JobRecord> done =
        registry_->CompleteJob(job.record, std::move(outcome), job.actor(), std::move(job.audit));
    if (!done.ok()) {
      LogEvent(*Log(), spdlog::level::warn, "validation job could not be completed",
               {{"job", job.record.id}, {"error", done.status().message()}});
      return;
    }
    LogEvent(*Log(), spdlog::level::info, "validation job failed",
             {{"job", job.record.id}, {"model", model_ref}, {"error", error}});
  };
  // Leaves the job for another attempt after its lease (an environment problem).
  auto abandon = [&](const Status& status) {
    LogEvent(*Log(), spdlog::level::warn, "validation job left for a retry",
             {{"job", job.record.id}, {"error", status.message()}});
  };

  Result<ArtifactRecord> model = registry_->Get(job.record.model_name, job.record.model_version);
  if (!model.ok()) {
    if (Transient(model.status())) return abandon(model.status());
    return fail("model " + model_ref + ": " + model.status().message(), "");
  }
  if (model->digest != job.record.model_digest || model->stage == Stage::kErased) {
    return fail("model " + model_ref + " is " +
                    (model->stage == Stage::kErased ? std::string("erased") : "no longer the digest queued"),
                "");
  }
  const policy::Artifact model_view = internal::View(*registry_, *model);
  const std::string owner = model->spec.owner_tenant;

  // Reads happen under the policy, for the model's owner, as any access would.
  auto may_fetch = [&](const ArtifactRecord& artifact, const policy::Artifact& view) -> Status {
    Result<policy::DecisionRequest> request =
        OwnerDecisionRequest(*tenants_, owner, "artifact.fetch", view);
    if (!request.ok()) return FailedPrecondition("the model owner: " + request.status().message());
    policy::Decision decision = policy->Decide(*request);
    job.audit.push_back(SystemDecisionEvent(*request, decision, job.request_id));
    if (decision.allowed()) return OkStatus();
    return PermissionDenied(
        "artifact.fetch of " + Ref(artifact.spec.name, artifact.spec.version) + " for " + owner +
        " denied by " +
        (decision.deciding_rule != nullptr
             ? "policy rule " + decision.deciding_rule->id + " (" +
                   ShownLocation(decision.deciding_rule->location) + ")"
             : std::string("default deny")) +
        ": " + std::string(decision.reason()));
  };

  if (!heartbeat(0.02, "resolving datasets")) return;
  Result<std::vector<ValidationDataset>> datasets =
      ResolveValidationDatasets(*registry_, *policy, *model);
  if (!datasets.ok()) {
    if (Transient(datasets.status())) return abandon(datasets.status());
    return fail(datasets.status().message(), "");
  }
  std::vector<registry::LineageLink> links;
  for (const ValidationDataset& d : *datasets) {
    links.push_back({d.record.spec.name, d.record.spec.version, d.record.digest, "validated-on",
                     registry::Kind::kDataset});
  }
  if (Status allowed = may_fetch(*model, model_view); !allowed.ok()) {
    return fail(allowed.message(), "", links);
  }
  for (const ValidationDataset& d : *datasets) {
    if (Status allowed = may_fetch(d.record, internal::View(*registry_, d.record)); !allowed.ok()) {
      return fail(allowed.message(), "", links);
    }
  }

  // The backend: CUDA when the job allows it and this pool has a device.
  std::string backend_name = "cpu";
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (job.record.requested_backend == "cuda" || (job.record.requested_backend != "cpu" && cuda_)) {
      backend_name = cuda_ ? "cuda" : "cpu";
    }
  }
  gpu_eval::BackendOptions backend_options;
  backend_options.kind = backend_name == "cuda" ? gpu_eval::BackendKind::kCuda
                                                : gpu_eval::BackendKind::kCpu;
  backend_options.threads = options_.cpu_threads;
  Result<std::unique_ptr<gpu_eval::Backend>> backend = gpu_eval::CreateBackend(backend_options);
  if (!backend.ok()) return abandon(backend.status());

  if (!heartbeat(0.05, "loading model")) return;
  if (static_cast<uint64_t>(model->size_bytes) > options_.in_memory_limit) {
    Result<std::unique_ptr<PrivateTempDir>> dir = PrivateTempDir::Create(options_.temp_root);
    if (!dir.ok()) return abandon(dir.status());
    job.temp = std::move(*dir);
  }
  const std::string temp_path = job.temp ? job.temp->path() : std::string();
  Result<OpenedFile> model_file =
      OpenArtifact(*registry_, *model, options_.in_memory_limit, temp_path);
  if (!model_file.ok()) {
    if (Transient(model_file.status())) return abandon(model_file.status());
    return fail("the model does not load: " + model_file.status().message(), backend_name, links);
  }
  Result<gpu_eval::Model> loaded = gpu_eval::LoadModel(model_file->file);
  if (!loaded.ok()) {
    return fail("the model does not load: " + loaded.status().message(), backend_name, links);
  }
  if (Status s = (*backend)->LoadModel(*loaded); !s.ok()) {
    return fail("the model does not load on " + backend_name + ": " + s.message(), backend_name,
                links);
  }

  json predicate_datasets = json::array();
  std::vector<std::pair<std::string, json>> per_dataset;
  const size_t n = datasets->size();
  for (size_t i = 0; i < n; ++i) {
    const ValidationDataset& d = (*datasets)[i];
    const std::string dataset_ref = Ref(d.record.spec.name, d.record.spec.version);
    const double base = 0.1 + 0.85 * static_cast<double>(i) / static_cast<double>(n);
    const double span = 0.85 / static_cast<double>(n);
    if (!heartbeat(base, "loading dataset " + dataset_ref)) return;
    if (static_cast<uint64_t>(d.record.size_bytes) > options_.in_memory_limit && !job.temp) {
      Result<std::unique_ptr<PrivateTempDir>> dir = PrivateTempDir::Create(options_.temp_root);
      if (!dir.ok()) return abandon(dir.status());
      job.temp = std::move(*dir);
    }
    Result<OpenedFile> data_file = OpenArtifact(*registry_, d.record, options_.in_memory_limit,
                                                job.temp ? job.temp->path() : std::string());
    if (!data_file.ok()) {
      if (Transient(data_file.status())) return abandon(data_file.status());
      return fail("validation dataset " + dataset_ref + " does not load: " +
                      data_file.status().message(),
                  backend_name, links);
    }
    Result<gpu_eval::Dataset> dataset = gpu_eval::LoadDataset(*data_file->file);
    if (!dataset.ok()) {
      return fail("validation dataset " + dataset_ref + " does not load: " +
                      dataset.status().message(),
                  backend_name, links);
    }
    if (Status fits = gpu_eval::CheckCompatible(*dataset, loaded->input_dim, loaded->num_classes);
        !fits.ok()) {
      return fail("the model does not fit validation dataset " + dataset_ref + ": " + fits.message(),
                  backend_name, links);
    }
    // Heartbeats between the suite's phases; the suite itself cannot be interrupted, so a lost
    // lease is noticed at the next phase and the result is dropped.
    std::string phase;
    gpu_eval::ProgressFn progress = [&](std::string_view stage, double) {
      if (stage == phase) return;
      phase = std::string(stage);
      static constexpr std::pair<std::string_view, double> kShare[] = {
          {"quality", 0.0}, {"robustness", 0.25}, {"determinism", 0.45}, {"latency", 0.6}};
      double at = 0.0;
      for (const auto& [name, share] : kShare) {
        if (name == stage) at = share;
      }
      (void)heartbeat(base + span * at, phase);
    };
    Result<gpu_eval::Report> report =
        gpu_eval::RunSuite(**backend, *loaded, *dataset, options_.suite, progress);
    if (job.lost) return;
    if (!report.ok()) {
      if (Transient(report.status())) return abandon(report.status());
      return fail("benchmark suite on " + dataset_ref + ": " + report.status().message(),
                  backend_name, links);
    }
    report->model = model_ref;
    report->model_digest = model->digest;
    report->dataset = dataset_ref;
    report->dataset_digest = d.record.digest;
    json report_json = json::parse(gpu_eval::ReportToJson(*report, -1), nullptr, false);
    if (report_json.is_discarded()) {
      return fail("the benchmark report is not valid JSON", backend_name, links);
    }
    Result<json> eval = DatasetEval(report_json);
    if (!eval.ok()) return fail(eval.status().message(), backend_name, links);
    per_dataset.emplace_back(d.record.spec.name, *eval);
    if (!d.requirement.empty() && d.requirement != d.record.spec.name) {
      per_dataset.emplace_back(d.requirement, *eval);
    }
    json entry = {{"name", d.record.spec.name},
                  {"version", d.record.spec.version},
                  {"digest", d.record.digest},
                  {"report", std::move(report_json)}};
    if (!d.requirement.empty()) {
      entry["requirement"] = d.requirement;
      entry["range"] = d.range;
      entry["gate"] = d.gate_id;
    }
    predicate_datasets.push_back(std::move(entry));
    LogEvent(*Log(), spdlog::level::info, "validation dataset done",
             {{"job", job.record.id}, {"dataset", dataset_ref},
              {"accuracy", std::to_string(report->accuracy)}});
  }
  if (!heartbeat(0.96, "gates")) return;

  // The gates, with the signatures the model has now.
  const json eval = CombineEval(per_dataset);
  Result<std::vector<registry::KeyRevocation>> revocations = registry_->KeyRevocations();
  if (!revocations.ok()) return abandon(revocations.status());
  std::vector<std::string> signers =
      ValidSigners(*model, registry_->registry_key(), *tenants_, *revocations);
  json predicate_for_evidence = {{"eval", eval}, {"datasets", predicate_datasets}};
  policy::GateEvidence evidence = EvidenceFrom(predicate_for_evidence, signers);
  GateEvaluation gates = EvaluateReleaseGates(*policy, model_view, evidence, eval);

  json predicate = {
      {"model", {{"name", model->spec.name}, {"version", model->spec.version}, {"digest", model->digest}}},
      {"job", {{"id", job.record.id}, {"attempt", job.record.attempt}, {"backend", backend_name},
               {"worker", worker}, {"device", (*backend)->description()}}},
      {"policyDigest", policy->digest()},
      {"createdAt", FormatRfc3339(std::chrono::system_clock::now())},
      {"datasets", std::move(predicate_datasets)},
      {"eval", eval},
      {"gates", gates.ToJson()},
      {"passed", gates.conditions_passed},
      {"signaturesMet", gates.signatures_met}};

  crypto::Statement statement;
  Result<crypto::Digest> digest = crypto::Digest::Parse(model->digest);
  if (!digest.ok()) return fail("model digest " + model->digest + " is malformed", backend_name, links);
  statement.subject.push_back(crypto::SubjectFor(model->spec.name, *digest));
  statement.predicate_type = std::string(kReportPredicateType);
  statement.predicate = std::move(predicate);
  const std::string envelope = crypto::SignStatement(statement, signing_key_).ToJson();

  registry::ArtifactSpec spec;
  spec.kind = registry::Kind::kReport;
  spec.name = ReportName(model->spec.name);
  spec.version = ReportVersion(model->spec.version, job.record.seq);
  spec.media_type = std::string(kReportMediaType);
  spec.description = "Evaluation of " + model_ref + " by validation job " + job.record.id;
  spec.classification = model->spec.effective_classification.empty()
                            ? model->spec.classification
                            : model->spec.effective_classification;
  spec.effective_classification = spec.classification;
  spec.purposes = model->spec.purposes;
  spec.lawful_basis = model->spec.lawful_basis;
  spec.special_category_condition = model->spec.special_category_condition;
  spec.lineage.push_back({model->spec.name, model->spec.version, model->digest, "evaluates",
                          registry::Kind::kModel});
  for (const registry::LineageLink& link : links) spec.lineage.push_back(link);
  spec.labels = {{"sov.report", "evaluation"}};
  spec.retention_deadline = model->spec.retention_deadline;
  spec.retention_action = model->spec.retention_action;
  // The report holds the model's evaluation (its digest, its results), so it must not outlive
  // the limit the model's pusher set: the sweeper erases it at the model's retain_until too.
  spec.retain_until = model->spec.retain_until;
  spec.owner_tenant = owner;
  spec.storage_location = model->spec.storage_location;
  spec.storage_jurisdiction = model->spec.storage_jurisdiction;
  Result<registry::Registry::PreparedArtifact> prepared =
      registry_->PrepareGeneratedArtifact(spec, envelope, Stage::kReleased);
  if (!prepared.ok()) return abandon(prepared.status());

  registry::Registry::JobOutcome outcome;
  outcome.state = JobState::kSucceeded;
  outcome.backend = backend_name;
  outcome.datasets = links;
  outcome.report = std::move(*prepared);
  outcome.gate_results = gates.ToJson();
  outcome.policy_digest = policy->digest();
  std::string verdict = "report only";
  if (!job.record.report_only) {
    registry::Registry::Transition t;
    t.from = {Stage::kValidating};
    t.mark_release_requested = true;
    std::string gate_ids;
    for (const std::string& g : gates.gates) gate_ids += (gate_ids.empty() ? "" : ", ") + g;
    if (!gates.conditions_passed) {
      t.to = Stage::kRejected;
      t.reason = "release gates failed: " + gates.FailureText();
      t.mark_release_requested = false;
      for (const GateCheck& c : gates.checks) {
        if (c.outcome != "passed" && c.kind != "signatures") {
          t.rule_id = c.gate_id;
          t.rule_location = c.location.ToString();
          break;
        }
      }
    } else if (!gates.signatures_met) {
      t.to = Stage::kPending;
      t.reason = "release gates passed; waiting for signatures: " + gates.SignatureText();
    } else {
      // Released by the gateway for the owner, who asked for it by pushing: decided as a Release
      // call of the owner's would be.
      policy::Artifact releasing = model_view;
      Result<policy::DecisionRequest> request = OwnerDecisionRequest(
          *tenants_, owner, "artifact.release", releasing, {{"gates_passed", "true"}});
      if (!request.ok()) return fail("the model owner: " + request.status().message(), backend_name, links);
      policy::Decision decision = policy->Decide(*request);
      job.audit.push_back(SystemDecisionEvent(*request, decision, job.request_id));
      if (decision.allowed()) {
        t.to = Stage::kReleased;
        t.reason = gate_ids.empty() ? "validated; no release gate applies"
                                    : "release gates passed: " + gate_ids;
        if (decision.deciding_rule != nullptr) {
          t.rule_id = decision.deciding_rule->id;
          t.rule_location = decision.deciding_rule->location.ToString();
        }
      } else {
        t.to = Stage::kPending;
        t.reason = "release gates passed, but the policy denies artifact.release for " + owner +
                   (decision.deciding_rule != nullptr
                        ? ": rule " + decision.deciding_rule->id + " (" +
                              ShownLocation(decision.deciding_rule->location) + ")"
                        : std::string(": default deny")) +
                   ": " + std::string(decision.reason());
      }
    }
    verdict = std::string(registry::StageName(t.to));
    outcome.transition = std::move(t);
  }
  Result<JobRecord> done =
      registry_->CompleteJob(job.record, std::move(outcome), job.actor(), std::move(job.audit));
  if (!done.ok()) {
    LogEvent(*Log(), spdlog::level::warn,
             done.status().code() == StatusCode::kAborted
                 ? "validation job lost its lease before completing; its result is dropped"
                 : "validation job could not be completed",
             {{"job", job.record.id}, {"error", done.status().message()}});
    return;
  }
  const auto seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  LogEvent(*Log(), spdlog::level::info, "validation job finished",
           {{"job", job.record.id},
            {"model", model_ref},
            {"report", Ref(done->report_name, done->report_version)},
            {"outcome", verdict},
            {"seconds", std::to_string(seconds)}});
}

}  // namespace sov::gateway
