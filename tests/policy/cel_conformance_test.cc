// Shows how much of the CEL specification's own conformance suite (from the npm package
// @bufbuild/cel-spec, exported to JSON by cel_conformance/export.mjs) the CEL subset passes:
// every in-scope case must pass; out-of-scope cases are listed by name with a reason.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/cel/internal/time.h"
#include "policy/cel/program.h"
#include "policy/cel/value.h"

#ifndef SOV_CEL_CONFORMANCE_JSON
#define SOV_CEL_CONFORMANCE_JSON ""
#endif
#ifndef SOV_CEL_CONFORMANCE_SKIP_REASON
#define SOV_CEL_CONFORMANCE_SKIP_REASON "the build did not export the conformance cases"
#endif
#ifndef SOV_CEL_CONFORMANCE_DIR
#define SOV_CEL_CONFORMANCE_DIR ""
#endif

namespace sov::policy::cel {
namespace {

using nlohmann::json;

std::string DecodeBase64(const std::string& in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  int bits = 0, acc = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) continue;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

// Converts the export's tagged JSON value; returns false for what the engine cannot represent.
bool ToValue(const json& j, Value* out, std::string* why) {
  if (j.contains("null")) {
    *out = Value::Null();
  } else if (j.contains("bool")) {
    *out = Value::Bool(j["bool"].get<bool>());
  } else if (j.contains("int")) {
    *out = Value::Int(std::stoll(j["int"].get<std::string>()));
  } else if (j.contains("uint")) {
    *out = Value::Uint(std::stoull(j["uint"].get<std::string>()));
  } else if (j.contains("double")) {
    const json& d = j["double"];
    if (d.is_string()) {
      std::string s = d.get<std::string>();
      *out = Value::Double(s == "NaN" ? std::nan("") : s == "-Infinity" ? -INFINITY : INFINITY);
    } else {
      *out = Value::Double(d.get<double>());
    }
  } else if (j.contains("string")) {
    *out = Value::String(j["string"].get<std::string>());
  } else if (j.contains("bytes")) {
    *out = Value::Bytes(DecodeBase64(j["bytes"].get<std::string>()));
  } else if (j.contains("list")) {
    std::vector<Value> items;
    for (const json& e : j["list"]) {
      Value v;
      if (!ToValue(e, &v, why)) return false;
      items.push_back(v);
    }
    *out = Value::List(std::move(items));
  } else if (j.contains("map")) {
    std::vector<Value::Entry> entries;
    for (const json& e : j["map"]) {
      Value k, v;
      if (!ToValue(e[0], &k, why) || !ToValue(e[1], &v, why)) return false;
      entries.emplace_back(k, v);
    }
    Result<Value> m = Value::Map(std::move(entries));
    if (!m.ok()) {
      *why = m.status().message();
      return false;
    }
    *out = *m;
  } else if (j.contains("type")) {
    *out = Value::Type(j["type"].get<std::string>());
  } else if (j.contains("timestamp")) {
    *out = internal::ParseTimestamp(j["timestamp"].get<std::string>());
  } else if (j.contains("duration")) {
    *out = internal::ParseDuration(j["duration"].get<std::string>());
  } else {
    *why = "cannot represent " + j.dump().substr(0, 120);
    return false;
  }
  return true;
}

// Equality for checking results: kinds must match exactly (1 is not 1u), and NaN equals NaN.
bool SameValue(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kDouble:
      return (std::isnan(a.double_value()) && std::isnan(b.double_value())) ||
             a.double_value() == b.double_value();
    case Kind::kList: {
      const auto& x = a.list_value();
      const auto& y = b.list_value();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!SameValue(x[i], y[i])) return false;
      }
      return true;
    }
    case Kind::kMap: {
      if (a.map_entries().size() != b.map_entries().size()) return false;
      for (const auto& [k, v] : a.map_entries()) {
        bool found = false;
        for (const auto& [k2, v2] : b.map_entries()) {
          if (SameValue(k, k2)) {
            found = SameValue(v, v2);
            break;
          }
        }
        if (!found) return false;
      }
      return true;
    }
    case Kind::kError: return true;
    default: return Equal(a, b);
  }
}

// Reads "section/group/name  reason" lines; '#' starts a comment.
std::map<std::string, std::string> ReadList(const std::string& path) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.find_first_of(" \t");
    std::string name = line.substr(0, space);
    std::string reason = space == std::string::npos ? "" : line.substr(line.find_first_not_of(" \t", space));
    out[name] = reason;
  }
  return out;
}

struct SectionStats {
  int in_scope = 0;
  int passed = 0;
  int out_of_scope = 0;
  int known_failures = 0;
};

TEST(CelConformance, EveryInScopeCasePasses) {
  std::string path = SOV_CEL_CONFORMANCE_JSON;
  if (const char* env = std::getenv("SOV_CEL_CONFORMANCE_JSON")) path = env;
  std::ifstream in(path);
  if (path.empty() || !in) {
    std::string reason = std::string("CEL conformance cases not available: ") + SOV_CEL_CONFORMANCE_SKIP_REASON;
    std::printf("%s\n", reason.c_str());
    GTEST_SKIP() << reason;
  }
  json doc = json::parse(in);
  const std::string dir = SOV_CEL_CONFORMANCE_DIR;
  std::map<std::string, std::string> out_of_scope = ReadList(dir + "/out_of_scope.txt");
  std::map<std::string, std::string> known_failures = ReadList(dir + "/known_failures.txt");
  ASSERT_FALSE(out_of_scope.empty()) << "cannot read " << dir << "/out_of_scope.txt";

  std::map<std::string, SectionStats> stats;
  std::vector<std::string> section_order;
  std::set<std::string> seen;
  std::vector<std::string> failures, unexpected_passes;
  for (const json& c : doc["cases"]) {
    const std::string section = c["section"];
    const std::string id = section + "/" + c["group"].get<std::string>() + "/" + c["name"].get<std::string>();
    seen.insert(id);
    if (!stats.count(section)) section_order.push_back(section);
    SectionStats& s = stats[section];
    if (out_of_scope.count(id)) {
      ++s.out_of_scope;
      continue;
    }
    ++s.in_scope;
    const std::string expr = c["expr"];
    std::string problem;

    CompileOptions options;
    options.check_functions = !c["disable_check"].get<bool>();
    Activation activation;
    for (const auto& [name, j] : c["bindings"].items()) {
      Value v;
      if (!ToValue(j, &v, &problem)) break;
      activation.Bind(name, v);
    }
    const json& expect = c["expect"];
    if (problem.empty()) {
      Result<Program> program = Compile(expr, options);
      Value got = program.ok() ? program->Evaluate(activation)
                               : Value::Error(program.status().code(), program.status().message());
      if (expect.contains("value") || expect.contains("typed_result")) {
        Value want;
        if (!ToValue(expect.contains("value") ? expect["value"] : expect["typed_result"], &want, &problem)) {
          // problem set
        } else if (got.is_error()) {
          problem = "error " + FormatError(got.error()) + ", want " + want.DebugString();
        } else if (!SameValue(got, want)) {
          problem = "got " + got.DebugString() + ", want " + want.DebugString();
        }
      } else if (expect.contains("error") || expect.contains("any_error")) {
        if (!got.is_error()) problem = "got " + got.DebugString() + ", want an error";
      } else {
        problem = "unsupported expectation " + expect.dump();
      }
    }
    if (problem.empty()) {
      ++s.passed;
      if (known_failures.count(id)) unexpected_passes.push_back(id);
    } else if (known_failures.count(id)) {
      ++s.known_failures;
    } else {
      failures.push_back(id + "\n    expr: " + expr.substr(0, 200) + "\n    " + problem.substr(0, 400));
    }
  }

  int total_in = 0, total_passed = 0, total_out = 0, total_known = 0;
  std::printf("CEL conformance (%s@%s)\n", doc["package"].get<std::string>().c_str(),
              doc["version"].get<std::string>().c_str());
  std::printf("  %-14s %9s %9s %8s %13s\n", "section", "passed", "in-scope", "rate", "out-of-scope");
  for (const std::string& name : section_order) {
    const SectionStats& s = stats[name];
    std::printf("  %-14s %9d %9d %7.1f%% %13d\n", name.c_str(), s.passed, s.in_scope,
                s.in_scope ? 100.0 * s.passed / s.in_scope : 100.0, s.out_of_scope);
    total_in += s.in_scope;
    total_passed += s.passed;
    total_out += s.out_of_scope;
    total_known += s.known_failures;
  }
  std::printf("  %-14s %9d %9d %7.1f%% %13d\n", "total", total_passed, total_in,
              total_in ? 100.0 * total_passed / total_in : 100.0, total_out);
  if (total_known) std::printf("  known failures (known_failures.txt): %d\n", total_known);

  for (const auto& [id, reason] : out_of_scope) {
    EXPECT_TRUE(seen.count(id)) << "out_of_scope.txt names a case that does not exist: " << id;
    EXPECT_FALSE(reason.empty()) << "out_of_scope.txt gives no reason for " << id;
  }
  for (const auto& [id, reason] : known_failures) {
    EXPECT_TRUE(seen.count(id)) << "known_failures.txt names a case that does not exist: " << id;
  }
  for (const std::string& id : unexpected_passes) {
    ADD_FAILURE() << "known failure now passes; remove it from known_failures.txt: " << id;
  }
  for (const std::string& f : failures) ADD_FAILURE() << "in-scope case fails: " << f;
}

}  // namespace
}  // namespace sov::policy::cel
