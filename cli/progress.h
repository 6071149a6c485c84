// A one-line progress display for long transfers (`sovctl push` hashing and sending, `sovctl
// pull` receiving): bytes done of the total, percent, rate and time left, redrawn in place with
// '\r' at most ten times a second on stderr. It is shown only when stderr is a terminal and the
// user did not pass --no-progress, so piped and scripted runs see nothing of it. FormatProgress
// is the pure part, unit-tested; a ProgressBar is single-threaded.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

namespace sov::cli {

// Returns a byte count for people: "512 B", "1.5 KiB", "512.0 MiB", "1.0 GiB" (powers of 1024).
std::string FormatBytes(uint64_t bytes);

// Returns a duration for people: "2s", "1m05s", "2h03m"; "--" for a negative or absurd one.
std::string FormatDuration(double seconds);

// Returns "  <done> / <total>  <percent>%  <rate> MB/s  ETA <time>", e.g.
// "  512.0 MiB / 1.0 GiB  50%  210.3 MB/s  ETA 3s". The rate (decimal megabytes per second) is
// that of the bytes after `start` (where a resumed transfer began) over `elapsed`; rate and ETA
// read "--" until there is something to measure.
std::string FormatProgress(uint64_t done, uint64_t total, std::chrono::duration<double> elapsed,
                           uint64_t start = 0);

// Returns true when progress should be drawn on `err`: it is the process's stderr, stderr is a
// terminal, and --no-progress was not given.
bool ShouldShowProgress(const std::ostream* err, bool no_progress);

// Draws "<label><FormatProgress...>" on one line of `out` (nullptr: draws nothing).
class ProgressBar {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // `start` is where the transfer begins (bytes already done); `clock` is for tests.
  ProgressBar(std::ostream* out, std::string label, uint64_t total, uint64_t start = 0,
              Clock clock = [] { return std::chrono::steady_clock::now(); });
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Records `done` bytes; redraws when 100 ms passed since the last drawing, or at the end.
  void Update(uint64_t done);
  // Starts counting the rate afresh from `done` (after a reconnection, say) and redraws.
  void Restart(uint64_t done);
  // Erases the line, so that what is printed next starts on a clean line. Idempotent.
  void Finish();

 private:
  void Draw(uint64_t done);

  std::ostream* out_;
  std::string label_;
  uint64_t total_;
  uint64_t start_;
  Clock clock_;
  std::chrono::steady_clock::time_point began_;
  std::chrono::steady_clock::time_point last_draw_{};
  bool drawn_ = false;
  size_t width_ = 0;  // of the line last drawn, to blank what a shorter one leaves
};

}  // namespace sov::cli
