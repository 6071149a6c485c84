// Conversions between the API's protobuf messages and what sovctl prints or verifies: proto3
// JSON (the form `--output json` prints messages in), DSSE envelopes (the proto DsseEnvelope
// maps field for field to crypto::DsseEnvelope), and timestamps in RFC 3339. Pure functions:
// thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>
#include <nlohmann/json.hpp>

#include "common/status.h"
#include "crypto/dsse.h"
#include "sov/v1/artifact.pb.h"

namespace sov::cli {

// Returns `message` in proto3 JSON (lowerCamelCase names, int64 as strings, bytes as base64,
// enums by name, default values left out), parsed so that it can be nested in a document.
nlohmann::ordered_json ProtoToJson(const google::protobuf::Message& message);

// Returns `message` in proto3 JSON on one line, without whitespace (for JSON lines).
std::string ProtoToJsonLine(const google::protobuf::Message& message);

// Parses proto3 JSON into `message`, ignoring fields this build does not know. INVALID_ARGUMENT
// with protobuf's reason otherwise.
Status ProtoFromJson(std::string_view json, google::protobuf::Message& message);

// Converts a DSSE envelope, field for field.
crypto::DsseEnvelope ToCryptoEnvelope(const v1::DsseEnvelope& envelope);
v1::DsseEnvelope ToProtoEnvelope(const crypto::DsseEnvelope& envelope);

// Returns `t` as RFC 3339 UTC with whole seconds ("2026-11-29T14:45:28Z"); empty when unset (0).
std::string TimestampText(const google::protobuf::Timestamp& t);

// Parses RFC 3339 ("2026-11-29T14:45:28Z", "2026-11-29T15:45:28+01:00") or a bare date
// ("2026-11-29", meaning midnight UTC). INVALID_ARGUMENT naming `flag` otherwise.
Result<google::protobuf::Timestamp> ParseTimestamp(std::string_view flag, std::string_view text);

// Parses a duration from now, a whole number and s, m, h, d or w ("90d" is now + 90 days), or a
// time as ParseTimestamp does. INVALID_ARGUMENT naming `flag` and both forms otherwise, or when
// the result is past the end of year 9999 (the last time a Timestamp holds).
Result<google::protobuf::Timestamp> ParseTimeOrDurationFromNow(std::string_view flag,
                                                               std::string_view text);

}  // namespace sov::cli
