#include "crypto/intoto.h"

#include <string>
#include <utility>

namespace sov::crypto {
namespace {

using Json = nlohmann::json;

bool IsLowerHex(std::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<ResourceDescriptor> ParseSubject(const Json& item, const std::string& field) {
  if (!item.is_object()) return InvalidArgument("in-toto statement: " + field + " is not an object");
  ResourceDescriptor subject;
  // ResourceDescriptor v1 makes "name" optional; a subject is identified by its digest.
  if (auto name = item.find("name"); name != item.end()) {
    if (!name->is_string()) {
      return InvalidArgument("in-toto statement: " + field + ".name is not a string");
    }
    subject.name = name->get<std::string>();
  }
  auto digest = item.find("digest");
  if (digest == item.end()) return InvalidArgument("in-toto statement: " + field + ".digest is missing");
  if (!digest->is_object() || digest->empty()) {
    return InvalidArgument("in-toto statement: " + field + ".digest is not a non-empty object");
  }
  for (const auto& [algorithm, value] : digest->items()) {
    std::string where = field + ".digest." + algorithm;
    if (algorithm.empty()) return InvalidArgument("in-toto statement: " + field + ".digest has an empty algorithm");
    if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
      return InvalidArgument("in-toto statement: " + where + " is not a non-empty string");
    }
    const std::string& hex = value.get_ref<const std::string&>();
    if (algorithm == "sha256" && (hex.size() != 64 || !IsLowerHex(hex))) {
      return InvalidArgument("in-toto statement: " + where + " is not 64 lower-case hex digits");
    }
    subject.digest.emplace(algorithm, hex);
  }
  return subject;
}

Result<Statement> ParseStatement(std::string_view text) {
  Json json = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return InvalidArgument("in-toto statement: not valid JSON");
  if (!json.is_object()) return InvalidArgument("in-toto statement: not a JSON object");

  auto type = json.find("_type");
  if (type == json.end()) return InvalidArgument("in-toto statement: _type is missing");
  if (!type->is_string() || type->get_ref<const std::string&>() != kInTotoStatementType) {
    return InvalidArgument("in-toto statement: _type is not \"" +
                           std::string(kInTotoStatementType) + "\"");
  }

  Statement statement;
  auto subjects = json.find("subject");
  if (subjects == json.end()) return InvalidArgument("in-toto statement: subject is missing");
  if (!subjects->is_array() || subjects->empty()) {
    return InvalidArgument("in-toto statement: subject is not a non-empty array");
  }
  size_t index = 0;
  for (const Json& item : *subjects) {
    SOV_ASSIGN_OR_RETURN(ResourceDescriptor subject,
                         ParseSubject(item, "subject[" + std::to_string(index++) + "]"));
    statement.subject.push_back(std::move(subject));
  }

  auto predicate_type = json.find("predicateType");
  if (predicate_type == json.end()) {
    return InvalidArgument("in-toto statement: predicateType is missing");
  }
  if (!predicate_type->is_string() || predicate_type->get_ref<const std::string&>().empty()) {
    return InvalidArgument("in-toto statement: predicateType is not a non-empty string");
  }
  statement.predicate_type = predicate_type->get<std::string>();

  // The predicate is optional in Statement v1; when present it must be an object.
  if (auto predicate = json.find("predicate"); predicate != json.end()) {
    if (!predicate->is_object()) {
      return InvalidArgument("in-toto statement: predicate is not an object");
    }
    statement.predicate = *predicate;
  }
  return statement;
}

}  // namespace

std::string Statement::ToJson() const {
  Json subjects = Json::array();
  for (const ResourceDescriptor& s : subject) {
    subjects.push_back({{"name", s.name}, {"digest", s.digest}});
  }
  Json json = {{"_type", kInTotoStatementType},
               {"subject", std::move(subjects)},
               {"predicateType", predicate_type}};
  // A null predicate means "none"; Statement v1 then omits the field.
  if (!predicate.is_null()) json["predicate"] = predicate;
  // nlohmann's objects are std::maps, so dump() writes keys sorted: the text is a function of
  // the value. Invalid UTF-8 in a name is replaced rather than thrown.
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<Statement> Statement::FromJson(std::string_view json) {
  try {
    return ParseStatement(json);
  } catch (const nlohmann::json::exception& e) {
    // Not reachable with the type checks above; kept so that no exception crosses the boundary.
    return InvalidArgument(std::string("in-toto statement: ") + e.what());
  }
}

ResourceDescriptor SubjectFor(std::string_view name, const Digest& digest) {
  return ResourceDescriptor{std::string(name), {{"sha256", digest.Hex()}}};
}

DsseEnvelope SignStatement(const Statement& statement, const Ed25519PrivateKey& key) {
  return SignDsse(kInTotoPayloadType, statement.ToJson(), key);
}

Result<Statement> VerifyStatement(const DsseEnvelope& envelope,
                                  const std::vector<Ed25519PublicKey>& trusted,
                                  size_t threshold,
                                  std::vector<std::string>* verified_key_ids) {
  // Signatures first, so that an unsigned envelope is always PERMISSION_DENIED whatever it holds.
  SOV_ASSIGN_OR_RETURN(std::vector<std::string> key_ids, VerifyDsse(envelope, trusted, threshold));
  if (verified_key_ids != nullptr) *verified_key_ids = std::move(key_ids);
  if (envelope.payload_type != kInTotoPayloadType) {
    // Truncated: the type is attacker-chosen text headed for logs.
    return InvalidArgument("DSSE envelope: payloadType is \"" +
                           envelope.payload_type.substr(0, 80) + "\", expected \"" +
                           std::string(kInTotoPayloadType) + "\"");
  }
  return Statement::FromJson(envelope.payload);
}

}  // namespace sov::crypto
