#include "gateway/queue_signal.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "tests/testing/temp_dir.h"

namespace sov::gateway {
namespace {

using namespace std::chrono_literals;

// Counts the watcher's calls and lets a test wait for the next one.
class Raises {
 public:
  void Count() {
    std::lock_guard<std::mutex> lock(mu_);
    ++count_;
    cv_.notify_all();
  }
  // True once more than `seen` calls happened, within a generous bound (the call comes within
  // milliseconds; the bound only keeps a broken watcher from hanging the test).
  bool WaitBeyond(int seen) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 20s, [&] { return count_ > seen; });
  }
  int count() {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

TEST(QueueSignalTest, PathSitsBesideTheDatabase) {
  EXPECT_EQ(QueueSignalPath("/var/lib/sov/registry.db"), "/var/lib/sov/registry.db-queue");
}

TEST(QueueSignalTest, WatcherCreatesThePrivateFileAndSeesEachRaise) {
  // The watcher may start before any gateway raised: it creates the file, 0600. Every raise
  // (by another opener of the file, as another process would be) reaches it.
  testing::TempDir dir;
  const std::string path = dir.Join("registry.db-queue");
  Raises raises;
  auto watcher = QueueSignalWatcher::Start(path, [&] { raises.Count(); });
  ASSERT_TRUE(watcher.ok()) << watcher.status().ToString();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(raises.count(), 0);

  for (int i = 0; i < 3; ++i) {
    const int seen = raises.count();
    ASSERT_TRUE(RaiseQueueSignal(path).ok());
    ASSERT_TRUE(raises.WaitBeyond(seen)) << "raise " << i << " was not seen";
  }
  (*watcher)->Stop();
  const int stopped_at = raises.count();
  ASSERT_TRUE(RaiseQueueSignal(path).ok());
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(raises.count(), stopped_at) << "called after Stop";
  (*watcher)->Stop();  // idempotent
}

TEST(QueueSignalTest, RaiserCreatesTheFileWhenMissing) {
  testing::TempDir dir;
  const std::string path = dir.Join("registry.db-queue");
  ASSERT_TRUE(RaiseQueueSignal(path).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(QueueSignalTest, WatcherFollowsADeletedOrReplacedFile) {
  // Deleted (an operator cleaning up) or replaced by rename (a restore): the watcher watches
  // the file at the path again and still sees raises there.
  testing::TempDir dir;
  const std::string path = dir.Join("registry.db-queue");
  Raises raises;
  auto watcher = QueueSignalWatcher::Start(path, [&] { raises.Count(); });
  ASSERT_TRUE(watcher.ok()) << watcher.status().ToString();

  ASSERT_EQ(::unlink(path.c_str()), 0);
  // Losing the file counts as a raise (one may have gone to the old file); wait for the watch
  // on the new one, which the watcher creates.
  ASSERT_TRUE(raises.WaitBeyond(0));
  int seen = raises.count();
  ASSERT_TRUE(RaiseQueueSignal(path).ok());
  EXPECT_TRUE(raises.WaitBeyond(seen)) << "a raise after the delete was not seen";

  const std::string other = dir.Join("restored");
  testing::WriteTextFile(other, "x", 0600);
  seen = raises.count();
  ASSERT_EQ(std::rename(other.c_str(), path.c_str()), 0);
  ASSERT_TRUE(raises.WaitBeyond(seen));
  seen = raises.count();
  ASSERT_TRUE(RaiseQueueSignal(path).ok());
  EXPECT_TRUE(raises.WaitBeyond(seen)) << "a raise after the replacement was not seen";
}

TEST(QueueSignalTest, MissingDirectoryIsAnErrorNamingThePath) {
  testing::TempDir dir;
  const std::string path = dir.Join("no-such-dir/registry.db-queue");
  auto watcher = QueueSignalWatcher::Start(path, [] {});
  ASSERT_FALSE(watcher.ok());
  EXPECT_EQ(watcher.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(watcher.status().message().find(path), std::string::npos)
      << watcher.status().ToString();
  Status raised = RaiseQueueSignal(path);
  EXPECT_EQ(raised.code(), StatusCode::kUnavailable);
  EXPECT_NE(raised.message().find(path), std::string::npos) << raised.ToString();
}

}  // namespace
}  // namespace sov::gateway
