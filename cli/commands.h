// The sovctl command tree. MakeSovctlApp builds the CLI11 application with its global options
// and every command; parsing records the chosen command's action in a CommandLine, which
// RunSovctl then runs. Each Add*Command adds one command (with its --help text) to the app.
// Not thread-safe: one CommandLine per parse.
#pragma once

#include <functional>
#include <memory>
#include <ostream>

#include <CLI/CLI.hpp>

#include "cli/client_config.h"
#include "cli/output.h"

namespace sov::cli {

// What a parse produced: global options, where to print, and the selected command's action
// (which returns the exit status).
struct CommandLine {
  OutputFormat output = OutputFormat::kText;
  ConnectionFlags connection;
  EnvLookup env = ProcessEnvironment();
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  std::function<int()> run;
};

// Adds `sovctl whoami`.
void AddWhoAmICommand(CLI::App& app, CommandLine& cli);
// Adds `sovctl keygen`, `sovctl sign-blob` and `sovctl verify-blob` (local files, offline).
void AddSigningCommands(CLI::App& app, CommandLine& cli);
// Adds `sovctl push`.
void AddPushCommand(CLI::App& app, CommandLine& cli);
// Adds `sovctl pull`.
void AddPullCommand(CLI::App& app, CommandLine& cli);
// Adds `sovctl ls`, `show`, `sign`, `release`, `revoke` and `verify` (registry artifacts).
void AddRegistryCommands(CLI::App& app, CommandLine& cli);
// Adds `sovctl audit tail`, `audit query`, `audit export` and `audit verify`.
void AddAuditCommands(CLI::App& app, CommandLine& cli);
// Adds `sovctl eval run` (offline validation benchmarks on local files).
void AddEvalCommands(CLI::App& app, CommandLine& cli);
// Adds `sovctl status NAME@VERSION` (stage, report summary, release checks and why).
void AddStatusCommand(CLI::App& app, CommandLine& cli);
// Adds `sovctl erase NAME@VERSION --reason ...` (GDPR Art. 17 crypto-shredding, with lineage).
void AddEraseCommand(CLI::App& app, CommandLine& cli);
// Adds `sovctl retention plan|sweep` and `sovctl records export`.
void AddGovernanceCommands(CLI::App& app, CommandLine& cli);
// Adds `sovctl token create`.
void AddTokenCommands(CLI::App& app, CommandLine& cli);
// Adds `sovctl policy check`, `policy test` and `policy explain` (offline), and `policy impact`
// (the audit log's decisions replayed against a candidate policy).
void AddPolicyCommands(CLI::App& app, CommandLine& cli);
// Adds `sovctl version` (and the --version flag).
void AddVersionCommand(CLI::App& app, CommandLine& cli);

// Returns a CLI11 check that a number is greater than zero, with a plain message.
CLI::Validator PositiveNumber();

// Returns sovctl's version, e.g. "0.1.0".
const char* SovctlVersion();

// Returns the whole sovctl application; `cli` must outlive it.
std::unique_ptr<CLI::App> MakeSovctlApp(CommandLine& cli);

// Parses `argv` and runs the chosen command, printing to `out` and `err`; returns the exit
// status (kExitOk, kExitFailure, or kExitUsage for bad flags). `env` is the environment the
// connection settings are read from.
int RunSovctl(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
              EnvLookup env = ProcessEnvironment());

}  // namespace sov::cli
