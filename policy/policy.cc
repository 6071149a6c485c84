#include "policy/policy.h"

#include <algorithm>
#include <array>
#include <set>

#include "common/file.h"
#include "policy/internal/compiled_policy.h"
#include "policy/internal/inputs.h"

namespace sov::policy {

namespace internal {
bool GateApplies(const CompiledPolicy& p, size_t g, const cel::Activation& activation,
                 std::string* error);
}  // namespace internal

namespace {

constexpr std::array<std::string_view, 25> kKnownActions = {
    "artifact.push",     "artifact.fetch",      "artifact.get",        "artifact.list",
    "artifact.lineage",  "artifact.sign",       "artifact.release",    "artifact.revoke",
    "artifact.erase",    "artifact.validate",   "audit.read",          "audit.export",
    "policy.read",       "policy.reload",       "policy.explain",      "identity.whoami",
    "retention.read",    "retention.sweep",     "records.export",      "keys.read",
    "keys.revoke",       "validation.start",    "validation.read",     "validation.cancel",
    "quota.read"};
constexpr std::array<std::string_view, 6> kLawfulBases = {
    "consent", "contract", "legal-obligation", "vital-interests", "public-task",
    "legitimate-interests"};
constexpr std::array<std::string_view, 6> kClassifications = {
    "public", "anonymised", "internal", "pseudonymised", "personal", "special-category"};

JurisdictionSet ToPublic(const internal::CountrySet& set) {
  JurisdictionSet out;
  out.anywhere = set.anywhere;
  if (!set.anywhere) out.codes = set.List();
  return out;
}

}  // namespace

std::span<const std::string_view> KnownActions() { return kKnownActions; }
std::span<const std::string_view> LawfulBases() { return kLawfulBases; }
std::span<const std::string_view> Classifications() { return kClassifications; }

std::string_view EffectName(Effect effect) { return effect == Effect::kAllow ? "allow" : "deny"; }

std::string_view RetentionActionName(RetentionAction action) {
  switch (action) {
    case RetentionAction::kErase: return "erase";
    case RetentionAction::kRevoke: return "revoke";
    default: return "keep";
  }
}

std::string_view LineageActionName(LineageAction action) {
  switch (action) {
    case LineageAction::kFlagRetrain: return "flag-retrain";
    case LineageAction::kNone: return "none";
    default: return "revoke";
  }
}

std::string SourceLocation::ToString() const {
  if (line <= 0) return file;
  std::string out = file + ":" + std::to_string(line);
  if (column > 0) out += ":" + std::to_string(column);
  return out;
}

std::string Diagnostic::ToString() const {
  std::string out = location.ToString() + ": error: " + message;
  if (!hint.empty()) out += " (hint: " + hint + ")";
  return out;
}

std::string_view Decision::reason() const {
  return deciding_rule != nullptr ? std::string_view(deciding_rule->reason) : kDefaultDenyReason;
}

bool JurisdictionSet::Contains(std::string_view code) const {
  return anywhere || std::binary_search(codes.begin(), codes.end(), code);
}

PolicyCheck Policy::Check(std::string_view text, std::string file_name) {
  PolicyCheck result;
  std::shared_ptr<internal::CompiledPolicy> compiled =
      internal::CompilePolicy(text, file_name, &result.diagnostics);
  if (compiled != nullptr && result.diagnostics.empty()) result.policy = Policy(std::move(compiled));
  return result;
}

PolicyCheck Policy::CheckFile(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) {
    PolicyCheck result;
    result.diagnostics.push_back(Diagnostic{SourceLocation{path, 0, 0}, text.status().message(), ""});
    return result;
  }
  return Check(*text, path);
}

Result<Policy> Policy::Load(std::string_view text, std::string file_name) {
  PolicyCheck result = Check(text, std::move(file_name));
  if (result.policy) return std::move(*result.policy);
  std::string message;
  for (const Diagnostic& d : result.diagnostics) {
    if (!message.empty()) message += "\n";
    message += d.ToString();
  }
  return InvalidArgument(message);
}

Result<Policy> Policy::LoadFile(const std::string& path) {
  SOV_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return Load(text, path);
}

const std::string& Policy::digest() const { return impl_->digest; }
const std::string& Policy::name() const { return impl_->name; }
const std::string& Policy::description() const { return impl_->description; }
const std::string& Policy::file_name() const { return impl_->file_name; }
std::vector<const RuleInfo*> Policy::rules() const { return impl_->rule_infos; }

JurisdictionSet Policy::StorageJurisdictions(std::string_view classification) const {
  if (!impl_->has_residency) return JurisdictionSet{true, {}};
  auto it = impl_->residency.find(classification);
  if (it == impl_->residency.end()) return JurisdictionSet{};
  return ToPublic(it->second.store_in);
}

JurisdictionSet Policy::TransferJurisdictions(std::string_view classification) const {
  if (!impl_->has_residency) return JurisdictionSet{true, {}};
  auto it = impl_->residency.find(classification);
  if (it == impl_->residency.end()) return JurisdictionSet{};
  return ToPublic(it->second.transfer_to);
}

Result<JurisdictionSet> Policy::JurisdictionGroup(std::string_view name) const {
  auto it = impl_->jurisdictions.find(name);
  if (it == impl_->jurisdictions.end()) {
    return NotFound("the policy defines no jurisdiction group `" + std::string(name) + "`");
  }
  return ToPublic(it->second);
}

std::string Policy::EffectiveClassification(const Artifact& artifact) const {
  return std::string(internal::EffectiveClassification(*impl_, artifact));
}

bool Policy::StricterThan(std::string_view a, std::string_view b) {
  return internal::ClassificationRank(a) > internal::ClassificationRank(b);
}

Retention Policy::RetentionFor(const Artifact& artifact) const {
  Retention out;
  const std::string_view effective = internal::EffectiveClassification(*impl_, artifact);
  cel::Activation activation;
  cel::Value artifact_value;
  bool built = false;
  for (const internal::RetentionEntry& e : impl_->retention) {
    bool applies = false;
    if (e.when) {
      if (!built) {
        artifact_value = internal::ArtifactValue(artifact, effective);
        activation.BindRef("artifact", &artifact_value);
        built = true;
      }
      Result<bool> r = e.when->EvaluateBool(activation);
      if (!r.ok()) {
        std::string text;
        SourceLocation at = e.when_map.MapMessage(r.status().message(), &text);
        out.errors.push_back(at.ToString() + ": " + text);
        continue;
      }
      applies = *r;
    } else {
      applies = e.classification == effective;
    }
    if (!applies) continue;
    out.matched = true;
    out.location = e.location;
    out.action = e.action;
    if (!e.max_age) {
      out.unlimited = true;
      out.action = RetentionAction::kKeep;
    } else {
      out.max_age = *e.max_age;
      if (artifact.created_at) out.deadline = *artifact.created_at + *e.max_age;
    }
    return out;
  }
  return out;
}

LineageRule Policy::LineageRuleFor(const Artifact& derived, const Artifact& erased) const {
  LineageRule out;
  cel::Activation activation;
  cel::Value artifact_value;
  cel::Value ancestor_value;
  bool built = false;
  for (const internal::LineageRuleEntry& e : impl_->lineage) {
    if (e.when) {
      if (!built) {
        artifact_value =
            internal::ArtifactValue(derived, internal::EffectiveClassification(*impl_, derived));
        ancestor_value =
            internal::ArtifactValue(erased, internal::EffectiveClassification(*impl_, erased));
        activation.BindRef("artifact", &artifact_value);
        activation.BindRef("ancestor", &ancestor_value);
        built = true;
      }
      Result<bool> r = e.when->EvaluateBool(activation);
      if (!r.ok()) {
        std::string text;
        SourceLocation at = e.when_map.MapMessage(r.status().message(), &text);
        out.errors.push_back(at.ToString() + ": " + text);
        continue;
      }
      if (!*r) continue;
    }
    out.action = e.action;
    out.id = e.id;
    out.location = e.location;
    return out;
  }
  out.action = LineageAction::kRevoke;
  out.id = std::string(kDefaultLineageRuleId);
  out.location = impl_->has_lineage ? impl_->lineage_location
                                    : SourceLocation{impl_->file_name, 0, 0};
  return out;
}

std::span<const ReleaseGate> Policy::release_gates() const { return impl_->gates; }

std::vector<const ReleaseGate*> Policy::GatesFor(const Artifact& artifact,
                                                 std::vector<std::string>* errors) const {
  std::vector<const ReleaseGate*> out;
  if (impl_->gates.empty()) return out;
  cel::Value artifact_value =
      internal::ArtifactValue(artifact, internal::EffectiveClassification(*impl_, artifact));
  cel::Activation activation;
  activation.BindRef("artifact", &artifact_value);
  for (size_t g = 0; g < impl_->gates.size(); ++g) {
    std::string error;
    if (internal::GateApplies(*impl_, g, activation, &error)) out.push_back(&impl_->gates[g]);
    if (!error.empty() && errors != nullptr) errors->push_back(error);
  }
  return out;
}

GateResult Policy::EvaluateGate(const ReleaseGate& gate, const Artifact& artifact,
                                const GateEvidence& evidence) const {
  GateResult result;
  result.gates.push_back(gate.id);
  const size_t g = static_cast<size_t>(&gate - impl_->gates.data());
  assert(g < impl_->gates.size() && "the gate must come from this policy");
  const internal::CompiledGate& compiled = impl_->compiled_gates[g];
  const auto fail = [&](std::string what, std::string message, SourceLocation at) {
    result.passed = false;
    result.failures.push_back(GateFailure{gate.id, std::move(what), std::move(message), std::move(at)});
  };
  for (const std::string& benchmark : gate.benchmarks) {
    if (evidence.eval.kind() != cel::Kind::kMap || evidence.eval.FindField(benchmark) == nullptr) {
      std::string message = "the report has no result for benchmark `" + benchmark + "`";
      // The usual cause: a model pushed without a validation dataset has no quality results.
      if (evidence.validation_datasets.empty()) {
        message +=
            " (the model was validated on no dataset: give it one with a validated-on lineage "
            "link, `sovctl push --validated-on NAME@VERSION`, or name one in the gate's "
            "validation_datasets)";
      }
      fail("benchmark " + benchmark, std::move(message), gate.location);
    }
  }
  for (size_t i = 0; i < gate.validation_datasets.size(); ++i) {
    const DatasetRequirement& need = gate.validation_datasets[i];
    bool satisfied = false;
    std::string seen;
    for (const std::string& used : evidence.validation_datasets) {
      const size_t at = used.find('@');
      if (used.substr(0, at) != need.name) continue;
      seen = used;
      if (at == std::string::npos) continue;
      Result<internal::Version> v = internal::ParseVersion(used.substr(at + 1));
      if (v.ok() && compiled.dataset_ranges[i].Matches(*v)) satisfied = true;
    }
    if (!satisfied) {
      fail("dataset " + need.name + "@" + need.version_range,
           seen.empty() ? "the model was not validated on `" + need.name + "`"
                        : "validated on `" + seen + "`, which is outside `" + need.version_range + "`",
           need.location);
    }
  }
  cel::Value artifact_value =
      internal::ArtifactValue(artifact, internal::EffectiveClassification(*impl_, artifact));
  cel::Activation activation;
  activation.BindRef("eval", &evidence.eval);
  activation.BindRef("artifact", &artifact_value);
  for (size_t i = 0; i < compiled.require.size(); ++i) {
    cel::Value v = compiled.require[i].Evaluate(activation);
    if (v.is_true()) continue;
    if (v.is_false()) {
      fail(gate.require[i], "is false", compiled.require_maps[i].start());
    } else if (v.is_error()) {
      fail(gate.require[i], "could not be evaluated: " + v.error().message,
           compiled.require_maps[i].Map(v.error().position.line, v.error().position.column));
    } else {
      fail(gate.require[i], "evaluated to " + std::string(cel::KindName(v.kind())) + ", not bool",
           compiled.require_maps[i].start());
    }
  }
  if (gate.signature_threshold > 0) {
    std::set<std::string> valid;
    for (const std::string& s : evidence.valid_signers) {
      if (std::find(gate.signers.begin(), gate.signers.end(), s) != gate.signers.end()) valid.insert(s);
    }
    if (static_cast<int>(valid.size()) < gate.signature_threshold) {
      std::string have;
      for (const std::string& s : valid) have += (have.empty() ? "" : ", ") + s;
      fail("signatures",
           "needs " + std::to_string(gate.signature_threshold) + " valid signatures from the signers listed, has " +
               std::to_string(valid.size()) + (have.empty() ? "" : " (" + have + ")"),
           gate.signatures_location);
    }
  }
  return result;
}

GateResult Policy::EvaluateGates(const Artifact& artifact, const GateEvidence& evidence) const {
  GateResult all;
  std::vector<std::string> errors;
  for (const ReleaseGate* gate : GatesFor(artifact, &errors)) {
    GateResult r = EvaluateGate(*gate, artifact, evidence);
    all.gates.push_back(gate->id);
    all.passed = all.passed && r.passed;
    for (GateFailure& f : r.failures) all.failures.push_back(std::move(f));
  }
  return all;
}

}  // namespace sov::policy
