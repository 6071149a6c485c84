// GovernanceService: the sov.v1 governance API for compliance officers. Erase crypto-shreds an
// artifact and applies the policy's lineage rules to everything derived from it
// (gateway/erasure.h); GetRetentionPlan and SweepRetention show and apply the policy's retention
// rules (gateway/retention.h); ExportProcessingRecords streams the records of processing
// (GDPR Art. 30). Every call is authenticated and decided by the CallGuard and audited like the
// registry's. Thread-safe; one instance serves every call.
#pragma once

#include <cstddef>
#include <memory>

#include "gateway/call_guard.h"
#include "gateway/retention.h"
#include "gateway/tenants.h"
#include "registry/registry.h"
#include "sov/v1/governance.grpc.pb.h"

namespace sov::gateway {

class GovernanceService final : public sov::v1::GovernanceService::Service {
 public:
  // `sweep_concurrency`: the workers of a SweepRetention call (retention.sweep_concurrency).
  GovernanceService(std::shared_ptr<const CallGuard> guard,
                    std::shared_ptr<registry::Registry> registry,
                    std::shared_ptr<const TenantDirectory> tenants,
                    size_t sweep_concurrency = kDefaultSweepConcurrency);

  // gateway/governance_erase.cc
  grpc::Status Erase(grpc::ServerContext* context, const sov::v1::EraseRequest* request,
                     sov::v1::EraseResponse* response) override;

  // gateway/governance_retention.cc
  grpc::Status GetRetentionPlan(grpc::ServerContext* context,
                                const sov::v1::GetRetentionPlanRequest* request,
                                sov::v1::GetRetentionPlanResponse* response) override;
  grpc::Status SweepRetention(grpc::ServerContext* context,
                              const sov::v1::SweepRetentionRequest* request,
                              sov::v1::SweepRetentionResponse* response) override;
  grpc::Status ExportProcessingRecords(
      grpc::ServerContext* context, const sov::v1::ExportProcessingRecordsRequest* request,
      grpc::ServerWriter<sov::v1::ExportProcessingRecordsResponse>* writer) override;

 private:
  std::shared_ptr<const CallGuard> guard_;
  std::shared_ptr<registry::Registry> registry_;
  std::shared_ptr<const TenantDirectory> tenants_;
  const size_t sweep_concurrency_;
};

}  // namespace sov::gateway
