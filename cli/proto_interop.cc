#include "cli/proto_interop.h"

#include <chrono>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "common/time.h"

namespace sov::cli {

std::string ProtoToJsonLine(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  std::string out;
  // Serializing a valid message cannot fail (the generated messages are the only input).
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) return "{}";
  return out;
}

nlohmann::ordered_json ProtoToJson(const google::protobuf::Message& message) {
  nlohmann::ordered_json doc = nlohmann::ordered_json::parse(ProtoToJsonLine(message), nullptr,
                                                             /*allow_exceptions=*/false);
  if (doc.is_discarded()) return nlohmann::ordered_json::object();
  return doc;
}

Status ProtoFromJson(std::string_view json, google::protobuf::Message& message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &message, options);
  if (!status.ok()) return InvalidArgument(std::string(status.message()));
  return OkStatus();
}

crypto::DsseEnvelope ToCryptoEnvelope(const v1::DsseEnvelope& envelope) {
  crypto::DsseEnvelope out;
  out.payload_type = envelope.payload_type();
  out.payload = envelope.payload();
  for (const v1::DsseSignature& signature : envelope.signatures()) {
    out.signatures.push_back({signature.keyid(), signature.sig()});
  }
  return out;
}

v1::DsseEnvelope ToProtoEnvelope(const crypto::DsseEnvelope& envelope) {
  v1::DsseEnvelope out;
  out.set_payload_type(envelope.payload_type);
  out.set_payload(envelope.payload);
  for (const crypto::DsseSignature& signature : envelope.signatures) {
    v1::DsseSignature* added = out.add_signatures();
    added->set_keyid(signature.keyid);
    added->set_sig(signature.sig);
  }
  return out;
}

std::string TimestampText(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return {};
  return FormatRfc3339(SystemTime(std::chrono::seconds(t.seconds())));
}

Result<google::protobuf::Timestamp> ParseTimestamp(std::string_view flag, std::string_view text) {
  std::string value(text);
  // A bare date is the start of that day in UTC.
  if (value.size() == 10 && value[4] == '-' && value[7] == '-') value += "T00:00:00Z";
  google::protobuf::Timestamp t;
  if (!google::protobuf::util::TimeUtil::FromString(value, &t)) {
    return InvalidArgument(std::string(flag) + " '" + std::string(text) +
                           "' is not an RFC 3339 time, e.g. 2026-11-29T14:45:28Z or 2026-11-29");
  }
  return t;
}

}  // namespace sov::cli
