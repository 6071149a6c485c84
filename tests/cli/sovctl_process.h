// Runs the built sovctl binary as a child process for the end-to-end cli tests: a bare
// environment, a working directory of the test's choosing, stdout and stderr captured through
// files in that directory. Not thread-safe (the capture files are per directory).
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/cli/temp_dir.h"

namespace sov::cli::testing {

struct SovctlRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `sovctl args...` in `dir` with only HOME=`home`, PATH and `env` set, capturing its output
// in `dir`/stdout and `dir`/stderr. A failed spawn is a test failure with exit_code -1.
inline SovctlRun RunSovctlProcess(const std::string& sovctl, const std::string& dir,
                                  const std::string& home, const std::vector<std::string>& args,
                                  const std::map<std::string, std::string>& env = {}) {
  std::vector<std::string> argv_store = {sovctl};
  argv_store.insert(argv_store.end(), args.begin(), args.end());
  std::vector<std::string> env_store = {"HOME=" + home, "PATH=/usr/bin:/bin"};
  for (const auto& [name, value] : env) env_store.push_back(name + "=" + value);
  std::vector<char*> argv, envp;
  for (auto& arg : argv_store) argv.push_back(arg.data());
  argv.push_back(nullptr);
  for (auto& var : env_store) envp.push_back(var.data());
  envp.push_back(nullptr);

  const std::string out_path = dir + "/stdout", err_path = dir + "/stderr";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  pid_t pid = 0;
  SovctlRun run;
  int rc = posix_spawn(&pid, sovctl.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    ADD_FAILURE() << "posix_spawn failed: " << rc;
    return run;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.out = ReadTestFile(out_path);
  run.err = ReadTestFile(err_path);
  return run;
}

}  // namespace sov::cli::testing
