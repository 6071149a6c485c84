// Conversions between the registry's audit records (registry/types.h, registry/metadata_store.h)
// and the sov.v1 AuditService messages: a stored leaf (its canonical JSON, registry/audit_entry.h)
// to an AuditEntry, a stored checkpoint to a Checkpoint, an API AuditFilter to the store's, and
// the opaque page tokens of AuditService.Query. AuditService (gateway/audit_service.h) is the
// caller. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/time.h"
#include "registry/metadata_store.h"
#include "registry/types.h"
#include "sov/v1/artifact.pb.h"
#include "sov/v1/audit.pb.h"

namespace sov::gateway {

// Returns the store's name of an event type, the enum name without "AUDIT_EVENT_TYPE_"
// ("DECISION", "STAGE_CHANGE", ...); nullopt for UNSPECIFIED and for values the API lacks.
std::optional<std::string> AuditEventTypeName(sov::v1::AuditEventType type);
// Parses a name written by AuditEventTypeName; UNSPECIFIED for any other text.
sov::v1::AuditEventType ParseAuditEventType(std::string_view name);

// Returns the store's filter for `filter`: types as AuditEventTypeName, effect as "allow" /
// "deny", the time window as [since, until), the artifact's name and version (its digest is
// not a filter). Leaves descending and limit at their defaults. INVALID_ARGUMENT, naming the
// field, for a negative index, end_index below start_index, an unknown enum value or a
// timestamp out of range.
Result<registry::AuditFilter> ToRegistryFilter(const sov::v1::AuditFilter& filter);

// Returns the entry of a stored leaf: index, leaf_data and leaf_hash from the record, every other
// field parsed from leaf_data. A key missing from the JSON, or holding a value of the wrong shape,
// leaves its field unset; unknown keys are ignored; leaf_data that is not JSON leaves every parsed
// field unset. Never fails: an export must carry every leaf as stored, for the verifier to judge.
sov::v1::AuditEntry ToAuditEntry(const registry::AuditRecord& record);

// Returns the checkpoint of a stored record. The origin is the one in the signed payload, or
// `origin` when the envelope cannot be read (the envelope is then left unset).
sov::v1::Checkpoint ToCheckpoint(const registry::CheckpointRecord& record,
                                 std::string_view origin);

// Parses a DSSE envelope's JSON form into the API message; INVALID_ARGUMENT when malformed.
Result<sov::v1::DsseEnvelope> DsseEnvelopeFromJson(std::string_view json);

// Returns the page token that continues a Query at leaf `next_index` (inclusive), in the given
// direction: unpadded base64url of "v1:a:<index>" or "v1:d:<index>".
std::string EncodeAuditPageToken(int64_t next_index, bool descending);
// Returns the index a token continues at. INVALID_ARGUMENT for anything EncodeAuditPageToken did
// not write, or for a token of the other direction than `descending`.
Result<int64_t> DecodeAuditPageToken(std::string_view token, bool descending);

// Returns the time as a protobuf Timestamp, and back (INVALID_ARGUMENT when out of range).
google::protobuf::Timestamp ToTimestamp(SystemTime time);
Result<SystemTime> FromTimestamp(const google::protobuf::Timestamp& timestamp);

}  // namespace sov::gateway
