#include "gateway/evaluation_service.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "common/time.h"
#include "crypto/dsse.h"
#include "crypto/intoto.h"
#include "crypto/sha256.h"
#include "gateway/internal/artifact_access.h"
#include "gateway/registry_convert.h"
#include "gateway/release_checks.h"
#include "gateway/validation_worker.h"
#include "policy/policy.h"

namespace sov::gateway {
namespace {

using google::protobuf::util::TimeUtil;
using internal::DecideOn;
using internal::NotFoundFor;
using internal::RefText;
using internal::ResolveVisible;
using internal::View;
using nlohmann::json;
using registry::ArtifactRecord;
using registry::JobRecord;
using registry::Kind;
using registry::Stage;

constexpr size_t kMaxJobIdLength = 128;
// Reports are a few kilobytes per dataset; anything near this is not one the worker wrote.
constexpr uint64_t kMaxReportBytes = uint64_t{64} << 20;

Status JobNotFound(std::string_view job_id) {
  return NotFound("validation job " + std::string(job_id) + " not found");
}

Status CheckJobId(const std::string& job_id) {
  if (job_id.empty()) return InvalidArgument("job_id is required");
  if (job_id.size() > kMaxJobIdLength) {
    return InvalidArgument("job_id is longer than 128 characters");
  }
  return OkStatus();
}

google::protobuf::Timestamp ToTimestamp(SystemTime t) {
  return TimeUtil::MicrosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
}

bool IsSet(SystemTime t) { return t.time_since_epoch().count() != 0; }

sov::v1::Backend BackendToProto(std::string_view name) {
  if (name == "cpu") return sov::v1::BACKEND_CPU;
  if (name == "cuda") return sov::v1::BACKEND_CUDA;
  if (name == "auto") return sov::v1::BACKEND_AUTO;
  return sov::v1::BACKEND_UNSPECIFIED;
}

Result<std::string> BackendName(sov::v1::Backend backend) {
  switch (backend) {
    case sov::v1::BACKEND_UNSPECIFIED:
    case sov::v1::BACKEND_AUTO:
      return std::string("auto");
    case sov::v1::BACKEND_CPU:
      return std::string("cpu");
    case sov::v1::BACKEND_CUDA:
      return std::string("cuda");
    default:
      return InvalidArgument("backend: unknown value " + std::to_string(static_cast<int>(backend)));
  }
}

sov::v1::JobState JobStateToProto(registry::JobState state) {
  switch (state) {
    case registry::JobState::kQueued:
      return sov::v1::JOB_STATE_QUEUED;
    case registry::JobState::kRunning:
      return sov::v1::JOB_STATE_RUNNING;
    case registry::JobState::kSucceeded:
      return sov::v1::JOB_STATE_SUCCEEDED;
    case registry::JobState::kFailed:
      return sov::v1::JOB_STATE_FAILED;
    case registry::JobState::kCancelled:
      return sov::v1::JOB_STATE_CANCELLED;
  }
  return sov::v1::JOB_STATE_UNSPECIFIED;
}

Result<registry::JobState> JobStateFromProto(int state) {
  switch (state) {
    case sov::v1::JOB_STATE_QUEUED:
      return registry::JobState::kQueued;
    case sov::v1::JOB_STATE_RUNNING:
      return registry::JobState::kRunning;
    case sov::v1::JOB_STATE_SUCCEEDED:
      return registry::JobState::kSucceeded;
    case sov::v1::JOB_STATE_FAILED:
      return registry::JobState::kFailed;
    case sov::v1::JOB_STATE_CANCELLED:
      return registry::JobState::kCancelled;
    default:
      return InvalidArgument("states: unknown job state " + std::to_string(state));
  }
}

// ---- JSON readers that tolerate absent and null fields --------------------------------------

const json* Field(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(std::string(key));
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<double> Number(const json& object, std::string_view key) {
  const json* v = Field(object, key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->get<double>();
}

int64_t Integer(const json& object, std::string_view key) {
  const json* v = Field(object, key);
  if (v == nullptr || !v->is_number()) return 0;
  if (v->is_number_integer()) return v->get<int64_t>();
  return static_cast<int64_t>(std::llround(v->get<double>()));
}

std::string Text(const json& object, std::string_view key) {
  const json* v = Field(object, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

google::protobuf::Duration SecondsToDuration(double seconds) {
  return TimeUtil::NanosecondsToDuration(static_cast<int64_t>(std::llround(seconds * 1e9)));
}

// "FILE:LINE:COL" (or "FILE:LINE"), or {"file","line","column"}.
void LocationToProto(const json& value, sov::v1::SourceLocation* out) {
  if (value.is_object()) {
    out->set_file(Text(value, "file"));
    out->set_line(static_cast<int32_t>(Integer(value, "line")));
    out->set_column(static_cast<int32_t>(Integer(value, "column")));
    return;
  }
  if (!value.is_string()) return;
  std::string text = value.get<std::string>();
  // Split from the right: a file name may itself hold ':'.
  std::vector<int32_t> numbers;
  while (numbers.size() < 2) {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos) break;
    int32_t n = 0;
    const std::string tail = text.substr(colon + 1);
    auto [end, error] = std::from_chars(tail.data(), tail.data() + tail.size(), n);
    if (tail.empty() || error != std::errc() || end != tail.data() + tail.size()) break;
    numbers.insert(numbers.begin(), n);
    text.resize(colon);
  }
  out->set_file(text);
  if (!numbers.empty()) out->set_line(numbers[0]);
  if (numbers.size() > 1) out->set_column(numbers[1]);
}

// "name@version", or {"name","version","digest"}.
void RefToProto(const json& value, sov::v1::ArtifactRef* out) {
  if (value.is_object()) {
    out->set_name(Text(value, "name"));
    out->set_version(Text(value, "version"));
    out->set_digest(Text(value, "digest"));
    return;
  }
  if (!value.is_string()) return;
  const std::string text = value.get<std::string>();
  const size_t at = text.find('@');
  out->set_name(text.substr(0, at));
  if (at != std::string::npos) out->set_version(text.substr(at + 1));
}

sov::v1::GateOutcome OutcomeToProto(std::string_view text) {
  if (text == "passed" || text == "GATE_OUTCOME_PASSED") return sov::v1::GATE_OUTCOME_PASSED;
  if (text == "failed" || text == "GATE_OUTCOME_FAILED") return sov::v1::GATE_OUTCOME_FAILED;
  if (text == "error" || text == "GATE_OUTCOME_ERROR") return sov::v1::GATE_OUTCOME_ERROR;
  return sov::v1::GATE_OUTCOME_UNSPECIFIED;
}

void GateToProto(const json& gate, sov::v1::GateResult* out) {
  // Both spellings: the job record stores snake_case, the report predicate may use either.
  auto text = [&gate](std::string_view snake, std::string_view camel) {
    std::string v = Text(gate, snake);
    return v.empty() ? Text(gate, camel) : v;
  };
  out->set_gate_id(text("gate_id", "gateId"));
  out->set_condition(Text(gate, "condition"));
  if (const json* location = Field(gate, "location")) {
    LocationToProto(*location, out->mutable_location());
  }
  out->set_outcome(OutcomeToProto(Text(gate, "outcome")));
  out->set_observed(Text(gate, "observed"));
  if (const json* dataset = Field(gate, "dataset")) RefToProto(*dataset, out->mutable_dataset());
  out->set_error(Text(gate, "error"));
}

void GatesToProto(const json& gates,
                  google::protobuf::RepeatedPtrField<sov::v1::GateResult>* out) {
  if (!gates.is_array()) return;
  for (const json& gate : gates) {
    if (gate.is_object()) GateToProto(gate, out->Add());
  }
}

// One dataset's gpu-eval report (schema https://sovereign.dev/eval-report/v1).
void DatasetReportToProto(const json& report, sov::v1::DatasetEvaluation* out) {
  if (const json* subject = Field(report, "subject")) {
    out->set_num_samples(Integer(*subject, "rows"));
  }
  if (const json* quality = Field(report, "quality")) {
    sov::v1::QualityMetrics* q = out->mutable_quality();
    q->set_accuracy(Number(*quality, "accuracy").value_or(0));
    q->set_macro_f1(Number(*quality, "macroF1").value_or(0));
    q->set_log_loss(Number(*quality, "logLoss").value_or(0));
    if (const json* classes = Field(*quality, "perClass"); classes && classes->is_array()) {
      for (const json& c : *classes) {
        sov::v1::ClassMetrics* m = q->add_classes();
        m->set_class_index(static_cast<int32_t>(Integer(c, "label")));
        m->set_precision(Number(c, "precision").value_or(0));
        m->set_recall(Number(c, "recall").value_or(0));
        m->set_f1(Number(c, "f1").value_or(0));
        m->set_support(Integer(c, "support"));
      }
    }
    if (const json* confusion = Field(*quality, "confusion"); confusion && confusion->is_array()) {
      q->set_num_classes(static_cast<int32_t>(confusion->size()));
      for (const json& row : *confusion) {
        if (!row.is_array()) continue;
        for (const json& cell : row) {
          q->add_confusion_matrix(cell.is_number() ? cell.get<int64_t>() : 0);
        }
      }
    }
  }
  if (const json* fairness = Field(report, "fairness")) {
    sov::v1::FairnessMetrics* f = out->mutable_fairness();
    if (const json* groups = Field(*fairness, "perGroup"); groups && groups->is_array()) {
      for (const json& g : *groups) {
        sov::v1::GroupMetrics* m = f->add_groups();
        m->set_group(Integer(g, "value"));
        m->set_count(Integer(g, "rows"));
        m->set_accuracy(Number(g, "accuracy").value_or(0));
        m->set_positive_rate(Number(g, "positiveRate").value_or(0));
        m->set_true_positive_rate(Number(g, "truePositiveRate").value_or(0));
      }
    }
    f->set_demographic_parity_difference(
        Number(*fairness, "demographicParityDifference").value_or(0));
    f->set_equal_opportunity_difference(
        Number(*fairness, "equalOpportunityDifference").value_or(0));
    f->set_max_group_gap(Number(*fairness, "accuracyGap").value_or(0));
  }
  if (const json* robustness = Field(report, "robustness")) {
    sov::v1::RobustnessMetrics* r = out->mutable_robustness();
    r->set_noise_stddev(Number(*robustness, "noiseStddev").value_or(0));
    if (const json* seed = Field(*robustness, "noiseSeed");
        seed != nullptr && seed->is_number_integer() &&
        (seed->is_number_unsigned() || seed->get<int64_t>() >= 0)) {
      r->set_noise_seed(seed->get<uint64_t>());
    }
    r->set_accuracy_under_noise(Number(*robustness, "noisyAccuracy").value_or(0));
    r->set_non_finite_weights(Integer(*robustness, "nonFiniteWeights"));
    r->set_non_finite_outputs(Integer(*robustness, "nonFiniteOutputRows"));
  }
}

// ---- Access to jobs -------------------------------------------------------------------------

// The job's model, when the caller may see it: NOT_FOUND for the job otherwise, exactly as for
// a job that does not exist.
Result<ArtifactRecord> VisibleModelOf(registry::Registry& registry, GuardedCall& call,
                                      const JobRecord& job) {
  Result<ArtifactRecord> model = registry.Get(job.model_name, job.model_version);
  if (!model.ok()) {
    if (model.status().code() == StatusCode::kNotFound) return JobNotFound(job.id);
    return model.status();
  }
  if (!call.Decide("artifact.get", View(registry, *model)).allowed()) return JobNotFound(job.id);
  return std::move(*model);
}

Result<JobRecord> GetJob(registry::Registry& registry, const std::string& job_id) {
  SOV_RETURN_IF_ERROR(CheckJobId(job_id));
  Result<JobRecord> job = registry.GetJob(job_id);
  if (!job.ok() && job.status().code() == StatusCode::kNotFound) return JobNotFound(job_id);
  return job;
}

// Reads a whole (small) artifact's plaintext; the reader checks the digest at the end.
Result<std::string> ReadAll(registry::Registry& registry, const ArtifactRecord& record) {
  if (static_cast<uint64_t>(record.size_bytes) > kMaxReportBytes) {
    return DataLoss("report " + RefText(record.spec.name, record.spec.version) + " is " +
                    std::to_string(record.size_bytes) + " bytes, more than a report can be");
  }
  SOV_ASSIGN_OR_RETURN(std::unique_ptr<registry::ArtifactReader> reader,
                       registry.OpenReader(record, 0, std::nullopt));
  std::string bytes;
  bytes.reserve(static_cast<size_t>(record.size_bytes));
  for (;;) {
    SOV_ASSIGN_OR_RETURN(std::string_view piece, reader->Next());
    if (piece.empty()) break;
    bytes.append(piece);
  }
  return bytes;
}

// A stable key of the list filters, which page tokens are bound to.
std::string JobFilterKey(const sov::v1::ListValidationJobsRequest& request) {
  std::vector<int> states(request.states().begin(), request.states().end());
  std::sort(states.begin(), states.end());
  std::string key;
  AppendKeyPart(key, request.model().name());
  AppendKeyPart(key, request.model().version());
  AppendKeyPart(key, request.model().digest());
  for (int s : states) AppendKeyPart(key, std::to_string(s));
  return key;
}

Status BadJobPageToken() {
  return InvalidArgument(
      "page_token is not one this server wrote; pass next_page_token of the previous response "
      "unchanged, with the same filters");
}

}  // namespace

// ---- Conversions --------------------------------------------------------------------------------

void JobToProto(const JobRecord& job, sov::v1::ValidationJob* out) {
  out->set_job_id(job.id);
  out->mutable_model()->set_name(job.model_name);
  out->mutable_model()->set_version(job.model_version);
  out->mutable_model()->set_digest(job.model_digest);
  out->set_state(JobStateToProto(job.state));
  out->set_report_only(job.report_only);
  out->set_requested_backend(BackendToProto(job.requested_backend));
  out->set_backend(BackendToProto(job.backend));
  out->set_worker(job.worker);
  out->set_attempt(job.attempt);
  out->set_progress(job.progress);
  out->set_phase(job.phase);
  for (const registry::LineageLink& dataset : job.datasets) {
    sov::v1::ArtifactRef* ref = out->add_datasets();
    ref->set_name(dataset.name);
    ref->set_version(dataset.version);
    ref->set_digest(dataset.digest);
  }
  if (IsSet(job.create_time)) *out->mutable_create_time() = ToTimestamp(job.create_time);
  if (IsSet(job.start_time)) *out->mutable_start_time() = ToTimestamp(job.start_time);
  if (IsSet(job.end_time)) *out->mutable_end_time() = ToTimestamp(job.end_time);
  if (!job.report_name.empty()) {
    out->mutable_report()->set_name(job.report_name);
    out->mutable_report()->set_version(job.report_version);
    out->mutable_report()->set_digest(job.report_digest);
  }
  GatesToProto(job.gate_results, out->mutable_gate_results());
  if (job.outcome_stage.has_value()) out->set_outcome_stage(StageToProto(*job.outcome_stage));
  out->set_error(job.error);
  if (!job.requested_by.empty()) out->mutable_requested_by()->set_tenant_id(job.requested_by);
  out->set_policy_digest(job.policy_digest);
}

Status ReportPredicateToProto(const json& predicate, sov::v1::EvaluationReport* out) {
  if (!predicate.is_object()) return InvalidArgument("report predicate is not a JSON object");
  if (const json* model = Field(predicate, "model")) RefToProto(*model, out->mutable_model());
  if (const json* job = Field(predicate, "job")) out->set_job_id(Text(*job, "id"));
  out->set_policy_digest(Text(predicate, "policyDigest"));
  if (std::string created = Text(predicate, "createdAt"); !created.empty()) {
    Result<SystemTime> t = ParseRfc3339(created);
    if (!t.ok()) return t.status().WithContext("report predicate createdAt");
    *out->mutable_create_time() = ToTimestamp(*t);
  }

  double elapsed = 0;
  bool deterministic = true;
  bool any_determinism = false;
  int64_t mismatched = 0;
  const json* datasets = Field(predicate, "datasets");
  if (datasets != nullptr && !datasets->is_array()) {
    return InvalidArgument("report predicate datasets is not an array");
  }
  if (datasets != nullptr) {
    for (const json& dataset : *datasets) {
      if (!dataset.is_object()) return InvalidArgument("report predicate datasets[] is not an object");
      sov::v1::DatasetEvaluation* evaluation = out->add_datasets();
      RefToProto(dataset, evaluation->mutable_dataset());
      const json* report = Field(dataset, "report");
      if (report == nullptr) continue;
      DatasetReportToProto(*report, evaluation);
      if (const json* conditions = Field(*report, "conditions")) {
        elapsed += Number(*conditions, "durationSeconds").value_or(0);
        if (!out->has_runtime()) {
          sov::v1::RuntimeInfo* runtime = out->mutable_runtime();
          runtime->set_backend(BackendToProto(Text(*conditions, "backendKind")));
          runtime->set_device(Text(*conditions, "backend"));
          runtime->set_precision(Text(*conditions, "precision"));
        }
      }
      if (const json* determinism = Field(*report, "determinism")) {
        any_determinism = true;
        const json* d = Field(*determinism, "deterministic");
        deterministic = deterministic && d != nullptr && d->is_boolean() && d->get<bool>();
        mismatched += Integer(*determinism, "differingPredictions");
      }
      // Performance is measured once per job; the first dataset's measurement stands for it.
      if (const json* performance = Field(*report, "performance");
          performance != nullptr && !out->has_performance()) {
        sov::v1::PerformanceMetrics* p = out->mutable_performance();
        if (const json* latency = Field(*performance, "latency"); latency && latency->is_array()) {
          for (const json& l : *latency) {
            sov::v1::BatchPerformance* b = p->add_batches();
            b->set_batch_size(static_cast<int32_t>(Integer(l, "batch")));
            *b->mutable_latency_p50() = SecondsToDuration(Number(l, "p50Ms").value_or(0) / 1e3);
            *b->mutable_latency_p99() = SecondsToDuration(Number(l, "p99Ms").value_or(0) / 1e3);
            b->set_samples_per_second(Number(l, "samplesPerSecond").value_or(0));
          }
        }
        p->set_peak_memory_bytes(Integer(*performance, "memoryBytes"));
      }
    }
  }
  if (any_determinism) {
    out->mutable_determinism()->set_deterministic(deterministic);
    out->mutable_determinism()->set_mismatched_predictions(mismatched);
  }
  if (elapsed > 0) *out->mutable_elapsed() = SecondsToDuration(elapsed);
  if (const json* job = Field(predicate, "job")) {
    if (std::string backend = Text(*job, "backend"); !backend.empty()) {
      out->mutable_runtime()->set_backend(BackendToProto(backend));
    }
  }
  if (const json* gates = Field(predicate, "gates")) GatesToProto(*gates, out->mutable_gate_results());

  google::protobuf::util::JsonParseOptions options;
  auto parsed =
      google::protobuf::util::JsonStringToMessage(predicate.dump(), out->mutable_predicate(), options);
  if (!parsed.ok()) {
    return InvalidArgument("report predicate does not convert to a Struct: " +
                           std::string(parsed.message()));
  }
  return OkStatus();
}

std::string EncodeJobPageToken(const PageTokens& tokens, int64_t before_seq,
                               std::string_view filter_key) {
  return tokens.Seal("ListValidationJobs", filter_key, std::to_string(before_seq));
}

Result<int64_t> DecodeJobPageToken(const PageTokens& tokens, std::string_view token,
                                   std::string_view filter_key) {
  SOV_ASSIGN_OR_RETURN(std::string number, tokens.Open("ListValidationJobs", filter_key, token));
  // Sealed by this server, so a canonical positive decimal; checked all the same.
  int64_t seq = 0;
  auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), seq);
  if (number.empty() || error != std::errc() || end != number.data() + number.size() ||
      seq <= 0) {
    return BadJobPageToken();
  }
  return seq;
}

// ---- The service -------------------------------------------------------------------------------

EvaluationService::EvaluationService(std::shared_ptr<const CallGuard> guard,
                                     std::shared_ptr<registry::Registry> registry,
                                     std::shared_ptr<const PageTokens> page_tokens)
    : guard_(std::move(guard)),
      registry_(std::move(registry)),
      page_tokens_(std::move(page_tokens)) {}

grpc::Status EvaluationService::StartValidation(grpc::ServerContext* context,
                                                const sov::v1::StartValidationRequest* request,
                                                sov::v1::StartValidationResponse* response) {
  return guard_->Run(*context, kStartValidationMethod, [&](GuardedCall& call) -> Status {
    SOV_ASSIGN_OR_RETURN(std::string backend, BackendName(request->backend()));
    SOV_ASSIGN_OR_RETURN(ArtifactRecord model,
                         ResolveVisible(*registry_, call, request->model(), true));
    if (model.spec.kind != Kind::kModel) {
      return InvalidArgument(RefText(model.spec.name, model.spec.version) + " is a " +
                             std::string(registry::KindName(model.spec.kind)) +
                             ", not a model; only models are validated");
    }
    SOV_RETURN_IF_ERROR(DecideOn(*registry_, call, "validation.start", model));
    if (model.stage == Stage::kErased ||
        (!request->report_only() && model.stage != Stage::kPending &&
         model.stage != Stage::kValidating)) {
      return FailedPrecondition(
          "WRONG_STAGE: " + RefText(model.spec.name, model.spec.version) + " is " +
          std::string(registry::StageName(model.stage)) +
          (model.stage == Stage::kErased
               ? "; an erased model cannot be validated"
               : "; only a pending model is validated for release (report_only writes a report "
                 "without changing the stage)"));
    }
    // The worker resolves the same datasets when it runs the job; a missing one is reported
    // now, naming the gate's requirement and its FILE:LINE, rather than as a failed job.
    SOV_RETURN_IF_ERROR(
        ResolveValidationDatasets(*registry_, call.policy(), model).status());
    registry::Registry::ValidationRequest queued;
    queued.report_only = request->report_only();
    queued.backend = backend;
    queued.policy_digest = call.policy().digest();
    queued.requested_by = call.principal().tenant.id;
    SOV_ASSIGN_OR_RETURN(JobRecord job, registry_->QueueValidation(model, queued, call.actor(),
                                                                   call.TakeAuditEvents()));
    JobToProto(job, response->mutable_job());
    return OkStatus();
  });
}

grpc::Status EvaluationService::GetValidationJob(grpc::ServerContext* context,
                                                 const sov::v1::GetValidationJobRequest* request,
                                                 sov::v1::GetValidationJobResponse* response) {
  return guard_->Run(*context, kGetValidationJobMethod, [&](GuardedCall& call) -> Status {
    SOV_ASSIGN_OR_RETURN(JobRecord job, GetJob(*registry_, request->job_id()));
    SOV_ASSIGN_OR_RETURN(ArtifactRecord model, VisibleModelOf(*registry_, call, job));
    SOV_RETURN_IF_ERROR(DecideOn(*registry_, call, "validation.read", model));
    JobToProto(job, response->mutable_job());
    return OkStatus();
  });
}

grpc::Status EvaluationService::ListValidationJobs(
    grpc::ServerContext* context, const sov::v1::ListValidationJobsRequest* request,
    sov::v1::ListValidationJobsResponse* response) {
  return guard_->Run(*context, kListValidationJobsMethod, [&](GuardedCall& call) -> Status {
    int page_size = request->page_size();
    if (page_size < 0 || page_size > 1000) {
      return InvalidArgument("page_size must be between 1 and 1000 (0 means 100)");
    }
    if (page_size == 0) page_size = 100;
    if (request->model().name().empty() && !request->model().version().empty()) {
      return InvalidArgument("model.name is required when model.version is given");
    }
    registry::JobFilter filter;
    filter.model_name = request->model().name();
    filter.model_version = request->model().version();
    filter.model_digest = request->model().digest();
    for (int s : request->states()) {
      if (s == sov::v1::JOB_STATE_UNSPECIFIED) continue;
      SOV_ASSIGN_OR_RETURN(registry::JobState state, JobStateFromProto(s));
      filter.states.push_back(state);
    }
    const std::string filter_key = JobFilterKey(*request);
    if (!request->page_token().empty()) {
      SOV_ASSIGN_OR_RETURN(filter.before_seq,
                           DecodeJobPageToken(*page_tokens_, request->page_token(), filter_key));
    }
    // Reads in batches until the page is full and one more visible job follows it, or the jobs
    // run out: jobs the caller may not see shape neither the page nor its token.
    filter.limit = std::max(page_size, 100);
    std::map<std::pair<std::string, std::string>, bool> readable;  // by model name@version
    int64_t shown = 0;
    int64_t hidden = 0;
    int64_t last_shown_seq = 0;
    std::string digest;
    bool more = false;
    while (!more) {
      SOV_ASSIGN_OR_RETURN(std::vector<JobRecord> jobs, registry_->ListJobs(filter));
      for (const JobRecord& job : jobs) {
        filter.before_seq = job.seq;
        auto key = std::make_pair(job.model_name, job.model_version);
        auto known = readable.find(key);
        if (known == readable.end()) {
          bool allowed = false;
          Result<ArtifactRecord> model = registry_->Get(job.model_name, job.model_version);
          if (model.ok()) {
            const policy::Artifact view = View(*registry_, *model);
            policy::Decision visible = call.DecideQuietly("artifact.get", view);
            if (digest.empty()) digest = std::string(visible.policy_digest);
            allowed = visible.allowed() && call.DecideQuietly("validation.read", view).allowed();
          } else if (model.status().code() != StatusCode::kNotFound) {
            return model.status();
          }
          known = readable.emplace(key, allowed).first;
        }
        if (!known->second) {
          ++hidden;
          continue;
        }
        if (shown >= page_size) {
          more = true;
          break;
        }
        ++shown;
        last_shown_seq = job.seq;
        JobToProto(job, response->add_jobs());
      }
      if (static_cast<int64_t>(jobs.size()) < filter.limit || jobs.empty()) break;
    }
    if (digest.empty()) digest = call.policy().digest();
    call.RecordSummary("validation.read", shown, hidden, digest);
    if (more) {
      response->set_next_page_token(EncodeJobPageToken(*page_tokens_, last_shown_seq, filter_key));
    }
    return OkStatus();
  });
}

grpc::Status EvaluationService::CancelValidationJob(
    grpc::ServerContext* context, const sov::v1::CancelValidationJobRequest* request,
    sov::v1::CancelValidationJobResponse* response) {
  return guard_->Run(*context, kCancelValidationJobMethod, [&](GuardedCall& call) -> Status {
    SOV_ASSIGN_OR_RETURN(JobRecord job, GetJob(*registry_, request->job_id()));
    SOV_ASSIGN_OR_RETURN(ArtifactRecord model, VisibleModelOf(*registry_, call, job));
    SOV_RETURN_IF_ERROR(DecideOn(*registry_, call, "validation.cancel", model));
    SOV_ASSIGN_OR_RETURN(JobRecord cancelled,
                         registry_->CancelJob(job.id, call.actor(), call.TakeAuditEvents()));
    JobToProto(cancelled, response->mutable_job());
    return OkStatus();
  });
}

grpc::Status EvaluationService::GetReport(grpc::ServerContext* context,
                                          const sov::v1::GetReportRequest* request,
                                          sov::v1::GetReportResponse* response) {
  return guard_->Run(*context, kGetReportMethod, [&](GuardedCall& call) -> Status {
    std::optional<ArtifactRecord> report;
    ArtifactRecord model;
    switch (request->selector_case()) {
      case sov::v1::GetReportRequest::kReport: {
        const sov::v1::ArtifactRef& ref = request->report();
        if (ref.name().empty() || ref.version().empty()) {
          return InvalidArgument("report.name and report.version are required");
        }
        Result<ArtifactRecord> found = registry_->Get(ref.name(), ref.version());
        if (!found.ok()) {
          if (found.status().code() == StatusCode::kNotFound) {
            return NotFoundFor(ref.name(), ref.version());
          }
          return found.status();
        }
        if (found->spec.kind != Kind::kReport) {
          // Say what it is only to a caller who may see it.
          SOV_RETURN_IF_ERROR(ResolveVisible(*registry_, call, ref, true).status());
          return InvalidArgument(RefText(ref.name(), ref.version()) + " is a " +
                                 std::string(registry::KindName(found->spec.kind)) +
                                 ", not a report; select a model's latest report with `model`");
        }
        const registry::LineageLink* evaluates = nullptr;
        for (const registry::LineageLink& link : found->spec.lineage) {
          if (link.relation == "evaluates") evaluates = &link;
        }
        if (evaluates == nullptr) return NotFoundFor(ref.name(), ref.version());
        Result<ArtifactRecord> evaluated = registry_->Get(evaluates->name, evaluates->version);
        if (!evaluated.ok()) {
          if (evaluated.status().code() == StatusCode::kNotFound) {
            return NotFoundFor(ref.name(), ref.version());
          }
          return evaluated.status();
        }
        if (!call.Decide("artifact.get", View(*registry_, *evaluated)).allowed()) {
          return NotFoundFor(ref.name(), ref.version());
        }
        if (!ref.digest().empty() && ref.digest() != found->digest) {
          return FailedPrecondition("digest pin mismatch: " + RefText(ref.name(), ref.version()) +
                                    " has digest " + found->digest + ", not " + ref.digest());
        }
        model = std::move(*evaluated);
        report = std::move(*found);
        break;
      }
      case sov::v1::GetReportRequest::kModel: {
        SOV_ASSIGN_OR_RETURN(model, ResolveVisible(*registry_, call, request->model(), true));
        if (model.spec.kind != Kind::kModel) {
          return InvalidArgument(RefText(model.spec.name, model.spec.version) + " is a " +
                                 std::string(registry::KindName(model.spec.kind)) +
                                 ", not a model");
        }
        break;
      }
      case sov::v1::GetReportRequest::kJobId: {
        SOV_ASSIGN_OR_RETURN(JobRecord job, GetJob(*registry_, request->job_id()));
        SOV_ASSIGN_OR_RETURN(model, VisibleModelOf(*registry_, call, job));
        SOV_RETURN_IF_ERROR(DecideOn(*registry_, call, "validation.read", model));
        if (job.report_name.empty()) {
          return NotFound("validation job " + job.id + " has no report: it is " +
                          std::string(registry::JobStateName(job.state)));
        }
        SOV_ASSIGN_OR_RETURN(ArtifactRecord found,
                             registry_->Get(job.report_name, job.report_version));
        report = std::move(found);
        break;
      }
      default:
        return InvalidArgument("one of report, model or job_id is required");
    }
    if (request->selector_case() != sov::v1::GetReportRequest::kJobId) {
      SOV_RETURN_IF_ERROR(DecideOn(*registry_, call, "validation.read", model));
    }
    if (!report.has_value()) {
      // The latest report of the model: that of its newest job that wrote one.
      registry::JobFilter filter;
      filter.model_name = model.spec.name;
      filter.model_version = model.spec.version;
      filter.model_digest = model.digest;
      filter.states = {registry::JobState::kSucceeded};
      filter.limit = 0;
      SOV_ASSIGN_OR_RETURN(std::vector<JobRecord> jobs, registry_->ListJobs(filter));
      for (const JobRecord& job : jobs) {
        if (job.report_name.empty()) continue;
        SOV_ASSIGN_OR_RETURN(ArtifactRecord found,
                             registry_->Get(job.report_name, job.report_version));
        report = std::move(found);
        break;
      }
      if (!report.has_value()) {
        return NotFound(RefText(model.spec.name, model.spec.version) +
                        " has no evaluation report yet");
      }
    }

    const std::string report_text = RefText(report->spec.name, report->spec.version);
    SOV_ASSIGN_OR_RETURN(std::string bytes, ReadAll(*registry_, *report));
    Result<crypto::DsseEnvelope> envelope = crypto::DsseEnvelope::FromJson(bytes);
    if (!envelope.ok()) {
      return DataLoss("report " + report_text + " is not a DSSE envelope: " +
                      envelope.status().message());
    }
    Result<crypto::Statement> statement =
        crypto::VerifyStatement(*envelope, {registry_->registry_key()});
    if (!statement.ok()) {
      return DataLoss("report " + report_text +
                      " does not verify with the registry key: " + statement.status().message());
    }
    if (statement->predicate_type != kReportPredicateType) {
      return DataLoss("report " + report_text + " has predicate type " +
                      statement->predicate_type + ", not " + std::string(kReportPredicateType));
    }
    bool about_model = false;
    for (const crypto::ResourceDescriptor& subject : statement->subject) {
      auto it = subject.digest.find("sha256");
      if (it != subject.digest.end() && "sha256:" + it->second == model.digest) about_model = true;
    }
    if (!about_model) {
      return DataLoss("report " + report_text + " is not about " +
                      RefText(model.spec.name, model.spec.version) + " (" + model.digest + ")");
    }
    response->mutable_report_ref()->set_name(report->spec.name);
    response->mutable_report_ref()->set_version(report->spec.version);
    response->mutable_report_ref()->set_digest(report->digest);
    SOV_RETURN_IF_ERROR(ReportPredicateToProto(statement->predicate, response->mutable_report())
                            .WithContext("report " + report_text));
    return EnvelopeToProto(bytes, response->mutable_envelope());
  });
}

}  // namespace sov::gateway
