#include "policy/explain.h"

#include "policy/internal/compiled_policy.h"

namespace sov::policy {
namespace {

std::string Join(const std::vector<std::string>& items, std::string_view sep = ", ") {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::string Describe(const JurisdictionSet& set) {
  if (set.anywhere) return "anywhere";
  if (set.codes.empty()) return "nowhere";
  return Join(set.codes, " ");
}

std::string FormatAge(std::chrono::seconds s) {
  const int64_t n = s.count();
  if (n % 86400 == 0) return std::to_string(n / 86400) + "d";
  if (n % 3600 == 0) return std::to_string(n / 3600) + "h";
  if (n % 60 == 0) return std::to_string(n / 60) + "m";
  return std::to_string(n) + "s";
}

}  // namespace

std::string FormatDecision(const Decision& d, const DecisionRequest& request) {
  std::string out = "decision: " + std::string(EffectName(d.effect)) + "\n";
  out += "request:  " + request.action + " by tenant " +
         (request.principal.tenant_id.empty() ? "(none)" : request.principal.tenant_id) + "\n";
  if (d.deciding_rule != nullptr) {
    out += "rule:     " + d.deciding_rule->id + " (" + d.deciding_rule->location.ToString() + ")\n";
  } else {
    out += "rule:     none (deny by default)\n";
  }
  out += "reason:   " + std::string(d.reason()) + "\n";
  out += "matched:  " + std::to_string(d.matched.size()) + " rule(s)\n";
  for (const RuleInfo* r : d.matched) {
    out += "  " + std::string(EffectName(r->effect)) + (r->effect == Effect::kAllow ? "  " : "   ") +
           r->id + "  " + r->location.ToString() + "\n";
  }
  if (!d.errors.empty()) {
    out += "errors:   " + std::to_string(d.errors.size()) + " rule(s) could not be evaluated and did not match\n";
    for (const RuleError& e : d.errors) {
      out += "  " + e.rule->id + "  " + e.location.ToString() + ": " + e.message + "\n";
    }
  }
  out += "policy:   " + std::string(d.policy_digest) + "\n";
  return out;
}

std::string FormatDiagnostics(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const Diagnostic& d : diagnostics) out += d.ToString() + "\n";
  return out;
}

std::string SummarizePolicy(const Policy& policy) {
  const internal::CompiledPolicy& p = policy.compiled();
  std::string out = "policy " + p.name + " (" + p.file_name + ") is valid\n";
  out += "digest: " + p.digest + "\n";
  if (!p.jurisdictions.empty()) {
    out += "\njurisdiction groups:\n";
    for (const auto& [name, set] : p.jurisdictions) {
      out += "  " + name + ": " + (set.anywhere ? "anywhere" : Join(set.List(), " ")) + "\n";
    }
  }
  if (p.has_residency) {
    out += "\nresidency (models: " + std::string(p.inherit_strictest ? "strictest classification in lineage" : "declared classification") + "):\n";
    for (std::string_view c : Classifications()) {
      out += "  " + std::string(c) + ": ";
      if (p.residency.find(c) == p.residency.end()) {
        out += "not listed: never stored or transferred\n";
        continue;
      }
      out += "stored in " + Describe(policy.StorageJurisdictions(c)) + "; transferred to " +
             Describe(policy.TransferJurisdictions(c)) + "\n";
    }
  }
  if (!p.retention.empty()) {
    out += "\nretention (first match applies):\n";
    for (const internal::RetentionEntry& e : p.retention) {
      out += "  " + (e.when ? "when " + e.when->source() : "classification " + e.classification) + ": ";
      out += e.max_age ? "at most " + FormatAge(*e.max_age) + ", then " + std::string(RetentionActionName(e.action))
                       : std::string("kept without limit");
      out += "  (" + e.location.ToString() + ")\n";
    }
  }
  if (!p.purposes.empty()) {
    out += "\npurposes:\n";
    for (const auto& [name, purpose] : p.purposes) {
      out += "  " + name + ": lawful basis " + purpose.lawful_basis + "\n";
    }
  }
  if (!p.gates.empty()) {
    out += "\nrelease gates:\n";
    for (const ReleaseGate& g : p.gates) {
      out += "  " + g.id + " (when " + g.applies_when + "): " + std::to_string(g.require.size()) +
             " condition(s)";
      if (!g.benchmarks.empty()) out += ", benchmarks " + Join(g.benchmarks);
      if (g.signature_threshold > 0) {
        out += ", " + std::to_string(g.signature_threshold) + " of " + Join(g.signers) + " must sign";
      }
      out += "\n";
    }
  }
  out += "\nlineage (when an ancestor is erased; first match applies):\n";
  for (const internal::LineageRuleEntry& e : p.lineage) {
    out += "  " + e.id + (e.when ? " (when " + e.when_source + ")" : std::string()) + ": " +
           std::string(LineageActionName(e.action)) + "  (" + e.location.ToString() + ")\n";
  }
  out += "  " + std::string(kDefaultLineageRuleId) + ": revoke  (" +
         (p.has_lineage ? p.lineage_location.ToString() + ", " : std::string()) +
         "when no entry matches)\n";
  out += "\nrules (deny by default; any matching deny overrides every allow):\n";
  for (const internal::CompiledRule& r : p.rules) {
    std::string who = "anyone";
    if (!r.roles.empty()) who = "roles " + Join(r.roles);
    if (!r.tenants.empty()) who += (r.roles.empty() ? "tenants " : " of tenants ") + Join(r.tenants);
    out += "  " + std::string(EffectName(r.info.effect)) + (r.info.effect == Effect::kAllow ? "  " : "   ") +
           Join(r.actions) + " for " + who;
    if (!r.info.condition.empty()) out += " when " + r.info.condition;
    out += "\n      " + r.info.id + " (" + r.info.location.ToString() + "): " + r.info.reason + "\n";
  }
  return out;
}

}  // namespace sov::policy
