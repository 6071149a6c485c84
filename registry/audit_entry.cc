#include "registry/audit_entry.h"

#include <cassert>
#include <cstring>
#include <span>

#include "common/hex.h"

namespace sov::registry {
namespace {

using Json = nlohmann::json;

// The keys the encoding writes itself; a body must not use them.
[[maybe_unused]] constexpr const char* kReservedKeys[] = {
    "index", "appendTime", "type", "previousLeafHash", "requestId",
    "principal", "systemActor", "action", "artifact"};

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

std::string EncodeLeafData(const AuditEvent& e, int64_t index, SystemTime append_time,
                           const LeafHash& previous_leaf_hash) {
  assert(e.body.is_object() && "AuditEvent::body must be a JSON object");
  assert(!HasFloat(e.body) && !HasFloat(e.principal) &&
         "audit entries hold no floating-point numbers (canonical JSON)");
  Json entry = e.body.is_object() ? e.body : Json::object();
#ifndef NDEBUG
  for (const char* key : kReservedKeys) {
    if (entry.contains(key)) {
      assert(false && "AuditEvent::body has a key that the leaf encoding writes itself");
    }
  }
#endif

  if (!e.effect.empty()) {
    Json& decision = entry["decision"];
    if (!decision.is_object()) decision = Json::object();
    decision["effect"] = e.effect;
    decision["ruleId"] = e.rule_id;
    decision["policyDigest"] = e.policy_digest;
  }

  entry["index"] = index;
  entry["appendTime"] = FormatRfc3339Micros(append_time);
  entry["type"] = e.type;
  entry["previousLeafHash"] = HexEncode(std::span<const uint8_t>(previous_leaf_hash));
  if (!e.request_id.empty()) entry["requestId"] = e.request_id; else entry.erase("requestId");
  if (!e.principal.is_null()) entry["principal"] = e.principal; else entry.erase("principal");
  if (!e.system_actor.empty()) entry["systemActor"] = e.system_actor; else entry.erase("systemActor");
  if (!e.action.empty()) entry["action"] = e.action; else entry.erase("action");
  Json artifact = Json::object();
  if (!e.artifact_name.empty()) artifact["name"] = e.artifact_name;
  if (!e.artifact_version.empty()) artifact["version"] = e.artifact_version;
  if (!e.artifact_digest.empty()) artifact["digest"] = e.artifact_digest;
  if (!artifact.empty()) entry["artifact"] = std::move(artifact); else entry.erase("artifact");

  // An entry about a malformed request must still be written: replace invalid UTF-8 rather
  // than throw. The stored bytes are what is hashed, so the result stays verifiable.
  return entry.dump(-1, ' ', false, Json::error_handler_t::replace);
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
