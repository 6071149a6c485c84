// A gRPC channel to sovd built from a resolved ClientConfig: mTLS (or server-authenticated TLS
// with a bearer token) by default, plaintext only with --insecure on loopback. Commands that call
// the gateway open one connection, then prepare each call's context with PrepareCall. A
// GatewayConnection may be shared between threads, as grpc::Channel may.
#pragma once

#include <memory>
#include <ostream>
#include <string>

#include <grpcpp/grpcpp.h>

#include "cli/client_config.h"
#include "common/status.h"

namespace sov::cli {

class GatewayConnection {
 public:
  // Reads the credential files `config` names and creates the channel (connecting lazily, on
  // the first call). Errors as LoadClientCredentials reports them.
  static Result<GatewayConnection> Open(const ClientConfig& config);

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

  // Sets the call's deadline (--timeout) and, when a token is configured, the metadata
  // `authorization: Bearer <token>`.
  void PrepareCall(grpc::ClientContext& context) const;

 private:
  GatewayConnection(std::shared_ptr<grpc::Channel> channel, std::string token,
                    std::chrono::milliseconds timeout)
      : channel_(std::move(channel)), token_(std::move(token)), timeout_(timeout) {}

  std::shared_ptr<grpc::Channel> channel_;
  std::string token_;
  std::chrono::milliseconds timeout_;
};

// Writes "sovctl: error: <CODE>: <message>" for a failed call and returns kExitFailure.
int ReportRpcError(std::ostream& err, const grpc::Status& status);

// Stops gRPC's own log lines from reaching stderr (each error must be one line of sovctl's)
// unless GRPC_VERBOSITY or GRPC_TRACE is set, for debugging. Call once, before any RPC.
void QuietGrpcLogging();

}  // namespace sov::cli
