#include "gateway/policy_watcher.h"

namespace sov::gateway {

PolicyFileWatcher::PolicyFileWatcher(PolicyStore& store, std::chrono::milliseconds interval)
    : store_(store), interval_(interval) {
  thread_ = std::thread([this] { Run(); });
}

PolicyFileWatcher::~PolicyFileWatcher() { Stop(); }

void PolicyFileWatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PolicyFileWatcher::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, interval_, [this] { return stopping_; })) {
    lock.unlock();
    Poll();
    lock.lock();
  }
}

void PolicyFileWatcher::Poll() {
  const FileSignature now = StatFileSignature(store_.path());
  if (now == store_.last_seen()) {
    pending_.reset();
    return;
  }
  if (pending_ != now) {
    // Changed since the last look: wait one more interval for the writer to finish.
    pending_ = now;
    return;
  }
  pending_.reset();
  // The outcome (swapped, unchanged, or refused with its diagnostics) is logged by the store.
  (void)store_.Reload("file change");
}

}  // namespace sov::gateway
