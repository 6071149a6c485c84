// Writing an output file crash-safely: the commands that stream a file of
// unknown length (`sovctl audit export -o FILE`, `sovctl records export -o FILE`) write it to
// FILE.part (OpenPartFile), and once the stream has ended OK hand the stream here to make FILE.part durable and
// rename it onto FILE, so that FILE is always the old file or a whole new one. Thread-safe: it
// touches only the paths it is given.
#pragma once

#include <fstream>
#include <string>

#include "common/status.h"

namespace sov::cli {

// Opens `part` (FILE.part) for writing, truncated; "cannot create PART: ..." when it cannot.
Status OpenPartFile(std::ofstream& file, const std::string& part);

// Flushes and closes `file` (open on `part`), fsyncs `part`, renames it onto `target` and fsyncs
// the target's directory. On a failure before the rename, `part` is deleted and the Status says
// "cannot write PART", "cannot fsync PART: ..." or "cannot rename PART to TARGET: ..."; a failed
// directory fsync (after the rename) is SyncDirectory's Status.
Status CommitPartFile(std::ofstream& file, const std::string& part, const std::string& target);

}  // namespace sov::cli
