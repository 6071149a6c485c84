// `sovctl version` and `sovctl --version`.
#include <grpcpp/grpcpp.h>

#include "cli/commands.h"

namespace sov::cli {

const char* SovctlVersion() { return SOV_VERSION; }

void AddVersionCommand(CLI::App& app, CommandLine& cli) {
  app.set_version_flag("--version", std::string("sovctl ") + SovctlVersion(),
                       "Print sovctl's version and exit");
  CLI::App* cmd = app.add_subcommand("version", "Print sovctl's version and its gRPC library's.");
  cmd->footer(
      "Prints `sovctl <version>` and `grpc <version>`; with --output json\n"
      "{\"version\",\"grpc\"}.\n"
      "\n"
      "Example:\n"
      "  sovctl version --output json");
  cmd->callback([&cli] {
    cli.run = [&cli] {
      if (cli.output == OutputFormat::kJson) {
        WriteJson(*cli.out, {{"version", SovctlVersion()}, {"grpc", grpc::Version()}});
      } else {
        *cli.out << FormatKeyValues({{"sovctl", SovctlVersion()}, {"grpc", grpc::Version()}});
      }
      return kExitOk;
    };
  });
}

}  // namespace sov::cli
