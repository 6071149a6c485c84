// Shows that ToGrpcStatus maps every sov::StatusCode to the gRPC code of the same name, with
// the message unchanged.
#include "gateway/grpc_status.h"

#include <gtest/gtest.h>

namespace sov::gateway {
namespace {

TEST(GrpcStatusTest, OkMapsToOk) {
  // OK carries no message.
  grpc::Status status = ToGrpcStatus(OkStatus());
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.error_message(), "");
}

TEST(GrpcStatusTest, EveryCodeMapsOneToOne) {
  // Each code keeps its number and name, and the message travels unchanged.
  const std::pair<StatusCode, grpc::StatusCode> pairs[] = {
      {StatusCode::kCancelled, grpc::StatusCode::CANCELLED},
      {StatusCode::kUnknown, grpc::StatusCode::UNKNOWN},
      {StatusCode::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
      {StatusCode::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED},
      {StatusCode::kNotFound, grpc::StatusCode::NOT_FOUND},
      {StatusCode::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS},
      {StatusCode::kPermissionDenied, grpc::StatusCode::PERMISSION_DENIED},
      {StatusCode::kResourceExhausted, grpc::StatusCode::RESOURCE_EXHAUSTED},
      {StatusCode::kFailedPrecondition, grpc::StatusCode::FAILED_PRECONDITION},
      {StatusCode::kAborted, grpc::StatusCode::ABORTED},
      {StatusCode::kOutOfRange, grpc::StatusCode::OUT_OF_RANGE},
      {StatusCode::kUnimplemented, grpc::StatusCode::UNIMPLEMENTED},
      {StatusCode::kInternal, grpc::StatusCode::INTERNAL},
      {StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE},
      {StatusCode::kDataLoss, grpc::StatusCode::DATA_LOSS},
      {StatusCode::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED},
  };
  for (const auto& [ours, theirs] : pairs) {
    grpc::Status status = ToGrpcStatus(Status(ours, "because"));
    EXPECT_EQ(status.error_code(), theirs) << StatusCodeName(ours);
    EXPECT_EQ(status.error_message(), "because");
  }
}

TEST(GrpcStatusTest, OutOfRangeCodeBecomesUnknown) {
  // A code no enumerator names is not sent as an invalid gRPC code.
  grpc::Status status = ToGrpcStatus(Status(static_cast<StatusCode>(99), "odd"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(status.error_message(), "odd");
}

}  // namespace
}  // namespace sov::gateway
