// Conversions between the registry's plain records (registry/types.h), the policy engine's view
// of an artifact (policy/decision.h) and the sov.v1 protobuf messages. Names follow the policy
// language ("dataset", "personal", "legitimate-interests"); enums map 1:1. Pure functions;
// thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "policy/decision.h"
#include "registry/types.h"
#include "sov/v1/artifact.pb.h"
#include "sov/v1/decision.pb.h"
#include "sov/v1/registry.pb.h"

namespace sov::gateway {

// Enum <-> policy-language names. The From* functions return INVALID_ARGUMENT naming the field
// for UNSPECIFIED or unknown values, except where noted.
Result<registry::Kind> KindFromProto(sov::v1::ArtifactKind kind);
sov::v1::ArtifactKind KindToProto(registry::Kind kind);
sov::v1::Stage StageToProto(registry::Stage stage);
Result<registry::Stage> StageFromProto(sov::v1::Stage stage);
// UNSPECIFIED -> "" (the caller decides whether that is allowed).
std::string ClassificationName(sov::v1::Classification classification);
sov::v1::Classification ClassificationToProto(std::string_view name);
// UNSPECIFIED -> ""; NOT_APPLICABLE -> "not-applicable".
std::string LawfulBasisName(sov::v1::LawfulBasis basis);
sov::v1::LawfulBasis LawfulBasisToProto(std::string_view name);
std::string SpecialConditionName(sov::v1::SpecialCategoryCondition condition);
sov::v1::SpecialCategoryCondition SpecialConditionToProto(std::string_view name);
std::string RelationName(sov::v1::LineageRelation relation);  // "trained-on", ...
sov::v1::LineageRelation RelationToProto(std::string_view name);

// The policy engine's view of an artifact: its declared classification, and lineage entries
// naming each parent (the caller fills in the parents' classifications and purposes, from which
// the engine derives the effective classification).
policy::Artifact PolicyArtifact(const registry::ArtifactRecord& record);
policy::Artifact PolicyArtifact(const registry::ArtifactSpec& spec);
// Fills a lineage entry in with what the engine needs of its parent: the parent's effective
// classification (its declared one when none was derived) and its purposes, as stored.
void FillLineageEntry(const registry::ArtifactRecord& parent, policy::LineageEntry& entry);

// Records to protos.
void ArtifactToProto(const registry::ArtifactRecord& record, sov::v1::Artifact* out);
// ArtifactToProto, and the manifest (when the record has a well-formed one) as EnvelopeToProto
// gives it, from one parse of the envelope.
void ArtifactAndManifestToProto(const registry::ArtifactRecord& record,
                                sov::v1::Artifact* artifact, sov::v1::DsseEnvelope* manifest);
void UploadToProto(const registry::UploadRecord& upload, sov::v1::Upload* out);
// The tombstone of an erased record (name, version, digest, kind and size from the record);
// leaves `out` empty when the record has none.
void TombstoneToProto(const registry::ArtifactRecord& record, sov::v1::Tombstone* out);
// "revoke" | "flag-retrain" | "none" <-> LineageAction; UNSPECIFIED for any other text.
sov::v1::LineageAction LineageActionToProto(std::string_view action);
// A rule location as the registry stores it ("FILE:LINE:COL", "FILE:LINE" or "FILE") as the
// API shows it: the file's base name, line and column.
sov::v1::SourceLocation RuleLocationToProto(std::string_view location);
// The manifest JSON (DSSE) to its proto; INTERNAL when the stored JSON is malformed.
Status EnvelopeToProto(std::string_view envelope_json, sov::v1::DsseEnvelope* out);
// A decision as callers see it: rule id, the policy file's base name, reason, digest.
void DecisionToProto(const policy::Decision& decision, std::string_view action,
                     sov::v1::Decision* out);

}  // namespace sov::gateway
