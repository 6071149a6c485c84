// `sovctl retention plan`, `sovctl retention sweep` and `sovctl records export`: the compliance
// officer's view of retention (GDPR Art. 5(1)(e)) and the records of processing (Art. 30),
// over GovernanceService. CSV output follows RFC 4180 (a header row, CRLF line ends, fields with
// a comma, quote or line break quoted, quotes doubled); lists inside a field are joined with ';'.

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cli/artifact_flags.h"
#include "cli/commands.h"
#include "cli/durable_file.h"
#include "cli/gateway_connection.h"
#include "cli/proto_interop.h"
#include "cli/registry_calls.h"
#include "sov/v1/governance.grpc.pb.h"

namespace sov::cli {

// Returns `field` as an RFC 4180 CSV field: quoted when it holds a comma, a quote, CR or LF
// (quotes doubled), else as is.
std::string CsvField(std::string_view field);

namespace {

using nlohmann::ordered_json;

std::string Ref(const v1::ArtifactRef& ref) { return ref.name() + "@" + ref.version(); }

std::string Location(const v1::SourceLocation& location) {
  std::string out = location.file();
  if (location.line() > 0) out += ":" + std::to_string(location.line());
  if (location.column() > 0) out += ":" + std::to_string(location.column());
  return out;
}

// ---- retention plan ----

struct PlanOptions {
  std::string horizon;
  std::string kind;
  std::string classification;
  std::string owner;
};

// "retention:LINE (FILE:LINE:COL)" for a policy entry; a deadline the pusher's retain_until set
// has no place in the policy file, and says where it came from instead.
std::string RuleText(const v1::RetentionItem& item) {
  if (item.rule_id() == "retain_until") return "retain_until (set at push)";
  const std::string location = Location(item.rule_location());
  if (location.empty()) return item.rule_id();
  return item.rule_id() + " (" + location + ")";
}

std::vector<std::string> PlanHeader() {
  return {"DEADLINE", "ACTION", "ARTIFACT", "KIND", "CLASSIFICATION", "OWNER", "STAGE", "RULE"};
}

std::vector<std::string> PlanRow(const v1::RetentionItem& item) {
  return {TimestampText(item.deadline()),
          EnumFlagName(item.action()),
          Ref(item.artifact()),
          EnumFlagName(item.kind()),
          EnumFlagName(item.classification()),
          item.owner_tenant(),
          EnumFlagName(item.stage()),
          RuleText(item)};
}

int RunPlan(const CommandLine& cli, const PlanOptions& opts) {
  v1::GetRetentionPlanRequest request;
  if (!opts.horizon.empty()) {
    Result<google::protobuf::Timestamp> horizon =
        ParseTimeOrDurationFromNow("--horizon", opts.horizon);
    if (!horizon.ok()) {
      return ReportUsageError(*cli.err, "retention plan", horizon.status().message());
    }
    *request.mutable_horizon() = *horizon;
  }
  if (!opts.kind.empty()) {
    Result<v1::ArtifactKind> kind = ParseEnumFlag<v1::ArtifactKind>("--kind", opts.kind);
    if (!kind.ok()) return ReportUsageError(*cli.err, "retention plan", kind.status().message());
    request.set_kind(*kind);
  }
  if (!opts.classification.empty()) {
    Result<v1::Classification> classification =
        ParseEnumFlag<v1::Classification>("--classification", opts.classification);
    if (!classification.ok()) {
      return ReportUsageError(*cli.err, "retention plan", classification.status().message());
    }
    request.set_classification(*classification);
  }
  request.set_owner_tenant(opts.owner);
  request.set_page_size(1000);

  Result<GatewayConnection> connection = OpenGatewayConnection(cli.connection, cli.env);
  if (!connection.ok()) return ReportLocalError(*cli.err, connection.status());
  auto stub = v1::GovernanceService::NewStub(connection->channel());
  std::vector<v1::RetentionItem> items;
  std::string policy_digest;
  for (;;) {
    v1::GetRetentionPlanResponse response;
    Status st = CallGateway([&](grpc::ClientContext& context) {
      connection->PrepareCall(context);
      response.Clear();
      return stub->GetRetentionPlan(&context, request, &response);
    });
    if (!st.ok()) return ReportLocalError(*cli.err, st);
    policy_digest = response.policy_digest();
    for (const v1::RetentionItem& item : response.items()) items.push_back(item);
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }

  if (cli.output == OutputFormat::kJson) {
    ordered_json list = ordered_json::array();
    for (const v1::RetentionItem& item : items) list.push_back(ProtoToJson(item));
    WriteJson(*cli.out, {{"policy_digest", policy_digest}, {"items", std::move(list)}});
    return kExitOk;
  }
  if (items.empty()) {
    *cli.err << "sovctl: no artifact reaches its retention deadline before the horizon (policy "
             << policy_digest << ")\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const v1::RetentionItem& item : items) rows.push_back(PlanRow(item));
  *cli.out << FormatTable(PlanHeader(), rows);
  *cli.err << "sovctl: " << items.size() << " artifacts; retention rules of policy "
           << policy_digest << "\n";
  return kExitOk;
}

// ---- retention sweep ----

struct SweepOptions {
  bool dry_run = false;
};

int RunSweep(const CommandLine& cli, const SweepOptions& opts) {
  Result<GatewayConnection> connection = OpenGatewayConnection(cli.connection, cli.env);
  if (!connection.ok()) return ReportLocalError(*cli.err, connection.status());
  auto stub = v1::GovernanceService::NewStub(connection->channel());
  v1::SweepRetentionRequest request;
  request.set_dry_run(opts.dry_run);
  v1::SweepRetentionResponse response;
  // A sweep over many artifacts takes as long as their erasures: no --timeout deadline.
  Status st = CallGateway([&](grpc::ClientContext& context) {
    connection->PrepareCall(context, GatewayConnection::Deadline::kNone);
    response.Clear();
    return stub->SweepRetention(&context, request, &response);
  });
  if (!st.ok()) return ReportLocalError(*cli.err, st);

  if (cli.output == OutputFormat::kJson) {
    WriteJson(*cli.out, {{"dry_run", opts.dry_run}, {"result", ProtoToJson(response)}});
  } else {
    if (response.items_size() > 0) {
      std::vector<std::vector<std::string>> rows;
      for (const v1::RetentionItem& item : response.items()) rows.push_back(PlanRow(item));
      *cli.out << FormatTable(PlanHeader(), rows);
    }
    const std::string would = opts.dry_run ? "would be " : "";
    *cli.out << FormatKeyValues(
        {{opts.dry_run ? "dry run" : "swept", opts.dry_run ? "nothing was changed" : "done"},
         {would + "erased", std::to_string(response.erased_count())},
         {would + "revoked", std::to_string(response.revoked_count())},
         {"failed", std::to_string(response.failed_count())}});
    if (response.truncated()) {
      *cli.err << "sovctl: the list is truncated; the counts cover every artifact\n";
    }
  }
  if (response.failed_count() > 0) {
    return ReportLocalError(*cli.err,
                            std::to_string(response.failed_count()) +
                                " retention actions failed and will be retried at the next sweep; "
                                "`sovctl audit query --action retention.erase --action "
                                "retention.revoke` shows why");
  }
  return kExitOk;
}

// ---- records export ----

struct RecordsOptions {
  std::string format = "json";
  std::string out = "-";
  std::string owner;
  bool include_erased = false;
  bool include_models = false;
};

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ";") + item;
  return out;
}

const std::vector<std::string>& CsvHeader() {
  static const std::vector<std::string> header = {
      "name", "version", "digest", "kind", "owner_tenant", "purposes", "lawful_basis",
      "special_category_condition", "classification", "storage_location", "storage_jurisdiction",
      "stage", "create_time", "erase_time", "retention_deadline", "retention_action",
      "derived_models", "recipients", "third_country_recipients"};
  return header;
}

// One recipient as "TENANT[JURISDICTION] fetched xCOUNT" or "... via NAME@VERSION xCOUNT".
std::string RecipientText(const v1::Recipient& r) {
  std::string how = r.kind() == v1::RECIPIENT_KIND_VIA_DERIVED_MODEL ? "via " + Ref(r.via())
                                                                      : std::string("fetched");
  return r.tenant_id() + "[" + r.jurisdiction() + "] " + how + " x" +
         std::to_string(r.fetch_count());
}

std::string CsvRow(const v1::ProcessingRecord& record) {
  std::vector<std::string> purposes(record.purposes().begin(), record.purposes().end());
  std::vector<std::string> derived;
  for (const v1::ArtifactRef& ref : record.derived_models()) derived.push_back(Ref(ref));
  std::vector<std::string> recipients;
  std::vector<std::string> third;
  std::set<std::string> third_seen;
  for (const v1::Recipient& r : record.recipients()) {
    recipients.push_back(RecipientText(r));
    if (r.third_country_transfer() && third_seen.insert(r.tenant_id()).second) {
      third.push_back(r.tenant_id() + "[" + r.jurisdiction() + "]");
    }
  }
  const std::vector<std::string> fields = {
      record.artifact().name(),
      record.artifact().version(),
      record.artifact().digest(),
      EnumFlagName(record.kind()),
      record.owner_tenant(),
      Join(purposes),
      record.lawful_basis() == v1::LAWFUL_BASIS_UNSPECIFIED ? "" : EnumFlagName(record.lawful_basis()),
      record.special_category_condition() == 0 ? ""
                                               : EnumFlagName(record.special_category_condition()),
      EnumFlagName(record.classification()),
      record.storage_location().id(),
      record.storage_location().jurisdiction(),
      EnumFlagName(record.stage()),
      TimestampText(record.create_time()),
      record.has_erase_time() ? TimestampText(record.erase_time()) : "",
      record.has_retention_deadline() ? TimestampText(record.retention_deadline()) : "",
      EnumFlagName(record.retention_action()),
      Join(derived),
      Join(recipients),
      Join(third)};
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) line += (i == 0 ? "" : ",") + CsvField(fields[i]);
  return line + "\r\n";
}

int RunRecordsExport(const CommandLine& cli, const RecordsOptions& opts) {
  const bool csv = opts.format == "csv";
  Result<GatewayConnection> connection = OpenGatewayConnection(cli.connection, cli.env);
  if (!connection.ok()) return ReportLocalError(*cli.err, connection.status());
  auto stub = v1::GovernanceService::NewStub(connection->channel());

  // To a file: FILE.part, renamed once the stream ended OK, so FILE is always a whole export.
  Result<ExportSink> opened = ExportSink::Open(opts.out, *cli.out);
  if (!opened.ok()) return ReportLocalError(*cli.err, opened.status());
  ExportSink& export_sink = *opened;
  std::ostream& sink = export_sink.stream();

  grpc::ClientContext context;
  connection->PrepareCall(context, GatewayConnection::Deadline::kNone);
  v1::ExportProcessingRecordsRequest request;
  request.set_owner_tenant(opts.owner);
  request.set_include_erased(opts.include_erased);
  request.set_include_models(opts.include_models);
  std::unique_ptr<grpc::ClientReader<v1::ExportProcessingRecordsResponse>> reader =
      stub->ExportProcessingRecords(&context, request);
  if (csv) {
    std::string header;
    for (const std::string& column : CsvHeader()) header += (header.empty() ? "" : ",") + column;
    sink << header << "\r\n";
  } else {
    sink << "{\"records\": [";
  }
  v1::ExportProcessingRecordsResponse message;
  int64_t count = 0;
  while (reader->Read(&message)) {
    if (csv) {
      sink << CsvRow(message.record());
    } else {
      sink << (count == 0 ? "\n  " : ",\n  ") << ProtoToJsonLine(message.record());
    }
    ++count;
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) {
    export_sink.Abandon();
    return ReportRpcError(*cli.err, status, context);
  }
  if (!csv) sink << (count == 0 ? "]}\n" : "\n]}\n");
  if (Status st = export_sink.Commit(); !st.ok()) return ReportLocalError(*cli.err, st);
  if (export_sink.to_stdout()) return kExitOk;
  if (cli.output == OutputFormat::kJson) {
    WriteJson(*cli.out, {{"file", opts.out}, {"format", opts.format}, {"records", count}});
  } else {
    *cli.out << FormatKeyValues(
        {{"file", opts.out}, {"format", opts.format}, {"records", std::to_string(count)}});
  }
  return kExitOk;
}

}  // namespace

std::string CsvField(std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(field);
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void AddGovernanceCommands(CLI::App& app, CommandLine& cli) {
  CLI::App* retention_cmd = app.add_subcommand(
      "retention",
      "Show and apply the policy's retention rules (GDPR Art. 5(1)(e), storage limitation): "
      "which artifacts reach their deadline, and what happens to them then.");
  retention_cmd->require_subcommand(1);
  retention_cmd->footer(
      "The deadline is the artifact's creation time plus the max_age of the first retention\n"
      "entry of the policy in force that applies to it; at the deadline the gateway's sweeper\n"
      "erases (crypto-shreds) or revokes it, as the entry's at_deadline says. A changed policy\n"
      "applies to artifacts pushed before the change. A pusher's retain_until earlier than that\n"
      "deadline (or set where the policy has none) erases the artifact at retain_until.\n"
      "Both commands need the policy to allow the action (retention.read, retention.sweep),\n"
      "usually granted to compliance officers.\n"
      "\n"
      "Examples:\n"
      "  sovctl retention plan --horizon 90d --classification personal\n"
      "  sovctl retention sweep --dry-run");

  auto plan = std::make_shared<PlanOptions>();
  CLI::App* plan_cmd = retention_cmd->add_subcommand(
      "plan",
      "List the artifacts whose retention deadline falls before a horizon (deadlines already "
      "past included), soonest first, with the action and the rule that sets it.");
  plan_cmd->add_option("--horizon", plan->horizon,
                       "Until when: a duration from now (30d, 12h, 2w) or a date / RFC 3339 "
                       "time [30d]")
      ->option_text("DURATION|DATE");
  plan_cmd->add_option("--kind", plan->kind, "Only this kind")
      ->check(CLI::IsMember(EnumFlagNames<v1::ArtifactKind>()))
      ->option_text("dataset|model|report");
  plan_cmd->add_option("--classification", plan->classification,
                       "Only this (effective) classification")
      ->check(CLI::IsMember(EnumFlagNames<v1::Classification>()))
      ->option_text("CLASSIFICATION");
  plan_cmd->add_option("--owner", plan->owner, "Only artifacts of this owner tenant")
      ->option_text("TENANT");
  plan_cmd->footer(
      "Prints a table: DEADLINE ACTION ARTIFACT KIND CLASSIFICATION OWNER STAGE RULE, where\n"
      "RULE is the retention entry (retention:LINE, by its line in the policy file) and its\n"
      "FILE:LINE:COL, or \"retain_until (set at push)\" where the pusher's own earlier limit\n"
      "sets the deadline (action erase). ACTION revoke on an artifact that is not released\n"
      "changes nothing at the deadline. With --output json:\n"
      "{\"policy_digest\", \"items\": [<RetentionItem>...]}.\n"
      "\n"
      "Examples:\n"
      "  sovctl retention plan\n"
      "  sovctl retention plan --horizon 2027-06-30 --kind dataset --owner acme-ml");
  plan_cmd->callback([&cli, plan] { cli.run = [&cli, plan] { return RunPlan(cli, *plan); }; });

  auto sweep = std::make_shared<SweepOptions>();
  CLI::App* sweep_cmd = retention_cmd->add_subcommand(
      "sweep",
      "Run the gateway's retention sweeper now instead of at its next scheduled run: erase or "
      "revoke every artifact past its deadline, each change audited.");
  sweep_cmd->add_flag("--dry-run", sweep->dry_run, "Only list what would be done; change nothing");
  sweep_cmd->footer(
      "Prints the artifacts acted on (the plan's table) and the counts. Erasure also applies the\n"
      "policy's lineage rules to models derived from the erased data. An action that fails is\n"
      "counted, recorded in the audit log and retried at the next sweep; sovctl then exits 1.\n"
      "Sweeping twice is safe: what is done is skipped.\n"
      "\n"
      "Examples:\n"
      "  sovctl retention sweep --dry-run\n"
      "  sovctl retention sweep --output json");
  sweep_cmd->callback([&cli, sweep] { cli.run = [&cli, sweep] { return RunSweep(cli, *sweep); }; });

  CLI::App* records_cmd = app.add_subcommand(
      "records",
      "Records of processing activities (GDPR Art. 30), built from the registry and the audit "
      "log.");
  records_cmd->require_subcommand(1);
  auto records = std::make_shared<RecordsOptions>();
  CLI::App* export_cmd = records_cmd->add_subcommand(
      "export",
      "Export one record per dataset (and per model with --include-models): purposes, lawful "
      "basis, classification, storage jurisdiction, recipients, derived models, retention.");
  export_cmd->add_option("--format", records->format, "Output format [json]")
      ->check(CLI::IsMember({"json", "csv"}))
      ->option_text("json|csv");
  export_cmd->add_option("-o,--out", records->out, "Write to FILE instead of stdout ('-')")
      ->option_text("FILE");
  export_cmd->add_option("--owner", records->owner, "Only artifacts of this owner tenant")
      ->option_text("TENANT");
  export_cmd->add_flag("--include-erased", records->include_erased,
                       "Also erased artifacts (their records stay; the data is gone)");
  export_cmd->add_flag("--include-models", records->include_models,
                       "Also one record per model, with its own recipients");
  export_cmd->footer(
      "Recipients are the tenants whose fetch of the artifact the policy allowed (from the audit\n"
      "log), and the tenants that fetched a model derived from it, transitively. A recipient\n"
      "outside the policy's EEA jurisdiction group (or the 30 EEA states when the policy has\n"
      "none) is a third-country transfer. Needs the policy to allow records.export, a\n"
      "compliance permission: the export covers every tenant.\n"
      "\n"
      "JSON: {\"records\": [<ProcessingRecord>...]} in proto3 JSON, one record per line.\n"
      "CSV (RFC 4180): a header row, then one row per record; lists joined with ';'. A\n"
      "recipient reads TENANT[JURISDICTION] fetched xCOUNT, or TENANT[JURISDICTION] via\n"
      "MODEL@VERSION xCOUNT; third_country_recipients lists TENANT[JURISDICTION].\n"
      "With -o FILE the export is written to FILE.part and renamed when complete.\n"
      "\n"
      "Examples:\n"
      "  sovctl records export --format csv -o records.csv\n"
      "  sovctl records export --owner acme-ml --include-models | jq '.records[].recipients'");
  export_cmd->callback(
      [&cli, records] { cli.run = [&cli, records] { return RunRecordsExport(cli, *records); }; });
}

}  // namespace sov::cli
