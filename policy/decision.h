// The inputs and the output of one policy decision, as plain structs. A DecisionRequest says who
// (Principal) wants to do what (action) to which artifact (Artifact), with the request's own
// attributes and the time; Policy::Decide (policy/policy.h) answers with a Decision: allow or
// deny, the rule that decided and where it is written, its reason, every rule that matched,
// every rule whose condition failed to evaluate, and the digest of the policy in force. The
// gateway and the registry fill a DecisionRequest from their own records; nothing here knows
// gRPC or SQLite. Values are independent of each other; a Decision keeps the policy that made
// it alive, so its rule pointers stay valid however long it is kept. Read a Decision from any
// number of threads; don't mutate one that others read.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time.h"

namespace sov::policy {

enum class Effect : uint8_t { kDeny, kAllow };

// Returns "allow" or "deny".
std::string_view EffectName(Effect effect);

// A place in a policy (or cases) file: 1-based line and column (code points). line 0: unknown.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
  // Returns "FILE:LINE:COL", "FILE:LINE" when the column is unknown, or "FILE".
  std::string ToString() const;
  friend bool operator==(const SourceLocation&, const SourceLocation&) = default;
};

// The calling tenant, as the tenants file describes it (never as the request claims).
struct Principal {
  std::string tenant_id;
  std::vector<std::string> roles;
  std::vector<std::string> purposes;
  std::string jurisdiction;  // ISO 3166-1 alpha-2, e.g. "DE"
};

// One dataset (or model) an artifact was trained or validated on.
struct LineageEntry {
  std::string kind = "dataset";
  std::string name;
  std::string version;
  std::string classification;
  std::vector<std::string> purposes;
};

// The artifact a request is about; empty fields for actions that concern none.
struct Artifact {
  std::string kind;  // dataset | model | report
  std::string name;
  std::string version;
  std::string owner_tenant;
  // The declared classification: public, internal, personal, special-category, pseudonymised,
  // anonymised. Rules see the effective one (Policy::EffectiveClassification).
  std::string classification;
  std::vector<std::string> purposes;
  std::string lawful_basis;  // consent, contract, legal-obligation, vital-interests, ...
  std::string stage;         // pending, validating, released, rejected, revoked, erased
  std::map<std::string, std::string> labels;
  std::string storage_location;      // e.g. "eu-de-1"; empty when not chosen yet
  std::string storage_jurisdiction;  // e.g. "DE"; empty when not chosen yet
  std::vector<LineageEntry> lineage;
  std::optional<SystemTime> created_at;
  int64_t size_bytes = 0;
};

struct DecisionRequest {
  std::string action;  // e.g. "artifact.fetch"
  Principal principal;
  Artifact artifact;
  // Attributes of the request itself, e.g. purpose, target_jurisdiction, gates_passed.
  std::map<std::string, std::string> attributes;
  SystemTime now;
};

// A rule of a compiled policy: written in `rules:`, or generated from a structured section
// (then `section` names it, e.g. "residency", and `location` is the YAML node it came from).
struct RuleInfo {
  std::string id;
  Effect effect = Effect::kDeny;
  SourceLocation location;
  std::string reason;
  std::string section;  // "rules", "residency", "purposes", "release_gates"
  std::string condition;  // the CEL `when:` text, or a description of a generated check
};

// A rule whose condition failed to evaluate: it did not match, and this says why.
struct RuleError {
  const RuleInfo* rule = nullptr;
  StatusCode code = StatusCode::kInvalidArgument;
  std::string message;
  SourceLocation location;  // of the failing sub-expression inside the policy file
};

struct Decision {
  Effect effect = Effect::kDeny;
  // The rule that decided: the first matching deny, else the first matching allow (in file
  // order); nullptr when nothing matched and the default deny applies.
  const RuleInfo* deciding_rule = nullptr;
  // Every rule that matched, in file order.
  std::vector<const RuleInfo*> matched;
  std::vector<RuleError> errors;
  // "sha256:<hex>" of the policy file in force.
  std::string_view policy_digest;
  // Keeps the policy that made this decision (and so the pointers above) alive.
  std::shared_ptr<const void> policy;

  bool allowed() const { return effect == Effect::kAllow; }
  // Returns the deciding rule's reason, or the default-deny explanation.
  std::string_view reason() const;
};

// The default-deny reason.
inline constexpr std::string_view kDefaultDenyReason =
    "no rule allows this request (deny by default)";

}  // namespace sov::policy
