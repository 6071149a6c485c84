#include "cli/output.h"

#include <algorithm>
#include <ostream>

namespace sov::cli {

std::string FormatKeyValues(const KeyValues& pairs) {
  size_t width = 0;
  for (const auto& [key, value] : pairs) width = std::max(width, key.size() + 1);
  std::string out;
  for (const auto& [key, value] : pairs) {
    std::string label = key + ":";
    out += label;
    if (!value.empty()) {
      out.append(width - label.size() + 1, ' ');
      out += value;
    }
    out += '\n';
  }
  return out;
}

std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size(), 0);
  auto measure = [&widths](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  std::string out;
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : std::string();
      line += cell;
      if (i + 1 < widths.size()) line.append(widths[i] - cell.size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  };
  emit(header);
  for (const auto& row : rows) emit(row);
  return out;
}

void WriteJson(std::ostream& out, const nlohmann::ordered_json& doc) {
  // Invalid UTF-8 (a file name, say) is replaced rather than thrown on.
  out << doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
}

std::string OneLine(std::string_view text) {
  std::string out(text);
  std::replace(out.begin(), out.end(), '\n', ' ');
  std::replace(out.begin(), out.end(), '\r', ' ');
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

int ReportLocalError(std::ostream& err, const Status& status) {
  return ReportLocalError(err, status.message());
}

int ReportLocalError(std::ostream& err, std::string_view message) {
  err << "sovctl: error: " << OneLine(message) << '\n';
  return kExitFailure;
}

int ReportUsageError(std::ostream& err, std::string_view command, std::string_view message) {
  err << "sovctl: error: " << OneLine(message) << '\n'
      << "Run 'sovctl " << command << " --help' for usage.\n";
  return kExitUsage;
}

int ReportRpcError(std::ostream& err, StatusCode code, std::string_view message) {
  err << "sovctl: error: " << StatusCodeName(code) << ": " << OneLine(message) << '\n';
  return kExitFailure;
}

}  // namespace sov::cli
