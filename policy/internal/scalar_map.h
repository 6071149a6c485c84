// ScalarMap: maps a position inside a YAML scalar's value (a CEL expression, 1-based line and
// column in code points, as CEL errors give them) back to the line and column in the YAML file,
// so that an error in `when: artifact.kind == 1` points at the failing token in the file.
//
// yaml-cpp gives only where a scalar node starts (its indicator or quote for block and quoted
// scalars). The map is built by matching the value against the file's raw lines: plain and
// single-line quoted scalars map exactly; literal (`|`) and folded (`>`) block scalars map
// exactly line by line; multi-line plain and quoted scalars map exactly where folding only
// joined lines. Where a double-quoted scalar uses an escape (`\"`, `\n`), positions after the
// escape on that line fall back to the start of the matched text. Internal; a value type.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/decision.h"

namespace sov::policy::internal {

class ScalarMap {
 public:
  ScalarMap() = default;
  // `lines` are the file's raw lines; (line0, column0) is yaml-cpp's 0-based mark of the node
  // (column in bytes); `value` is the scalar's parsed value.
  ScalarMap(const std::vector<std::string_view>& lines, int line0, int column0,
            std::string_view value, std::string file);

  // The file location of the scalar's first character.
  const SourceLocation& start() const { return start_; }
  // Maps a 1-based (line, column) inside the value to the file; the start when unknown.
  SourceLocation Map(int line, int column) const;
  // Maps a message "LINE:COL: text" (as CEL errors read); returns the location and sets *text
  // to the message without its position. Without a position, returns the start.
  SourceLocation MapMessage(std::string_view message, std::string* text) const;

 private:
  struct Segment {
    size_t value_offset;
    size_t length;
    int line;    // 1-based, in the file
    int column;  // 1-based code points, in the file
  };
  std::string value_;
  std::vector<Segment> segments_;
  SourceLocation start_;
};

// Returns the number of UTF-8 code points in `text` (sov::CodePoints), as a column count.
int CodePoints(std::string_view text);

}  // namespace sov::policy::internal
