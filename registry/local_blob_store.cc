#include "registry/local_blob_store.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"

namespace sov::registry {
namespace {

constexpr size_t kMaxIdLength = 128;
constexpr size_t kBufferBytes = size_t{4} << 20;
// Appends at least this large go straight to the file when nothing is buffered: no copy.
constexpr size_t kDirectWriteBytes = size_t{256} << 10;
constexpr std::string_view kStagingSuffix = ".part";
constexpr std::string_view kBlobSuffix = ".blob";

Status ErrnoStatus(std::string_view what, const std::string& path, int err) {
  std::string message = std::string(what) + " " + path + ": " + std::strerror(err);
  if (err == ENOENT) return NotFound(std::move(message));
  if (err == EACCES || err == EPERM) return PermissionDenied(std::move(message));
  if (err == ENOSPC || err == EDQUOT) return ResourceExhausted(std::move(message));
  if (err == EEXIST) return AlreadyExists(std::move(message));
  return Internal(std::move(message));
}

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}
bool IsValidId(std::string_view id) {
  return !id.empty() && id.size() <= kMaxIdLength && std::all_of(id.begin(), id.end(), IsIdChar);
}
Status CheckId(std::string_view what, std::string_view id) {
  if (IsValidId(id)) return OkStatus();
  std::string shown(id.substr(0, 64));
  if (id.size() > 64) shown += "...";
  return InvalidArgument("invalid " + std::string(what) + " '" + shown +
                         "': 1 to 128 characters of [A-Za-z0-9_-] are allowed");
}

std::string StagingDir(const std::string& dir) { return dir + "/staging"; }
std::string BlobsDir(const std::string& dir) { return dir + "/blobs"; }
std::string StagingPath(const std::string& dir, const std::string& upload_id) {
  return StagingDir(dir) + "/" + upload_id + std::string(kStagingSuffix);
}
std::string FanOutDir(const std::string& dir, const std::string& blob_id) {
  return BlobsDir(dir) + "/" + blob_id.substr(0, 2);
}
std::string BlobPath(const std::string& dir, const std::string& blob_id) {
  return FanOutDir(dir, blob_id) + "/" + blob_id + std::string(kBlobSuffix);
}

Status FsyncPath(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus("cannot fsync", path, err);
  return OkStatus();
}

// Lists the names in `dir` that end with `suffix` and whose stem is a valid id; other entries
// (temporary files, stray names) are not ours to report.
Status ListIds(const std::string& dir, std::string_view suffix, std::vector<std::string>& out) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOTDIR) return OkStatus();  // a stray file where a fan-out directory would be
    return ErrnoStatus("cannot open directory", dir, errno);
  }
  errno = 0;
  while (dirent* entry = ::readdir(d)) {
    std::string_view name = entry->d_name;
    if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix) {
      std::string_view stem = name.substr(0, name.size() - suffix.size());
      if (IsValidId(stem)) out.emplace_back(stem);
    }
    errno = 0;
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return ErrnoStatus("cannot read directory", dir, err);
  return OkStatus();
}

class LocalBlobAppender final : public BlobAppender {
 public:
  LocalBlobAppender(int fd, std::string path, uint64_t size)
      : fd_(fd), path_(std::move(path)), written_(size) {}
  ~LocalBlobAppender() override {
    // Unsynced bytes were never promised durable, but a later Publish fsyncs the file, so
    // they must at least reach it. A failure here surfaces as a short blob at Publish.
    (void)Flush();
    ::close(fd_);
  }
  LocalBlobAppender(const LocalBlobAppender&) = delete;
  LocalBlobAppender& operator=(const LocalBlobAppender&) = delete;

  Status Append(std::string_view bytes) override {
    SOV_RETURN_IF_ERROR(sticky_);
    if (buffer_.empty() && bytes.size() >= kDirectWriteBytes) return Write(bytes);
    if (buffer_.size() + bytes.size() > kBufferBytes) {
      SOV_RETURN_IF_ERROR(Flush());
      if (bytes.size() >= kDirectWriteBytes) return Write(bytes);
    }
    if (buffer_.capacity() < kBufferBytes) buffer_.reserve(kBufferBytes);
    buffer_.append(bytes);
    return OkStatus();
  }

  Status Sync() override {
    SOV_RETURN_IF_ERROR(Flush());
    if (::fdatasync(fd_) != 0) {
      // After a failed fsync the page cache state is unknown (the "fsyncgate" lesson): never
      // retry as if nothing happened; the upload resumes from its last durable point.
      sticky_ = ErrnoStatus("cannot fdatasync", path_, errno);
      return sticky_;
    }
    return OkStatus();
  }

  uint64_t size() const override { return written_ + buffer_.size(); }

 private:
  Status Flush() {
    if (buffer_.empty()) return sticky_;
    Status st = Write(buffer_);
    buffer_.clear();
    return st;
  }

  Status Write(std::string_view bytes) {
    SOV_RETURN_IF_ERROR(sticky_);
    while (!bytes.empty()) {
      ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        sticky_ = ErrnoStatus("cannot write", path_, errno);
        return sticky_;
      }
      bytes.remove_prefix(static_cast<size_t>(n));
      written_ += static_cast<uint64_t>(n);
    }
    return OkStatus();
  }

  int fd_;
  std::string path_;
  uint64_t written_;    // bytes in the file
  std::string buffer_;  // bytes after them, not yet written
  Status sticky_;       // the first write or sync error; every later call returns it
};

class LocalBlobReader final : public BlobReader {
 public:
  LocalBlobReader(int fd, std::string path, uint64_t size)
      : fd_(fd), path_(std::move(path)), size_(size) {}
  ~LocalBlobReader() override { ::close(fd_); }
  LocalBlobReader(const LocalBlobReader&) = delete;
  LocalBlobReader& operator=(const LocalBlobReader&) = delete;

  Status ReadAt(uint64_t offset, size_t length, std::string& out) override {
    out.resize(length);
    size_t done = 0;
    while (done < length) {
      ssize_t n = ::pread(fd_, out.data() + done, length - done,
                          static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("cannot read", path_, errno);
      }
      if (n == 0) {
        return DataLoss("blob " + path_ + " is shorter than expected: wanted " +
                        std::to_string(length) + " bytes at offset " + std::to_string(offset) +
                        ", got " + std::to_string(done));
      }
      done += static_cast<size_t>(n);
    }
    return OkStatus();
  }

  uint64_t size() const override { return size_; }

 private:
  int fd_;
  std::string path_;
  uint64_t size_;
};

}  // namespace

LocalBlobStore::LocalBlobStore(std::vector<LocalBlobLocation> locations)
    : locations_(std::move(locations)) {}

Result<std::unique_ptr<LocalBlobStore>> LocalBlobStore::Create(
    std::vector<LocalBlobLocation> locations) {
  std::set<std::string> seen;
  for (const LocalBlobLocation& location : locations) {
    if (location.name.empty()) return InvalidArgument("a blob storage location has no name");
    if (location.directory.empty()) {
      return InvalidArgument("blob storage location '" + location.name + "' has no directory");
    }
    if (!seen.insert(location.name).second) {
      return InvalidArgument("blob storage location '" + location.name + "' is configured twice");
    }
    for (const std::string& dir : {StagingDir(location.directory), BlobsDir(location.directory)}) {
      struct stat st;
      bool existed = ::stat(dir.c_str(), &st) == 0;
      SOV_RETURN_IF_ERROR(MakeDirectories(dir, 0700));
      if (!existed) SOV_RETURN_IF_ERROR(SyncDirectory(location.directory));
    }
  }
  return std::unique_ptr<LocalBlobStore>(new LocalBlobStore(std::move(locations)));
}

Result<std::string> LocalBlobStore::DirectoryOf(const std::string& location) const {
  for (const LocalBlobLocation& l : locations_) {
    if (l.name == location) return l.directory;
  }
  return NotFound("unknown storage location '" + location + "'");
}

std::vector<std::string> LocalBlobStore::Locations() const {
  std::vector<std::string> names;
  for (const LocalBlobLocation& l : locations_) names.push_back(l.name);
  return names;
}

Result<std::unique_ptr<BlobAppender>> LocalBlobStore::OpenStaging(const std::string& location,
                                                                  const std::string& upload_id,
                                                                  uint64_t keep_bytes) {
  SOV_RETURN_IF_ERROR(CheckId("upload id", upload_id));
  SOV_ASSIGN_OR_RETURN(std::string dir, DirectoryOf(location));
  std::string path = StagingPath(dir, upload_id);

  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    if (keep_bytes != 0) {
      return DataLoss("staging object of upload " + upload_id + " is gone (" + path +
                      "), but " + std::to_string(keep_bytes) + " bytes were durable");
    }
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoStatus("cannot create", path, errno);
    // The new name must be durable before any data synced into the file can matter.
    if (Status st = SyncDirectory(StagingDir(dir)); !st.ok()) {
      ::close(fd);
      return st;
    }
    return std::unique_ptr<BlobAppender>(new LocalBlobAppender(fd, std::move(path), 0));
  }
  if (fd < 0) return ErrnoStatus("cannot open", path, errno);

  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus("cannot stat", path, err);
  }
  if (static_cast<uint64_t>(st.st_size) < keep_bytes) {
    ::close(fd);
    return DataLoss("staging object of upload " + upload_id + " has " +
                    std::to_string(st.st_size) + " bytes, fewer than the " +
                    std::to_string(keep_bytes) + " recorded as durable");
  }
  if (static_cast<uint64_t>(st.st_size) != keep_bytes) {
    if (::ftruncate(fd, static_cast<off_t>(keep_bytes)) != 0) {
      int err = errno;
      ::close(fd);
      return ErrnoStatus("cannot truncate", path, err);
    }
  }
  if (::lseek(fd, static_cast<off_t>(keep_bytes), SEEK_SET) < 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus("cannot seek", path, err);
  }
  return std::unique_ptr<BlobAppender>(new LocalBlobAppender(fd, std::move(path), keep_bytes));
}

Status LocalBlobStore::Publish(const std::string& location, const std::string& upload_id,
                               const std::string& blob_id) {
  SOV_RETURN_IF_ERROR(CheckId("upload id", upload_id));
  SOV_RETURN_IF_ERROR(CheckId("blob id", blob_id));
  SOV_ASSIGN_OR_RETURN(std::string dir, DirectoryOf(location));
  std::string staging = StagingPath(dir, upload_id);
  std::string fan_out = FanOutDir(dir, blob_id);
  std::string blob = BlobPath(dir, blob_id);

  Status synced = FsyncPath(staging);
  if (synced.code() == StatusCode::kNotFound) {
    // A retry after a crash between the rename and the caller's commit finds the work done.
    struct stat st;
    if (::stat(blob.c_str(), &st) == 0) {
      SOV_RETURN_IF_ERROR(SyncDirectory(fan_out));
      return SyncDirectory(StagingDir(dir));
    }
    return NotFound("staging object of upload " + upload_id + " not found (" + staging + ")");
  }
  SOV_RETURN_IF_ERROR(synced);

  if (::mkdir(fan_out.c_str(), 0700) == 0) {
    SOV_RETURN_IF_ERROR(SyncDirectory(BlobsDir(dir)));
  } else if (errno != EEXIST) {
    return ErrnoStatus("cannot create directory", fan_out, errno);
  }
  // Blobs are immutable: never replace one.
  if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, blob.c_str(), RENAME_NOREPLACE) != 0) {
    int err = errno;
    if (err != EINVAL && err != ENOSYS) {
      if (err == EEXIST) return AlreadyExists("blob " + blob_id + " exists already in " + location);
      return ErrnoStatus("cannot rename " + staging + " to", blob, err);
    }
    // The file system lacks RENAME_NOREPLACE: link() also refuses to replace.
    if (::link(staging.c_str(), blob.c_str()) != 0) {
      err = errno;
      if (err == EEXIST) return AlreadyExists("blob " + blob_id + " exists already in " + location);
      return ErrnoStatus("cannot link " + staging + " to", blob, err);
    }
    if (::unlink(staging.c_str()) != 0) return ErrnoStatus("cannot unlink", staging, errno);
  }
  SOV_RETURN_IF_ERROR(SyncDirectory(fan_out));
  return SyncDirectory(StagingDir(dir));
}

Status LocalBlobStore::DiscardStaging(const std::string& location, const std::string& upload_id) {
  SOV_RETURN_IF_ERROR(CheckId("upload id", upload_id));
  SOV_ASSIGN_OR_RETURN(std::string dir, DirectoryOf(location));
  std::string path = StagingPath(dir, upload_id);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return OkStatus();
    return ErrnoStatus("cannot delete", path, errno);
  }
  return SyncDirectory(StagingDir(dir));
}

namespace {

Result<std::unique_ptr<BlobReader>> OpenReader(std::string path, std::string_view what,
                                               const std::string& id, const std::string& location) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return NotFound(std::string(what) + " " + id + " not found in " + location);
    }
    return ErrnoStatus("cannot open", path, errno);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus("cannot stat", path, err);
  }
  return std::unique_ptr<BlobReader>(
      new LocalBlobReader(fd, std::move(path), static_cast<uint64_t>(st.st_size)));
}

}  // namespace

Result<std::unique_ptr<BlobReader>> LocalBlobStore::Open(const std::string& location,
                                                         const std::string& blob_id) {
  SOV_RETURN_IF_ERROR(CheckId("blob id", blob_id));
  SOV_ASSIGN_OR_RETURN(std::string dir, DirectoryOf(location));
  return OpenReader(BlobPath(dir, blob_id), "blob", blob_id, location);
}

Result<std::unique_ptr<BlobReader>> LocalBlobStore::OpenStagingReader(
    const std::string& location, const std::string& upload_id) {
  SOV_RETURN_IF_ERROR(CheckId("upload id", upload_id));
  SOV_ASSIGN_OR_RETURN(std::string dir, DirectoryOf(location));
  return OpenReader(StagingPath(dir, upload_id), "staging object of upload", upload_id, location);
}

Status LocalBlobStore::Delete(const std::string& location, const std::string& blob_id) {
  SOV_RETURN_IF_ERROR(CheckId("blob id", blob_id));
  SOV_ASSIGN_OR_RETURN(std::string dir, DirectoryOf(location));
  std::string path = BlobPath(dir, blob_id);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return OkStatus();
    return ErrnoStatus("cannot delete", path, errno);
  }
  return OkStatus();
}

namespace {

// The file's modification time; NOT_FOUND naming `what` and `id` when it is absent.
Result<SystemTime> WriteTimeOf(const std::string& path, std::string_view what,
                               const std::string& id) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return NotFound(std::string(what) + " " + id + " does not exist");
    return ErrnoStatus("cannot stat", path, errno);
  }
  return SystemTime(std::chrono::duration_cast<SystemTime::duration>(
      std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
}

}  // namespace

Result<SystemTime> LocalBlobStore::StagingWriteTime(const std::string& location,
                                                    const std::string& upload_id) {
  SOV_RETURN_IF_ERROR(CheckId("upload id", upload_id));
  SOV_ASSIGN_OR_RETURN(std::string dir, DirectoryOf(location));
  return WriteTimeOf(StagingPath(dir, upload_id), "staging object of upload", upload_id);
}

Result<SystemTime> LocalBlobStore::BlobWriteTime(const std::string& location,
                                                 const std::string& blob_id) {
  SOV_RETURN_IF_ERROR(CheckId("blob id", blob_id));
  SOV_ASSIGN_OR_RETURN(std::string dir, DirectoryOf(location));
  return WriteTimeOf(BlobPath(dir, blob_id), "blob", blob_id);
}

Result<std::vector<std::string>> LocalBlobStore::ListStaging(const std::string& location) {
  SOV_ASSIGN_OR_RETURN(std::string dir, DirectoryOf(location));
  std::vector<std::string> ids;
  SOV_RETURN_IF_ERROR(ListIds(StagingDir(dir), kStagingSuffix, ids));
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<std::vector<std::string>> LocalBlobStore::ListBlobs(const std::string& location) {
  SOV_ASSIGN_OR_RETURN(std::string dir, DirectoryOf(location));
  std::string blobs = BlobsDir(dir);
  DIR* d = ::opendir(blobs.c_str());
  if (d == nullptr) return ErrnoStatus("cannot open directory", blobs, errno);
  std::vector<std::string> fan_outs;
  errno = 0;
  while (dirent* entry = ::readdir(d)) {
    std::string_view name = entry->d_name;
    if (name != "." && name != ".." && name.size() <= 2 && IsValidId(name)) {
      fan_outs.emplace_back(name);
    }
    errno = 0;
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return ErrnoStatus("cannot read directory", blobs, err);

  std::vector<std::string> ids;
  for (const std::string& fan_out : fan_outs) {
    SOV_RETURN_IF_ERROR(ListIds(blobs + "/" + fan_out, kBlobSuffix, ids));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace sov::registry
