#include "gateway/policy_store.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "common/file.h"
#include "gateway/log.h"

namespace sov::gateway {
namespace {

struct ReadOutcome {
  std::optional<policy::Policy> policy;
  Status error;                              // set when policy is empty
  std::vector<policy::Diagnostic> diagnostics;  // compile errors; empty for a read error
};

// The signature is taken before the read: if the file changes during the read, the next look
// at it sees a difference and reads it again, rather than missing the change.
ReadOutcome ReadPolicy(const std::string& path, FileSignature* signature) {
  ReadOutcome out;
  *signature = StatFileSignature(path);
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) {
    out.error = text.status();
    return out;
  }
  policy::PolicyCheck check = policy::Policy::Check(*text, path);
  if (check.policy.has_value()) {
    out.policy = std::move(check.policy);
    return out;
  }
  std::string message;
  for (const policy::Diagnostic& d : check.diagnostics) {
    if (!message.empty()) message += "\n";
    message += d.ToString();
  }
  if (message.empty()) message = path + ": error: the policy did not compile";
  out.error = InvalidArgument(std::move(message));
  out.diagnostics = std::move(check.diagnostics);
  return out;
}

int64_t Nanoseconds(const timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

}  // namespace

FileSignature StatFileSignature(const std::string& path) {
  struct stat st {};
  FileSignature signature;
  if (::stat(path.c_str(), &st) != 0) return signature;
  signature.exists = true;
  signature.device = st.st_dev;
  signature.inode = st.st_ino;
  signature.size = st.st_size;
  signature.mtime_ns = Nanoseconds(st.st_mtim);
  signature.ctime_ns = Nanoseconds(st.st_ctim);
  return signature;
}

Result<std::unique_ptr<PolicyStore>> PolicyStore::Load(const std::string& path) {
  FileSignature seen;
  ReadOutcome read = ReadPolicy(path, &seen);
  if (!read.policy.has_value()) return read.error;
  return std::unique_ptr<PolicyStore>(new PolicyStore(
      path, std::make_shared<const policy::Policy>(std::move(*read.policy)), seen));
}

PolicyStore::PolicyStore(std::string path, std::shared_ptr<const policy::Policy> policy,
                         FileSignature seen)
    : path_(std::move(path)), current_(std::move(policy)), seen_(seen) {}

std::shared_ptr<const policy::Policy> PolicyStore::Current() const {
  return current_.load(std::memory_order_acquire);
}

FileSignature PolicyStore::last_seen() const {
  std::lock_guard<std::mutex> lock(reload_mu_);
  return seen_;
}

void PolicyStore::SetObserver(std::function<void(const PolicyEvent&)> observer) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  observer_ = std::move(observer);
}

Result<ReloadOutcome> PolicyStore::Reload(std::string_view trigger) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  auto& logger = *ModuleLogger("policy");
  std::shared_ptr<const policy::Policy> old = Current();
  ReadOutcome read = ReadPolicy(path_, &seen_);
  if (!read.policy.has_value()) {
    LogEvent(logger, spdlog::level::err,
             "policy reload refused; the policy in force stays",
             {{"trigger", trigger},
              {"file", path_},
              {"errors", std::to_string(std::max<size_t>(read.diagnostics.size(), 1))},
              {"in_force", old->digest()}});
    if (read.diagnostics.empty()) {
      LogEvent(logger, spdlog::level::err, "policy error",
               {{"error", path_ + ": error: " + read.error.message()}});
    }
    for (const policy::Diagnostic& d : read.diagnostics) {
      LogEvent(logger, spdlog::level::err, "policy error", {{"error", d.ToString()}});
    }
    if (observer_) {
      PolicyEvent event;
      event.trigger = std::string(trigger);
      event.refused = true;
      event.file = path_;
      event.old_digest = old->digest();
      event.new_digest = old->digest();
      event.name = old->name();
      event.error = read.diagnostics.empty() ? read.error.message()
                                             : read.diagnostics.front().ToString() + " (" +
                                                   std::to_string(read.diagnostics.size()) +
                                                   " error(s))";
      observer_(event);
    }
    return read.error;
  }
  if (read.policy->digest() == old->digest()) {
    LogEvent(logger, spdlog::level::info, "policy unchanged",
             {{"trigger", trigger}, {"file", path_}, {"digest", old->digest()}});
    return ReloadOutcome::kUnchanged;
  }
  auto fresh = std::make_shared<const policy::Policy>(std::move(*read.policy));
  current_.store(fresh, std::memory_order_release);
  LogEvent(logger, spdlog::level::info, "policy reloaded",
           {{"trigger", trigger},
            {"file", path_},
            {"name", fresh->name()},
            {"old_digest", old->digest()},
            {"new_digest", fresh->digest()},
            {"rules", std::to_string(fresh->rules().size())}});
  if (observer_) {
    PolicyEvent event;
    event.trigger = std::string(trigger);
    event.file = path_;
    event.old_digest = old->digest();
    event.new_digest = fresh->digest();
    event.name = fresh->name();
    observer_(event);
  }
  return ReloadOutcome::kSwapped;
}

}  // namespace sov::gateway
