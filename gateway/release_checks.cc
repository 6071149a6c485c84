#include "gateway/release_checks.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <utility>

#include <google/protobuf/util/time_util.h>

#include "crypto/dsse.h"
#include "crypto/intoto.h"
#include "gateway/call_guard.h"
#include "gateway/internal/artifact_access.h"
#include "gateway/log.h"

namespace sov::gateway {
namespace {

using nlohmann::json;
using registry::ArtifactRecord;
using registry::Stage;

// A policy location as callers see it: the file's base name, so that nothing discloses the
// server's directory layout.
std::string ShownLocation(const policy::SourceLocation& location) {
  policy::SourceLocation shown = location;
  shown.file = std::filesystem::path(location.file).filename().string();
  if (shown.line > 0) shown.column = 0;  // FILE:LINE reads best in reasons
  return shown.ToString();
}

void LocationToProto(const policy::SourceLocation& location, sov::v1::SourceLocation* out) {
  out->set_file(std::filesystem::path(location.file).filename().string());
  out->set_line(location.line);
  out->set_column(location.column);
}

std::string Ref(const std::string& name, const std::string& version) { return name + "@" + version; }

std::string FormatNumber(const json& value) {
  if (value.is_number_float()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", value.get<double>());
    return buf;
  }
  return value.dump();
}

// Reads a required number of a gpu-eval report.
Result<double> Number(const json& object, std::string_view group, std::string_view key) {
  auto it = object.find(std::string(key));
  if (it == object.end() || !it->is_number()) {
    return InvalidArgument("evaluation report: " + std::string(group) + "." + std::string(key) +
                           " is missing or not a number");
  }
  return it->get<double>();
}

Result<int64_t> Integer(const json& object, std::string_view group, std::string_view key) {
  auto it = object.find(std::string(key));
  if (it == object.end() || !it->is_number_integer()) {
    return InvalidArgument("evaluation report: " + std::string(group) + "." + std::string(key) +
                           " is missing or not an integer");
  }
  return it->get<int64_t>();
}

Result<const json*> Group(const json& report, std::string_view name) {
  auto it = report.find(std::string(name));
  if (it == report.end() || !it->is_object()) {
    return InvalidArgument("evaluation report: `" + std::string(name) +
                           "` is missing or not an object");
  }
  return &*it;
}

// Metrics where higher is better; every other number is worse when higher. Booleans combine
// with AND (deterministic).
bool HigherIsBetter(std::string_view key) {
  static const std::set<std::string, std::less<>> kHigher = {
      "accuracy",       "macro_f1",       "min_class_recall", "min_class_f1",
      "noise_accuracy", "throughput",     "samples_per_second", "min_group_accuracy"};
  return kHigher.contains(key);
}

// The worse of two values of the same key.
json Worse(std::string_view key, const json& a, const json& b) {
  if (a.is_object() && b.is_object()) {
    json out = a;
    for (auto it = b.begin(); it != b.end(); ++it) {
      auto mine = out.find(it.key());
      out[it.key()] = mine == out.end() ? *it : Worse(it.key(), *mine, *it);
    }
    return out;
  }
  if (a.is_boolean() && b.is_boolean()) return a.get<bool>() && b.get<bool>();
  if (a.is_number() && b.is_number()) {
    const bool a_worse = HigherIsBetter(key) ? a.get<double>() < b.get<double>()
                                             : a.get<double>() > b.get<double>();
    return a_worse ? a : b;
  }
  return a;
}

// Looks up a dotted path ("fairness.max_group_gap") in the eval map.
const json* Lookup(const json& eval, std::string_view path) {
  const json* at = &eval;
  while (!path.empty()) {
    size_t dot = path.find('.');
    std::string key(path.substr(0, dot));
    if (!at->is_object()) return nullptr;
    auto it = at->find(key);
    if (it == at->end()) return nullptr;
    at = &*it;
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  return at;
}

// "eval.accuracy = 0.968889, eval.fairness.max_group_gap = 0.02" for the eval paths a
// condition reads.
std::string Observed(const std::string& condition, const json& eval) {
  static const std::regex kPath(R"(\beval((?:\.[A-Za-z_][A-Za-z0-9_]*)+))");
  std::string out;
  std::set<std::string> seen;
  for (auto it = std::sregex_iterator(condition.begin(), condition.end(), kPath);
       it != std::sregex_iterator(); ++it) {
    std::string path = (*it)[1].str().substr(1);
    if (!seen.insert(path).second) continue;
    const json* value = Lookup(eval, path);
    std::string shown = value == nullptr ? "(absent)"
                        : value->is_number() ? FormatNumber(*value)
                        : value->is_object() ? "{...}"
                                             : value->dump();
    out += (out.empty() ? "" : ", ") + ("eval." + path) + " = " + shown;
  }
  return out;
}

sov::v1::ReleaseCheck* AddCheck(sov::v1::ReleaseStatus& status, sov::v1::ReleaseCheckKind kind,
                                sov::v1::ReleaseCheckState state, std::string condition,
                                const policy::SourceLocation* location, std::string detail) {
  sov::v1::ReleaseCheck* check = status.add_checks();
  check->set_kind(kind);
  check->set_state(state);
  check->set_condition(std::move(condition));
  if (location != nullptr && !location->file.empty()) {
    LocationToProto(*location, check->mutable_location());
  }
  check->set_detail(std::move(detail));
  return check;
}

std::string SignersText(const policy::ReleaseGate& gate) {
  std::string names;
  for (const std::string& s : gate.signers) names += (names.empty() ? "" : ", ") + s;
  return std::to_string(gate.signature_threshold) + " signatures from signers [" + names + "]";
}

// The distinct signers listed by `gate` among `valid`.
std::vector<std::string> GateSigners(const policy::ReleaseGate& gate,
                                     const std::vector<std::string>& valid) {
  std::vector<std::string> out;
  for (const std::string& s : valid) {
    if (std::find(gate.signers.begin(), gate.signers.end(), s) != gate.signers.end()) {
      out.push_back(s);
    }
  }
  return out;
}

std::string SignatureDetail(const policy::ReleaseGate& gate, const std::vector<std::string>& have) {
  std::string names;
  for (const std::string& s : have) names += (names.empty() ? "" : ", ") + s;
  return std::to_string(have.size()) + " of " + std::to_string(gate.signature_threshold) +
         " signatures" + (names.empty() ? "" : " (" + names + ")");
}

}  // namespace

std::string ReportName(std::string_view model_name) {
  return std::string(model_name) + "/" + std::string(kReportNameSegment);
}

std::string ReportVersion(std::string_view model_version, int64_t job_seq) {
  const bool prerelease = model_version.find('-') != std::string_view::npos;
  return std::string(model_version) + (prerelease ? ".eval." : "-eval.") + std::to_string(job_seq);
}

bool IsReservedReportName(std::string_view name) {
  size_t slash = name.rfind('/');
  std::string_view last = slash == std::string_view::npos ? name : name.substr(slash + 1);
  return last == kReportNameSegment;
}

Result<json> DatasetEval(const json& report) {
  if (!report.is_object()) return InvalidArgument("evaluation report: not a JSON object");
  SOV_ASSIGN_OR_RETURN(const json* quality, Group(report, "quality"));
  SOV_ASSIGN_OR_RETURN(double accuracy, Number(*quality, "quality", "accuracy"));
  SOV_ASSIGN_OR_RETURN(double macro_f1, Number(*quality, "quality", "macroF1"));
  SOV_ASSIGN_OR_RETURN(double log_loss, Number(*quality, "quality", "logLoss"));
  json eval = json::object();
  eval["accuracy"] = accuracy;
  eval["macro_f1"] = macro_f1;
  eval["log_loss"] = log_loss;
  json q = {{"accuracy", accuracy}, {"macro_f1", macro_f1}, {"log_loss", log_loss}};
  std::optional<double> min_recall, min_f1;
  if (auto classes = quality->find("perClass"); classes != quality->end() && classes->is_array()) {
    for (const json& c : *classes) {
      if (auto r = c.find("recall"); r != c.end() && r->is_number()) {
        min_recall = std::min(min_recall.value_or(1.0), r->get<double>());
      }
      if (auto f = c.find("f1"); f != c.end() && f->is_number()) {
        min_f1 = std::min(min_f1.value_or(1.0), f->get<double>());
      }
    }
    q["classes"] = static_cast<int64_t>(classes->size());
  }
  if (min_recall) q["min_class_recall"] = *min_recall;
  if (min_f1) q["min_class_f1"] = *min_f1;
  eval["quality"] = std::move(q);

  // Fairness only when the dataset has groups: a gate that asks for it on data without groups
  // fails as a missing benchmark instead of passing on zeros.
  if (auto f = report.find("fairness"); f != report.end() && f->is_object()) {
    SOV_ASSIGN_OR_RETURN(double gap, Number(*f, "fairness", "accuracyGap"));
    SOV_ASSIGN_OR_RETURN(double parity, Number(*f, "fairness", "demographicParityDifference"));
    json fairness = {{"max_group_gap", gap},
                     {"accuracy_gap", gap},
                     {"demographic_parity_difference", parity}};
    if (auto eo = f->find("equalOpportunityDifference"); eo != f->end() && eo->is_number()) {
      fairness["equal_opportunity_difference"] = eo->get<double>();
    }
    if (auto groups = f->find("perGroup"); groups != f->end() && groups->is_array()) {
      fairness["groups"] = static_cast<int64_t>(groups->size());
      std::optional<double> min_accuracy;
      for (const json& g : *groups) {
        if (auto a = g.find("accuracy"); a != g.end() && a->is_number()) {
          min_accuracy = std::min(min_accuracy.value_or(1.0), a->get<double>());
        }
      }
      if (min_accuracy) fairness["min_group_accuracy"] = *min_accuracy;
    }
    eval["fairness"] = std::move(fairness);
  }

  SOV_ASSIGN_OR_RETURN(const json* robustness, Group(report, "robustness"));
  SOV_ASSIGN_OR_RETURN(double noisy, Number(*robustness, "robustness", "noisyAccuracy"));
  SOV_ASSIGN_OR_RETURN(double stddev, Number(*robustness, "robustness", "noiseStddev"));
  SOV_ASSIGN_OR_RETURN(int64_t bad_weights, Integer(*robustness, "robustness", "nonFiniteWeights"));
  SOV_ASSIGN_OR_RETURN(int64_t bad_rows, Integer(*robustness, "robustness", "nonFiniteOutputRows"));
  eval["robustness"] = {{"noise_stddev", stddev},
                        {"noise_accuracy", noisy},
                        {"noise_accuracy_drop", std::max(0.0, accuracy - noisy)},
                        {"non_finite_weights", bad_weights},
                        {"non_finite_outputs", bad_rows}};

  SOV_ASSIGN_OR_RETURN(const json* determinism, Group(report, "determinism"));
  auto det = determinism->find("deterministic");
  if (det == determinism->end() || !det->is_boolean()) {
    return InvalidArgument("evaluation report: determinism.deterministic is missing or not a bool");
  }
  SOV_ASSIGN_OR_RETURN(int64_t differing,
                       Integer(*determinism, "determinism", "differingPredictions"));
  eval["determinism"] = {{"deterministic", det->get<bool>()},
                         {"differing_predictions", differing}};

  SOV_ASSIGN_OR_RETURN(const json* performance, Group(report, "performance"));
  SOV_ASSIGN_OR_RETURN(double throughput,
                       Number(*performance, "performance", "throughputSamplesPerSecond"));
  SOV_ASSIGN_OR_RETURN(int64_t memory, Integer(*performance, "performance", "memoryBytes"));
  json perf = {{"throughput", throughput}, {"memory_bytes", memory}};
  if (auto latency = performance->find("latency"); latency != performance->end() &&
                                                     latency->is_array() && !latency->empty()) {
    json batches = json::object();
    const json* smallest = nullptr;
    for (const json& l : *latency) {
      if (!l.is_object() || !l.contains("batch")) continue;
      SOV_ASSIGN_OR_RETURN(int64_t batch, Integer(l, "performance.latency", "batch"));
      SOV_ASSIGN_OR_RETURN(double p50, Number(l, "performance.latency", "p50Ms"));
      SOV_ASSIGN_OR_RETURN(double p99, Number(l, "performance.latency", "p99Ms"));
      SOV_ASSIGN_OR_RETURN(double sps, Number(l, "performance.latency", "samplesPerSecond"));
      batches[std::to_string(batch)] = {{"p50_ms", p50}, {"p99_ms", p99}, {"samples_per_second", sps}};
      if (smallest == nullptr || batch < (*smallest)["batch"].get<int64_t>()) smallest = &l;
    }
    if (smallest != nullptr) {
      perf["latency_p50_ms"] = (*smallest)["p50Ms"].get<double>();
      perf["latency_p99_ms"] = (*smallest)["p99Ms"].get<double>();
    }
    perf["batches"] = std::move(batches);
  }
  eval["performance"] = std::move(perf);
  return eval;
}

json CombineEval(const std::vector<std::pair<std::string, json>>& per_dataset) {
  json top = json::object();
  json datasets = json::object();
  std::set<std::string> combined;  // a dataset listed under two names counts once
  for (const auto& [name, eval] : per_dataset) {
    datasets[name] = eval;
    const std::string identity = eval.dump();
    if (!combined.insert(identity).second) continue;
    for (auto it = eval.begin(); it != eval.end(); ++it) {
      auto mine = top.find(it.key());
      top[it.key()] = mine == top.end() ? *it : Worse(it.key(), *mine, *it);
    }
  }
  top["datasets"] = std::move(datasets);
  return top;
}

policy::cel::Value EvalValue(const json& eval) {
  using policy::cel::Value;
  switch (eval.type()) {
    case json::value_t::object: {
      std::map<std::string, Value> entries;
      for (auto it = eval.begin(); it != eval.end(); ++it) entries[it.key()] = EvalValue(*it);
      return Value::StringMap(entries);
    }
    case json::value_t::array: {
      std::vector<Value> elements;
      for (const json& e : eval) elements.push_back(EvalValue(e));
      return Value::List(std::move(elements));
    }
    case json::value_t::boolean:
      return Value::Bool(eval.get<bool>());
    case json::value_t::number_integer:
      return Value::Int(eval.get<int64_t>());
    case json::value_t::number_unsigned: {
      const uint64_t u = eval.get<uint64_t>();
      return u <= static_cast<uint64_t>(INT64_MAX) ? Value::Int(static_cast<int64_t>(u))
                                                   : Value::Uint(u);
    }
    case json::value_t::number_float:
      return Value::Double(eval.get<double>());
    case json::value_t::string:
      return Value::String(eval.get<std::string>());
    default:
      return Value::Null();
  }
}

std::vector<std::string> ValidSigners(const ArtifactRecord& model,
                                      const crypto::Ed25519PublicKey& registry_key,
                                      const TenantDirectory& tenants,
                                      const std::vector<registry::KeyRevocation>& revocations,
                                      std::string_view excluded_keyid) {
  std::set<std::string> revoked;
  for (const registry::KeyRevocation& r : revocations) revoked.insert(r.keyid);
  const std::string registry_keyid = registry_key.KeyId();
  std::set<std::string> names;
  for (const registry::SignatureRecord& sig : model.signatures) {
    if (revoked.contains(sig.keyid) || (!excluded_keyid.empty() && sig.keyid == excluded_keyid)) {
      continue;
    }
    if (sig.role == "registry") {
      if (sig.keyid == registry_keyid) names.insert("registry");
      continue;
    }
    const Tenant* tenant = tenants.FindById(sig.signer);
    if (tenant == nullptr) continue;
    bool registered = false;
    for (const auto& key : tenant->publisher_keys) registered = registered || key.KeyId() == sig.keyid;
    if (!registered) continue;
    names.insert(tenant->id);
    for (const std::string& role : tenant->roles) names.insert(role);
  }
  return {names.begin(), names.end()};
}

std::vector<std::string> UnmetSignatureThresholds(const policy::Policy& policy,
                                                  const policy::Artifact& artifact,
                                                  const std::vector<std::string>& signers) {
  std::vector<std::string> out;
  for (const policy::ReleaseGate* gate : policy.GatesFor(artifact)) {
    if (gate->signature_threshold <= 0) continue;
    std::vector<std::string> have = GateSigners(*gate, signers);
    if (static_cast<int>(have.size()) >= gate->signature_threshold) continue;
    out.push_back(gate->id + " needs " + SignersText(*gate) + ", has " + SignatureDetail(*gate, have) +
                  " (" + ShownLocation(gate->signatures_location) + ")");
  }
  return out;
}

Result<std::optional<ReportView>> LatestReport(registry::Registry& registry,
                                               const ArtifactRecord& model) {
  registry::JobFilter filter;
  filter.model_name = model.spec.name;
  filter.model_version = model.spec.version;
  filter.model_digest = model.digest;
  filter.states = {registry::JobState::kSucceeded};
  filter.limit = 1;
  SOV_ASSIGN_OR_RETURN(std::vector<registry::JobRecord> jobs, registry.ListJobs(filter));
  if (jobs.empty() || jobs.front().report_name.empty()) return std::optional<ReportView>();
  ReportView view;
  view.job = jobs.front();
  SOV_ASSIGN_OR_RETURN(view.artifact,
                       registry.Get(view.job.report_name, view.job.report_version));
  if (view.artifact.stage == Stage::kErased) return std::optional<ReportView>();
  SOV_ASSIGN_OR_RETURN(std::unique_ptr<registry::ArtifactReader> reader,
                       registry.OpenReader(view.artifact, 0, std::nullopt));
  std::string bytes;
  for (;;) {
    SOV_ASSIGN_OR_RETURN(std::string_view piece, reader->Next());
    if (piece.empty()) break;
    bytes.append(piece);
  }
  const std::string ref = view.artifact.spec.name + "@" + view.artifact.spec.version;
  Result<crypto::DsseEnvelope> envelope = crypto::DsseEnvelope::FromJson(bytes);
  if (!envelope.ok()) return DataLoss("report " + ref + ": " + envelope.status().message());
  Result<crypto::Statement> statement =
      crypto::VerifyStatement(*envelope, {registry.registry_key()});
  if (!statement.ok()) {
    return DataLoss("report " + ref + " does not verify: " + statement.status().message());
  }
  const std::string hex = model.digest.substr(model.digest.find(':') + 1);
  bool subject = false;
  for (const auto& s : statement->subject) {
    auto d = s.digest.find("sha256");
    subject = subject || (d != s.digest.end() && d->second == hex);
  }
  if (statement->predicate_type != kReportPredicateType || !subject) {
    return DataLoss("report " + ref + " is not an evaluation of " + model.spec.name + "@" +
                    model.spec.version);
  }
  view.predicate = std::move(statement->predicate);
  return std::optional<ReportView>(std::move(view));
}

policy::GateEvidence EvidenceFrom(const json& predicate, std::vector<std::string> valid_signers) {
  policy::GateEvidence evidence;
  const json eval = predicate.value("eval", json::object());
  evidence.eval = EvalValue(eval);
  if (auto datasets = predicate.find("datasets"); datasets != predicate.end() && datasets->is_array()) {
    for (const json& d : *datasets) {
      const std::string version = d.value("version", "");
      evidence.validation_datasets.push_back(d.value("name", "") + "@" + version);
      const std::string as_named = d.value("requirement", "");
      if (!as_named.empty() && as_named != d.value("name", "")) {
        evidence.validation_datasets.push_back(as_named + "@" + version);
      }
    }
  }
  evidence.valid_signers = std::move(valid_signers);
  return evidence;
}

std::string GateEvaluation::FailureText() const {
  std::string out;
  for (const GateCheck& c : checks) {
    if (c.kind == "signatures" || c.outcome == "passed") continue;
    out += (out.empty() ? "" : "; ") + c.gate_id + ": " + c.condition + ": " + c.error +
           (c.observed.empty() ? "" : " (" + c.observed + ")") + " (" + ShownLocation(c.location) +
           ")";
  }
  return out;
}

std::string GateEvaluation::SignatureText() const {
  std::string out;
  for (const GateCheck& c : checks) {
    if (c.kind != "signatures" || c.outcome == "passed") continue;
    out += (out.empty() ? "" : "; ") + c.gate_id + ": " + c.error + " (" +
           ShownLocation(c.location) + ")";
  }
  return out;
}

json GateEvaluation::ToJson() const {
  json out = json::array();
  for (const GateCheck& c : checks) {
    json entry = {{"gate_id", c.gate_id},
                  {"kind", c.kind},
                  {"condition", c.condition},
                  {"location", ShownLocation(c.location)},
                  {"outcome", c.outcome},
                  {"observed", c.observed}};
    if (c.kind == "dataset") entry["dataset"] = c.observed;
    if (!c.error.empty()) entry["error"] = c.error;
    out.push_back(std::move(entry));
  }
  return out;
}

GateEvaluation EvaluateReleaseGates(const policy::Policy& policy, const policy::Artifact& artifact,
                                    const policy::GateEvidence& evidence, const json& eval) {
  GateEvaluation out;
  for (const policy::ReleaseGate* gate : policy.GatesFor(artifact)) {
    out.gates.push_back(gate->id);
    policy::GateResult result = policy.EvaluateGate(*gate, artifact, evidence);
    std::vector<bool> used(result.failures.size(), false);
    // The failure of `what`, if any (each failure is matched once, in order).
    auto failure = [&](const std::string& what) -> const policy::GateFailure* {
      for (size_t i = 0; i < result.failures.size(); ++i) {
        if (!used[i] && result.failures[i].what == what) {
          used[i] = true;
          return &result.failures[i];
        }
      }
      return nullptr;
    };
    auto add = [&](std::string kind, std::string what, const policy::SourceLocation& location,
                   std::string observed) {
      GateCheck check;
      check.gate_id = gate->id;
      check.kind = std::move(kind);
      check.condition = what;
      check.location = location;
      check.observed = std::move(observed);
      check.outcome = "passed";
      if (const policy::GateFailure* f = failure(what)) {
        check.location = f->location;
        check.error = f->message;
        check.outcome = f->message.starts_with("could not be evaluated") ? "error" : "failed";
        if (check.kind == "benchmark") check.error = "missing benchmark: " + f->message;
        if (check.kind == "signatures") check.outcome = "failed";
      }
      if (check.outcome != "passed") {
        if (check.kind == "signatures") {
          out.signatures_met = false;
        } else {
          out.conditions_passed = false;
        }
      }
      out.checks.push_back(std::move(check));
    };
    for (const std::string& b : gate->benchmarks) add("benchmark", "benchmark " + b, gate->location, "");
    for (const policy::DatasetRequirement& need : gate->validation_datasets) {
      std::string seen;
      for (const std::string& used_name : evidence.validation_datasets) {
        if (used_name.substr(0, used_name.find('@')) == need.name) seen = used_name;
      }
      add("dataset", "dataset " + need.name + "@" + need.version_range, need.location, seen);
    }
    for (size_t i = 0; i < gate->require.size(); ++i) {
      const policy::SourceLocation& at =
          i < gate->require_locations.size() ? gate->require_locations[i] : gate->location;
      add("condition", gate->require[i], at, Observed(gate->require[i], eval));
    }
    if (gate->signature_threshold > 0) {
      add("signatures", "signatures", gate->signatures_location,
          SignatureDetail(*gate, GateSigners(*gate, evidence.valid_signers)));
      out.checks.back().condition = SignersText(*gate);
    }
  }
  return out;
}

bool ReleaseState::ready() const {
  if (lineage_revoked) return false;
  if (!gates_apply) return true;
  return validated && conditions_passed && signatures_met;
}

Result<ReleaseState> ComputeReleaseState(registry::Registry& registry, const policy::Policy& policy,
                                         const TenantDirectory& tenants,
                                         const ArtifactRecord& record) {
  using sov::v1::ReleaseCheck;
  ReleaseState state;
  state.status.set_requested(record.release_requested ||
                             (record.spec.kind == registry::Kind::kModel &&
                              record.stage == Stage::kValidating));
  state.status.set_policy_digest(policy.digest());
  const auto now = std::chrono::system_clock::now();
  *state.status.mutable_evaluate_time() = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count());
  for (const registry::LineageNotice& notice : record.lineage_notices) {
    if (notice.action != "revoke") continue;
    state.lineage_revoked = true;
    AddCheck(state.status, sov::v1::RELEASE_CHECK_KIND_POLICY, sov::v1::RELEASE_CHECK_STATE_FAILED,
             "derived from no erased artifact under a revoking lineage rule", nullptr,
             notice.erased_name + "@" + notice.erased_version + " was erased; lineage rule " +
                 notice.rule_id + " revokes what was derived from it");
  }
  if (record.spec.kind != registry::Kind::kModel) return state;
  const policy::Artifact view = internal::View(registry, record);
  std::vector<const policy::ReleaseGate*> gates = policy.GatesFor(view);
  if (gates.empty()) return state;
  state.gates_apply = true;

  // Validation: the newest job of this digest.
  registry::JobFilter filter;
  filter.model_name = record.spec.name;
  filter.model_version = record.spec.version;
  filter.model_digest = record.digest;
  filter.limit = 1;
  SOV_ASSIGN_OR_RETURN(std::vector<registry::JobRecord> jobs, registry.ListJobs(filter));
  SOV_ASSIGN_OR_RETURN(std::optional<ReportView> report, LatestReport(registry, record));
  state.validated = report.has_value();
  std::string validation_detail;
  auto validation_state = sov::v1::RELEASE_CHECK_STATE_WAITING;
  if (!jobs.empty()) {
    const registry::JobRecord& job = jobs.front();
    switch (job.state) {
      case registry::JobState::kQueued:
        validation_detail = "job " + job.id + " queued";
        break;
      case registry::JobState::kRunning: {
        char progress[32];
        std::snprintf(progress, sizeof progress, "%.0f%%", job.progress * 100.0);
        validation_detail = "job " + job.id + " running on " + job.worker + " (" + job.phase +
                            ", " + progress + ")";
        break;
      }
      case registry::JobState::kSucceeded:
        validation_state = sov::v1::RELEASE_CHECK_STATE_MET;
        validation_detail = "job " + job.id + " wrote report " + job.report_name + "@" +
                            job.report_version;
        break;
      case registry::JobState::kFailed:
        validation_state = sov::v1::RELEASE_CHECK_STATE_FAILED;
        state.validation_failed = true;
        validation_detail = "job " + job.id + " failed: " + job.error;
        break;
      case registry::JobState::kCancelled:
        validation_detail = "job " + job.id + " was cancelled; start a new validation";
        break;
    }
  } else {
    validation_detail = "no validation job yet";
  }
  if (report.has_value() && validation_state == sov::v1::RELEASE_CHECK_STATE_WAITING) {
    // A newer job is running; the report of the earlier one still stands.
    validation_detail += "; report " + report->artifact.spec.name + "@" +
                         report->artifact.spec.version + " stands meanwhile";
  }
  AddCheck(state.status, sov::v1::RELEASE_CHECK_KIND_VALIDATION,
           report.has_value() ? sov::v1::RELEASE_CHECK_STATE_MET : validation_state,
           "a validation report of " + record.digest, nullptr, validation_detail);

  SOV_ASSIGN_OR_RETURN(std::vector<registry::KeyRevocation> revocations, registry.KeyRevocations());
  std::vector<std::string> signers =
      ValidSigners(record, registry.registry_key(), tenants, revocations);
  if (report.has_value()) {
    policy::GateEvidence evidence = EvidenceFrom(report->predicate, signers);
    GateEvaluation evaluation = EvaluateReleaseGates(policy, view, evidence,
                                                     report->predicate.value("eval", json::object()));
    state.conditions_passed = evaluation.conditions_passed;
    state.signatures_met = evaluation.signatures_met;
    for (const GateCheck& c : evaluation.checks) {
      const bool sig = c.kind == "signatures";
      auto check_state = c.outcome == "passed" ? sov::v1::RELEASE_CHECK_STATE_MET
                         : sig                 ? sov::v1::RELEASE_CHECK_STATE_WAITING
                                               : sov::v1::RELEASE_CHECK_STATE_FAILED;
      std::string detail = sig ? c.observed
                               : (c.outcome == "passed" ? c.observed
                                                        : c.error + (c.observed.empty()
                                                                         ? ""
                                                                         : " (" + c.observed + ")"));
      if (!sig && !c.observed.empty() && c.kind == "condition") {
        detail += " on " + report->artifact.spec.name + "@" + report->artifact.spec.version;
      }
      AddCheck(state.status,
               sig ? sov::v1::RELEASE_CHECK_KIND_SIGNATURES : sov::v1::RELEASE_CHECK_KIND_GATE,
               check_state, c.condition, &c.location, std::move(detail));
    }
    if (!state.conditions_passed) {
      state.waiting_for = "the release gates failed: " + evaluation.FailureText();
    } else if (!state.signatures_met) {
      state.waiting_for = "signatures: " + evaluation.SignatureText();
    }
  } else {
    state.signatures_met = true;
    for (const policy::ReleaseGate* gate : gates) {
      const auto waiting = state.validation_failed ? sov::v1::RELEASE_CHECK_STATE_FAILED
                                                   : sov::v1::RELEASE_CHECK_STATE_WAITING;
      const std::string why = state.validation_failed ? "validation failed" : "no report yet";
      for (const std::string& b : gate->benchmarks) {
        AddCheck(state.status, sov::v1::RELEASE_CHECK_KIND_GATE, waiting, "benchmark " + b,
                 &gate->location, why);
      }
      for (const policy::DatasetRequirement& need : gate->validation_datasets) {
        AddCheck(state.status, sov::v1::RELEASE_CHECK_KIND_GATE, waiting,
                 "dataset " + need.name + "@" + need.version_range, &need.location, why);
      }
      for (size_t i = 0; i < gate->require.size(); ++i) {
        AddCheck(state.status, sov::v1::RELEASE_CHECK_KIND_GATE, waiting, gate->require[i],
                 i < gate->require_locations.size() ? &gate->require_locations[i] : &gate->location,
                 why);
      }
      if (gate->signature_threshold > 0) {
        std::vector<std::string> have = GateSigners(*gate, signers);
        const bool met = static_cast<int>(have.size()) >= gate->signature_threshold;
        state.signatures_met = state.signatures_met && met;
        AddCheck(state.status, sov::v1::RELEASE_CHECK_KIND_SIGNATURES,
                 met ? sov::v1::RELEASE_CHECK_STATE_MET : sov::v1::RELEASE_CHECK_STATE_WAITING,
                 SignersText(*gate), &gate->signatures_location, SignatureDetail(*gate, have));
      }
    }
    state.waiting_for = "validation: " + validation_detail;
  }
  return state;
}

Result<ArtifactRecord> ReleaseWhenReady(registry::Registry& registry, const policy::Policy& policy,
                                      const TenantDirectory& tenants, ArtifactRecord record,
                                      const std::string& request_id, const std::string& trigger) {
  if (record.spec.kind != registry::Kind::kModel || !record.release_requested ||
      record.stage != Stage::kPending) {
    return record;
  }
  SOV_ASSIGN_OR_RETURN(ReleaseState state, ComputeReleaseState(registry, policy, tenants, record));
  if (!state.gates_apply || !state.ready()) return record;
  policy::Artifact view = internal::View(registry, record);
  SOV_ASSIGN_OR_RETURN(policy::DecisionRequest request,
                       OwnerDecisionRequest(tenants, record.spec.owner_tenant, "artifact.release",
                                            view, {{"gates_passed", "true"}}));
  policy::Decision decision = policy.Decide(request);
  std::vector<registry::AuditEvent> audit = {SystemDecisionEvent(request, decision, request_id)};
  registry::Actor actor;
  actor.system_actor = std::string(kValidationActor);
  actor.request_id = request_id;
  if (!decision.allowed()) {
    SOV_RETURN_IF_ERROR(registry.audit().Append(std::move(audit)).status());
    LogEvent(*ModuleLogger("registry"), spdlog::level::info,
             "release checks met, but the policy denies the owner's release",
             {{"artifact", Ref(record.spec.name, record.spec.version)},
              {"rule", decision.deciding_rule != nullptr ? decision.deciding_rule->id : "default-deny"}});
    return record;
  }
  registry::Registry::Transition transition;
  transition.from = {Stage::kPending};
  transition.to = Stage::kReleased;
  transition.reason = "every release check is met (" + trigger + ")";
  if (decision.deciding_rule != nullptr) {
    transition.rule_id = decision.deciding_rule->id;
    transition.rule_location = decision.deciding_rule->location.ToString();
  }
  return registry.ChangeStage(record.spec.name, record.spec.version, transition, actor,
                              std::move(audit));
}

Result<policy::DecisionRequest> OwnerDecisionRequest(const TenantDirectory& tenants,
                                                     std::string_view owner_tenant,
                                                     std::string_view action,
                                                     const policy::Artifact& artifact,
                                                     std::map<std::string, std::string> attributes) {
  const Tenant* owner = tenants.FindById(owner_tenant);
  if (owner == nullptr) {
    return NotFound("tenant " + std::string(owner_tenant) + " is not in the tenants file");
  }
  policy::DecisionRequest request;
  request.action = std::string(action);
  request.principal.tenant_id = owner->id;
  request.principal.roles = owner->roles;
  request.principal.purposes = owner->purposes;
  request.principal.jurisdiction = owner->jurisdiction;
  request.artifact = artifact;
  request.attributes = std::move(attributes);
  request.attributes["auth_method"] = "system";
  request.now = std::chrono::system_clock::now();
  return request;
}

registry::AuditEvent SystemDecisionEvent(const policy::DecisionRequest& request,
                                         const policy::Decision& decision,
                                         std::string_view request_id) {
  registry::AuditEvent event = internal::DecisionEvent(request, decision, nullptr, request_id);
  event.system_actor = std::string(kValidationActor);
  return event;
}

}  // namespace sov::gateway
