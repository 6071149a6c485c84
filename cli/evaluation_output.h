// What sovctl checks and prints about validation: the signed evaluation report (a DSSE envelope
// of an in-toto Statement whose subject is the model and whose predicate type is the evaluation
// predicate, signed by the registry key), verified offline against the pinned registry keys
// before anything of it is shown; the report's summary (per dataset: accuracy, macro-F1,
// samples; each release gate condition with its outcome, what was observed and its FILE:LINE);
// validation jobs as table rows and `key: value` lines. `sovctl status` and `sovctl eval
// report|jobs|start` print through these. Pure functions: thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/manifest_check.h"
#include "cli/output.h"
#include "crypto/ed25519.h"
#include "crypto/intoto.h"
#include "sov/v1/evaluation.pb.h"

namespace sov::cli {

inline constexpr std::string_view kEvaluationPredicateType =
    "https://sovereign.dev/attestations/evaluation/v1";

// The outcome of the report checks.
struct ReportVerification {
  std::vector<ArtifactCheck> checks;
  std::vector<std::string> registry_key_ids;  // registry keys whose signature verified
  std::optional<crypto::Statement> statement;  // once the signature verified
  // Returns true when every check passed.
  bool ok() const;
  // Returns "CHECK: DETAIL" of the first failed check; empty when all passed.
  std::string FirstFailure() const;
};

// Checks a GetReport response with the trusted registry keys: "registry signature" (a trusted
// key signed the envelope, payload type in-toto), "statement" (the evaluation predicate type,
// a predicate object), and "subject" (a subject is `model_digest`, "sha256:<hex>"; when
// empty, the digest of the model the signed predicate names). Checks after a failed signature
// are not run: an unsigned payload says nothing.
ReportVerification VerifyReport(const v1::GetReportResponse& response,
                                std::string_view model_digest,
                                const std::vector<crypto::Ed25519PublicKey>& registry_keys);

// Converts one entry of a report predicate's or a job's "gates" ({gate_id, condition,
// location "FILE:LINE[:COL]", outcome passed|failed|error, observed, dataset, error}).
v1::GateResult GateFromJson(const nlohmann::json& gate);

// Returns one gate result as a line: "FAILED strict: eval.accuracy >= 0.99 (observed
// eval.accuracy = 0.9689) at policy.yaml:31", with the error when there is one.
std::string GateLine(const v1::GateResult& gate);

// Returns a signed report's summary, read from its verified predicate, as `key: value` lines:
// report, model, job (id, attempt, backend), policy, created, one "dataset" line per dataset
// (name@version: accuracy, macro-F1, samples), one "gate" line per condition (GateLine), and
// "result" (gates passed or failed).
KeyValues ReportSummary(const v1::ArtifactRef& report, const nlohmann::json& predicate);

// The same as JSON: {"report", "model", "job", "policy_digest", "created_at", "datasets":
// [{"dataset", "samples", "accuracy", "macro_f1"}], "gates": [<GateResult in proto3 JSON>],
// "passed"}.
nlohmann::ordered_json ReportSummaryJson(const v1::ArtifactRef& report,
                                         const nlohmann::json& predicate);

// The `sovctl eval jobs` table: JOB MODEL STATE ATTEMPT BACKEND OUTCOME CREATED.
std::vector<std::string> JobTableHeader();
std::vector<std::string> JobTableRow(const v1::ValidationJob& job);

// Returns a job's `key: value` lines: job, model, state (with phase and progress while
// running), attempt, backend, worker, report, outcome, error, created, finished.
KeyValues JobDetails(const v1::ValidationJob& job);

// Returns "succeeded (attempt 2, cpu) -> rejected", the one-line state of a job.
std::string JobStateText(const v1::ValidationJob& job);

}  // namespace sov::cli
