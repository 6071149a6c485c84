// Wall-clock helpers: the current time and RFC 3339 (UTC, "Z") formatting and parsing used in
// manifests, audit entries and logs. Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sov {

using SystemTime = std::chrono::system_clock::time_point;

// Formats `t` as RFC 3339 in UTC with whole seconds, e.g. "2026-11-29T14:45:28Z".
std::string FormatRfc3339(SystemTime t);

// Formats `t` as RFC 3339 in UTC with exactly six fraction digits, e.g.
// "2026-11-29T17:26:18.123456Z"; sub-microsecond parts are dropped (rounded toward the past).
// This is the audit log's canonical form. Years outside 0000..9999 are not representable.
std::string FormatRfc3339Micros(SystemTime t);

// Parses an RFC 3339 date-time: "YYYY-MM-DDTHH:MM:SS", an optional fraction of 1 to 9 digits,
// then "Z" or a "+HH:MM"/"-HH:MM" offset ('T' and 'Z' may be lower case). INVALID_ARGUMENT
// quoting the text for anything else, including impossible dates and leap seconds (":60").
Result<SystemTime> ParseRfc3339(std::string_view text);

}  // namespace sov
