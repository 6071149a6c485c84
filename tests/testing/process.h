// Child processes for integration tests: RunProcess runs a command to completion and captures
// its output; SovdProcess starts sovd, waits for its ready line ("sovd listening on ADDR (...)")
// and stops it when the test ends, also when the test fails (the destructor kills it, and the
// child is killed too if the test binary dies: PR_SET_PDEATHSIG). Each object is used from one
// test thread; SovdProcess drains sovd's stdout on a thread of its own.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sov::testing {

// The environment for a child: nothing is inherited except PATH, HOME and TMPDIR, so that a
// developer's SOV_* variables cannot change what a test sees.
using Environment = std::map<std::string, std::string>;
Environment MinimalEnvironment();

struct ProcessResult {
  int exit_code = -1;     // -1 when killed by a signal or timed out
  int term_signal = 0;    // the signal that ended it, if any
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs argv[0] (a path) with `env`, waits at most `timeout`, kills it after that.
ProcessResult RunProcess(const std::vector<std::string>& argv, const Environment& env,
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Returns the number of lines in `text` that are not empty.
size_t CountLines(const std::string& text);

// $SOV_BUILD_DIR/<relative>, or "" when SOV_BUILD_DIR is not set.
std::string BuildPath(const std::string& relative);
// $SOV_SOURCE_DIR/<relative>, or "" when SOV_SOURCE_DIR is not set.
std::string SourcePath(const std::string& relative);

class SovdProcess {
 public:
  // Starts $SOV_BUILD_DIR/gateway/sovd with `args` and waits up to `timeout` for its ready line.
  // On failure returns nullptr and describes why (with sovd's output) in *error.
  static std::unique_ptr<SovdProcess> Start(const std::vector<std::string>& args,
                                            std::string* error,
                                            std::chrono::milliseconds timeout =
                                                std::chrono::seconds(30),
                                            const Environment& env = MinimalEnvironment());
  ~SovdProcess();  // SIGKILL if still running, then reap
  SovdProcess(const SovdProcess&) = delete;
  SovdProcess& operator=(const SovdProcess&) = delete;

  pid_t pid() const { return pid_; }
  // "127.0.0.1:PORT" from the ready line.
  const std::string& address() const { return address_; }
  // "mtls" or "insecure-loopback" from the ready line.
  const std::string& mode() const { return mode_; }
  // Everything sovd wrote to stdout so far.
  std::string Stdout() const;
  // Everything sovd wrote to stderr so far (its logs).
  std::string Stderr() const;

  // Sends `signal` and waits up to `timeout` for the exit; returns the exit code, or nullopt
  // when it did not exit in time or died from a signal.
  std::optional<int> Stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(20));

 private:
  SovdProcess() = default;
  void DrainStdout(int fd);

  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string address_;
  std::string mode_;
  std::string stderr_file_;
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string stdout_;  // guarded by mu_
  bool stdout_closed_ = false;  // guarded by mu_
};

}  // namespace sov::testing
