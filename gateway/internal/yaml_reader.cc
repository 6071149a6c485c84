#include "gateway/internal/yaml_reader.h"

#include <algorithm>

namespace sov::gateway::internal {
namespace {

bool IsNullMark(const YAML::Mark& mark) { return mark.line < 0 || mark.column < 0; }

std::string NodeKind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "nothing";
  }
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string Where(const std::string& file, const YAML::Mark& mark) {
  if (IsNullMark(mark)) return file;
  return file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

Status ErrorAt(const std::string& file, const YAML::Mark& mark, std::string_view what) {
  return InvalidArgument(Where(file, mark) + ": error: " + std::string(what));
}

Result<YAML::Node> ParseYaml(std::string_view text, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return ErrorAt(file, e.mark, e.msg);
  }
  if (!root.IsDefined() || root.IsNull()) {
    return InvalidArgument(file + ":1:1: error: the file is empty");
  }
  return root;
}

Result<std::string> ScalarString(const std::string& file, const YAML::Node& node,
                                 const YAML::Mark& fallback, std::string_view name) {
  YAML::Mark mark = node.IsDefined() && !IsNullMark(node.Mark()) ? node.Mark() : fallback;
  if (!node.IsDefined() || !node.IsScalar()) {
    return ErrorAt(file, mark,
                   std::string(name) + ": expected a string, got " +
                       (node.IsDefined() ? NodeKind(node) : std::string("nothing")));
  }
  return node.Scalar();
}

Result<MapReader> MapReader::Create(const std::string& file, const YAML::Node& node,
                                    std::string path) {
  std::string name = path.empty() ? "the document" : path;
  if (!node.IsMap()) {
    return ErrorAt(file, node.Mark(), name + ": expected a mapping, got " + NodeKind(node));
  }
  MapReader reader(file, std::move(path), node.Mark());
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar()) {
      return ErrorAt(file, it->first.Mark(), name + ": keys must be plain strings");
    }
    Entry entry{it->first.Scalar(), it->first.Mark(), it->second};
    if (reader.Find(entry.key) != nullptr) {
      return ErrorAt(file, entry.key_mark,
                     reader.Name(entry.key) + ": duplicate key (first at " +
                         Where(file, reader.Find(entry.key)->key_mark) + ")");
    }
    reader.entries_.push_back(std::move(entry));
  }
  return reader;
}

const MapReader::Entry* MapReader::Find(std::string_view key) const {
  for (const Entry& entry : entries_) {
    if (entry.key == key) return &entry;
  }
  return nullptr;
}

bool MapReader::Has(std::string_view key) const { return Find(key) != nullptr; }

YAML::Node MapReader::Get(std::string_view key) {
  for (Entry& entry : entries_) {
    if (entry.key == key) {
      entry.used = true;
      return entry.value;
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

YAML::Mark MapReader::MarkOf(std::string_view key) const {
  const Entry* entry = Find(key);
  if (entry == nullptr) return mark_;
  if (!IsNullMark(entry->value.Mark())) return entry->value.Mark();
  return entry->key_mark;
}

std::string MapReader::Name(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

Status MapReader::ErrorFor(std::string_view key, std::string_view what) const {
  return ErrorAt(file_, MarkOf(key), Name(key) + ": " + std::string(what));
}

Result<std::string> MapReader::RequiredString(std::string_view key) {
  if (!Has(key)) {
    return ErrorAt(file_, mark_, Name(key) + ": required key is missing");
  }
  return ScalarString(file_, Get(key), MarkOf(key), Name(key));
}

Result<std::optional<std::string>> MapReader::OptionalString(std::string_view key) {
  if (!Has(key)) return std::optional<std::string>();
  SOV_ASSIGN_OR_RETURN(std::string value, ScalarString(file_, Get(key), MarkOf(key), Name(key)));
  return std::optional<std::string>(std::move(value));
}

Result<std::vector<std::string>> MapReader::StringList(std::string_view key) {
  std::vector<std::string> values;
  if (!Has(key)) return values;
  YAML::Node node = Get(key);
  if (node.IsNull()) return values;
  if (!node.IsSequence()) {
    return ErrorFor(key, "expected a list of strings, got " + NodeKind(node));
  }
  for (size_t i = 0; i < node.size(); ++i) {
    std::string name = Name(key) + "[" + std::to_string(i) + "]";
    SOV_ASSIGN_OR_RETURN(std::string value, ScalarString(file_, node[i], MarkOf(key), name));
    if (value.empty()) return ErrorAt(file_, node[i].Mark(), name + ": must not be empty");
    values.push_back(std::move(value));
  }
  return values;
}

Status MapReader::CheckNoUnknownKeys(const std::vector<std::string_view>& known) const {
  for (const Entry& entry : entries_) {
    if (entry.used || std::find(known.begin(), known.end(), entry.key) != known.end()) continue;
    std::string what = "unknown key '" + Name(entry.key) + "'";
    std::string_view best;
    size_t best_distance = 3;  // suggest only close matches: typos, not different words
    for (std::string_view candidate : known) {
      size_t d = EditDistance(entry.key, candidate);
      if (d < best_distance) {
        best_distance = d;
        best = candidate;
      }
    }
    if (!best.empty()) {
      what += "; did you mean '" + std::string(best) + "'?";
    } else {
      what += " (known keys:";
      for (std::string_view candidate : known) what += " " + std::string(candidate);
      what += ")";
    }
    return ErrorAt(file_, entry.key_mark, what);
  }
  return OkStatus();
}

}  // namespace sov::gateway::internal
