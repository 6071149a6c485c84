// EvaluationService: the sov.v1 validation API over gRPC. Each handler authenticates through the
// CallGuard, makes the model visible first (`artifact.get` on the model's record; a model, job
// or report the caller may not see is NOT_FOUND exactly like one that does not exist), decides
// the method's `validation.*` action on the model, and only then acts through the Registry's
// durable job queue (registry/registry.h, "Validation jobs"), handing it the call's decision
// entries so that they commit with the change. GetReport reads the report artifact through the
// Registry (decrypted, digest-checked), checks the registry's signature on its DSSE envelope,
// and returns it parsed. Workers take jobs from the store, not from this service. Thread-safe;
// one instance serves every call.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "gateway/call_guard.h"
#include "gateway/page_token.h"
#include "registry/registry.h"
#include "registry/types.h"
#include "sov/v1/evaluation.grpc.pb.h"

namespace sov::gateway {

class EvaluationService final : public sov::v1::EvaluationService::Service {
 public:
  // `page_tokens` seals ListValidationJobs' next_page_token.
  EvaluationService(std::shared_ptr<const CallGuard> guard,
                    std::shared_ptr<registry::Registry> registry,
                    std::shared_ptr<const PageTokens> page_tokens);

  grpc::Status StartValidation(grpc::ServerContext* context,
                               const sov::v1::StartValidationRequest* request,
                               sov::v1::StartValidationResponse* response) override;
  grpc::Status GetValidationJob(grpc::ServerContext* context,
                                const sov::v1::GetValidationJobRequest* request,
                                sov::v1::GetValidationJobResponse* response) override;
  grpc::Status ListValidationJobs(grpc::ServerContext* context,
                                  const sov::v1::ListValidationJobsRequest* request,
                                  sov::v1::ListValidationJobsResponse* response) override;
  grpc::Status CancelValidationJob(grpc::ServerContext* context,
                                   const sov::v1::CancelValidationJobRequest* request,
                                   sov::v1::CancelValidationJobResponse* response) override;
  grpc::Status GetReport(grpc::ServerContext* context, const sov::v1::GetReportRequest* request,
                         sov::v1::GetReportResponse* response) override;

 private:
  std::shared_ptr<const CallGuard> guard_;
  std::shared_ptr<registry::Registry> registry_;
  std::shared_ptr<const PageTokens> page_tokens_;
};

// Converts a job record to the API's ValidationJob. Gate results stored as JSON
// ({gate_id, condition, location, outcome, observed, dataset, error}) are converted field by
// field; fields of unexpected types are left unset.
void JobToProto(const registry::JobRecord& job, sov::v1::ValidationJob* out);

// Fills `out` from the predicate of a signed evaluation report (the format the validation
// worker writes: model, job, policyDigest, createdAt, datasets[] with their gpu-eval report,
// gates[], passed; docs/models.md). Unknown or null fields are left unset. INVALID_ARGUMENT
// naming the field when the predicate is not an object or a required part is malformed.
Status ReportPredicateToProto(const nlohmann::json& predicate, sov::v1::EvaluationReport* out);

// A page token for ListValidationJobs, sealed by `tokens` (gateway/page_token.h) and bound to
// the request's filters. Decode returns the job sequence number the next page starts below;
// INVALID_ARGUMENT for a token this server did not write, or one written for other filters.
std::string EncodeJobPageToken(const PageTokens& tokens, int64_t before_seq,
                               std::string_view filter_key);
Result<int64_t> DecodeJobPageToken(const PageTokens& tokens, std::string_view token,
                                   std::string_view filter_key);

}  // namespace sov::gateway
