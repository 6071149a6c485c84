// `sovctl policy check`, `sovctl policy test`, `sovctl policy explain` and `sovctl policy
// impact`: a compliance officer's tools for a policy file. The first three run offline against
// the policy library (no gateway); impact replays the audit log's recorded decisions, from an
// export file or from the gateway's AuditService, against a candidate policy. Each is a thin
// wrapper: the libraries load, decide and render (policy/policy.h, test_runner.h, explain.h,
// cli/policy_impact.h); this file reads the arguments and the audit entries, picks text or JSON,
// and sets the exit status.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "cli/gateway_connection.h"
#include "cli/policy_impact.h"
#include "cli/proto_interop.h"
#include "cli/registry_calls.h"
#include "common/file.h"
#include "crypto/sha256.h"
#include "policy/decision.h"
#include "policy/explain.h"
#include "policy/policy.h"
#include "policy/test_runner.h"
#include "sov/v1/audit.grpc.pb.h"

namespace sov::cli {
namespace {

using nlohmann::ordered_json;
using policy::Diagnostic;

constexpr const char* kFormatsNote =
    "The policy language, the cases file and the request file are described in docs/policy.md\n"
    "(\"Checking, testing and explaining a policy\"); examples/policies/ holds a complete\n"
    "policy with a cases file that covers every rule.";

std::string Plural(size_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

ordered_json NullOr(const std::string& text) {
  return text.empty() ? ordered_json(nullptr) : ordered_json(text);
}

ordered_json LocationJson(const policy::SourceLocation& at) {
  return {{"file", at.file}, {"line", at.line}, {"column", at.column}};
}

ordered_json DiagnosticJson(const Diagnostic& d) {
  ordered_json out = LocationJson(d.location);
  out["message"] = d.message;
  out["hint"] = NullOr(d.hint);
  return out;
}

ordered_json DiagnosticsJson(const std::vector<Diagnostic>& diagnostics) {
  ordered_json out = ordered_json::array();
  for (const Diagnostic& d : diagnostics) out.push_back(DiagnosticJson(d));
  return out;
}

// Turns the library's error text for `file` (one "FILE:LINE:COL: error: MESSAGE (hint: HINT)"
// per line, or a plain message such as a read error) back into diagnostics, so that JSON output
// has one shape for errors whichever file they are in.
std::vector<Diagnostic> DiagnosticsFromMessage(std::string_view message, const std::string& file) {
  std::vector<Diagnostic> out;
  while (!message.empty()) {
    const size_t end = message.find('\n');
    std::string_view line = message.substr(0, end);
    message = end == std::string_view::npos ? std::string_view() : message.substr(end + 1);
    if (line.empty()) continue;
    Diagnostic d;
    d.location.file = file;
    d.message = std::string(line);
    std::string_view rest = line;
    const std::string prefix = file + ":";
    if (rest.starts_with(prefix)) {
      rest.remove_prefix(prefix.size());
      int numbers[2] = {0, 0};
      for (int& n : numbers) {
        auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
        if (ec != std::errc() || ptr == rest.data()) break;
        rest.remove_prefix(static_cast<size_t>(ptr - rest.data()));
        if (rest.starts_with(":")) rest.remove_prefix(1);
      }
      constexpr std::string_view kError = " error: ";
      if (numbers[0] > 0 && rest.starts_with(kError)) {
        rest.remove_prefix(kError.size());
        d.location.line = numbers[0];
        d.location.column = numbers[1];
        d.message = std::string(rest);
        constexpr std::string_view kHint = " (hint: ";
        if (size_t h = d.message.rfind(kHint); h != std::string::npos && d.message.ends_with(")")) {
          d.hint = d.message.substr(h + kHint.size(), d.message.size() - h - kHint.size() - 1);
          d.message.resize(h);
        }
      }
    }
    out.push_back(std::move(d));
  }
  return out;
}

// Prints every diagnostic on stderr in text mode, then one closing error line
// "WHAT: N errors AFTER"; returns 1. JSON output, when asked for, is the caller's.
int ReportDiagnostics(const CommandLine& cli, const std::vector<Diagnostic>& diagnostics,
                      const std::string& what, const std::string& after = "") {
  if (cli.output == OutputFormat::kText) *cli.err << policy::FormatDiagnostics(diagnostics);
  return ReportLocalError(*cli.err, what + ": " + Plural(diagnostics.size(), "error") + after);
}

// Loads the policy for test and explain; on failure reports its errors (as JSON too) and
// returns nothing.
std::optional<policy::Policy> LoadPolicyOrReport(const CommandLine& cli, const std::string& file) {
  policy::PolicyCheck check = policy::Policy::CheckFile(file);
  if (check.policy) return std::move(check.policy);
  if (cli.output == OutputFormat::kJson) {
    WriteJson(*cli.out, {{"ok", false}, {"errors", DiagnosticsJson(check.diagnostics)}});
  }
  ReportDiagnostics(cli, check.diagnostics, "policy " + file + " does not load",
                    " (run 'sovctl policy check " + file + "')");
  return std::nullopt;
}

// ---- check ----

struct CheckOptions {
  std::string file;
};

int RunCheck(const CommandLine& cli, const CheckOptions& opts) {
  policy::PolicyCheck check = policy::Policy::CheckFile(opts.file);
  if (cli.output == OutputFormat::kJson) {
    ordered_json digest = nullptr;
    if (check.policy) {
      digest = check.policy->digest();
    } else if (Result<crypto::Digest> d = crypto::Sha256File(opts.file); d.ok()) {
      digest = d->ToString();  // the digest the policy would have, to say which bytes failed
    }
    WriteJson(*cli.out, {{"ok", check.policy.has_value()},
                         {"file", opts.file},
                         {"digest", digest},
                         {"errors", DiagnosticsJson(check.diagnostics)},
                         {"summary", check.policy ? ordered_json(policy::SummarizePolicy(*check.policy))
                                                  : ordered_json(nullptr)}});
  }
  if (!check.policy) {
    return ReportDiagnostics(cli, check.diagnostics, "policy " + opts.file + " does not load");
  }
  if (cli.output == OutputFormat::kText) *cli.out << policy::SummarizePolicy(*check.policy);
  return kExitOk;
}

// ---- test ----

struct TestOptions {
  std::string file;
  std::string cases;
};

ordered_json RuleRef(const policy::RuleInfo* rule) {
  if (rule == nullptr) return nullptr;
  ordered_json out = {{"id", rule->id}, {"effect", policy::EffectName(rule->effect)}};
  out.update(LocationJson(rule->location));
  out["section"] = rule->section;
  out["reason"] = rule->reason;
  return out;
}

ordered_json RuleErrorsJson(const policy::Decision& decision) {
  ordered_json out = ordered_json::array();
  for (const policy::RuleError& e : decision.errors) {
    ordered_json item = {{"rule", e.rule != nullptr ? ordered_json(e.rule->id) : ordered_json(nullptr)}};
    item.update(LocationJson(e.location));
    item["code"] = StatusCodeName(e.code);
    item["message"] = e.message;
    out.push_back(std::move(item));
  }
  return out;
}

int RunTest(const CommandLine& cli, const TestOptions& opts) {
  std::optional<policy::Policy> loaded = LoadPolicyOrReport(cli, opts.file);
  if (!loaded) return kExitFailure;
  Result<policy::TestReport> report = policy::RunPolicyTestFile(*loaded, opts.cases);
  if (!report.ok()) {
    std::vector<Diagnostic> errors = DiagnosticsFromMessage(report.status().message(), opts.cases);
    if (cli.output == OutputFormat::kJson) {
      WriteJson(*cli.out, {{"ok", false}, {"errors", DiagnosticsJson(errors)}});
    }
    return ReportDiagnostics(cli, errors, "cases file " + opts.cases, "; no case ran");
  }
  if (cli.output == OutputFormat::kJson) {
    ordered_json cases = ordered_json::array();
    for (const policy::TestCaseResult& c : report->cases) {
      cases.push_back({{"name", c.name},
                       {"location", LocationJson(c.location)},
                       {"passed", c.passed},
                       {"expected", policy::EffectName(c.expected)},
                       {"expected_rule", NullOr(c.expected_rule)},
                       {"got", policy::EffectName(c.decision.effect)},
                       {"rule", RuleRef(c.decision.deciding_rule)},
                       {"failure", NullOr(c.failure)},
                       {"rule_errors", RuleErrorsJson(c.decision)}});
    }
    WriteJson(*cli.out, {{"ok", report->ok()},
                         {"policy", opts.file},
                         {"digest", loaded->digest()},
                         {"cases_file", opts.cases},
                         {"passed", report->passed},
                         {"failed", report->failed},
                         {"cases", std::move(cases)}});
  } else {
    *cli.out << policy::FormatTestReport(*report);
  }
  if (!report->ok()) {
    return ReportLocalError(*cli.err, std::to_string(report->failed) + " of " +
                                          Plural(report->cases.size(), "case") + " failed");
  }
  return kExitOk;
}

// ---- explain ----

struct ExplainOptions {
  std::string file;
  std::string request;
};

int RunExplain(const CommandLine& cli, const ExplainOptions& opts) {
  std::optional<policy::Policy> loaded = LoadPolicyOrReport(cli, opts.file);
  if (!loaded) return kExitFailure;
  Result<std::string> text = ReadFile(opts.request);
  Result<policy::DecisionRequest> request =
      text.ok() ? policy::ParseDecisionRequest(*text, opts.request)
                : Result<policy::DecisionRequest>(text.status());
  if (!request.ok()) {
    std::vector<Diagnostic> errors = DiagnosticsFromMessage(request.status().message(), opts.request);
    if (cli.output == OutputFormat::kJson) {
      WriteJson(*cli.out, {{"ok", false}, {"errors", DiagnosticsJson(errors)}});
    }
    return ReportDiagnostics(cli, errors, "request file " + opts.request);
  }
  const policy::Decision decision = loaded->Decide(*request);
  if (cli.output == OutputFormat::kText) {
    *cli.out << policy::FormatDecision(decision, *request);
    return kExitOk;
  }
  ordered_json matched = ordered_json::array();
  for (const policy::RuleInfo* rule : decision.matched) matched.push_back(RuleRef(rule));
  WriteJson(*cli.out, {{"ok", true},
                       {"effect", policy::EffectName(decision.effect)},
                       {"action", request->action},
                       {"tenant_id", request->principal.tenant_id},
                       {"rule", RuleRef(decision.deciding_rule)},
                       {"reason", decision.reason()},
                       {"matched", std::move(matched)},
                       {"rule_errors", RuleErrorsJson(decision)},
                       {"policy", opts.file},
                       {"digest", decision.policy_digest}});
  return kExitOk;
}

// ---- impact ----

// The default window: enough for a representative sample, small enough to replay in seconds.
constexpr int64_t kDefaultLastDecisions = 10000;
// Exit status of `policy impact --fail-on-change` when some decision would change.
constexpr int kExitDecisionsChange = 3;

struct ImpactOptions {
  std::string file;
  std::string export_file;
  int64_t last = 0;  // 0: not given
  std::string since;
  std::string until;
  bool fail_on_change = false;
};

SystemTime ToSystemTime(const google::protobuf::Timestamp& t) {
  return SystemTime(std::chrono::duration_cast<SystemTime::duration>(
      std::chrono::seconds(t.seconds()) + std::chrono::nanoseconds(t.nanos())));
}

// Feeds every entry of an export file (JSON lines from `sovctl audit export`; checkpoints are
// skipped) to `analysis`; an error names the file and line.
Status ReadExportInto(std::istream& in, const std::string& source, ImpactAnalysis& analysis) {
  std::string line;
  uint64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = source + ":" + std::to_string(line_number);
    v1::ExportResponse record;
    if (Status st = ProtoFromJson(line, record); !st.ok()) {
      return InvalidArgument(where + ": not an audit export record: " + st.message());
    }
    if (!record.has_entry()) continue;
    if (Status st = analysis.Add(record.entry().leaf_data()); !st.ok()) {
      return InvalidArgument(where + ": " + st.message());
    }
  }
  if (in.bad()) return Internal(source + ": read error");
  return OkStatus();
}

// Feeds the DECISION entries of the gateway's log in the window to `analysis` (AuditService.Query;
// what the caller may read). For the last N, pages newest first, then offers them oldest first.
Status QueryGatewayInto(const CommandLine& cli, const ImpactWindow& window,
                        const std::optional<google::protobuf::Timestamp>& since,
                        const std::optional<google::protobuf::Timestamp>& until,
                        ImpactAnalysis& analysis) {
  SOV_ASSIGN_OR_RETURN(GatewayConnection connection, OpenGatewayConnection(cli.connection, cli.env));
  auto stub = v1::AuditService::NewStub(connection.channel());
  v1::QueryRequest request;
  request.mutable_filter()->add_types(v1::AUDIT_EVENT_TYPE_DECISION);
  if (since) *request.mutable_filter()->mutable_window()->mutable_start_time() = *since;
  if (until) *request.mutable_filter()->mutable_window()->mutable_end_time() = *until;
  request.set_descending(window.last > 0);
  std::vector<std::string> newest_first;
  for (bool first = true;; first = false) {
    int64_t page = 1000;
    if (window.last > 0) page = std::min<int64_t>(page, window.last - static_cast<int64_t>(newest_first.size()));
    request.set_page_size(static_cast<int32_t>(page));
    v1::QueryResponse response;
    SOV_RETURN_IF_ERROR(CallGateway(
        [&](grpc::ClientContext& context) {
          connection.PrepareCall(context);
          response.Clear();
          return stub->Query(&context, request, &response);
        },
        first ? 0 : kMaxRetries));
    for (const v1::AuditEntry& entry : response.entries()) {
      if (window.last > 0) {
        newest_first.push_back(entry.leaf_data());
      } else if (Status st = analysis.Add(entry.leaf_data()); !st.ok()) {
        return InvalidArgument("the gateway's audit entry " + std::to_string(entry.index()) +
                               ": " + st.message());
      }
    }
    if (response.next_page_token().empty()) break;
    if (window.last > 0 && static_cast<int64_t>(newest_first.size()) >= window.last) break;
    request.set_page_token(response.next_page_token());
  }
  for (auto it = newest_first.rbegin(); it != newest_first.rend(); ++it) {
    if (Status st = analysis.Add(*it); !st.ok()) {
      return InvalidArgument("the gateway's audit log: " + st.message());
    }
  }
  return OkStatus();
}

int RunImpact(const CommandLine& cli, const ImpactOptions& opts) {
  ImpactWindow window;
  std::optional<google::protobuf::Timestamp> since, until;
  if (!opts.since.empty()) {
    Result<google::protobuf::Timestamp> t = ParseTimestamp("--since", opts.since);
    if (!t.ok()) return ReportUsageError(*cli.err, "policy impact", t.status().message());
    since = *t;
    window.since = ToSystemTime(*t);
  }
  if (!opts.until.empty()) {
    Result<google::protobuf::Timestamp> t = ParseTimestamp("--until", opts.until);
    if (!t.ok()) return ReportUsageError(*cli.err, "policy impact", t.status().message());
    until = *t;
    window.until = ToSystemTime(*t);
  }
  if (window.since && window.until && *window.until <= *window.since) {
    return ReportUsageError(*cli.err, "policy impact", "--until must be later than --since");
  }
  std::string window_text;
  if (!since && !until) {
    window.last = opts.last > 0 ? opts.last : kDefaultLastDecisions;
    window_text = "the last " + Plural(static_cast<size_t>(window.last), "decision");
  } else {
    window_text = "decisions appended";
    if (since) window_text += " from " + opts.since;
    if (until) window_text += " until " + opts.until + " (exclusive)";
  }

  std::optional<policy::Policy> loaded = LoadPolicyOrReport(cli, opts.file);
  if (!loaded) return kExitFailure;
  ImpactAnalysis analysis(*loaded, window);
  Status read;
  std::string source;
  if (!opts.export_file.empty()) {
    source = "audit export " + (opts.export_file == "-" ? std::string("on stdin") : opts.export_file);
    if (opts.export_file == "-") {
      read = ReadExportInto(std::cin, "stdin", analysis);
    } else {
      std::ifstream in(opts.export_file, std::ios::binary);
      if (!in) {
        return ReportLocalError(*cli.err,
                                "cannot open " + opts.export_file + ": " + std::strerror(errno));
      }
      read = ReadExportInto(in, opts.export_file, analysis);
    }
  } else {
    source = "the gateway's audit log (the entries you may read)";
    read = QueryGatewayInto(cli, window, since, until, analysis);
  }
  if (!read.ok()) return ReportLocalError(*cli.err, read);

  ImpactReport report = analysis.Finish();
  report.source = source;
  report.window = window_text;
  if (cli.output == OutputFormat::kJson) {
    WriteJson(*cli.out, ImpactReportJson(report));
  } else {
    *cli.out << FormatImpactReport(report);
  }
  if (opts.fail_on_change && report.any_change()) {
    *cli.err << "sovctl: " << report.changed << " of "
             << Plural(static_cast<size_t>(report.replayed), "replayed decision")
             << " would change (--fail-on-change)\n";
    return kExitDecisionsChange;
  }
  return kExitOk;
}

}  // namespace

void AddPolicyCommands(CLI::App& app, CommandLine& cli) {
  CLI::App* policy_cmd = app.add_subcommand(
      "policy",
      "Check, test and explain a policy file offline, and measure what it would change against "
      "the decisions recorded in the audit log. Compliance officers write the policy (YAML, "
      "docs/policy.md); these commands load it exactly as sovd does.");
  policy_cmd->require_subcommand(1);
  policy_cmd->footer(std::string(kFormatsNote) +
                     "\n\n"
                     "Examples:\n"
                     "  sovctl policy check examples/policies/eu-gdpr.yaml\n"
                     "  sovctl policy test examples/policies/eu-gdpr.yaml "
                     "examples/policies/eu-gdpr.cases.yaml\n"
                     "  sovctl policy explain examples/policies/eu-gdpr.yaml request.yaml\n"
                     "  sovctl policy impact policy-new.yaml --file audit.jsonl");

  auto check = std::make_shared<CheckOptions>();
  CLI::App* check_cmd = policy_cmd->add_subcommand(
      "check",
      "Load and compile a policy file and report every error, each at FILE:LINE:COL with a hint "
      "where one helps; when the file is valid, print a summary of what the policy allows.");
  check_cmd->add_option("FILE", check->file, "Policy file (YAML)")->required();
  check_cmd->footer(
      "A valid policy: exit 0 and a summary: name and sha256 digest, jurisdiction groups\n"
      "expanded, where each classification may be stored and transferred, retention,\n"
      "purposes, release gates, and every rule (generated ones included) as\n"
      "\"allow ACTIONS for WHO when ...\" with its id and file:line.\n"
      "Errors: exit 1; each error on stderr as\n"
      "  FILE:LINE:COL: error: MESSAGE (hint: HINT)\n"
      "then `sovctl: error: policy FILE does not load: N errors`.\n"
      "--output json: {\"ok\",\"file\",\"digest\",\"errors\":[{\"file\",\"line\",\"column\",\n"
      "\"message\",\"hint\"}],\"summary\"} (summary: the text above, or null).\n"
      "\n" +
      std::string(kFormatsNote) +
      "\n\n"
      "Example:\n"
      "  sovctl policy check examples/policies/eu-gdpr.yaml");
  check_cmd->callback([&cli, check] { cli.run = [&cli, check] { return RunCheck(cli, *check); }; });

  auto test = std::make_shared<TestOptions>();
  CLI::App* test_cmd = policy_cmd->add_subcommand(
      "test",
      "Decide every case of a cases file against a policy and print a pass/fail table; exit 1 "
      "if any case fails, as `opa test` does.");
  test_cmd->add_option("FILE", test->file, "Policy file (YAML)")->required();
  test_cmd->add_option("CASES", test->cases, "Cases file (YAML)")->required();
  test_cmd->footer(
      "A cases file is a YAML list; each case has a name, a request (action, principal,\n"
      "artifact, request attributes, now), `expect: allow|deny`, and optionally the `rule:`\n"
      "expected to decide (`default` for deny by default):\n"
      "  - name: service in China fetches a personal model\n"
      "    request:\n"
      "      action: artifact.fetch\n"
      "      principal: {tenant_id: shop, roles: [tenant-service], jurisdiction: CN}\n"
      "      artifact: {kind: model, classification: personal, stage: released}\n"
      "    expect: deny\n"
      "    rule: residency.personal.transfer_to\n"
      "\n"
      "Prints one row per case: PASS or FAIL, the name, the expected effect, the effect got and\n"
      "the deciding rule with its file:line; under a FAIL, the case's file:line and why. Then\n"
      "\"N passed, M failed\". Exit 1 on any failure, or when the policy or the cases file is\n"
      "malformed (each error at FILE:LINE:COL on stderr; no case runs).\n"
      "--output json: {\"ok\",\"policy\",\"digest\",\"cases_file\",\"passed\",\"failed\",\n"
      "\"cases\":[{\"name\",\"location\",\"passed\",\"expected\",\"expected_rule\",\"got\",\"rule\",\n"
      "\"failure\",\"rule_errors\"}]}.\n"
      "\n" +
      std::string(kFormatsNote) +
      "\n\n"
      "Example:\n"
      "  sovctl policy test examples/policies/eu-gdpr.yaml examples/policies/eu-gdpr.cases.yaml");
  test_cmd->callback([&cli, test] { cli.run = [&cli, test] { return RunTest(cli, *test); }; });

  auto explain = std::make_shared<ExplainOptions>();
  CLI::App* explain_cmd = policy_cmd->add_subcommand(
      "explain",
      "Decide one request against a policy and print the whole decision: the effect, the "
      "deciding rule with its file:line and reason, every rule that matched, every condition "
      "that failed to evaluate, and the policy's digest.");
  explain_cmd->add_option("FILE", explain->file, "Policy file (YAML)")->required();
  explain_cmd->add_option("REQUEST", explain->request, "Request file (YAML)")->required();
  explain_cmd->footer(
      "REQUEST has the shape of a case's `request` in a cases file:\n"
      "  action: artifact.fetch\n"
      "  principal: {tenant_id: shop, roles: [tenant-service], purposes: [fraud-detection],\n"
      "              jurisdiction: CN}\n"
      "  artifact: {kind: model, classification: personal, purposes: [fraud-detection],\n"
      "             stage: released}\n"
      "  request: {target_jurisdiction: CN}     # request attributes; optional\n"
      "  now: 2025-06-01T12:00:00Z              # optional; default: the current time\n"
      "\n"
      "Exit 0 whether the decision is allow or deny; exit 1 when the policy or the request\n"
      "file is malformed (each error at FILE:LINE:COL on stderr).\n"
      "--output json: {\"ok\",\"effect\",\"action\",\"tenant_id\",\"rule\":{\"id\",\"effect\",\n"
      "\"file\",\"line\",\"column\",\"section\",\"reason\"} or null,\"reason\",\"matched\":[rule...],\n"
      "\"rule_errors\":[{\"rule\",\"file\",\"line\",\"column\",\"code\",\"message\"}],\"policy\",\n"
      "\"digest\"}.\n"
      "\n" +
      std::string(kFormatsNote) +
      "\n\n"
      "Example (request.yaml as above):\n"
      "  sovctl policy explain examples/policies/eu-gdpr.yaml request.yaml");
  explain_cmd->callback(
      [&cli, explain] { cli.run = [&cli, explain] { return RunExplain(cli, *explain); }; });

  auto impact = std::make_shared<ImpactOptions>();
  CLI::App* impact_cmd = policy_cmd->add_subcommand(
      "impact",
      "Replay the decisions recorded in the audit log against a candidate policy with the same "
      "engine and list every decision that would change, grouped by rule. Reads an export file "
      "with --file (no gateway), or else the gateway's audit log.");
  impact_cmd->add_option("FILE", impact->file, "Candidate policy file (YAML)")->required();
  impact_cmd->add_option("--file", impact->export_file,
                         "Export from `sovctl audit export` (- for stdin) instead of the gateway")
      ->option_text("EXPORT.jsonl");
  CLI::Option* last =
      impact_cmd
          ->add_option("--last", impact->last,
                       "Replay the last N decisions [10000 unless --since or --until is given]")
          ->check(PositiveNumber())
          ->option_text("N");
  impact_cmd->add_option("--since", impact->since, "Replay decisions appended at or after this time")
      ->excludes(last)
      ->option_text("RFC3339");
  impact_cmd->add_option("--until", impact->until, "Replay decisions appended before this time")
      ->excludes(last)
      ->option_text("RFC3339");
  impact_cmd->add_flag("--fail-on-change", impact->fail_on_change,
                       "Exit 3 when any decision would change (for CI pipelines)");
  impact_cmd->footer(
      "Every DECISION entry of the audit log records the decision's full input (principal,\n"
      "action, artifact, request attributes, time), so the answer is exact for those requests.\n"
      "A decision changes when the candidate decides it with another effect or by another rule.\n"
      "Prints the counts (decisions in the window, replayed, unchanged, changed, not replayable),\n"
      "then one block per group of changes, largest first, e.g.\n"
      "  allow (rule ml-engineers-push) -> deny (no rule matched): 42 decisions\n"
      "with up to 3 examples (INDEX TIME TENANT ACTION ARTIFACT), then the decisions that\n"
      "could not be replayed and why (a listing's summary entry, an older entry format).\n"
      "--output json: {\"ok\",\"policy\",\"name\",\"digest\",\"source\",\"window\",\"decisions\",\n"
      "\"replayed\",\"unchanged\",\"changed\",\"effect_changed\",\"not_replayable\",\n"
      "\"first_index\",\"last_index\",\"recorded_policies\",\"groups\":[{\"before\",\"after\",\n"
      "\"count\",\"actions\",\"decisions\":[...every one]}],\"not_replayable_decisions\"}.\n"
      "Exit 0 whatever would change (it is a report); 3 with --fail-on-change when some decision\n"
      "would change; 1 on errors (a policy that does not load, reported at FILE:LINE:COL as by\n"
      "`policy check`; an unreadable export; a failed gateway call).\n"
      "Live, the gateway shows what your roles may read: every entry for a compliance officer\n"
      "or auditor, else only your own tenant's calls.\n"
      "\n"
      "Examples:\n"
      "  sovctl audit export -o audit.jsonl\n"
      "  sovctl policy impact policy-new.yaml --file audit.jsonl\n"
      "  sovctl policy impact policy-new.yaml --since 2026-11-01 --fail-on-change");
  impact_cmd->callback(
      [&cli, impact] { cli.run = [&cli, impact] { return RunImpact(cli, *impact); }; });
}

}  // namespace sov::cli
