// Artifact references as sovctl's users type them: NAME or NAME@VERSION, where NAME is
// "<tenant>/<path>" and VERSION a SemVer 2.0.0 version (the grammar of artifact.proto's file
// comment), and labels as KEY=VALUE. The parsers check everything the gateway would refuse as
// INVALID_ARGUMENT, so that a typo costs no round trip, and their messages say what to type
// instead. Pure functions: thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sov::cli {

// The longest name and version the gateway accepts.
inline constexpr size_t kMaxArtifactNameLength = 255;
inline constexpr size_t kMaxArtifactVersionLength = 128;

// A parsed NAME[@VERSION]; `version` is empty when none was given.
struct ArtifactRefText {
  std::string name;
  std::string version;

  // Returns "name@version", or "name" without a version.
  std::string ToString() const;
};

enum class VersionRule {
  kOptional,  // NAME or NAME@VERSION (reads: empty means the highest released version)
  kRequired,  // NAME@VERSION only (calls that change state)
};

// Checks `name` against the artifact name grammar. INVALID_ARGUMENT says what is wrong and, where
// a likely fix exists, "did you mean '...'?". `tenant_hint` (the caller's tenant, when known)
// turns the hint for a name without a tenant into "did you mean '<tenant>/<name>'?".
Status CheckArtifactName(std::string_view name,
                         const std::optional<std::string>& tenant_hint = std::nullopt);

// Checks that `version` is SemVer 2.0.0 without a leading "v" and without build metadata.
// INVALID_ARGUMENT with a hint ("did you mean '1.2.0'?") otherwise.
Status CheckArtifactVersion(std::string_view version);

// Parses "NAME" or "NAME@VERSION" and checks both parts. INVALID_ARGUMENT for a malformed name
// or version, a second '@', an empty version after '@', or a missing version under kRequired.
Result<ArtifactRefText> ParseArtifactRef(
    std::string_view text, VersionRule rule,
    const std::optional<std::string>& tenant_hint = std::nullopt);

// Parses one "KEY=VALUE" label. Keys are 1 to 63 characters of [a-z0-9._/-] that start and end
// with a letter or digit; values are at most 256 characters of UTF-8 (and may be empty).
// INVALID_ARGUMENT naming the label otherwise.
Result<std::pair<std::string, std::string>> ParseLabel(std::string_view text);

// Parses every label; INVALID_ARGUMENT for the first malformed one or a key given twice.
Result<std::map<std::string, std::string>> ParseLabels(const std::vector<std::string>& texts);

}  // namespace sov::cli
