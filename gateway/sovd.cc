#include "gateway/sovd.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>

#include "gateway/config.h"
#include "gateway/dev_environment.h"
#include "gateway/gateway_server.h"

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

}  // namespace

sigset_t BlockSovdSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
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
    int signal = 0;
    for (;;) {
      if (sigwait(&signals, &signal) != 0) continue;
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
