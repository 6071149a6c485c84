#include "gateway/queue_signal.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <utility>

#include "gateway/log.h"

namespace sov::gateway {
namespace {

constexpr uint32_t kChangeEvents = IN_MODIFY | IN_ATTRIB;
constexpr uint32_t kLossEvents = IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED;
// How often a watcher whose file vanished and could not be watched again tries once more.
constexpr int kRewatchMs = 1000;

Status ErrnoError(const std::string& what, const std::string& path, int err) {
  return Unavailable(what + " " + path + ": " + std::strerror(err));
}

// Creates the file when missing (0600); never truncates it.
Status Touch(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("cannot create the job-queue signal file", path, errno);
  ::close(fd);
  return OkStatus();
}

}  // namespace

std::string QueueSignalPath(const std::string& database) { return database + "-queue"; }

Status RaiseQueueSignal(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("cannot open the job-queue signal file", path, errno);
  // Any write is a change to the watchers; the value only keeps the file's content meaningful.
  const int64_t now = std::chrono::system_clock::now().time_since_epoch().count();
  ssize_t written = ::pwrite(fd, &now, sizeof now, 0);
  const int err = errno;
  ::close(fd);
  if (written != static_cast<ssize_t>(sizeof now)) {
    return ErrnoError("cannot write the job-queue signal file", path, written < 0 ? err : EIO);
  }
  return OkStatus();
}

struct QueueSignalWatcher::State {
  std::string path;
  std::function<void()> on_raise;
  int inotify = -1;
  int stop = -1;  // an eventfd: readable once Stop was called
  int watch = -1;
  std::thread thread;

  ~State() {
    if (inotify >= 0) ::close(inotify);
    if (stop >= 0) ::close(stop);
  }

  Status Watch() {
    SOV_RETURN_IF_ERROR(Touch(path));
    watch = ::inotify_add_watch(inotify, path.c_str(), kChangeEvents | IN_DELETE_SELF |
                                                            IN_MOVE_SELF);
    if (watch < 0) return ErrnoError("cannot watch the job-queue signal file", path, errno);
    return OkStatus();
  }

  // Reads every queued event; sets `changed` and `lost` from their masks.
  void Drain(bool& changed, bool& lost) {
    alignas(inotify_event) char buffer[4096];
    for (;;) {
      ssize_t n = ::read(inotify, buffer, sizeof buffer);
      if (n <= 0) return;  // EAGAIN: drained
      for (ssize_t at = 0; at < n;) {
        inotify_event event;
        std::memcpy(&event, buffer + at, sizeof event);
        if (event.wd == watch) {
          if ((event.mask & kChangeEvents) != 0) changed = true;
          if ((event.mask & kLossEvents) != 0) lost = true;
        }
        at += static_cast<ssize_t>(sizeof(inotify_event) + event.len);
      }
    }
  }

  void Loop() {
    bool warned = false;
    for (;;) {
      pollfd fds[2] = {{inotify, POLLIN, 0}, {stop, POLLIN, 0}};
      int ready = ::poll(fds, 2, watch >= 0 ? -1 : kRewatchMs);
      if (ready < 0 && errno == EINTR) continue;
      if (fds[1].revents != 0) return;
      bool changed = false;
      bool lost = false;
      if ((fds[0].revents & POLLIN) != 0) Drain(changed, lost);
      if (lost) {
        if (watch >= 0) (void)::inotify_rm_watch(inotify, watch);  // gone already, usually
        watch = -1;
      }
      if (watch < 0) {
        if (Status st = Watch(); st.ok()) {
          changed = true;  // a raise may have gone to the file that was replaced
          warned = false;
        } else if (!warned) {
          LogEvent(*ModuleLogger("gateway"), spdlog::level::warn,
                   "job-queue signal file lost; idle workers poll until it is back",
                   {{"error", st.message()}});
          warned = true;
        }
      }
      if (changed) on_raise();
    }
  }
};

Result<std::unique_ptr<QueueSignalWatcher>> QueueSignalWatcher::Start(
    std::string path, std::function<void()> on_raise) {
  auto state = std::make_unique<State>();
  state->path = std::move(path);
  state->on_raise = std::move(on_raise);
  state->inotify = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (state->inotify < 0) {
    return ErrnoError("cannot watch the job-queue signal file", state->path, errno);
  }
  state->stop = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (state->stop < 0) {
    return ErrnoError("cannot watch the job-queue signal file", state->path, errno);
  }
  SOV_RETURN_IF_ERROR(state->Watch());
  State* raw = state.get();
  state->thread = std::thread([raw] { raw->Loop(); });
  return std::unique_ptr<QueueSignalWatcher>(new QueueSignalWatcher(std::move(state)));
}

QueueSignalWatcher::QueueSignalWatcher(std::unique_ptr<State> state) : state_(std::move(state)) {}

QueueSignalWatcher::~QueueSignalWatcher() { Stop(); }

void QueueSignalWatcher::Stop() {
  if (!state_->thread.joinable()) return;
  const uint64_t one = 1;
  (void)!::write(state_->stop, &one, sizeof one);
  state_->thread.join();
}

}  // namespace sov::gateway
