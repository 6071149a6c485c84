#include "policy/internal/text.h"

#include <algorithm>
#include <charconv>
#include <limits>

namespace sov::policy::internal {

int EditDistance(std::string_view a, std::string_view b) {
  std::vector<int> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int substitution = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, substitution});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

namespace {

template <typename S>
std::string Suggest(std::string_view word, std::span<const S> candidates) {
  if (candidates.empty()) return "";
  // A hint is only offered within `allowed` edits, so longer words and candidates whose
  // length differs by more than that are not compared: the distance is quadratic in length,
  // and a file full of long unknown names must not make loading slow.
  constexpr size_t kMaxHintLength = 64;
  const int allowed = word.size() < 4 ? 1 : 2;
  int best = std::numeric_limits<int>::max();
  std::string_view best_name;
  for (const auto& c : candidates) {
    std::string_view candidate(c);
    const size_t longer = std::max(word.size(), candidate.size());
    const size_t shorter = std::min(word.size(), candidate.size());
    if (longer > kMaxHintLength || longer - shorter > static_cast<size_t>(allowed)) continue;
    const int d = EditDistance(word, candidate);
    if (d < best) {
      best = d;
      best_name = candidate;
    }
  }
  if (best <= allowed) return "did you mean `" + std::string(best_name) + "`?";
  std::string out = "expected one of: ";
  for (size_t i = 0; i < candidates.size() && i < 12; ++i) {
    if (i > 0) out += ", ";
    out += candidates[i];
  }
  if (candidates.size() > 12) out += ", ...";
  return out;
}

bool ParseUint(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  if (text.size() > 1 && text[0] == '0') return false;  // SemVer forbids leading zeros
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t end = text.find(sep, start);
    out.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

bool IsWild(std::string_view part) { return part == "x" || part == "X" || part == "*"; }

}  // namespace

std::string SuggestHint(std::string_view word, std::span<const std::string> candidates) {
  return Suggest(word, candidates);
}
std::string SuggestHint(std::string_view word, std::span<const std::string_view> candidates) {
  return Suggest(word, candidates);
}

Result<std::optional<std::chrono::seconds>> ParseAge(std::string_view text) {
  if (text == "unlimited") return std::optional<std::chrono::seconds>();
  const auto bad = [&] {
    return InvalidArgument("invalid age `" + std::string(text) + "`");
  };
  if (text.size() < 2) return bad();
  const char unit = text.back();
  int64_t per = 0;
  switch (unit) {
    case 'w': per = 7 * 86400; break;
    case 'd': per = 86400; break;
    case 'h': per = 3600; break;
    case 'm': per = 60; break;
    case 's': per = 1; break;
    default: return bad();
  }
  std::string_view digits = text.substr(0, text.size() - 1);
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || n <= 0) return bad();
  // Up to 10,000 years, so that created_at + max_age never overflows.
  if (n > 315360000000 / per) return InvalidArgument("age `" + std::string(text) + "` is too long");
  return std::optional<std::chrono::seconds>(std::chrono::seconds(n * per));
}

Result<Version> ParseVersion(std::string_view text) {
  const auto bad = [&] {
    return InvalidArgument("invalid version `" + std::string(text) +
                           "` (expected MAJOR.MINOR.PATCH, e.g. 2.1.0)");
  };
  std::string_view core = text;
  if (size_t plus = core.find('+'); plus != std::string_view::npos) core = core.substr(0, plus);
  Version v;
  if (size_t dash = core.find('-'); dash != std::string_view::npos) {
    for (std::string_view id : Split(core.substr(dash + 1), '.')) {
      if (id.empty()) return bad();
      v.prerelease.emplace_back(id);
    }
    core = core.substr(0, dash);
  }
  std::vector<std::string_view> parts = Split(core, '.');
  if (parts.size() != 3 || !ParseUint(parts[0], &v.major) || !ParseUint(parts[1], &v.minor) ||
      !ParseUint(parts[2], &v.patch)) {
    return bad();
  }
  return v;
}

int CompareVersions(const Version& a, const Version& b) {
  if (a.major != b.major) return a.major < b.major ? -1 : 1;
  if (a.minor != b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch != b.patch) return a.patch < b.patch ? -1 : 1;
  // A pre-release precedes its release.
  if (a.prerelease.empty() != b.prerelease.empty()) return a.prerelease.empty() ? 1 : -1;
  for (size_t i = 0; i < a.prerelease.size() && i < b.prerelease.size(); ++i) {
    const std::string& x = a.prerelease[i];
    const std::string& y = b.prerelease[i];
    uint64_t nx = 0, ny = 0;
    const bool num_x = ParseUint(x, &nx), num_y = ParseUint(y, &ny);
    if (num_x && num_y) {
      if (nx != ny) return nx < ny ? -1 : 1;
    } else if (num_x != num_y) {
      return num_x ? -1 : 1;
    } else if (x != y) {
      return x < y ? -1 : 1;
    }
  }
  if (a.prerelease.size() != b.prerelease.size()) return a.prerelease.size() < b.prerelease.size() ? -1 : 1;
  return 0;
}

Status VersionRange::ParseComparator(std::string_view text, std::vector<Comparator>* out) {
  const auto bad = [&] {
    return InvalidArgument("invalid version range `" + std::string(text) + "`");
  };
  std::string_view op;
  for (std::string_view candidate : {">=", "<=", ">", "<", "=", "^", "~"}) {
    if (text.substr(0, candidate.size()) == candidate) {
      op = candidate;
      break;
    }
  }
  std::string_view rest = text.substr(op.size());
  if (!rest.empty() && (rest[0] == 'v' || rest[0] == 'V')) rest.remove_prefix(1);
  if (rest.empty() || IsWild(rest)) {
    if (op.empty() || op == "=" || op == ">=" || op == "<=" ) return OkStatus();  // any
    return bad();
  }
  // A full version (possibly with a pre-release) or a partial one ("1", "1.2", "1.x").
  Version v;
  int given = 3;
  std::string_view core = rest;
  if (size_t plus = core.find('+'); plus != std::string_view::npos) core = core.substr(0, plus);
  if (core.find('-') != std::string_view::npos) {
    SOV_ASSIGN_OR_RETURN(v, ParseVersion(rest));
  } else {
    std::vector<std::string_view> parts = Split(core, '.');
    if (parts.size() > 3) return bad();
    given = 0;
    uint64_t* fields[] = {&v.major, &v.minor, &v.patch};
    for (size_t i = 0; i < parts.size(); ++i) {
      if (IsWild(parts[i])) break;
      if (!ParseUint(parts[i], fields[i])) return bad();
      ++given;
    }
    if (given == 0) return op.empty() || op == "=" || op == ">=" || op == "<=" ? OkStatus() : bad();
  }
  // The first version past the partial one: 1.2 -> 1.3.0, 1 -> 2.0.0.
  const auto next = [](const Version& base, int level) {
    Version n;
    n.major = base.major;
    if (level == 0) {
      n.major = base.major + 1;
    } else if (level == 1) {
      n.minor = base.minor + 1;
    } else {
      n.minor = base.minor;
      n.patch = base.patch + 1;
    }
    return n;
  };
  Version lower = v;
  if (given < 3) lower.prerelease.clear();
  if (op.empty() || op == "=") {
    if (given == 3) {
      out->push_back({Op::kEq, v});
    } else {
      out->push_back({Op::kGe, lower});
      out->push_back({Op::kLt, next(v, given - 1)});
    }
  } else if (op == "^") {
    out->push_back({Op::kGe, lower});
    // The upper bound bumps the first non-zero part among those given.
    int level = 0;
    if (v.major == 0 && given >= 2) level = (v.minor != 0 || given == 2) ? 1 : 2;
    out->push_back({Op::kLt, next(v, level)});
  } else if (op == "~") {
    out->push_back({Op::kGe, lower});
    out->push_back({Op::kLt, next(v, given >= 2 ? 1 : 0)});
  } else if (op == ">=") {
    out->push_back({Op::kGe, lower});
  } else if (op == "<") {
    out->push_back({Op::kLt, lower});
  } else if (op == ">") {
    if (given == 3) {
      out->push_back({Op::kGt, v});
    } else {
      out->push_back({Op::kGe, next(v, given - 1)});
    }
  } else {  // "<="
    if (given == 3) {
      out->push_back({Op::kLe, v});
    } else {
      out->push_back({Op::kLt, next(v, given - 1)});
    }
  }
  return OkStatus();
}

Result<VersionRange> VersionRange::Parse(std::string_view text) {
  VersionRange range;
  for (std::string_view alternative : Split(text, '|')) {
    // "||" splits into an empty piece between the bars; skip it.
    if (alternative.empty()) continue;
    std::vector<Comparator> set;
    size_t i = 0;
    bool any_token = false;
    while (i < alternative.size()) {
      while (i < alternative.size() && alternative[i] == ' ') ++i;
      size_t j = i;
      while (j < alternative.size() && alternative[j] != ' ') ++j;
      if (j > i) {
        std::string_view token = alternative.substr(i, j - i);
        // Allow a space between an operator and its version: ">= 1.2.0".
        if (token.find_first_not_of("<>=^~") == std::string_view::npos && j < alternative.size()) {
          size_t k = j;
          while (k < alternative.size() && alternative[k] == ' ') ++k;
          size_t e = k;
          while (e < alternative.size() && alternative[e] != ' ') ++e;
          std::string joined = std::string(token) + std::string(alternative.substr(k, e - k));
          SOV_RETURN_IF_ERROR(ParseComparator(joined, &set));
          j = e;
        } else {
          SOV_RETURN_IF_ERROR(ParseComparator(token, &set));
        }
        any_token = true;
      }
      i = j;
    }
    if (!any_token && text.find('|') != std::string_view::npos && alternative.find_first_not_of(' ') == std::string_view::npos) {
      continue;
    }
    range.sets_.push_back(std::move(set));
  }
  if (range.sets_.empty()) range.sets_.emplace_back();  // "" matches everything
  return range;
}

bool VersionRange::Matches(const Version& v) const {
  for (const auto& set : sets_) {
    bool all = true;
    for (const Comparator& c : set) {
      const int cmp = CompareVersions(v, c.version);
      bool ok = false;
      switch (c.op) {
        case Op::kLt: ok = cmp < 0; break;
        case Op::kLe: ok = cmp <= 0; break;
        case Op::kGt: ok = cmp > 0; break;
        case Op::kGe: ok = cmp >= 0; break;
        case Op::kEq: ok = cmp == 0; break;
      }
      if (!ok) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

}  // namespace sov::policy::internal
