// Reading sovd's YAML files (config, tenants) with errors that point at the offending text:
// every error is one line "FILE:LINE:COLUMN: error: KEY: what is wrong", 1-based, from
// yaml-cpp's marks. yaml-cpp throws; these helpers catch and return Status instead. A MapReader
// remembers which keys were read so that the rest can be reported as unknown (usually typos).
// Objects are single-threaded values.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/status.h"

namespace sov::gateway::internal {

// Returns "FILE:LINE:COLUMN" (1-based) for a yaml-cpp mark, or "FILE" when the mark is null.
std::string Where(const std::string& file, const YAML::Mark& mark);

// Returns INVALID_ARGUMENT "FILE:LINE:COLUMN: error: what".
Status ErrorAt(const std::string& file, const YAML::Mark& mark, std::string_view what);

// Parses one YAML document; a syntax error becomes ErrorAt its position. An empty document is
// an error ("the file is empty").
Result<YAML::Node> ParseYaml(std::string_view text, const std::string& file);

// Reads a YAML mapping whose keys are known in advance. `path` names the mapping in errors
// ("tls", "storage[1]"); empty for the document's root.
class MapReader {
 public:
  // INVALID_ARGUMENT when `node` is not a mapping, has a non-scalar or a duplicate key.
  static Result<MapReader> Create(const std::string& file, const YAML::Node& node,
                                  std::string path);

  bool Has(std::string_view key) const;
  // The value node of `key`, or an undefined node when absent; marks the key as known.
  YAML::Node Get(std::string_view key);
  // The mark of `key`'s value (or of the mapping when the key is absent).
  YAML::Mark MarkOf(std::string_view key) const;
  // "path.key", the name used in error messages.
  std::string Name(std::string_view key) const;

  // A scalar string; missing or null is an error naming the key.
  Result<std::string> RequiredString(std::string_view key);
  // A scalar string, or nullopt when the key is absent.
  Result<std::optional<std::string>> OptionalString(std::string_view key);
  // A sequence of scalar strings (flow or block style); absent means empty.
  Result<std::vector<std::string>> StringList(std::string_view key);

  // ErrorAt `key`'s value: "FILE:L:C: error: path.key: what".
  Status ErrorFor(std::string_view key, std::string_view what) const;

  // Reports the first key that no Get/Required/Optional call asked for, suggesting the closest
  // known key when one is near ("did you mean 'listen'?").
  Status CheckNoUnknownKeys(const std::vector<std::string_view>& known) const;

  const YAML::Mark& mark() const { return mark_; }

 private:
  struct Entry {
    std::string key;
    YAML::Mark key_mark;
    YAML::Node value;
    bool used = false;
  };
  MapReader(std::string file, std::string path, YAML::Mark mark)
      : file_(std::move(file)), path_(std::move(path)), mark_(mark) {}
  const Entry* Find(std::string_view key) const;

  std::string file_;
  std::string path_;
  YAML::Mark mark_;
  std::vector<Entry> entries_;
};

// Reads a scalar string from `node`; `name` is used in the error.
Result<std::string> ScalarString(const std::string& file, const YAML::Node& node,
                                 const YAML::Mark& fallback, std::string_view name);

}  // namespace sov::gateway::internal
