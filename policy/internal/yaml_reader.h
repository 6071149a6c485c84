// YamlReader: the shared front end of the policy loader and the cases-file reader. It parses
// YAML text with yaml-cpp (whose exceptions it turns into diagnostics), converts yaml-cpp's
// 0-based byte marks into 1-based line and code-point column locations, and offers typed
// accessors that record a diagnostic (with a hint where one helps) instead of failing: maps
// with checked keys (unknown and duplicate keys are errors), strings, string lists, integers.
// Internal; one reader per file, single-threaded.
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/internal/scalar_map.h"
#include "policy/policy.h"

namespace sov::policy::internal {

class YamlReader {
 public:
  YamlReader(std::string_view text, std::string file_name, std::vector<Diagnostic>* diagnostics);

  // Parses the text; records a diagnostic and returns nullopt when it is not valid YAML.
  std::optional<YAML::Node> Parse();

  const std::string& file_name() const { return file_name_; }
  const std::vector<std::string_view>& lines() const { return lines_; }
  bool failed() const { return diagnostics_->size() > errors_at_start_; }

  // The location of a node; `fallback` for nodes without a usable mark (nulls).
  SourceLocation Loc(const YAML::Node& node, const SourceLocation& fallback = {}) const;
  SourceLocation FileStart() const { return SourceLocation{file_name_, 1, 1}; }

  void Error(const SourceLocation& at, std::string message, std::string hint = "");

  // One key of a map, with where it is written.
  struct Field {
    std::string key;
    SourceLocation key_location;
    YAML::Node value;
    SourceLocation value_location;  // the key's location when the value is null
  };
  // Returns the fields of a map node in file order, checking each key against `allowed`
  // (unknown: an error with a did-you-mean hint; repeated: an error). `what` names the map in
  // messages ("a rule", "residency.personal"). Returns nullopt (after an error) when the node
  // is not a map.
  std::optional<std::vector<Field>> Map(const YAML::Node& node, const SourceLocation& at,
                                        std::string_view what,
                                        std::span<const std::string_view> allowed);
  // Like Map, without checking keys (the keys are names the caller validates).
  std::optional<std::vector<Field>> OpenMap(const YAML::Node& node, const SourceLocation& at,
                                            std::string_view what);
  // Returns the items of a sequence node, or nullopt after an error.
  std::optional<std::vector<YAML::Node>> Sequence(const YAML::Node& node, const SourceLocation& at,
                                                  std::string_view what);
  // Returns a scalar's text, or nullopt after an error (null, map or sequence).
  std::optional<std::string> String(const YAML::Node& node, const SourceLocation& at,
                                    std::string_view what);
  // Returns a list of scalars with their locations, or nullopt after an error.
  std::optional<std::vector<std::pair<std::string, SourceLocation>>> StringList(
      const YAML::Node& node, const SourceLocation& at, std::string_view what);
  std::optional<int64_t> Integer(const YAML::Node& node, const SourceLocation& at,
                                 std::string_view what);
  // Returns the map that translates positions inside the scalar `node` to the file.
  ScalarMap MapScalar(const YAML::Node& node, const std::string& value) const;

  // Finds a field by key, or nullptr.
  static const Field* Find(const std::vector<Field>& fields, std::string_view key);

 private:
  std::string_view text_;
  std::string file_name_;
  std::vector<Diagnostic>* diagnostics_;
  size_t errors_at_start_;
  std::vector<std::string_view> lines_;
};

}  // namespace sov::policy::internal
