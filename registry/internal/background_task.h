// BackgroundTask: one worker thread that runs one job at a time beside its owner, for the
// two-stage pipelines of uploads (hash here, encrypt + append there) and reads (authenticate and
// decrypt the next chunk while the current one is hashed and sent). The owner starts a job,
// does its own part, and waits for the job's Status before it touches what the job touches.
// The thread starts with the first job. Used by one owning thread at a time.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "common/status.h"

namespace sov::registry::internal {

class BackgroundTask {
 public:
  BackgroundTask() = default;
  ~BackgroundTask();  // waits for the job in flight, then stops the thread
  BackgroundTask(const BackgroundTask&) = delete;
  BackgroundTask& operator=(const BackgroundTask&) = delete;

  // Runs `job` on the worker thread. Waits first for a job still in flight (whose Status is
  // then lost: call Wait to see it).
  void Start(std::function<Status()> job);
  // Waits for the job in flight and returns its Status; OK when there was none.
  Status Wait();
  // Whether a job was started and not yet waited for.
  bool pending() const { return pending_; }

 private:
  void Run();

  std::mutex mutex_;
  std::condition_variable changed_;
  std::function<Status()> job_;  // guarded by mutex_; set while a job is queued or running
  bool busy_ = false;            // guarded by mutex_
  bool stopping_ = false;        // guarded by mutex_
  Status result_;                // guarded by mutex_
  bool pending_ = false;         // owner's thread only
  std::thread worker_;
};

}  // namespace sov::registry::internal
