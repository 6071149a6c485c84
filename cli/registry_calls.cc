#include "cli/registry_calls.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

namespace sov::cli {

bool IsRetryable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::INTERNAL ||
         code == grpc::StatusCode::UNKNOWN;
}

void SleepBeforeRetry(int attempt) {
  const int shift = std::clamp(attempt - 1, 0, 4);
  std::this_thread::sleep_for(std::chrono::milliseconds(500) * (1 << shift));
}

Status CallGateway(const std::function<grpc::Status(grpc::ClientContext& context)>& call,
                   int retries) {
  for (int attempt = 0;; ++attempt) {
    // A context serves one call only; each attempt gets a fresh one.
    auto context = std::make_unique<grpc::ClientContext>();
    grpc::Status status = call(*context);
    if (status.ok()) return OkStatus();
    // Unary calls retry UNAVAILABLE only: a whole response either came or did not, and an
    // INTERNAL from a healthy connection is the gateway's answer, not a broken stream.
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE || attempt >= retries) {
      return RpcFailure(status, context.get());
    }
    SleepBeforeRetry(attempt + 1);
  }
}

Result<v1::GetArtifactResponse> GetArtifact(const GatewayConnection& connection,
                                            const v1::ArtifactRef& ref, int retries) {
  auto stub = v1::RegistryService::NewStub(connection.channel());
  v1::GetArtifactRequest request;
  *request.mutable_artifact() = ref;
  v1::GetArtifactResponse response;
  SOV_RETURN_IF_ERROR(CallGateway(
      [&](grpc::ClientContext& context) {
        connection.PrepareCall(context);
        response.Clear();
        return stub->GetArtifact(&context, request, &response);
      },
      retries));
  return response;
}

}  // namespace sov::cli
