#include "cli/evaluation_output.h"

#include <cctype>
#include <cstdio>
#include <string>
#include <utility>

#include "cli/artifact_flags.h"
#include "cli/artifact_output.h"
#include "cli/proto_interop.h"
#include "crypto/dsse.h"

namespace sov::cli {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

const json* Field(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(std::string(key));
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string Text(const json& object, std::string_view key) {
  const json* v = Field(object, key);
  if (v == nullptr) return "";
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number_integer()) return std::to_string(v->get<int64_t>());
  return "";
}

std::optional<double> Number(const json& object, std::string_view key) {
  const json* v = Field(object, key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->get<double>();
}

std::string Percent(std::optional<double> ratio) {
  if (!ratio.has_value()) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", *ratio * 100.0);
  return buf;
}

std::string Fixed(std::optional<double> value, int digits) {
  if (!value.has_value()) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, *value);
  return buf;
}

std::string Upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

std::string LocationText(const v1::SourceLocation& location) {
  if (location.file().empty() && location.line() == 0) return "";
  std::string out = location.file();
  if (location.line() > 0) out += ":" + std::to_string(location.line());
  if (location.column() > 0) out += ":" + std::to_string(location.column());
  return out;
}

std::string RefOf(const json& object) {
  std::string name = Text(object, "name");
  std::string version = Text(object, "version");
  return version.empty() ? name : name + "@" + version;
}

// The values a report summary shows for one dataset, from its gpu-eval report.
struct DatasetLine {
  std::string dataset;
  std::optional<double> accuracy;
  std::optional<double> macro_f1;
  int64_t samples = 0;
};

std::vector<DatasetLine> DatasetLines(const json& predicate) {
  std::vector<DatasetLine> out;
  const json* datasets = Field(predicate, "datasets");
  if (datasets == nullptr || !datasets->is_array()) return out;
  for (const json& dataset : *datasets) {
    DatasetLine line;
    line.dataset = RefOf(dataset);
    if (const json* report = Field(dataset, "report")) {
      if (const json* quality = Field(*report, "quality")) {
        line.accuracy = Number(*quality, "accuracy");
        line.macro_f1 = Number(*quality, "macroF1");
      }
      if (const json* subject = Field(*report, "subject")) {
        line.samples = static_cast<int64_t>(Number(*subject, "rows").value_or(0));
      }
    }
    out.push_back(std::move(line));
  }
  return out;
}

std::vector<v1::GateResult> Gates(const json& predicate) {
  std::vector<v1::GateResult> out;
  const json* gates = Field(predicate, "gates");
  if (gates == nullptr || !gates->is_array()) return out;
  for (const json& gate : *gates) out.push_back(GateFromJson(gate));
  return out;
}

bool PredicatePassed(const json& predicate, const std::vector<v1::GateResult>& gates) {
  if (const json* passed = Field(predicate, "passed"); passed && passed->is_boolean()) {
    return passed->get<bool>();
  }
  for (const v1::GateResult& gate : gates) {
    if (gate.outcome() != v1::GATE_OUTCOME_PASSED) return false;
  }
  return true;
}

std::string JobText(const json& predicate) {
  const json* job = Field(predicate, "job");
  if (job == nullptr) return "";
  std::string out = Text(*job, "id");
  std::string details;
  if (std::string attempt = Text(*job, "attempt"); !attempt.empty()) details += "attempt " + attempt;
  if (std::string backend = Text(*job, "backend"); !backend.empty()) {
    details += (details.empty() ? "" : ", ") + backend;
  }
  if (std::string worker = Text(*job, "worker"); !worker.empty()) {
    details += (details.empty() ? "" : ", ") + std::string("worker ") + worker;
  }
  return details.empty() ? out : out + " (" + details + ")";
}

}  // namespace

bool ReportVerification::ok() const { return FirstFailure().empty(); }

std::string ReportVerification::FirstFailure() const {
  for (const ArtifactCheck& check : checks) {
    if (!check.ok) return check.name + ": " + check.detail;
  }
  return "";
}

ReportVerification VerifyReport(const v1::GetReportResponse& response,
                                std::string_view model_digest,
                                const std::vector<crypto::Ed25519PublicKey>& registry_keys) {
  ReportVerification out;
  const crypto::DsseEnvelope envelope = ToCryptoEnvelope(response.envelope());
  std::vector<std::string> key_ids;
  Result<crypto::Statement> statement =
      crypto::VerifyStatement(envelope, registry_keys, 1, &key_ids);
  if (key_ids.empty()) {
    out.checks.push_back({"registry signature", false,
                          statement.ok() ? "no trusted registry key signed the report"
                                         : std::string(statement.status().message())});
    return out;
  }
  out.registry_key_ids = key_ids;
  std::string signed_by;
  for (const std::string& id : key_ids) signed_by += (signed_by.empty() ? "" : ", ") + id;
  out.checks.push_back({"registry signature", true, "signed by " + signed_by});
  if (!statement.ok()) {
    out.checks.push_back({"statement", false, std::string(statement.status().message())});
    return out;
  }
  if (statement->predicate_type != kEvaluationPredicateType || !statement->predicate.is_object()) {
    out.checks.push_back({"statement", false,
                          "predicate type is " + statement->predicate_type + ", not " +
                              std::string(kEvaluationPredicateType)});
    return out;
  }
  out.checks.push_back({"statement", true, "evaluation report (in-toto Statement v1)"});
  std::string want(model_digest);
  if (want.empty()) {
    if (const json* model = Field(statement->predicate, "model")) want = Text(*model, "digest");
  }
  bool about = false;
  for (const crypto::ResourceDescriptor& subject : statement->subject) {
    auto it = subject.digest.find("sha256");
    if (it != subject.digest.end() && "sha256:" + it->second == want) about = true;
  }
  const json* model = Field(statement->predicate, "model");
  const std::string model_ref = model != nullptr ? RefOf(*model) : "the model";
  out.checks.push_back({"subject", about,
                        about ? model_ref + " " + want
                              : "the report is not about " + model_ref + " " + want});
  out.statement = std::move(*statement);
  return out;
}

v1::GateResult GateFromJson(const json& gate) {
  v1::GateResult out;
  out.set_gate_id(Text(gate, "gate_id"));
  out.set_condition(Text(gate, "condition"));
  if (const json* location = Field(gate, "location"); location && location->is_string()) {
    std::string text = location->get<std::string>();
    std::vector<int> numbers;
    while (numbers.size() < 2) {
      const size_t colon = text.rfind(':');
      if (colon == std::string::npos || colon + 1 == text.size()) break;
      const std::string tail = text.substr(colon + 1);
      if (tail.find_first_not_of("0123456789") != std::string::npos || tail.size() > 9) break;
      numbers.insert(numbers.begin(), std::stoi(tail));
      text.resize(colon);
    }
    out.mutable_location()->set_file(text);
    if (!numbers.empty()) out.mutable_location()->set_line(numbers[0]);
    if (numbers.size() > 1) out.mutable_location()->set_column(numbers[1]);
  }
  const std::string outcome = Text(gate, "outcome");
  out.set_outcome(outcome == "passed"   ? v1::GATE_OUTCOME_PASSED
                  : outcome == "failed" ? v1::GATE_OUTCOME_FAILED
                  : outcome == "error"  ? v1::GATE_OUTCOME_ERROR
                                        : v1::GATE_OUTCOME_UNSPECIFIED);
  out.set_observed(Text(gate, "observed"));
  if (const json* dataset = Field(gate, "dataset"); dataset && dataset->is_string()) {
    const std::string text = dataset->get<std::string>();
    const size_t at = text.find('@');
    out.mutable_dataset()->set_name(text.substr(0, at));
    if (at != std::string::npos) out.mutable_dataset()->set_version(text.substr(at + 1));
  }
  out.set_error(Text(gate, "error"));
  return out;
}

std::string GateLine(const v1::GateResult& gate) {
  std::string outcome = EnumFlagName(gate.outcome());
  std::string line = Upper(outcome) + " " + gate.gate_id() + ": " + gate.condition();
  if (!gate.observed().empty()) line += " (observed " + gate.observed() + ")";
  if (!gate.error().empty() && gate.error() != gate.observed()) line += ": " + gate.error();
  if (std::string at = LocationText(gate.location()); !at.empty()) line += " at " + at;
  return line;
}

KeyValues ReportSummary(const v1::ArtifactRef& report, const json& predicate) {
  KeyValues lines;
  lines.emplace_back("report", RefText(report) + (report.digest().empty() ? "" : " " + report.digest()));
  if (const json* model = Field(predicate, "model")) {
    lines.emplace_back("model", RefOf(*model) + " " + Text(*model, "digest"));
  }
  if (std::string job = JobText(predicate); !job.empty()) lines.emplace_back("job", job);
  if (std::string policy = Text(predicate, "policyDigest"); !policy.empty()) {
    lines.emplace_back("policy", policy);
  }
  if (std::string created = Text(predicate, "createdAt"); !created.empty()) {
    lines.emplace_back("created", created);
  }
  for (const DatasetLine& d : DatasetLines(predicate)) {
    lines.emplace_back("dataset", d.dataset + ": accuracy " + Percent(d.accuracy) +
                                      ", macro-F1 " + Fixed(d.macro_f1, 4) + ", " +
                                      std::to_string(d.samples) + " samples");
  }
  const std::vector<v1::GateResult> gates = Gates(predicate);
  for (const v1::GateResult& gate : gates) lines.emplace_back("gate", GateLine(gate));
  lines.emplace_back("result", gates.empty() ? "no release gate applies"
                               : PredicatePassed(predicate, gates)
                                   ? "release gates passed"
                                   : "release gates failed");
  return lines;
}

ordered_json ReportSummaryJson(const v1::ArtifactRef& report, const json& predicate) {
  ordered_json out;
  out["report"] = ProtoToJson(report);
  if (const json* model = Field(predicate, "model")) out["model"] = *model;
  if (const json* job = Field(predicate, "job")) out["job"] = *job;
  out["policy_digest"] = Text(predicate, "policyDigest");
  out["created_at"] = Text(predicate, "createdAt");
  ordered_json datasets = ordered_json::array();
  for (const DatasetLine& d : DatasetLines(predicate)) {
    ordered_json entry = {{"dataset", d.dataset}, {"samples", d.samples}};
    entry["accuracy"] = d.accuracy.has_value() ? ordered_json(*d.accuracy) : ordered_json();
    entry["macro_f1"] = d.macro_f1.has_value() ? ordered_json(*d.macro_f1) : ordered_json();
    datasets.push_back(std::move(entry));
  }
  out["datasets"] = std::move(datasets);
  ordered_json gates = ordered_json::array();
  const std::vector<v1::GateResult> parsed = Gates(predicate);
  for (const v1::GateResult& gate : parsed) gates.push_back(ProtoToJson(gate));
  out["gates"] = std::move(gates);
  out["passed"] = PredicatePassed(predicate, parsed);
  return out;
}

std::vector<std::string> JobTableHeader() {
  return {"JOB", "MODEL", "STATE", "ATTEMPT", "BACKEND", "OUTCOME", "CREATED"};
}

std::vector<std::string> JobTableRow(const v1::ValidationJob& job) {
  std::string state = EnumFlagName(job.state());
  if (job.state() == v1::JOB_STATE_RUNNING && !job.phase().empty()) state += " (" + job.phase() + ")";
  std::string backend = job.backend() != v1::BACKEND_UNSPECIFIED
                            ? EnumFlagName(job.backend())
                            : EnumFlagName(job.requested_backend() == v1::BACKEND_UNSPECIFIED
                                               ? v1::BACKEND_AUTO
                                               : job.requested_backend());
  std::string outcome = job.report_only() ? "report only"
                        : job.outcome_stage() != v1::STAGE_UNSPECIFIED
                            ? EnumFlagName(job.outcome_stage())
                            : "-";
  return {job.job_id(), RefText(job.model()), state, std::to_string(job.attempt()), backend,
          outcome, TimestampText(job.create_time())};
}

std::string JobStateText(const v1::ValidationJob& job) {
  std::string out = EnumFlagName(job.state());
  std::string details;
  if (job.attempt() > 0) details = "attempt " + std::to_string(job.attempt());
  if (job.backend() != v1::BACKEND_UNSPECIFIED) {
    details += (details.empty() ? "" : ", ") + EnumFlagName(job.backend());
  }
  if (job.state() == v1::JOB_STATE_RUNNING) {
    char progress[16];
    std::snprintf(progress, sizeof progress, "%.0f%%", job.progress() * 100.0);
    details += (details.empty() ? "" : ", ") + job.phase() + (job.phase().empty() ? "" : " ") +
               progress;
  }
  if (!details.empty()) out += " (" + details + ")";
  if (job.report_only()) {
    out += ", report only";
  } else if (job.outcome_stage() != v1::STAGE_UNSPECIFIED) {
    out += " -> " + EnumFlagName(job.outcome_stage());
  }
  return out;
}

KeyValues JobDetails(const v1::ValidationJob& job) {
  KeyValues lines;
  lines.emplace_back("job", job.job_id());
  lines.emplace_back("model", RefText(job.model()) + " " + job.model().digest());
  lines.emplace_back("state", JobStateText(job));
  if (!job.worker().empty()) lines.emplace_back("worker", job.worker());
  for (const v1::ArtifactRef& dataset : job.datasets()) {
    lines.emplace_back("dataset", RefText(dataset));
  }
  if (!job.report().name().empty()) lines.emplace_back("report", RefText(job.report()));
  for (const v1::GateResult& gate : job.gate_results()) lines.emplace_back("gate", GateLine(gate));
  if (!job.error().empty()) lines.emplace_back("error", job.error());
  if (!job.requested_by().tenant_id().empty()) {
    lines.emplace_back("requested_by", job.requested_by().tenant_id());
  }
  if (job.has_create_time()) lines.emplace_back("created", TimestampText(job.create_time()));
  if (job.has_end_time()) lines.emplace_back("finished", TimestampText(job.end_time()));
  return lines;
}

}  // namespace sov::cli
