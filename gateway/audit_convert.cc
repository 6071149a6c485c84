#include "gateway/audit_convert.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <limits>
#include <span>
#include <utility>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include "common/hex.h"
#include "crypto/dsse.h"

namespace sov::gateway {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kTypePrefix = "AUDIT_EVENT_TYPE_";

// Timestamps the protobuf well-known type can hold (0001-01-01 to 9999-12-31), narrowed to what
// a SystemTime holds (about 1678 to 2261 with libstdc++'s nanosecond clock).
constexpr int64_t kMinTimestampSeconds = std::max<int64_t>(
    -62135596800,
    std::chrono::floor<std::chrono::seconds>(SystemTime::duration::min()).count() + 1);
constexpr int64_t kMaxTimestampSeconds = std::min<int64_t>(
    253402300799,
    std::chrono::floor<std::chrono::seconds>(SystemTime::duration::max()).count() - 1);

std::string BytesOf(std::span<const uint8_t> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// Member accessors that never throw: a leaf written by an older gateway, or a body member of
// an unexpected shape, must not stop an export.
const Json* Member(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::optional<std::string> StringMember(const Json& object, const char* key) {
  const Json* value = Member(object, key);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  return value->get<std::string>();
}

std::optional<int64_t> IntegerMember(const Json& object, const char* key) {
  const Json* value = Member(object, key);
  if (value == nullptr || !value->is_number_integer()) return std::nullopt;
  if (value->is_number_unsigned()) {
    uint64_t u = value->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  return value->get<int64_t>();
}

template <typename Add>
void ForEachString(const Json& object, const char* key, Add add) {
  const Json* value = Member(object, key);
  if (value == nullptr || !value->is_array()) return;
  for (const Json& item : *value) {
    if (item.is_string()) add(item.get<std::string>());
  }
}

bool SetTimestamp(const Json& object, const char* key, google::protobuf::Timestamp* out) {
  std::optional<std::string> text = StringMember(object, key);
  if (!text.has_value()) return false;
  Result<SystemTime> time = ParseRfc3339(*text);
  if (!time.ok()) return false;
  *out = ToTimestamp(*time);
  return true;
}

// A JSON object as a google.protobuf.Struct; false (out untouched) for anything else.
bool ToStruct(const Json& object, google::protobuf::Struct* out) {
  if (!object.is_object()) return false;
  google::protobuf::Struct parsed;
  const std::string text = object.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (!google::protobuf::util::JsonStringToMessage(text, &parsed).ok()) return false;
  *out = std::move(parsed);
  return true;
}

bool IsDigits(std::string_view text) {
  if (text.empty() || text.size() > 9) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int32_t ToInt32(std::string_view digits) {
  int32_t value = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return value;
}

// "FILE:LINE:COL", "FILE:LINE" or "FILE" (policy::SourceLocation::ToString). The file name may
// itself hold colons, so the numbers are taken from the right.
sov::v1::SourceLocation ParseLocationText(std::string_view text) {
  sov::v1::SourceLocation location;
  std::string_view rest = text;
  std::vector<std::string_view> numbers;
  while (numbers.size() < 2) {
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos || !IsDigits(rest.substr(colon + 1))) break;
    numbers.insert(numbers.begin(), rest.substr(colon + 1));
    rest = rest.substr(0, colon);
  }
  location.set_file(std::string(rest));
  if (!numbers.empty()) location.set_line(ToInt32(numbers[0]));
  if (numbers.size() > 1) location.set_column(ToInt32(numbers[1]));
  return location;
}

// A location as a string (above) or as an object {"file","line","column"}.
bool SetLocation(const Json& value, sov::v1::SourceLocation* out) {
  if (value.is_string()) {
    *out = ParseLocationText(value.get<std::string>());
    return true;
  }
  if (value.is_object()) {
    if (auto file = StringMember(value, "file")) out->set_file(*file);
    auto in_range = [](int64_t n) { return n >= 0 && n <= std::numeric_limits<int32_t>::max(); };
    if (auto line = IntegerMember(value, "line"); line && in_range(*line)) {
      out->set_line(static_cast<int32_t>(*line));
    }
    if (auto column = IntegerMember(value, "column"); column && in_range(*column)) {
      out->set_column(static_cast<int32_t>(*column));
    }
    return true;
  }
  return false;
}

bool SetLocationMember(const Json& object, const char* key, sov::v1::SourceLocation* out) {
  const Json* value = Member(object, key);
  return value != nullptr && SetLocation(*value, out);
}

sov::v1::Effect ParseEffect(std::string_view name) {
  if (name == "allow" || name == "ALLOW" || name == "EFFECT_ALLOW") return sov::v1::EFFECT_ALLOW;
  if (name == "deny" || name == "DENY" || name == "EFFECT_DENY") return sov::v1::EFFECT_DENY;
  return sov::v1::EFFECT_UNSPECIFIED;
}

sov::v1::Stage ParseStageName(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, sov::v1::Stage>, 6> kStages = {{
      {"pending", sov::v1::STAGE_PENDING},
      {"validating", sov::v1::STAGE_VALIDATING},
      {"released", sov::v1::STAGE_RELEASED},
      {"rejected", sov::v1::STAGE_REJECTED},
      {"revoked", sov::v1::STAGE_REVOKED},
      {"erased", sov::v1::STAGE_ERASED},
  }};
  for (const auto& [stage_name, stage] : kStages) {
    if (name == stage_name) return stage;
  }
  sov::v1::Stage stage = sov::v1::STAGE_UNSPECIFIED;
  if (sov::v1::Stage_Parse(std::string(name), &stage)) return stage;
  return sov::v1::STAGE_UNSPECIFIED;
}

sov::v1::AuthMethod ParseAuthMethodName(std::string_view name) {
  if (name == "mtls" || name == "AUTH_METHOD_MTLS") return sov::v1::AUTH_METHOD_MTLS;
  if (name == "bearer_token" || name == "AUTH_METHOD_BEARER_TOKEN") {
    return sov::v1::AUTH_METHOD_BEARER_TOKEN;
  }
  return sov::v1::AUTH_METHOD_UNSPECIFIED;
}

// policy::RuleInfo::section names ("rules", "residency", ...) or the enum's own names.
sov::v1::RuleOrigin ParseRuleOrigin(std::string_view name) {
  if (name == "rules") return sov::v1::RULE_ORIGIN_RULES;
  if (name == "residency") return sov::v1::RULE_ORIGIN_RESIDENCY;
  if (name == "retention") return sov::v1::RULE_ORIGIN_RETENTION;
  if (name == "purposes") return sov::v1::RULE_ORIGIN_PURPOSES;
  if (name == "release_gates") return sov::v1::RULE_ORIGIN_RELEASE_GATES;
  sov::v1::RuleOrigin origin = sov::v1::RULE_ORIGIN_UNSPECIFIED;
  if (sov::v1::RuleOrigin_Parse(std::string(name), &origin)) return origin;
  return sov::v1::RULE_ORIGIN_UNSPECIFIED;
}

// {"tenantId","authMethod","credential"} as GuardedCall::PrincipalJson writes it, with
// "roles", "purposes" and "jurisdiction" when an entry carries them.
bool SetPrincipal(const Json& value, sov::v1::Principal* out) {
  if (!value.is_object()) return false;
  if (auto tenant = StringMember(value, "tenantId")) out->set_tenant_id(*tenant);
  ForEachString(value, "roles", [out](std::string role) { out->add_roles(std::move(role)); });
  ForEachString(value, "purposes",
                [out](std::string purpose) { out->add_purposes(std::move(purpose)); });
  if (auto jurisdiction = StringMember(value, "jurisdiction")) {
    out->set_jurisdiction(*jurisdiction);
  }
  if (auto method = StringMember(value, "authMethod")) {
    out->set_auth_method(ParseAuthMethodName(*method));
  }
  if (auto credential = StringMember(value, "credential")) out->set_credential(*credential);
  return true;
}

void SetRuleMatch(const Json& value, sov::v1::RuleMatch* out) {
  if (value.is_string()) {
    out->set_rule_id(value.get<std::string>());
    return;
  }
  if (auto id = StringMember(value, "ruleId")) {
    out->set_rule_id(*id);
  } else if (auto bare_id = StringMember(value, "id")) {
    out->set_rule_id(*bare_id);
  }
  if (auto effect = StringMember(value, "effect")) out->set_effect(ParseEffect(*effect));
  if (!SetLocationMember(value, "location", out->mutable_location())) {
    out->clear_location();
    if (!SetLocationMember(value, "ruleLocation", out->mutable_location())) {
      out->clear_location();
    }
  }
  if (auto reason = StringMember(value, "reason")) out->set_reason(*reason);
  if (auto origin = StringMember(value, "origin")) {
    out->set_origin(ParseRuleOrigin(*origin));
  } else if (auto section = StringMember(value, "section")) {
    out->set_origin(ParseRuleOrigin(*section));
  }
}

// The rule id the guard records when no rule decided (a store column must hold something).
constexpr std::string_view kDefaultDenyRuleId = "default-deny";

void SetDecision(const Json& value, std::string_view entry_action, sov::v1::Decision* out) {
  if (auto effect = StringMember(value, "effect")) out->set_effect(ParseEffect(*effect));
  if (auto rule = StringMember(value, "ruleId")) {
    // A policy rule named "default-deny" has a location; the guard's placeholder has none.
    const bool placeholder = *rule == kDefaultDenyRuleId &&
                             out->effect() == sov::v1::EFFECT_DENY &&
                             Member(value, "ruleLocation") == nullptr &&
                             Member(value, "location") == nullptr;
    if (!placeholder) out->set_rule_id(*rule);
  }
  if (!SetLocationMember(value, "ruleLocation", out->mutable_location())) {
    out->clear_location();
    if (!SetLocationMember(value, "location", out->mutable_location())) out->clear_location();
  }
  if (auto reason = StringMember(value, "reason")) out->set_reason(*reason);
  if (const Json* matched = Member(value, "matchedRules"); matched && matched->is_array()) {
    for (const Json& match : *matched) {
      if (match.is_string() || match.is_object()) SetRuleMatch(match, out->add_matched_rules());
    }
  }
  if (auto digest = StringMember(value, "policyDigest")) out->set_policy_digest(*digest);
  // A decision is about the entry's action; older entries do not repeat it inside.
  if (auto action = StringMember(value, "action")) {
    out->set_action(*action);
  } else {
    out->set_action(std::string(entry_action));
  }
  if (const Json* default_deny = Member(value, "defaultDeny");
      default_deny && default_deny->is_boolean()) {
    out->set_default_deny(default_deny->get<bool>());
  } else {
    out->set_default_deny(out->effect() == sov::v1::EFFECT_DENY && out->rule_id().empty());
  }
  if (const Json* errors = Member(value, "ruleErrors"); errors && errors->is_array()) {
    for (const Json& error : *errors) {
      if (!error.is_object()) continue;
      sov::v1::RuleError* rule_error = out->add_rule_errors();
      if (auto id = StringMember(error, "ruleId")) rule_error->set_rule_id(*id);
      if (!SetLocationMember(error, "location", rule_error->mutable_location())) {
        rule_error->clear_location();
      }
      if (auto message = StringMember(error, "message")) rule_error->set_message(*message);
    }
  }
  if (!SetTimestamp(value, "decideTime", out->mutable_decide_time())) out->clear_decide_time();
}

void SetDecisionInput(const Json& value, sov::v1::DecisionInput* out) {
  if (auto action = StringMember(value, "action")) out->set_action(*action);
  if (const Json* principal = Member(value, "principal")) {
    if (!ToStruct(*principal, out->mutable_principal())) out->clear_principal();
  }
  if (const Json* artifact = Member(value, "artifact")) {
    if (!ToStruct(*artifact, out->mutable_artifact())) out->clear_artifact();
  }
  // The guard records the request variable as "attributes".
  const Json* request = Member(value, "request");
  if (request == nullptr) request = Member(value, "attributes");
  if (request != nullptr) {
    if (!ToStruct(*request, out->mutable_request())) out->clear_request();
  }
  if (!SetTimestamp(value, "now", out->mutable_now())) out->clear_now();
}

// The transition as the registry records it; both the StageChange field names ("fromStage",
// "toStage", "changeTime") and the shorter StageEvent ones ("from", "to", "time") are read.
void SetStageChange(const Json& value, sov::v1::StageChange* out) {
  if (auto from = StringMember(value, "fromStage")) {
    out->set_from_stage(ParseStageName(*from));
  } else if (auto short_from = StringMember(value, "from")) {
    out->set_from_stage(ParseStageName(*short_from));
  }
  if (auto to = StringMember(value, "toStage")) {
    out->set_to_stage(ParseStageName(*to));
  } else if (auto short_to = StringMember(value, "to")) {
    out->set_to_stage(ParseStageName(*short_to));
  }
  if (!SetTimestamp(value, "changeTime", out->mutable_change_time()) &&
      !SetTimestamp(value, "time", out->mutable_change_time())) {
    out->clear_change_time();
  }
  if (const Json* principal = Member(value, "principal")) {
    if (!SetPrincipal(*principal, out->mutable_principal())) out->clear_principal();
  }
  if (auto actor = StringMember(value, "systemActor")) out->set_system_actor(*actor);
  if (auto reason = StringMember(value, "reason")) out->set_reason(*reason);
  if (auto rule = StringMember(value, "ruleId")) out->set_rule_id(*rule);
  if (!SetLocationMember(value, "ruleLocation", out->mutable_rule_location())) {
    out->clear_rule_location();
  }
  if (auto index = IntegerMember(value, "auditIndex")) out->set_audit_index(*index);
}

// The record as an embedded envelope object or as its JSON text.
bool SetEnvelope(const Json& value, sov::v1::DsseEnvelope* out) {
  std::string text;
  if (value.is_string()) {
    text = value.get<std::string>();
  } else if (value.is_object()) {
    text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  } else {
    return false;
  }
  Result<sov::v1::DsseEnvelope> envelope = DsseEnvelopeFromJson(text);
  if (!envelope.ok()) return false;
  *out = std::move(*envelope);
  return true;
}

void FillFromLeafJson(const Json& leaf, sov::v1::AuditEntry& entry) {
  if (!SetTimestamp(leaf, "appendTime", entry.mutable_append_time())) entry.clear_append_time();
  if (auto type = StringMember(leaf, "type")) entry.set_type(ParseAuditEventType(*type));
  if (auto request_id = StringMember(leaf, "requestId")) entry.set_request_id(*request_id);
  if (const Json* principal = Member(leaf, "principal")) {
    if (!SetPrincipal(*principal, entry.mutable_principal())) entry.clear_principal();
  }
  if (auto actor = StringMember(leaf, "systemActor")) entry.set_system_actor(*actor);
  if (auto action = StringMember(leaf, "action")) entry.set_action(*action);
  if (const Json* artifact = Member(leaf, "artifact"); artifact && artifact->is_object()) {
    sov::v1::ArtifactRef* ref = entry.mutable_artifact();
    if (auto name = StringMember(*artifact, "name")) ref->set_name(*name);
    if (auto version = StringMember(*artifact, "version")) ref->set_version(*version);
    if (auto digest = StringMember(*artifact, "digest")) ref->set_digest(*digest);
  }
  if (const Json* decision = Member(leaf, "decision"); decision && decision->is_object()) {
    SetDecision(*decision, entry.action(), entry.mutable_decision());
  }
  if (const Json* input = Member(leaf, "input"); input && input->is_object()) {
    SetDecisionInput(*input, entry.mutable_input());
  }
  if (const Json* change = Member(leaf, "stageChange"); change && change->is_object()) {
    SetStageChange(*change, entry.mutable_stage_change());
  }
  if (const Json* record = Member(leaf, "record")) {
    if (!SetEnvelope(*record, entry.mutable_record())) entry.clear_record();
  }
  if (const Json* details = Member(leaf, "details")) {
    if (!ToStruct(*details, entry.mutable_details())) entry.clear_details();
  }
  if (auto previous = StringMember(leaf, "previousLeafHash")) {
    std::optional<std::vector<uint8_t>> bytes = HexDecode(*previous);
    if (bytes.has_value() && bytes->size() == 32) entry.set_previous_leaf_hash(BytesOf(*bytes));
  }
}

Status BadPageToken() {
  return InvalidArgument(
      "page_token is not one this server wrote; pass next_page_token of the previous response "
      "unchanged, with the same filter and order");
}

}  // namespace

std::optional<std::string> AuditEventTypeName(sov::v1::AuditEventType type) {
  if (type == sov::v1::AUDIT_EVENT_TYPE_UNSPECIFIED || !sov::v1::AuditEventType_IsValid(type)) {
    return std::nullopt;
  }
  const std::string& full = sov::v1::AuditEventType_Name(type);
  if (full.size() <= kTypePrefix.size() || full.compare(0, kTypePrefix.size(), kTypePrefix) != 0) {
    return std::nullopt;
  }
  return full.substr(kTypePrefix.size());
}

sov::v1::AuditEventType ParseAuditEventType(std::string_view name) {
  if (name.empty()) return sov::v1::AUDIT_EVENT_TYPE_UNSPECIFIED;
  sov::v1::AuditEventType type = sov::v1::AUDIT_EVENT_TYPE_UNSPECIFIED;
  if (!sov::v1::AuditEventType_Parse(std::string(kTypePrefix) + std::string(name), &type)) {
    return sov::v1::AUDIT_EVENT_TYPE_UNSPECIFIED;
  }
  return type;
}

Result<registry::AuditFilter> ToRegistryFilter(const sov::v1::AuditFilter& filter) {
  registry::AuditFilter out;
  if (filter.start_index() < 0) return InvalidArgument("filter.start_index must not be negative");
  if (filter.end_index() < 0) return InvalidArgument("filter.end_index must not be negative");
  if (filter.end_index() != 0 && filter.end_index() < filter.start_index()) {
    return InvalidArgument("filter.end_index " + std::to_string(filter.end_index()) +
                           " is below filter.start_index " +
                           std::to_string(filter.start_index()));
  }
  out.start_index = filter.start_index();
  out.end_index = filter.end_index();

  if (filter.has_window()) {
    if (filter.window().has_start_time()) {
      Result<SystemTime> since = FromTimestamp(filter.window().start_time());
      if (!since.ok()) return since.status().WithContext("filter.window.start_time");
      out.since = *since;
    }
    if (filter.window().has_end_time()) {
      Result<SystemTime> until = FromTimestamp(filter.window().end_time());
      if (!until.ok()) return until.status().WithContext("filter.window.end_time");
      out.until = *until;
    }
  }

  bool any_type = false;
  for (int raw : filter.types()) {
    auto type = static_cast<sov::v1::AuditEventType>(raw);
    if (type == sov::v1::AUDIT_EVENT_TYPE_UNSPECIFIED) {
      any_type = true;  // "as a filter, any type"
      continue;
    }
    std::optional<std::string> name = AuditEventTypeName(type);
    if (!name.has_value()) {
      return InvalidArgument("filter.types: unknown audit event type " + std::to_string(raw));
    }
    out.types.push_back(std::move(*name));
  }
  if (any_type) out.types.clear();

  out.tenant_id = filter.tenant_id();
  out.actions.assign(filter.actions().begin(), filter.actions().end());

  switch (filter.effect()) {
    case sov::v1::EFFECT_UNSPECIFIED:
      break;
    case sov::v1::EFFECT_ALLOW:
      out.effect = "allow";
      break;
    case sov::v1::EFFECT_DENY:
      out.effect = "deny";
      break;
    default:
      return InvalidArgument("filter.effect: unknown effect " +
                             std::to_string(static_cast<int>(filter.effect())));
  }

  if (filter.has_artifact()) {
    if (filter.artifact().name().empty() && !filter.artifact().version().empty()) {
      return InvalidArgument("filter.artifact.version needs filter.artifact.name");
    }
    out.artifact_name = filter.artifact().name();
    out.artifact_version = filter.artifact().version();
  }
  out.rule_id = filter.rule_id();
  out.request_id = filter.request_id();
  out.policy_digest = filter.policy_digest();
  return out;
}

sov::v1::AuditEntry ToAuditEntry(const registry::AuditRecord& record) {
  sov::v1::AuditEntry entry;
  entry.set_index(record.index);
  entry.set_leaf_data(record.leaf_data);
  entry.set_leaf_hash(BytesOf(record.leaf_hash));
  Json leaf = Json::parse(record.leaf_data, nullptr, /*allow_exceptions=*/false);
  if (leaf.is_discarded() || !leaf.is_object()) return entry;
  try {
    FillFromLeafJson(leaf, entry);
  } catch (const Json::exception&) {
    // Every access above checks its type first; this only guards against a missed case. The
    // entry keeps what was filled in, and its leaf_data, for the verifier.
  }
  return entry;
}

sov::v1::Checkpoint ToCheckpoint(const registry::CheckpointRecord& record,
                                 std::string_view origin) {
  sov::v1::Checkpoint checkpoint;
  checkpoint.set_origin(std::string(origin));
  checkpoint.set_tree_size(record.tree_size);
  checkpoint.set_root_hash(BytesOf(record.root));
  *checkpoint.mutable_sign_time() = ToTimestamp(record.time);
  Result<sov::v1::DsseEnvelope> envelope = DsseEnvelopeFromJson(record.envelope);
  if (envelope.ok()) {
    Json payload = Json::parse(envelope->payload(), nullptr, /*allow_exceptions=*/false);
    if (auto signed_origin = StringMember(payload, "origin")) {
      checkpoint.set_origin(*signed_origin);
    }
    *checkpoint.mutable_envelope() = std::move(*envelope);
  }
  return checkpoint;
}

Result<sov::v1::DsseEnvelope> DsseEnvelopeFromJson(std::string_view json) {
  SOV_ASSIGN_OR_RETURN(crypto::DsseEnvelope parsed, crypto::DsseEnvelope::FromJson(json));
  sov::v1::DsseEnvelope out;
  out.set_payload(std::move(parsed.payload));
  out.set_payload_type(std::move(parsed.payload_type));
  for (crypto::DsseSignature& signature : parsed.signatures) {
    sov::v1::DsseSignature* added = out.add_signatures();
    added->set_sig(std::move(signature.sig));
    added->set_keyid(std::move(signature.keyid));
  }
  return out;
}

std::string EncodeAuditPageToken(int64_t next_index, bool descending) {
  return crypto::Base64UrlEncode(std::string("v1:") + (descending ? "d:" : "a:") +
                                 std::to_string(next_index));
}

Result<int64_t> DecodeAuditPageToken(std::string_view token, bool descending) {
  if (token.size() > 64) return BadPageToken();
  Result<std::string> text = crypto::Base64Decode(token);
  if (!text.ok()) return BadPageToken();
  std::string_view rest = *text;
  constexpr std::string_view kAscending = "v1:a:";
  constexpr std::string_view kDescending = "v1:d:";
  const std::string_view prefix = descending ? kDescending : kAscending;
  const std::string_view other = descending ? kAscending : kDescending;
  if (rest.substr(0, other.size()) == other) {
    return InvalidArgument(
        "page_token was written for the other order; keep `descending` as it was for the first "
        "page");
  }
  if (rest.substr(0, prefix.size()) != prefix) return BadPageToken();
  rest.remove_prefix(prefix.size());
  // Canonical decimal only: no sign, no leading zero, fits int64.
  if (rest.empty() || rest.size() > 19 || (rest.size() > 1 && rest[0] == '0')) {
    return BadPageToken();
  }
  int64_t index = 0;
  auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), index);
  if (error != std::errc() || end != rest.data() + rest.size() || index < 0) {
    return BadPageToken();
  }
  return index;
}

google::protobuf::Timestamp ToTimestamp(SystemTime time) {
  const auto since_epoch = time.time_since_epoch();
  auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds);
  google::protobuf::Timestamp out;
  out.set_seconds(seconds.count());
  out.set_nanos(static_cast<int32_t>(nanos.count()));
  return out;
}

Result<SystemTime> FromTimestamp(const google::protobuf::Timestamp& timestamp) {
  if (timestamp.seconds() < kMinTimestampSeconds || timestamp.seconds() > kMaxTimestampSeconds ||
      timestamp.nanos() < 0 || timestamp.nanos() > 999999999) {
    return InvalidArgument("timestamp out of range (seconds " +
                           std::to_string(timestamp.seconds()) + ", nanos " +
                           std::to_string(timestamp.nanos()) + ")");
  }
  auto since_epoch = std::chrono::seconds(timestamp.seconds()) +
                     std::chrono::nanoseconds(timestamp.nanos());
  return SystemTime(std::chrono::duration_cast<SystemTime::duration>(since_epoch));
}

}  // namespace sov::gateway
