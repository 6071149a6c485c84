#include "cli/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <iterator>

namespace sov::cli {
namespace {

constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

std::string Printf(const char* format, double value, const char* unit) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value, unit);
  return buf;
}

}  // namespace

std::string FormatBytes(uint64_t bytes) {
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes) / 1024.0;
  size_t unit = 0;
  // Rounds as %.1f would, so that 1023.96 KiB reads "1.0 MiB", not "1024.0 KiB".
  while (value >= 1023.95 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  return Printf("%.1f %s", value, kUnits[unit]);
}

std::string FormatDuration(double seconds) {
  if (!(seconds >= 0) || seconds > 100.0 * 24 * 3600) return "--";
  auto total = static_cast<long long>(std::llround(seconds));
  char buf[32];
  if (total < 60) {
    std::snprintf(buf, sizeof buf, "%llds", total);
  } else if (total < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", total / 60, total % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", total / 3600, (total % 3600) / 60);
  }
  return buf;
}

std::string FormatProgress(uint64_t done, uint64_t total, std::chrono::duration<double> elapsed,
                           uint64_t start) {
  std::string out = "  " + FormatBytes(done) + " / " + FormatBytes(total) + "  ";
  const uint64_t percent = total == 0 ? 100 : std::min<uint64_t>(100, done * 100 / total);
  out += std::to_string(percent) + "%  ";
  const double seconds = elapsed.count();
  const double moved = done > start ? static_cast<double>(done - start) : 0.0;
  if (seconds <= 0.0 || moved <= 0.0) {
    out += "-- MB/s  ETA --";
    return out;
  }
  const double rate = moved / seconds;  // bytes per second
  out += Printf("%.1f %s", rate / 1e6, "MB/s");
  out += "  ETA ";
  out += done >= total ? "0s" : FormatDuration(static_cast<double>(total - done) / rate);
  return out;
}

bool ShouldShowProgress(const std::ostream* err, bool no_progress) {
  return !no_progress && err == &std::cerr && ::isatty(STDERR_FILENO) == 1;
}

ProgressBar::ProgressBar(std::ostream* out, std::string label, uint64_t total, uint64_t start,
                         Clock clock)
    : out_(out), label_(std::move(label)), total_(total), start_(start), clock_(std::move(clock)) {
  began_ = clock_();
}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Update(uint64_t done) {
  if (out_ == nullptr) return;
  auto now = clock_();
  if (drawn_ && done < total_ && now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  Draw(done);
}

void ProgressBar::Restart(uint64_t done) {
  start_ = done;
  began_ = clock_();
  if (out_ == nullptr) return;
  last_draw_ = began_;
  Draw(done);
}

void ProgressBar::Draw(uint64_t done) {
  std::string line = label_ + FormatProgress(done, total_, clock_() - began_, start_);
  const size_t width = line.size();
  if (width < width_) line.append(width_ - width, ' ');
  width_ = width;
  *out_ << '\r' << line << std::flush;
  drawn_ = true;
}

void ProgressBar::Finish() {
  if (out_ == nullptr || !drawn_) return;
  *out_ << '\r' << std::string(width_, ' ') << '\r' << std::flush;
  drawn_ = false;
  width_ = 0;
}

}  // namespace sov::cli
