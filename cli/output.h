// How sovctl prints: the --output format, aligned "key: value" text, JSON documents, and the
// one-line error reports on stderr with sovctl's exit codes. Every command prints through these
// so that all of them look alike. Functions write to the streams they are given; not meant to be
// called from several threads at once on the same stream.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace sov::cli {

// Exit statuses: success; a failed command (local or RPC error, failed verification); a usage
// error (bad flags), as CLI11 reports it.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

enum class OutputFormat { kText, kJson };

// Ordered "key: value" pairs; a key may repeat (one line per verified key id, say).
using KeyValues = std::vector<std::pair<std::string, std::string>>;

// Returns one line per pair, "key:" padded so that all values start in the same column.
std::string FormatKeyValues(const KeyValues& pairs);

// Returns a table: the header row and then each row, columns separated by two spaces and padded
// to the widest cell (the last column is not padded); no trailing spaces. Rows shorter than the
// header leave their last cells empty.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// Writes `doc` as indented JSON followed by a newline, keys in the order they were added.
void WriteJson(std::ostream& out, const nlohmann::ordered_json& doc);

// Replaces line breaks with spaces, so that an error report stays on one line.
std::string OneLine(std::string_view text);

// Writes "sovctl: error: <message>" for a local failure and returns kExitFailure. The status
// code is not printed: codes name RPC outcomes only.
int ReportLocalError(std::ostream& err, const Status& status);
int ReportLocalError(std::ostream& err, std::string_view message);

// Writes "sovctl: error: <message>" and a hint to run `sovctl <command> --help`, as CLI11's
// usage errors are reported, and returns kExitUsage. For argument rules CLI11 cannot express.
int ReportUsageError(std::ostream& err, std::string_view command, std::string_view message);

// Writes "sovctl: error: <CODE>: <message>" for a failed RPC and returns kExitFailure.
int ReportRpcError(std::ostream& err, StatusCode code, std::string_view message);

}  // namespace sov::cli
