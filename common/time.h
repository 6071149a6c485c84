// Wall-clock helpers: the current time and RFC 3339 (UTC, "Z") formatting used in manifests,
// audit entries and logs. Thread-safe.
#pragma once

#include <chrono>
#include <string>

namespace sov {

using SystemTime = std::chrono::system_clock::time_point;

// Formats `t` as RFC 3339 in UTC with whole seconds, e.g. "2026-11-29T14:45:28Z".
std::string FormatRfc3339(SystemTime t);

}  // namespace sov
