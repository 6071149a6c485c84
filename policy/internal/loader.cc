// The policy compiler: YAML text -> CompiledPolicy. It reads each section with YamlReader,
// records every error it finds (it keeps going after one, so that `sovctl policy check`
// reports them all), compiles CEL conditions with their positions mapped into the file,
// turns the structured sections into generated rules, and builds the action index.
#include <algorithm>
#include <set>

#include "crypto/sha256.h"
#include "policy/internal/compiled_policy.h"
#include "policy/internal/inputs.h"
#include "policy/internal/yaml_reader.h"

namespace sov::policy::internal {
namespace {

constexpr std::string_view kTopKeys[] = {"version", "name", "description", "jurisdictions",
                                         "residency", "models", "retention", "purposes",
                                         "release_gates", "lineage", "rules"};
constexpr std::string_view kResidencyKeys[] = {"store_in", "transfer_to"};
constexpr std::string_view kModelsKeys[] = {"inherit_classification"};
constexpr std::string_view kInheritModes[] = {"strictest", "declared"};
constexpr std::string_view kRetentionKeys[] = {"classification", "when", "max_age", "at_deadline",
                                               "description"};
constexpr std::string_view kDeadlineActions[] = {"erase", "revoke"};
constexpr std::string_view kPurposeKeys[] = {"lawful_basis", "description"};
constexpr std::string_view kGateKeys[] = {"id", "description", "applies_when", "benchmarks",
                                          "validation_datasets", "require", "signatures"};
constexpr std::string_view kLineageKeys[] = {"id", "description", "when", "on_ancestor_erased"};
constexpr std::string_view kLineageActions[] = {"revoke", "flag-retrain", "none"};
constexpr std::string_view kSignatureKeys[] = {"threshold", "signers"};
constexpr std::string_view kRuleKeys[] = {"id", "description", "effect", "actions", "principals",
                                          "when", "reason"};
constexpr std::string_view kPrincipalKeys[] = {"roles", "tenants"};
constexpr std::string_view kEffects[] = {"allow", "deny"};
constexpr std::string_view kGeneratedPrefixes[] = {"residency.", "purposes.", "release_gates"};

uint8_t NeedsOf(std::string_view source) {
  // A condition can name a variable only by spelling it out, so a substring test is a safe
  // over-approximation of the variables it reads.
  uint8_t needs = 0;
  if (source.find("principal") != std::string_view::npos) needs |= kNeedsPrincipal;
  if (source.find("artifact") != std::string_view::npos) needs |= kNeedsArtifact;
  if (source.find("request") != std::string_view::npos) needs |= kNeedsRequest;
  if (source.find("now") != std::string_view::npos) needs |= kNeedsNow;
  return needs;
}

std::string JoinNames(const std::vector<std::pair<std::string, SourceLocation>>& items) {
  std::string out;
  for (const auto& [name, loc] : items) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

class Compiler {
 public:
  Compiler(std::string_view text, const std::string& file_name, std::vector<Diagnostic>* diagnostics)
      : text_(text), reader_(text, file_name, diagnostics) {}

  std::shared_ptr<CompiledPolicy> Run();

 private:
  using Field = YamlReader::Field;
  using Names = std::vector<std::pair<std::string, SourceLocation>>;

  void ReadJurisdictions(const Field& field);
  std::optional<CountrySet> ResolveJurisdictionList(const YAML::Node& node, const SourceLocation& at,
                                                    std::string_view what, Names* written);
  void ReadResidency(const Field& field);
  void ReadModels(const Field& field);
  void ReadRetention(const Field& field);
  void ReadPurposes(const Field& field);
  void ReadReleaseGates(const Field& field);
  void ReadLineage(const Field& field);
  void ReadRules(const Field& field);
  std::optional<cel::Program> CompileCel(const YAML::Node& node, const SourceLocation& at,
                                         std::string_view what, std::vector<std::string> variables,
                                         ScalarMap* map, std::string* source);
  CompiledRule Generated(std::string id, Effect effect, const SourceLocation& at,
                         std::string reason, std::string section, std::string condition,
                         std::vector<std::string> actions, NativeCheck native);
  void BuildIndex();

  std::string_view text_;
  YamlReader reader_;
  std::shared_ptr<CompiledPolicy> policy_ = std::make_shared<CompiledPolicy>();
  std::vector<CompiledRule> generated_;
  std::vector<CompiledRule> written_;
  std::set<std::string> rule_ids_;
};

std::shared_ptr<CompiledPolicy> Compiler::Run() {
  policy_->file_name = reader_.file_name();
  policy_->digest = crypto::Sha256Of(text_).ToString();
  std::optional<YAML::Node> root = reader_.Parse();
  if (!root) return nullptr;
  if (root->IsNull()) {
    reader_.Error(reader_.FileStart(), "the policy file is empty",
                  "start with `version: 1` and `name: ...` (see docs/policy.md)");
    return nullptr;
  }
  auto fields = reader_.Map(*root, reader_.FileStart(), "the policy file", kTopKeys);
  if (!fields) return nullptr;

  // Jurisdictions first: residency refers to them, wherever they are written.
  const Field* version = YamlReader::Find(*fields, "version");
  if (version == nullptr) {
    reader_.Error(reader_.FileStart(), "missing `version`", "add `version: 1` at the top");
  } else if (auto v = reader_.String(version->value, version->value_location, "version")) {
    if (*v != "1") {
      reader_.Error(version->value_location, "unsupported policy version `" + *v + "`",
                    "this gateway reads `version: 1`");
    }
  }
  const Field* name = YamlReader::Find(*fields, "name");
  if (name == nullptr) {
    reader_.Error(reader_.FileStart(), "missing `name`", "add e.g. `name: eu-ml-platform`");
  } else if (auto n = reader_.String(name->value, name->value_location, "name")) {
    policy_->name = *n;
  }
  if (const Field* f = YamlReader::Find(*fields, "description")) {
    if (auto d = reader_.String(f->value, f->value_location, "description")) policy_->description = *d;
  }
  if (const Field* f = YamlReader::Find(*fields, "jurisdictions")) ReadJurisdictions(*f);
  if (const Field* f = YamlReader::Find(*fields, "models")) ReadModels(*f);
  if (const Field* f = YamlReader::Find(*fields, "residency")) ReadResidency(*f);
  if (const Field* f = YamlReader::Find(*fields, "retention")) ReadRetention(*f);
  if (const Field* f = YamlReader::Find(*fields, "purposes")) ReadPurposes(*f);
  if (const Field* f = YamlReader::Find(*fields, "release_gates")) ReadReleaseGates(*f);
  if (const Field* f = YamlReader::Find(*fields, "lineage")) ReadLineage(*f);
  if (const Field* f = YamlReader::Find(*fields, "rules")) ReadRules(*f);
  if (reader_.failed()) return nullptr;

  // Generated rules first, then written ones, each group in file order.
  std::stable_sort(generated_.begin(), generated_.end(), [](const CompiledRule& a, const CompiledRule& b) {
    return a.info.location.line < b.info.location.line;
  });
  for (auto& r : generated_) policy_->rules.push_back(std::move(r));
  for (auto& r : written_) policy_->rules.push_back(std::move(r));
  for (const CompiledRule& r : policy_->rules) policy_->rule_infos.push_back(&r.info);
  BuildIndex();
  return policy_;
}

void Compiler::ReadJurisdictions(const Field& field) {
  auto groups = reader_.OpenMap(field.value, field.key_location, "jurisdictions");
  if (!groups) return;
  std::map<std::string, const Field*> by_name;
  std::vector<std::string> names;
  for (const Field& g : *groups) {
    if (g.key == "*" || g.key.empty()) {
      reader_.Error(g.key_location, "`" + g.key + "` cannot name a jurisdiction group");
      continue;
    }
    if (IsIsoCountryCode(g.key)) {
      reader_.Error(g.key_location, "group name `" + g.key + "` is an ISO 3166 country code",
                    "choose a name that is not a country code, e.g. `" + g.key + "-ONLY`");
      continue;
    }
    by_name[g.key] = &g;
    names.push_back(g.key);
    policy_->jurisdiction_locations[g.key] = g.key_location;
  }
  // Resolve groups depth first with an explicit stack (a chain of thousands of groups must not
  // overflow the call stack); `state` finds cycles of any length.
  std::map<std::string, int> state;  // 0 new, 1 resolving, 2 done
  std::set<std::string> failed;      // resolved with an error: not merged into other groups
  struct Frame {
    std::string group;
    Names items;
    size_t next = 0;
    CountrySet set;
    bool ok = true;
  };
  std::vector<Frame> frames;
  auto open = [&](const std::string& group) {
    state[group] = 1;
    Frame frame;
    frame.group = group;
    const Field* g = by_name[group];
    auto items = reader_.StringList(g->value, g->key_location, "jurisdiction group `" + group + "`");
    if (items) {
      frame.items = std::move(*items);
    } else {
      frame.ok = false;
    }
    frames.push_back(std::move(frame));
  };
  for (const std::string& root : names) {
    if (state[root] != 0) continue;
    open(root);
    while (!frames.empty()) {
      Frame& frame = frames.back();
      if (frame.next == frame.items.size()) {
        state[frame.group] = 2;
        policy_->jurisdictions[frame.group] = frame.set;
        if (!frame.ok) failed.insert(frame.group);
        Frame done = std::move(frame);
        frames.pop_back();
        if (!frames.empty()) {
          if (done.ok) {
            frames.back().set.Merge(done.set);
          } else {
            frames.back().ok = false;
          }
        }
        continue;
      }
      // Plain references, not a structured binding: clang 14 cannot capture those in lambdas.
      const std::string& member = frame.items[frame.next].first;
      const SourceLocation& loc = frame.items[frame.next].second;
      ++frame.next;
      if (member == "*") {
        frame.set.anywhere = true;
      } else if (by_name.count(member) != 0) {
        const int member_state = state[member];
        if (member_state == 1) {
          std::string cycle;
          auto start = std::find_if(frames.begin(), frames.end(),
                                    [&](const Frame& f) { return f.group == member; });
          for (auto it = start; it != frames.end(); ++it) cycle += it->group + " -> ";
          cycle += member;
          reader_.Error(loc, "jurisdiction groups form a cycle: " + cycle,
                        "a group may not contain itself, directly or through other groups");
          frame.ok = false;
        } else if (member_state == 2) {
          if (failed.count(member) != 0) {
            frame.ok = false;
          } else {
            frame.set.Merge(policy_->jurisdictions[member]);
          }
        } else {
          open(member);  // invalidates `frame`; the member is merged when its frame closes
        }
      } else if (IsIsoCountryCode(member)) {
        frame.set.Add(member);
      } else {
        std::string upper = member;
        for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        std::string hint = IsIsoCountryCode(upper) ? "country codes are upper case: `" + upper + "`"
                                                   : SuggestHint(member, names);
        reader_.Error(loc, "unknown jurisdiction `" + member + "` in group `" + frame.group + "`",
                      hint.empty() ? "use an ISO 3166-1 alpha-2 code or a group defined here" : hint);
        frame.ok = false;
      }
    }
  }
}

std::optional<CountrySet> Compiler::ResolveJurisdictionList(const YAML::Node& node,
                                                            const SourceLocation& at,
                                                            std::string_view what, Names* written) {
  auto items = reader_.StringList(node, at, what);
  if (!items) return std::nullopt;
  CountrySet set;
  bool ok = true;
  std::vector<std::string> names;
  for (const auto& [name, loc] : policy_->jurisdictions) names.push_back(name);
  for (const auto& [member, loc] : *items) {
    if (member == "*") {
      set.anywhere = true;
    } else if (auto it = policy_->jurisdictions.find(member); it != policy_->jurisdictions.end()) {
      set.Merge(it->second);
    } else if (IsIsoCountryCode(member)) {
      set.Add(member);
    } else {
      std::string upper = member;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      std::string hint = IsIsoCountryCode(upper) ? "country codes are upper case: `" + upper + "`"
                                                 : SuggestHint(member, names);
      reader_.Error(loc, "unknown jurisdiction `" + member + "` in " + std::string(what),
                    hint.empty() ? "define it under `jurisdictions:` or use an ISO 3166-1 alpha-2 code" : hint);
      ok = false;
    }
  }
  if (items->empty()) {
    reader_.Error(reader_.Loc(node, at), std::string(what) + " is empty",
                  "list at least one jurisdiction, or \"*\" for anywhere");
    ok = false;
  }
  if (written != nullptr) *written = *items;
  if (!ok) return std::nullopt;
  return set;
}

CompiledRule Compiler::Generated(std::string id, Effect effect, const SourceLocation& at,
                                 std::string reason, std::string section, std::string condition,
                                 std::vector<std::string> actions, NativeCheck native) {
  CompiledRule r;
  r.info.id = std::move(id);
  r.info.effect = effect;
  r.info.location = at;
  r.info.reason = std::move(reason);
  r.info.section = std::move(section);
  r.info.condition = std::move(condition);
  r.actions = std::move(actions);
  r.native = native;
  rule_ids_.insert(r.info.id);
  return r;
}

void Compiler::ReadResidency(const Field& field) {
  auto classes = reader_.OpenMap(field.value, field.key_location, "residency");
  if (!classes) return;
  policy_->has_residency = true;
  std::vector<std::string> known(Classifications().begin(), Classifications().end());
  for (const Field& c : *classes) {
    if (std::find(known.begin(), known.end(), c.key) == known.end()) {
      reader_.Error(c.key_location, "unknown classification `" + c.key + "` in residency",
                    SuggestHint(c.key, known));
      continue;
    }
    const std::string where = "residency." + c.key;
    auto entries = reader_.Map(c.value, c.key_location, where, kResidencyKeys);
    if (!entries) continue;
    Residency res;
    res.location = c.key_location;
    bool ok = true;
    for (std::string_view key : kResidencyKeys) {
      const Field* f = YamlReader::Find(*entries, key);
      if (f == nullptr) {
        reader_.Error(c.key_location, where + " needs `" + std::string(key) + "`",
                      key == "store_in" ? "e.g. `store_in: [EEA]`" : "e.g. `transfer_to: [EEA]`");
        ok = false;
        continue;
      }
      Names written;
      auto set = ResolveJurisdictionList(f->value, f->value_location, where + "." + std::string(key), &written);
      if (!set) {
        ok = false;
        continue;
      }
      const bool store = key == "store_in";
      (store ? res.store_in : res.transfer_to) = *set;
      CompiledRule r = Generated(
          where + "." + std::string(key), Effect::kDeny, f->key_location,
          store ? c.key + " data may be stored only in: " + JoinNames(written)
                : c.key + " data may be transferred only to: " + JoinNames(written),
          "residency",
          store ? "artifact.classification == '" + c.key +
                      "' && artifact.storage_jurisdiction not in [" + JoinNames(written) + "]"
                : "artifact.classification == '" + c.key + "' && (principal.jurisdiction or "
                      "request.target_jurisdiction) not in [" + JoinNames(written) + "]",
          {store ? "artifact.push" : "artifact.fetch"},
          store ? NativeCheck::kStoreOutside : NativeCheck::kTransferOutside);
      r.classification = c.key;
      r.countries = *set;
      generated_.push_back(std::move(r));
    }
    if (ok) policy_->residency[c.key] = res;
  }
  generated_.push_back(Generated(
      "residency.unlisted", Effect::kDeny, field.key_location,
      "the artifact's classification is not listed under residency, so it may be neither stored "
      "nor transferred",
      "residency", "artifact.classification not among the classifications under residency",
      {"artifact.push", "artifact.fetch"}, NativeCheck::kUnlistedClassification));
}

void Compiler::ReadModels(const Field& field) {
  auto fields = reader_.Map(field.value, field.key_location, "models", kModelsKeys);
  if (!fields) return;
  if (const Field* f = YamlReader::Find(*fields, "inherit_classification")) {
    auto mode = reader_.String(f->value, f->value_location, "models.inherit_classification");
    if (!mode) return;
    if (*mode == "strictest") {
      policy_->inherit_strictest = true;
    } else if (*mode == "declared") {
      policy_->inherit_strictest = false;
    } else {
      reader_.Error(f->value_location, "unknown inheritance `" + *mode + "`",
                    SuggestHint(*mode, kInheritModes));
    }
  }
}

void Compiler::ReadRetention(const Field& field) {
  auto items = reader_.Sequence(field.value, field.key_location, "retention");
  if (!items) return;
  std::vector<std::string> known(Classifications().begin(), Classifications().end());
  for (const YAML::Node& item : *items) {
    const SourceLocation at = reader_.Loc(item, field.key_location);
    auto fields = reader_.Map(item, at, "a retention entry", kRetentionKeys);
    if (!fields) continue;
    RetentionEntry e;
    e.location = at;
    const Field* cls = YamlReader::Find(*fields, "classification");
    const Field* when = YamlReader::Find(*fields, "when");
    if ((cls == nullptr) == (when == nullptr)) {
      reader_.Error(at, "a retention entry needs exactly one of `classification` and `when`",
                    "e.g. `classification: personal` or `when: artifact.kind == 'model'`");
      continue;
    }
    if (cls != nullptr) {
      auto c = reader_.String(cls->value, cls->value_location, "classification");
      if (!c) continue;
      if (std::find(known.begin(), known.end(), *c) == known.end()) {
        reader_.Error(cls->value_location, "unknown classification `" + *c + "`", SuggestHint(*c, known));
        continue;
      }
      e.classification = *c;
    } else {
      std::string source;
      e.when = CompileCel(when->value, when->value_location, "retention condition", {"artifact"},
                          &e.when_map, &source);
      if (!e.when) continue;
    }
    const Field* age = YamlReader::Find(*fields, "max_age");
    if (age == nullptr) {
      reader_.Error(at, "a retention entry needs `max_age`", "e.g. `max_age: 730d` or `max_age: unlimited`");
      continue;
    }
    auto age_text = reader_.String(age->value, age->value_location, "max_age");
    if (!age_text) continue;
    auto parsed = ParseAge(*age_text);
    if (!parsed.ok()) {
      reader_.Error(age->value_location, parsed.status().message(),
                    "write a whole number and a unit: w (weeks), d (days), h (hours), m (minutes), "
                    "s (seconds), e.g. `730d`; or `unlimited`");
      continue;
    }
    e.max_age = *parsed;
    const Field* action = YamlReader::Find(*fields, "at_deadline");
    if (action == nullptr) {
      if (e.max_age) {
        reader_.Error(at, "a retention entry with a deadline needs `at_deadline`",
                      "`at_deadline: erase` or `at_deadline: revoke`");
        continue;
      }
    } else if (auto a = reader_.String(action->value, action->value_location, "at_deadline")) {
      if (*a == "erase") {
        e.action = RetentionAction::kErase;
      } else if (*a == "revoke") {
        e.action = RetentionAction::kRevoke;
      } else {
        reader_.Error(action->value_location, "unknown deadline action `" + *a + "`",
                      SuggestHint(*a, kDeadlineActions));
        continue;
      }
      if (!e.max_age) {
        reader_.Error(action->key_location, "`at_deadline` makes no sense with `max_age: unlimited`",
                      "remove `at_deadline`");
        continue;
      }
    }
    policy_->retention.push_back(std::move(e));
  }
}

void Compiler::ReadPurposes(const Field& field) {
  auto purposes = reader_.OpenMap(field.value, field.key_location, "purposes");
  if (!purposes) return;
  for (const Field& p : *purposes) {
    auto fields = reader_.Map(p.value, p.key_location, "purpose `" + p.key + "`", kPurposeKeys);
    if (!fields) continue;
    Purpose purpose;
    purpose.location = p.key_location;
    const Field* basis = YamlReader::Find(*fields, "lawful_basis");
    if (basis == nullptr) {
      reader_.Error(p.key_location, "purpose `" + p.key + "` needs `lawful_basis`",
                    "one of: consent, contract, legal-obligation, vital-interests, public-task, "
                    "legitimate-interests (GDPR Art. 6(1))");
      continue;
    }
    auto b = reader_.String(basis->value, basis->value_location, "lawful_basis");
    if (!b) continue;
    auto bases = LawfulBases();
    if (std::find(bases.begin(), bases.end(), *b) == bases.end()) {
      reader_.Error(basis->value_location, "unknown lawful basis `" + *b + "`", SuggestHint(*b, bases));
      continue;
    }
    purpose.lawful_basis = *b;
    if (const Field* d = YamlReader::Find(*fields, "description")) {
      if (auto text = reader_.String(d->value, d->value_location, "description")) purpose.description = *text;
    }
    policy_->purposes[p.key] = std::move(purpose);
  }
  const SourceLocation& at = field.key_location;
  generated_.push_back(Generated(
      "purposes.fetch", Effect::kDeny, at,
      "the artifact serves none of the caller's purposes (purpose limitation, GDPR Art. 5(1)(b))",
      "purposes", "artifact.purposes and principal.purposes share no purpose", {"artifact.fetch"},
      NativeCheck::kNoSharedPurpose));
  generated_.push_back(Generated(
      "purposes.declared", Effect::kDeny, at,
      "the artifact names a purpose that this policy does not declare under purposes", "purposes",
      "an artifact purpose is not declared under purposes", {"artifact.push"},
      NativeCheck::kUndeclaredPurpose));
  generated_.push_back(Generated(
      "purposes.lawful_basis", Effect::kDeny, at,
      "personal data needs a purpose and the lawful basis that the policy declares for each of its "
      "purposes (GDPR Art. 6)",
      "purposes",
      "artifact.classification is personal data and (no purposes or artifact.lawful_basis differs "
      "from a purpose's lawful_basis)",
      {"artifact.push"}, NativeCheck::kLawfulBasisMismatch));
  generated_.push_back(Generated(
      "purposes.lineage", Effect::kDeny, at,
      "a model may serve only purposes that every dataset in its lineage was collected for",
      "purposes", "artifact.kind == 'model' and a purpose is missing from a lineage dataset's purposes",
      {"artifact.push"}, NativeCheck::kLineagePurposes));
}

void Compiler::ReadReleaseGates(const Field& field) {
  auto items = reader_.Sequence(field.value, field.key_location, "release_gates");
  if (!items) return;
  std::set<std::string> ids;
  for (const YAML::Node& item : *items) {
    const SourceLocation at = reader_.Loc(item, field.key_location);
    auto fields = reader_.Map(item, at, "a release gate", kGateKeys);
    if (!fields) continue;
    ReleaseGate gate;
    CompiledGate compiled;
    gate.location = at;
    bool ok = true;
    const Field* id = YamlReader::Find(*fields, "id");
    if (id == nullptr) {
      reader_.Error(at, "a release gate needs an `id`", "e.g. `id: high-risk-credit`");
      ok = false;
    } else if (auto text = reader_.String(id->value, id->value_location, "id")) {
      gate.id = *text;
      if (!ids.insert(gate.id).second) {
        reader_.Error(id->value_location, "release gate id `" + gate.id + "` is used twice");
        ok = false;
      }
    }
    if (const Field* f = YamlReader::Find(*fields, "applies_when")) {
      compiled.applies_when = CompileCel(f->value, f->value_location, "applies_when", {"artifact"},
                                         &compiled.applies_map, &gate.applies_when);
      ok = ok && compiled.applies_when.has_value();
      policy_->gate_artifact_fields |= FieldsUsed(gate.applies_when, "artifact", kArtifactFields);
    } else {
      gate.applies_when = "true";
    }
    if (const Field* f = YamlReader::Find(*fields, "benchmarks")) {
      if (auto names = reader_.StringList(f->value, f->value_location, "benchmarks")) {
        for (auto& [n, loc] : *names) gate.benchmarks.push_back(n);
      } else {
        ok = false;
      }
    }
    if (const Field* f = YamlReader::Find(*fields, "validation_datasets")) {
      if (auto names = reader_.StringList(f->value, f->value_location, "validation_datasets")) {
        for (auto& [n, loc] : *names) {
          DatasetRequirement d;
          d.location = loc;
          const size_t at_sign = n.find('@');
          d.name = n.substr(0, at_sign);
          d.version_range = at_sign == std::string::npos ? "" : n.substr(at_sign + 1);
          auto range = VersionRange::Parse(d.version_range);
          if (d.name.empty() || !range.ok()) {
            reader_.Error(loc, d.name.empty() ? "validation dataset `" + n + "` has no name"
                                              : range.status().message(),
                          "write NAME@RANGE, e.g. `credit-holdout@^2.0.0` or `credit-holdout@>=2.1.0 <3`");
            ok = false;
            continue;
          }
          gate.validation_datasets.push_back(std::move(d));
          compiled.dataset_ranges.push_back(std::move(*range));
        }
      } else {
        ok = false;
      }
    }
    if (const Field* f = YamlReader::Find(*fields, "require")) {
      if (auto conditions = reader_.Sequence(f->value, f->value_location, "require")) {
        for (const YAML::Node& c : *conditions) {
          ScalarMap map;
          std::string source;
          auto program = CompileCel(c, reader_.Loc(c, f->value_location), "release gate condition",
                                    {"eval", "artifact"}, &map, &source);
          if (!program) {
            ok = false;
            continue;
          }
          gate.require.push_back(source);
          gate.require_locations.push_back(map.start());
          compiled.require.push_back(std::move(*program));
          compiled.require_maps.push_back(std::move(map));
        }
      } else {
        ok = false;
      }
    }
    if (const Field* f = YamlReader::Find(*fields, "signatures")) {
      gate.signatures_location = f->key_location;
      if (auto sig = reader_.Map(f->value, f->value_location, "signatures", kSignatureKeys)) {
        const Field* signers = YamlReader::Find(*sig, "signers");
        const Field* threshold = YamlReader::Find(*sig, "threshold");
        if (signers == nullptr) {
          reader_.Error(f->key_location, "signatures needs `signers`", "e.g. `signers: [registry, compliance]`");
          ok = false;
        } else if (auto names = reader_.StringList(signers->value, signers->value_location, "signers")) {
          for (auto& [n, loc] : *names) gate.signers.push_back(n);
        } else {
          ok = false;
        }
        if (threshold == nullptr) {
          gate.signature_threshold = static_cast<int>(gate.signers.size());
        } else if (auto t = reader_.Integer(threshold->value, threshold->value_location, "threshold")) {
          if (*t < 1 || static_cast<size_t>(*t) > gate.signers.size()) {
            reader_.Error(threshold->value_location,
                          "threshold " + std::to_string(*t) + " must be between 1 and the number of signers (" +
                              std::to_string(gate.signers.size()) + ")");
            ok = false;
          } else {
            gate.signature_threshold = static_cast<int>(*t);
          }
        } else {
          ok = false;
        }
      } else {
        ok = false;
      }
    }
    if (ok) {
      policy_->gates.push_back(std::move(gate));
      policy_->compiled_gates.push_back(std::move(compiled));
    }
  }
  generated_.push_back(Generated(
      "release_gates", Effect::kDeny, field.key_location,
      "a release gate applies to this model and its validation has not passed", "release_gates",
      "a release gate applies to the artifact and request.gates_passed != 'true'",
      {"artifact.release"}, NativeCheck::kGatesNotPassed));
}

void Compiler::ReadLineage(const Field& field) {
  policy_->has_lineage = true;
  policy_->lineage_location = field.key_location;
  auto items = reader_.Sequence(field.value, field.key_location, "lineage");
  if (!items) return;
  std::set<std::string> ids;
  for (const YAML::Node& item : *items) {
    const SourceLocation at = reader_.Loc(item, field.key_location);
    auto fields = reader_.Map(item, at, "a lineage entry", kLineageKeys);
    if (!fields) continue;
    LineageRuleEntry e;
    e.location = at;
    bool ok = true;
    const Field* id = YamlReader::Find(*fields, "id");
    if (id == nullptr) {
      reader_.Error(at, "a lineage entry needs an `id`",
                    "e.g. `id: personal-data-erasure-revokes-models`");
      ok = false;
    } else if (auto text = reader_.String(id->value, id->value_location, "id")) {
      e.id = *text;
      if (e.id.empty() || e.id.find_first_of(" \t") != std::string::npos) {
        reader_.Error(id->value_location, "lineage id `" + e.id + "` must be one word",
                      "use letters, digits, `-`, `_` and `.`");
        ok = false;
      } else if (e.id.rfind("lineage.", 0) == 0) {
        reader_.Error(id->value_location, "lineage id `" + e.id + "` is reserved",
                      "ids starting with `lineage.` name generated rules (`" +
                          std::string(kDefaultLineageRuleId) + "`); choose another id");
        ok = false;
      } else if (!ids.insert(e.id).second) {
        reader_.Error(id->value_location, "lineage id `" + e.id + "` is used twice",
                      "lineage ids must be unique");
        ok = false;
      }
    } else {
      ok = false;
    }
    if (const Field* when = YamlReader::Find(*fields, "when")) {
      e.when = CompileCel(when->value, when->value_location, "lineage condition",
                          {"artifact", "ancestor"}, &e.when_map, &e.when_source);
      ok = ok && e.when.has_value();
    }
    const Field* action = YamlReader::Find(*fields, "on_ancestor_erased");
    if (action == nullptr) {
      reader_.Error(at, "lineage entry `" + e.id + "` needs `on_ancestor_erased`",
                    "`on_ancestor_erased: revoke`, `flag-retrain` or `none`");
      ok = false;
    } else if (auto a = reader_.String(action->value, action->value_location,
                                       "on_ancestor_erased")) {
      if (*a == "revoke") {
        e.action = LineageAction::kRevoke;
      } else if (*a == "flag-retrain") {
        e.action = LineageAction::kFlagRetrain;
      } else if (*a == "none") {
        e.action = LineageAction::kNone;
      } else {
        reader_.Error(action->value_location, "unknown lineage action `" + *a + "`",
                      SuggestHint(*a, kLineageActions));
        ok = false;
      }
    } else {
      ok = false;
    }
    if (ok) policy_->lineage.push_back(std::move(e));
  }
}

void Compiler::ReadRules(const Field& field) {
  auto items = reader_.Sequence(field.value, field.key_location, "rules");
  if (!items) return;
  auto known_actions = KnownActions();
  for (const YAML::Node& item : *items) {
    const SourceLocation at = reader_.Loc(item, field.key_location);
    auto fields = reader_.Map(item, at, "a rule", kRuleKeys);
    if (!fields) continue;
    CompiledRule r;
    r.info.section = "rules";
    r.info.location = at;
    bool ok = true;
    const Field* id = YamlReader::Find(*fields, "id");
    if (id == nullptr) {
      reader_.Error(at, "a rule needs an `id`", "e.g. `id: tenants-fetch-released`");
      ok = false;
    } else if (auto text = reader_.String(id->value, id->value_location, "id")) {
      r.info.id = *text;
      bool reserved = false;
      for (std::string_view p : kGeneratedPrefixes) reserved = reserved || r.info.id.rfind(p, 0) == 0;
      if (r.info.id.empty() || r.info.id.find_first_of(" \t") != std::string::npos) {
        reader_.Error(id->value_location, "rule id `" + r.info.id + "` must be one word",
                      "use letters, digits, `-`, `_` and `.`");
        ok = false;
      } else if (reserved) {
        reader_.Error(id->value_location, "rule id `" + r.info.id + "` is reserved for generated rules",
                      "ids starting with residency., purposes. or release_gates name rules that "
                      "sections generate; choose another id");
        ok = false;
      } else if (!rule_ids_.insert(r.info.id).second) {
        reader_.Error(id->value_location, "rule id `" + r.info.id + "` is used twice", "rule ids must be unique");
        ok = false;
      }
    }
    const Field* effect = YamlReader::Find(*fields, "effect");
    if (effect == nullptr) {
      reader_.Error(at, "rule `" + r.info.id + "` needs an `effect`", "`effect: allow` or `effect: deny`");
      ok = false;
    } else if (auto e = reader_.String(effect->value, effect->value_location, "effect")) {
      if (*e == "allow") {
        r.info.effect = Effect::kAllow;
      } else if (*e == "deny") {
        r.info.effect = Effect::kDeny;
      } else {
        reader_.Error(effect->value_location, "unknown effect `" + *e + "`", SuggestHint(*e, kEffects));
        ok = false;
      }
    } else {
      ok = false;
    }
    const Field* actions = YamlReader::Find(*fields, "actions");
    if (actions == nullptr) {
      reader_.Error(at, "rule `" + r.info.id + "` needs `actions`", "e.g. `actions: [artifact.fetch]`");
      ok = false;
    } else if (auto list = reader_.StringList(actions->value, actions->value_location, "actions")) {
      if (list->empty()) {
        reader_.Error(actions->value_location, "rule `" + r.info.id + "` lists no actions");
        ok = false;
      }
      for (auto& [a, loc] : *list) {
        bool matches_known = false;
        for (std::string_view k : known_actions) matches_known = matches_known || ActionMatches(a, k);
        const bool exact_known = std::find(known_actions.begin(), known_actions.end(), a) != known_actions.end();
        const bool wildcard = a == "*" || (a.size() > 2 && a.substr(a.size() - 2) == ".*");
        if (!(exact_known || (wildcard && matches_known))) {
          reader_.Error(loc, "unknown action `" + a + "`", SuggestHint(a, known_actions));
          ok = false;
          continue;
        }
        r.actions.push_back(a);
      }
    } else {
      ok = false;
    }
    if (const Field* p = YamlReader::Find(*fields, "principals")) {
      if (auto pf = reader_.Map(p->value, p->value_location, "principals", kPrincipalKeys)) {
        if (const Field* roles = YamlReader::Find(*pf, "roles")) {
          if (auto list = reader_.StringList(roles->value, roles->value_location, "roles")) {
            for (auto& [n, loc] : *list) r.roles.push_back(n);
            if (list->empty()) {
              reader_.Error(roles->value_location, "`roles` is empty", "remove it to allow any role");
              ok = false;
            }
          } else {
            ok = false;
          }
        }
        if (const Field* tenants = YamlReader::Find(*pf, "tenants")) {
          if (auto list = reader_.StringList(tenants->value, tenants->value_location, "tenants")) {
            bool any = false;
            for (auto& [n, loc] : *list) {
              if (n == "*") any = true;
              r.tenants.push_back(n);
            }
            if (any) r.tenants.clear();  // "*": every authenticated tenant
            if (list->empty()) {
              reader_.Error(tenants->value_location, "`tenants` is empty", "use [\"*\"] or remove it for any tenant");
              ok = false;
            }
          } else {
            ok = false;
          }
        }
      } else {
        ok = false;
      }
    }
    if (const Field* when = YamlReader::Find(*fields, "when")) {
      r.when = CompileCel(when->value, when->value_location, "condition",
                          {"principal", "artifact", "request", "now"}, &r.when_map, &r.info.condition);
      if (!r.when) {
        ok = false;
      } else {
        r.needs = NeedsOf(r.info.condition);
        policy_->principal_fields |= FieldsUsed(r.info.condition, "principal", kPrincipalFields);
        policy_->artifact_fields |= FieldsUsed(r.info.condition, "artifact", kArtifactFields);
      }
    }
    if (const Field* reason = YamlReader::Find(*fields, "reason")) {
      if (auto text = reader_.String(reason->value, reason->value_location, "reason")) {
        r.info.reason = *text;
        while (!r.info.reason.empty() && r.info.reason.back() == '\n') r.info.reason.pop_back();
      }
    }
    if (r.info.reason.empty()) r.info.reason = "rule " + r.info.id;
    if (ok) written_.push_back(std::move(r));
  }
}

std::optional<cel::Program> Compiler::CompileCel(const YAML::Node& node, const SourceLocation& at,
                                                 std::string_view what,
                                                 std::vector<std::string> variables, ScalarMap* map,
                                                 std::string* source) {
  auto text = reader_.String(node, at, what);
  if (!text) return std::nullopt;
  *map = reader_.MapScalar(node, *text);
  // Block scalars keep their final newline; it is not part of the expression.
  while (!text->empty() && (text->back() == '\n' || text->back() == ' ')) text->pop_back();
  *source = *text;
  if (text->empty()) {
    reader_.Error(map->start(), std::string(what) + " is empty", "write a CEL expression, e.g. `true`");
    return std::nullopt;
  }
  cel::CompileOptions options;
  options.declared_variables = std::move(variables);
  Result<cel::Program> program = cel::Compile(*text, options);
  if (!program.ok()) {
    std::string message;
    SourceLocation loc = map->MapMessage(program.status().message(), &message);
    reader_.Error(loc, "invalid " + std::string(what) + ": " + message);
    return std::nullopt;
  }
  return std::move(*program);
}

void Compiler::BuildIndex() {
  // Every action that a request can name and that some rule mentions gets its own bucket.
  std::set<std::string> actions(KnownActions().begin(), KnownActions().end());
  for (const CompiledRule& r : policy_->rules) {
    for (const std::string& a : r.actions) {
      if (a.find('*') == std::string::npos) actions.insert(a);
    }
  }
  const auto add = [](ActionIndex& index, const CompiledRule& r, uint32_t i) {
    if (!r.roles.empty()) {
      for (const std::string& role : r.roles) {
        auto& list = index.by_role[role];
        if (list.empty() || list.back() != i) list.push_back(i);
      }
    } else if (!r.tenants.empty()) {
      for (const std::string& t : r.tenants) {
        auto& list = index.by_tenant[t];
        if (list.empty() || list.back() != i) list.push_back(i);
      }
    } else {
      index.any.push_back(i);
    }
  };
  for (uint32_t i = 0; i < policy_->rules.size(); ++i) {
    const CompiledRule& r = policy_->rules[i];
    bool has_wildcard = false;
    for (const std::string& a : r.actions) has_wildcard = has_wildcard || a.find('*') != std::string::npos;
    if (has_wildcard) add(policy_->wildcard, r, i);
    for (const std::string& action : actions) {
      bool match = false;
      for (const std::string& a : r.actions) match = match || ActionMatches(a, action);
      if (match) add(policy_->by_action[action], r, i);
    }
  }
}

}  // namespace

std::shared_ptr<CompiledPolicy> CompilePolicy(std::string_view text, const std::string& file_name,
                                              std::vector<Diagnostic>* diagnostics) {
  return Compiler(text, file_name, diagnostics).Run();
}

bool ActionMatches(std::string_view pattern, std::string_view action) {
  if (pattern == "*") return true;
  if (pattern.size() >= 2 && pattern.substr(pattern.size() - 2) == ".*") {
    return action.size() > pattern.size() - 1 &&
           action.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1);
  }
  return pattern == action;
}

int ClassificationRank(std::string_view classification) {
  auto all = Classifications();
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i] == classification) return static_cast<int>(i);
  }
  return static_cast<int>(all.size());
}

std::string_view EffectiveClassification(const CompiledPolicy& policy, const Artifact& artifact) {
  std::string_view best = artifact.classification;
  if (!policy.inherit_strictest || artifact.kind != "model") return best;
  int rank = ClassificationRank(best);
  if (best.empty()) rank = -1;
  for (const LineageEntry& e : artifact.lineage) {
    if (e.classification.empty()) continue;
    const int r = ClassificationRank(e.classification);
    if (r > rank) {
      rank = r;
      best = e.classification;
    }
  }
  return best;
}

}  // namespace sov::policy::internal
