#include "gateway/log.h"

#include <atomic>
#include <ctime>
#include <mutex>

#include <grpc/support/log.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>

namespace sov::gateway {
namespace {

// Fields travel inside spdlog's single payload string, separated by ASCII unit and record
// separators, which never occur in what sovd logs (EncodeEvent replaces them if they do).
constexpr char kFieldSep = '\x1f';
constexpr char kValueSep = '\x1e';

struct DecodedEvent {
  std::string_view message;
  std::vector<std::pair<std::string_view, std::string_view>> fields;
};

DecodedEvent DecodeEvent(std::string_view payload) {
  DecodedEvent event;
  size_t pos = payload.find(kFieldSep);
  event.message = payload.substr(0, pos);
  while (pos != std::string_view::npos) {
    size_t next = payload.find(kFieldSep, pos + 1);
    std::string_view field = payload.substr(pos + 1, next == std::string_view::npos
                                                         ? std::string_view::npos
                                                         : next - pos - 1);
    size_t eq = field.find(kValueSep);
    if (eq != std::string_view::npos) {
      event.fields.emplace_back(field.substr(0, eq), field.substr(eq + 1));
    }
    pos = next;
  }
  return event;
}

void AppendSanitized(std::string& out, std::string_view text) {
  for (char c : text) out += (c == kFieldSep || c == kValueSep) ? '?' : c;
}

std::string_view LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

std::string FormatTime(std::chrono::system_clock::time_point t) {
  auto since_epoch = t.time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
  std::time_t tt = static_cast<std::time_t>(seconds.count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis.count()));
  return buf;
}

bool NeedsQuoting(std::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      return true;
    }
  }
  return false;
}

class TextFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    DecodedEvent event = DecodeEvent(std::string_view(msg.payload.data(), msg.payload.size()));
    std::string line = FormatTime(msg.time);
    line += ' ';
    std::string_view level = LevelName(msg.level);
    line += level;
    line.append(level.size() < 5 ? 5 - level.size() : 0, ' ');
    line += " [";
    line.append(msg.logger_name.data(), msg.logger_name.size());
    line += "] ";
    line += event.message;
    for (const auto& [key, value] : event.fields) {
      line += ' ';
      line += key;
      line += '=';
      if (NeedsQuoting(value)) {
        line += nlohmann::json(std::string(value))
                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      } else {
        line += value;
      }
    }
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextFormatter>();
  }
};

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    DecodedEvent event = DecodeEvent(std::string_view(msg.payload.data(), msg.payload.size()));
    nlohmann::ordered_json line;
    line["time"] = FormatTime(msg.time);
    line["level"] = LevelName(msg.level);
    line["logger"] = std::string(msg.logger_name.data(), msg.logger_name.size());
    line["msg"] = std::string(event.message);
    for (const auto& [key, value] : event.fields) {
      std::string name(key);
      // A field never overwrites the fixed members of the line.
      if (name == "time" || name == "level" || name == "logger" || name == "msg") {
        name = "field." + name;
      }
      line[name] = std::string(value);
    }
    std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text += '\n';
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

struct LoggingState {
  std::mutex mu;
  std::shared_ptr<spdlog::sinks::stderr_sink_mt> sink;
  spdlog::level::level_enum level = spdlog::level::info;
};

LoggingState& State() {
  static LoggingState* state = [] {
    auto* s = new LoggingState;
    s->sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    s->sink->set_formatter(std::make_unique<TextFormatter>());
    return s;
  }();
  return *state;
}

std::atomic<bool> grpc_logs_suppressed{false};

void ForwardGrpcLog(gpr_log_func_args* args) {
  if (grpc_logs_suppressed.load(std::memory_order_relaxed)) return;
  auto level = spdlog::level::info;
  if (args->severity == GPR_LOG_SEVERITY_DEBUG) level = spdlog::level::debug;
  if (args->severity == GPR_LOG_SEVERITY_ERROR) level = spdlog::level::err;
  std::string where = std::string(args->file ? args->file : "?") + ":" + std::to_string(args->line);
  LogEvent(*ModuleLogger("grpc"), level, args->message ? args->message : "", {{"source", where}});
}

}  // namespace

Result<LogFormat> ParseLogFormat(std::string_view text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  return InvalidArgument("unknown log format '" + std::string(text) + "' (use text or json)");
}

Result<spdlog::level::level_enum> ParseLogLevel(std::string_view text) {
  if (text == "trace") return spdlog::level::trace;
  if (text == "debug") return spdlog::level::debug;
  if (text == "info") return spdlog::level::info;
  if (text == "warn") return spdlog::level::warn;
  if (text == "error") return spdlog::level::err;
  if (text == "off") return spdlog::level::off;
  return InvalidArgument("unknown log level '" + std::string(text) +
                         "' (use trace, debug, info, warn, error or off)");
}

void ConfigureLogging(LogFormat format, spdlog::level::level_enum level) {
  LoggingState& state = State();
  {
    std::lock_guard<std::mutex> lock(state.mu);
    state.sink->set_formatter(internal::MakeFormatter(format));
    state.level = level;
  }
  spdlog::apply_all([level](const std::shared_ptr<spdlog::logger>& logger) {
    logger->set_level(level);
  });
  gpr_set_log_function(ForwardGrpcLog);
}

void SuppressGrpcLogs(bool suppress) {
  grpc_logs_suppressed.store(suppress, std::memory_order_relaxed);
}

std::shared_ptr<spdlog::logger> ModuleLogger(std::string_view name) {
  LoggingState& state = State();
  std::lock_guard<std::mutex> lock(state.mu);
  std::string key(name);
  if (auto existing = spdlog::get(key)) return existing;
  auto logger = std::make_shared<spdlog::logger>(key, state.sink);
  logger->set_level(state.level);
  spdlog::register_logger(logger);
  return logger;
}

void LogEvent(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view message,
              std::initializer_list<LogField> fields) {
  LogEvent(logger, level, message, std::span<const LogField>(fields.begin(), fields.size()));
}

void LogEvent(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view message,
              std::span<const LogField> fields) {
  if (!logger.should_log(level)) return;
  logger.log(level, "{}", internal::EncodeEvent(message, fields));
}

namespace internal {

std::string EncodeEvent(std::string_view message, std::span<const LogField> fields) {
  std::string payload;
  AppendSanitized(payload, message);
  for (const LogField& field : fields) {
    payload += kFieldSep;
    AppendSanitized(payload, field.key);
    payload += kValueSep;
    AppendSanitized(payload, field.value);
  }
  return payload;
}

std::unique_ptr<spdlog::formatter> MakeFormatter(LogFormat format) {
  if (format == LogFormat::kJson) return std::make_unique<JsonFormatter>();
  return std::make_unique<TextFormatter>();
}

}  // namespace internal
}  // namespace sov::gateway
