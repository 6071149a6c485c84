#include "common/time.h"

#include <cstdio>
#include <ctime>

namespace sov {
namespace {

using std::chrono::days;
using std::chrono::floor;
using std::chrono::microseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// Reads exactly `n` digits at `pos`; false when any is not a digit or the text is short.
bool ReadDigits(std::string_view text, size_t pos, size_t n, int& value) {
  if (pos + n > text.size()) return false;
  value = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return true;
}

Status BadTime(std::string_view text, std::string_view why) {
  return InvalidArgument("invalid RFC 3339 time '" + std::string(text) + "': " + std::string(why) +
                         " (expected e.g. 2026-11-29T17:26:18Z or 2026-11-29T17:26:18.123456Z)");
}

}  // namespace

std::string FormatRfc3339(SystemTime t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string FormatRfc3339Micros(SystemTime t) {
  // floor, not duration_cast: times before 1970 must round toward the past too.
  auto us = floor<microseconds>(t.time_since_epoch());
  auto day = floor<days>(us);
  std::chrono::year_month_day ymd{std::chrono::sys_days(day)};
  std::chrono::hh_mm_ss<microseconds> hms(us - day);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%06lldZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                static_cast<long long>(hms.subseconds().count()));
  return buf;
}

Result<SystemTime> ParseRfc3339(std::string_view text) {
  int year, month, day, hour, minute, second;
  if (!ReadDigits(text, 0, 4, year) || text.size() < 19 || text[4] != '-' ||
      !ReadDigits(text, 5, 2, month) || text[7] != '-' || !ReadDigits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != 't') || !ReadDigits(text, 11, 2, hour) ||
      text[13] != ':' || !ReadDigits(text, 14, 2, minute) || text[16] != ':' ||
      !ReadDigits(text, 17, 2, second)) {
    return BadTime(text, "not of the form YYYY-MM-DDTHH:MM:SS");
  }
  std::chrono::year_month_day ymd{std::chrono::year(year), std::chrono::month(month),
                                  std::chrono::day(day)};
  if (!ymd.ok()) return BadTime(text, "no such date");
  if (hour > 23 || minute > 59) return BadTime(text, "hour or minute out of range");
  if (second > 59) return BadTime(text, "second out of range (leap seconds are not supported)");

  size_t pos = 19;
  nanoseconds fraction{0};
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t begin = pos;
    int64_t value = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (pos - begin == 9) return BadTime(text, "more than 9 fraction digits");
      value = value * 10 + (text[pos] - '0');
      ++pos;
    }
    if (pos == begin) return BadTime(text, "empty fraction");
    for (size_t i = pos - begin; i < 9; ++i) value *= 10;
    fraction = nanoseconds(value);
  }

  seconds offset{0};
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int sign = text[pos] == '+' ? 1 : -1;
    int off_hour, off_minute;
    if (!ReadDigits(text, pos + 1, 2, off_hour) || pos + 3 >= text.size() ||
        text[pos + 3] != ':' || !ReadDigits(text, pos + 4, 2, off_minute) || off_hour > 23 ||
        off_minute > 59) {
      return BadTime(text, "bad time zone offset");
    }
    offset = sign * (std::chrono::hours(off_hour) + std::chrono::minutes(off_minute));
    pos += 6;
  } else {
    return BadTime(text, "missing time zone ('Z' or an offset)");
  }
  if (pos != text.size()) return BadTime(text, "trailing characters");

  auto since_epoch = std::chrono::sys_days(ymd).time_since_epoch() + std::chrono::hours(hour) +
                     std::chrono::minutes(minute) + seconds(second) - offset;
  return SystemTime(std::chrono::duration_cast<SystemTime::duration>(
      nanoseconds(since_epoch) + fraction));
}

}  // namespace sov
