// `sovctl whoami`: asks sovd who it takes the caller to be.
#include <string>

#include "cli/commands.h"
#include "cli/gateway_connection.h"
#include "sov/v1/identity.grpc.pb.h"

namespace sov::cli {
namespace {

std::string AuthMethodName(v1::AuthMethod method) {
  switch (method) {
    case v1::AUTH_METHOD_MTLS: return "mtls";
    case v1::AUTH_METHOD_BEARER_TOKEN: return "bearer_token";
    default: return "unspecified";
  }
}

std::string JoinOrNone(const google::protobuf::RepeatedPtrField<std::string>& items) {
  if (items.empty()) return "(none)";
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

int RunWhoAmI(const CommandLine& cli) {
  Result<ClientConfig> config = ResolveClientConfig(cli.connection, cli.env);
  if (!config.ok()) return ReportLocalError(*cli.err, config.status());
  Result<GatewayConnection> connection = GatewayConnection::Open(*config);
  if (!connection.ok()) return ReportLocalError(*cli.err, connection.status());

  auto stub = v1::IdentityService::NewStub(connection->channel());
  grpc::ClientContext context;
  connection->PrepareCall(context);
  v1::WhoAmIResponse response;
  grpc::Status status = stub->WhoAmI(&context, v1::WhoAmIRequest(), &response);
  if (!status.ok()) return ReportRpcError(*cli.err, status);

  if (cli.output == OutputFormat::kJson) {
    nlohmann::ordered_json doc = {
        {"tenant_id", response.tenant_id()},
        {"display_name", response.display_name()},
        {"roles", std::vector<std::string>(response.roles().begin(), response.roles().end())},
        {"purposes",
         std::vector<std::string>(response.purposes().begin(), response.purposes().end())},
        {"jurisdiction", response.jurisdiction()},
        {"auth_method", AuthMethodName(response.auth_method())},
        {"credential", response.credential()},
    };
    WriteJson(*cli.out, doc);
  } else {
    *cli.out << FormatKeyValues({
        {"tenant_id", response.tenant_id()},
        {"display_name", response.display_name()},
        {"roles", JoinOrNone(response.roles())},
        {"purposes", JoinOrNone(response.purposes())},
        {"jurisdiction", response.jurisdiction()},
        {"auth_method", AuthMethodName(response.auth_method())},
        {"credential", response.credential()},
    });
  }
  return kExitOk;
}

}  // namespace

void AddWhoAmICommand(CLI::App& app, CommandLine& cli) {
  CLI::App* cmd = app.add_subcommand(
      "whoami",
      "Show who the gateway takes you to be: your tenant, roles, purposes and jurisdiction, as "
      "its tenants file defines them for the credential you presented (client certificate or "
      "bearer token).");
  cmd->footer(
      "Prints aligned `key: value` lines: tenant_id, display_name, roles, purposes,\n"
      "jurisdiction, auth_method (mtls or bearer_token) and credential (certificate subject or\n"
      "token name). With --output json, one object with those keys (roles and purposes are\n"
      "arrays).\n"
      "\n"
      "Connection options (--addr, --ca, --cert, --key, --token-file, --insecure, --timeout,\n"
      "--config) are global: see `sovctl --help`.\n"
      "\n"
      "Examples:\n"
      "  sovctl --config ~/.sovd-dev/sovctl.yaml whoami\n"
      "  SOV_ADDR=gateway.example.eu:8443 SOV_CA=ca.pem SOV_TOKEN=\"$(cat ci.token)\" \\\n"
      "    sovctl whoami --output json");
  cmd->callback([&cli] { cli.run = [&cli] { return RunWhoAmI(cli); }; });
}

}  // namespace sov::cli
