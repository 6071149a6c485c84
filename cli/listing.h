// How sovctl's list commands (`ls`, `eval jobs`, `audit list`) print what they listed, so that
// all of them look alike: with --output json one document {"<key>": [message, ...]} in proto3
// JSON; else a table on stdout, or, when nothing was listed, one line on stderr. An empty listing
// is not an error: the exit status is 0 either way.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/proto_interop.h"

namespace sov::cli {

// `row(message)` returns the message's table cells, in the order of `header`.
template <typename Message, typename RowFn>
int PrintListing(const CommandLine& cli, const std::string& json_key,
                 const std::vector<Message>& items, std::string_view when_empty,
                 const std::vector<std::string>& header, RowFn row) {
  if (cli.output == OutputFormat::kJson) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const Message& message : items) list.push_back(ProtoToJson(message));
    WriteJson(*cli.out, {{json_key, std::move(list)}});
    return kExitOk;
  }
  if (items.empty()) {
    *cli.err << "sovctl: " << when_empty << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(items.size());
  for (const Message& message : items) rows.push_back(row(message));
  *cli.out << FormatTable(header, rows);
  return kExitOk;
}

}  // namespace sov::cli
