#include "registry/internal/background_task.h"

#include <utility>

namespace sov::registry::internal {

BackgroundTask::~BackgroundTask() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return !busy_; });
    stopping_ = true;
  }
  changed_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void BackgroundTask::Start(std::function<Status()> job) {
  if (!worker_.joinable()) worker_ = std::thread([this] { Run(); });
  {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return !busy_; });
    job_ = std::move(job);
    busy_ = true;
    result_ = OkStatus();
  }
  pending_ = true;
  changed_.notify_all();
}

Status BackgroundTask::Wait() {
  if (!pending_) return OkStatus();
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return !busy_; });
  pending_ = false;
  return std::move(result_);
}

void BackgroundTask::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    changed_.wait(lock, [this] { return (busy_ && job_) || stopping_; });
    if (!busy_) return;  // stopping with nothing to do
    std::function<Status()> job = std::move(job_);
    job_ = nullptr;
    lock.unlock();
    Status status = job();
    lock.lock();
    result_ = std::move(status);
    busy_ = false;
    changed_.notify_all();
  }
}

}  // namespace sov::registry::internal
