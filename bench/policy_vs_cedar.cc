// policy_vs_cedar: measures sov::policy::Policy::Decide on a realistic request mix against
// examples/policies/eu-gdpr.yaml, single thread (decisions per second, p50/p99/p99.9 latency per
// decision), and beside it, in the same run on the same requests, Cedar (the npm package
// @cedar-policy/cedar-wasm under node: preparsePolicySet once, then statefulIsAuthorized per
// request) on the equivalent Cedar policy set bench/policy_vs_cedar/eu-gdpr.cedar. It checks that
// both engines reach the same decision on every request (and the same determining rules), prints
// the ratio and the targets of issue 3 beside the measured figures, then shows how decision time
// grows when 10, 100, 1,000 and 10,000 generated rules (for other actions, roles and tenants)
// are added to the policy, for both engines.
//
// The requests: every case of examples/policies/eu-gdpr.cases.yaml (which together reach every
// rule) followed by requests drawn from a seeded generator (several tenants, roles,
// jurisdictions, classifications, purposes, stages; fetch, get, list, push, release, whoami,
// audit.read). They are written to <work-dir>/requests.json, which cedar_bench.mjs reads.
// Without node or the package, the peer is reported as "peer not available" and our side runs.
//
// Usage: policy_vs_cedar [--requests N] [--decisions N] [--cedar-requests N]
//                        [--scaling-decisions N] [--scaling-cedar-requests N] [--seed N]
//                        [--no-peer] [--no-scaling] [--work-dir DIR] [--cedar-dir DIR]
// Exit status: 0; 1 when the engines disagree on any decision or our side fails; 2 on usage.
// Run by `make bench` (the CMake target `bench`), never by the tests.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/wait.h>
#include <yaml-cpp/yaml.h>

#include "common/status.h"
#include "policy/decision.h"
#include "policy/policy.h"
#include "policy/test_runner.h"

#ifndef SOV_SOURCE_DIR
#define SOV_SOURCE_DIR "."
#endif

namespace {

using Clock = std::chrono::steady_clock;
using sov::policy::Artifact;
using sov::policy::Decision;
using sov::policy::DecisionRequest;
using sov::policy::Effect;
using sov::policy::LineageEntry;
using sov::policy::Policy;
using sov::policy::Principal;

// The targets of issue 3 ("Performance").
constexpr double kTargetP50Ns = 1000;
constexpr double kTargetP99Ns = 5000;
constexpr double kTargetRatio = 100;

struct Options {
  std::string policy = SOV_SOURCE_DIR "/examples/policies/eu-gdpr.yaml";
  std::string cases = SOV_SOURCE_DIR "/examples/policies/eu-gdpr.cases.yaml";
  std::string cedar_dir = SOV_SOURCE_DIR "/bench/policy_vs_cedar";
  std::string work_dir = "policy_vs_cedar.out";
  size_t requests = 20000;
  size_t decisions = 200000;
  size_t cedar_requests = 0;  // 0: every request
  size_t scaling_decisions = 100000;
  size_t scaling_cedar_requests = 1000;
  uint64_t seed = 20261129;
  bool peer = true;
  bool scaling = true;
};

// ---------------------------------------------------------------------------------------------
// Formatting

std::string Thousands(double value) {
  char digits[32];
  std::snprintf(digits, sizeof(digits), "%.0f", value);
  const std::string_view s = digits;
  const size_t start = (s[0] == '-') ? 1 : 0;
  std::string out(s.substr(0, start));
  for (size_t i = start; i < s.size(); ++i) {
    if (i > start && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string JsonList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += JsonString(items[i]);
  }
  return out + "]";
}

// The fields of a request that either engine's rules read, as cedar_bench.mjs expects them.
std::string RequestJson(const DecisionRequest& r) {
  const Principal& p = r.principal;
  const Artifact& a = r.artifact;
  std::string out = "{\"action\":" + JsonString(r.action);
  out += ",\"principal\":{\"tenant_id\":" + JsonString(p.tenant_id) +
         ",\"roles\":" + JsonList(p.roles) + ",\"purposes\":" + JsonList(p.purposes) +
         ",\"jurisdiction\":" + JsonString(p.jurisdiction) + "}";
  out += ",\"artifact\":{\"kind\":" + JsonString(a.kind) + ",\"name\":" + JsonString(a.name) +
         ",\"owner_tenant\":" + JsonString(a.owner_tenant) +
         ",\"classification\":" + JsonString(a.classification) +
         ",\"purposes\":" + JsonList(a.purposes) +
         ",\"lawful_basis\":" + JsonString(a.lawful_basis) + ",\"stage\":" + JsonString(a.stage) +
         ",\"storage_jurisdiction\":" + JsonString(a.storage_jurisdiction) + ",\"lineage\":[";
  for (size_t i = 0; i < a.lineage.size(); ++i) {
    const LineageEntry& e = a.lineage[i];
    out += std::string(i ? "," : "") + "{\"kind\":" + JsonString(e.kind) +
           ",\"classification\":" + JsonString(e.classification) +
           ",\"purposes\":" + JsonList(e.purposes) + "}";
  }
  out += "]},\"attributes\":{";
  bool first = true;
  for (const auto& [key, value] : r.attributes) {
    out += std::string(first ? "" : ",") + JsonString(key) + ":" + JsonString(value);
    first = false;
  }
  return out + "}}";
}

std::string Describe(const DecisionRequest& r) {
  std::string out = r.action + " by " +
                    (r.principal.tenant_id.empty() ? "(unauthenticated)" : r.principal.tenant_id);
  out += " [";
  for (const std::string& role : r.principal.roles) out += role + " ";
  out += r.principal.jurisdiction + "]";
  if (!r.artifact.kind.empty()) {
    out += " on " + r.artifact.kind + " declared=" + r.artifact.classification + " " +
           r.artifact.stage +
           " owner=" + r.artifact.owner_tenant + " stored=" + r.artifact.storage_jurisdiction;
  }
  for (const auto& [key, value] : r.attributes) out += " " + key + "=" + value;
  return out;
}

// ---------------------------------------------------------------------------------------------
// The request mix

// splitmix64: small, fast, and the same sequence everywhere (unlike std distributions).
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Returns a number in [0, n).
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }
  bool Chance(int percent) { return Below(100) < static_cast<size_t>(percent); }
  // Returns an index drawn with the given weights.
  size_t Weighted(std::initializer_list<int> weights) {
    int total = 0;
    for (int w : weights) total += w;
    int x = static_cast<int>(Below(static_cast<size_t>(total)));
    size_t i = 0;
    for (int w : weights) {
      if (x < w) return i;
      x -= w;
      ++i;
    }
    return 0;
  }
  template <typename T>
  const T& Pick(const std::vector<T>& items) { return items[Below(items.size())]; }

 private:
  uint64_t state_;
};

// Tenants as a tenants file would describe them.
const std::vector<Principal>& Tenants() {
  static const std::vector<Principal> tenants = {
      {"acme", {"ml-engineer"}, {"fraud-detection", "credit-scoring"}, "DE"},
      {"acme-fr", {"ml-engineer"}, {"fraud-detection"}, "FR"},
      {"analytics-ch", {"ml-engineer"}, {"service-analytics"}, "CH"},
      {"globex-us", {"ml-engineer"}, {"anti-money-laundering", "fraud-detection"}, "US"},
      {"shop", {"tenant-service"}, {"fraud-detection"}, "DE"},
      {"shop-nl", {"tenant-service"}, {"fraud-detection", "service-analytics"}, "NL"},
      {"shop-us", {"tenant-service"}, {"fraud-detection"}, "US"},
      {"shop-cn", {"tenant-service"}, {"fraud-detection"}, "CN"},
      {"lender-br", {"tenant-service"}, {"credit-scoring"}, "BR"},
      {"bank-it", {"tenant-service", "ml-engineer"}, {"credit-scoring", "anti-money-laundering"},
       "IT"},
      {"risk", {"model-risk-officer"}, {"credit-scoring"}, "DE"},
      {"dpo", {"compliance-officer"}, {}, "DE"},
      {"dpo-ie", {"compliance-officer", "ml-engineer"}, {"fraud-detection"}, "IE"},
  };
  return tenants;
}

const std::vector<std::string> kPurposes = {"fraud-detection", "credit-scoring",
                                            "anti-money-laundering", "service-analytics",
                                            "marketing"};
const std::vector<std::string> kLawfulBases = {"legitimate-interests", "contract",
                                               "legal-obligation", "consent"};

std::vector<std::string> DrawPurposes(Random& rng) {
  std::vector<std::string> out;
  if (rng.Chance(5)) return out;
  const size_t n = 1 + rng.Weighted({70, 25, 5});
  while (out.size() < n) {
    const std::string& p = kPurposes[rng.Weighted({35, 25, 15, 15, 5})];
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  return out;
}

std::string DrawClassification(Random& rng) {
  static const std::vector<std::string> kClasses = {
      "public", "anonymised", "internal", "pseudonymised", "personal", "special-category",
      "secret"};
  return kClasses[rng.Weighted({10, 10, 20, 15, 30, 13, 2})];
}

Artifact DrawArtifact(Random& rng, const Principal& caller, bool for_push) {
  Artifact a;
  a.kind = std::vector<std::string>{"model", "dataset", "report"}[rng.Weighted({55, 40, 5})];
  a.name = a.kind + "-" + std::to_string(rng.Below(50));
  a.version = "1." + std::to_string(rng.Below(5)) + ".0";
  a.owner_tenant = (rng.Chance(50) || caller.tenant_id.empty()) ? caller.tenant_id
                                                                 : rng.Pick(Tenants()).tenant_id;
  a.classification = DrawClassification(rng);
  a.purposes = DrawPurposes(rng);
  if (!a.purposes.empty() && rng.Chance(85)) {
    static const std::map<std::string, std::string> kBasis = {
        {"fraud-detection", "legitimate-interests"}, {"credit-scoring", "contract"},
        {"anti-money-laundering", "legal-obligation"}, {"service-analytics", "consent"},
        {"marketing", "consent"}};
    a.lawful_basis = kBasis.at(a.purposes[0]);
  } else {
    a.lawful_basis = rng.Pick(kLawfulBases);
  }
  a.stage = std::vector<std::string>{"released", "validating", "pending", "revoked", "erased",
                                     "rejected"}[rng.Weighted({60, 15, 10, 8, 2, 5})];
  static const std::vector<std::string> kPlaces = {"DE", "DE", "FR", "IE", "NL", "NO", "CH",
                                                   "US", "JP", "CN", "IN"};
  if (!for_push || !rng.Chance(40)) a.storage_jurisdiction = rng.Pick(kPlaces);
  if (a.kind == "model") {
    const size_t n = rng.Weighted({25, 45, 20, 10});
    for (size_t i = 0; i < n; ++i) {
      LineageEntry e;
      e.kind = rng.Chance(85) ? "dataset" : "model";
      e.name = "dataset-" + std::to_string(rng.Below(30));
      e.version = "2.0.0";
      e.classification = DrawClassification(rng);
      if (e.classification == "secret") e.classification = "internal";
      e.purposes = rng.Chance(70) ? a.purposes : DrawPurposes(rng);
      if (rng.Chance(30)) e.purposes.push_back(rng.Pick(kPurposes));
      a.lineage.push_back(std::move(e));
    }
  }
  a.size_bytes = static_cast<int64_t>(rng.Below(1 << 30));
  return a;
}

DecisionRequest DrawRequest(Random& rng, sov::SystemTime now) {
  static const std::vector<std::string> kActions = {
      "artifact.fetch", "artifact.get", "artifact.list", "artifact.push",
      "artifact.release", "identity.whoami", "audit.read"};
  DecisionRequest r;
  r.now = now;
  r.action = kActions[rng.Weighted({30, 15, 10, 15, 5, 20, 5})];
  if (!rng.Chance(1)) r.principal = rng.Pick(Tenants());  // 1%: an unauthenticated caller
  const Principal& p = r.principal;
  if (r.action == "artifact.fetch" || r.action == "artifact.get" || r.action == "artifact.push" ||
      r.action == "artifact.release") {
    r.artifact = DrawArtifact(rng, p, r.action == "artifact.push");
  }
  if (r.action == "artifact.fetch") {
    if (rng.Chance(25)) {
      r.attributes["target_jurisdiction"] =
          std::vector<std::string>{"DE", "FR", "US", "CN", "BR", "GB"}[rng.Below(6)];
    }
    if (rng.Chance(50)) r.attributes["purpose"] = rng.Pick(kPurposes);
  } else if (r.action == "artifact.list") {
    const size_t which = rng.Weighted({70, 20, 10});
    if (which == 0) r.attributes["owner_tenant"] = p.tenant_id;
    if (which == 1) r.attributes["owner_tenant"] = rng.Pick(Tenants()).tenant_id;
  } else if (r.action == "artifact.release") {
    const size_t which = rng.Weighted({50, 20, 30});
    if (which == 0) r.attributes["gates_passed"] = "true";
    if (which == 1) r.attributes["gates_passed"] = "false";
  }
  return r;
}

// Reads every case's request from the cases file: a set that reaches every rule.
sov::Result<std::vector<DecisionRequest>> LoadCases(const std::string& path) {
  std::vector<DecisionRequest> out;
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (!root.IsSequence()) return sov::InvalidArgument(path + ": not a list of cases");
    for (const YAML::Node& item : root) {
      YAML::Emitter emitter;
      emitter << item["request"];
      SOV_ASSIGN_OR_RETURN(DecisionRequest r,
                           sov::policy::ParseDecisionRequest(emitter.c_str(), path));
      out.push_back(std::move(r));
    }
  } catch (const YAML::Exception& e) {
    return sov::InvalidArgument(path + ": " + e.what());
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Generated rules for the scaling series

// Rule i of the scaling series: a third for roles nobody in the mix holds, a third for tenants
// not in the mix (both on the mix's actions), a third on actions the mix never asks for; allow
// and deny alternate; four kinds of condition. None changes a decision of the mix.
struct ExtraRule {
  std::string id, effect, action, role, tenant, cel, cedar;
};

ExtraRule MakeExtraRule(size_t i) {
  static const std::vector<std::string> kMixActions = {
      "artifact.fetch", "artifact.get", "artifact.list", "artifact.push",
      "artifact.release", "identity.whoami", "audit.read"};
  static const std::vector<std::string> kOtherActions = {
      "keys.read", "keys.revoke", "quota.read", "validation.start", "validation.read",
      "validation.cancel", "records.export", "policy.explain", "artifact.lineage"};
  static const std::pair<const char*, const char*> kConditions[] = {
      {"artifact.stage == 'released' && principal.jurisdiction == 'DE'",
       "resource.stage == \"released\" && principal.jurisdiction == \"DE\""},
      {"artifact.classification == 'internal'", "resource.classification == \"internal\""},
      {"has(request.purpose) && request.purpose in principal.purposes",
       "context has purpose && principal.purposes.contains(context.purpose)"},
      {"artifact.purposes.exists(p, p == 'fraud-detection')",
       "resource.purposes.contains(\"fraud-detection\")"},
  };
  ExtraRule r;
  r.id = "x-" + std::to_string(i);
  r.effect = i % 2 == 0 ? "allow" : "deny";
  switch (i % 3) {
    case 0: r.role = "team-" + std::to_string(i); break;
    case 1: r.tenant = "tenant-" + std::to_string(i); break;
    default: break;
  }
  r.action = (i % 3 == 2) ? kOtherActions[(i / 3) % kOtherActions.size()]
                          : kMixActions[(i / 3) % kMixActions.size()];
  r.cel = kConditions[(i / 2) % 4].first;
  r.cedar = kConditions[(i / 2) % 4].second;
  return r;
}

std::string ExtraRulesYaml(size_t count) {
  std::string out = "\n  # Generated by bench/policy_vs_cedar for the scaling series.\n";
  for (size_t i = 0; i < count; ++i) {
    ExtraRule r = MakeExtraRule(i);
    out += "  - id: " + r.id + "\n    effect: " + r.effect + "\n    actions: [" + r.action + "]\n";
    if (!r.role.empty()) out += "    principals: {roles: [" + r.role + "]}\n";
    if (!r.tenant.empty()) out += "    principals: {tenants: [" + r.tenant + "]}\n";
    out += "    when: " + r.cel + "\n    reason: Generated rule " + std::to_string(i) + ".\n";
  }
  return out;
}

std::string ExtraRulesCedar(size_t count) {
  std::string out = "// Generated by bench/policy_vs_cedar for the scaling series.\n";
  for (size_t i = 0; i < count; ++i) {
    ExtraRule r = MakeExtraRule(i);
    const bool allow = r.effect == "allow";
    std::string principal = allow ? "principal is User" : "principal";
    if (!r.role.empty()) principal += " in Role::\"" + r.role + "\"";
    if (!r.tenant.empty()) principal = "principal == User::\"" + r.tenant + "\"";
    out += "@id(\"" + r.id + "\")\n" + (allow ? "permit" : "forbid") + " (" + principal +
           ", action == Action::\"" + r.action + "\", resource)\nwhen { " + r.cedar + " };\n";
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Measuring

struct Latencies {
  std::vector<int64_t> ns;  // sorted
  double Percentile(double q) const {
    if (ns.empty()) return 0;
    size_t i = static_cast<size_t>(q * static_cast<double>(ns.size()));
    return static_cast<double>(ns[std::min(i, ns.size() - 1)]);
  }
};

struct OurRun {
  double per_second = 0;  // from loops without a clock per decision (median of 3)
  Latencies latency;      // one clock pair per decision
  std::map<std::string, Latencies> by_action;
  double clock_overhead_ns = 0;
};

volatile uint64_t g_sink = 0;

// The decision as the comparison sees it: the effect and the ids of the matched rules that
// have the deciding effect (what Cedar reports as determining policies), sorted.
struct Outcome {
  Effect effect = Effect::kDeny;
  std::string rules;  // comma-separated
  std::string deciding;
};

Outcome OutcomeOf(const Decision& d) {
  Outcome o;
  o.effect = d.effect;
  std::vector<std::string> ids;
  for (const sov::policy::RuleInfo* rule : d.matched) {
    if (rule->effect == d.effect) ids.push_back(rule->id);
  }
  std::sort(ids.begin(), ids.end());
  for (size_t i = 0; i < ids.size(); ++i) o.rules += (i ? "," : "") + ids[i];
  o.deciding = d.deciding_rule != nullptr ? d.deciding_rule->id : "default";
  return o;
}

OurRun MeasureOurs(const Policy& policy, const std::vector<DecisionRequest>& requests,
                   size_t decisions) {
  OurRun run;
  const size_t n = requests.size();
  uint64_t sink = 0;
  for (size_t i = 0; i < std::max(n, decisions / 10); ++i) {  // warm-up
    sink += policy.Decide(requests[i % n]).matched.size();
  }
  std::vector<double> rates;
  for (int round = 0; round < 3; ++round) {
    Clock::time_point start = Clock::now();
    for (size_t i = 0; i < decisions; ++i) {
      Decision d = policy.Decide(requests[i % n]);
      sink += d.matched.size() + static_cast<uint64_t>(d.effect);
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    rates.push_back(static_cast<double>(decisions) / seconds);
  }
  std::sort(rates.begin(), rates.end());
  run.per_second = rates[1];

  run.latency.ns.resize(decisions);
  for (size_t i = 0; i < decisions; ++i) {
    const DecisionRequest& r = requests[i % n];
    Clock::time_point t0 = Clock::now();
    Decision d = policy.Decide(r);
    Clock::time_point t1 = Clock::now();
    sink += d.matched.size();
    run.latency.ns[i] = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
  }
  for (size_t i = 0; i < decisions; ++i) {
    run.by_action[requests[i % n].action].ns.push_back(run.latency.ns[i]);
  }
  for (auto& [action, latency] : run.by_action) std::sort(latency.ns.begin(), latency.ns.end());
  std::sort(run.latency.ns.begin(), run.latency.ns.end());

  std::vector<int64_t> empty(100000);
  for (int64_t& e : empty) {
    Clock::time_point t0 = Clock::now();
    Clock::time_point t1 = Clock::now();
    e = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
  }
  std::sort(empty.begin(), empty.end());
  run.clock_overhead_ns = static_cast<double>(empty[empty.size() / 2]);
  g_sink = g_sink + sink;
  return run;
}

// ---------------------------------------------------------------------------------------------
// The peer

struct CedarAnswer {
  std::string decision;  // allow | deny | failure
  int64_t ns = 0;
  int errors = 0;
  std::string rules;  // comma-separated, sorted by the script
};

struct CedarRun {
  bool available = false;
  std::string note;  // why not, when not
  std::string version;
  size_t policies = 0;
  int64_t total_ns = 0;
  std::vector<CedarAnswer> answers;
  std::vector<std::string> error_lines;
  Latencies latency;
  double per_second() const {
    return total_ns > 0 ? static_cast<double>(answers.size()) * 1e9 / static_cast<double>(total_ns)
                        : 0;
  }
};

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool HaveNode() {
  return std::system("command -v node >/dev/null 2>&1") == 0;
}

CedarRun RunCedar(const Options& options, const std::string& requests_file,
                  const std::vector<std::string>& policy_files, size_t limit, size_t warmup) {
  CedarRun run;
  if (!HaveNode()) {
    run.note = "peer not available: no `node` on the PATH (cedar-wasm needs node)";
    return run;
  }
  std::string command = "node " + ShellQuote(options.cedar_dir + "/cedar_bench.mjs") +
                        " --requests " + ShellQuote(requests_file);
  for (const std::string& f : policy_files) command += " --policies " + ShellQuote(f);
  command += " --warmup " + std::to_string(warmup);
  if (limit > 0) command += " --limit " + std::to_string(limit);
  command += " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    run.note = "peer not available: could not start node";
    return run;
  }
  std::string output;
  char buf[1 << 16];
  size_t got;
  while ((got = fread(buf, 1, sizeof(buf), pipe)) > 0) output.append(buf, got);
  const int status = pclose(pipe);
  const int exit_code = (status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;

  std::istringstream lines(output);
  std::string line;
  std::string other;
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    std::string tag;
    in >> tag;
    if (tag == "r") {
      size_t index = 0;
      CedarAnswer a;
      in >> index >> a.decision >> a.ns >> a.errors;
      std::getline(in, a.rules);
      if (!a.rules.empty() && a.rules[0] == ' ') a.rules.erase(0, 1);
      if (a.decision == "failure") a.errors = 1;
      if (index == run.answers.size()) run.answers.push_back(std::move(a));
    } else if (tag == "version") {
      std::getline(in, run.version);
      if (!run.version.empty() && run.version[0] == ' ') run.version.erase(0, 1);
    } else if (tag == "policies") {
      in >> run.policies;
    } else if (tag == "total") {
      in >> run.total_ns;
    } else if (tag == "e") {
      run.error_lines.push_back(line.substr(2));
    } else if (tag == "unavailable") {
      run.note = "peer not available: " + line.substr(tag.size() + 1);
      return run;
    } else if (!line.empty() && other.size() < 2000) {
      other += (other.empty() ? "" : " | ") + line;
    }
  }
  if (exit_code != 0 || run.answers.empty()) {
    run.note = "peer failed (node exit " + std::to_string(exit_code) + "): " + other;
    return run;
  }
  run.available = true;
  for (const CedarAnswer& a : run.answers) run.latency.ns.push_back(a.ns);
  std::sort(run.latency.ns.begin(), run.latency.ns.end());
  return run;
}

struct Agreement {
  size_t compared = 0;
  size_t decision_mismatches = 0;
  size_t rule_mismatches = 0;
  size_t cedar_errors = 0;
};

// Compares our outcome of each request with Cedar's; prints the first few differences.
Agreement Compare(const std::vector<DecisionRequest>& requests,
                  const std::vector<Outcome>& ours, const CedarRun& cedar, const char* label) {
  Agreement agreement;
  int printed = 0;
  for (size_t i = 0; i < cedar.answers.size() && i < ours.size(); ++i) {
    const CedarAnswer& c = cedar.answers[i];
    const Outcome& o = ours[i];
    ++agreement.compared;
    if (c.errors > 0) ++agreement.cedar_errors;
    const bool same_decision = c.decision == sov::policy::EffectName(o.effect);
    const bool same_rules = c.rules == o.rules;
    if (!same_decision) ++agreement.decision_mismatches;
    if (same_decision && !same_rules) ++agreement.rule_mismatches;
    if ((!same_decision || !same_rules) && printed++ < 10) {
      std::printf("  %s request %zu: %s\n    ours:  %s (%s; matched %s)\n    cedar: %s (%s)\n",
                  same_decision ? "RULES DIFFER" : "DISAGREEMENT", i,
                  Describe(requests[i]).c_str(),
                  std::string(sov::policy::EffectName(o.effect)).c_str(), o.deciding.c_str(),
                  o.rules.empty() ? "-" : o.rules.c_str(), c.decision.c_str(),
                  c.rules.empty() ? "-" : c.rules.c_str());
    }
  }
  if (agreement.decision_mismatches > 0) {
    std::printf("\n!!! %s: THE ENGINES DISAGREE on %zu of %zu decisions (see above) !!!\n\n",
                label, agreement.decision_mismatches, agreement.compared);
  }
  return agreement;
}

// ---------------------------------------------------------------------------------------------

bool ParseCount(const char* text, size_t max, size_t* out) {
  char* end = nullptr;
  unsigned long long value = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0' || value > max) return false;
  *out = static_cast<size_t>(value);
  return true;
}

bool ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--no-peer") { o->peer = false; continue; }
    if (arg == "--no-scaling") { o->scaling = false; continue; }
    if (i + 1 >= argc) return false;
    const char* value = argv[++i];
    size_t n = 0;
    if (arg == "--work-dir") { o->work_dir = value; continue; }
    if (arg == "--cedar-dir") { o->cedar_dir = value; continue; }
    if (!ParseCount(value, 100000000, &n)) return false;
    if (arg == "--requests") o->requests = n;
    else if (arg == "--decisions" && n > 0) o->decisions = n;
    else if (arg == "--cedar-requests") o->cedar_requests = n;
    else if (arg == "--scaling-decisions" && n > 0) o->scaling_decisions = n;
    else if (arg == "--scaling-cedar-requests") o->scaling_cedar_requests = n;
    else if (arg == "--seed") o->seed = n;
    else return false;
  }
  return true;
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

sov::Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return sov::NotFound("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const char* Verdict(bool met) { return met ? "met" : "NOT MET"; }

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) {
    std::fprintf(stderr,
                 "usage: %s [--requests N] [--decisions N] [--cedar-requests N] "
                 "[--scaling-decisions N] [--scaling-cedar-requests N] [--seed N] [--no-peer] "
                 "[--no-scaling] [--work-dir DIR] [--cedar-dir DIR]\n",
                 argv[0]);
    return 2;
  }
  sov::Result<std::string> policy_text = ReadFile(options.policy);
  if (!policy_text.ok()) {
    std::fprintf(stderr, "policy_vs_cedar: %s\n", policy_text.status().ToString().c_str());
    return 1;
  }
  sov::Result<Policy> policy = Policy::Load(*policy_text, options.policy);
  if (!policy.ok()) {
    std::fprintf(stderr, "policy_vs_cedar: %s\n", policy.status().ToString().c_str());
    return 1;
  }
  sov::Result<std::vector<DecisionRequest>> cases = LoadCases(options.cases);
  if (!cases.ok()) {
    std::fprintf(stderr, "policy_vs_cedar: %s\n", cases.status().ToString().c_str());
    return 1;
  }
  std::vector<DecisionRequest> requests = *std::move(cases);
  const size_t case_count = requests.size();
  Random rng(options.seed);
  const sov::SystemTime now{std::chrono::seconds(1795910400)};  // 2026-11-29T00:00:00Z
  for (size_t i = 0; i < options.requests; ++i) requests.push_back(DrawRequest(rng, now));

  std::error_code ec;
  std::filesystem::create_directories(options.work_dir, ec);
  const std::string requests_file = options.work_dir + "/requests.json";
  {
    std::string json = "[\n";
    for (size_t i = 0; i < requests.size(); ++i) {
      json += RequestJson(requests[i]) + (i + 1 < requests.size() ? ",\n" : "\n");
    }
    json += "]\n";
    if (!WriteFile(requests_file, json)) {
      std::fprintf(stderr, "policy_vs_cedar: cannot write %s\n", requests_file.c_str());
      return 1;
    }
  }

  // Our decisions on every request, for the comparison, and the mix they make.
  std::vector<Outcome> outcomes;
  std::map<std::string, std::pair<size_t, size_t>> mix;  // action -> (count, allowed)
  for (const DecisionRequest& r : requests) {
    outcomes.push_back(OutcomeOf(policy->Decide(r)));
    auto& [count, allowed] = mix[r.action];
    ++count;
    allowed += outcomes.back().effect == Effect::kAllow ? 1 : 0;
  }
  std::printf("policy_vs_cedar: %s (%zu rules, %s)\n", options.policy.c_str(),
              policy->rules().size(), policy->digest().substr(0, 19).c_str());
  std::printf("requests: %s (%zu cases of %s, then %s drawn with seed %" PRIu64 ")\nmix:",
              Thousands(static_cast<double>(requests.size())).c_str(), case_count,
              std::filesystem::path(options.cases).filename().c_str(),
              Thousands(static_cast<double>(options.requests)).c_str(), options.seed);
  size_t allowed_total = 0;
  for (const auto& [action, counts] : mix) {
    std::printf(" %s %.1f%% (%.0f%% allowed);", action.c_str(),
                100.0 * static_cast<double>(counts.first) / static_cast<double>(requests.size()),
                100.0 * static_cast<double>(counts.second) / static_cast<double>(counts.first));
    allowed_total += counts.second;
  }
  std::printf(" overall %.0f%% allowed\n\n",
              100.0 * static_cast<double>(allowed_total) / static_cast<double>(requests.size()));
  std::fflush(stdout);

  OurRun ours = MeasureOurs(*policy, requests, options.decisions);

  CedarRun cedar;
  if (options.peer) {
    std::printf("ours done; running cedar-wasm under node on %s requests...\n",
                Thousands(static_cast<double>(options.cedar_requests ? options.cedar_requests
                                                                     : requests.size()))
                    .c_str());
    std::fflush(stdout);
    cedar = RunCedar(options, requests_file, {options.cedar_dir + "/eu-gdpr.cedar"},
                     options.cedar_requests, 2000);
  } else {
    cedar.note = "peer not available: --no-peer";
  }

  std::printf("\n%-44s %13s %9s %9s %9s %9s\n", "engine (single thread)", "decisions/s",
              "p50 ns", "p99 ns", "p99.9 ns", "samples");
  std::printf("%s\n", std::string(98, '-').c_str());
  std::printf("%-44s %13s %9s %9s %9s %9s\n", "sov::policy::Policy::Decide",
              Thousands(ours.per_second).c_str(),
              Thousands(ours.latency.Percentile(0.50)).c_str(),
              Thousands(ours.latency.Percentile(0.99)).c_str(),
              Thousands(ours.latency.Percentile(0.999)).c_str(),
              Thousands(static_cast<double>(ours.latency.ns.size())).c_str());
  if (cedar.available) {
    const std::string name = "cedar-wasm " + cedar.version;
    std::printf("%-44s %13s %9s %9s %9s %9s\n", name.substr(0, 44).c_str(),
                Thousands(cedar.per_second()).c_str(),
                Thousands(cedar.latency.Percentile(0.50)).c_str(),
                Thousands(cedar.latency.Percentile(0.99)).c_str(),
                Thousands(cedar.latency.Percentile(0.999)).c_str(),
                Thousands(static_cast<double>(cedar.answers.size())).c_str());
  } else {
    std::printf("cedar-wasm: %s\n", cedar.note.c_str());
  }
  std::printf("(ours: decisions/s from 3 loops of %s decisions without a clock per decision, "
              "median; latencies with a steady_clock pair per decision, which adds about %.0f "
              "ns)\n",
              Thousands(static_cast<double>(options.decisions)).c_str(), ours.clock_overhead_ns);

  std::printf("\nours by action:");
  for (const auto& [action, latency] : ours.by_action) {
    if (latency.ns.size() * 100 < ours.latency.ns.size()) continue;  // under 1% of the mix
    std::printf(" %s p50 %s p99 %s;", action.c_str(), Thousands(latency.Percentile(0.5)).c_str(),
                Thousands(latency.Percentile(0.99)).c_str());
  }
  std::printf(" (ns)\n");

  int exit_code = 0;
  const double ratio = cedar.available ? ours.per_second / cedar.per_second() : 0;
  std::printf("\n%-36s %14s %14s  %s\n", "target (issue 3)", "measured", "target", "");
  std::printf("%-36s %11s ns %11s ns  %s\n", "p50 per decision",
              Thousands(ours.latency.Percentile(0.50)).c_str(), "< 1,000",
              Verdict(ours.latency.Percentile(0.50) < kTargetP50Ns));
  std::printf("%-36s %11s ns %11s ns  %s\n", "p99 per decision",
              Thousands(ours.latency.Percentile(0.99)).c_str(), "< 5,000",
              Verdict(ours.latency.Percentile(0.99) < kTargetP99Ns));
  if (cedar.available) {
    std::printf("%-36s %13.0fx %13s  %s\n", "throughput, ours / cedar-wasm", ratio, ">= 100x",
                Verdict(ratio >= kTargetRatio));
    std::printf("%-36s %13.0fx\n", "p50 latency, cedar-wasm / ours",
                cedar.latency.Percentile(0.50) / ours.latency.Percentile(0.50));
  } else {
    std::printf("%-36s %14s %13s  (%s)\n", "throughput, ours / cedar-wasm", "n/a", ">= 100x",
                cedar.note.c_str());
  }

  if (cedar.available) {
    std::printf("\nagreement (every request decided by both engines):\n");
    Agreement a = Compare(requests, outcomes, cedar, "eu-gdpr");
    std::printf("  %s requests compared: %zu decision disagreements; determining rules differ "
                "on %zu; %zu requests where cedar reported evaluation errors\n",
                Thousands(static_cast<double>(a.compared)).c_str(), a.decision_mismatches,
                a.rule_mismatches, a.cedar_errors);
    for (const std::string& line : cedar.error_lines) {
      std::printf("    cedar error: %s\n", line.c_str());
    }
    const size_t expected = options.cedar_requests > 0
                                ? std::min(options.cedar_requests, requests.size())
                                : requests.size();
    if (a.compared != expected) {
      std::printf("!!! cedar answered %zu of %zu requests !!!\n", a.compared, expected);
    }
    if (a.decision_mismatches > 0 || a.compared != expected) exit_code = 1;
  }
  std::fflush(stdout);

  if (options.scaling) {
    std::printf("\nscaling: generated rules added to the policy (a third for roles and a third "
                "for tenants outside the mix, on the mix's actions; a third on other actions)\n");
    std::printf("%-12s %8s %9s %12s %9s %9s %13s | %11s %11s %9s %s\n", "extra rules",
                "rules", "load ms", "decisions/s", "p50 ns", "p99 ns", "same decisions",
                "cedar p50", "cedar p99", "samples", "agree");
    std::printf("%s\n", std::string(136, '-').c_str());
    for (size_t extra : {size_t{0}, size_t{10}, size_t{100}, size_t{1000}, size_t{10000}}) {
      std::string text = *policy_text + ExtraRulesYaml(extra);
      Clock::time_point start = Clock::now();
      sov::Result<Policy> scaled = Policy::Load(text, options.policy);
      const double load_ms =
          std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      if (!scaled.ok() || scaled->rules().size() != policy->rules().size() + extra) {
        std::printf("%-12zu failed to load: %s\n", extra,
                    scaled.ok() ? "rule count differs" : scaled.status().ToString().c_str());
        exit_code = 1;
        continue;
      }
      std::vector<Outcome> scaled_outcomes;
      size_t same = 0;
      for (size_t i = 0; i < requests.size(); ++i) {
        scaled_outcomes.push_back(OutcomeOf(scaled->Decide(requests[i])));
        if (scaled_outcomes.back().effect == outcomes[i].effect &&
            scaled_outcomes.back().rules == outcomes[i].rules) {
          ++same;
        }
      }
      if (same != requests.size()) exit_code = 1;
      OurRun run = MeasureOurs(*scaled, requests, options.scaling_decisions);

      std::string cedar_p50 = "n/a", cedar_p99 = "n/a", cedar_n = "-", agree = "-";
      if (cedar.available && options.scaling_cedar_requests > 0) {
        const std::string extra_file =
            options.work_dir + "/extra-" + std::to_string(extra) + ".cedar";
        std::vector<std::string> files = {options.cedar_dir + "/eu-gdpr.cedar"};
        if (extra > 0) {
          WriteFile(extra_file, ExtraRulesCedar(extra));
          files.push_back(extra_file);
        }
        // cedar-wasm's time grows with the number of policies: fewer requests for big sets.
        const size_t cedar_n_requests = std::max<size_t>(
            std::min<size_t>(options.scaling_cedar_requests, 200000 / scaled->rules().size()),
            std::min<size_t>(options.scaling_cedar_requests, 50));
        CedarRun scaled_cedar = RunCedar(options, requests_file, files, cedar_n_requests,
                                         std::min<size_t>(cedar_n_requests, 200));
        if (scaled_cedar.available) {
          cedar_p50 = Thousands(scaled_cedar.latency.Percentile(0.50));
          cedar_p99 = Thousands(scaled_cedar.latency.Percentile(0.99));
          cedar_n = Thousands(static_cast<double>(scaled_cedar.answers.size()));
          Agreement a = Compare(requests, scaled_outcomes, scaled_cedar, "scaling");
          agree = a.decision_mismatches == 0
                      ? "yes"
                      : "NO: " + std::to_string(a.decision_mismatches);
          if (a.decision_mismatches > 0) exit_code = 1;
        } else {
          cedar_p50 = "failed";
          std::printf("  cedar with %zu extra rules: %s\n", extra, scaled_cedar.note.c_str());
        }
      }
      std::printf("%-12s %8zu %9.1f %12s %9s %9s %13s | %11s %11s %9s %s\n",
                  Thousands(static_cast<double>(extra)).c_str(), scaled->rules().size(), load_ms,
                  Thousands(run.per_second).c_str(),
                  Thousands(run.latency.Percentile(0.50)).c_str(),
                  Thousands(run.latency.Percentile(0.99)).c_str(),
                  same == requests.size() ? "all" : ("NO: " + std::to_string(same)).c_str(),
                  cedar_p50.c_str(), cedar_p99.c_str(), cedar_n.c_str(), agree.c_str());
      std::fflush(stdout);
    }
    std::printf("(ours: %s timed decisions per row; cedar: the first `samples` requests, at most "
                "%zu, fewer for big policy sets, after as many untimed (at most 200); ns per "
                "decision)\n",
                Thousands(static_cast<double>(options.scaling_decisions)).c_str(),
                options.scaling_cedar_requests);
  }

  if (exit_code != 0) std::printf("\npolicy_vs_cedar: FAILED (see above)\n");
  return exit_code;
}
