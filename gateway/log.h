// Logging for sovd: one spdlog logger per module ("gateway", "auth", "grpc"), all writing to
// stderr (stdout carries only sovd's ready line and its instructions), as human-readable text by
// default or as JSON lines (one object per line: time, level, logger, msg, then the event's
// fields). Events carry structured fields through LogEvent; nothing secret is ever passed to it:
// no tokens, no key bytes, no private-key PEM. Configure once at start, before other threads log;
// afterwards the loggers are safe to use from any thread.
#pragma once

#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

#include "common/status.h"

namespace sov::gateway {

enum class LogFormat { kText, kJson };

// Parses "text" or "json"; INVALID_ARGUMENT otherwise.
Result<LogFormat> ParseLogFormat(std::string_view text);
// Parses "trace", "debug", "info", "warn", "error" or "off"; INVALID_ARGUMENT otherwise.
Result<spdlog::level::level_enum> ParseLogLevel(std::string_view text);

// Sets up the module loggers with the given format and threshold, and routes gRPC's own log
// lines into the "grpc" logger. Call once, early in main.
void ConfigureLogging(LogFormat format, spdlog::level::level_enum level);

// Drops gRPC's own log lines while `suppress` is true. sovd suppresses them during start-up,
// where a failure is reported as one line of its own.
void SuppressGrpcLogs(bool suppress);

// Returns the logger of a module ("gateway", "auth", "grpc"), creating it if needed with the
// configured format (text until ConfigureLogging is called).
std::shared_ptr<spdlog::logger> ModuleLogger(std::string_view name);

struct LogField {
  std::string_view key;
  std::string_view value;
};

// Logs `message` with structured fields: text output appends ` key=value` pairs (quoted when
// needed); JSON output adds them as members of the line's object.
void LogEvent(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view message,
              std::initializer_list<LogField> fields = {});
// The same with a field list built at run time.
void LogEvent(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view message,
              std::span<const LogField> fields);

namespace internal {
// Encodes a message with its fields into the single payload string spdlog carries, and the
// formatter's inverse. Exposed for tests.
std::string EncodeEvent(std::string_view message, std::span<const LogField> fields);
inline std::string EncodeEvent(std::string_view message, std::initializer_list<LogField> fields) {
  return EncodeEvent(message, std::span<const LogField>(fields.begin(), fields.size()));
}
std::unique_ptr<spdlog::formatter> MakeFormatter(LogFormat format);
}  // namespace internal

}  // namespace sov::gateway
