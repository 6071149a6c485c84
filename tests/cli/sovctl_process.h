// Runs the built sovctl binary as a child process for the end-to-end cli tests: a bare
// environment, a working directory of the test's choosing, stdout and stderr captured through
// files in that directory. SovctlFixture is the gtest fixture the sovctl tests build on. Not
// thread-safe (the capture files are per directory).
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
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

// Runs sovctl in a temporary directory of its own, with HOME inside it (so no real config file
// can leak in). A test that overrides SetUp calls SovctlFixture::SetUp first and returns if it
// failed (HasFatalFailure).
class SovctlFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* build = std::getenv("SOV_BUILD_DIR");
    ASSERT_NE(build, nullptr) << "SOV_BUILD_DIR is not set (run through ctest)";
    sovctl_ = std::string(build) + "/cli/sovctl";
    ASSERT_TRUE(std::filesystem::exists(sovctl_)) << sovctl_;
    std::filesystem::create_directories(dir_.Join("home"));
  }

  // The source tree, for fixtures and examples.
  static std::string SourceDir() {
    const char* source = std::getenv("SOV_SOURCE_DIR");
    if (source == nullptr) {
      ADD_FAILURE() << "SOV_SOURCE_DIR is not set (run through ctest)";
      return "/nonexistent";
    }
    return source;
  }

  SovctlRun Sovctl(const std::vector<std::string>& args,
                   const std::map<std::string, std::string>& env = {}) {
    return RunSovctlProcess(sovctl_, dir_.path(), dir_.Join("home"), args, env);
  }

  // Expects a usage error: exit 2, the message, the pointer to the command's --help, and
  // nothing on stdout.
  void ExpectUsageError(const std::vector<std::string>& args, const std::string& message,
                        const std::string& command) {
    SovctlRun run = Sovctl(args);
    EXPECT_EQ(run.exit_code, 2) << run.err;
    EXPECT_THAT(run.err, ::testing::StartsWith("sovctl: error: "));
    EXPECT_THAT(run.err, ::testing::HasSubstr(message));
    EXPECT_THAT(run.err, ::testing::HasSubstr("Run 'sovctl " + command + " --help' for usage."));
    EXPECT_EQ(run.out, "");
  }

  TempDir dir_;
  std::string sovctl_;
};

}  // namespace sov::cli::testing
