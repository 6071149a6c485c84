#include "cli/artifact_ref.h"

#include <algorithm>
#include <cctype>

#include "common/utf8.h"

namespace sov::cli {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsSeparator(char c) { return c == '.' || c == '_' || c == '-'; }

std::string Quote(std::string_view text) { return "'" + std::string(text) + "'"; }

// Checks one '/'-free segment; returns the problem in words, or empty when it is fine.
std::string SegmentProblem(std::string_view segment) {
  if (segment.empty()) return "has an empty segment (two '/' in a row, or a '/' at either end)";
  for (size_t i = 0; i < segment.size(); ++i) {
    char c = segment[i];
    if (IsLowerAlnum(c)) continue;
    if (!IsSeparator(c)) {
      if (c >= 'A' && c <= 'Z') return "has upper-case letters (names are lower-case)";
      return "contains " + Quote(std::string(1, c)) +
             " (use lower-case letters and digits, with single '.', '_' or '-' inside a segment "
             "and '/' between segments)";
    }
    if (i == 0 || i + 1 == segment.size()) {
      return "has a segment " + Quote(segment) + " that starts or ends with " +
             Quote(std::string(1, c)) + " (a segment starts and ends with a letter or digit)";
    }
    if (IsSeparator(segment[i + 1])) {
      return "has a segment " + Quote(segment) + " with two separators in a row";
    }
  }
  return {};
}

// Returns the problem with `name` in words, or empty when it follows the grammar.
std::string NameProblem(std::string_view name) {
  if (name.size() > kMaxArtifactNameLength) {
    return "is " + std::to_string(name.size()) + " characters long (at most " +
           std::to_string(kMaxArtifactNameLength) + ")";
  }
  size_t start = 0;
  for (;;) {
    size_t slash = name.find('/', start);
    std::string_view segment =
        name.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (std::string problem = SegmentProblem(segment); !problem.empty()) return problem;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return {};
}

// Makes the nearest name that follows the grammar: lower-case, other characters as '-', no
// doubled or dangling separators, no empty segments. May return something still invalid (e.g.
// empty), which the caller does not suggest.
std::string RepairName(std::string_view name) {
  std::string out;
  std::string segment;
  auto flush = [&] {
    while (!segment.empty() && IsSeparator(segment.back())) segment.pop_back();
    if (segment.empty()) return;
    if (!out.empty()) out += '/';
    out += segment;
    segment.clear();
  };
  for (char c : name) {
    if (c == '/') {
      flush();
      continue;
    }
    char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    char mapped = IsLowerAlnum(lower) || IsSeparator(lower) ? lower : '-';
    if (IsSeparator(mapped) && (segment.empty() || IsSeparator(segment.back()))) continue;
    segment += mapped;
  }
  flush();
  return out;
}

bool IsDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Checks a numeric SemVer identifier: digits without a leading zero.
bool IsNumericIdentifier(std::string_view text) {
  return IsDigits(text) && (text.size() == 1 || text[0] != '0');
}

// Returns the problem with `version` in words, or empty when it is SemVer without build metadata.
std::string VersionProblem(std::string_view version) {
  if (version.size() > kMaxArtifactVersionLength) {
    return "is " + std::to_string(version.size()) + " characters long (at most " +
           std::to_string(kMaxArtifactVersionLength) + ")";
  }
  std::string_view core = version.substr(0, version.find('-'));
  std::string_view pre =
      core.size() < version.size() ? version.substr(core.size() + 1) : std::string_view();
  const bool has_pre = core.size() < version.size();
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t dot = core.find('.', start);
    parts.push_back(core.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts.size() != 3) return "is not MAJOR.MINOR.PATCH";
  for (std::string_view part : parts) {
    if (!IsDigits(part)) return "is not MAJOR.MINOR.PATCH (each a decimal number)";
    if (!IsNumericIdentifier(part)) return "has a number with a leading zero";
  }
  if (has_pre) {
    if (pre.empty()) return "has an empty pre-release after '-'";
    size_t id_start = 0;
    for (;;) {
      size_t dot = pre.find('.', id_start);
      std::string_view id =
          pre.substr(id_start, dot == std::string_view::npos ? dot : dot - id_start);
      if (id.empty()) return "has an empty pre-release identifier";
      for (char c : id) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') {
          return "has " + Quote(std::string(1, c)) +
                 " in its pre-release (use letters, digits, '-' and '.')";
        }
      }
      if (IsDigits(id) && !IsNumericIdentifier(id)) {
        return "has a numeric pre-release identifier with a leading zero";
      }
      if (dot == std::string_view::npos) break;
      id_start = dot + 1;
    }
  }
  return {};
}

// Suggests a valid version for a near miss: "v1.2.0" -> "1.2.0", "1.2" -> "1.2.0",
// "1.0.0+build" -> "1.0.0"; empty when there is no obvious one.
std::string RepairVersion(std::string_view version) {
  std::string out(version);
  if (!out.empty() && (out[0] == 'v' || out[0] == 'V')) out.erase(0, 1);
  if (size_t plus = out.find('+'); plus != std::string::npos) out.resize(plus);
  std::string core = out.substr(0, out.find('-'));
  std::string rest = out.substr(core.size());
  size_t dots = static_cast<size_t>(std::count(core.begin(), core.end(), '.'));
  if (dots == 0 && IsDigits(core)) core += ".0.0";
  if (dots == 1) core += ".0";
  out = core + rest;
  return VersionProblem(out).empty() ? out : std::string();
}

}  // namespace

std::string ArtifactRefText::ToString() const {
  return version.empty() ? name : name + "@" + version;
}

Status CheckArtifactName(std::string_view name, const std::optional<std::string>& tenant_hint) {
  if (name.empty()) return InvalidArgument("the artifact name is empty");
  const std::string example = "names are '<tenant>/<path>', e.g. 'acme-ml/fraud/classifier'";
  const std::string repaired = RepairName(name);
  const bool repaired_ok = !repaired.empty() && NameProblem(repaired).empty();
  if (name.find('/') == std::string_view::npos) {
    std::string message = "artifact name " + Quote(name) + " has no tenant: " + example;
    if (tenant_hint && repaired_ok) {
      message += "; did you mean " + Quote(*tenant_hint + "/" + repaired) + "?";
    } else {
      message += " (`sovctl whoami` shows your tenant)";
    }
    return InvalidArgument(std::move(message));
  }
  std::string problem = NameProblem(name);
  if (problem.empty()) return OkStatus();
  std::string message = "artifact name " + Quote(name) + " " + problem;
  if (repaired_ok && repaired != name && repaired.find('/') != std::string::npos) {
    message += "; did you mean " + Quote(repaired) + "?";
  } else {
    message += "; " + example;
  }
  return InvalidArgument(std::move(message));
}

Status CheckArtifactVersion(std::string_view version) {
  if (version.empty()) return InvalidArgument("the version is empty");
  std::string problem = VersionProblem(version);
  if (problem.empty()) return OkStatus();
  if (!version.empty() && (version[0] == 'v' || version[0] == 'V')) {
    problem = "has a leading 'v' (versions are bare SemVer)";
  } else if (version.find('+') != std::string_view::npos) {
    problem = "has build metadata ('+...'), which artifact versions may not have";
  }
  std::string message = "version " + Quote(version) + " " + problem;
  if (std::string repaired = RepairVersion(version); !repaired.empty() && repaired != version) {
    message += "; did you mean " + Quote(repaired) + "?";
  } else {
    message += "; versions are SemVer 2.0.0, e.g. '1.4.0' or '2.0.0-rc.1'";
  }
  return InvalidArgument(std::move(message));
}

Result<ArtifactRefText> ParseArtifactRef(std::string_view text, VersionRule rule,
                                         const std::optional<std::string>& tenant_hint) {
  ArtifactRefText ref;
  size_t at = text.find('@');
  if (at != std::string_view::npos && text.find('@', at + 1) != std::string_view::npos) {
    return InvalidArgument("artifact reference " + Quote(text) +
                           " has more than one '@' (use NAME@VERSION)");
  }
  ref.name = std::string(text.substr(0, at));
  if (at != std::string_view::npos) {
    ref.version = std::string(text.substr(at + 1));
    if (ref.version.empty()) {
      return InvalidArgument("artifact reference " + Quote(text) +
                             " has no version after '@' (use NAME@VERSION, e.g. " +
                             (ref.name.empty() ? std::string("acme-ml/fraud") : ref.name) +
                             "@1.0.0)");
    }
  }
  SOV_RETURN_IF_ERROR(CheckArtifactName(ref.name, tenant_hint));
  if (!ref.version.empty()) SOV_RETURN_IF_ERROR(CheckArtifactVersion(ref.version));
  if (rule == VersionRule::kRequired && ref.version.empty()) {
    return InvalidArgument(Quote(ref.name) +
                           " needs a version: use NAME@VERSION, e.g. " + ref.name +
                           "@1.0.0 (`sovctl ls " + ref.name + "` lists its versions)");
  }
  return ref;
}

Result<std::pair<std::string, std::string>> ParseLabel(std::string_view text) {
  size_t eq = text.find('=');
  if (eq == std::string_view::npos) {
    return InvalidArgument("label " + Quote(text) + " has no '=': use KEY=VALUE, e.g. team=fraud");
  }
  std::string key(text.substr(0, eq));
  std::string value(text.substr(eq + 1));
  if (key.empty()) return InvalidArgument("label " + Quote(text) + " has an empty key");
  if (key.size() > 63) {
    return InvalidArgument("label key " + Quote(key) + " is longer than 63 characters");
  }
  for (char c : key) {
    if (!IsLowerAlnum(c) && c != '.' && c != '_' && c != '/' && c != '-') {
      std::string hint;
      if (c >= 'A' && c <= 'Z') hint = "; keys are lower-case";
      return InvalidArgument("label key " + Quote(key) + " contains " + Quote(std::string(1, c)) +
                             " (keys use a-z, 0-9, '.', '_', '/' and '-')" + hint);
    }
  }
  if (!IsLowerAlnum(key.front()) || !IsLowerAlnum(key.back())) {
    return InvalidArgument("label key " + Quote(key) + " must start and end with a letter or digit");
  }
  if (!IsValidUtf8(value)) {
    return InvalidArgument("the value of label " + Quote(key) + " is not valid UTF-8");
  }
  if (CodePoints(value) > 256) {
    return InvalidArgument("the value of label " + Quote(key) + " is longer than 256 characters");
  }
  return std::make_pair(std::move(key), std::move(value));
}

Result<std::map<std::string, std::string>> ParseLabels(const std::vector<std::string>& texts) {
  std::map<std::string, std::string> labels;
  for (const std::string& text : texts) {
    SOV_ASSIGN_OR_RETURN(auto label, ParseLabel(text));
    if (labels.count(label.first) != 0) {
      return InvalidArgument("label " + Quote(label.first) + " is given twice");
    }
    labels.insert(std::move(label));
  }
  return labels;
}

}  // namespace sov::cli
