// RegistryService: the sov.v1 registry over gRPC. Each handler authenticates through the
// CallGuard, loads the artifact's record, asks the policy with it (visibility first: a caller
// the policy does not let see an artifact gets the same NOT_FOUND as for one that does not
// exist, so no call reveals another tenant's artifacts), and only then acts through the
// Registry, handing it the call's decision entries so that they commit with the change.
// The push path completes the spec from the policy (effective classification, storage location
// by the residency rules, retention deadline) and the tenants file (owner, quota), never from
// the request. A pushed model is queued for validation (validation_worker.h); Release, Sign and
// RevokeSigningKey apply the release checks (release_checks.h): a model is released once its
// report passed the gates and its signatures meet the threshold, and revoked when a key
// revocation takes that away. Thread-safe; one instance serves every call.
#pragma once

#include <memory>

#include "gateway/call_guard.h"
#include "gateway/page_token.h"
#include "gateway/tenants.h"
#include "registry/registry.h"
#include "sov/v1/registry.grpc.pb.h"

namespace sov::gateway {

// GetArtifact, the most frequent call, which changes nothing but the audit log, is served
// through gRPC's callback API: its handler thread does not wait for the audit append's group
// commit (CallGuard::RunAsync), which with synchronous handlers cost a thread hand-off per call.
// Callback handlers run on gRPC's few callback threads and must stay short, so ListArtifacts,
// which may read many pages to fill one for a tenant that sees little, stays synchronous.
using RegistryServiceBase =
    sov::v1::RegistryService::WithCallbackMethod_GetArtifact<sov::v1::RegistryService::Service>;

class RegistryService final : public RegistryServiceBase {
 public:
  // `page_tokens` seals ListArtifacts' next_page_token.
  RegistryService(std::shared_ptr<const CallGuard> guard,
                  std::shared_ptr<registry::Registry> registry,
                  std::shared_ptr<const TenantDirectory> tenants,
                  std::shared_ptr<const PageTokens> page_tokens);

  grpc::Status CreateUpload(grpc::ServerContext* context,
                            const sov::v1::CreateUploadRequest* request,
                            sov::v1::CreateUploadResponse* response) override;
  grpc::Status Push(grpc::ServerContext* context,
                    grpc::ServerReader<sov::v1::PushRequest>* reader,
                    sov::v1::PushResponse* response) override;
  grpc::Status GetUpload(grpc::ServerContext* context, const sov::v1::GetUploadRequest* request,
                         sov::v1::GetUploadResponse* response) override;
  grpc::Status CancelUpload(grpc::ServerContext* context,
                            const sov::v1::CancelUploadRequest* request,
                            sov::v1::CancelUploadResponse* response) override;
  grpc::ServerUnaryReactor* GetArtifact(grpc::CallbackServerContext* context,
                                        const sov::v1::GetArtifactRequest* request,
                                        sov::v1::GetArtifactResponse* response) override;
  grpc::Status ListArtifacts(grpc::ServerContext* context,
                             const sov::v1::ListArtifactsRequest* request,
                             sov::v1::ListArtifactsResponse* response) override;
  grpc::Status Fetch(grpc::ServerContext* context, const sov::v1::FetchRequest* request,
                     grpc::ServerWriter<sov::v1::FetchResponse>* writer) override;
  grpc::Status Sign(grpc::ServerContext* context, const sov::v1::SignRequest* request,
                    sov::v1::SignResponse* response) override;
  grpc::Status Release(grpc::ServerContext* context, const sov::v1::ReleaseRequest* request,
                       sov::v1::ReleaseResponse* response) override;
  grpc::Status Revoke(grpc::ServerContext* context, const sov::v1::RevokeRequest* request,
                      sov::v1::RevokeResponse* response) override;
  grpc::Status ListSigningKeys(grpc::ServerContext* context,
                               const sov::v1::ListSigningKeysRequest* request,
                               sov::v1::ListSigningKeysResponse* response) override;
  grpc::Status RevokeSigningKey(grpc::ServerContext* context,
                                const sov::v1::RevokeSigningKeyRequest* request,
                                sov::v1::RevokeSigningKeyResponse* response) override;
  grpc::Status GetQuota(grpc::ServerContext* context, const sov::v1::GetQuotaRequest* request,
                        sov::v1::GetQuotaResponse* response) override;

  using RegistryServiceBase::GetArtifact;

 private:
  std::shared_ptr<const CallGuard> guard_;
  std::shared_ptr<registry::Registry> registry_;
  std::shared_ptr<const TenantDirectory> tenants_;
  std::shared_ptr<const PageTokens> page_tokens_;
};

}  // namespace sov::gateway
