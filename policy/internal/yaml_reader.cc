#include "policy/internal/yaml_reader.h"

#include <charconv>
#include <set>

#include <yaml-cpp/depthguard.h>

#include "policy/internal/text.h"

namespace sov::policy::internal {

YamlReader::YamlReader(std::string_view text, std::string file_name,
                       std::vector<Diagnostic>* diagnostics)
    : text_(text),
      file_name_(std::move(file_name)),
      diagnostics_(diagnostics),
      errors_at_start_(diagnostics->size()) {
  size_t start = 0;
  while (start <= text_.size()) {
    size_t nl = text_.find('\n', start);
    if (nl == std::string_view::npos) {
      lines_.push_back(text_.substr(start));
      break;
    }
    lines_.push_back(text_.substr(start, nl - start));
    start = nl + 1;
  }
}

std::optional<YAML::Node> YamlReader::Parse() {
  try {
    YAML::Node root = YAML::Load(std::string(text_));
    return root;
  } catch (const YAML::DeepRecursion& e) {
    Error(SourceLocation{file_name_, e.mark.line + 1, e.mark.column + 1},
          "invalid YAML: nested too deeply", "a policy file needs only a few levels of nesting");
    return std::nullopt;
  } catch (const YAML::Exception& e) {
    SourceLocation at{file_name_, e.mark.line + 1, e.mark.column + 1};
    if (e.mark.line >= 0 && static_cast<size_t>(e.mark.line) < lines_.size()) {
      std::string_view line = lines_[static_cast<size_t>(e.mark.line)];
      at.column = CodePoints(line.substr(0, std::min<size_t>(static_cast<size_t>(std::max(0, e.mark.column)), line.size()))) + 1;
    }
    if (e.mark.line < 0) at = FileStart();
    std::string hint;
    if (e.msg.find("tab") != std::string::npos) hint = "indent with spaces, not tabs";
    Error(at, "invalid YAML: " + e.msg, hint);
    return std::nullopt;
  } catch (const std::exception& e) {
    Error(FileStart(), std::string("invalid YAML: ") + e.what());
    return std::nullopt;
  }
}

SourceLocation YamlReader::Loc(const YAML::Node& node, const SourceLocation& fallback) const {
  if (!node.IsDefined() || node.IsNull()) return fallback.line > 0 ? fallback : FileStart();
  const YAML::Mark mark = node.Mark();
  if (mark.line < 0 || mark.column < 0) return fallback.line > 0 ? fallback : FileStart();
  SourceLocation loc{file_name_, mark.line + 1, mark.column + 1};
  if (static_cast<size_t>(mark.line) < lines_.size()) {
    std::string_view line = lines_[static_cast<size_t>(mark.line)];
    loc.column = CodePoints(line.substr(0, std::min(static_cast<size_t>(mark.column), line.size()))) + 1;
  }
  return loc;
}

void YamlReader::Error(const SourceLocation& at, std::string message, std::string hint) {
  diagnostics_->push_back(Diagnostic{at, std::move(message), std::move(hint)});
}

namespace {

std::string_view TypeName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Scalar: return "a single value";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    default: return "nothing";
  }
}

}  // namespace

std::optional<std::vector<YamlReader::Field>> YamlReader::OpenMap(const YAML::Node& node,
                                                                   const SourceLocation& at,
                                                                   std::string_view what) {
  if (!node.IsMap()) {
    Error(Loc(node, at), std::string(what) + " must be a map of `key: value` lines, not " +
                             std::string(TypeName(node)));
    return std::nullopt;
  }
  std::vector<Field> fields;
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    Field f;
    SourceLocation key_loc = Loc(it->first, Loc(node, at));
    if (!it->first.IsScalar()) {
      Error(key_loc, "keys in " + std::string(what) + " must be plain names");
      continue;
    }
    f.key = it->first.Scalar();
    f.key_location = key_loc;
    f.value = it->second;
    f.value_location = Loc(it->second, key_loc);
    if (!seen.insert(f.key).second) {
      Error(key_loc, "`" + f.key + "` appears twice in " + std::string(what),
            "remove or merge the repeated key");
      continue;
    }
    fields.push_back(std::move(f));
  }
  return fields;
}

std::optional<std::vector<YamlReader::Field>> YamlReader::Map(
    const YAML::Node& node, const SourceLocation& at, std::string_view what,
    std::span<const std::string_view> allowed) {
  auto fields = OpenMap(node, at, what);
  if (!fields) return fields;
  std::vector<Field> known;
  for (Field& f : *fields) {
    bool ok = false;
    for (std::string_view a : allowed) ok = ok || a == f.key;
    if (!ok) {
      Error(f.key_location, "unknown key `" + f.key + "` in " + std::string(what),
            SuggestHint(f.key, allowed));
      continue;
    }
    known.push_back(std::move(f));
  }
  return known;
}

std::optional<std::vector<YAML::Node>> YamlReader::Sequence(const YAML::Node& node,
                                                            const SourceLocation& at,
                                                            std::string_view what) {
  if (!node.IsSequence()) {
    std::string hint;
    if (node.IsScalar()) hint = "write a list, e.g. [" + node.Scalar() + "]";
    Error(Loc(node, at), std::string(what) + " must be a list, not " + std::string(TypeName(node)), hint);
    return std::nullopt;
  }
  std::vector<YAML::Node> items;
  for (auto it = node.begin(); it != node.end(); ++it) items.push_back(*it);
  return items;
}

std::optional<std::string> YamlReader::String(const YAML::Node& node, const SourceLocation& at,
                                              std::string_view what) {
  if (!node.IsScalar()) {
    Error(Loc(node, at), std::string(what) + " must be a single value, not " + std::string(TypeName(node)));
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<std::vector<std::pair<std::string, SourceLocation>>> YamlReader::StringList(
    const YAML::Node& node, const SourceLocation& at, std::string_view what) {
  auto items = Sequence(node, at, what);
  if (!items) return std::nullopt;
  std::vector<std::pair<std::string, SourceLocation>> out;
  bool ok = true;
  for (const YAML::Node& item : *items) {
    SourceLocation loc = Loc(item, Loc(node, at));
    if (!item.IsScalar()) {
      Error(loc, "each item of " + std::string(what) + " must be a single value, not " +
                     std::string(TypeName(item)));
      ok = false;
      continue;
    }
    out.emplace_back(item.Scalar(), loc);
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<int64_t> YamlReader::Integer(const YAML::Node& node, const SourceLocation& at,
                                           std::string_view what) {
  auto text = String(node, at, what);
  if (!text) return std::nullopt;
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || ptr != text->data() + text->size()) {
    Error(Loc(node, at), std::string(what) + " must be a whole number, not `" + *text + "`");
    return std::nullopt;
  }
  return value;
}

ScalarMap YamlReader::MapScalar(const YAML::Node& node, const std::string& value) const {
  const YAML::Mark mark = node.Mark();
  return ScalarMap(lines_, mark.line, mark.column, value, file_name_);
}

const YamlReader::Field* YamlReader::Find(const std::vector<Field>& fields, std::string_view key) {
  for (const Field& f : fields) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

}  // namespace sov::policy::internal
