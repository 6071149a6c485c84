// The gateway calls that several sovctl commands share, with sovctl's retry policy: a byte
// stream, or a call in the middle of a transfer, that failed in a way a retry may cure (the
// gateway restarting, a broken connection) is retried up to kMaxRetries times with exponential
// backoff; a command's first call fails fast. Results are Statuses made by RpcFailure, so that
// ReportLocalError prints them as RPC errors. Thread-safe, as the connection is.
#pragma once

#include <functional>

#include <grpcpp/grpcpp.h>

#include "cli/gateway_connection.h"
#include "common/status.h"
#include "sov/v1/registry.grpc.pb.h"

namespace sov::cli {

// How many times a failed call or byte stream is retried before sovctl gives up (consecutive
// failures: a stream that made progress starts counting again).
inline constexpr int kMaxRetries = 5;

// Returns true for a byte stream's failure that a retry may cure: UNAVAILABLE (the gateway is restarting or
// unreachable), and the INTERNAL and UNKNOWN that gRPC reports when a connection breaks
// mid-stream. Each retry starts from state the gateway reports, so a needless one is harmless.
bool IsRetryable(grpc::StatusCode code);

// Sleeps before retry `attempt` (1 for the first): 0.5 s, 1 s, 2 s, 4 s, then 8 s.
void SleepBeforeRetry(int attempt);

// Runs `call` (which prepares `context` with the connection, makes one unary call and returns
// its status); when it fails with UNAVAILABLE, retries up to `retries` times with backoff.
// Returns OK, or the last failure as RpcFailure. Commands fail fast (retries 0) on their first
// call; calls in the middle of a transfer pass kMaxRetries.
Status CallGateway(const std::function<grpc::Status(grpc::ClientContext& context)>& call,
                   int retries = 0);

// GetArtifact, retried as CallGateway does.
Result<v1::GetArtifactResponse> GetArtifact(const GatewayConnection& connection,
                                            const v1::ArtifactRef& ref, int retries = 0);

}  // namespace sov::cli
