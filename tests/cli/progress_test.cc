// Shows the progress line of push and pull: byte counts, rate and ETA formatting, and a bar that redraws at most ten times a second and erases itself.
#include "cli/progress.h"

#include <sstream>

#include <gtest/gtest.h>

namespace sov::cli {
namespace {

using std::chrono::duration;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kGiB = 1024 * kMiB;

// Sizes use powers of 1024 with one decimal; bytes below 1 KiB are counted exactly.
TEST(FormatBytes, BinaryUnits) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(1023), "1023 B");
  EXPECT_EQ(FormatBytes(1024), "1.0 KiB");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(512 * kMiB), "512.0 MiB");
  EXPECT_EQ(FormatBytes(kMiB - 1), "1.0 MiB");  // not "1024.0 KiB"
  EXPECT_EQ(FormatBytes(kGiB), "1.0 GiB");
  EXPECT_EQ(FormatBytes(3 * kGiB / 2), "1.5 GiB");
  EXPECT_EQ(FormatBytes(1024 * kGiB), "1.0 TiB");
}

// Durations read as seconds, then minutes and seconds, then hours and minutes.
TEST(FormatDuration, Units) {
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(2.4), "2s");
  EXPECT_EQ(FormatDuration(59.6), "1m00s");
  EXPECT_EQ(FormatDuration(65), "1m05s");
  EXPECT_EQ(FormatDuration(2 * 3600 + 3 * 60 + 10), "2h03m");
  EXPECT_EQ(FormatDuration(-1), "--");
  EXPECT_EQ(FormatDuration(1e12), "--");
}

// Halfway through a gigabyte at 210.3 MB/s: sizes, percent, rate and time left.
TEST(FormatProgress, HalfwayLine) {
  // 512 MiB in 2.553 s is 210.3 MB/s; the other 512 MiB take as long again.
  EXPECT_EQ(FormatProgress(512 * kMiB, kGiB, duration<double>(2.553)),
            "  512.0 MiB / 1.0 GiB  50%  210.3 MB/s  ETA 3s");
}

// Before anything is measured the rate and ETA read "--"; at the end the ETA is 0s.
TEST(FormatProgress, StartAndEnd) {
  EXPECT_EQ(FormatProgress(0, kGiB, duration<double>(0)), "  0 B / 1.0 GiB  0%  -- MB/s  ETA --");
  EXPECT_EQ(FormatProgress(kGiB, kGiB, duration<double>(10)),
            "  1.0 GiB / 1.0 GiB  100%  107.4 MB/s  ETA 0s");
  EXPECT_EQ(FormatProgress(0, 0, duration<double>(1)), "  0 B / 0 B  100%  -- MB/s  ETA --");
}

// A resumed transfer's rate counts only the bytes moved since it resumed.
TEST(FormatProgress, ResumedRateCountsNewBytesOnly) {
  EXPECT_EQ(FormatProgress(768 * kMiB, kGiB, duration<double>(2), 512 * kMiB),
            "  768.0 MiB / 1.0 GiB  75%  134.2 MB/s  ETA 2s");
}

// A fake clock that the test moves by hand.
struct FakeClock {
  steady_clock::time_point now{};
  ProgressBar::Clock fn() {
    return [this] { return now; };
  }
};

// The bar redraws in place with '\r' at most every 100 ms, always at the end, and erases itself.
TEST(ProgressBar, ThrottlesAndErases) {
  std::ostringstream out;
  FakeClock clock;
  std::string finished;
  {
    ProgressBar bar(&out, "pushing", 100, 0, clock.fn());
    bar.Update(10);  // first drawing
    const std::string first = out.str();
    EXPECT_EQ(first.front(), '\r');
    EXPECT_NE(first.find("pushing  10 B / 100 B  10%"), std::string::npos) << first;
    clock.now += milliseconds(50);
    bar.Update(20);  // too soon
    EXPECT_EQ(out.str(), first);
    clock.now += milliseconds(60);
    bar.Update(30);  // 110 ms after the first
    EXPECT_NE(out.str().find("30 B / 100 B  30%"), std::string::npos);
    bar.Update(100);  // the end is always drawn
    EXPECT_NE(out.str().find("100 B / 100 B  100%"), std::string::npos);
    bar.Finish();
    const std::string text = out.str();
    // Erased: the last thing written is '\r', spaces, '\r'.
    EXPECT_EQ(text.back(), '\r');
    const size_t blank = text.rfind('\r', text.size() - 2);
    EXPECT_EQ(text.substr(blank + 1, text.size() - blank - 2).find_first_not_of(' '),
              std::string::npos);
    finished = text;
  }
  // Finish is idempotent: the destructor adds nothing.
  EXPECT_EQ(out.str(), finished);
}

// Without a stream the bar draws nothing at all.
TEST(ProgressBar, DisabledDrawsNothing) {
  ProgressBar bar(nullptr, "pulling", 100);
  bar.Update(50);
  bar.Finish();
  SUCCEED();
}

// Progress is never shown on a stream other than the process's stderr, nor with --no-progress.
TEST(ShouldShowProgress, OnlyStderrTerminal) {
  std::ostringstream not_stderr;
  EXPECT_FALSE(ShouldShowProgress(&not_stderr, false));
  EXPECT_FALSE(ShouldShowProgress(&std::cerr, true));
}

}  // namespace
}  // namespace sov::cli
