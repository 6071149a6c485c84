// How sovctl prints registry records and audit entries as text: the `key: value` lines of
// `sovctl show` and `sovctl push`, the rows of `sovctl ls`, and the one-line form of an audit
// entry that `sovctl audit tail` and `audit query` print. Enum values print as their flag names
// (cli/artifact_flags.h). Pure functions: thread-safe.
#pragma once

#include <string>
#include <vector>

#include "cli/output.h"
#include "sov/v1/artifact.pb.h"
#include "sov/v1/audit.pb.h"

namespace sov::cli {

// Returns "name@version" of a record or reference.
std::string RefText(const v1::Artifact& artifact);
std::string RefText(const v1::ArtifactRef& ref);

// Returns "sha256:" and the first 12 hex digits of a digest, for tables.
std::string ShortDigest(const std::string& digest);

// Returns "eu-de-1 (DE)", or "-" when unset.
std::string LocationText(const v1::StorageLocation& location);

// Returns the summary lines `push`, `release`, `revoke` and `sign` print: artifact, digest, size,
// kind, stage, location.
KeyValues ArtifactSummary(const v1::Artifact& artifact);

// Returns every field of the record as `show` prints it: the summary, then metadata, labels,
// lineage, signatures, release checks, stage history, notices and tombstone; `manifest` adds
// its payload type and signature count.
KeyValues ArtifactDetails(const v1::Artifact& artifact, const v1::DsseEnvelope* manifest);

// The header and one row of `ls`: NAME VERSION KIND STAGE SIZE DIGEST LOCATION CREATED.
std::vector<std::string> ArtifactTableHeader();
std::vector<std::string> ArtifactTableRow(const v1::Artifact& artifact);

// The header and one row of the audit entry table: INDEX TIME TENANT ACTION EFFECT RULE
// RESOURCE. TENANT is the principal's tenant or "(system actor)"; EFFECT is allow/deny for a
// decision, else the event type; RULE is the deciding rule, "default-deny", or "-".
std::vector<std::string> AuditTableHeader();
std::vector<std::string> AuditTableRow(const v1::AuditEntry& entry);

// Returns the row above as one line, cells separated by two spaces (for streams).
std::string AuditEntryLine(const v1::AuditEntry& entry);

}  // namespace sov::cli
