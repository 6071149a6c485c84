// TempDir: a fresh directory under $TMPDIR (or /tmp) for one test, removed with everything in it
// when the object is destroyed. Not thread-safe; one owner.
#pragma once

#include <string>
#include <string_view>

namespace sov::testing {

class TempDir {
 public:
  // Creates the directory (mode 0700); aborts the test binary if that fails.
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Returns path()/name.
  std::string Join(std::string_view name) const;

 private:
  std::string path_;
};

// Writes `text` to `path` with `mode`, replacing the file; aborts on failure.
void WriteTextFile(const std::string& path, std::string_view text, unsigned mode = 0644);
// Returns the file's text, or "" when it cannot be read.
std::string ReadTextFile(const std::string& path);

}  // namespace sov::testing
