// `sovctl eval run MODEL DATASET`: the gateway's validation benchmarks, run offline on local
// safetensors files, so that an ML team sees before it pushes what a release gate will see.
// `sovctl eval start|jobs|report`: the gateway's validation jobs (EvaluationService) and the
// signed reports they write, verified with the pinned registry key before they are shown.
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/artifact_flags.h"
#include "cli/artifact_output.h"
#include "cli/artifact_ref.h"
#include "cli/commands.h"
#include "cli/evaluation_output.h"
#include "cli/gateway_connection.h"
#include "cli/listing.h"
#include "cli/progress.h"
#include "cli/proto_interop.h"
#include "cli/registry_calls.h"
#include "cli/registry_key.h"
#include "common/file.h"
#include "crypto/sha256.h"
#include "gpu-eval/backend.h"
#include "gpu-eval/dataset.h"
#include "gpu-eval/model.h"
#include "gpu-eval/report.h"
#include "gpu-eval/suite.h"
#include "sov/v1/evaluation.grpc.pb.h"

namespace sov::cli {
namespace {

struct EvalOptions {
  std::string model;
  std::string dataset;
  std::string backend = "auto";
  std::string precision = "exact";
  int threads = 0;
  double noise_stddev = gpu_eval::SuiteOptions{}.noise_stddev;
  uint64_t seed = gpu_eval::SuiteOptions{}.noise_seed;
  int32_t positive_class = 1;
  std::vector<int64_t> batch_sizes = gpu_eval::SuiteOptions{}.batch_sizes;
  double min_seconds = gpu_eval::SuiteOptions{}.min_seconds;
  std::string report_file;
  bool no_progress = false;
};

// "quality   42%" on one line of stderr, redrawn at most ten times a second.
class StageProgress {
 public:
  explicit StageProgress(std::ostream* out) : out_(out) {}
  ~StageProgress() { Finish(); }

  void Update(std::string_view stage, double fraction) {
    if (out_ == nullptr) return;
    auto now = std::chrono::steady_clock::now();
    if (stage == stage_ && fraction < 1.0 && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    stage_ = std::string(stage);
    std::ostringstream line;
    line << "  " << std::left << std::setw(12) << stage_ << std::right << std::setw(4)
         << static_cast<int>(fraction * 100.0 + 0.5) << '%';
    *out_ << '\r' << line.str() << std::flush;
    drawn_ = true;
  }

  void Finish() {
    if (out_ == nullptr || !drawn_) return;
    *out_ << '\r' << std::string(24, ' ') << '\r' << std::flush;
    drawn_ = false;
  }

 private:
  std::ostream* out_;
  std::string stage_;
  std::chrono::steady_clock::time_point last_{};
  bool drawn_ = false;
};

std::string Percent(double ratio) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", ratio * 100.0);
  return buf;
}

std::string Fixed(double value, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, value);
  return buf;
}

std::string PrintReport(const gpu_eval::Report& r) {
  KeyValues kv = {
      {"model", r.model + "  " + r.model_digest},
      {"dataset", r.dataset + "  " + r.dataset_digest},
      {"backend", r.backend},
      {"samples", std::to_string(r.rows) + " (" + std::to_string(r.classes) + " classes)"},
      {"accuracy", Percent(r.accuracy)},
      {"macro-F1", Fixed(r.macro_f1, 4)},
      {"log-loss", Fixed(r.log_loss, 4)},
      {"noisy accuracy",
       Percent(r.noisy_accuracy) + " (noise stddev " + Fixed(r.noise_stddev, 3) + ")"},
      {"non-finite", std::to_string(r.non_finite_weights) + " weights, " +
                         std::to_string(r.non_finite_output_rows) + " output rows"},
      {"deterministic", r.deterministic ? "yes" : "no (" + std::to_string(
                                                             r.differing_predictions) +
                                                             " predictions differ)"},
  };
  if (r.has_groups) {
    kv.push_back({"groups", std::to_string(r.per_group.size()) + " (positive class " +
                                std::to_string(r.positive_class) + ")"});
    kv.push_back({"accuracy gap", Percent(r.accuracy_gap)});
    kv.push_back({"parity gap", Percent(r.demographic_parity_difference)});
    kv.push_back({"opportunity gap", r.equal_opportunity_difference
                                         ? Percent(*r.equal_opportunity_difference)
                                         : std::string("undefined")});
  }
  kv.push_back({"throughput", Fixed(r.throughput_samples_per_second, 0) + " samples/s"});
  kv.push_back({"memory", FormatBytes(r.memory_bytes)});
  std::string text = FormatKeyValues(kv);

  std::vector<std::vector<std::string>> rows;
  for (const gpu_eval::LatencyStats& l : r.latency) {
    rows.push_back({std::to_string(l.batch), Fixed(l.p50_ms, 3), Fixed(l.p99_ms, 3),
                    Fixed(l.samples_per_second, 0)});
  }
  if (!rows.empty()) {
    text += "\n" + FormatTable({"BATCH", "P50 MS", "P99 MS", "SAMPLES/S"}, rows) + "\n";
  }
  return text;
}

Result<std::string> DigestOf(const std::string& path) {
  SOV_ASSIGN_OR_RETURN(crypto::Digest digest, crypto::Sha256File(path));
  return digest.ToString();
}

int RunEval(CommandLine& cli, const EvalOptions& opts) {
  Result<gpu_eval::Model> model = gpu_eval::OpenModel(opts.model);
  if (!model.ok()) return ReportLocalError(*cli.err, model.status());
  Result<gpu_eval::Dataset> dataset = gpu_eval::OpenDataset(opts.dataset);
  if (!dataset.ok()) return ReportLocalError(*cli.err, dataset.status());

  gpu_eval::BackendOptions backend_options;
  backend_options.kind = *gpu_eval::ParseBackendKind(opts.backend);  // checked by CLI11
  backend_options.precision =
      opts.precision == "fast" ? gpu_eval::Precision::kFast : gpu_eval::Precision::kExact;
  backend_options.threads = opts.threads;
  Result<std::unique_ptr<gpu_eval::Backend>> backend = gpu_eval::CreateBackend(backend_options);
  if (!backend.ok()) return ReportLocalError(*cli.err, backend.status());

  gpu_eval::SuiteOptions suite;
  suite.noise_stddev = opts.noise_stddev;
  suite.noise_seed = opts.seed;
  suite.positive_class = opts.positive_class;
  suite.batch_sizes = opts.batch_sizes;
  suite.min_seconds = opts.min_seconds;

  StageProgress progress(ShouldShowProgress(cli.err, opts.no_progress) ? cli.err : nullptr);
  Result<gpu_eval::Report> report = gpu_eval::RunSuite(
      **backend, *model, *dataset, suite,
      [&progress](std::string_view stage, double fraction) { progress.Update(stage, fraction); });
  progress.Finish();
  if (!report.ok()) return ReportLocalError(*cli.err, report.status());

  report->model = opts.model;
  report->dataset = opts.dataset;
  for (auto [path, digest] : {std::pair{&opts.model, &report->model_digest},
                              std::pair{&opts.dataset, &report->dataset_digest}}) {
    Result<std::string> d = DigestOf(*path);
    if (!d.ok()) return ReportLocalError(*cli.err, d.status());
    *digest = *d;
  }

  const std::string json = gpu_eval::ReportToJson(*report) + "\n";
  if (!opts.report_file.empty()) {
    if (Status s = WriteFileAtomic(opts.report_file, json, 0644); !s.ok()) {
      return ReportLocalError(*cli.err, s);
    }
  }
  if (cli.output == OutputFormat::kJson) {
    *cli.out << json;
  } else {
    *cli.out << PrintReport(*report);
  }
  return kExitOk;
}

// ---- eval start ----

struct StartOptions {
  std::string ref;
  bool report_only = false;
  std::string backend = "auto";
  bool wait = false;
  double wait_seconds = 600;
};

bool Finished(const v1::ValidationJob& job) {
  return job.state() == v1::JOB_STATE_SUCCEEDED || job.state() == v1::JOB_STATE_FAILED ||
         job.state() == v1::JOB_STATE_CANCELLED;
}

int RunStart(const CommandLine& cli, const StartOptions& opts) {
  Result<ArtifactRefText> ref = ParseArtifactRef(opts.ref, VersionRule::kRequired);
  if (!ref.ok()) return ReportUsageError(*cli.err, "eval start", ref.status().message());
  Result<GatewayConnection> connection = OpenGatewayConnection(cli.connection, cli.env);
  if (!connection.ok()) return ReportLocalError(*cli.err, connection.status());
  auto stub = v1::EvaluationService::NewStub(connection->channel());
  v1::StartValidationRequest request;
  request.mutable_model()->set_name(ref->name);
  request.mutable_model()->set_version(ref->version);
  request.set_report_only(opts.report_only);
  request.set_backend(*ParseEnumFlag<v1::Backend>("--backend", opts.backend));  // checked by CLI11
  v1::StartValidationResponse response;
  Status st = CallGateway([&](grpc::ClientContext& context) {
    connection->PrepareCall(context);
    response.Clear();
    return stub->StartValidation(&context, request, &response);
  });
  if (!st.ok()) return ReportLocalError(*cli.err, st);
  v1::ValidationJob job = response.job();

  if (opts.wait) {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(static_cast<int64_t>(opts.wait_seconds * 1e3));
    while (!Finished(job)) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return ReportLocalError(*cli.err, "validation job " + job.job_id() + " is still " +
                                              EnumFlagName(job.state()) + " after " +
                                              Fixed(opts.wait_seconds, 0) +
                                              " s; follow it with `sovctl eval jobs " +
                                              ref->ToString() + "`");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      v1::GetValidationJobRequest get;
      get.set_job_id(job.job_id());
      v1::GetValidationJobResponse got;
      st = CallGateway(
          [&](grpc::ClientContext& context) {
            connection->PrepareCall(context);
            got.Clear();
            return stub->GetValidationJob(&context, get, &got);
          },
          kMaxRetries);
      if (!st.ok()) return ReportLocalError(*cli.err, st);
      job = got.job();
    }
  }
  if (cli.output == OutputFormat::kJson) {
    WriteJson(*cli.out, {{"job", ProtoToJson(job)}});
  } else {
    *cli.out << FormatKeyValues(JobDetails(job));
  }
  if (opts.wait && job.state() == v1::JOB_STATE_FAILED) {
    return ReportLocalError(*cli.err, "validation job " + job.job_id() + " failed: " + job.error());
  }
  return kExitOk;
}

// ---- eval jobs ----

struct JobsOptions {
  std::string what;
  std::vector<std::string> states;
  int page_size = 0;
};

int RunJobs(const CommandLine& cli, const JobsOptions& opts) {
  v1::ListValidationJobsRequest request;
  if (!opts.what.empty()) {
    Result<ArtifactRefText> ref = ParseArtifactRef(opts.what, VersionRule::kOptional);
    if (!ref.ok()) return ReportUsageError(*cli.err, "eval jobs", ref.status().message());
    request.mutable_model()->set_name(ref->name);
    request.mutable_model()->set_version(ref->version);
  }
  for (const std::string& text : opts.states) {
    Result<v1::JobState> state = ParseEnumFlag<v1::JobState>("--state", text);
    if (!state.ok()) return ReportUsageError(*cli.err, "eval jobs", state.status().message());
    request.add_states(*state);
  }
  request.set_page_size(opts.page_size);
  Result<GatewayConnection> connection = OpenGatewayConnection(cli.connection, cli.env);
  if (!connection.ok()) return ReportLocalError(*cli.err, connection.status());
  auto stub = v1::EvaluationService::NewStub(connection->channel());
  std::vector<v1::ValidationJob> jobs;
  for (;;) {
    v1::ListValidationJobsResponse response;
    Status st = CallGateway([&](grpc::ClientContext& context) {
      connection->PrepareCall(context);
      response.Clear();
      return stub->ListValidationJobs(&context, request, &response);
    });
    if (!st.ok()) return ReportLocalError(*cli.err, st);
    for (const v1::ValidationJob& job : response.jobs()) jobs.push_back(job);
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  return PrintListing(cli, "jobs", jobs, "no validation jobs found", JobTableHeader(),
                      JobTableRow);
}

// ---- eval report ----

struct ReportOptions {
  std::string ref;
  std::string job;
  std::string out_file;
  std::vector<std::string> registry_keys;
  bool trust_server_key = false;
};

int RunReport(const CommandLine& cli, const ReportOptions& opts) {
  v1::GetReportRequest request;
  std::string model_digest;
  if (!opts.job.empty()) {
    if (!opts.ref.empty()) {
      return ReportUsageError(*cli.err, "eval report", "give NAME@VERSION or --job, not both");
    }
    request.set_job_id(opts.job);
  } else {
    if (opts.ref.empty()) {
      return ReportUsageError(*cli.err, "eval report", "NAME@VERSION or --job JOB is required");
    }
    Result<ArtifactRefText> ref = ParseArtifactRef(opts.ref, VersionRule::kRequired);
    if (!ref.ok()) return ReportUsageError(*cli.err, "eval report", ref.status().message());
    request.mutable_model()->set_name(ref->name);
    request.mutable_model()->set_version(ref->version);
  }
  Result<GatewayConnection> connection = OpenGatewayConnection(cli.connection, cli.env);
  if (!connection.ok()) return ReportLocalError(*cli.err, connection.status());
  Result<TrustedRegistryKeys> keys =
      ObtainRegistryKeys(opts.registry_keys, opts.trust_server_key, cli.connection, cli.env,
                         &*connection, *cli.err);
  if (!keys.ok()) return ReportLocalError(*cli.err, keys.status());
  if (request.has_model()) {
    // The report must be about the model's digest as the registry records it.
    Result<v1::GetArtifactResponse> model = GetArtifact(*connection, request.model());
    if (!model.ok()) return ReportLocalError(*cli.err, model.status());
    model_digest = model->artifact().digest();
  }
  auto stub = v1::EvaluationService::NewStub(connection->channel());
  v1::GetReportResponse response;
  Status st = CallGateway([&](grpc::ClientContext& context) {
    connection->PrepareCall(context);
    response.Clear();
    return stub->GetReport(&context, request, &response);
  });
  if (!st.ok()) return ReportLocalError(*cli.err, st);

  ReportVerification verified = VerifyReport(response, model_digest, keys->keys);
  if (!verified.ok()) {
    return ReportLocalError(*cli.err, "verification of report " + RefText(response.report_ref()) +
                                          " failed: " + verified.FirstFailure() +
                                          "; nothing of it is shown");
  }
  const nlohmann::json& predicate = verified.statement->predicate;
  if (!opts.out_file.empty()) {
    const std::string envelope = ToCryptoEnvelope(response.envelope()).ToJson() + "\n";
    if (Status s = WriteFileAtomic(opts.out_file, envelope, 0644); !s.ok()) {
      return ReportLocalError(*cli.err, s);
    }
  }
  if (cli.output == OutputFormat::kJson) {
    nlohmann::ordered_json doc;
    doc["verified"] = true;
    doc["registry_key_ids"] = verified.registry_key_ids;
    doc["summary"] = ReportSummaryJson(response.report_ref(), predicate);
    doc["predicate"] = predicate;
    WriteJson(*cli.out, doc);
  } else {
    KeyValues lines = ReportSummary(response.report_ref(), predicate);
    std::string keys_text;
    for (const std::string& id : verified.registry_key_ids) {
      keys_text += (keys_text.empty() ? "" : ", ") + id;
    }
    lines.insert(lines.begin() + 1, {"verified", "registry signature " + keys_text});
    if (!opts.out_file.empty()) lines.emplace_back("written", opts.out_file);
    *cli.out << FormatKeyValues(lines);
  }
  return kExitOk;
}

}  // namespace

void AddEvalCommands(CLI::App& app, CommandLine& cli) {
  CLI::App* eval = app.add_subcommand(
      "eval",
      "Validation: run the benchmarks offline (run), or queue, list and read the gateway's "
      "validation jobs and signed reports (start, jobs, report).");
  eval->require_subcommand(1);

  auto opts = std::make_shared<EvalOptions>();
  CLI::App* run = eval->add_subcommand(
      "run",
      "Run the validation benchmarks that release gates read (quality, fairness, robustness, "
      "determinism, performance) on local safetensors files, without a gateway.");
  run->add_option("MODEL", opts->model, "Model file (safetensors; docs/models.md)")
      ->required()
      ->check(CLI::ExistingFile);
  run->add_option("DATASET", opts->dataset,
                  "Validation dataset (safetensors: features, labels, optional groups)")
      ->required()
      ->check(CLI::ExistingFile);
  run->add_option("--backend", opts->backend,
                  "cuda, cpu, or auto: CUDA when a GPU is usable, else the CPU")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->option_text("auto|cpu|cuda [auto]");
  run->add_option("--precision", opts->precision,
                  "exact: FP32 throughout; fast: TF32/BF16 tensor cores on CUDA")
      ->check(CLI::IsMember({"exact", "fast"}))
      ->option_text("exact|fast [exact]");
  run->add_option("--threads", opts->threads, "CPU threads [all cores]")
      ->check(CLI::NonNegativeNumber)
      ->option_text("N");
  run->add_option("--noise-stddev", opts->noise_stddev,
                  "Standard deviation of the input noise of the robustness run, in feature units")
      ->check(CLI::NonNegativeNumber)
      ->option_text("X [0.1]");
  run->add_option("--seed", opts->seed, "Seed of the input noise")->option_text("N");
  run->add_option("--positive-class", opts->positive_class,
                  "The favourable outcome for the fairness rates [1]")
      ->check(CLI::NonNegativeNumber)
      ->option_text("LABEL");
  run->add_option("--batch-size", opts->batch_sizes,
                  "Batch sizes of the latency runs; repeatable [1 32 1024]")
      ->check(CLI::PositiveNumber)
      ->option_text("N");
  run->add_option("--min-seconds", opts->min_seconds, "Time spent on each batch size at least")
      ->check(CLI::NonNegativeNumber)
      ->option_text("S [0.5]");
  run->add_option("--report", opts->report_file, "Also write the JSON report to FILE")
      ->option_text("FILE");
  run->add_flag("--no-progress", opts->no_progress,
                "No progress line (it is drawn on stderr only when stderr is a terminal)");
  run->footer(
      "Prints accuracy, macro-F1, log-loss, accuracy under input noise, NaN/Inf counts,\n"
      "determinism, the fairness gaps when the dataset has groups, and latency per batch size.\n"
      "With --output json, prints the report itself (schema in docs/models.md), which is what\n"
      "the gateway signs and its release gates read.\n"
      "\n"
      "Examples:\n"
      "  sovctl eval run model.safetensors holdout.safetensors\n"
      "  sovctl eval run model.safetensors holdout.safetensors --backend cpu --threads 4 \\\n"
      "    --output json > report.json");
  run->callback([&cli, opts] { cli.run = [&cli, opts] { return RunEval(cli, *opts); }; });

  // eval start
  auto start = std::make_shared<StartOptions>();
  CLI::App* start_cmd = eval->add_subcommand(
      "start",
      "Queue a validation job for a model in the registry. The gateway's workers run the "
      "benchmarks on the validation datasets the release gates name, sign a report and apply "
      "the gates: a pending model then becomes released, rejected (a gate failed), or stays "
      "pending for missing signatures. Pushing a model queues its first job by itself.");
  start_cmd->add_option("MODEL", start->ref, "NAME@VERSION of a model")->required();
  start_cmd->add_flag("--report-only", start->report_only,
                      "Only write a new report (for a model in any stage but erased); the stage "
                      "does not change");
  start_cmd->add_option("--backend", start->backend,
                        "cuda: wait for a worker with a GPU; cpu; auto: CUDA when the worker has "
                        "a GPU, else the CPU")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->option_text("auto|cpu|cuda [auto]");
  start_cmd->add_flag("--wait", start->wait, "Wait until the job has finished, then print it");
  start_cmd->add_option("--wait-seconds", start->wait_seconds, "Give up waiting after S seconds")
      ->check(CLI::PositiveNumber)
      ->option_text("S [600]");
  start_cmd->footer(
      "Prints the job: id, model, state, worker, datasets, report and gate results once done.\n"
      "If a job for the same model and mode is already queued or running, that one is shown.\n"
      "Exit 1 when the gateway refuses (the model is not pending: use --report-only; a\n"
      "validation dataset the gates need is missing: the message names the gate's FILE:LINE),\n"
      "or with --wait when the job failed. With --output json: {\"job\": <ValidationJob>}.\n"
      "\n"
      "Examples:\n"
      "  sovctl eval start acme-ml/fraud/classifier@1.4.0 --wait\n"
      "  sovctl eval start acme-ml/fraud/classifier@1.3.0 --report-only --backend cuda");
  start_cmd->callback(
      [&cli, start] { cli.run = [&cli, start] { return RunStart(cli, *start); }; });

  // eval jobs
  auto jobs = std::make_shared<JobsOptions>();
  CLI::App* jobs_cmd = eval->add_subcommand(
      "jobs",
      "List validation jobs, newest first: all you may see, those of one model name, or of one "
      "version. Every page is followed.");
  jobs_cmd->add_option("MODEL", jobs->what, "NAME (every version) or NAME@VERSION");
  jobs_cmd->add_option("--state", jobs->states, "Only jobs in these states; repeatable")
      ->check(CLI::IsMember(EnumFlagNames<v1::JobState>()))
      ->allow_extra_args(false)
      ->option_text("queued|running|succeeded|failed|cancelled");
  jobs_cmd->add_option("--page-size", jobs->page_size, "Jobs per call (1 to 1000) [100]")
      ->check(CLI::Range(1, 1000))
      ->option_text("N");
  jobs_cmd->footer(
      "Prints a table: JOB MODEL STATE ATTEMPT BACKEND OUTCOME CREATED. ATTEMPT above 1 means a\n"
      "worker died while running it and another took it over; OUTCOME is the model's stage\n"
      "after the job (\"report only\" for --report-only jobs). With --output json:\n"
      "{\"jobs\": [<ValidationJob>...]} in proto3 JSON.\n"
      "\n"
      "Examples:\n"
      "  sovctl eval jobs\n"
      "  sovctl eval jobs acme-ml/fraud/classifier --state running --state queued");
  jobs_cmd->callback([&cli, jobs] { cli.run = [&cli, jobs] { return RunJobs(cli, *jobs); }; });

  // eval report
  auto report = std::make_shared<ReportOptions>();
  CLI::App* report_cmd = eval->add_subcommand(
      "report",
      "Fetch a model's latest signed evaluation report (or a job's), verify it with the pinned "
      "registry key, and print it. The report is an in-toto Statement about the model's digest "
      "in a DSSE envelope signed by the registry; nothing of it is shown unless it verifies.");
  report_cmd->add_option("MODEL", report->ref, "NAME@VERSION of a model");
  report_cmd->add_option("--job", report->job, "The report a validation job wrote, instead")
      ->option_text("JOB");
  report_cmd->add_option("-o,--out", report->out_file,
                         "Also write the signed envelope (DSSE JSON) to FILE, for "
                         "`sovctl verify-blob` or an auditor")
      ->option_text("FILE");
  report_cmd->add_option("--registry-key", report->registry_keys,
                         "The registry's public key (PEM) [env: SOV_REGISTRY_KEY; config: "
                         "registry_key]; repeat for rotated keys")
      ->allow_extra_args(false)
      ->option_text("FILE");
  report_cmd->add_flag("--trust-server-key", report->trust_server_key,
                       "With no registry key configured, trust the one the gateway lists (warns)");
  report_cmd->footer(
      "Prints the report, the key that signed it, the model and job, per dataset the accuracy,\n"
      "macro-F1 and sample count, and every release gate condition as `gate: OUTCOME GATE:\n"
      "CONDITION (observed VALUE) at FILE:LINE`. Exit 1 when the report does not verify (bad\n"
      "signature, not an evaluation report, or not about the model's digest). With --output\n"
      "json: {\"verified\", \"registry_key_ids\", \"summary\", \"predicate\"}; the predicate is the\n"
      "signed report itself (docs/models.md).\n"
      "\n"
      "Examples:\n"
      "  sovctl eval report acme-ml/fraud/classifier@1.4.0\n"
      "  sovctl eval report acme-ml/fraud/classifier@1.4.0 -o report.dsse.json --output json");
  report_cmd->callback(
      [&cli, report] { cli.run = [&cli, report] { return RunReport(cli, *report); }; });
}

}  // namespace sov::cli
