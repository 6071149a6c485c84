// Small, careful file primitives that every module shares: whole-file reads, crash-safe atomic
// writes with a chosen mode, and the permission check that private key files must pass.
// All functions are thread-safe; they touch only the paths they are given.
#pragma once

#include <string>
#include <string_view>
#include <sys/types.h>

#include "common/status.h"

namespace sov {

// Reads the whole file. NOT_FOUND when it does not exist; other failures name the path and errno.
Result<std::string> ReadFile(const std::string& path);

// Writes `data` to `path` so that a crash leaves either the old file or the new one, never a mix:
// a temporary file in the same directory created with `mode`, fsynced, renamed over `path`, and
// the directory fsynced. The final file has exactly `mode` (umask does not apply).
Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode);

// Like WriteFileAtomic but fails with ALREADY_EXISTS instead of replacing an existing file.
Status WriteNewFile(const std::string& path, std::string_view data, mode_t mode);

// OK when `path` is a regular file that neither group nor others may read, write or execute
// (mode & 077 == 0), as ssh demands of private keys; PERMISSION_DENIED naming the path, its mode
// and the chmod that fixes it otherwise.
Status CheckPrivateFileMode(const std::string& path);

// CheckPrivateFileMode, then ReadFile.
Result<std::string> ReadPrivateFile(const std::string& path);

// Creates `path` and its missing parents with `mode` (like mkdir -p); OK when it exists.
Status MakeDirectories(const std::string& path, mode_t mode);

// fsyncs a directory so that a rename or create inside it is durable.
Status SyncDirectory(const std::string& path);

// Resolves `path` against the directory `base_dir` unless it is already absolute.
std::string ResolvePath(const std::string& base_dir, const std::string& path);

}  // namespace sov
