// The compiled form of a policy, as the loader (loader.cc) builds it and the decision engine
// (policy/engine.cc) and the registry queries (policy/policy.cc) read it: rules with their
// compiled CEL conditions and native checks, an index from action and principal to candidate
// rules, jurisdiction groups as bitsets, residency, retention, purposes and release gates.
// Internal. Immutable once built; shared by every copy of a Policy, read by many threads.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "policy/cel/program.h"
#include "policy/decision.h"
#include "policy/internal/country_set.h"
#include "policy/internal/scalar_map.h"
#include "policy/internal/text.h"
#include "policy/policy.h"

namespace sov::policy::internal {

// The checks that structured sections compile into; kNone for rules written in `rules:`.
enum class NativeCheck : uint8_t {
  kNone,
  kStoreOutside,          // effective classification == c && storage jurisdiction set && not in store_in
  kTransferOutside,       // effective classification == c && principal (or target) outside transfer_to
  kUnlistedClassification,  // the effective classification has no residency entry
  kNoSharedPurpose,       // artifact and principal purposes are disjoint
  kUndeclaredPurpose,     // an artifact purpose is not declared in `purposes:`
  kLawfulBasisMismatch,   // personal data whose lawful basis is not its purposes' basis
  kLineagePurposes,       // a model purpose not among every lineage dataset's purposes
  kGatesNotPassed,        // a release gate applies and request.gates_passed != "true"
};

// Bits of CompiledRule::needs: which CEL variables a condition names.
inline constexpr uint8_t kNeedsPrincipal = 1, kNeedsArtifact = 2, kNeedsRequest = 4, kNeedsNow = 8;

struct CompiledRule {
  RuleInfo info;
  std::vector<std::string> actions;  // as written; "*" or "prefix.*" wildcards allowed
  std::vector<std::string> roles;    // empty: any role
  std::vector<std::string> tenants;  // empty: any tenant
  std::optional<cel::Program> when;
  ScalarMap when_map;
  uint8_t needs = 0;
  NativeCheck native = NativeCheck::kNone;
  std::string classification;  // kStoreOutside, kTransferOutside
  CountrySet countries;        // kStoreOutside, kTransferOutside
};

// Candidate rules for one action, split by how they select principals. Every rule index
// appears once per role or tenant it names, so a principal's candidates are `any` plus its
// roles' lists plus its tenant's list (deduplicated when a principal holds several roles).
struct ActionIndex {
  std::vector<uint32_t> any;
  std::unordered_map<std::string, std::vector<uint32_t>> by_role;
  std::unordered_map<std::string, std::vector<uint32_t>> by_tenant;
};

struct Residency {
  CountrySet store_in;
  CountrySet transfer_to;
  SourceLocation location;
};

struct RetentionEntry {
  std::string classification;  // or
  std::optional<cel::Program> when;
  ScalarMap when_map;
  std::optional<std::chrono::seconds> max_age;  // nullopt: unlimited
  RetentionAction action = RetentionAction::kKeep;
  SourceLocation location;
};

struct LineageRuleEntry {
  std::string id;
  std::optional<cel::Program> when;  // over `artifact` (derived) and `ancestor` (erased)
  ScalarMap when_map;
  std::string when_source;
  LineageAction action = LineageAction::kRevoke;
  SourceLocation location;
};

struct Purpose {
  std::string lawful_basis;
  std::string description;
  SourceLocation location;
};

struct CompiledGate {
  std::optional<cel::Program> applies_when;
  ScalarMap applies_map;
  std::vector<cel::Program> require;
  std::vector<ScalarMap> require_maps;
  std::vector<VersionRange> dataset_ranges;
};

struct CompiledPolicy {
  std::string file_name;
  std::string digest;
  std::string name;
  std::string description;
  int version = 1;

  std::vector<CompiledRule> rules;
  // The principal and artifact fields (bits as in inputs.h) that any rule condition reads,
  // and the same for the conditions of release gates' applies_when.
  uint32_t principal_fields = 0;
  uint32_t artifact_fields = 0;
  uint32_t gate_artifact_fields = 0;
  std::vector<const RuleInfo*> rule_infos;
  std::unordered_map<std::string, ActionIndex> by_action;
  // Rules with wildcard actions, for actions not known when the policy compiled.
  ActionIndex wildcard;

  std::map<std::string, CountrySet, std::less<>> jurisdictions;
  std::map<std::string, SourceLocation, std::less<>> jurisdiction_locations;
  bool has_residency = false;
  std::map<std::string, Residency, std::less<>> residency;
  bool inherit_strictest = true;
  std::vector<RetentionEntry> retention;
  std::map<std::string, Purpose, std::less<>> purposes;
  bool has_lineage = false;
  SourceLocation lineage_location;  // the `lineage:` key
  std::vector<LineageRuleEntry> lineage;
  std::vector<ReleaseGate> gates;
  std::vector<CompiledGate> compiled_gates;
};

// Compiles policy text, appending every error to `diagnostics`. Returns null when any error
// was found.
std::shared_ptr<CompiledPolicy> CompilePolicy(std::string_view text, const std::string& file_name,
                                              std::vector<Diagnostic>* diagnostics);

// Returns whether `action` matches the pattern `pattern` ("*", "artifact.*", or exact).
bool ActionMatches(std::string_view pattern, std::string_view action);

// Returns the rank of a classification in strictness order (public 0 .. special-category 5);
// unknown names rank above all.
int ClassificationRank(std::string_view classification);

// Returns whether data of `classification` is personal data under GDPR (personal,
// pseudonymised, special-category).
inline bool IsPersonalData(std::string_view classification) {
  return classification == "personal" || classification == "special-category" ||
         classification == "pseudonymised";
}

// Returns the effective classification of `artifact` under `policy`.
std::string_view EffectiveClassification(const CompiledPolicy& policy, const Artifact& artifact);

}  // namespace sov::policy::internal
