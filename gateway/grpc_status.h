// The one place where sov::Status becomes grpc::Status. Codes share gRPC's numbering, so the
// mapping is 1:1; the message travels unchanged. Pure function; thread-safe.
#pragma once

#include <grpcpp/support/status.h>

#include "common/status.h"

namespace sov::gateway {

// Returns the grpc::Status with the same code and message (OK for OK).
grpc::Status ToGrpcStatus(const Status& status);

}  // namespace sov::gateway
