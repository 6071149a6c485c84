// UTF-8 as RFC 3629 defines it (shortest form, no surrogates, at most U+10FFFF): where a text
// stops being valid, and how many characters it has, so that limits mean characters, not bytes.
// Pure functions.
#pragma once

#include <cstddef>
#include <string_view>

namespace sov {

// Returns the offset of the first byte of `text` that is not part of valid UTF-8, or
// text.size() when all of it is valid.
size_t InvalidUtf8Offset(std::string_view text);
inline bool IsValidUtf8(std::string_view text) { return InvalidUtf8Offset(text) == text.size(); }

// Returns the number of bytes that begin a character (all but continuation bytes, 10xxxxxx): on
// valid UTF-8, its number of code points.
size_t CodePoints(std::string_view text);

}  // namespace sov
