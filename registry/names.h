// Validation of what pushers name and label: artifact names ("<owner tenant>/<path>", the OCI
// repository-name grammar of proto/sov/v1/artifact.proto) and label keys and values (the
// ArtifactSpec.labels rules). Errors are INVALID_ARGUMENT messages that quote the bad value and
// say what is allowed, fit to return to the client as they are. Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sov::registry {

inline constexpr size_t kMaxNameLength = 255;
inline constexpr size_t kMaxLabels = 64;
inline constexpr size_t kMaxLabelKeyLength = 63;
inline constexpr size_t kMaxLabelValueLength = 256;  // characters (code points), not bytes

// OK when `name` is two or more '/'-separated segments, each one or more runs of [a-z0-9]
// joined by single '.', '_' or '-', at most kMaxNameLength characters in all.
Status ValidateArtifactName(std::string_view name);

// Returns the owner tenant of a valid name: its first segment ("acme-ml" of
// "acme-ml/fraud/classifier"); the whole text when it has no '/'.
std::string_view OwnerTenantOf(std::string_view name);

// OK when `key` is 1 to 63 characters of [a-z0-9._/-] starting and ending with [a-z0-9].
Status ValidateLabelKey(std::string_view key);
// OK when `value` is valid UTF-8 of at most 256 characters.
Status ValidateLabelValue(std::string_view key, std::string_view value);
// OK when there are at most 64 labels and every key and value is valid.
Status ValidateLabels(const std::map<std::string, std::string>& labels);

}  // namespace sov::registry
