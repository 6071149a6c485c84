#include "cli/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>

#include "common/file.h"

namespace sov::cli {
namespace {

// `message`, then the text of `err`; coded as common/file.cc codes errno values.
Status ErrnoStatus(std::string message, int err) {
  message += ": ";
  message += std::strerror(err);
  if (err == ENOENT) return NotFound(std::move(message));
  if (err == EACCES || err == EPERM) return PermissionDenied(std::move(message));
  if (err == ENOSPC || err == EDQUOT) return ResourceExhausted(std::move(message));
  return Internal(std::move(message));
}

}  // namespace

Status OpenPartFile(std::ofstream& file, const std::string& part) {
  file.open(part, std::ios::binary | std::ios::trunc);
  if (!file) return ErrnoStatus("cannot create " + part, errno);
  return OkStatus();
}

Status CommitPartFile(std::ofstream& file, const std::string& part, const std::string& target) {
  file.flush();
  file.close();
  if (!file) {
    ::unlink(part.c_str());
    return Internal("cannot write " + part);
  }
  // Durable before it replaces anything: fsync the data, rename, fsync the directory. errno is
  // taken before close and unlink can change it.
  int fd = ::open(part.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    ::unlink(part.c_str());
    return ErrnoStatus("cannot fsync " + part, err);
  }
  ::close(fd);
  if (::rename(part.c_str(), target.c_str()) != 0) {
    const int err = errno;
    ::unlink(part.c_str());
    return ErrnoStatus("cannot rename " + part + " to " + target, err);
  }
  std::string dir = std::filesystem::path(target).parent_path().string();
  return SyncDirectory(dir.empty() ? "." : dir);
}

Result<ExportSink> ExportSink::Open(const std::string& target, std::ostream& out) {
  ExportSink sink(target, &out);
  sink.to_stdout_ = target == "-";
  if (!sink.to_stdout_) SOV_RETURN_IF_ERROR(OpenPartFile(sink.file_, target + ".part"));
  return sink;
}

Status ExportSink::Commit() {
  if (!to_stdout_) return CommitPartFile(file_, target_ + ".part", target_);
  out_->flush();
  return OkStatus();
}

void ExportSink::Abandon() {
  if (to_stdout_) return;
  file_.close();
  ::unlink((target_ + ".part").c_str());
}

}  // namespace sov::cli
