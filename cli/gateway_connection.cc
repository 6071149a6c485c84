#include "cli/gateway_connection.h"

#include <cstdlib>
#include <string>

#include <grpc/support/log.h>

#include "cli/output.h"

namespace sov::cli {
namespace {

void DropGrpcLog(gpr_log_func_args* /*args*/) {}

// The call's message, with the deciding policy rule when the trailer names one the message does
// not mention.
std::string RpcErrorMessage(const grpc::Status& status, const grpc::ClientContext* context) {
  std::string message = status.error_message();
  if (context == nullptr) return message;
  if (std::optional<v1::ErrorDetail> detail = ReadErrorDetail(*context);
      detail && detail->has_decision() && !detail->decision().rule_id().empty() &&
      message.find(detail->decision().rule_id()) == std::string::npos) {
    const v1::Decision& decision = detail->decision();
    message += " (policy rule " + decision.rule_id();
    if (decision.has_location() && !decision.location().file().empty()) {
      message += " at " + decision.location().file() + ":" +
                 std::to_string(decision.location().line());
    }
    message += ")";
  }
  return message;
}

}  // namespace

Result<GatewayConnection> GatewayConnection::Open(const ClientConfig& config) {
  SOV_ASSIGN_OR_RETURN(ClientCredentials creds, LoadClientCredentials(config));
  std::shared_ptr<grpc::ChannelCredentials> channel_creds;
  if (config.insecure) {
    channel_creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = creds.root_certs_pem;
    options.pem_cert_chain = creds.cert_chain_pem;
    options.pem_private_key = creds.private_key_pem;
    channel_creds = grpc::SslCredentials(options);
  }
  grpc::ChannelArguments args;
  args.SetUserAgentPrefix("sovctl/" SOV_VERSION);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(config.address, channel_creds, args);
  if (channel == nullptr) return Internal("cannot create a channel to " + config.address);
  return GatewayConnection(std::move(channel), std::move(creds.token), config.timeout);
}

void GatewayConnection::PrepareCall(grpc::ClientContext& context, Deadline deadline) const {
  if (deadline == Deadline::kTimeout) {
    context.set_deadline(std::chrono::system_clock::now() + timeout_);
  }
  // Added per call rather than as call credentials: gRPC refuses call credentials on a
  // plaintext channel, and --insecure-loopback gateways accept tokens too.
  if (!token_.empty()) context.AddMetadata("authorization", "Bearer " + token_);
}

Result<GatewayConnection> OpenGatewayConnection(const ConnectionFlags& flags, const EnvLookup& env) {
  SOV_ASSIGN_OR_RETURN(ClientConfig config, ResolveClientConfig(flags, env));
  return GatewayConnection::Open(config);
}

std::optional<v1::ErrorDetail> ReadErrorDetail(const grpc::ClientContext& context) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find("sov-error-bin");
  if (it == trailers.end()) return std::nullopt;
  v1::ErrorDetail detail;
  if (!detail.ParseFromArray(it->second.data(), static_cast<int>(it->second.size()))) {
    return std::nullopt;
  }
  return detail;
}

int ReportRpcError(std::ostream& err, const grpc::Status& status) {
  return ReportRpcError(err, static_cast<StatusCode>(status.error_code()), status.error_message());
}

Status RpcFailure(const grpc::Status& status, const grpc::ClientContext* context) {
  const auto code = static_cast<StatusCode>(status.error_code());
  return Status(code, std::string(StatusCodeName(code)) + ": " + RpcErrorMessage(status, context));
}

int ReportRpcError(std::ostream& err, const grpc::Status& status,
                   const grpc::ClientContext& context) {
  return ReportRpcError(err, static_cast<StatusCode>(status.error_code()),
                        RpcErrorMessage(status, &context));
}

void QuietGrpcLogging() {
  if (std::getenv("GRPC_VERBOSITY") != nullptr || std::getenv("GRPC_TRACE") != nullptr) return;
  gpr_set_log_function(DropGrpcLog);
}

}  // namespace sov::cli
