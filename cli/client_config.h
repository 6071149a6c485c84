// How sovctl finds the gateway and proves who it is. Each connection setting is taken from the
// first place that gives it: a command-line flag, then an environment variable, then the config
// file (YAML; see docs/cli.md):
//
//   setting      flag           environment  config key
//   address      --addr         SOV_ADDR     address
//   CA bundle    --ca           SOV_CA       ca
//   client cert  --cert         SOV_CERT     cert
//   client key   --key          SOV_KEY      key
//   token        --token-file   SOV_TOKEN    token_file   (SOV_TOKEN holds the token itself)
//
// The registry's public key, which pull, verify and audit verify check signatures with, is
// found the same way (a command's --registry-key, SOV_REGISTRY_KEY, config key registry_key);
// cli/registry_key.h resolves it, since it is needed offline too.
//
// The config file is --config FILE, else $SOV_CONFIG, else $XDG_CONFIG_HOME/sovctl/config.yaml
// (or ~/.config/sovctl/config.yaml) when that exists. Relative paths in it resolve against its
// directory. Called by the commands that talk to sovd, and by tests with a fake environment.
// Pure functions of their arguments and the files they read: thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sov::cli {

// Connection settings given on the command line; an unset optional was not given.
struct ConnectionFlags {
  std::optional<std::string> config_file;
  std::optional<std::string> address;
  std::optional<std::string> ca_file;
  std::optional<std::string> cert_file;
  std::optional<std::string> key_file;
  std::optional<std::string> token_file;
  bool insecure = false;
  double timeout_seconds = 30;
};

// Looks up an environment variable; nullopt when it is unset or empty.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Returns an EnvLookup that reads the process environment.
EnvLookup ProcessEnvironment();

// What a sovctl config file sets, with relative paths already resolved against its directory.
struct ConfigFileSettings {
  std::string path;  // the file it came from
  std::optional<std::string> address;
  std::optional<std::string> ca_file;
  std::optional<std::string> cert_file;
  std::optional<std::string> key_file;
  std::optional<std::string> token_file;
  std::optional<std::string> registry_key_file;  // PEM public key of the registry
};

// Parses the YAML `text` of the config file at `path` (used for messages and to resolve relative
// paths). INVALID_ARGUMENT "PATH:LINE:COL: reason" for malformed YAML, an unknown or repeated key,
// or a value that is not a non-empty string. An empty file sets nothing.
Result<ConfigFileSettings> ParseConfigFile(const std::string& path, std::string_view text);

// Reads and parses the config file at `path`; NOT_FOUND naming it when it does not exist.
Result<ConfigFileSettings> LoadConfigFile(const std::string& path);

// Returns the config file that applies: --config, else $SOV_CONFIG (both must exist), else the
// XDG default when it exists; nullopt when there is none. NOT_FOUND names a missing file and
// where it was named.
Result<std::optional<std::string>> LocateConfigFile(const ConnectionFlags& flags,
                                                    const EnvLookup& env);

// The resolved settings for one connection. Paths are as given (flags and environment) or
// absolute (config file); empty means not set.
struct ClientConfig {
  std::string address;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string token_file;  // read by LoadClientCredentials
  std::string token;       // from SOV_TOKEN; empty when not set there
  bool insecure = false;
  std::chrono::milliseconds timeout{30000};
  std::string config_file;  // the config file used, or empty

  // Returns where the address came from, for messages ("--addr", "SOV_ADDR", a file).
  std::string address_source;
};

// Merges flags, environment and config file by precedence (see the header comment).
// INVALID_ARGUMENT when no address is given anywhere, the timeout is not positive, or --insecure
// names an address that is not loopback; config file errors as LoadConfigFile reports them.
Result<ClientConfig> ResolveClientConfig(const ConnectionFlags& flags, const EnvLookup& env);

// Returns true when `address` (a gRPC target: "host:port", "[::1]:port", "dns:///host:port",
// "ipv4:127.0.0.1:port", "unix:path") names this machine only: localhost, 127.0.0.0/8, ::1 or
// a Unix socket.
bool IsLoopbackAddress(std::string_view address);

// The file contents a connection needs, read and checked.
struct ClientCredentials {
  std::string root_certs_pem;   // empty: the system's roots
  std::string cert_chain_pem;   // empty: no client certificate
  std::string private_key_pem;  // empty: no client certificate
  std::string token;            // empty: no bearer token
};

// Reads the files `config` names. With insecure set, TLS files are not read (plaintext has no
// use for them). PERMISSION_DENIED when the client key or token file may be read by group or
// others; INVALID_ARGUMENT when a certificate comes without its key (or the reverse) or a token
// file is empty; file errors name the file.
Result<ClientCredentials> LoadClientCredentials(const ClientConfig& config);

}  // namespace sov::cli
