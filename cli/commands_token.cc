// `sovctl token create`: makes a bearer token and the tenants-file lines that admit it.
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/token.h"
#include "common/file.h"

namespace sov::cli {
namespace {

struct TokenCreateOptions {
  std::string name;
  std::string out;
};

int RunTokenCreate(const CommandLine& cli, const TokenCreateOptions& opts) {
  if (!IsValidTokenName(opts.name)) {
    return ReportUsageError(*cli.err, "token create",
                            "--name '" + opts.name +
                                "' is not a valid token name: use 1 to 64 letters, digits, '.', "
                                "'_' or '-', starting with a letter or digit");
  }
  Result<std::string> token = GenerateToken();
  if (!token.ok()) return ReportLocalError(*cli.err, token.status());
  const std::string hash = TokenHash(*token);

  if (!opts.out.empty()) {
    if (Status st = WriteNewFile(opts.out, *token + "\n", 0600); !st.ok()) {
      return ReportLocalError(*cli.err, st.WithContext("cannot write token file " + opts.out));
    }
  }
  if (cli.output == OutputFormat::kJson) {
    nlohmann::ordered_json doc = {{"name", opts.name}};
    if (opts.out.empty()) {
      doc["token"] = *token;
    } else {
      doc["token_file"] = opts.out;
    }
    doc["sha256"] = hash;
    WriteJson(*cli.out, doc);
  } else {
    if (opts.out.empty()) {
      *cli.out << FormatKeyValues({{"token", *token}});
    } else {
      *cli.out << FormatKeyValues({{"token_file", opts.out + " (mode 0600)"}});
    }
    *cli.out << "\nAdd these lines under the tenant in the gateway's tenants.yaml:\n\n"
             << TenantsFileEntry(opts.name, hash);
  }
  if (opts.out.empty()) {
    *cli.err << "sovctl: warning: the token is shown only once and the gateway keeps only its "
                "hash; store it now (a mode-0600 file for --token-file, or a CI secret for "
                "SOV_TOKEN)\n";
  }
  return kExitOk;
}

}  // namespace

void AddTokenCommands(CLI::App& app, CommandLine& cli) {
  CLI::App* token_cmd =
      app.add_subcommand("token", "Manage bearer tokens, the way in for clients without mTLS.");
  token_cmd->require_subcommand(1);

  auto create = std::make_shared<TokenCreateOptions>();
  CLI::App* create_cmd = token_cmd->add_subcommand(
      "create",
      "Make a new bearer token (sovt_ + 32 random bytes, base64url) and the tenants.yaml lines "
      "(name and sha256 of the token) that let the gateway accept it. Runs offline: the "
      "gateway's operator pastes the lines; only the token's hash ever reaches the server.");
  create_cmd->add_option("--name", create->name,
                         "Token name, as the tenants file and whoami show it; required")
      ->required()
      ->option_text("NAME");
  create_cmd->add_option("--out", create->out,
                         "Write the token to FILE (mode 0600, never overwritten) instead of "
                         "printing it")
      ->option_text("FILE");
  create_cmd->footer(
      "Prints the token once, then the YAML to put under the tenant:\n"
      "  tokens:\n"
      "    - name: NAME\n"
      "      sha256: \"sha256:<64 hex>\"\n"
      "With --output json: {\"name\",\"token\",\"sha256\"}. The token is never shown again.\n"
      "\n"
      "Examples:\n"
      "  sovctl token create --name ci-pipeline\n"
      "  sovctl token create --name notebook --out ~/.sovereign/token\n"
      "  sovctl --token-file ~/.sovereign/token whoami");
  create_cmd->callback(
      [&cli, create] { cli.run = [&cli, create] { return RunTokenCreate(cli, *create); }; });
}

}  // namespace sov::cli
