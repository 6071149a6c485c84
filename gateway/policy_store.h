// PolicyStore: the policy in force in sovd, and how it is replaced. It loads the policy file the
// config names (sov::policy, docs/policy.md) at start and re-reads it on request (SIGHUP, or the
// PolicyFileWatcher seeing the file change). A new file that does not compile is refused: every
// diagnostic is logged with FILE:LINE:COL and the policy in force stays. A good one is swapped in
// atomically; a call that already took the old policy (Current) keeps it until it finishes,
// because it holds a shared_ptr to it. Current is lock-free-ish (an atomic shared_ptr load) and
// may be called from any number of threads; Reload may be called from several threads too and
// serialises itself.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/status.h"
#include "policy/policy.h"

namespace sov::gateway {

// What stat(2) says about a file, following symlinks: any difference means the file may have
// new content (rewritten in place, replaced by rename, a symlink retargeted, deleted).
struct FileSignature {
  bool exists = false;
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  friend bool operator==(const FileSignature&, const FileSignature&) = default;
};

// Returns the signature of `path` (exists == false when stat fails).
FileSignature StatFileSignature(const std::string& path);

// What a successful Reload did.
enum class ReloadOutcome { kSwapped, kUnchanged };

// A policy version coming into force, or a reload refused; for the audit log.
struct PolicyEvent {
  std::string trigger;      // "SIGHUP", "file change"
  bool refused = false;     // true: the file did not load and the policy in force stays
  std::string file;
  std::string old_digest;   // the policy in force before
  std::string new_digest;   // the policy in force after (old_digest when refused)
  std::string name;         // of the policy in force after
  std::string error;        // when refused: the first diagnostic, and how many there were
};

class PolicyStore {
 public:
  // Reads and compiles the policy file at `path` (logging nothing). Errors: the read error
  // (NOT_FOUND for a missing file, naming the path), or INVALID_ARGUMENT whose message is every
  // diagnostic, one per line, "FILE:LINE:COL: error: MESSAGE (hint: ...)".
  static Result<std::unique_ptr<PolicyStore>> Load(const std::string& path);

  PolicyStore(const PolicyStore&) = delete;
  PolicyStore& operator=(const PolicyStore&) = delete;

  // Returns the policy in force. The caller's copy stays valid (and unchanged) whatever
  // reloads happen meanwhile. Never null.
  std::shared_ptr<const policy::Policy> Current() const;

  // Re-reads the file. When it compiles and its digest differs from the policy in force, swaps
  // it in and logs "policy reloaded" (old and new digests): kSwapped. Same digest: kUnchanged
  // ("policy unchanged"). When it does not read or compile, logs "policy reload refused" and
  // each diagnostic with FILE:LINE:COL, keeps the policy in force, and returns the error as Load
  // does. `trigger` says what asked ("SIGHUP", "file change") in the log lines.
  Result<ReloadOutcome> Reload(std::string_view trigger);

  // Called (under the reload lock, on the reloading thread) after every reload that swapped a
  // new policy in or was refused; not for an unchanged file. Set it before reloads can happen.
  void SetObserver(std::function<void(const PolicyEvent&)> observer);

  // The file's signature as of the last load or reload attempt, good or bad; the watcher
  // compares it with the file's present one.
  FileSignature last_seen() const;

  const std::string& path() const { return path_; }

 private:
  PolicyStore(std::string path, std::shared_ptr<const policy::Policy> policy,
              FileSignature seen);

  const std::string path_;
  std::atomic<std::shared_ptr<const policy::Policy>> current_;
  mutable std::mutex reload_mu_;  // serialises Reload; guards seen_
  FileSignature seen_;            // SOV_GUARDED_BY(reload_mu_)
  std::function<void(const PolicyEvent&)> observer_;  // SOV_GUARDED_BY(reload_mu_)
};

}  // namespace sov::gateway
