// AuditService (sov.v1): reads the tamper-evident audit log (registry/audit_log.h): filtered,
// paged queries, a live tail, signed checkpoints, RFC 9162 inclusion and consistency proofs, and
// an unfiltered export for offline verification. Every call runs through the CallGuard, which
// decides `audit.read` (Export: `audit.export`) before the handler runs, so the handlers here
// only read. What a caller sees: one with an audit role (kAuditReaderRoles) sees every entry; any
// other caller that the policy lets read sees only entries whose principal is its own tenant
// (Query, Tail). Proofs and checkpoints reveal hashes only and are not narrowed; Export is never
// filtered, a verifier needs every leaf. Thread-safe (gRPC calls its handlers from many threads).
#pragma once

#include <array>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string_view>

#include "gateway/call_guard.h"
#include "registry/audit_log.h"
#include "sov/v1/audit.grpc.pb.h"

namespace sov::gateway {

// Roles that see every audit entry in Query and Tail; other callers see only their own calls.
inline constexpr std::array<std::string_view, 2> kAuditReaderRoles = {"compliance-officer",
                                                                      "auditor"};

class AuditService final : public sov::v1::AuditService::Service {
 public:
  // `audit` is the log the gateway appends to; both pointers must be non-null.
  AuditService(std::shared_ptr<const CallGuard> guard, std::shared_ptr<registry::AuditLog> audit);
  // Stops open tails (as Stop does) before the log can go away.
  ~AuditService() override;
  AuditService(const AuditService&) = delete;
  AuditService& operator=(const AuditService&) = delete;

  // Ends every open Tail with UNAVAILABLE (naming the index to resume at) within one poll, and
  // makes later ones end at once. Call it before the server's Shutdown, so that tails do not
  // hold the shutdown grace period. Idempotent.
  void Stop();

  grpc::Status Tail(grpc::ServerContext* context, const sov::v1::TailRequest* request,
                    grpc::ServerWriter<sov::v1::TailResponse>* writer) override;
  grpc::Status Query(grpc::ServerContext* context, const sov::v1::QueryRequest* request,
                     sov::v1::QueryResponse* response) override;
  grpc::Status GetCheckpoint(grpc::ServerContext* context,
                             const sov::v1::GetCheckpointRequest* request,
                             sov::v1::GetCheckpointResponse* response) override;
  grpc::Status GetInclusionProof(grpc::ServerContext* context,
                                 const sov::v1::GetInclusionProofRequest* request,
                                 sov::v1::GetInclusionProofResponse* response) override;
  grpc::Status GetConsistencyProof(grpc::ServerContext* context,
                                   const sov::v1::GetConsistencyProofRequest* request,
                                   sov::v1::GetConsistencyProofResponse* response) override;
  grpc::Status Export(grpc::ServerContext* context, const sov::v1::ExportRequest* request,
                      grpc::ServerWriter<sov::v1::ExportResponse>* writer) override;

 private:
  // The latest checkpoint, signing one now when there is none or it covers fewer than
  // `at_least` entries. NOT_FOUND when the log is empty.
  Result<registry::CheckpointRecord> LatestCheckpoint(int64_t at_least);
  // The index of the leaf with `leaf_hash` (a linear scan); NOT_FOUND when none.
  Result<int64_t> FindLeafByHash(const registry::LeafHash& leaf_hash);
  // Sleeps up to one poll interval; false once Stop was called.
  bool WaitForAppends();

  std::shared_ptr<const CallGuard> guard_;
  std::shared_ptr<registry::AuditLog> audit_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // SOV_GUARDED_BY(mutex_)
};

namespace internal {

// True when `principal` holds one of kAuditReaderRoles.
bool SeesAllAuditEntries(const Principal& principal);

// Narrows `filter` to entries of the caller's own calls unless it sees all entries. Returns
// false when the filter names another tenant, whose entries the caller may not see (the answer
// is then empty, not an error, so that it does not tell which tenants exist).
bool RestrictAuditFilterToCaller(const Principal& principal, registry::AuditFilter& filter);

// True when the caller may see `entry` (see RestrictAuditFilterToCaller).
bool AuditEntryVisibleTo(const Principal& principal, const sov::v1::AuditEntry& entry);

}  // namespace internal

}  // namespace sov::gateway
