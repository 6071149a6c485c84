#include "policy/test_runner.h"

#include <algorithm>
#include <cstdio>

#include "common/file.h"
#include "policy/cel/internal/time.h"
#include "policy/internal/text.h"
#include "policy/internal/yaml_reader.h"

namespace sov::policy {
namespace {

using internal::YamlReader;
using Field = YamlReader::Field;

constexpr std::string_view kRequestKeys[] = {"action", "principal", "artifact", "request", "now"};
constexpr std::string_view kPrincipalKeys[] = {"tenant_id", "roles", "purposes", "jurisdiction"};
constexpr std::string_view kArtifactKeys[] = {
    "kind",         "name",         "version",          "owner_tenant",         "classification",
    "purposes",     "lawful_basis", "stage",            "labels",               "storage_location",
    "storage_jurisdiction", "lineage", "created_at",    "size_bytes"};
constexpr std::string_view kLineageKeys[] = {"kind", "name", "version", "classification", "purposes"};
constexpr std::string_view kCaseKeys[] = {"name", "request", "expect", "rule"};
constexpr std::string_view kEffects[] = {"allow", "deny"};

void ReadString(YamlReader& r, const std::vector<Field>& fields, std::string_view key, std::string* out) {
  if (const Field* f = YamlReader::Find(fields, key)) {
    if (auto s = r.String(f->value, f->value_location, key)) *out = *s;
  }
}

void ReadList(YamlReader& r, const std::vector<Field>& fields, std::string_view key,
              std::vector<std::string>* out) {
  if (const Field* f = YamlReader::Find(fields, key)) {
    if (auto list = r.StringList(f->value, f->value_location, key)) {
      for (auto& [s, loc] : *list) out->push_back(s);
    }
  }
}

std::optional<SystemTime> ReadTime(YamlReader& r, const Field& f) {
  auto text = r.String(f.value, f.value_location, f.key);
  if (!text) return std::nullopt;
  cel::Value t = cel::internal::ParseTimestamp(*text);
  if (t.is_error()) {
    r.Error(f.value_location, "invalid time `" + *text + "`: " + t.error().message,
            "write RFC 3339 in UTC, e.g. 2025-06-01T12:00:00Z");
    return std::nullopt;
  }
  return SystemTime(std::chrono::duration_cast<SystemTime::duration>(
      std::chrono::seconds(t.seconds()) + std::chrono::nanoseconds(t.nanos())));
}

// Reads a request from a map node; errors go to the reader.
DecisionRequest ReadRequest(YamlReader& r, const YAML::Node& node, const SourceLocation& at) {
  DecisionRequest req;
  req.now = std::chrono::system_clock::now();
  auto fields = r.Map(node, at, "a request", kRequestKeys);
  if (!fields) return req;
  const Field* action = YamlReader::Find(*fields, "action");
  if (action == nullptr) {
    r.Error(at, "a request needs an `action`", "e.g. `action: artifact.fetch`");
  } else if (auto a = r.String(action->value, action->value_location, "action")) {
    req.action = *a;
  }
  if (const Field* p = YamlReader::Find(*fields, "principal")) {
    if (auto pf = r.Map(p->value, p->value_location, "principal", kPrincipalKeys)) {
      ReadString(r, *pf, "tenant_id", &req.principal.tenant_id);
      ReadList(r, *pf, "roles", &req.principal.roles);
      ReadList(r, *pf, "purposes", &req.principal.purposes);
      ReadString(r, *pf, "jurisdiction", &req.principal.jurisdiction);
    }
  }
  if (const Field* a = YamlReader::Find(*fields, "artifact")) {
    if (auto af = r.Map(a->value, a->value_location, "artifact", kArtifactKeys)) {
      Artifact& art = req.artifact;
      ReadString(r, *af, "kind", &art.kind);
      ReadString(r, *af, "name", &art.name);
      ReadString(r, *af, "version", &art.version);
      ReadString(r, *af, "owner_tenant", &art.owner_tenant);
      ReadString(r, *af, "classification", &art.classification);
      ReadList(r, *af, "purposes", &art.purposes);
      ReadString(r, *af, "lawful_basis", &art.lawful_basis);
      ReadString(r, *af, "stage", &art.stage);
      ReadString(r, *af, "storage_location", &art.storage_location);
      ReadString(r, *af, "storage_jurisdiction", &art.storage_jurisdiction);
      if (const Field* labels = YamlReader::Find(*af, "labels")) {
        if (auto lf = r.OpenMap(labels->value, labels->value_location, "labels")) {
          for (const Field& l : *lf) {
            if (auto v = r.String(l.value, l.value_location, "label `" + l.key + "`")) art.labels[l.key] = *v;
          }
        }
      }
      if (const Field* lineage = YamlReader::Find(*af, "lineage")) {
        if (auto items = r.Sequence(lineage->value, lineage->value_location, "lineage")) {
          for (const YAML::Node& item : *items) {
            auto ef = r.Map(item, r.Loc(item, lineage->value_location), "a lineage entry", kLineageKeys);
            if (!ef) continue;
            LineageEntry e;
            ReadString(r, *ef, "kind", &e.kind);
            ReadString(r, *ef, "name", &e.name);
            ReadString(r, *ef, "version", &e.version);
            ReadString(r, *ef, "classification", &e.classification);
            ReadList(r, *ef, "purposes", &e.purposes);
            art.lineage.push_back(std::move(e));
          }
        }
      }
      if (const Field* created = YamlReader::Find(*af, "created_at")) art.created_at = ReadTime(r, *created);
      if (const Field* size = YamlReader::Find(*af, "size_bytes")) {
        if (auto n = r.Integer(size->value, size->value_location, "size_bytes")) art.size_bytes = *n;
      }
    }
  }
  if (const Field* attrs = YamlReader::Find(*fields, "request")) {
    if (auto rf = r.OpenMap(attrs->value, attrs->value_location, "request")) {
      for (const Field& f : *rf) {
        if (auto v = r.String(f.value, f.value_location, "request attribute `" + f.key + "`")) {
          req.attributes[f.key] = *v;
        }
      }
    }
  }
  if (const Field* now = YamlReader::Find(*fields, "now")) {
    if (auto t = ReadTime(r, *now)) req.now = *t;
  }
  return req;
}

Status ErrorsToStatus(const std::vector<Diagnostic>& diagnostics) {
  std::string message;
  for (const Diagnostic& d : diagnostics) {
    if (!message.empty()) message += "\n";
    message += d.ToString();
  }
  return InvalidArgument(message);
}

std::string RuleAt(const RuleInfo* rule) {
  if (rule == nullptr) return "default deny";
  return rule->id + " (" + rule->location.ToString() + ")";
}

}  // namespace

Result<DecisionRequest> ParseDecisionRequest(std::string_view text, std::string file_name) {
  std::vector<Diagnostic> diagnostics;
  YamlReader reader(text, std::move(file_name), &diagnostics);
  std::optional<YAML::Node> root = reader.Parse();
  if (!root) return ErrorsToStatus(diagnostics);
  DecisionRequest req = ReadRequest(reader, *root, reader.FileStart());
  if (!diagnostics.empty()) return ErrorsToStatus(diagnostics);
  return req;
}

Result<TestReport> RunPolicyTests(const Policy& policy, std::string_view cases_text,
                                  std::string cases_file) {
  std::vector<Diagnostic> diagnostics;
  YamlReader reader(cases_text, std::move(cases_file), &diagnostics);
  std::optional<YAML::Node> root = reader.Parse();
  if (!root) return ErrorsToStatus(diagnostics);
  auto items = reader.Sequence(*root, reader.FileStart(), "the cases file");
  if (!items) return ErrorsToStatus(diagnostics);
  struct Pending {
    TestCaseResult result;
    DecisionRequest request;
  };
  std::vector<Pending> pending;
  for (const YAML::Node& item : *items) {
    const SourceLocation at = reader.Loc(item, reader.FileStart());
    auto fields = reader.Map(item, at, "a case", kCaseKeys);
    if (!fields) continue;
    Pending p;
    p.result.location = at;
    const Field* name = YamlReader::Find(*fields, "name");
    if (name == nullptr) {
      reader.Error(at, "a case needs a `name`");
    } else if (auto n = reader.String(name->value, name->value_location, "name")) {
      p.result.name = *n;
    }
    const Field* request = YamlReader::Find(*fields, "request");
    if (request == nullptr) {
      reader.Error(at, "case `" + p.result.name + "` needs a `request`");
    } else {
      p.request = ReadRequest(reader, request->value, request->value_location);
    }
    const Field* expect = YamlReader::Find(*fields, "expect");
    if (expect == nullptr) {
      reader.Error(at, "case `" + p.result.name + "` needs `expect`", "`expect: allow` or `expect: deny`");
    } else if (auto e = reader.String(expect->value, expect->value_location, "expect")) {
      if (*e == "allow") {
        p.result.expected = Effect::kAllow;
      } else if (*e == "deny") {
        p.result.expected = Effect::kDeny;
      } else {
        reader.Error(expect->value_location, "unknown effect `" + *e + "`", internal::SuggestHint(*e, kEffects));
      }
    }
    if (const Field* rule = YamlReader::Find(*fields, "rule")) {
      if (auto id = reader.String(rule->value, rule->value_location, "rule")) {
        p.result.expected_rule = *id;
        const auto rules = policy.rules();
        const bool known = *id == "default" || std::any_of(rules.begin(), rules.end(), [&](const RuleInfo* r) {
          return r->id == *id;
        });
        if (!known) {
          std::vector<std::string> ids;
          for (const RuleInfo* r : rules) ids.push_back(r->id);
          reader.Error(rule->value_location, "the policy has no rule `" + *id + "`",
                       internal::SuggestHint(*id, ids));
        }
      }
    }
    pending.push_back(std::move(p));
  }
  if (!diagnostics.empty()) return ErrorsToStatus(diagnostics);

  TestReport report;
  for (Pending& p : pending) {
    TestCaseResult& r = p.result;
    r.decision = policy.Decide(p.request);
    const Decision& d = r.decision;
    const std::string got_rule = d.deciding_rule == nullptr ? "default" : d.deciding_rule->id;
    if (d.effect != r.expected) {
      r.failure = "expected " + std::string(EffectName(r.expected)) + ", got " +
                  std::string(EffectName(d.effect)) + " by " + RuleAt(d.deciding_rule);
    } else if (!r.expected_rule.empty() && r.expected_rule != got_rule) {
      r.failure = "expected rule " + r.expected_rule + ", decided by " + RuleAt(d.deciding_rule);
    }
    r.passed = r.failure.empty();
    (r.passed ? report.passed : report.failed) += 1;
    report.cases.push_back(std::move(r));
  }
  return report;
}

Result<TestReport> RunPolicyTestFile(const Policy& policy, const std::string& path) {
  SOV_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return RunPolicyTests(policy, text, path);
}

std::string FormatTestReport(const TestReport& report) {
  size_t width = 4;
  for (const TestCaseResult& c : report.cases) width = std::max(width, c.name.size());
  std::string out;
  for (const TestCaseResult& c : report.cases) {
    std::string line = c.passed ? "PASS  " : "FAIL  ";
    line += c.name + std::string(width - c.name.size() + 2, ' ');
    line += "expect " + std::string(EffectName(c.expected)) + (c.expected == Effect::kAllow ? "  " : "   ");
    line += "got " + std::string(EffectName(c.decision.effect)) + " by " + RuleAt(c.decision.deciding_rule);
    if (!c.passed) line += "\n      " + c.location.ToString() + ": " + c.failure;
    for (const RuleError& e : c.decision.errors) {
      line += "\n      note: rule " + e.rule->id + " could not be evaluated: " + e.location.ToString() +
              ": " + e.message;
    }
    out += line + "\n";
  }
  out += std::to_string(report.passed) + " passed, " + std::to_string(report.failed) + " failed\n";
  return out;
}

}  // namespace sov::policy
