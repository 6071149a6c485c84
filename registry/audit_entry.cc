#include "registry/audit_entry.h"

#include <cassert>
#include <cstring>
#include <iterator>
#include <span>

#include "common/hex.h"

namespace sov::registry {
namespace {

using Json = nlohmann::json;

// The keys the encoding writes itself; a body must not use them.
constexpr const char* kReservedKeys[] = {
    "index", "appendTime", "type", "previousLeafHash", "requestId",
    "principal", "systemActor", "action", "artifact"};

bool IsReserved(std::string_view key) {
  for (const char* reserved : kReservedKeys) {
    if (key == reserved) return true;
  }
  return false;
}

// The keys that give an entry its place in the log, in sorted order: written by the writer.
constexpr std::string_view kPositionKeys[] = {"appendTime", "index", "previousLeafHash"};

// An entry about a malformed request must still be written: replace invalid UTF-8 rather than
// throw. The stored bytes are what is hashed, so the result stays verifiable.
std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

[[maybe_unused]] bool HasFloat(const Json& j) {
  if (j.is_number_float()) return true;
  if (j.is_structured()) {
    for (const Json& child : j) {
      if (HasFloat(child)) return true;
    }
  }
  return false;
}

Status BadLeaf(std::string_view why) {
  return InvalidArgument("malformed audit leaf data: " + std::string(why));
}

// Moves the string member `key` of `j` into `out` (absent: unchanged); false when not a string.
bool TakeString(Json& j, const char* key, std::string& out) {
  auto it = j.find(key);
  if (it == j.end()) return true;
  if (!it->is_string()) return false;
  out = it->get<std::string>();
  j.erase(it);
  return true;
}

}  // namespace

PreparedLeaf PrepareLeafData(const AuditEvent& e) {
  assert(e.body.is_object() && "AuditEvent::body must be a JSON object");
  assert(!HasFloat(e.body) && !HasFloat(e.principal) &&
         "audit entries hold no floating-point numbers (canonical JSON)");
  static const Json kNoBody = Json::object();
  const Json& body = e.body.is_object() ? e.body : kNoBody;
#ifndef NDEBUG
  for (const char* key : kReservedKeys) {
    if (body.contains(key)) {
      assert(false && "AuditEvent::body has a key that the leaf encoding writes itself");
    }
  }
#endif

  // The members the encoding writes itself. They replace body members of the same name; the
  // body, usually the bulk of the entry, is dumped where it is rather than copied.
  Json own = Json::object();
  if (!e.effect.empty()) {
    auto it = body.find("decision");
    Json decision = it != body.end() && it->is_object() ? *it : Json::object();
    decision["effect"] = e.effect;
    decision["ruleId"] = e.rule_id;
    decision["policyDigest"] = e.policy_digest;
    own["decision"] = std::move(decision);
  }
  own["type"] = e.type;
  if (!e.request_id.empty()) own["requestId"] = e.request_id;
  if (!e.principal.is_null()) own["principal"] = e.principal;
  if (!e.system_actor.empty()) own["systemActor"] = e.system_actor;
  if (!e.action.empty()) own["action"] = e.action;
  Json artifact = Json::object();
  if (!e.artifact_name.empty()) artifact["name"] = e.artifact_name;
  if (!e.artifact_version.empty()) artifact["version"] = e.artifact_version;
  if (!e.artifact_digest.empty()) artifact["digest"] = e.artifact_digest;
  if (!artifact.empty()) own["artifact"] = std::move(artifact);

  // Both objects are std::maps (nlohmann's), so a merge gives the members in dump() order;
  // each is dumped as dump() writes it inside the object, into its gap around the position
  // keys.
  PreparedLeaf leaf;
  size_t gap = 0;
  auto add = [&](const std::string& key, const Json& value) {
    while (gap < std::size(kPositionKeys) && key > kPositionKeys[gap]) ++gap;
    std::string& members = leaf.members[gap];
    if (!members.empty()) members += ',';
    members += Dump(Json(key));
    members += ':';
    members += Dump(value);
  };
  auto mine = own.items().begin();
  for (const auto& [key, value] : body.items()) {
    for (; mine != own.items().end() && mine.key() <= key; ++mine) add(mine.key(), mine.value());
    if (!IsReserved(key) && !own.contains(key)) add(key, value);
  }
  for (; mine != own.items().end(); ++mine) add(mine.key(), mine.value());
  return leaf;
}

std::string FinishLeafData(const PreparedLeaf& leaf, int64_t index, SystemTime append_time,
                           const LeafHash& previous_leaf_hash) {
  // Plain ASCII values: no escaping needed, so they are written directly.
  const std::string position[] = {
      "\"appendTime\":\"" + FormatRfc3339Micros(append_time) + "\"",
      "\"index\":" + std::to_string(index),
      "\"previousLeafHash\":\"" +
          HexEncode(std::span<const uint8_t>(previous_leaf_hash)) + "\""};
  std::string out;
  out.reserve(leaf.members[0].size() + leaf.members[1].size() + leaf.members[2].size() +
              leaf.members[3].size() + 160);
  out += '{';
  auto add = [&out](std::string_view member) {
    if (member.empty()) return;
    if (out.size() > 1) out += ',';
    out += member;
  };
  for (size_t i = 0; i < std::size(position); ++i) {
    add(leaf.members[i]);
    add(position[i]);
  }
  add(leaf.members[3]);
  out += '}';
  return out;
}

std::string EncodeLeafData(const AuditEvent& e, int64_t index, SystemTime append_time,
                           const LeafHash& previous_leaf_hash) {
  return FinishLeafData(PrepareLeafData(e), index, append_time, previous_leaf_hash);
}

Result<AuditEvent> DecodeLeafData(std::string_view leaf_data, int64_t* index,
                                  SystemTime* append_time, LeafHash* previous_leaf_hash) {
  Json entry = Json::parse(leaf_data, nullptr, /*allow_exceptions=*/false);
  if (entry.is_discarded()) return BadLeaf("not JSON");
  if (!entry.is_object()) return BadLeaf("not a JSON object");

  auto index_it = entry.find("index");
  if (index_it == entry.end() || !index_it->is_number_integer() ||
      (index_it->is_number_unsigned() ? index_it->get<uint64_t>() > INT64_MAX
                                      : index_it->get<int64_t>() < 0)) {
    return BadLeaf("\"index\" must be a non-negative integer");
  }
  if (index != nullptr) *index = index_it->get<int64_t>();
  entry.erase(index_it);

  std::string time_text;
  if (!entry.contains("appendTime") || !TakeString(entry, "appendTime", time_text)) {
    return BadLeaf("\"appendTime\" must be an RFC 3339 string");
  }
  Result<SystemTime> time = ParseRfc3339(time_text);
  if (!time.ok()) return BadLeaf(time.status().message());
  if (append_time != nullptr) *append_time = *time;

  std::string previous_hex;
  if (!entry.contains("previousLeafHash") || !TakeString(entry, "previousLeafHash", previous_hex)) {
    return BadLeaf("\"previousLeafHash\" must be a string");
  }
  auto previous = HexDecode(previous_hex);
  if (!previous.has_value() || previous->size() != 32) {
    return BadLeaf("\"previousLeafHash\" must be 64 hex digits");
  }
  if (previous_leaf_hash != nullptr) std::memcpy(previous_leaf_hash->data(), previous->data(), 32);

  AuditEvent e;
  if (!entry.contains("type") || !TakeString(entry, "type", e.type)) {
    return BadLeaf("\"type\" must be a string");
  }
  if (!TakeString(entry, "requestId", e.request_id)) return BadLeaf("\"requestId\" must be a string");
  if (!TakeString(entry, "systemActor", e.system_actor)) {
    return BadLeaf("\"systemActor\" must be a string");
  }
  if (!TakeString(entry, "action", e.action)) return BadLeaf("\"action\" must be a string");
  if (auto it = entry.find("principal"); it != entry.end()) {
    e.principal = std::move(*it);
    entry.erase(it);
  }
  if (auto it = entry.find("artifact"); it != entry.end()) {
    if (!it->is_object()) return BadLeaf("\"artifact\" must be an object");
    Json artifact = std::move(*it);
    entry.erase(it);
    if (!TakeString(artifact, "name", e.artifact_name) ||
        !TakeString(artifact, "version", e.artifact_version) ||
        !TakeString(artifact, "digest", e.artifact_digest)) {
      return BadLeaf("\"artifact\" members must be strings");
    }
  }
  if (auto it = entry.find("decision"); it != entry.end() && it->is_object()) {
    const Json& decision = *it;
    auto effect = decision.find("effect");
    if (effect != decision.end() && effect->is_string()) {
      e.effect = effect->get<std::string>();
      if (auto rule = decision.find("ruleId"); rule != decision.end() && rule->is_string()) {
        e.rule_id = rule->get<std::string>();
      }
      if (auto digest = decision.find("policyDigest");
          digest != decision.end() && digest->is_string()) {
        e.policy_digest = digest->get<std::string>();
      }
    }
  }
  e.body = std::move(entry);
  return e;
}

}  // namespace sov::registry
