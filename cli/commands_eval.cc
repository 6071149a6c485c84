// `sovctl eval run MODEL DATASET`: the gateway's validation benchmarks, run offline on local
// safetensors files, so that an ML team sees before it pushes what a release gate will see.
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/progress.h"
#include "common/file.h"
#include "crypto/sha256.h"
#include "gpu-eval/backend.h"
#include "gpu-eval/dataset.h"
#include "gpu-eval/model.h"
#include "gpu-eval/report.h"
#include "gpu-eval/suite.h"

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

}  // namespace

void AddEvalCommands(CLI::App& app, CommandLine& cli) {
  CLI::App* eval = app.add_subcommand(
      "eval", "Run the validation benchmarks on a model and dataset, offline.");
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
}

}  // namespace sov::cli
