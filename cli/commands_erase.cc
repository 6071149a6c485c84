// `sovctl erase NAME@VERSION --reason TEXT`: GDPR Art. 17 erasure by crypto-shredding
// (GovernanceService.Erase). Asks for confirmation on a terminal unless --yes; --dry-run shows
// what would happen. Prints the tombstone, the signed erasure record's key id and every lineage
// effect (revoked, flagged for retraining, or listed) with the policy rule that chose it.
#include <unistd.h>

#include <iostream>
#include <memory>
#include <string>

#include <google/protobuf/util/time_util.h>

#include "cli/artifact_flags.h"
#include "cli/artifact_output.h"
#include "cli/artifact_ref.h"
#include "cli/commands.h"
#include "cli/gateway_connection.h"
#include "cli/proto_interop.h"
#include "cli/registry_calls.h"
#include "common/utf8.h"
#include "sov/v1/governance.grpc.pb.h"

namespace sov::cli {
namespace {

constexpr size_t kMaxReasonChars = 1024;
constexpr size_t kMaxSubjectRequestChars = 256;

struct EraseOptions {
  std::string ref;
  std::string reason;
  std::string subject_request;
  bool dry_run = false;
  bool yes = false;
};

std::string LocationText(const v1::SourceLocation& location) {
  if (location.file().empty() && location.line() == 0) return "";
  std::string out = location.file();
  if (location.line() > 0) out += ":" + std::to_string(location.line());
  if (location.column() > 0) out += ":" + std::to_string(location.column());
  return out;
}

std::string EffectLine(const v1::LineageEffect& effect) {
  std::string line = RefText(effect.artifact()) + " (" + EnumFlagName(effect.kind()) + "): " +
                     EnumFlagName(effect.action()) + ", " + EnumFlagName(effect.previous_stage());
  if (effect.new_stage() != effect.previous_stage()) {
    line += " -> " + EnumFlagName(effect.new_stage());
  }
  line += " [rule " + effect.rule_id();
  if (std::string at = LocationText(effect.rule_location()); !at.empty()) line += " " + at;
  line += "]";
  if (effect.path_size() > 2) {
    std::string via;
    for (int i = 1; i + 1 < effect.path_size(); ++i) {
      via += (via.empty() ? "" : " -> ") + RefText(effect.path(i));
    }
    line += " via " + via;
  }
  return line;
}

// Asks on the terminal; true only for an explicit "yes".
bool Confirm(const CommandLine& cli, const std::string& ref) {
  *cli.err << "Erase " << ref
           << " for good? Its data key is destroyed: no copy of its bytes can be read again, "
              "and models derived from it are handled as the policy's lineage rules say.\n"
              "Type 'yes' to erase: "
           << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "yes";
}

int RunErase(const CommandLine& cli, const EraseOptions& opts) {
  Result<ArtifactRefText> ref = ParseArtifactRef(opts.ref, VersionRule::kRequired);
  if (!ref.ok()) return ReportUsageError(*cli.err, "erase", ref.status().message());
  if (opts.reason.empty() || CodePoints(opts.reason) > kMaxReasonChars) {
    return ReportUsageError(*cli.err, "erase", "--reason must be 1 to 1024 characters");
  }
  if (CodePoints(opts.subject_request) > kMaxSubjectRequestChars) {
    return ReportUsageError(*cli.err, "erase", "--subject-request must be at most 256 characters");
  }
  const std::string ref_text = ref->name + "@" + ref->version;
  if (!opts.dry_run && !opts.yes) {
    if (::isatty(STDIN_FILENO) != 1 || ::isatty(STDERR_FILENO) != 1) {
      return ReportUsageError(*cli.err, "erase",
                              "erasure cannot be undone; pass --yes to confirm it without a "
                              "terminal (or --dry-run to see what it would do)");
    }
    if (!Confirm(cli, ref_text)) return ReportLocalError(*cli.err, "not erased: not confirmed");
  }

  Result<GatewayConnection> connection = OpenGatewayConnection(cli.connection, cli.env);
  if (!connection.ok()) return ReportLocalError(*cli.err, connection.status());
  auto stub = v1::GovernanceService::NewStub(connection->channel());
  v1::EraseRequest request;
  request.mutable_artifact()->set_name(ref->name);
  request.mutable_artifact()->set_version(ref->version);
  request.set_reason(opts.reason);
  request.set_subject_request_id(opts.subject_request);
  request.set_dry_run(opts.dry_run);
  v1::EraseResponse response;
  // Not retried: an erasure whose reply was lost is repeated by running the command again,
  // which is safe (erasing an erased artifact completes its propagation and changes nothing).
  Status st = CallGateway([&](grpc::ClientContext& context) {
    connection->PrepareCall(context);
    response.Clear();
    return stub->Erase(&context, request, &response);
  });
  if (!st.ok()) return ReportLocalError(*cli.err, st);

  if (cli.output == OutputFormat::kJson) {
    WriteJson(*cli.out, ProtoToJson(response));
    return kExitOk;
  }
  KeyValues lines;
  lines.emplace_back("artifact", ref_text);
  if (opts.dry_run) {
    lines.emplace_back("dry_run", "nothing was changed; this is what erasing would do");
  } else {
    const v1::Tombstone& t = response.tombstone();
    lines.emplace_back("stage", "erased");
    lines.emplace_back("digest", t.artifact().digest());
    lines.emplace_back("size", std::to_string(t.size_bytes()));
    lines.emplace_back("erased_at",
                       google::protobuf::util::TimeUtil::ToString(t.erase_time()));
    std::string by = t.erased_by().tenant_id();
    if (by.empty()) by = t.system_actor();
    if (!by.empty()) lines.emplace_back("erased_by", by);
    lines.emplace_back("reason", t.reason());
    if (!t.subject_request_id().empty()) {
      lines.emplace_back("subject_request", t.subject_request_id());
    }
    lines.emplace_back("audit_entry", std::to_string(t.audit_index()));
    const v1::DsseEnvelope& record = response.erasure_record();
    std::string signer = record.signatures_size() > 0 ? record.signatures(0).keyid() : "";
    lines.emplace_back("erasure_record",
                       record.payload_type() + (signer.empty() ? "" : ", signed by " + signer));
  }
  if (response.has_decision()) {
    std::string rule = response.decision().rule_id();
    if (std::string at = LocationText(response.decision().location()); !at.empty()) {
      rule += " (" + at + ")";
    }
    lines.emplace_back("decision", EnumFlagName(response.decision().effect()) + " by " + rule);
  }
  if (response.effects().empty()) {
    lines.emplace_back("lineage", "no artifact is derived from it");
  }
  for (const v1::LineageEffect& effect : response.effects()) {
    lines.emplace_back("effect", EffectLine(effect));
  }
  *cli.out << FormatKeyValues(lines);
  return kExitOk;
}

}  // namespace

void AddEraseCommand(CLI::App& app, CommandLine& cli) {
  auto opts = std::make_shared<EraseOptions>();
  CLI::App* cmd = app.add_subcommand(
      "erase",
      "Erase an artifact version (GDPR Art. 17) by crypto-shredding: the gateway destroys its "
      "data key (from then on no copy of its bytes can be read), deletes the stored bytes, keeps "
      "a tombstone and appends a registry-signed erasure record to the audit log. Every artifact "
      "derived from it, transitively, is revoked, flagged for retraining or listed, as the "
      "policy's lineage rules say. Needs the artifact.erase permission (compliance officers).");
  cmd->add_option("ARTIFACT", opts->ref, "NAME@VERSION")->required();
  cmd->add_option("--reason", opts->reason,
                  "Why, kept in the tombstone and the erasure record (1 to 1024 characters); "
                  "required")
      ->required()
      ->option_text("TEXT");
  cmd->add_option("--subject-request", opts->subject_request,
                  "The data subject request's reference, e.g. a ticket id (at most 256 "
                  "characters)")
      ->option_text("ID");
  cmd->add_flag("--dry-run", opts->dry_run, "Change nothing; show what erasing would do");
  cmd->add_flag("--yes,-y", opts->yes, "Do not ask for confirmation (needed without a terminal)");
  cmd->footer(
      "Prints the tombstone (digest, size, when, by whom, why, audit entry), the erasure\n"
      "record's payload type and key id, and one `effect:` line per derived artifact:\n"
      "  NAME@VERSION (KIND): ACTION, STAGE -> NEW_STAGE [rule ID FILE:LINE:COL] via PATH\n"
      "Erasing an erased artifact again is safe: it completes a propagation that was\n"
      "interrupted. With --output json: the EraseResponse in proto3 JSON.\n"
      "\n"
      "Examples:\n"
      "  sovctl erase acme-ml/customers@2.1.0 --reason \"Art. 17 request\" --dry-run\n"
      "  sovctl erase acme-ml/customers@2.1.0 --reason \"Art. 17 request\" \\\n"
      "    --subject-request DSR-2024-0042 --yes");
  cmd->callback([&cli, opts] { cli.run = [&cli, opts] { return RunErase(cli, *opts); }; });
}

}  // namespace sov::cli
