// PolicyFileWatcher: reloads sovd's policy when its file changes, without a SIGHUP. A thread of
// its own stat()s the file every `interval` and compares what it sees (device, inode, size,
// mtime, ctime, following symlinks) with what the PolicyStore saw at its last load or reload
// attempt. When they differ and the file then stays the same for one more interval (so that a
// file still being written is not read half-way), it calls PolicyStore::Reload("file change"),
// which swaps in a good file or logs a bad one and keeps the policy in force.
//
// Polling rather than inotify, deliberately: stat() follows symlinks, so it sees a Kubernetes
// ConfigMap update (a `..data` symlink swapped in the directory) and a file replaced by rename
// (as vim, emacs and `mv` do) as naturally as an in-place write; it works on NFS and other file
// systems where inotify reports nothing; it survives the directory being replaced; and it holds
// no descriptor. The price is up to two intervals of latency and a stat per interval. A change
// that keeps size, inode and both timestamps (two writes within the kernel's timestamp tick) can
// be missed; SIGHUP always reloads. Start/Stop from one owning thread; the store is thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "gateway/policy_store.h"

namespace sov::gateway {

// The default interval between two looks at the policy file.
inline constexpr std::chrono::milliseconds kPolicyPollInterval{500};

class PolicyFileWatcher {
 public:
  // Starts watching `store`'s file every `interval` (> 0). `store` must outlive the watcher.
  PolicyFileWatcher(PolicyStore& store, std::chrono::milliseconds interval);
  ~PolicyFileWatcher();  // Stop()
  PolicyFileWatcher(const PolicyFileWatcher&) = delete;
  PolicyFileWatcher& operator=(const PolicyFileWatcher&) = delete;

  // Stops the thread and waits for it (a reload in progress finishes first). Idempotent.
  void Stop();

 private:
  void Run();
  // One look at the file; reloads when it changed and has settled.
  void Poll();

  PolicyStore& store_;
  const std::chrono::milliseconds interval_;
  std::optional<FileSignature> pending_;  // a change seen once, waiting to settle; thread_ only
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // SOV_GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace sov::gateway
