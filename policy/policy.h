// A compiled policy: the YAML file a compliance officer writes (docs/policy.md is its
// reference), loaded, checked and compiled once, then asked many times. Policy::Decide answers
// a DecisionRequest (policy/decision.h) with deny-by-default, deny-overrides-allow semantics;
// the structured sections (residency, purposes, release gates) compile into rules of the same
// engine, so every decision is explained the same way. The other queries serve the registry:
// where an artifact of a classification may be stored, a model's effective classification,
// an artifact's retention deadline, and whether a model passes its release gates.
//
// Loading never throws. A file that does not load yields every error found, each with
// file:line:column and, where one helps, a hint. A Policy is immutable and cheap to copy (it
// shares its compiled form); any number of threads may call its const methods at once.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "policy/cel/value.h"
#include "policy/decision.h"

namespace sov::policy {

namespace internal {
struct CompiledPolicy;
}  // namespace internal

// One error found while loading a policy (or a cases file).
struct Diagnostic {
  SourceLocation location;
  std::string message;
  std::string hint;  // e.g. "did you mean `transfer_to`?"; may be empty
  // Returns "FILE:LINE:COL: error: MESSAGE (hint: HINT)".
  std::string ToString() const;
};

// The jurisdictions a classification may be stored in or transferred to.
struct JurisdictionSet {
  bool anywhere = false;            // "*": every jurisdiction, known or not
  std::vector<std::string> codes;   // sorted ISO 3166-1 alpha-2 codes (empty when anywhere)
  // Returns whether `code` is in the set.
  bool Contains(std::string_view code) const;
};

enum class RetentionAction : uint8_t { kKeep, kErase, kRevoke };
std::string_view RetentionActionName(RetentionAction action);  // "keep", "erase", "revoke"

// What the retention section says about one artifact.
struct Retention {
  bool matched = false;  // false: no entry applies; the artifact has no deadline
  bool unlimited = false;
  std::chrono::seconds max_age{0};
  // created_at + max_age; absent when unlimited, unmatched, or created_at unknown.
  std::optional<SystemTime> deadline;
  RetentionAction action = RetentionAction::kKeep;
  SourceLocation location;  // the retention entry that applied
  // Conditions (`when:`) that failed to evaluate; such an entry is skipped.
  std::vector<std::string> errors;
};

// What erasing an artifact does to an artifact derived from it (the `lineage:` section).
enum class LineageAction : uint8_t { kRevoke, kFlagRetrain, kNone };
// "revoke", "flag-retrain", "none".
std::string_view LineageActionName(LineageAction action);

// The id of the rule that applies when no `lineage:` entry matches (or there is no section).
inline constexpr std::string_view kDefaultLineageRuleId = "lineage.default";

// The lineage rule that applies to one derived artifact when one of its ancestors is erased.
struct LineageRule {
  LineageAction action = LineageAction::kRevoke;
  std::string id;           // the entry's id, or kDefaultLineageRuleId
  SourceLocation location;  // the entry; for the default, the `lineage:` key or the file
  // Conditions (`when:`) that failed to evaluate, "FILE:LINE:COL: message"; such an entry is
  // skipped.
  std::vector<std::string> errors;
};

// A validation dataset a release gate names: "credit-holdout@^2.0.0".
struct DatasetRequirement {
  std::string name;
  std::string version_range;  // "" or "*": any version
  SourceLocation location;
};

// A release gate as the policy states it. The compiled conditions live inside the Policy.
struct ReleaseGate {
  std::string id;
  SourceLocation location;
  std::string applies_when;  // CEL over `artifact`
  std::vector<std::string> benchmarks;
  std::vector<DatasetRequirement> validation_datasets;
  std::vector<std::string> require;  // CEL over `eval` and `artifact`
  std::vector<SourceLocation> require_locations;
  int signature_threshold = 0;
  std::vector<std::string> signers;
  SourceLocation signatures_location;
};

// What a validation run produced, for gate evaluation.
struct GateEvidence {
  // The evaluation report: a map with one entry per benchmark, e.g.
  // {"accuracy": 0.97, "fairness": {"max_group_gap": 0.03}}. It is `eval` in conditions.
  cel::Value eval;
  // Datasets the run validated on, as "name@version".
  std::vector<std::string> validation_datasets;
  // Names of the signers whose signatures over the report or manifest verified.
  std::vector<std::string> valid_signers;
};

// One reason a gate failed.
struct GateFailure {
  std::string gate_id;
  std::string what;     // the condition text, benchmark, dataset or "signatures"
  std::string message;  // why it failed
  SourceLocation location;
};

struct GateResult {
  bool passed = true;
  std::vector<std::string> gates;  // ids of the gates evaluated
  std::vector<GateFailure> failures;
};

struct PolicyCheck;

class Policy {
 public:
  // Reads and compiles the policy file at `path`. On failure returns InvalidArgument whose
  // message lists every error, one per line ("FILE:LINE:COL: error: ..."), or the read error.
  static Result<Policy> LoadFile(const std::string& path);
  // Compiles policy text; `file_name` names it in errors and rule locations.
  static Result<Policy> Load(std::string_view text, std::string file_name);

  // Like Load, but returns every diagnostic separately (empty when the policy compiled).
  static PolicyCheck Check(std::string_view text, std::string file_name);
  // Check of a file; a read failure becomes one diagnostic at the file.
  static PolicyCheck CheckFile(const std::string& path);

  // Decides `request`. Never fails: a rule whose condition errors does not match, and the
  // error is listed in the decision.
  Decision Decide(const DecisionRequest& request) const;

  // The policy's identity: "sha256:<hex>" of the file's bytes, its `name:` and file name.
  const std::string& digest() const;
  const std::string& name() const;
  const std::string& description() const;
  const std::string& file_name() const;
  // Every rule, written and generated, in the order decisions list them.
  std::vector<const RuleInfo*> rules() const;

  // The jurisdictions where data of `classification` may be stored, or to which it may be
  // transferred. Anywhere when the policy has no residency section; nowhere when it has one
  // that does not list `classification`.
  JurisdictionSet StorageJurisdictions(std::string_view classification) const;
  JurisdictionSet TransferJurisdictions(std::string_view classification) const;
  // The members of a named jurisdiction group; NotFound when the policy defines none.
  Result<JurisdictionSet> JurisdictionGroup(std::string_view name) const;
  // The classification rules apply to: for a model with `inherit_classification: strictest`
  // (the default), the strictest of its own and its lineage's classifications; else its own.
  std::string EffectiveClassification(const Artifact& artifact) const;
  // Returns whether `a` is stricter than `b` in the policy's order (public < anonymised <
  // internal < pseudonymised < personal < special-category); unknown names are strictest.
  static bool StricterThan(std::string_view a, std::string_view b);

  // The first retention entry (file order) that applies to `artifact`, and its deadline.
  Retention RetentionFor(const Artifact& artifact) const;

  // The first `lineage:` entry (file order) whose `when:` holds for `derived` (CEL variable
  // `artifact`) and the erased ancestor `erased` (`ancestor`); an entry without `when:` always
  // matches. With no section or no match: `revoke` under kDefaultLineageRuleId (the strict
  // reading of GDPR Art. 17 for models trained on erased data).
  LineageRule LineageRuleFor(const Artifact& derived, const Artifact& erased) const;

  // The release gates declared in the policy, in file order.
  std::span<const ReleaseGate> release_gates() const;
  // The gates whose `applies_when` holds for `artifact`. A condition that errors counts as
  // applying (the stricter reading); its error is appended to `errors` when given.
  std::vector<const ReleaseGate*> GatesFor(const Artifact& artifact,
                                           std::vector<std::string>* errors = nullptr) const;
  // Evaluates one gate against `evidence`: every benchmark present in the report, every
  // validation dataset satisfied, every `require` condition true, enough valid signers. Lists
  // every failure with the file:line of what failed. `gate` must come from this policy.
  GateResult EvaluateGate(const ReleaseGate& gate, const Artifact& artifact,
                          const GateEvidence& evidence) const;
  // Evaluates every gate that applies to `artifact`; passes when all pass (or none applies).
  GateResult EvaluateGates(const Artifact& artifact, const GateEvidence& evidence) const;

  // The compiled form; for the policy's own tools (explain, summary).
  const internal::CompiledPolicy& compiled() const { return *impl_; }

 private:
  explicit Policy(std::shared_ptr<const internal::CompiledPolicy> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const internal::CompiledPolicy> impl_;
};

// What Policy::Check found.
struct PolicyCheck {
  std::vector<Diagnostic> diagnostics;
  std::optional<Policy> policy;  // set exactly when diagnostics is empty
};

// The actions rules may name (a trailing wildcard like "artifact.*" covers a prefix).
std::span<const std::string_view> KnownActions();

// The lawful bases of GDPR Art. 6(1): consent, contract, legal-obligation, vital-interests,
// public-task, legitimate-interests.
std::span<const std::string_view> LawfulBases();

// The data classifications, loosest first.
std::span<const std::string_view> Classifications();

}  // namespace sov::policy
