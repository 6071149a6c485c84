#include "gateway/grpc_status.h"

namespace sov::gateway {

grpc::Status ToGrpcStatus(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  int code = static_cast<int>(status.code());
  // A code outside gRPC's range cannot come from sov::StatusCode's enumerators, but a cast
  // could produce one; report it as UNKNOWN rather than send an invalid code.
  if (code < 0 || code > static_cast<int>(grpc::StatusCode::UNAUTHENTICATED)) {
    return grpc::Status(grpc::StatusCode::UNKNOWN, status.message());
  }
  return grpc::Status(static_cast<grpc::StatusCode>(code), status.message());
}

}  // namespace sov::gateway
