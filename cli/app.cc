#include <cctype>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "cli/gateway_connection.h"

namespace sov::cli {
namespace {

constexpr const char* kConnectionGroup = "Connection (commands that call sovd)";

// Binds a string flag to an optional, which stays unset unless the flag is given.
CLI::Option* AddOptionalString(CLI::App& app, const std::string& name,
                               std::optional<std::string>& target, const std::string& help) {
  return app.add_option_function<std::string>(
      name, [&target](const std::string& value) { target = value; }, help);
}

// Returns " sub sub2" for the subcommands a (perhaps failed) parse got into.
std::string SelectedCommandPath(const CLI::App& app) {
  std::string path;
  const CLI::App* current = &app;
  for (;;) {
    std::vector<CLI::App*> selected = current->get_subcommands();
    if (selected.empty()) break;
    current = selected.front();
    path += " " + current->get_name();
  }
  return path;
}

// The first sentence of `text`: up to the first ". " before a capital letter, so that
// "GDPR Art. 17" or "e.g. a model" do not end it.
std::string FirstSentence(const std::string& text) {
  for (size_t end = text.find(". "); end != std::string::npos; end = text.find(". ", end + 1)) {
    if (end + 2 < text.size() && std::isupper(static_cast<unsigned char>(text[end + 2]))) {
      return text.substr(0, end + 1);
    }
  }
  return text;
}

// Lists each command with the first sentence of its description only; `COMMAND --help` shows
// all of it.
class SovctlFormatter : public CLI::Formatter {
 public:
  std::string make_subcommand(const CLI::App* sub) const override {
    const std::string summary = FirstSentence(sub->get_description());
    std::stringstream out;
    CLI::detail::format_help(out, sub->get_display_name(true), summary, get_column_width());
    return out.str();
  }
};

}  // namespace

CLI::Validator PositiveNumber() {
  return CLI::Validator(
      [](std::string& input) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(input, value) || !(value > 0)) {
          return "must be a number greater than 0, not '" + input + "'";
        }
        return {};
      },
      "POSITIVE");
}

std::unique_ptr<CLI::App> MakeSovctlApp(CommandLine& cli) {
  auto app = std::make_unique<CLI::App>(
      "sovctl talks to the Sovereign gateway (sovd): it pushes, pulls, lists, signs, releases "
      "and verifies datasets and models, and reads and verifies the audit log; offline, it "
      "runs the validation benchmarks on model files, signs and verifies files, and checks, "
      "tests and explains policy files.",
      "sovctl");
  app->require_subcommand(1);
  // Global options are accepted after the command name too: `sovctl whoami --output json`.
  app->fallthrough();
  auto formatter = std::make_shared<SovctlFormatter>();
  formatter->column_width(30);
  app->formatter(formatter);  // inherited by the commands added below
  app->footer(
      "Connection settings come from flags, else the environment (SOV_ADDR, SOV_CA, SOV_CERT,\n"
      "SOV_KEY, SOV_TOKEN, SOV_CONFIG), else the config file (--config, $SOV_CONFIG, or\n"
      "~/.config/sovctl/config.yaml). `sovd --dev --data-dir DIR` writes DIR/sovctl.yaml.\n"
      "The registry's public key (pull, verify, audit verify) comes from --registry-key, else\n"
      "SOV_REGISTRY_KEY, else the config file's registry_key.\n"
      "\n"
      "Exit status: 0 success, 1 failure (reported on stderr), 2 usage error.\n"
      "\n"
      "Examples:\n"
      "  sovd --dev --data-dir ~/.sovd-dev &\n"
      "  export SOV_CONFIG=~/.sovd-dev/sovctl.yaml\n"
      "  sovctl whoami\n"
      "  sovctl push model.safetensors --kind model --name acme-ml/fraud/classifier \\\n"
      "    --version 1.0.0 --trained-on acme-ml/fraud/train@1.0.0 --purpose fraud-detection\n"
      "  sovctl ls acme-ml/fraud\n"
      "  sovctl pull acme-ml/fraud/classifier@1.0.0 -o model.safetensors\n"
      "  sovctl verify acme-ml/fraud/classifier@1.0.0 --file model.safetensors\n"
      "  sovctl eval run model.safetensors holdout.safetensors\n"
      "  sovctl audit export -o audit.jsonl && sovctl audit verify --file audit.jsonl\n"
      "  sovctl keygen --out publisher.key\n"
      "  sovctl sign-blob --key publisher.key model.safetensors -o model.dsse.json\n"
      "  sovctl verify-blob --pub publisher.key.pub model.dsse.json model.safetensors\n"
      "  sovctl policy check examples/policies/eu-gdpr.yaml\n"
      "\n"
      "Run `sovctl COMMAND --help` for each command; docs/cli.md has the full reference.");

  app->add_option_function<std::string>(
         "--output",
         [&cli](const std::string& format) {
           cli.output = format == "json" ? OutputFormat::kJson : OutputFormat::kText;
         },
         "Output format of commands that print data")
      ->check(CLI::IsMember({"text", "json"}))
      ->option_text("text|json [text]");

  ConnectionFlags& conn = cli.connection;
  AddOptionalString(*app, "--config", conn.config_file,
                    "sovctl config file (YAML) [env: SOV_CONFIG]")
      ->option_text("FILE")
      ->group(kConnectionGroup);
  AddOptionalString(*app, "--addr", conn.address, "Gateway address HOST:PORT [env: SOV_ADDR]")
      ->option_text("HOST:PORT")
      ->group(kConnectionGroup);
  AddOptionalString(*app, "--ca", conn.ca_file,
                    "CA bundle (PEM) that signed the gateway's certificate [env: SOV_CA]")
      ->option_text("FILE")
      ->group(kConnectionGroup);
  AddOptionalString(*app, "--cert", conn.cert_file,
                    "Client certificate (PEM) for mTLS [env: SOV_CERT]")
      ->option_text("FILE")
      ->group(kConnectionGroup);
  AddOptionalString(*app, "--key", conn.key_file,
                    "Client private key (PEM, mode 0600) for mTLS [env: SOV_KEY]")
      ->option_text("FILE")
      ->group(kConnectionGroup);
  AddOptionalString(*app, "--token-file", conn.token_file,
                    "File (mode 0600) holding a bearer token [env: SOV_TOKEN holds the token]")
      ->option_text("FILE")
      ->group(kConnectionGroup);
  app->add_flag("--insecure", conn.insecure,
                "Plaintext, no TLS: only for a loopback sovd started with --insecure-loopback")
      ->group(kConnectionGroup);
  app->add_option("--timeout", conn.timeout_seconds, "Deadline of each call in seconds")
      ->check(PositiveNumber())
      ->option_text("SECONDS [30]")
      ->group(kConnectionGroup);

  AddWhoAmICommand(*app, cli);
  AddPushCommand(*app, cli);
  AddPullCommand(*app, cli);
  AddRegistryCommands(*app, cli);
  AddAuditCommands(*app, cli);
  AddEvalCommands(*app, cli);
  AddStatusCommand(*app, cli);
  AddEraseCommand(*app, cli);
  AddGovernanceCommands(*app, cli);
  AddSigningCommands(*app, cli);
  AddTokenCommands(*app, cli);
  AddPolicyCommands(*app, cli);
  AddVersionCommand(*app, cli);
  return app;
}

int RunSovctl(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
              EnvLookup env) {
  CommandLine cli;
  cli.env = std::move(env);
  cli.out = &out;
  cli.err = &err;
  std::unique_ptr<CLI::App> app;
  try {
    app = MakeSovctlApp(cli);
  } catch (const CLI::Error& e) {
    // A construction error is a bug in sovctl's command table, not the user's doing.
    return ReportLocalError(err, std::string("internal error in the command table: ") + e.what());
  }
  try {
    app->parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app->exit(e, out, err);
  } catch (const CLI::CallForAllHelp& e) {
    return app->exit(e, out, err);
  } catch (const CLI::CallForVersion& e) {
    return app->exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    err << "sovctl: error: " << OneLine(e.what()) << '\n'
        << "Run 'sovctl" << SelectedCommandPath(*app) << " --help' for usage.\n";
    return kExitUsage;
  }
  if (!cli.run) return ReportLocalError(err, "no command selected (run 'sovctl --help')");
  QuietGrpcLogging();
  return cli.run();
}

}  // namespace sov::cli
