// Shows that sovd's log lines carry structured fields, as text or as one JSON object per line.
#include "gateway/log.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace sov::gateway {
namespace {

std::string Format(LogFormat format, std::string_view payload) {
  auto formatter = internal::MakeFormatter(format);
  spdlog::details::log_msg msg(spdlog::string_view_t("auth"), spdlog::level::warn,
                               spdlog::string_view_t(payload.data(), payload.size()));
  spdlog::memory_buf_t out;
  formatter->format(msg, out);
  return std::string(out.data(), out.size());
}

TEST(LogTest, JsonLinesHaveFixedMembersThenFields) {
  // time, level, logger, msg, then each field; quotes and newlines are escaped.
  std::string line = Format(LogFormat::kJson,
                            internal::EncodeEvent("call rejected", {{"method", "/a/B"},
                                                                    {"reason", "bad \"x\"\nnext"},
                                                                    {"msg", "shadow"}}));
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "exactly one line";
  auto json = nlohmann::ordered_json::parse(line);
  std::vector<std::string> keys;
  for (const auto& item : json.items()) keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"time", "level", "logger", "msg", "method", "reason",
                                            "field.msg"}));
  EXPECT_EQ(json["level"], "warn");
  EXPECT_EQ(json["logger"], "auth");
  EXPECT_EQ(json["msg"], "call rejected");
  EXPECT_EQ(json["reason"], "bad \"x\"\nnext");
  EXPECT_EQ(json["field.msg"], "shadow");
  EXPECT_EQ(json["time"].get<std::string>().back(), 'Z');
}

TEST(LogTest, TextLinesQuoteValuesThatNeedIt) {
  // key=value, with JSON quoting for values with spaces or quotes.
  std::string line = Format(LogFormat::kText,
                            internal::EncodeEvent("call", {{"tenant", "acme-ml"},
                                                           {"reason", "not known"}}));
  EXPECT_NE(line.find(" warn  [auth] call tenant=acme-ml reason=\"not known\"\n"),
            std::string::npos)
      << line;
}

TEST(LogTest, ParsesFormatsAndLevels) {
  // Flag values map to formats and levels; others are errors.
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("xml").ok());
  EXPECT_EQ(*ParseLogLevel("warn"), spdlog::level::warn);
  EXPECT_FALSE(ParseLogLevel("loud").ok());
}

}  // namespace
}  // namespace sov::gateway
