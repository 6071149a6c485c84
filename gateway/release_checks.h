// Release checks: what stands between a model and its release, computed from the signed
// evaluation report (a registry-written `report` artifact whose DSSE envelope holds an in-toto
// Statement with predicate type kReportPredicateType, docs/models.md "Report predicate"), the
// policy's release gates and the signatures on the model's manifest. The validation workers
// use it to build the `eval` value that gates read and to decide a job's outcome; the registry
// service uses it for Release, Sign (release on the last signature), RevokeSigningKey and the
// ReleaseStatus that GetArtifact shows. Pure functions over values, except the few that read
// the registry (named so); all are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "gateway/tenants.h"
#include "policy/cel/value.h"
#include "policy/policy.h"
#include "registry/registry.h"
#include "registry/types.h"
#include "sov/v1/artifact.pb.h"

namespace sov::gateway {

inline constexpr std::string_view kReportPredicateType =
    "https://sovereign.dev/attestations/evaluation/v1";
inline constexpr std::string_view kReportMediaType = "application/vnd.dsse.envelope.v1+json";
// The last name segment of every report artifact: "<model name>/evaluation".
inline constexpr std::string_view kReportNameSegment = "evaluation";
// The system actor of validation's own changes and decisions.
inline constexpr std::string_view kValidationActor = "validation";

// Returns "<model name>/evaluation".
std::string ReportName(std::string_view model_name);
// Returns "<model version>-eval.<seq>", or "<model version>.eval.<seq>" when the model version
// already has a pre-release ("1.2.0-rc.1" -> "1.2.0-rc.1.eval.7").
std::string ReportVersion(std::string_view model_version, int64_t job_seq);
// Returns whether `name`'s last segment is "evaluation" (reserved for reports).
bool IsReservedReportName(std::string_view name);

// The `eval` map of one dataset's gpu-eval report (the object ReportToJson writes, schema
// https://sovereign.dev/eval-report/v1): accuracy, macro_f1, log_loss, quality{...},
// fairness{...} (only when the dataset has groups), robustness{...}, determinism{...},
// performance{...}; docs/policy.md lists every key. INVALID_ARGUMENT naming the missing field.
Result<nlohmann::json> DatasetEval(const nlohmann::json& report);
// The `eval` map of a whole run: the top-level keys are the worst case over `per_dataset`
// (lowest accuracy, highest gap, ...; a benchmark is present when any dataset measured it), and
// "datasets" maps each name to its own map. `per_dataset` is (name, DatasetEval) in order; a
// dataset known under two names (as stored and as the gate writes it) may appear with both.
nlohmann::json CombineEval(const std::vector<std::pair<std::string, nlohmann::json>>& per_dataset);
// The JSON `eval` map as the CEL value gates read (objects to string maps, integers to int,
// other numbers to double).
policy::cel::Value EvalValue(const nlohmann::json& eval);

// Returns the names under which the model's signatures count towards a threshold: "registry"
// for the registry key's signature; for a publisher signature, the signer tenant's id and each
// of its roles in the tenants file, when the key is still registered to that tenant. Signatures
// by revoked keys never count, nor those by `excluded_keyid`. Sorted, distinct.
std::vector<std::string> ValidSigners(const registry::ArtifactRecord& model,
                                      const crypto::Ed25519PublicKey& registry_key,
                                      const TenantDirectory& tenants,
                                      const std::vector<registry::KeyRevocation>& revocations,
                                      std::string_view excluded_keyid = {});

// The gates applying to `artifact` whose signature threshold `signers` (ValidSigners) do not
// meet, each as "GATE needs N signatures from [..], has M (..) (FILE:LINE)"; empty when all do.
std::vector<std::string> UnmetSignatureThresholds(const policy::Policy& policy,
                                                  const policy::Artifact& artifact,
                                                  const std::vector<std::string>& signers);

// A verified report: its artifact and predicate.
struct ReportView {
  registry::ArtifactRecord artifact;
  nlohmann::json predicate;
  registry::JobRecord job;
};
// Reads and verifies (registry key, predicate type, subject digest) the newest report of
// `model`'s digest written by a SUCCEEDED job. nullopt when there is none; DATA_LOSS when the
// stored report does not verify. Reads the registry.
Result<std::optional<ReportView>> LatestReport(registry::Registry& registry,
                                               const registry::ArtifactRecord& model);

// The evidence of a report for gate evaluation: eval, the datasets as the gates name them
// ("name@version", also the stored name) and the signers.
policy::GateEvidence EvidenceFrom(const nlohmann::json& predicate,
                                  std::vector<std::string> valid_signers);

// One evaluated condition of a gate, in the policy's order: benchmarks, datasets, require
// conditions, signatures.
struct GateCheck {
  std::string gate_id;
  std::string kind;       // "benchmark" | "dataset" | "condition" | "signatures"
  std::string condition;  // as written: "eval.accuracy >= 0.95", "benchmark fairness", ...
  policy::SourceLocation location;
  std::string outcome;    // "passed" | "failed" | "error"
  std::string observed;   // e.g. "eval.accuracy = 0.9689"
  std::string error;      // why it failed or could not be evaluated
};
struct GateEvaluation {
  std::vector<GateCheck> checks;
  std::vector<std::string> gates;  // ids of the gates that apply
  bool conditions_passed = true;  // every check but signatures passed
  bool signatures_met = true;     // every gate's signature threshold met
  bool passed() const { return conditions_passed && signatures_met; }
  // Every failed check but signatures, "gate: condition: why (FILE:LINE)", joined by "; ".
  std::string FailureText() const;
  // The unmet signature thresholds, "gate: needs 2 ... has 1 (registry) (FILE:LINE)".
  std::string SignatureText() const;
  // The checks as the job's and the predicate's "gates" array: [{gate_id, condition, location,
  // outcome, observed, dataset, error}].
  nlohmann::json ToJson() const;
};
// Evaluates every gate that applies to `artifact` against `evidence` and lists each check.
GateEvaluation EvaluateReleaseGates(const policy::Policy& policy, const policy::Artifact& artifact,
                                    const policy::GateEvidence& evidence,
                                    const nlohmann::json& eval);

// Where a model stands on its way to release, for ReleaseStatus and the release decisions.
struct ReleaseState {
  sov::v1::ReleaseStatus status;  // checks, requested, policy digest, time
  bool gates_apply = false;       // some release gate applies
  bool validated = false;         // a report of this digest exists
  bool validation_failed = false;  // the newest job failed
  bool conditions_passed = false;  // the report's gate conditions pass under the policy in force
  bool signatures_met = false;
  // A revoke lineage notice: an ancestor was erased and the policy's lineage rule revokes what
  // was derived from it (gateway/erasure.h); such an artifact is never released.
  bool lineage_revoked = false;
  // Every check is MET (the POLICY check, which needs a caller, is not part of this).
  bool ready() const;
  std::string waiting_for;  // what is missing, in words
};
// Computes the release checks of `record` with the policy in force: a VALIDATION check (models
// with gates), one GATE check per benchmark, dataset and condition, one SIGNATURES check per
// gate with a threshold. Reads the registry (jobs, the newest report, key revocations).
Result<ReleaseState> ComputeReleaseState(registry::Registry& registry, const policy::Policy& policy,
                                         const TenantDirectory& tenants,
                                         const registry::ArtifactRecord& record);

// Releases a PENDING model whose release was requested when every release check is met (e.g.
// the last signature arrived), deciding `artifact.release` for its owner with gates_passed
// "true" as validation does (the decision is audited with the change, system actor
// "validation"; `trigger` says what happened, for the history's reason). Returns the record,
// released or not (unchanged when a check is missing or the policy denies). Reads and writes
// the registry.
Result<registry::ArtifactRecord> ReleaseWhenReady(registry::Registry& registry,
                                                  const policy::Policy& policy,
                                                  const TenantDirectory& tenants,
                                                  registry::ArtifactRecord record,
                                                  const std::string& request_id,
                                                  const std::string& trigger);

// The decision request for validation acting for the owner of an artifact: the owner tenant's
// roles, purposes and jurisdiction from the tenants file, attribute auth_method "system".
// NOT_FOUND when the owner is not in the tenants file.
Result<policy::DecisionRequest> OwnerDecisionRequest(const TenantDirectory& tenants,
                                                     std::string_view owner_tenant,
                                                     std::string_view action,
                                                     const policy::Artifact& artifact,
                                                     std::map<std::string, std::string> attributes = {});
// The DECISION audit entry of a decision validation made for an owner (system actor
// "validation", no principal; the input names the owner).
registry::AuditEvent SystemDecisionEvent(const policy::DecisionRequest& request,
                                         const policy::Decision& decision,
                                         std::string_view request_id);

}  // namespace sov::gateway
