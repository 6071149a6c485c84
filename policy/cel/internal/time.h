// Calendar arithmetic, RFC 3339 timestamps, Go-style duration strings and time zones for the
// CEL engine's timestamp and duration support. Internal. Thread-safe (the time zone cache is
// guarded by a mutex).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "policy/cel/value.h"

namespace sov::policy::cel::internal {

// 128-bit arithmetic for nanosecond totals that overflow int64 in intermediate steps.
__extension__ typedef __int128 Int128;

struct CivilTime {
  int64_t year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
  int hour = 0;
  int minute = 0;
  int second = 0;
  int day_of_week = 4;  // 0 = Sunday
  int day_of_year = 0;  // 0-based
};

// Returns days since 1970-01-01 of a proleptic Gregorian date.
int64_t DaysFromCivil(int64_t year, int month, int day);
// Returns the civil time of `seconds` since the epoch (already shifted to local time).
CivilTime ToCivil(int64_t seconds);

// Parses an RFC 3339 timestamp ("2009-02-13T23:31:30.5+01:00"); returns a timestamp Value or
// an error Value (kInvalidArgument for bad syntax, kOutOfRange outside year 1..9999).
Value ParseTimestamp(std::string_view text);
// Parses a Go-style duration ("1h30m", "-1.5s", "100ms", "2us", "3ns"); returns a duration or
// an error Value.
Value ParseDuration(std::string_view text);
// Formats as RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits trimmed of trailing zeros.
std::string FormatTimestamp(int64_t seconds, int32_t nanos);
// Formats as seconds with an "s" suffix, e.g. "1000000s" or "-1.5s".
std::string FormatDuration(int64_t seconds, int32_t nanos);

// Returns the offset from UTC in seconds of time zone `tz` at the instant `utc_seconds`. `tz` is
// "UTC", a fixed offset ("+11:00", "-02:30", "02:00"), or an IANA name ("Europe/Berlin")
// read from the system's zoneinfo directory. InvalidArgument when unknown.
Result<int64_t> TimeZoneOffset(std::string_view tz, int64_t utc_seconds);

}  // namespace sov::policy::cel::internal
