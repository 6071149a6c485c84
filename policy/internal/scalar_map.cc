#include "policy/internal/scalar_map.h"

#include "common/utf8.h"
#include "policy/cel/parser.h"

namespace sov::policy::internal {

int CodePoints(std::string_view text) { return static_cast<int>(sov::CodePoints(text)); }

namespace {

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

size_t CommonPrefix(std::string_view a, std::string_view b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

}  // namespace

ScalarMap::ScalarMap(const std::vector<std::string_view>& lines, int line0, int column0,
                     std::string_view value, std::string file)
    : value_(value) {
  start_.file = std::move(file);
  start_.line = line0 + 1;
  start_.column = column0 + 1;
  if (line0 < 0 || static_cast<size_t>(line0) >= lines.size()) return;
  std::string_view first = lines[static_cast<size_t>(line0)];
  if (static_cast<size_t>(column0) > first.size()) return;
  start_.column = CodePoints(first.substr(0, static_cast<size_t>(column0))) + 1;
  const char indicator = static_cast<size_t>(column0) < first.size() ? first[static_cast<size_t>(column0)] : '\0';
  const bool block = indicator == '|' || indicator == '>';
  const bool quoted = indicator == '"' || indicator == '\'';

  size_t cursor = 0;
  size_t line_index = static_cast<size_t>(line0);
  size_t byte_column = static_cast<size_t>(column0) + (quoted ? 1 : 0);
  if (block) {
    ++line_index;
    byte_column = std::string_view::npos;  // found from each line's indentation
  }
  bool first_segment = true;
  for (; line_index < lines.size() && cursor < value_.size(); ++line_index) {
    std::string_view raw = lines[line_index];
    size_t begin = byte_column;
    if (begin == std::string_view::npos) {
      begin = raw.find_first_not_of(" \t");
      if (begin == std::string_view::npos) continue;  // a blank line inside the scalar
    }
    byte_column = std::string_view::npos;
    if (begin > raw.size()) break;
    std::string_view text = TrimRight(raw.substr(begin));
    // Folding and line breaks turn into spaces or newlines in the value: skip them.
    while (!first_segment && cursor < value_.size() &&
           (value_[cursor] == ' ' || value_[cursor] == '\n')) {
      ++cursor;
    }
    const size_t n = CommonPrefix(std::string_view(value_).substr(cursor), text);
    if (n == 0) {
      if (text.empty()) continue;
      break;  // an escape or the end of the scalar
    }
    const int column = CodePoints(raw.substr(0, begin)) + 1;
    segments_.push_back(Segment{cursor, n, static_cast<int>(line_index) + 1, column});
    cursor += n;
    first_segment = false;
  }
  if (!segments_.empty()) {
    start_.line = segments_[0].line;
    start_.column = segments_[0].column;
  }
}

SourceLocation ScalarMap::Map(int line, int column) const {
  if (line <= 0 || column <= 0) return start_;
  // Find the byte offset of (line, column) in the value.
  size_t offset = 0;
  for (int l = 1; l < line; ++l) {
    size_t nl = value_.find('\n', offset);
    if (nl == std::string::npos) return start_;
    offset = nl + 1;
  }
  for (int c = 1; c < column && offset < value_.size();) {
    ++offset;
    while (offset < value_.size() && (static_cast<unsigned char>(value_[offset]) & 0xC0) == 0x80) ++offset;
    ++c;
  }
  for (const Segment& s : segments_) {
    if (offset >= s.value_offset && offset <= s.value_offset + s.length) {
      SourceLocation loc = start_;
      loc.line = s.line;
      loc.column = s.column + CodePoints(std::string_view(value_).substr(s.value_offset, offset - s.value_offset));
      return loc;
    }
  }
  // Past the matched text (after an escape): the start of the last segment before it.
  const Segment* best = nullptr;
  for (const Segment& s : segments_) {
    if (s.value_offset <= offset) best = &s;
  }
  if (best == nullptr) return start_;
  SourceLocation loc = start_;
  loc.line = best->line;
  loc.column = best->column;
  return loc;
}

SourceLocation ScalarMap::MapMessage(std::string_view message, std::string* text) const {
  cel::SourcePosition pos;
  std::string_view rest;
  if (cel::SplitPosition(message, &pos, &rest)) {
    *text = std::string(rest);
    return Map(pos.line, pos.column);
  }
  *text = std::string(message);
  return start_;
}

}  // namespace sov::policy::internal
