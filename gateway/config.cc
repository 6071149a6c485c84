#include "gateway/config.h"

#include <filesystem>
#include <set>

#include "common/file.h"
#include "gateway/tenants.h"
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

// "90s", "15m", "24h", "500ms", "2d" -> milliseconds.
Result<int64_t> ParseDurationMs(std::string_view text) {
  static constexpr std::pair<std::string_view, int64_t> kUnits[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
  for (const auto& [suffix, factor] : kUnits) {
    if (!text.ends_with(suffix)) continue;
    std::string_view digits = text.substr(0, text.size() - suffix.size());
    if (digits.empty() || digits.size() > 12) break;
    int64_t value = 0;
    bool ok = true;
    for (char c : digits) {
      if (c < '0' || c > '9') ok = false;
      value = value * 10 + (c - '0');
    }
    if (!ok) break;
    // Longer is a typo, and would overflow once added to a clock's time.
    constexpr int64_t kMaxMs = int64_t{36'525} * 86'400'000;  // 100 years
    if (value > kMaxMs / factor) {
      return InvalidArgument("'" + std::string(text) + "' is longer than 100 years");
    }
    return value * factor;
  }
  return InvalidArgument("'" + std::string(text) +
                         "' is not a duration (an integer with ms, s, m, h or d, e.g. 24h)");
}

// `ms` in the largest unit that divides it: 10 -> "10ms", 5000 -> "5s", 3600000 -> "1h".
std::string FormatDurationMs(int64_t ms) {
  static constexpr std::pair<std::string_view, int64_t> kUnits[] = {
      {"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1000}};
  for (const auto& [suffix, factor] : kUnits) {
    if (ms != 0 && ms % factor == 0) return std::to_string(ms / factor) + std::string(suffix);
  }
  return std::to_string(ms) + "ms";
}

// `key`'s value, when present: a duration from `least_ms` to `most_ms` (0: no upper bound), in
// milliseconds; the error names the bounds. With `zero_disables` (what a zero turns off, e.g.
// "the background sweep"), a zero ("0", "0s", ...) is accepted as well, and every error says so.
Status ReadDurationMs(MapReader& section, std::string_view key, int64_t least_ms,
                      int64_t most_ms, int64_t& out, std::string_view zero_disables = {}) {
  SOV_ASSIGN_OR_RETURN(auto text, section.OptionalString(key));
  if (!text.has_value()) return OkStatus();
  const bool zero_allowed = !zero_disables.empty();
  Result<int64_t> ms = *text == "0" && zero_allowed ? Result<int64_t>(0) : ParseDurationMs(*text);
  if (!ms.ok()) {
    std::string message = ms.status().message();
    if (zero_allowed) message += "; 0 disables " + std::string(zero_disables);
    return section.ErrorFor(key, message);
  }
  if (!(zero_allowed && *ms == 0) && (*ms < least_ms || (most_ms != 0 && *ms > most_ms))) {
    std::string message = most_ms == 0 ? "must be at least " + FormatDurationMs(least_ms)
                                       : "must be between " + FormatDurationMs(least_ms) +
                                             " and " + FormatDurationMs(most_ms);
    if (zero_allowed) message += ", or 0 to disable " + std::string(zero_disables);
    return section.ErrorFor(key, message);
  }
  out = *ms;
  return OkStatus();
}

Status ReadRegistry(MapReader& root, const std::string& base_dir, ServerConfig& config) {
  config.registry.database = (std::filesystem::path(config.data_dir) / "registry.db").string();
  if (!root.Has("registry")) return OkStatus();
  SOV_ASSIGN_OR_RETURN(MapReader section,
                       MapReader::Create(config.file, root.Get("registry"), "registry"));
  if (section.Has("database")) {
    SOV_ASSIGN_OR_RETURN(config.registry.database,
                         ReadPath(section, "database", base_dir, config));
  }
  auto size = [&](std::string_view key, int64_t& out) -> Status {
    SOV_ASSIGN_OR_RETURN(auto text, section.OptionalString(key));
    if (!text.has_value()) return OkStatus();
    Result<int64_t> bytes = ParseByteSize(*text);
    if (!bytes.ok()) return section.ErrorFor(key, bytes.status().message());
    if (*bytes <= 0) return section.ErrorFor(key, "must be positive");
    out = *bytes;
    return OkStatus();
  };
  SOV_RETURN_IF_ERROR(size("max_artifact_size", config.registry.max_artifact_bytes));
  SOV_RETURN_IF_ERROR(size("max_chunk_size", config.registry.max_chunk_bytes));
  int64_t ttl_ms = config.registry.upload_ttl_seconds * 1000;
  SOV_RETURN_IF_ERROR(ReadDurationMs(section, "upload_ttl", 1000, 0, ttl_ms));
  config.registry.upload_ttl_seconds = ttl_ms / 1000;
  return section.CheckNoUnknownKeys({"database", "max_artifact_size", "max_chunk_size", "upload_ttl"});
}

Status ReadAudit(MapReader& root, ServerConfig& config) {
  if (!root.Has("audit")) return OkStatus();
  SOV_ASSIGN_OR_RETURN(MapReader section, MapReader::Create(config.file, root.Get("audit"), "audit"));
  SOV_ASSIGN_OR_RETURN(auto origin, section.OptionalString("origin"));
  if (origin.has_value()) {
    if (origin->empty() || origin->size() > 255) {
      return section.ErrorFor("origin", "must be 1 to 255 characters, e.g. sovereign.example.eu/audit");
    }
    config.audit.origin = *origin;
  }
  SOV_RETURN_IF_ERROR(
      ReadDurationMs(section, "checkpoint_interval", 10, 0, config.audit.checkpoint_interval_ms));
  return section.CheckNoUnknownKeys({"origin", "checkpoint_interval"});
}

// `key`'s value, when present: a whole number from `least` to `most`; the error names the range
// and adds `hint`.
Status ReadWholeNumber(MapReader& section, std::string_view key, int least, int most,
                       std::string_view hint, int& out) {
  SOV_ASSIGN_OR_RETURN(auto text, section.OptionalString(key));
  if (!text.has_value()) return OkStatus();
  int64_t value = -1;
  bool ok = !text->empty() && text->size() <= 4;
  for (char c : *text) ok = ok && c >= '0' && c <= '9';
  if (ok) value = std::stoll(*text);
  if (!ok || value < least || value > most) {
    return section.ErrorFor(key, "'" + *text + "' is not a whole number from " +
                                     std::to_string(least) + " to " + std::to_string(most) +
                                     std::string(hint));
  }
  out = static_cast<int>(value);
  return OkStatus();
}

Status ReadValidation(MapReader& root, ServerConfig& config) {
  if (!root.Has("validation")) return OkStatus();
  SOV_ASSIGN_OR_RETURN(MapReader section,
                       MapReader::Create(config.file, root.Get("validation"), "validation"));
  SOV_RETURN_IF_ERROR(ReadWholeNumber(section, "workers", 0, 256, "", config.validation.workers));
  SOV_RETURN_IF_ERROR(
      ReadWholeNumber(section, "max_attempts", 0, 100, "", config.validation.max_attempts));
  SOV_ASSIGN_OR_RETURN(auto backend, section.OptionalString("backend"));
  if (backend.has_value()) {
    if (*backend != "auto" && *backend != "cpu" && *backend != "cuda") {
      return section.ErrorFor("backend", "'" + *backend + "' is not one of auto, cpu, cuda");
    }
    config.validation.backend = *backend;
  }
  int64_t lease_ms = config.validation.lease_seconds * 1000;
  SOV_RETURN_IF_ERROR(ReadDurationMs(section, "lease", 5000, 0, lease_ms));
  config.validation.lease_seconds = lease_ms / 1000;
  SOV_RETURN_IF_ERROR(
      ReadDurationMs(section, "poll_interval", 10, 3'600'000, config.validation.poll_interval_ms));
  SOV_ASSIGN_OR_RETURN(auto external, section.OptionalString("external_workers"));
  if (external.has_value()) {
    if (*external != "true" && *external != "false") {
      return section.ErrorFor("external_workers", "'" + *external + "' is not true or false");
    }
    config.validation.external_workers = *external == "true";
  }
  return section.CheckNoUnknownKeys(
      {"workers", "backend", "lease", "external_workers", "max_attempts", "poll_interval"});
}

Status ReadRetention(MapReader& root, ServerConfig& config) {
  if (!root.Has("retention")) return OkStatus();
  SOV_ASSIGN_OR_RETURN(MapReader section,
                       MapReader::Create(config.file, root.Get("retention"), "retention"));
  SOV_RETURN_IF_ERROR(ReadDurationMs(section, "sweep_interval", 1000, 0,
                                     config.retention.sweep_interval_ms, "the background sweep"));
  SOV_RETURN_IF_ERROR(ReadWholeNumber(section, "sweep_concurrency", 1, kMaxSweepConcurrency,
                                      " (1 erases one artifact after another)",
                                      config.retention.sweep_concurrency));
  return section.CheckNoUnknownKeys({"sweep_interval", "sweep_concurrency"});
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
  SOV_RETURN_IF_ERROR(ReadRegistry(reader, base_dir, config));
  SOV_RETURN_IF_ERROR(ReadAudit(reader, config));
  SOV_RETURN_IF_ERROR(ReadValidation(reader, config));
  SOV_RETURN_IF_ERROR(ReadRetention(reader, config));
  SOV_RETURN_IF_ERROR(reader.CheckNoUnknownKeys({"listen", "data_dir", "tls", "master_key",
                                                 "signing_key", "storage", "tenants", "policy",
                                                 "registry", "audit", "validation",
                                                 "retention"}));
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
