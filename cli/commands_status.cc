// `sovctl status NAME@VERSION`: where an artifact stands on its way to release, in one place.
// The stage and why it is there (the last stage change's reason and rule), the release checks
// with what each observed, the latest validation job, and the summary of the latest signed
// report (per dataset accuracy and macro-F1; every gate condition with its outcome and the
// FILE:LINE it is written at). The report is verified with the pinned registry key when one is
// configured; without one, the job's gate results are shown and the report is marked
// unverified.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/artifact_flags.h"
#include "cli/artifact_output.h"
#include "cli/artifact_ref.h"
#include "cli/commands.h"
#include "cli/evaluation_output.h"
#include "cli/gateway_connection.h"
#include "cli/proto_interop.h"
#include "cli/registry_calls.h"
#include "cli/registry_key.h"
#include "sov/v1/evaluation.grpc.pb.h"

namespace sov::cli {
namespace {

using nlohmann::ordered_json;

struct StatusOptions {
  std::string ref;
  std::vector<std::string> registry_keys;
};

std::string LocationText(const v1::SourceLocation& location) {
  if (location.file().empty()) return "";
  std::string out = location.file();
  if (location.line() > 0) out += ":" + std::to_string(location.line());
  return out;
}

// The stage change that brought the artifact to its current stage.
const v1::StageChange* LastChange(const v1::Artifact& artifact) {
  for (int i = artifact.history_size() - 1; i >= 0; --i) {
    if (artifact.history(i).to_stage() == artifact.stage()) return &artifact.history(i);
  }
  return nullptr;
}

std::string CheckLine(const v1::ReleaseCheck& check) {
  std::string line = EnumFlagName(check.state()) + " " + EnumFlagName(check.kind());
  if (!check.condition().empty()) line += ": " + check.condition();
  if (!check.detail().empty()) line += " (" + check.detail() + ")";
  if (std::string at = LocationText(check.location()); !at.empty()) line += " at " + at;
  return line;
}

// The latest report, verified, or why there is none to show.
struct ReportState {
  std::optional<v1::GetReportResponse> response;
  std::optional<ReportVerification> verification;  // unset: no registry key configured
  std::string absent;                             // why there is no report, when none
};

int RunStatus(const CommandLine& cli, const StatusOptions& opts) {
  Result<ArtifactRefText> ref = ParseArtifactRef(opts.ref, VersionRule::kOptional);
  if (!ref.ok()) return ReportUsageError(*cli.err, "status", ref.status().message());
  Result<GatewayConnection> connection = OpenGatewayConnection(cli.connection, cli.env);
  if (!connection.ok()) return ReportLocalError(*cli.err, connection.status());
  v1::ArtifactRef wanted;
  wanted.set_name(ref->name);
  wanted.set_version(ref->version);
  Result<v1::GetArtifactResponse> got = GetArtifact(*connection, wanted);
  if (!got.ok()) return ReportLocalError(*cli.err, got.status());
  const v1::Artifact& artifact = got->artifact();
  const bool is_model = artifact.kind() == v1::ARTIFACT_KIND_MODEL;

  std::optional<v1::ValidationJob> latest_job;
  ReportState report;
  if (is_model) {
    auto stub = v1::EvaluationService::NewStub(connection->channel());
    v1::ListValidationJobsRequest list;
    list.mutable_model()->set_name(artifact.name());
    list.mutable_model()->set_version(artifact.version());
    list.set_page_size(1);
    v1::ListValidationJobsResponse jobs;
    Status st = CallGateway([&](grpc::ClientContext& context) {
      connection->PrepareCall(context);
      jobs.Clear();
      return stub->ListValidationJobs(&context, list, &jobs);
    });
    if (!st.ok()) return ReportLocalError(*cli.err, st);
    if (jobs.jobs_size() > 0) latest_job = jobs.jobs(0);

    v1::GetReportRequest get;
    get.mutable_model()->set_name(artifact.name());
    get.mutable_model()->set_version(artifact.version());
    v1::GetReportResponse response;
    st = CallGateway([&](grpc::ClientContext& context) {
      connection->PrepareCall(context);
      response.Clear();
      return stub->GetReport(&context, get, &response);
    });
    if (st.ok()) {
      report.response = std::move(response);
    } else if (st.code() == StatusCode::kNotFound) {
      report.absent = "none yet";
    } else if (st.code() == StatusCode::kPermissionDenied) {
      // The rest of the status is still the caller's to see.
      report.absent = "not shown: " + OneLine(st.message());
    } else {
      return ReportLocalError(*cli.err, st);
    }
    if (report.response.has_value()) {
      // Verify with a pinned key when there is one; status never trusts the server's key.
      Result<RegistryKeyFiles> files =
          ResolveRegistryKeyFiles(opts.registry_keys, cli.connection, cli.env);
      if (!files.ok()) return ReportLocalError(*cli.err, files.status());
      if (!files->paths.empty()) {
        Result<TrustedRegistryKeys> keys = LoadRegistryKeys(*files);
        if (!keys.ok()) return ReportLocalError(*cli.err, keys.status());
        report.verification = VerifyReport(*report.response, artifact.digest(), keys->keys);
      }
    }
  }

  const v1::StageChange* change = LastChange(artifact);
  const bool verified = report.verification.has_value() && report.verification->ok();
  if (cli.output == OutputFormat::kJson) {
    ordered_json doc;
    doc["artifact"] = RefText(artifact);
    doc["digest"] = artifact.digest();
    doc["kind"] = EnumFlagName(artifact.kind());
    doc["stage"] = EnumFlagName(artifact.stage());
    doc["reason"] = change != nullptr ? change->reason() : "";
    doc["rule"] = change != nullptr ? change->rule_id() : "";
    doc["rule_location"] = change != nullptr ? LocationText(change->rule_location()) : "";
    doc["release_status"] = ProtoToJson(artifact.release_status());
    doc["latest_job"] = latest_job.has_value() ? ProtoToJson(*latest_job) : ordered_json();
    if (report.response.has_value()) {
      ordered_json r;
      r["verified"] = verified;
      if (report.verification.has_value() && !verified) {
        r["verification_failure"] = report.verification->FirstFailure();
      } else if (!report.verification.has_value()) {
        r["verification_failure"] = "no registry key configured";
      }
      if (verified) {
        r["summary"] = ReportSummaryJson(report.response->report_ref(),
                                         report.verification->statement->predicate);
      } else {
        r["ref"] = ProtoToJson(report.response->report_ref());
      }
      doc["report"] = std::move(r);
    } else {
      doc["report"] = ordered_json();
      if (is_model) doc["report_note"] = report.absent;
    }
    WriteJson(*cli.out, doc);
  } else {
    KeyValues lines;
    lines.emplace_back("artifact", RefText(artifact) + " (" + EnumFlagName(artifact.kind()) + ")");
    lines.emplace_back("digest", artifact.digest());
    lines.emplace_back("stage", EnumFlagName(artifact.stage()));
    if (change != nullptr && !change->reason().empty()) {
      std::string why = change->reason();
      if (!change->rule_id().empty()) {
        why += " [rule " + change->rule_id();
        if (std::string at = LocationText(change->rule_location()); !at.empty()) why += " at " + at;
        why += "]";
      }
      lines.emplace_back("why", why);
    }
    const v1::ReleaseStatus& release = artifact.release_status();
    if (release.checks_size() > 0 || release.requested()) {
      lines.emplace_back("release", release.requested() ? "requested" : "not requested");
    }
    for (const v1::ReleaseCheck& check : release.checks()) lines.emplace_back("check", CheckLine(check));
    if (is_model) {
      lines.emplace_back("job", latest_job.has_value()
                                    ? latest_job->job_id() + " " + JobStateText(*latest_job)
                                    : std::string("none"));
      if (latest_job.has_value() && !latest_job->error().empty()) {
        lines.emplace_back("job error", latest_job->error());
      }
      if (!report.response.has_value()) {
        lines.emplace_back("report", report.absent);
      } else if (verified) {
        KeyValues summary = ReportSummary(report.response->report_ref(),
                                          report.verification->statement->predicate);
        for (auto& [key, value] : summary) {
          if (key == "report" || key == "dataset" || key == "gate" || key == "result") {
            lines.emplace_back(key, std::move(value));
          }
          if (key == "report") {
            lines.emplace_back("verified",
                               "registry signature " + report.verification->registry_key_ids[0]);
          }
        }
      } else {
        lines.emplace_back("report", RefText(report.response->report_ref()) + " (NOT verified: " +
                                         (report.verification.has_value()
                                              ? report.verification->FirstFailure()
                                              : std::string("no registry key configured; pass "
                                                            "--registry-key")) +
                                         ")");
        if (latest_job.has_value()) {
          for (const v1::GateResult& gate : latest_job->gate_results()) {
            lines.emplace_back("gate", GateLine(gate));
          }
        }
      }
    }
    *cli.out << FormatKeyValues(lines);
  }
  if (report.verification.has_value() && !verified) {
    return ReportLocalError(*cli.err, "the report of " + RefText(artifact) +
                                          " does not verify: " +
                                          report.verification->FirstFailure());
  }
  return kExitOk;
}

}  // namespace

void AddStatusCommand(CLI::App& app, CommandLine& cli) {
  auto opts = std::make_shared<StatusOptions>();
  CLI::App* cmd = app.add_subcommand(
      "status",
      "Show where an artifact stands on its way to release: its stage and why, each release "
      "check (validation, every gate condition, signatures, policy) with what it observed, the "
      "latest validation job, and the summary of the latest signed evaluation report.");
  cmd->add_option("ARTIFACT", opts->ref,
                  "NAME@VERSION (or NAME: the highest released version)")
      ->required();
  cmd->add_option("--registry-key", opts->registry_keys,
                  "The registry's public key (PEM) to verify the report with [env: "
                  "SOV_REGISTRY_KEY; config: registry_key]; repeat for rotated keys")
      ->allow_extra_args(false)
      ->option_text("FILE");
  cmd->footer(
      "Prints `key: value` lines: artifact, digest, stage, why (the reason and deciding rule of\n"
      "the last stage change, e.g. the failed gate with its FILE:LINE), release and one `check`\n"
      "line per release check; for models the latest job (state, attempt, backend, outcome)\n"
      "and the latest report: accuracy and macro-F1 per dataset and one `gate` line per\n"
      "condition, `OUTCOME GATE: CONDITION (observed VALUE) at FILE:LINE`. The report is\n"
      "verified with the registry key when one is configured (exit 1 if it does not verify).\n"
      "With --output json: {\"artifact\", \"digest\", \"kind\", \"stage\", \"reason\", \"rule\",\n"
      "\"rule_location\", \"release_status\", \"latest_job\", \"report\": {\"verified\",\n"
      "\"summary\"}}.\n"
      "\n"
      "Examples:\n"
      "  sovctl status acme-ml/fraud/classifier@1.4.0\n"
      "  sovctl status acme-ml/fraud/classifier@1.4.0 --output json | jq -r .stage");
  cmd->callback([&cli, opts] { cli.run = [&cli, opts] { return RunStatus(cli, *opts); }; });
}

}  // namespace sov::cli
