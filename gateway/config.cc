#include "gateway/config.h"

#include <filesystem>
#include <set>

#include "common/file.h"
#include "gateway/internal/iso3166.h"
#include "gateway/internal/yaml_reader.h"

namespace sov::gateway {
namespace {

using internal::MapReader;

// Reads a path-valued key, records its location and resolves it against `base_dir`.
Result<std::string> ReadPath(MapReader& reader, std::string_view key, const std::string& base_dir,
                             ServerConfig& config) {
  SOV_ASSIGN_OR_RETURN(std::string value, reader.RequiredString(key));
  if (value.empty()) return reader.ErrorFor(key, "must not be empty");
  config.locations[reader.Name(key)] = internal::Where(config.file, reader.MarkOf(key));
  return ResolvePath(base_dir, value);
}

Result<TlsFiles> ReadTls(MapReader& root, const std::string& base_dir, ServerConfig& config) {
  SOV_ASSIGN_OR_RETURN(MapReader tls, MapReader::Create(config.file, root.Get("tls"), "tls"));
  TlsFiles files;
  SOV_ASSIGN_OR_RETURN(files.cert, ReadPath(tls, "cert", base_dir, config));
  SOV_ASSIGN_OR_RETURN(files.key, ReadPath(tls, "key", base_dir, config));
  SOV_ASSIGN_OR_RETURN(files.client_ca, ReadPath(tls, "client_ca", base_dir, config));
  SOV_RETURN_IF_ERROR(tls.CheckNoUnknownKeys({"cert", "key", "client_ca"}));
  return files;
}

Status ReadStorage(MapReader& root, const std::string& base_dir, ServerConfig& config) {
  if (!root.Has("storage")) {
    return internal::ErrorAt(config.file, root.mark(),
                             "storage: required key is missing; name at least one storage "
                             "location, e.g. [{name: eu-de-1, jurisdiction: DE, path: blobs/eu-de-1}]");
  }
  YAML::Node list = root.Get("storage");
  if (!list.IsSequence() || list.size() == 0) {
    return root.ErrorFor("storage", "expected a non-empty list of {name, jurisdiction, path}");
  }
  std::map<std::string, std::string> seen;  // name -> where
  for (size_t i = 0; i < list.size(); ++i) {
    std::string path = "storage[" + std::to_string(i) + "]";
    SOV_ASSIGN_OR_RETURN(MapReader entry, MapReader::Create(config.file, list[i], path));
    StorageLocation location;
    SOV_ASSIGN_OR_RETURN(location.name, entry.RequiredString("name"));
    if (location.name.empty()) return entry.ErrorFor("name", "must not be empty");
    std::string where = internal::Where(config.file, entry.MarkOf("name"));
    if (auto [it, inserted] = seen.emplace(location.name, where); !inserted) {
      return entry.ErrorFor("name", "duplicate storage location '" + location.name +
                                        "' (first at " + it->second + ")");
    }
    SOV_ASSIGN_OR_RETURN(location.jurisdiction, entry.RequiredString("jurisdiction"));
    if (!internal::IsIso3166Alpha2(location.jurisdiction)) {
      return entry.ErrorFor("jurisdiction", "'" + location.jurisdiction +
                                                "' is not an ISO 3166-1 alpha-2 country code (e.g. DE, FR, US)");
    }
    SOV_ASSIGN_OR_RETURN(location.path, ReadPath(entry, "path", base_dir, config));
    SOV_RETURN_IF_ERROR(entry.CheckNoUnknownKeys({"name", "jurisdiction", "path"}));
    config.storage.push_back(std::move(location));
  }
  return OkStatus();
}

}  // namespace

Status ServerConfig::ErrorAt(std::string_view key, const Status& status) const {
  auto it = locations.find(std::string(key));
  std::string where = it != locations.end() ? it->second : file;
  return Status(status.code(), where + ": error: " + std::string(key) + ": " + status.message());
}

Result<ServerConfig> ParseServerConfig(std::string_view text, const std::string& file) {
  ServerConfig config;
  config.file = file;
  const std::string base_dir = std::filesystem::path(file).parent_path().string();

  SOV_ASSIGN_OR_RETURN(YAML::Node root, internal::ParseYaml(text, file));
  SOV_ASSIGN_OR_RETURN(MapReader reader, MapReader::Create(file, root, ""));

  SOV_ASSIGN_OR_RETURN(std::string listen, reader.RequiredString("listen"));
  Result<ListenAddress> address = ParseListenAddress(listen);
  if (!address.ok()) return reader.ErrorFor("listen", address.status().message());
  config.listen = *address;
  config.locations["listen"] = internal::Where(file, reader.MarkOf("listen"));

  if (reader.Has("data_dir")) {
    SOV_ASSIGN_OR_RETURN(config.data_dir, ReadPath(reader, "data_dir", base_dir, config));
  } else {
    config.data_dir = base_dir.empty() ? "." : base_dir;
  }
  if (reader.Has("tls")) {
    SOV_ASSIGN_OR_RETURN(TlsFiles tls, ReadTls(reader, base_dir, config));
    config.tls = std::move(tls);
  }
  SOV_ASSIGN_OR_RETURN(config.master_key, ReadPath(reader, "master_key", base_dir, config));
  SOV_ASSIGN_OR_RETURN(config.signing_key, ReadPath(reader, "signing_key", base_dir, config));
  SOV_RETURN_IF_ERROR(ReadStorage(reader, base_dir, config));
  SOV_ASSIGN_OR_RETURN(config.tenants, ReadPath(reader, "tenants", base_dir, config));
  SOV_ASSIGN_OR_RETURN(config.policy, ReadPath(reader, "policy", base_dir, config));
  SOV_RETURN_IF_ERROR(reader.CheckNoUnknownKeys({"listen", "data_dir", "tls", "master_key",
                                                 "signing_key", "storage", "tenants", "policy"}));
  return config;
}

Result<ServerConfig> LoadServerConfig(const std::string& file) {
  Result<std::string> text = ReadFile(file);
  if (!text.ok()) {
    return Status(text.status().code(), file + ": error: " + text.status().message());
  }
  return ParseServerConfig(*text, file);
}

}  // namespace sov::gateway
