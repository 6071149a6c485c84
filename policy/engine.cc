// Policy::Decide: the decision engine. Candidate rules come from the index built at compile
// time (by action, then by the principal's roles and tenant), so the work per decision does
// not grow with the number of rules that cannot apply. Each candidate is checked in order of
// cost: principal, native check (structured sections), then its CEL condition, whose inputs
// are built on first use and only for the variables it names.
#include <algorithm>

#include "policy/internal/compiled_policy.h"
#include "policy/internal/inputs.h"
#include "policy/policy.h"

namespace sov::policy {
namespace {

using internal::CompiledPolicy;
using internal::CompiledRule;
using internal::NativeCheck;

bool Contains(const std::vector<std::string>& list, std::string_view item) {
  for (const std::string& s : list) {
    if (s == item) return true;
  }
  return false;
}

bool PrincipalMatches(const CompiledRule& rule, const Principal& principal) {
  // Allow rules need an authenticated principal; deny rules bind everyone.
  if (rule.info.effect == Effect::kAllow && principal.tenant_id.empty()) return false;
  if (!rule.tenants.empty() && !Contains(rule.tenants, principal.tenant_id)) return false;
  if (!rule.roles.empty()) {
    for (const std::string& role : principal.roles) {
      if (Contains(rule.roles, role)) return true;
    }
    return false;
  }
  return true;
}

// A candidate list that lives on the stack for the usual handful of rules.
class Candidates {
 public:
  void Append(const std::vector<uint32_t>& ids) {
    if (ids.empty()) return;
    ++lists_;
    if (heap_.empty() && size_ + ids.size() <= kInline) {
      std::copy(ids.begin(), ids.end(), inline_ + size_);
      size_ += ids.size();
      return;
    }
    if (heap_.empty()) heap_.assign(inline_, inline_ + size_);
    heap_.insert(heap_.end(), ids.begin(), ids.end());
    size_ = heap_.size();
  }
  // Sorts into file order and drops duplicates (a rule listed under two of the roles held).
  void Finish() {
    if (lists_ <= 1) return;
    uint32_t* b = data();
    std::sort(b, b + size_);
    size_ = static_cast<size_t>(std::unique(b, b + size_) - b);
    if (!heap_.empty()) heap_.resize(size_);
  }
  uint32_t* data() { return heap_.empty() ? inline_ : heap_.data(); }
  size_t size() const { return size_; }

 private:
  static constexpr size_t kInline = 64;
  uint32_t inline_[kInline];
  std::vector<uint32_t> heap_;
  size_t size_ = 0;
  int lists_ = 0;
};

internal::DecisionInputs& ThreadInputs() {
  thread_local internal::DecisionInputs inputs;
  return inputs;
}

}  // namespace

namespace internal {

// Returns whether gate `g` applies; a condition that fails to evaluate applies (stricter).
bool GateApplies(const CompiledPolicy& p, size_t g, const cel::Activation& activation,
                 std::string* error) {
  const CompiledGate& gate = p.compiled_gates[g];
  if (!gate.applies_when) return true;
  Result<bool> r = gate.applies_when->EvaluateBool(activation);
  if (r.ok()) return *r;
  if (error != nullptr) {
    std::string text;
    SourceLocation at = gate.applies_map.MapMessage(r.status().message(), &text);
    *error = at.ToString() + ": release gate `" + p.gates[g].id + "`: " + text;
  }
  return true;
}

}  // namespace internal

namespace {

bool NativeMatches(const CompiledPolicy& p, const CompiledRule& rule, const DecisionRequest& req,
                   std::string_view effective, internal::DecisionInputs& inputs) {
  const Artifact& a = req.artifact;
  switch (rule.native) {
    case NativeCheck::kNone: return true;
    case NativeCheck::kStoreOutside:
      return effective == rule.classification && !a.storage_jurisdiction.empty() &&
             !rule.countries.Contains(a.storage_jurisdiction);
    case NativeCheck::kTransferOutside: {
      if (effective != rule.classification) return false;
      if (!rule.countries.Contains(req.principal.jurisdiction)) return true;
      auto target = req.attributes.find("target_jurisdiction");
      return target != req.attributes.end() && !rule.countries.Contains(target->second);
    }
    case NativeCheck::kUnlistedClassification:
      return p.residency.find(effective) == p.residency.end();
    case NativeCheck::kNoSharedPurpose:
      for (const std::string& purpose : a.purposes) {
        if (Contains(req.principal.purposes, purpose)) return false;
      }
      return true;
    case NativeCheck::kUndeclaredPurpose:
      for (const std::string& purpose : a.purposes) {
        if (p.purposes.find(purpose) == p.purposes.end()) return true;
      }
      return false;
    case NativeCheck::kLawfulBasisMismatch:
      if (!internal::IsPersonalData(effective)) return false;
      if (a.purposes.empty()) return true;
      for (const std::string& purpose : a.purposes) {
        auto it = p.purposes.find(purpose);
        if (it != p.purposes.end() && it->second.lawful_basis != a.lawful_basis) return true;
      }
      return false;
    case NativeCheck::kLineagePurposes:
      if (a.kind != "model") return false;
      for (const LineageEntry& e : a.lineage) {
        if (e.kind != "dataset") continue;
        for (const std::string& purpose : a.purposes) {
          if (!Contains(e.purposes, purpose)) return true;
        }
      }
      return false;
    case NativeCheck::kGatesNotPassed: {
      auto passed = req.attributes.find("gates_passed");
      if (passed != req.attributes.end() && passed->second == "true") return false;
      const cel::Activation& activation = inputs.Prepare(internal::kNeedsArtifact);
      for (size_t g = 0; g < p.gates.size(); ++g) {
        if (internal::GateApplies(p, g, activation, nullptr)) return true;
      }
      return false;
    }
  }
  return false;
}

}  // namespace

Decision Policy::Decide(const DecisionRequest& req) const {
  const CompiledPolicy& p = *impl_;
  Decision d;
  d.policy_digest = p.digest;
  d.policy = impl_;

  const internal::ActionIndex* index = &p.wildcard;
  bool check_action = true;
  if (auto it = p.by_action.find(req.action); it != p.by_action.end()) {
    index = &it->second;
    check_action = false;
  }
  Candidates candidates;
  candidates.Append(index->any);
  if (!index->by_role.empty()) {
    for (const std::string& role : req.principal.roles) {
      if (auto it = index->by_role.find(role); it != index->by_role.end()) candidates.Append(it->second);
    }
  }
  if (!index->by_tenant.empty()) {
    if (auto it = index->by_tenant.find(req.principal.tenant_id); it != index->by_tenant.end()) {
      candidates.Append(it->second);
    }
  }
  candidates.Finish();

  const std::string_view effective = internal::EffectiveClassification(p, req.artifact);
  internal::DecisionInputs& inputs = ThreadInputs();
  inputs.Reset(&req, effective, p.principal_fields, p.artifact_fields | p.gate_artifact_fields);
  const RuleInfo* first_deny = nullptr;
  const RuleInfo* first_allow = nullptr;
  const uint32_t* ids = candidates.data();
  for (size_t k = 0; k < candidates.size(); ++k) {
    const CompiledRule& rule = p.rules[ids[k]];
    if (check_action) {
      bool match = false;
      for (const std::string& a : rule.actions) match = match || internal::ActionMatches(a, req.action);
      if (!match) continue;
    }
    if (!PrincipalMatches(rule, req.principal)) continue;
    if (!NativeMatches(p, rule, req, effective, inputs)) continue;
    if (rule.when) {
      cel::Value v = rule.when->Evaluate(inputs.Prepare(rule.needs));
      if (!v.is_bool()) {
        RuleError error;
        error.rule = &rule.info;
        if (v.is_error()) {
          error.code = v.error().code;
          error.location = rule.when_map.Map(v.error().position.line, v.error().position.column);
          error.message = v.error().message;
        } else {
          error.location = rule.when_map.start();
          error.message = "condition evaluated to " + std::string(cel::KindName(v.kind())) + ", not bool";
        }
        d.errors.push_back(std::move(error));
        continue;
      }
      if (!v.bool_value()) continue;
    }
    d.matched.push_back(&rule.info);
    if (rule.info.effect == Effect::kDeny) {
      if (first_deny == nullptr) first_deny = &rule.info;
    } else if (first_allow == nullptr) {
      first_allow = &rule.info;
    }
  }
  inputs.Clear();
  if (first_deny != nullptr) {
    d.effect = Effect::kDeny;
    d.deciding_rule = first_deny;
  } else if (first_allow != nullptr) {
    d.effect = Effect::kAllow;
    d.deciding_rule = first_allow;
  }
  return d;
}

}  // namespace sov::policy
