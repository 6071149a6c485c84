// The CEL parser: turns the text of one expression into an abstract syntax tree (ast.h),
// expanding the macros has, all, exists, exists_one, map and filter. Called by Compile
// (program.h); exposed for tests and the fuzzer. Stateless and thread-safe.
//
// Limits: sources longer than ParseOptions::max_source_bytes and trees deeper than
// ParseOptions::max_depth (nesting of parentheses, lists, calls, and chains of operators all
// count) are refused with an error, so that no input can exhaust the stack.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "common/status.h"
#include "policy/cel/ast.h"

namespace sov::policy::cel {

struct ParseOptions {
  int max_depth = 100;
  size_t max_source_bytes = 100000;
  bool enable_macros = true;
};

// Parses `source`. On failure returns InvalidArgument whose message is "LINE:COL: message"
// (1-based; the column counts code points), e.g. "1:7: unexpected ')'".
Result<std::unique_ptr<Expr>> Parse(std::string_view source, const ParseOptions& options = {});

// Splits an error message of the form "LINE:COL: text" as Parse, Compile and Evaluate produce
// it. Returns false, leaving the outputs untouched, when the message has no position prefix.
bool SplitPosition(std::string_view message, SourcePosition* position, std::string_view* text);

}  // namespace sov::policy::cel
