#include "cli/proto_interop.h"

#include <chrono>
#include <cstdint>
#include <utility>

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

Result<google::protobuf::Timestamp> ParseTimeOrDurationFromNow(std::string_view flag,
                                                               std::string_view text) {
  static constexpr std::pair<char, int64_t> kUnits[] = {
      {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}};
  // At most 7 digits, so that the microseconds below cannot overflow.
  if (text.size() >= 2 && text.size() <= 8) {
    const std::string_view digits = text.substr(0, text.size() - 1);
    bool numeric = true;
    for (char c : digits) numeric = numeric && c >= '0' && c <= '9';
    for (const auto& [unit, seconds] : kUnits) {
      if (!numeric || text.back() != unit) continue;
      const int64_t amount = std::stoll(std::string(digits));
      const auto now = std::chrono::system_clock::now();
      const int64_t micros =
          std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() +
          amount * seconds * 1'000'000;
      if (micros / 1'000'000 > google::protobuf::util::TimeUtil::kTimestampMaxSeconds) {
        return InvalidArgument(std::string(flag) + ": '" + std::string(text) +
                               "' from now is past the year 9999");
      }
      return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(micros);
    }
  }
  Result<google::protobuf::Timestamp> at = ParseTimestamp(flag, text);
  if (!at.ok()) {
    return InvalidArgument(std::string(flag) + ": '" + std::string(text) +
                           "' is neither a duration from now (a whole number and s, m, h, d or "
                           "w, e.g. 30d) nor a date or RFC 3339 time (2027-01-31)");
  }
  return at;
}

}  // namespace sov::cli
