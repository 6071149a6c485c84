#include "policy/cel/internal/time.h"

#include <cctype>
#include <cstdio>
#include <limits>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace sov::policy::cel::internal {
namespace {

constexpr int64_t kNanosPerSecond = 1000000000;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `n` digits at `pos`.
bool ReadDigits(std::string_view s, size_t& pos, int n, int64_t& out) {
  if (pos + n > s.size()) return false;
  int64_t v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  pos += n;
  out = v;
  return true;
}

int DaysInMonth(int64_t year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

Value SyntaxError(std::string_view what, std::string_view text) {
  return Value::Error(StatusCode::kInvalidArgument,
                      "invalid " + std::string(what) + " '" + std::string(text.substr(0, 64)) + "'");
}

}  // namespace

int64_t DaysFromCivil(int64_t y, int m, int d) {
  // Counts in 400-year eras starting on March 1st so that the leap day ends the year.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

CivilTime ToCivil(int64_t seconds) {
  int64_t days = seconds / 86400;
  int64_t rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  CivilTime t;
  t.hour = static_cast<int>(rem / 3600);
  t.minute = static_cast<int>(rem % 3600 / 60);
  t.second = static_cast<int>(rem % 60);
  t.day_of_week = static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  t.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  t.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  t.year = yoe + era * 400 + (t.month <= 2);
  t.day_of_year = static_cast<int>(days - DaysFromCivil(t.year, 1, 1));
  return t;
}

Value ParseTimestamp(std::string_view s) {
  size_t pos = 0;
  int64_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  size_t year_digits = 0;
  while (year_digits < s.size() && IsDigit(s[year_digits])) ++year_digits;
  if (year_digits > 4 && year_digits < 12 && year_digits < s.size() && s[year_digits] == '-') {
    return Value::Error(StatusCode::kOutOfRange, "timestamp out of range: '" +
                                                     std::string(s.substr(0, 64)) + "'");
  }
  if (!ReadDigits(s, pos, 4, year) || pos >= s.size() || s[pos++] != '-' ||
      !ReadDigits(s, pos, 2, month) || pos >= s.size() || s[pos++] != '-' ||
      !ReadDigits(s, pos, 2, day) || pos >= s.size() || (s[pos] != 'T' && s[pos] != 't')) {
    return SyntaxError("timestamp", s);
  }
  ++pos;
  if (!ReadDigits(s, pos, 2, hour) || pos >= s.size() || s[pos++] != ':' ||
      !ReadDigits(s, pos, 2, minute) || pos >= s.size() || s[pos++] != ':' ||
      !ReadDigits(s, pos, 2, second)) {
    return SyntaxError("timestamp", s);
  }
  int64_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && IsDigit(s[pos])) {
      if (digits < 9) nanos = nanos * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return SyntaxError("timestamp", s);
    for (int i = digits; i < 9; ++i) nanos *= 10;
  }
  int64_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int sign = s[pos++] == '-' ? -1 : 1;
    int64_t oh = 0, om = 0;
    if (!ReadDigits(s, pos, 2, oh) || pos >= s.size() || s[pos++] != ':' ||
        !ReadDigits(s, pos, 2, om) || oh > 23 || om > 59) {
      return SyntaxError("timestamp", s);
    }
    offset = sign * (oh * 3600 + om * 60);
  } else {
    return SyntaxError("timestamp", s);
  }
  if (pos != s.size()) return SyntaxError("timestamp", s);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) {
    return SyntaxError("timestamp", s);
  }
  if (year == 0) {
    return Value::Error(StatusCode::kOutOfRange, "timestamp out of range: '" + std::string(s) + "'");
  }
  if (day > DaysInMonth(year, static_cast<int>(month))) return SyntaxError("timestamp", s);
  int64_t seconds = DaysFromCivil(year, static_cast<int>(month), static_cast<int>(day)) * 86400 +
                    hour * 3600 + minute * 60 + second - offset;
  return Value::Timestamp(seconds, static_cast<int32_t>(nanos));
}

Value ParseDuration(std::string_view s) {
  std::string_view orig = s;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return Value::Duration(0, 0);
  if (s.empty()) return SyntaxError("duration", orig);
  Int128 total = 0;  // nanoseconds
  const Int128 kLimit = static_cast<Int128>(std::numeric_limits<int64_t>::max()) + 1;
  while (!s.empty()) {
    // Integer part, then an optional fraction, then a unit.
    Int128 whole = 0;
    size_t i = 0;
    bool any = false;
    while (i < s.size() && IsDigit(s[i])) {
      whole = whole * 10 + (s[i] - '0');
      if (whole > kLimit) return Value::Error(StatusCode::kOutOfRange, "duration out of range");
      ++i;
      any = true;
    }
    Int128 frac = 0, scale = 1;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && IsDigit(s[i])) {
        if (scale < static_cast<Int128>(1000000000000000000LL)) {
          frac = frac * 10 + (s[i] - '0');
          scale *= 10;
        }
        ++i;
        any = true;
      }
    }
    if (!any) return SyntaxError("duration", orig);
    size_t u = i;
    while (u < s.size() && !IsDigit(s[u]) && s[u] != '.') ++u;
    std::string_view unit = s.substr(i, u - i);
    int64_t mult;
    if (unit == "ns") mult = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") mult = 1000;
    else if (unit == "ms") mult = 1000000;
    else if (unit == "s") mult = kNanosPerSecond;
    else if (unit == "m") mult = 60 * kNanosPerSecond;
    else if (unit == "h") mult = 3600 * kNanosPerSecond;
    else return SyntaxError("duration", orig);
    total += whole * mult + frac * mult / scale;
    if (total > kLimit) return Value::Error(StatusCode::kOutOfRange, "duration out of range");
    s.remove_prefix(u);
  }
  if (negative) total = -total;
  int64_t secs = static_cast<int64_t>(total / kNanosPerSecond);
  int32_t nanos = static_cast<int32_t>(total % kNanosPerSecond);
  return Value::Duration(secs, nanos);
}

namespace {

std::string Fraction(int32_t nanos) {
  if (nanos == 0) return "";
  char buf[16];
  std::snprintf(buf, sizeof buf, ".%09d", nanos);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  return s;
}

}  // namespace

std::string FormatTimestamp(int64_t seconds, int32_t nanos) {
  CivilTime t = ToCivil(seconds);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02d", static_cast<long long>(t.year),
                t.month, t.day, t.hour, t.minute, t.second);
  return std::string(buf) + Fraction(nanos) + "Z";
}

std::string FormatDuration(int64_t seconds, int32_t nanos) {
  std::string out;
  if (seconds < 0 || nanos < 0) out += '-';
  out += std::to_string(seconds < 0 ? -static_cast<uint64_t>(seconds) : seconds);
  out += Fraction(nanos < 0 ? -nanos : nanos);
  out += 's';
  return out;
}

namespace {

// A zone read from a TZif file: transition instants and the offset in force after each.
struct Zone {
  std::vector<int64_t> transitions;
  std::vector<int32_t> offsets;  // offset after transitions[i]
  int32_t initial_offset = 0;    // before the first transition
};

int64_t ReadBigEndian(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  if (n == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
  return static_cast<int64_t>(v);
}

std::unique_ptr<Zone> ParseTzif(const std::string& data) {
  auto header_ok = [&](size_t at) { return data.size() >= at + 44 && data.compare(at, 4, "TZif") == 0; };
  if (!header_ok(0)) return nullptr;
  auto counts = [&](size_t at, int64_t c[6]) {
    for (int i = 0; i < 6; ++i) {
      c[i] = ReadBigEndian(reinterpret_cast<const unsigned char*>(data.data()) + at + 20 + 4 * i, 4);
      if (c[i] < 0 || c[i] > 100000) return false;
    }
    return true;
  };
  int64_t c[6];  // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
  if (!counts(0, c)) return nullptr;
  size_t at = 44;
  int time_size = 4;
  if (data[4] >= '2') {
    // Skip the version 1 block and read the 64-bit one that follows.
    at += c[3] * 4 + c[3] + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
    if (!header_ok(at) || !counts(at, c)) return nullptr;
    at += 44;
    time_size = 8;
  }
  const size_t need = c[3] * time_size + c[3] + c[4] * 6;
  if (data.size() < at + need || c[4] == 0) return nullptr;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data()) + at;
  auto zone = std::make_unique<Zone>();
  std::vector<int32_t> type_offsets(c[4]);
  const unsigned char* types = p + c[3] * time_size + c[3];
  for (int64_t i = 0; i < c[4]; ++i) type_offsets[i] = static_cast<int32_t>(ReadBigEndian(types + 6 * i, 4));
  zone->initial_offset = type_offsets[0];
  for (int64_t i = 0; i < c[3]; ++i) {
    int64_t t = ReadBigEndian(p + i * time_size, time_size);
    unsigned idx = p[c[3] * time_size + i];
    if (idx >= type_offsets.size()) return nullptr;
    zone->transitions.push_back(t);
    zone->offsets.push_back(type_offsets[idx]);
  }
  return zone;
}

const Zone* LoadZone(std::string_view name) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Zone>, std::less<>>* cache =
      new std::map<std::string, std::unique_ptr<Zone>, std::less<>>();
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache->find(name);
  if (it != cache->end()) return it->second.get();
  std::unique_ptr<Zone> zone;
  // Only canonical names of files under /usr/share/zoneinfo are looked up: no empty, "." or
  // ".." components ("Europe//Berlin" is refused), so every cached entry is a distinct file and
  // the cache is bounded by the zone database. Failures are not cached.
  bool safe = !name.empty() && name.size() < 64 && name.front() != '/' && name.back() != '/' &&
              name.find("//") == std::string_view::npos &&
              name.find("..") == std::string_view::npos && name != "." &&
              name.find("./") == std::string_view::npos && name.find("/.") == std::string_view::npos;
  for (char ch : name) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '/' || ch == '_' || ch == '-' ||
          ch == '+')) {
      safe = false;
    }
  }
  if (safe) {
    std::ifstream in("/usr/share/zoneinfo/" + std::string(name), std::ios::binary);
    if (in) {
      std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      zone = ParseTzif(data);
    }
  }
  if (zone == nullptr) return nullptr;
  const Zone* result = zone.get();
  cache->emplace(std::string(name), std::move(zone));
  return result;
}

}  // namespace

Result<int64_t> TimeZoneOffset(std::string_view tz, int64_t utc_seconds) {
  if (tz == "UTC" || tz == "Z" || tz == "GMT") return int64_t{0};
  if (!tz.empty() && (tz[0] == '+' || tz[0] == '-' || IsDigit(tz[0]))) {
    int sign = tz[0] == '-' ? -1 : 1;
    size_t pos = IsDigit(tz[0]) ? 0 : 1;
    int64_t h = 0, m = 0;
    if (ReadDigits(tz, pos, 2, h) && pos < tz.size() && tz[pos++] == ':' &&
        ReadDigits(tz, pos, 2, m) && pos == tz.size() && h <= 23 && m <= 59) {
      return sign * (h * 3600 + m * 60);
    }
    return InvalidArgument("invalid time zone offset '" + std::string(tz.substr(0, 64)) + "'");
  }
  const Zone* zone = LoadZone(tz);
  if (zone == nullptr) return InvalidArgument("unknown time zone '" + std::string(tz.substr(0, 64)) + "'");
  int64_t offset = zone->initial_offset;
  // Transitions are sorted; take the last one at or before the instant. Past the table's end
  // the last offset stays in force.
  size_t lo = 0, hi = zone->transitions.size();
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (zone->transitions[mid] <= utc_seconds) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0) offset = zone->offsets[lo - 1];
  return offset;
}

}  // namespace sov::policy::cel::internal
