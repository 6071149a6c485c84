#include "cli/gateway_connection.h"

#include <cstdlib>

#include <grpc/support/log.h>

#include "cli/output.h"

namespace sov::cli {
namespace {

void DropGrpcLog(gpr_log_func_args* /*args*/) {}

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

void GatewayConnection::PrepareCall(grpc::ClientContext& context) const {
  context.set_deadline(std::chrono::system_clock::now() + timeout_);
  // Added per call rather than as call credentials: gRPC refuses call credentials on a
  // plaintext channel, and --insecure-loopback gateways accept tokens too.
  if (!token_.empty()) context.AddMetadata("authorization", "Bearer " + token_);
}

int ReportRpcError(std::ostream& err, const grpc::Status& status) {
  return ReportRpcError(err, static_cast<StatusCode>(status.error_code()), status.error_message());
}

void QuietGrpcLogging() {
  if (std::getenv("GRPC_VERBOSITY") != nullptr || std::getenv("GRPC_TRACE") != nullptr) return;
  gpr_set_log_function(DropGrpcLog);
}

}  // namespace sov::cli
