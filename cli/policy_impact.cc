#include "cli/policy_impact.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "cli/output.h"

namespace sov::cli {
namespace {

using Json = nlohmann::json;
using nlohmann::ordered_json;

constexpr std::string_view kDefaultDeny = "default-deny";

Status Missing(const std::string& path) { return InvalidArgument(path + " is missing"); }

const Json* Member(const Json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

Status ReadString(const Json& object, const char* key, const std::string& path, std::string& out) {
  const Json* value = Member(object, key);
  const std::string at = path + "." + key;
  if (value == nullptr) return Missing(at);
  if (!value->is_string()) return InvalidArgument(at + " must be a string");
  out = value->get<std::string>();
  return OkStatus();
}

Status ReadStrings(const Json& object, const char* key, const std::string& path,
                   std::vector<std::string>& out) {
  const Json* value = Member(object, key);
  const std::string at = path + "." + key;
  if (value == nullptr) return Missing(at);
  if (!value->is_array()) return InvalidArgument(at + " must be a list of strings");
  out.clear();
  for (const Json& item : *value) {
    if (!item.is_string()) return InvalidArgument(at + " must be a list of strings");
    out.push_back(item.get<std::string>());
  }
  return OkStatus();
}

Status ReadStringMap(const Json& object, const char* key, const std::string& path,
                     std::map<std::string, std::string>& out) {
  const Json* value = Member(object, key);
  const std::string at = path + "." + key;
  if (value == nullptr) return Missing(at);
  if (!value->is_object()) return InvalidArgument(at + " must be a map of strings");
  out.clear();
  for (const auto& [name, item] : value->items()) {
    if (!item.is_string()) return InvalidArgument(at + "." + name + " must be a string");
    out.emplace(name, item.get<std::string>());
  }
  return OkStatus();
}

Status ReadObject(const Json& object, const char* key, const std::string& path, const Json*& out) {
  out = Member(object, key);
  if (out == nullptr) return Missing(path + "." + key);
  if (!out->is_object()) return InvalidArgument(path + "." + key + " must be an object");
  return OkStatus();
}

Status ReadTime(const Json& object, const char* key, const std::string& path, SystemTime& out) {
  std::string text;
  SOV_RETURN_IF_ERROR(ReadString(object, key, path, text));
  Result<SystemTime> time = ParseRfc3339(text);
  if (!time.ok()) return InvalidArgument(path + "." + key + ": " + time.status().message());
  out = *time;
  return OkStatus();
}

// The artifact object as the gateway records it: empty for actions on no artifact, else every
// attribute rules see (createdAt only when known).
Status ReadArtifact(const Json& a, policy::Artifact& out) {
  const std::string path = "input.artifact";
  if (a.empty()) return OkStatus();
  SOV_RETURN_IF_ERROR(ReadString(a, "kind", path, out.kind));
  SOV_RETURN_IF_ERROR(ReadString(a, "name", path, out.name));
  SOV_RETURN_IF_ERROR(ReadString(a, "version", path, out.version));
  SOV_RETURN_IF_ERROR(ReadString(a, "ownerTenant", path, out.owner_tenant));
  SOV_RETURN_IF_ERROR(ReadString(a, "classification", path, out.classification));
  SOV_RETURN_IF_ERROR(ReadStrings(a, "purposes", path, out.purposes));
  SOV_RETURN_IF_ERROR(ReadString(a, "lawfulBasis", path, out.lawful_basis));
  SOV_RETURN_IF_ERROR(ReadString(a, "stage", path, out.stage));
  SOV_RETURN_IF_ERROR(ReadStringMap(a, "labels", path, out.labels));
  SOV_RETURN_IF_ERROR(ReadString(a, "storageLocation", path, out.storage_location));
  SOV_RETURN_IF_ERROR(ReadString(a, "storageJurisdiction", path, out.storage_jurisdiction));
  const Json* lineage = Member(a, "lineage");
  if (lineage == nullptr) return Missing(path + ".lineage");
  if (!lineage->is_array()) return InvalidArgument(path + ".lineage must be a list");
  for (size_t i = 0; i < lineage->size(); ++i) {
    const Json& e = (*lineage)[i];
    const std::string at = path + ".lineage[" + std::to_string(i) + "]";
    if (!e.is_object()) return InvalidArgument(at + " must be an object");
    policy::LineageEntry entry;
    SOV_RETURN_IF_ERROR(ReadString(e, "kind", at, entry.kind));
    SOV_RETURN_IF_ERROR(ReadString(e, "name", at, entry.name));
    SOV_RETURN_IF_ERROR(ReadString(e, "version", at, entry.version));
    SOV_RETURN_IF_ERROR(ReadString(e, "classification", at, entry.classification));
    SOV_RETURN_IF_ERROR(ReadStrings(e, "purposes", at, entry.purposes));
    out.lineage.push_back(std::move(entry));
  }
  if (Member(a, "createdAt") != nullptr) {
    SystemTime created;
    SOV_RETURN_IF_ERROR(ReadTime(a, "createdAt", path, created));
    out.created_at = created;
  }
  const Json* size = Member(a, "sizeBytes");
  if (size == nullptr) return Missing(path + ".sizeBytes");
  if (!size->is_number_integer() ||
      (size->is_number_unsigned() && size->get<uint64_t>() > INT64_MAX)) {
    return InvalidArgument(path + ".sizeBytes must be an integer");
  }
  out.size_bytes = size->get<int64_t>();
  return OkStatus();
}

std::string StringMember(const Json& object, const char* key) {
  const Json* value = object.is_object() ? Member(object, key) : nullptr;
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

// What the report says about an entry, from its top-level members (never from `input`, which
// may be the part that is malformed).
RecordedDecision Describe(const Json& leaf) {
  RecordedDecision d;
  d.index = leaf["index"].get<int64_t>();
  d.time = StringMember(leaf, "appendTime");
  if (const Json* principal = Member(leaf, "principal")) d.tenant = StringMember(*principal, "tenantId");
  d.action = StringMember(leaf, "action");
  if (const Json* artifact = Member(leaf, "artifact")) {
    d.artifact = StringMember(*artifact, "name");
    const std::string version = StringMember(*artifact, "version");
    if (!version.empty()) d.artifact += "@" + version;
  }
  if (const Json* decision = Member(leaf, "decision")) {
    d.effect = StringMember(*decision, "effect");
    d.rule = StringMember(*decision, "ruleId");
    d.policy_digest = StringMember(*decision, "policyDigest");
  }
  return d;
}

std::string Count(int64_t n, std::string_view word) {
  return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

std::string Dash(const std::string& text) { return text.empty() ? "-" : text; }

std::string RecordedSide(const std::string& effect, const std::string& rule) {
  if (rule == kDefaultDeny) return effect + " (no rule matched)";
  return effect + " (rule " + rule + ")";
}

std::string CandidateSide(const ImpactGroup& g) {
  if (g.after_rule == kDefaultDeny) return g.after_effect + " (no rule matched)";
  return g.after_effect + " (rule " + g.after_rule + " at " + g.after_location.ToString() + ")";
}

std::string ExampleLine(const RecordedDecision& d) {
  return std::to_string(d.index) + "  " + Dash(d.time) + "  " + Dash(d.tenant) + "  " +
         Dash(d.action) + "  " + Dash(d.artifact);
}

ordered_json DecisionJson(const RecordedDecision& d) {
  auto null_or = [](const std::string& s) { return s.empty() ? ordered_json(nullptr) : ordered_json(s); };
  return {{"index", d.index},
          {"time", d.time},
          {"tenant", null_or(d.tenant)},
          {"action", d.action},
          {"artifact", null_or(d.artifact)},
          {"recorded_policy", null_or(d.policy_digest)}};
}

}  // namespace

Result<policy::DecisionRequest> DecisionRequestFromInput(const Json& input) {
  if (!input.is_object()) return InvalidArgument("input must be an object");
  policy::DecisionRequest request;
  SOV_RETURN_IF_ERROR(ReadString(input, "action", "input", request.action));
  const Json* principal = nullptr;
  SOV_RETURN_IF_ERROR(ReadObject(input, "principal", "input", principal));
  SOV_RETURN_IF_ERROR(ReadString(*principal, "tenantId", "input.principal", request.principal.tenant_id));
  SOV_RETURN_IF_ERROR(ReadStrings(*principal, "roles", "input.principal", request.principal.roles));
  SOV_RETURN_IF_ERROR(
      ReadStrings(*principal, "purposes", "input.principal", request.principal.purposes));
  SOV_RETURN_IF_ERROR(
      ReadString(*principal, "jurisdiction", "input.principal", request.principal.jurisdiction));
  const Json* artifact = nullptr;
  SOV_RETURN_IF_ERROR(ReadObject(input, "artifact", "input", artifact));
  SOV_RETURN_IF_ERROR(ReadArtifact(*artifact, request.artifact));
  SOV_RETURN_IF_ERROR(ReadStringMap(input, "attributes", "input", request.attributes));
  SOV_RETURN_IF_ERROR(ReadTime(input, "now", "input", request.now));
  return request;
}

ImpactAnalysis::ImpactAnalysis(policy::Policy candidate, ImpactWindow window)
    : candidate_(std::move(candidate)), window_(window) {
  report_.policy_file = candidate_.file_name();
  report_.policy_name = candidate_.name();
  report_.policy_digest = candidate_.digest();
}

Status ImpactAnalysis::Add(std::string_view leaf_data) {
  Json leaf = Json::parse(leaf_data, nullptr, /*allow_exceptions=*/false);
  if (leaf.is_discarded() || !leaf.is_object()) {
    return InvalidArgument("leaf_data is not a JSON object");
  }
  const Json* index = Member(leaf, "index");
  if (index == nullptr || !index->is_number_integer() ||
      (index->is_number_unsigned() && index->get<uint64_t>() > INT64_MAX)) {
    return InvalidArgument("leaf_data has no integer \"index\"");
  }
  const Json* type = Member(leaf, "type");
  if (type == nullptr || !type->is_string()) {
    return InvalidArgument("entry " + std::to_string(index->get<int64_t>()) +
                           ": leaf_data has no string \"type\"");
  }
  if (type->get<std::string>() != "DECISION") return OkStatus();
  Result<SystemTime> time = ParseRfc3339(StringMember(leaf, "appendTime"));
  if (!time.ok()) {
    return InvalidArgument("entry " + std::to_string(index->get<int64_t>()) +
                           ": \"appendTime\": " + time.status().message());
  }
  if (window_.since.has_value() && *time < *window_.since) return OkStatus();
  if (window_.until.has_value() && *time >= *window_.until) return OkStatus();
  if (window_.last > 0) {
    // Kept as text: a parsed entry takes several times the memory.
    kept_.emplace_back(leaf_data);
    if (static_cast<int64_t>(kept_.size()) > window_.last) kept_.pop_front();
    return OkStatus();
  }
  Replay(leaf);
  return OkStatus();
}

void ImpactAnalysis::Replay(const Json& leaf) {
  RecordedDecision recorded = Describe(leaf);
  ++report_.decisions;
  if (report_.first_index < 0) {
    report_.first_index = recorded.index;
    report_.first_time = recorded.time;
  }
  report_.last_index = recorded.index;
  report_.last_time = recorded.time;

  auto not_replayable = [&](std::string reason) {
    report_.not_replayable.push_back({std::move(recorded), std::move(reason)});
  };
  if (recorded.effect != "allow" && recorded.effect != "deny") {
    return not_replayable("no recorded decision effect");
  }
  const Json* input = Member(leaf, "input");
  if (input == nullptr) {
    if (recorded.rule == "per-item") {
      return not_replayable(
          "a listing's summary entry: its items were decided one by one and not recorded singly");
    }
    return not_replayable("no recorded input (written by a gateway that did not record inputs)");
  }
  Result<policy::DecisionRequest> request = DecisionRequestFromInput(*input);
  if (!request.ok()) return not_replayable(request.status().message());

  const policy::Decision decision = candidate_.Decide(*request);
  ++report_.replayed;
  {
    auto [it, added] = policy_of_.try_emplace(recorded.policy_digest, report_.recorded_policies.size());
    if (added) report_.recorded_policies.emplace_back(recorded.policy_digest, 0);
    ++report_.recorded_policies[it->second].second;
  }
  const std::string after_effect(policy::EffectName(decision.effect));
  const std::string after_rule =
      decision.deciding_rule != nullptr ? decision.deciding_rule->id : std::string(kDefaultDeny);
  if (after_effect == recorded.effect && after_rule == recorded.rule) {
    ++report_.unchanged;
    return;
  }
  ++report_.changed;
  if (after_effect != recorded.effect) ++report_.effect_changed;
  std::vector<std::string> key = {recorded.effect, recorded.rule, after_effect, after_rule};
  auto [it, added] = group_of_.try_emplace(std::move(key), report_.groups.size());
  if (added) {
    ImpactGroup group;
    group.before_effect = recorded.effect;
    group.before_rule = recorded.rule;
    group.after_effect = after_effect;
    group.after_rule = after_rule;
    if (decision.deciding_rule != nullptr) group.after_location = decision.deciding_rule->location;
    group.after_reason = std::string(decision.reason());
    report_.groups.push_back(std::move(group));
  }
  ImpactGroup& group = report_.groups[it->second];
  if (std::find(group.actions.begin(), group.actions.end(), request->action) == group.actions.end()) {
    group.actions.insert(std::upper_bound(group.actions.begin(), group.actions.end(), request->action),
                         request->action);
  }
  group.decisions.push_back(std::move(recorded));
}

ImpactReport ImpactAnalysis::Finish() {
  for (const std::string& text : kept_) {
    // Add parsed and checked each of these already.
    Replay(Json::parse(text, nullptr, /*allow_exceptions=*/false));
  }
  kept_.clear();
  std::stable_sort(report_.groups.begin(), report_.groups.end(),
                   [](const ImpactGroup& a, const ImpactGroup& b) {
                     if (a.count() != b.count()) return a.count() > b.count();
                     if (a.effect_changed() != b.effect_changed()) return a.effect_changed();
                     return std::tie(a.before_effect, a.before_rule, a.after_effect, a.after_rule) <
                            std::tie(b.before_effect, b.before_rule, b.after_effect, b.after_rule);
                   });
  group_of_.clear();
  return std::move(report_);
}

std::string FormatImpactReport(const ImpactReport& report, size_t examples) {
  KeyValues head = {{"policy", report.policy_name + " (" + report.policy_file + ") " +
                                   report.policy_digest}};
  if (!report.source.empty()) head.emplace_back("source", report.source);
  if (!report.window.empty()) head.emplace_back("window", report.window);
  std::string decisions = std::to_string(report.decisions);
  if (report.decisions > 0) {
    decisions += " (entries " + std::to_string(report.first_index) + " to " +
                 std::to_string(report.last_index) + ", " + report.first_time + " to " +
                 report.last_time + ")";
  }
  head.emplace_back("decisions", decisions);
  head.emplace_back("replayed", std::to_string(report.replayed));
  head.emplace_back("unchanged", std::to_string(report.unchanged));
  std::string changed = std::to_string(report.changed);
  if (report.changed > 0) {
    changed += " (" + std::to_string(report.effect_changed) + " change effect, " +
               std::to_string(report.changed - report.effect_changed) + " only the deciding rule)";
  }
  head.emplace_back("changed", changed);
  head.emplace_back("not replayable", std::to_string(report.not_replayable.size()));
  for (const auto& [digest, count] : report.recorded_policies) {
    head.emplace_back("recorded under", Dash(digest) + " (" + Count(count, "decision") + ")");
  }
  std::string out = FormatKeyValues(head);

  if (report.groups.empty()) out += "\nno replayed decision would change\n";
  for (const ImpactGroup& g : report.groups) {
    out += "\n" + RecordedSide(g.before_effect, g.before_rule) + " -> " + CandidateSide(g) + ": " +
           Count(g.count(), "decision") + "\n";
    std::string actions;
    for (const std::string& a : g.actions) actions += (actions.empty() ? "" : ", ") + a;
    out += "  actions: " + actions + "\n";
    for (size_t i = 0; i < g.decisions.size() && i < examples; ++i) {
      out += "  " + ExampleLine(g.decisions[i]) + "\n";
    }
    if (g.decisions.size() > examples) {
      out += "  ... and " + std::to_string(g.decisions.size() - examples) +
             " more (--output json lists every one)\n";
    }
  }

  if (!report.not_replayable.empty()) {
    // Grouped by reason, in order of first appearance.
    std::vector<std::pair<std::string, std::vector<const RecordedDecision*>>> reasons;
    for (const NotReplayable& n : report.not_replayable) {
      auto it = std::find_if(reasons.begin(), reasons.end(),
                             [&](const auto& r) { return r.first == n.reason; });
      if (it == reasons.end()) {
        reasons.push_back({n.reason, {}});
        it = reasons.end() - 1;
      }
      it->second.push_back(&n.recorded);
    }
    out += "\nnot replayable: " + Count(static_cast<int64_t>(report.not_replayable.size()), "decision") + "\n";
    for (const auto& [reason, list] : reasons) {
      out += "  " + reason + ": " + Count(static_cast<int64_t>(list.size()), "decision") + "\n";
      for (size_t i = 0; i < list.size() && i < examples; ++i) {
        out += "    " + ExampleLine(*list[i]) + "\n";
      }
      if (list.size() > examples) {
        out += "    ... and " + std::to_string(list.size() - examples) + " more\n";
      }
    }
  }
  return out;
}

ordered_json ImpactReportJson(const ImpactReport& report) {
  ordered_json policies = ordered_json::array();
  for (const auto& [digest, count] : report.recorded_policies) {
    policies.push_back({{"digest", digest}, {"decisions", count}});
  }
  ordered_json groups = ordered_json::array();
  for (const ImpactGroup& g : report.groups) {
    ordered_json after = {{"effect", g.after_effect}, {"rule", g.after_rule}};
    if (g.after_location.line > 0) {
      after["file"] = g.after_location.file;
      after["line"] = g.after_location.line;
      after["column"] = g.after_location.column;
    } else {
      after["file"] = nullptr;
      after["line"] = nullptr;
      after["column"] = nullptr;
    }
    after["reason"] = g.after_reason;
    ordered_json decisions = ordered_json::array();
    for (const RecordedDecision& d : g.decisions) decisions.push_back(DecisionJson(d));
    groups.push_back({{"before", {{"effect", g.before_effect}, {"rule", g.before_rule}}},
                      {"after", std::move(after)},
                      {"count", g.count()},
                      {"actions", g.actions},
                      {"decisions", std::move(decisions)}});
  }
  ordered_json skipped = ordered_json::array();
  for (const NotReplayable& n : report.not_replayable) {
    ordered_json item = DecisionJson(n.recorded);
    item["effect"] = n.recorded.effect.empty() ? ordered_json(nullptr) : ordered_json(n.recorded.effect);
    item["rule"] = n.recorded.rule.empty() ? ordered_json(nullptr) : ordered_json(n.recorded.rule);
    item["reason"] = n.reason;
    skipped.push_back(std::move(item));
  }
  auto index_or_null = [](int64_t i) { return i < 0 ? ordered_json(nullptr) : ordered_json(i); };
  return {{"ok", true},
          {"policy", report.policy_file},
          {"name", report.policy_name},
          {"digest", report.policy_digest},
          {"source", report.source.empty() ? ordered_json(nullptr) : ordered_json(report.source)},
          {"window", report.window.empty() ? ordered_json(nullptr) : ordered_json(report.window)},
          {"decisions", report.decisions},
          {"replayed", report.replayed},
          {"unchanged", report.unchanged},
          {"changed", report.changed},
          {"effect_changed", report.effect_changed},
          {"not_replayable", static_cast<int64_t>(report.not_replayable.size())},
          {"first_index", index_or_null(report.first_index)},
          {"last_index", index_or_null(report.last_index)},
          {"recorded_policies", std::move(policies)},
          {"groups", std::move(groups)},
          {"not_replayable_decisions", std::move(skipped)}};
}

}  // namespace sov::cli
