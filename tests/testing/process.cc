#include "tests/testing/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sov::testing {
namespace {

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string TempFileName(const char* tag) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                        "/sov-" + tag + "-XXXXXX";
  int fd = ::mkstemp(pattern.data());
  if (fd >= 0) ::close(fd);
  return pattern;
}

// Forks and execs; in the child, stdout goes to `out_fd` and stderr to `err_fd`.
pid_t Spawn(const std::vector<std::string>& argv, const Environment& env, int out_fd,
            int err_fd) {
  std::vector<std::string> env_strings;
  for (const auto& [key, value] : env) env_strings.push_back(key + "=" + value);
  std::vector<char*> c_argv;
  for (const auto& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  std::vector<char*> c_env;
  for (auto& e : env_strings) c_env.push_back(e.data());
  c_env.push_back(nullptr);

  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  // Child: die with the test, never outlive it.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  int devnull = ::open("/dev/null", O_RDONLY);
  ::dup2(devnull, 0);
  ::dup2(out_fd, 1);
  ::dup2(err_fd, 2);
  ::execve(c_argv[0], c_argv.data(), c_env.data());
  std::fprintf(stderr, "cannot exec %s: %s\n", c_argv[0], std::strerror(errno));
  ::_exit(127);
}

// Waits for `pid` until `deadline`; returns true and fills `status` when it exited.
bool WaitUntil(pid_t pid, std::chrono::steady_clock::time_point deadline, int* status) {
  for (;;) {
    pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

Environment MinimalEnvironment() {
  Environment env;
  for (const char* name : {"PATH", "HOME", "TMPDIR", "LANG"}) {
    if (const char* value = std::getenv(name)) env[name] = value;
  }
  return env;
}

size_t CountLines(const std::string& text) {
  size_t lines = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) ++lines;
  }
  return lines;
}

std::string BuildPath(const std::string& relative) {
  const char* dir = std::getenv("SOV_BUILD_DIR");
  return dir == nullptr ? std::string() : std::string(dir) + "/" + relative;
}

std::string SourcePath(const std::string& relative) {
  const char* dir = std::getenv("SOV_SOURCE_DIR");
  return dir == nullptr ? std::string() : std::string(dir) + "/" + relative;
}

ProcessResult RunProcess(const std::vector<std::string>& argv, const Environment& env,
                         std::chrono::milliseconds timeout) {
  ProcessResult result;
  std::string out_file = TempFileName("out");
  std::string err_file = TempFileName("err");
  int out_fd = ::open(out_file.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  int err_fd = ::open(err_file.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  pid_t pid = Spawn(argv, env, out_fd, err_fd);
  ::close(out_fd);
  ::close(err_fd);
  int status = 0;
  if (!WaitUntil(pid, std::chrono::steady_clock::now() + timeout, &status)) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    result.timed_out = true;
  }
  if (WIFEXITED(status) && !result.timed_out) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
  result.out = ReadWholeFile(out_file);
  result.err = ReadWholeFile(err_file);
  std::filesystem::remove(out_file);
  std::filesystem::remove(err_file);
  return result;
}

std::unique_ptr<SovdProcess> SovdProcess::Start(const std::vector<std::string>& args,
                                                std::string* error,
                                                std::chrono::milliseconds timeout,
                                                const Environment& env) {
  std::string binary = BuildPath("gateway/sovd");
  if (binary.empty()) {
    *error = "SOV_BUILD_DIR is not set";
    return nullptr;
  }
  std::vector<std::string> argv{binary};
  argv.insert(argv.end(), args.begin(), args.end());

  std::unique_ptr<SovdProcess> process(new SovdProcess);
  process->stderr_file_ = TempFileName("sovd-err");
  int err_fd = ::open(process->stderr_file_.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    *error = "pipe2 failed";
    return nullptr;
  }
  process->pid_ = Spawn(argv, env, pipe_fds[1], err_fd);
  ::close(pipe_fds[1]);
  ::close(err_fd);
  process->reader_ = std::thread([p = process.get(), fd = pipe_fds[0]] { p->DrainStdout(fd); });

  constexpr std::string_view kReady = "sovd listening on ";
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock<std::mutex> lock(process->mu_);
  for (;;) {
    size_t at = process->stdout_.find(kReady);
    size_t eol = at == std::string::npos ? std::string::npos : process->stdout_.find('\n', at);
    if (eol != std::string::npos) {
      // "sovd listening on ADDR (MODE)"
      std::string rest = process->stdout_.substr(at + kReady.size(), eol - at - kReady.size());
      size_t space = rest.find(' ');
      process->address_ = rest.substr(0, space);
      if (space != std::string::npos && rest.size() > space + 2) {
        process->mode_ = rest.substr(space + 2, rest.size() - space - 3);
      }
      return process;
    }
    if (process->stdout_closed_ ||
        process->cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      break;
    }
  }
  lock.unlock();
  *error = "sovd did not print its ready line";
  if (!process->stdout_closed_) *error += " within " + std::to_string(timeout.count()) + " ms";
  *error += "\n--- stdout:\n" + process->Stdout() + "\n--- stderr:\n" + process->Stderr();
  return nullptr;  // the destructor kills and reaps it
}

void SovdProcess::DrainStdout(int fd) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard<std::mutex> lock(mu_);
    if (n <= 0) {
      stdout_closed_ = true;
      cv_.notify_all();
      break;
    }
    stdout_.append(buf, static_cast<size_t>(n));
    cv_.notify_all();
  }
  ::close(fd);
}

std::string SovdProcess::Stdout() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stdout_;
}

std::string SovdProcess::Stderr() const { return ReadWholeFile(stderr_file_); }

std::optional<int> SovdProcess::Stop(int signal, std::chrono::milliseconds timeout) {
  if (reaped_) return std::nullopt;
  ::kill(pid_, signal);
  int status = 0;
  if (!WaitUntil(pid_, std::chrono::steady_clock::now() + timeout, &status)) return std::nullopt;
  reaped_ = true;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return std::nullopt;
}

SovdProcess::~SovdProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (reader_.joinable()) reader_.join();
  if (!stderr_file_.empty()) {
    std::error_code ec;
    std::filesystem::remove(stderr_file_, ec);
  }
}

}  // namespace sov::testing
