// sovd: the Sovereign gateway server. Parses flags and hands over to RunSovd.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "common/allocator.h"
#include "gateway/sovd.h"

int main(int argc, char** argv) {
  sov::TuneAllocatorForStreaming();
  // Before any thread exists, so that only RunSovd's signal thread ever receives them.
  const sigset_t signals = sov::gateway::BlockSovdSignals();

  CLI::App app(
      "sovd: the Sovereign data-governance and model-registry gateway.\n\n"
      "Start a development gateway (creates a CA, certificates, keys, tenants and a policy in\n"
      "DIR on first start, reuses them later, and prints how to point sovctl at it):\n"
      "  sovd --dev --data-dir ./sovd-dev\n"
      "Run with a production configuration (see examples/sovd.yaml, docs/operations.md):\n"
      "  sovd --config /etc/sovereign/sovd.yaml\n\n"
      "sovd prints `sovd listening on HOST:PORT (mtls)` when it is ready, logs to stderr, and\n"
      "shuts down gracefully on SIGTERM or SIGINT (exit 0). It reloads the policy file on\n"
      "SIGHUP and when the file changes; a bad file is refused and the policy in force stays.\n"
      "Exit 1: it could not start (the error line says which file and key; a bad policy is\n"
      "one FILE:LINE:COL line per error); exit 2: bad flags.\n\n"
      "Pushed models are validated by the gateway's own workers (config `validation:`), or by\n"
      "`sovd eval-worker --config FILE` processes on GPU machines that share its data directory\n"
      "(see sovd eval-worker --help).",
      "sovd");
  app.get_formatter()->column_width(34);

  sov::gateway::SovdOptions options;
  std::string config_file;
  std::string data_dir;
  std::string log_format = "text";
  std::string log_level = "info";
  auto* config_opt = app.add_option("--config", config_file,
                                    "Configuration file (YAML); relative paths in it are "
                                    "resolved against its directory")
                         ->type_name("FILE");
  auto* dev_opt = app.add_flag("--dev", options.dev,
                               "Development mode: create (first start) or reuse a complete dev "
                               "setup in --data-dir and listen on 127.0.0.1");
  app.add_option("--data-dir", data_dir,
                 "With --dev: where the dev setup lives (default "
                 "$XDG_STATE_HOME/sovereign/dev or ~/.local/state/sovereign/dev). Without "
                 "--dev: overrides data_dir from the config")
      ->type_name("DIR");
  app.add_flag("--insecure-loopback", options.insecure_loopback,
               "Serve plaintext without TLS; refused unless listen is a loopback address "
               "(127.0.0.0/8, ::1, localhost). Only bearer tokens authenticate");
  bool no_policy_watch = false;
  app.add_flag("--no-policy-watch", no_policy_watch,
               "Reload the policy file only on SIGHUP, not when it changes on disk");
  app.add_option("--log-format", log_format, "Log format on stderr: text, or json (one object "
                                             "per line)")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--log-level", log_level, "Least severe level logged")
      ->type_name("LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.set_version_flag("--version", std::string("sovd ") + SOV_VERSION);
  config_opt->excludes(dev_opt);

  sov::gateway::EvalWorkerOptions eval_options;
  std::string eval_log_format = "text";
  std::string eval_log_level = "info";
  int eval_workers = 0;
  std::string eval_backend;
  bool eval_no_policy_watch = false;
  CLI::App* eval = app.add_subcommand(
      "eval-worker",
      "Run validation workers only (no gRPC listener), e.g. on a GPU machine.\n\n"
      "An eval-worker opens the same database, blob directories, keys, tenants and policy\n"
      "as the gateway whose config it is given (the data directory must be shared, and the\n"
      "gateway's config should set `validation: {external_workers: true}`, with `workers: 0`\n"
      "if only eval-workers should validate). It takes queued validation jobs, runs the\n"
      "benchmark suite on CUDA when a device is present (else on the CPU), writes the signed\n"
      "reports and releases or rejects the models. A job the gateway queues starts at once\n"
      "(the gateway bumps DATABASE-queue, which eval-workers watch); others are found every\n"
      "validation.poll_interval (default 1s). A job whose worker dies is taken again by\n"
      "another once its lease expires. It runs until SIGTERM or SIGINT (exit 0) and reloads\n"
      "the policy on SIGHUP and when the file changes.\n\n"
      "  sovd eval-worker --config /etc/sovereign/sovd.yaml --workers 2 --backend cuda");
  eval->add_option("--config", eval_options.config_file, "The gateway's configuration file")
      ->type_name("FILE")
      ->required();
  eval->add_option("--workers", eval_workers,
                   "Worker threads (default: validation.workers from the config, at least 1)")
      ->type_name("N")
      ->check(CLI::Range(1, 256));
  eval->add_option("--backend", eval_backend,
                   "auto (CUDA when a device is present), cpu or cuda (default: "
                   "validation.backend from the config)")
      ->type_name("BACKEND")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  eval->add_flag("--no-policy-watch", eval_no_policy_watch,
                 "Reload the policy file only on SIGHUP, not when it changes on disk");
  eval->add_option("--log-format", eval_log_format, "Log format on stderr: text, or json")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"text", "json"}));
  eval->add_option("--log-level", eval_log_level, "Least severe level logged")
      ->type_name("LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "sovd: error: %s (see sovd --help)\n", e.what());
    return sov::gateway::kExitUsage;
  }

  if (eval->parsed()) {
    if (eval_workers > 0) eval_options.workers = eval_workers;
    if (!eval_backend.empty()) eval_options.backend = eval_backend;
    eval_options.watch_policy = !eval_no_policy_watch;
    eval_options.log_format = *sov::gateway::ParseLogFormat(eval_log_format);
    eval_options.log_level = *sov::gateway::ParseLogLevel(eval_log_level);
    return sov::gateway::RunEvalWorker(eval_options, signals);
  }
  if (!config_file.empty()) options.config_file = config_file;
  options.watch_policy = !no_policy_watch;
  if (!data_dir.empty()) options.data_dir = data_dir;
  options.log_format = *sov::gateway::ParseLogFormat(log_format);
  options.log_level = *sov::gateway::ParseLogLevel(log_level);
  return sov::gateway::RunSovd(options, signals);
}
