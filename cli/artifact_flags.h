// The words sovctl uses for the API's enums, and the ArtifactSpec that `sovctl push` builds from
// its flags. An enum value's flag name is its proto name without the enum's prefix, in lower
// case with '-' for '_': CLASSIFICATION_SPECIAL_CATEGORY is "special-category",
// LINEAGE_RELATION_TRAINED_ON "trained-on". The same names appear in text output, so what
// `sovctl show` prints can be typed back as a flag. Pure functions: thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/generated_enum_reflection.h>

#include "common/status.h"
#include "sov/v1/artifact.pb.h"

namespace sov::cli {

namespace internal {

// Returns the flag names of every value of `descriptor` but the UNSPECIFIED one, in order.
std::vector<std::string> EnumFlagNames(const google::protobuf::EnumDescriptor& descriptor);
// Returns the flag name of `value`; "unspecified" for 0 and "unknown(<n>)" for a value this
// build does not know.
std::string EnumFlagName(const google::protobuf::EnumDescriptor& descriptor, int value);
// Returns the number of the value whose flag name is `text`. INVALID_ARGUMENT listing every
// choice when there is none (UNSPECIFIED is never a choice).
Result<int> ParseEnumFlag(const google::protobuf::EnumDescriptor& descriptor,
                          std::string_view what, std::string_view text);

}  // namespace internal

// Returns every flag name of the enum E except "unspecified", e.g. for CLI11's IsMember.
template <typename E>
std::vector<std::string> EnumFlagNames() {
  return internal::EnumFlagNames(*google::protobuf::GetEnumDescriptor<E>());
}

// Returns the flag name of `value`, e.g. "special-category".
template <typename E>
std::string EnumFlagName(E value) {
  return internal::EnumFlagName(*google::protobuf::GetEnumDescriptor<E>(), static_cast<int>(value));
}

// Parses a flag name into E; `what` names the flag in the error ("--classification").
template <typename E>
Result<E> ParseEnumFlag(std::string_view what, std::string_view text) {
  SOV_ASSIGN_OR_RETURN(int value,
                       internal::ParseEnumFlag(*google::protobuf::GetEnumDescriptor<E>(), what, text));
  return static_cast<E>(value);
}

// Parses "NAME@VERSION" (version required) into a lineage edge of `relation`; `flag` names the
// flag in errors ("--trained-on"). INVALID_ARGUMENT as ParseArtifactRef reports.
Result<v1::LineageRef> ParseLineageFlag(std::string_view flag, std::string_view text,
                                        v1::LineageRelation relation);

// What `sovctl push` was given, as typed; empty strings and lists are flags not given.
struct PushFlags {
  std::string kind;  // "dataset" or "model"
  std::string name;
  std::string version;
  std::vector<std::string> trained_on;
  std::vector<std::string> validated_on;
  std::vector<std::string> derived_from;
  std::string classification;
  std::vector<std::string> purposes;
  std::string lawful_basis;
  std::string special_category_condition;
  std::vector<std::string> labels;
  std::string media_type;
  std::string description;
  std::string location;
  std::string retain_until;  // a time or a duration from now, see ParseTimeOrDurationFromNow
};

// Checks the flags and builds the spec CreateUpload gets. INVALID_ARGUMENT naming the flag for a
// malformed name, version, label, lineage reference or --retain-until time, a kind other than
// dataset or model, an unknown enum word, or a purpose that is empty or given twice.
// `tenant_hint` is passed to CheckArtifactName for its did-you-mean.
Result<v1::ArtifactSpec> BuildArtifactSpec(
    const PushFlags& flags, const std::optional<std::string>& tenant_hint = std::nullopt);

}  // namespace sov::cli
