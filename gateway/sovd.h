// RunSovd: the sovd process from parsed flags to exit code. It sets up logging, prepares the
// dev environment (--dev), loads the config, starts the GatewayServer, prints the ready line
// "sovd listening on HOST:PORT (mtls|insecure-loopback)" to stdout (then, in dev mode, how to
// point sovctl at it), and serves until SIGTERM or SIGINT, which shut it down gracefully; SIGHUP
// reloads the policy file. Errors before serving are printed on stderr: one line, or for a
// policy that does not compile one FILE:LINE:COL line per error. Call once per process, from
// main, after BlockSovdSignals and before any other thread starts.
//
// RunEvalWorker is `sovd eval-worker`: the validation workers alone, for a GPU machine that
// shares the gateway's data directory (database, blob directories, keys, tenants and policy
// files, from the same config). It takes no data-directory lock and serves no gRPC; it runs
// the worker pool until SIGTERM or SIGINT (exit 0), reloading the policy on SIGHUP and when
// its file changes.
#pragma once

#include <chrono>
#include <csignal>
#include <optional>
#include <string>

#include <spdlog/common.h>

#include "gateway/log.h"

namespace sov::gateway {

struct SovdOptions {
  std::optional<std::string> config_file;  // --config
  bool dev = false;                        // --dev
  std::optional<std::string> data_dir;     // --data-dir
  bool insecure_loopback = false;          // --insecure-loopback
  bool watch_policy = true;                // false: --no-policy-watch (reload on SIGHUP only)
  LogFormat log_format = LogFormat::kText;
  spdlog::level::level_enum log_level = spdlog::level::info;
};

// `sovd eval-worker` flags.
struct EvalWorkerOptions {
  std::string config_file;           // --config (required)
  std::optional<int> workers;        // --workers: overrides validation.workers (default 1)
  std::optional<std::string> backend;  // --backend: overrides validation.backend
  bool watch_policy = true;
  LogFormat log_format = LogFormat::kText;
  spdlog::level::level_enum log_level = spdlog::level::info;
};

// Exit codes (docs/operations.md).
inline constexpr int kExitOk = 0;          // served and shut down cleanly
inline constexpr int kExitStartFailed = 1; // config, file, key, policy or listen error
inline constexpr int kExitUsage = 2;       // bad flags

// How long in-flight calls may run on after SIGTERM/SIGINT before they are cancelled.
inline constexpr std::chrono::seconds kShutdownGrace{10};

// Blocks SIGTERM, SIGINT (shutdown) and SIGHUP (policy reload) in the calling thread, and so in
// every thread it starts later; RunSovd's signal thread receives them with sigwait. Threads that
// libraries started before main (OpenBLAS) do not block them, so it also installs a handler that
// hands a signal delivered there to the waiting thread. A SIGHUP
// that arrives before that thread runs stays pending and is handled then. Returns the set.
sigset_t BlockSovdSignals();

// Runs sovd; returns the process exit code.
int RunSovd(const SovdOptions& options, const sigset_t& shutdown_signals);

// Runs `sovd eval-worker`; returns the process exit code.
int RunEvalWorker(const EvalWorkerOptions& options, const sigset_t& signals);

// Returns the directory `sovd --dev` uses when --data-dir is not given:
// $XDG_STATE_HOME/sovereign/dev, else $HOME/.local/state/sovereign/dev; nullopt without HOME.
std::optional<std::string> DefaultDevDataDir();

}  // namespace sov::gateway
