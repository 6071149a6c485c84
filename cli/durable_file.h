// Writing an output file crash-safely: the commands that stream a file of unknown length
// (`sovctl audit export -o FILE`, `sovctl records export -o FILE`) write it to FILE.part
// (OpenPartFile), and once the stream has ended OK hand the stream here to make FILE.part
// durable and rename it onto FILE, so that FILE is always the old file or a whole new one.
// ExportSink does both for a command whose `-o` may also be "-" (standard output). Thread-safe:
// it touches only the paths it is given.
#pragma once

#include <fstream>
#include <ostream>
#include <string>
#include <utility>

#include "common/status.h"

namespace sov::cli {

// Opens `part` (FILE.part) for writing, truncated; "cannot create PART: ..." when it cannot.
Status OpenPartFile(std::ofstream& file, const std::string& part);

// Flushes and closes `file` (open on `part`), fsyncs `part`, renames it onto `target` and fsyncs
// the target's directory. On a failure before the rename, `part` is deleted and the Status says
// "cannot write PART", "cannot fsync PART: ..." or "cannot rename PART to TARGET: ..."; a failed
// directory fsync (after the rename) is SyncDirectory's Status.
Status CommitPartFile(std::ofstream& file, const std::string& part, const std::string& target);

// Where an export streams to: standard output for "-", else TARGET.part until Commit puts it in
// place of TARGET or Abandon deletes it.
class ExportSink {
 public:
  // "-" writes to `out`; any other target opens TARGET.part (OpenPartFile's error otherwise).
  static Result<ExportSink> Open(const std::string& target, std::ostream& out);

  std::ostream& stream() { return to_stdout_ ? *out_ : file_; }
  bool to_stdout() const { return to_stdout_; }
  // The stream ended OK: flushes standard output, or CommitPartFile.
  Status Commit();
  // The stream failed: deletes TARGET.part; nothing for standard output.
  void Abandon();

 private:
  ExportSink(std::string target, std::ostream* out) : target_(std::move(target)), out_(out) {}

  std::string target_;
  std::ostream* out_;
  bool to_stdout_ = false;
  std::ofstream file_;
};

}  // namespace sov::cli
