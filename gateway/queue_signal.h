// The job-queue signal: wakes validation workers in other processes (`sovd eval-worker`) as soon
// as the gateway queues a job, instead of at their next poll. The gateway, when
// `validation.external_workers` is set, bumps a small file beside the database
// (QueueSignalPath: `<database>-queue`) after each queued job; each eval-worker watches that file
// with inotify and wakes its idle workers on any change.
//
// A hint, never a source of truth: the workers still poll (`validation.poll_interval`) for what
// no signal announces (a job whose lease ran out, a job queued by a process that did not signal)
// and for file systems where inotify sees no other host's writes (NFS). The file holds a counter
// and nothing else; it is created 0600.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/status.h"

namespace sov::gateway {

// The signal file of the database at `database`.
std::string QueueSignalPath(const std::string& database);

// Bumps the signal file at `path`, creating it when missing; opened afresh each time, so that a
// file replaced meanwhile still reaches its watchers. The error names the path.
Status RaiseQueueSignal(const std::string& path);

// Watches one signal file on a thread of its own and calls `on_raise` after each change
// (several raises close together may make one call). The file is created when missing and
// watched again when it is deleted or replaced.
class QueueSignalWatcher {
 public:
  // Starts watching. UNAVAILABLE naming the path when the file cannot be created or watched
  // (its directory is missing, inotify's watch limit is reached).
  static Result<std::unique_ptr<QueueSignalWatcher>> Start(std::string path,
                                                           std::function<void()> on_raise);
  ~QueueSignalWatcher();  // Stop()
  QueueSignalWatcher(const QueueSignalWatcher&) = delete;
  QueueSignalWatcher& operator=(const QueueSignalWatcher&) = delete;

  // Stops the thread and waits for it; `on_raise` is not called after it returns. Idempotent.
  void Stop();

 private:
  struct State;
  explicit QueueSignalWatcher(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace sov::gateway
