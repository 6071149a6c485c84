#include "cli/client_config.h"

#include <arpa/inet.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <system_error>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "common/file.h"

namespace sov::cli {
namespace {

constexpr std::string_view kConfigKeys = "address, ca, cert, key, token_file, registry_key";

// yaml-cpp marks are 0-based; editors and compilers count from 1.
std::string Where(const std::string& path, const YAML::Mark& mark) {
  if (mark.is_null()) return path;
  return path + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

Status ConfigError(const std::string& path, const YAML::Mark& mark, std::string_view reason) {
  return InvalidArgument(Where(path, mark) + ": " + std::string(reason));
}

std::string DirectoryOf(const std::string& path) {
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  if (ec) absolute = path;
  std::filesystem::path parent = absolute.parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

// Picks the first setting present, recording where it came from.
struct Pick {
  std::string value;
  std::string source;
};

Pick First(const std::optional<std::string>& flag, std::string_view flag_name,
           const std::optional<std::string>& env_value, std::string_view env_name,
           const std::optional<std::string>& file_value, const std::string& file_path) {
  if (flag) return {*flag, std::string(flag_name)};
  if (env_value) return {*env_value, std::string(env_name)};
  if (file_value) return {*file_value, file_path};
  return {};
}

// Extracts the host of a gRPC target, without brackets; empty for Unix sockets.
std::string_view TargetHost(std::string_view address, bool* is_unix) {
  *is_unix = false;
  if (address.starts_with("unix:") || address.starts_with("unix-abstract:")) {
    *is_unix = true;
    return {};
  }
  for (std::string_view scheme : {"dns:///", "dns:", "ipv4:", "ipv6:"}) {
    if (address.starts_with(scheme)) {
      address.remove_prefix(scheme.size());
      break;
    }
  }
  if (address.starts_with("[")) {
    size_t close = address.find(']');
    if (close == std::string_view::npos) return {};
    return address.substr(1, close - 1);
  }
  // "host:port" or a bare IPv6 address with several colons ("::1"); a port is not required.
  size_t first = address.find(':');
  if (first != std::string_view::npos && address.find(':', first + 1) == std::string_view::npos) {
    return address.substr(0, first);
  }
  if (first == std::string_view::npos) return address;
  // Several colons: a bare IPv6 address, maybe with a port that cannot be told apart; the
  // loopback check below accepts "::1" and nothing else with colons.
  return address;
}

}  // namespace

EnvLookup ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
}

Result<ConfigFileSettings> ParseConfigFile(const std::string& path, std::string_view text) {
  ConfigFileSettings settings;
  settings.path = path;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return ConfigError(path, e.mark, e.msg);
  }
  if (!root || root.IsNull()) return settings;  // an empty file sets nothing
  if (!root.IsMap()) {
    return ConfigError(path, root.Mark(),
                       "expected a mapping of settings (" + std::string(kConfigKeys) + ")");
  }

  const std::string base_dir = DirectoryOf(path);
  std::set<std::string> seen;
  try {
    for (const auto& entry : root) {
      const YAML::Node& key_node = entry.first;
      const YAML::Node& value_node = entry.second;
      if (!key_node.IsScalar()) return ConfigError(path, key_node.Mark(), "expected a key name");
      const std::string key = key_node.Scalar();
      std::optional<std::string>* slot = nullptr;
      bool is_path = true;
      if (key == "address") {
        slot = &settings.address;
        is_path = false;
      } else if (key == "ca") {
        slot = &settings.ca_file;
      } else if (key == "cert") {
        slot = &settings.cert_file;
      } else if (key == "key") {
        slot = &settings.key_file;
      } else if (key == "token_file") {
        slot = &settings.token_file;
      } else if (key == "registry_key") {
        slot = &settings.registry_key_file;
      } else {
        return ConfigError(path, key_node.Mark(),
                           "unknown key '" + key + "' (expected one of " +
                               std::string(kConfigKeys) + ")");
      }
      if (!seen.insert(key).second) {
        return ConfigError(path, key_node.Mark(), "key '" + key + "' is given twice");
      }
      if (value_node.IsNull()) {
        // yaml-cpp marks a missing value where the next token starts; the key is clearer.
        return ConfigError(path, key_node.Mark(), "'" + key + "' has no value (expected a string)");
      }
      YAML::Mark value_mark = value_node.Mark().is_null() ? key_node.Mark() : value_node.Mark();
      if (!value_node.IsScalar()) {
        return ConfigError(path, value_mark, "'" + key + "' must be a string");
      }
      std::string value = value_node.Scalar();
      if (value.empty()) return ConfigError(path, value_mark, "'" + key + "' must not be empty");
      *slot = is_path ? ResolvePath(base_dir, value) : value;
    }
  } catch (const YAML::Exception& e) {
    return ConfigError(path, e.mark, e.msg);
  }
  return settings;
}

Result<ConfigFileSettings> LoadConfigFile(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status().WithContext("config file");
  return ParseConfigFile(path, *text);
}

Result<std::optional<std::string>> LocateConfigFile(const ConnectionFlags& flags,
                                                    const EnvLookup& env) {
  auto must_exist = [](const std::string& path,
                       std::string_view named_by) -> Result<std::optional<std::string>> {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      return NotFound("config file " + path + " (from " + std::string(named_by) +
                      ") does not exist");
    }
    return std::optional<std::string>(path);
  };
  if (flags.config_file) return must_exist(*flags.config_file, "--config");
  if (auto from_env = env("SOV_CONFIG")) return must_exist(*from_env, "SOV_CONFIG");

  std::string dir;
  if (auto xdg = env("XDG_CONFIG_HOME")) {
    dir = *xdg;
  } else if (auto home = env("HOME")) {
    dir = *home + "/.config";
  } else {
    return std::optional<std::string>();
  }
  std::string candidate = dir + "/sovctl/config.yaml";
  std::error_code ec;
  if (std::filesystem::is_regular_file(candidate, ec)) return std::optional<std::string>(candidate);
  return std::optional<std::string>();
}

Result<ClientConfig> ResolveClientConfig(const ConnectionFlags& flags, const EnvLookup& env) {
  SOV_ASSIGN_OR_RETURN(std::optional<std::string> config_path, LocateConfigFile(flags, env));
  ConfigFileSettings file;
  if (config_path) {
    SOV_ASSIGN_OR_RETURN(file, LoadConfigFile(*config_path));
  }

  ClientConfig config;
  config.config_file = config_path.value_or("");
  Pick address = First(flags.address, "--addr", env("SOV_ADDR"), "SOV_ADDR", file.address, file.path);
  config.address = address.value;
  config.address_source = address.source;
  config.ca_file = First(flags.ca_file, "--ca", env("SOV_CA"), "SOV_CA", file.ca_file, file.path).value;
  config.cert_file =
      First(flags.cert_file, "--cert", env("SOV_CERT"), "SOV_CERT", file.cert_file, file.path).value;
  config.key_file =
      First(flags.key_file, "--key", env("SOV_KEY"), "SOV_KEY", file.key_file, file.path).value;
  // SOV_TOKEN carries the token itself (a flag would show it in `ps`), so it sits between the
  // --token-file flag and the config file's token_file.
  if (flags.token_file) {
    config.token_file = *flags.token_file;
  } else if (auto token = env("SOV_TOKEN")) {
    config.token = *token;
  } else if (file.token_file) {
    config.token_file = *file.token_file;
  }

  if (config.address.empty()) {
    return InvalidArgument(
        "no gateway address: pass --addr HOST:PORT, set SOV_ADDR, or set 'address' in a config "
        "file (--config, SOV_CONFIG, ~/.config/sovctl/config.yaml)");
  }
  if (!(flags.timeout_seconds > 0) || !std::isfinite(flags.timeout_seconds)) {
    return InvalidArgument("--timeout must be a positive number of seconds");
  }
  config.timeout = std::chrono::milliseconds(
      static_cast<long long>(std::ceil(flags.timeout_seconds * 1000.0)));
  config.insecure = flags.insecure;
  if (config.insecure && !IsLoopbackAddress(config.address)) {
    return InvalidArgument("--insecure sends everything in plaintext and is refused for " +
                           config.address + " (from " + config.address_source +
                           "), which is not a loopback address");
  }
  return config;
}

bool IsLoopbackAddress(std::string_view address) {
  bool is_unix = false;
  std::string host(TargetHost(address, &is_unix));
  if (is_unix) return true;
  if (host == "localhost" || host == "::1") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

Result<ClientCredentials> LoadClientCredentials(const ClientConfig& config) {
  ClientCredentials creds;
  if (!config.insecure) {
    if (!config.cert_file.empty() && config.key_file.empty()) {
      return InvalidArgument("client certificate " + config.cert_file +
                             " is given without its key (--key, SOV_KEY or 'key')");
    }
    if (config.cert_file.empty() && !config.key_file.empty()) {
      return InvalidArgument("client key " + config.key_file +
                             " is given without its certificate (--cert, SOV_CERT or 'cert')");
    }
    if (!config.ca_file.empty()) {
      Result<std::string> ca = ReadFile(config.ca_file);
      if (!ca.ok()) return ca.status().WithContext("CA file");
      creds.root_certs_pem = std::move(ca).value();
    }
    if (!config.cert_file.empty()) {
      Result<std::string> cert = ReadFile(config.cert_file);
      if (!cert.ok()) return cert.status().WithContext("client certificate");
      creds.cert_chain_pem = std::move(cert).value();
      Result<std::string> key = ReadPrivateFile(config.key_file);
      if (!key.ok()) return key.status().WithContext("client key");
      creds.private_key_pem = std::move(key).value();
    }
  }

  if (!config.token_file.empty()) {
    // A bearer token is as good as a private key, so its file passes the same mode check.
    Result<std::string> token = ReadPrivateFile(config.token_file);
    if (!token.ok()) return token.status().WithContext("token file");
    creds.token = std::move(token).value();
    while (!creds.token.empty() && std::isspace(static_cast<unsigned char>(creds.token.back()))) {
      creds.token.pop_back();
    }
    if (creds.token.empty()) return InvalidArgument("token file " + config.token_file + " is empty");
  } else {
    creds.token = config.token;
  }
  if (creds.token.find_first_of("\r\n") != std::string::npos) {
    return InvalidArgument("the bearer token contains a line break");
  }
  return creds;
}

}  // namespace sov::cli
