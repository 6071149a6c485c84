// `sovctl audit tail`, `audit query`, `audit export` and `audit verify`: reading the gateway's
// tamper-evident audit log, exporting it as JSON lines, and verifying an export (or the live
// log) against the registry key offline. The verification itself is cli/audit_verify.h.

#include <cerrno>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/artifact_flags.h"
#include "cli/artifact_output.h"
#include "cli/artifact_ref.h"
#include "cli/audit_verify.h"
#include "cli/commands.h"
#include "cli/durable_file.h"
#include "cli/gateway_connection.h"
#include "cli/listing.h"
#include "cli/proto_interop.h"
#include "cli/registry_calls.h"
#include "cli/registry_key.h"
#include "sov/v1/audit.grpc.pb.h"

namespace sov::cli {
namespace {

using nlohmann::ordered_json;

void PrintEntry(const CommandLine& cli, const v1::AuditEntry& entry) {
  // One line per entry in both formats (JSON lines), flushed so that a pipe sees it at once.
  if (cli.output == OutputFormat::kJson) {
    *cli.out << ProtoToJsonLine(entry) << '\n' << std::flush;
  } else {
    *cli.out << AuditEntryLine(entry) << '\n' << std::flush;
  }
}

// ---- tail ----

struct TailOptions {
  int lines = 10;
  bool follow = false;
  bool from_now = false;
};

int RunTail(const CommandLine& cli, const TailOptions& opts) {
  Result<GatewayConnection> connection = OpenGatewayConnection(cli.connection, cli.env);
  if (!connection.ok()) return ReportLocalError(*cli.err, connection.status());
  auto stub = v1::AuditService::NewStub(connection->channel());

  int64_t next_index = 0;
  if (!opts.from_now && opts.lines > 0) {
    v1::QueryRequest request;
    request.set_descending(true);
    request.set_page_size(opts.lines);
    v1::QueryResponse response;
    Status st = CallGateway([&](grpc::ClientContext& context) {
      connection->PrepareCall(context);
      response.Clear();
      return stub->Query(&context, request, &response);
    });
    if (!st.ok()) return ReportLocalError(*cli.err, st);
    // Newest first from the gateway; printed oldest first, as tail does.
    for (auto it = response.entries().rbegin(); it != response.entries().rend(); ++it) {
      PrintEntry(cli, *it);
      next_index = std::max(next_index, it->index() + 1);
    }
  }
  if (!opts.follow && !opts.from_now) return kExitOk;

  // Follow: a stream that ends (the gateway restarting) is resumed after the last index seen.
  // With nothing printed yet (--from-now, -n 0, or nothing to see), it starts at the next entry
  // appended rather than replaying the whole log.
  bool from_now = next_index == 0;
  int failures = 0;
  for (;;) {
    grpc::ClientContext context;
    connection->PrepareCall(context, GatewayConnection::Deadline::kNone);
    v1::TailRequest request;
    request.set_from_now(from_now);
    if (!from_now) request.mutable_filter()->set_start_index(next_index);
    std::unique_ptr<grpc::ClientReader<v1::TailResponse>> reader = stub->Tail(&context, request);
    v1::TailResponse response;
    bool received = false;
    while (reader->Read(&response)) {
      PrintEntry(cli, response.entry());
      next_index = response.entry().index() + 1;
      received = true;
      from_now = false;
    }
    grpc::Status status = reader->Finish();
    if (received) failures = 0;
    if (status.ok()) return kExitOk;
    if (!IsRetryable(status.error_code()) || ++failures > kMaxRetries) {
      return ReportRpcError(*cli.err, status, context);
    }
    SleepBeforeRetry(failures);
  }
}

// ---- query ----

struct QueryOptions {
  std::string tenant;
  std::vector<std::string> actions;
  std::string effect;
  std::string artifact;
  std::string since;
  std::string until;
  int limit = 100;
};

int RunQuery(const CommandLine& cli, const QueryOptions& opts) {
  v1::QueryRequest request;
  v1::AuditFilter* filter = request.mutable_filter();
  filter->set_tenant_id(opts.tenant);
  for (const std::string& action : opts.actions) filter->add_actions(action);
  if (!opts.effect.empty()) {
    Result<v1::Effect> effect = ParseEnumFlag<v1::Effect>("--effect", opts.effect);
    if (!effect.ok()) return ReportUsageError(*cli.err, "audit query", effect.status().message());
    filter->set_effect(*effect);
  }
  if (!opts.artifact.empty()) {
    Result<ArtifactRefText> ref = ParseArtifactRef(opts.artifact, VersionRule::kOptional);
    if (!ref.ok()) {
      return ReportUsageError(*cli.err, "audit query", ref.status().WithContext("--artifact").message());
    }
    filter->mutable_artifact()->set_name(ref->name);
    filter->mutable_artifact()->set_version(ref->version);
  }
  if (!opts.since.empty()) {
    Result<google::protobuf::Timestamp> since = ParseTimestamp("--since", opts.since);
    if (!since.ok()) return ReportUsageError(*cli.err, "audit query", since.status().message());
    *filter->mutable_window()->mutable_start_time() = *since;
  }
  if (!opts.until.empty()) {
    Result<google::protobuf::Timestamp> until = ParseTimestamp("--until", opts.until);
    if (!until.ok()) return ReportUsageError(*cli.err, "audit query", until.status().message());
    *filter->mutable_window()->mutable_end_time() = *until;
  }
  if (opts.limit < 0) return ReportUsageError(*cli.err, "audit query", "--limit must not be negative");

  Result<GatewayConnection> connection = OpenGatewayConnection(cli.connection, cli.env);
  if (!connection.ok()) return ReportLocalError(*cli.err, connection.status());
  auto stub = v1::AuditService::NewStub(connection->channel());
  std::vector<v1::AuditEntry> entries;
  const size_t limit = opts.limit == 0 ? SIZE_MAX : static_cast<size_t>(opts.limit);
  for (;;) {
    request.set_page_size(static_cast<int32_t>(std::min<size_t>(1000, limit - entries.size())));
    v1::QueryResponse response;
    Status st = CallGateway([&](grpc::ClientContext& context) {
      connection->PrepareCall(context);
      response.Clear();
      return stub->Query(&context, request, &response);
    });
    if (!st.ok()) return ReportLocalError(*cli.err, st);
    for (const v1::AuditEntry& entry : response.entries()) {
      if (entries.size() < limit) entries.push_back(entry);
    }
    if (response.next_page_token().empty() || entries.size() >= limit) break;
    request.set_page_token(response.next_page_token());
  }

  return PrintListing(cli, "entries", entries, "no audit entries match", AuditTableHeader(),
                      AuditTableRow);
}

// ---- export ----

struct ExportOptions {
  std::string out;
  int64_t start = 0;
  int64_t end = 0;
};

int RunExport(const CommandLine& cli, const ExportOptions& opts) {
  if (opts.start < 0 || opts.end < 0 || (opts.end != 0 && opts.end <= opts.start)) {
    return ReportUsageError(*cli.err, "audit export",
                            "--start and --end must be indexes with start < end (--end 0: up to "
                            "the latest checkpoint)");
  }
  Result<GatewayConnection> connection = OpenGatewayConnection(cli.connection, cli.env);
  if (!connection.ok()) return ReportLocalError(*cli.err, connection.status());
  auto stub = v1::AuditService::NewStub(connection->channel());

  // To a file: FILE.part, renamed once the stream ended OK, so FILE is always a whole export.
  Result<ExportSink> opened = ExportSink::Open(opts.out, *cli.out);
  if (!opened.ok()) return ReportLocalError(*cli.err, opened.status());
  ExportSink& export_sink = *opened;
  std::ostream& sink = export_sink.stream();

  grpc::ClientContext context;
  connection->PrepareCall(context, GatewayConnection::Deadline::kNone);
  v1::ExportRequest request;
  request.set_start_index(opts.start);
  request.set_end_index(opts.end);
  std::unique_ptr<grpc::ClientReader<v1::ExportResponse>> reader = stub->Export(&context, request);
  v1::ExportResponse record;
  uint64_t entries = 0, checkpoints = 0;
  int64_t first = -1, last = -1;
  while (reader->Read(&record)) {
    sink << ProtoToJsonLine(record) << '\n';
    if (record.has_entry()) {
      if (first < 0) first = record.entry().index();
      last = record.entry().index();
      ++entries;
    } else if (record.has_checkpoint()) {
      ++checkpoints;
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) {
    export_sink.Abandon();
    return ReportRpcError(*cli.err, status, context);
  }
  if (Status st = export_sink.Commit(); !st.ok()) return ReportLocalError(*cli.err, st);
  if (export_sink.to_stdout()) return kExitOk;

  if (cli.output == OutputFormat::kJson) {
    WriteJson(*cli.out, {{"file", opts.out},
                         {"entries", entries},
                         {"checkpoints", checkpoints},
                         {"first_index", first < 0 ? ordered_json(nullptr) : ordered_json(first)},
                         {"last_index", last < 0 ? ordered_json(nullptr) : ordered_json(last)}});
  } else {
    std::string range = first < 0 ? std::string("none")
                                  : std::to_string(first) + " to " + std::to_string(last);
    *cli.out << FormatKeyValues({{"file", opts.out},
                                 {"entries", std::to_string(entries) + " (index " + range + ")"},
                                 {"checkpoints", std::to_string(checkpoints)}});
  }
  return kExitOk;
}

// ---- verify ----

struct AuditVerifyOptions {
  std::string file;
  std::vector<std::string> registry_keys;
  bool trust_server_key = false;
};

int ReportAuditVerification(const CommandLine& cli, const Result<AuditVerification>& result) {
  if (!result.ok()) {
    if (cli.output == OutputFormat::kJson) {
      WriteJson(*cli.out, {{"verified", false}, {"error", result.status().message()}});
    }
    return ReportLocalError(*cli.err, "audit log verification failed: " + result.status().message());
  }
  const AuditVerification& v = *result;
  constexpr size_t kMaxWarnings = 10;
  for (size_t i = 0; i < v.warnings.size() && i < kMaxWarnings; ++i) {
    *cli.err << "sovctl: warning: " << OneLine(v.warnings[i]) << '\n';
  }
  if (v.warnings.size() > kMaxWarnings) {
    *cli.err << "sovctl: warning: ... and " << v.warnings.size() - kMaxWarnings
             << " more warnings\n";
  }
  std::string signers;
  for (const std::string& id : v.key_ids) signers += (signers.empty() ? "" : ", ") + id;
  if (cli.output == OutputFormat::kJson) {
    WriteJson(*cli.out, {{"verified", true},
                         {"entries", v.entries},
                         {"checkpoints", v.checkpoints},
                         {"tree_size", v.tree_size},
                         {"root_hash", v.root_hash},
                         {"origin", v.origin},
                         {"time", v.time},
                         {"key_ids", v.key_ids},
                         {"warnings", v.warnings}});
  } else {
    *cli.out << "audit log verified: " << v.entries << " entries, " << v.checkpoints
             << " checkpoints, latest root " << v.root_hash << " at tree size " << v.tree_size
             << " signed by " << signers << '\n';
  }
  return kExitOk;
}

int RunAuditVerify(const CommandLine& cli, const AuditVerifyOptions& opts) {
  // Offline (--file) needs a connection only to fetch the key with --trust-server-key.
  std::optional<GatewayConnection> connection;
  bool need_connection = opts.file.empty();
  if (!need_connection && opts.trust_server_key) {
    Result<RegistryKeyFiles> files =
        ResolveRegistryKeyFiles(opts.registry_keys, cli.connection, cli.env);
    need_connection = files.ok() && files->paths.empty();
  }
  if (need_connection) {
    Result<GatewayConnection> opened = OpenGatewayConnection(cli.connection, cli.env);
    if (!opened.ok()) return ReportLocalError(*cli.err, opened.status());
    connection = std::move(opened).value();
  }
  Result<TrustedRegistryKeys> keys =
      ObtainRegistryKeys(opts.registry_keys, opts.trust_server_key, cli.connection, cli.env,
                         connection ? &*connection : nullptr, *cli.err);
  if (!keys.ok()) return ReportLocalError(*cli.err, keys.status());

  if (!opts.file.empty()) {
    if (opts.file == "-") {
      return ReportAuditVerification(cli, VerifyAuditExportLines(std::cin, "stdin", keys->keys));
    }
    std::ifstream in(opts.file, std::ios::binary);
    if (!in) {
      return ReportLocalError(*cli.err, "cannot open " + opts.file + ": " + std::strerror(errno));
    }
    return ReportAuditVerification(cli, VerifyAuditExportLines(in, opts.file, keys->keys));
  }

  // Live: the whole log up to the latest checkpoint, verified as it streams.
  auto stub = v1::AuditService::NewStub(connection->channel());
  grpc::ClientContext context;
  connection->PrepareCall(context, GatewayConnection::Deadline::kNone);
  std::unique_ptr<grpc::ClientReader<v1::ExportResponse>> reader =
      stub->Export(&context, v1::ExportRequest());
  AuditExportVerifier verifier(keys->keys);
  v1::ExportResponse record;
  Status failed;
  while (failed.ok() && reader->Read(&record)) {
    if (record.has_entry()) {
      const v1::AuditEntry& entry = record.entry();
      failed = verifier.AddEntry({entry.index(), entry.leaf_data(), entry.leaf_hash()});
    } else if (record.has_checkpoint()) {
      failed = verifier.AddCheckpoint(ToCryptoEnvelope(record.checkpoint().envelope()));
    }
  }
  if (!failed.ok()) {
    context.TryCancel();
    reader->Finish();
    return ReportAuditVerification(cli, failed);
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return ReportRpcError(*cli.err, status, context);
  return ReportAuditVerification(cli, verifier.Finish());
}

constexpr const char* kEntryLineNote =
    "Each entry prints as one line: INDEX TIME TENANT ACTION EFFECT RULE RESOURCE, where\n"
    "TENANT is \"(actor)\" for what the gateway did by itself, EFFECT is allow or deny for a\n"
    "policy decision and the event type otherwise (stage-change, artifact-created, ...), RULE\n"
    "the deciding rule (default-deny when none matched).";

}  // namespace

void AddAuditCommands(CLI::App& app, CommandLine& cli) {
  CLI::App* audit_cmd = app.add_subcommand(
      "audit",
      "Read, export and verify the gateway's tamper-evident audit log. It records every policy "
      "decision and state change in a Merkle tree whose checkpoints the registry key signs.");
  audit_cmd->require_subcommand(1);
  audit_cmd->footer(
      "Examples:\n"
      "  sovctl audit tail --follow\n"
      "  sovctl audit query --effect deny --since 2026-11-01\n"
      "  sovctl audit export -o audit.jsonl && sovctl audit verify --file audit.jsonl");

  auto tail = std::make_shared<TailOptions>();
  CLI::App* tail_cmd = audit_cmd->add_subcommand(
      "tail",
      "Print the latest audit entries you may read; with --follow, keep printing entries as "
      "they are appended until interrupted.");
  tail_cmd->add_option("-n,--lines", tail->lines, "How many recent entries to print first [10]")
      ->check(CLI::Range(0, 1000))
      ->option_text("N");
  tail_cmd->add_flag("-f,--follow", tail->follow, "Keep printing new entries (Ctrl-C to stop)");
  tail_cmd->add_flag("--from-now", tail->from_now,
                     "Print only entries appended from now on (implies --follow)");
  tail_cmd->footer(std::string(kEntryLineNote) +
                   "\nWith --output json, one AuditEntry per line in proto3 JSON (JSON lines).\n"
                   "A follow that the gateway ends (restart) resumes after the last index seen.\n"
                   "\n"
                   "Examples:\n"
                   "  sovctl audit tail -n 20\n"
                   "  sovctl audit tail --from-now --output json | jq -c 'select(.decision.effect == \"EFFECT_DENY\")'");
  tail_cmd->callback([&cli, tail] { cli.run = [&cli, tail] { return RunTail(cli, *tail); }; });

  auto query = std::make_shared<QueryOptions>();
  CLI::App* query_cmd = audit_cmd->add_subcommand(
      "query",
      "Print the audit entries that match a filter, in index order: by tenant, action, effect, "
      "artifact and time window.");
  query_cmd->add_option("--tenant", query->tenant, "Only calls by this tenant")->option_text("TENANT");
  query_cmd->add_option("--action", query->actions,
                        "Only this action, e.g. artifact.fetch; repeatable")
      ->allow_extra_args(false)
      ->option_text("ACTION");
  query_cmd->add_option("--effect", query->effect, "Only decisions with this effect")
      ->check(CLI::IsMember({"allow", "deny"}))
      ->option_text("allow|deny");
  query_cmd->add_option("--artifact", query->artifact,
                        "Only entries about this artifact (all versions without @VERSION)")
      ->option_text("NAME[@VERSION]");
  query_cmd->add_option("--since", query->since, "Only entries appended at or after this time")
      ->option_text("RFC3339");
  query_cmd->add_option("--until", query->until, "Only entries appended before this time")
      ->option_text("RFC3339");
  query_cmd->add_option("--limit", query->limit, "At most N entries; 0 for all [100]")
      ->option_text("N");
  query_cmd->footer(std::string(kEntryLineNote) +
                    "\nPrinted as a table with a header row. With --output json: {\"entries\":\n"
                    "[<AuditEntry>...]} in proto3 JSON. Times are RFC 3339 (2026-11-29T14:45:28Z)\n"
                    "or a date (2026-11-29, midnight UTC).\n"
                    "\n"
                    "Examples:\n"
                    "  sovctl audit query --effect deny --since 2026-11-01 --until 2026-12-01\n"
                    "  sovctl audit query --artifact acme-ml/fraud/classifier --action artifact.fetch");
  query_cmd->callback([&cli, query] { cli.run = [&cli, query] { return RunQuery(cli, *query); }; });

  auto exp = std::make_shared<ExportOptions>();
  CLI::App* export_cmd = audit_cmd->add_subcommand(
      "export",
      "Export a range of the audit log with its signed checkpoints as JSON lines, for archiving "
      "and offline verification. Unlike query it is not filtered: it needs the audit.export "
      "permission (usually a compliance role).");
  export_cmd->add_option("-o,--out", exp->out,
                         "File to write (- for stdout); written as FILE.part, renamed when "
                         "complete; required")
      ->required()
      ->option_text("FILE");
  export_cmd->add_option("--start", exp->start, "First index [0]")->option_text("N");
  export_cmd->add_option("--end", exp->end,
                         "One past the last index [0: up to the latest checkpoint]")
      ->option_text("N");
  export_cmd->footer(
      "Each line is {\"entry\": <AuditEntry>} or {\"checkpoint\": <Checkpoint>} in proto3 JSON;\n"
      "a checkpoint follows the entry that completes its tree. Prints the file, the number of\n"
      "entries (with their index range) and of checkpoints (--output json: {\"file\",\n"
      "\"entries\", \"checkpoints\", \"first_index\", \"last_index\"}). Any failure leaves FILE\n"
      "as it was. `audit verify --file` needs an export that starts at index 0.\n"
      "\n"
      "Example:\n"
      "  sovctl audit export -o audit-2026-11.jsonl");
  export_cmd->callback([&cli, exp] { cli.run = [&cli, exp] { return RunExport(cli, *exp); }; });

  auto verify = std::make_shared<AuditVerifyOptions>();
  CLI::App* verify_cmd = audit_cmd->add_subcommand(
      "verify",
      "Verify the audit log against the registry key: every entry's leaf hash and hash chain, "
      "and every checkpoint's signature, tree size and Merkle root. Verifies an export file "
      "offline with --file, else the gateway's live log (exported up to its latest checkpoint).");
  verify_cmd->add_option("--file", verify->file, "Export from `audit export` (- for stdin)")
      ->option_text("EXPORT.jsonl");
  verify_cmd->add_option("--registry-key", verify->registry_keys,
                         "The registry's public key (PEM) [env: SOV_REGISTRY_KEY; config: "
                         "registry_key]; repeat for rotated keys")
      ->allow_extra_args(false)
      ->option_text("FILE");
  verify_cmd->add_flag("--trust-server-key", verify->trust_server_key,
                       "With no registry key configured, trust the one the gateway lists (warns)");
  verify_cmd->footer(
      "On success prints `audit log verified: N entries, M checkpoints, latest root <hex> at\n"
      "tree size N signed by <key id>` (--output json: {\"verified\", \"entries\",\n"
      "\"checkpoints\", \"tree_size\", \"root_hash\", \"origin\", \"time\", \"key_ids\",\n"
      "\"warnings\"}). On the first failure, exit 1 naming the entry or checkpoint and why,\n"
      "e.g. `sovctl: error: audit log verification failed: audit.jsonl:19: entry 17: leaf_data\n"
      "does not hash to the value entry 18 chains to (...)`. Entries after the last checkpoint\n"
      "are an unverified tail, which fails too.\n"
      "\n"
      "Examples:\n"
      "  sovctl audit verify --file audit.jsonl --registry-key registry.pub\n"
      "  sovctl audit verify        # the live log, key from SOV_REGISTRY_KEY or the config");
  verify_cmd->callback(
      [&cli, verify] { cli.run = [&cli, verify] { return RunAuditVerify(cli, *verify); }; });
}

}  // namespace sov::cli
