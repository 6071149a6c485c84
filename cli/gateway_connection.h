// A gRPC channel to sovd built from a resolved ClientConfig: mTLS (or server-authenticated TLS
// with a bearer token) by default, plaintext only with --insecure on loopback. Commands that call
// the gateway open one connection, then prepare each call's context with PrepareCall. A
// GatewayConnection may be shared between threads, as grpc::Channel may.
#pragma once

#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include <grpcpp/grpcpp.h>

#include "cli/client_config.h"
#include "common/status.h"
#include "sov/v1/error.pb.h"

namespace sov::cli {

class GatewayConnection {
 public:
  // Reads the credential files `config` names and creates the channel (connecting lazily, on
  // the first call). Errors as LoadClientCredentials reports them.
  static Result<GatewayConnection> Open(const ClientConfig& config);

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

  // Whether a call gets the --timeout deadline. Byte streams (push, pull, audit tail and export)
  // run as long as they need: a deadline would cut a large transfer short.
  enum class Deadline { kTimeout, kNone };

  // Sets the call's deadline (--timeout unless kNone) and, when a token is configured, the
  // metadata `authorization: Bearer <token>`.
  void PrepareCall(grpc::ClientContext& context, Deadline deadline = Deadline::kTimeout) const;

 private:
  GatewayConnection(std::shared_ptr<grpc::Channel> channel, std::string token,
                    std::chrono::milliseconds timeout)
      : channel_(std::move(channel)), token_(std::move(token)), timeout_(timeout) {}

  std::shared_ptr<grpc::Channel> channel_;
  std::string token_;
  std::chrono::milliseconds timeout_;
};

// Resolves the connection settings (ResolveClientConfig) and opens the connection.
Result<GatewayConnection> OpenGatewayConnection(const ConnectionFlags& flags, const EnvLookup& env);

// Returns the ErrorDetail of the `sov-error-bin` trailer of a finished call; nullopt when the
// gateway sent none or it does not parse.
std::optional<v1::ErrorDetail> ReadErrorDetail(const grpc::ClientContext& context);

// Writes "sovctl: error: <CODE>: <message>" for a failed call and returns kExitFailure.
int ReportRpcError(std::ostream& err, const grpc::Status& status);

// Returns a failed call as a Status with the call's code and the message "CODE: message" (with
// the policy rule, as below), so that ReportLocalError prints it exactly as ReportRpcError does.
// Functions that make several calls return it; do not add context to it (the code must lead).
Status RpcFailure(const grpc::Status& status, const grpc::ClientContext* context = nullptr);

// As above, and when the call's ErrorDetail names a deciding policy rule that the message does
// not mention, appends " (policy rule RULE at FILE:LINE)" to the line.
int ReportRpcError(std::ostream& err, const grpc::Status& status,
                   const grpc::ClientContext& context);

// Stops gRPC's own log lines from reaching stderr (each error must be one line of sovctl's)
// unless GRPC_VERBOSITY or GRPC_TRACE is set, for debugging. Call once, before any RPC.
void QuietGrpcLogging();

}  // namespace sov::cli
