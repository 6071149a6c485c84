// The gRPC methods of the sov.v1 API that sovd serves, each with the policy action
// (sov::policy::KnownActions) that decides whether a caller may run it, and who decides: the
// guard, before the handler (actions that concern no artifact), or the handler, with the
// artifact's record (CallGuard refuses a handler that decided nothing). Every handler passes its
// GuardedMethod to CallGuard::Run; a method without an entry here cannot be served. The standard
// health and reflection services are not listed: they are authenticated but not decided by the
// policy (docs/operations.md says why). Constants; thread-safe.
#pragma once

#include <array>
#include <span>
#include <string_view>

namespace sov::gateway {

struct GuardedMethod {
  std::string_view name;    // full gRPC method name, e.g. "/sov.v1.IdentityService/WhoAmI"
  std::string_view action;  // the policy action, e.g. "identity.whoami"
  bool decided_by_handler = false;
};

inline constexpr GuardedMethod kWhoAmIMethod{"/sov.v1.IdentityService/WhoAmI", "identity.whoami"};

// RegistryService: decided by the handlers, with the artifact.
inline constexpr GuardedMethod kCreateUploadMethod{"/sov.v1.RegistryService/CreateUpload",
                                                   "artifact.push", true};
inline constexpr GuardedMethod kPushMethod{"/sov.v1.RegistryService/Push", "artifact.push", true};
inline constexpr GuardedMethod kGetUploadMethod{"/sov.v1.RegistryService/GetUpload",
                                                "artifact.push", true};
inline constexpr GuardedMethod kCancelUploadMethod{"/sov.v1.RegistryService/CancelUpload",
                                                   "artifact.push", true};
inline constexpr GuardedMethod kGetArtifactMethod{"/sov.v1.RegistryService/GetArtifact",
                                                  "artifact.get", true};
inline constexpr GuardedMethod kListArtifactsMethod{"/sov.v1.RegistryService/ListArtifacts",
                                                    "artifact.list", true};
inline constexpr GuardedMethod kFetchMethod{"/sov.v1.RegistryService/Fetch", "artifact.fetch",
                                            true};
inline constexpr GuardedMethod kGetLineageMethod{"/sov.v1.RegistryService/GetLineage",
                                                 "artifact.lineage", true};
inline constexpr GuardedMethod kSignMethod{"/sov.v1.RegistryService/Sign", "artifact.sign", true};
inline constexpr GuardedMethod kReleaseMethod{"/sov.v1.RegistryService/Release",
                                              "artifact.release", true};
inline constexpr GuardedMethod kRevokeMethod{"/sov.v1.RegistryService/Revoke", "artifact.revoke",
                                             true};
inline constexpr GuardedMethod kListSigningKeysMethod{"/sov.v1.RegistryService/ListSigningKeys",
                                                      "keys.read"};
inline constexpr GuardedMethod kGetQuotaMethod{"/sov.v1.RegistryService/GetQuota", "quota.read"};
inline constexpr GuardedMethod kRevokeSigningKeyMethod{"/sov.v1.RegistryService/RevokeSigningKey",
                                                       "keys.revoke"};

// EvaluationService: decided by the handlers, with the model.
inline constexpr GuardedMethod kStartValidationMethod{"/sov.v1.EvaluationService/StartValidation",
                                                      "validation.start", true};
inline constexpr GuardedMethod kGetValidationJobMethod{
    "/sov.v1.EvaluationService/GetValidationJob", "validation.read", true};
inline constexpr GuardedMethod kListValidationJobsMethod{
    "/sov.v1.EvaluationService/ListValidationJobs", "validation.read", true};
inline constexpr GuardedMethod kCancelValidationJobMethod{
    "/sov.v1.EvaluationService/CancelValidationJob", "validation.cancel", true};
inline constexpr GuardedMethod kGetReportMethod{"/sov.v1.EvaluationService/GetReport",
                                                "validation.read", true};

// GovernanceService: Erase is decided by its handler, with the artifact; the rest by the guard.
inline constexpr GuardedMethod kEraseMethod{"/sov.v1.GovernanceService/Erase", "artifact.erase",
                                            true};
inline constexpr GuardedMethod kGetRetentionPlanMethod{
    "/sov.v1.GovernanceService/GetRetentionPlan", "retention.read"};
inline constexpr GuardedMethod kSweepRetentionMethod{"/sov.v1.GovernanceService/SweepRetention",
                                                     "retention.sweep"};
inline constexpr GuardedMethod kExportProcessingRecordsMethod{
    "/sov.v1.GovernanceService/ExportProcessingRecords", "records.export"};

// AuditService: decided by the guard.
inline constexpr GuardedMethod kAuditTailMethod{"/sov.v1.AuditService/Tail", "audit.read"};
inline constexpr GuardedMethod kAuditQueryMethod{"/sov.v1.AuditService/Query", "audit.read"};
inline constexpr GuardedMethod kGetCheckpointMethod{"/sov.v1.AuditService/GetCheckpoint",
                                                    "audit.read"};
inline constexpr GuardedMethod kGetInclusionProofMethod{"/sov.v1.AuditService/GetInclusionProof",
                                                        "audit.read"};
inline constexpr GuardedMethod kGetConsistencyProofMethod{
    "/sov.v1.AuditService/GetConsistencyProof", "audit.read"};
inline constexpr GuardedMethod kAuditExportMethod{"/sov.v1.AuditService/Export", "audit.export"};

inline constexpr std::array kGuardedMethods = {
    kWhoAmIMethod,          kCreateUploadMethod,     kPushMethod,
    kGetUploadMethod,       kCancelUploadMethod,     kGetArtifactMethod,
    kListArtifactsMethod,   kFetchMethod,            kGetLineageMethod,
    kSignMethod,            kReleaseMethod,          kRevokeMethod,
    kListSigningKeysMethod, kGetQuotaMethod,         kAuditTailMethod,
    kAuditQueryMethod,      kGetCheckpointMethod,    kGetInclusionProofMethod,
    kGetConsistencyProofMethod, kAuditExportMethod,  kRevokeSigningKeyMethod,
    kStartValidationMethod, kGetValidationJobMethod, kListValidationJobsMethod,
    kCancelValidationJobMethod, kGetReportMethod,    kEraseMethod,
    kGetRetentionPlanMethod, kSweepRetentionMethod,  kExportProcessingRecordsMethod};

}  // namespace sov::gateway
