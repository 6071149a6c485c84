// Shows how sovctl resolves connection settings: flag over environment over config file, config file discovery, path resolution, errors with file:line:col, and credential file checks.
#include "cli/client_config.h"

#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/cli/temp_dir.h"

namespace sov::cli {
namespace {

using ::sov::cli::testing::TempDir;
using ::sov::cli::testing::WriteTestFile;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A fake environment: exactly the variables in the map (empty values count as unset).
EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

constexpr const char* kFullConfig =
    "address: file.example:443\n"
    "ca: certs/ca.pem\n"
    "cert: certs/client.pem\n"
    "key: certs/client.key\n"
    "token_file: token\n";

// A flag beats the environment, which beats the config file, setting by setting.
TEST(ResolveClientConfig, FlagBeatsEnvironmentBeatsFile) {
  TempDir dir;
  std::string config = WriteTestFile(dir.Join("config.yaml"), kFullConfig);
  ConnectionFlags flags;
  flags.config_file = config;
  flags.address = "flag.example:443";
  flags.cert_file = "flag-client.pem";
  auto env = FakeEnv({{"SOV_ADDR", "env.example:443"}, {"SOV_CA", "env-ca.pem"},
                      {"SOV_CERT", "env-client.pem"}});

  Result<ClientConfig> resolved = ResolveClientConfig(flags, env);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  EXPECT_EQ(resolved->address, "flag.example:443");
  EXPECT_EQ(resolved->address_source, "--addr");
  EXPECT_EQ(resolved->ca_file, "env-ca.pem");
  EXPECT_EQ(resolved->cert_file, "flag-client.pem");
  EXPECT_EQ(resolved->key_file, dir.Join("certs/client.key"));
  EXPECT_EQ(resolved->token_file, dir.Join("token"));
  EXPECT_EQ(resolved->config_file, config);
}

// Settings only in the config file are taken from it, with paths made absolute against its directory.
TEST(ResolveClientConfig, FileRelativePathsResolveAgainstItsDirectory) {
  TempDir dir;
  std::string config = WriteTestFile(dir.Join("sub/dir/config.yaml"), kFullConfig);
  ConnectionFlags flags;
  flags.config_file = config;
  Result<ClientConfig> resolved = ResolveClientConfig(flags, FakeEnv({}));
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  EXPECT_EQ(resolved->address, "file.example:443");
  EXPECT_EQ(resolved->address_source, config);
  EXPECT_EQ(resolved->ca_file, dir.Join("sub/dir/certs/ca.pem"));
  EXPECT_EQ(resolved->cert_file, dir.Join("sub/dir/certs/client.pem"));
  EXPECT_EQ(resolved->key_file, dir.Join("sub/dir/certs/client.key"));
  EXPECT_EQ(resolved->token_file, dir.Join("sub/dir/token"));
}

// Absolute paths in the config file are kept as they are.
TEST(ResolveClientConfig, FileAbsolutePathsAreKept) {
  TempDir dir;
  std::string config = WriteTestFile(dir.Join("config.yaml"),
                                     "address: 127.0.0.1:1\nca: /etc/sov/ca.pem\n");
  ConnectionFlags flags;
  flags.config_file = config;
  Result<ClientConfig> resolved = ResolveClientConfig(flags, FakeEnv({}));
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  EXPECT_EQ(resolved->ca_file, "/etc/sov/ca.pem");
}

// SOV_TOKEN (the token itself) sits between --token-file and the file's token_file.
TEST(ResolveClientConfig, TokenPrecedence) {
  TempDir dir;
  std::string config = WriteTestFile(dir.Join("config.yaml"), kFullConfig);
  ConnectionFlags flags;
  flags.config_file = config;

  Result<ClientConfig> from_env = ResolveClientConfig(flags, FakeEnv({{"SOV_TOKEN", "sovt_env"}}));
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(from_env->token, "sovt_env");
  EXPECT_EQ(from_env->token_file, "");

  flags.token_file = "flag.token";
  Result<ClientConfig> from_flag = ResolveClientConfig(flags, FakeEnv({{"SOV_TOKEN", "sovt_env"}}));
  ASSERT_TRUE(from_flag.ok());
  EXPECT_EQ(from_flag->token, "");
  EXPECT_EQ(from_flag->token_file, "flag.token");
}

// The config file is --config, else SOV_CONFIG, else the XDG default, else ~/.config.
TEST(LocateConfigFile, Precedence) {
  TempDir dir;
  std::string by_flag = WriteTestFile(dir.Join("flag.yaml"), "");
  std::string by_env = WriteTestFile(dir.Join("env.yaml"), "");
  std::string by_xdg = WriteTestFile(dir.Join("xdg/sovctl/config.yaml"), "");
  std::string by_home = WriteTestFile(dir.Join("home/.config/sovctl/config.yaml"), "");
  ConnectionFlags flags;
  flags.config_file = by_flag;
  auto env = FakeEnv({{"SOV_CONFIG", by_env},
                      {"XDG_CONFIG_HOME", dir.Join("xdg")},
                      {"HOME", dir.Join("home")}});

  EXPECT_EQ(LocateConfigFile(flags, env).value(), by_flag);
  EXPECT_EQ(LocateConfigFile({}, env).value(), by_env);
  EXPECT_EQ(LocateConfigFile({}, FakeEnv({{"XDG_CONFIG_HOME", dir.Join("xdg")},
                                          {"HOME", dir.Join("home")}}))
                .value(),
            by_xdg);
  EXPECT_EQ(LocateConfigFile({}, FakeEnv({{"HOME", dir.Join("home")}})).value(), by_home);
  EXPECT_EQ(LocateConfigFile({}, FakeEnv({{"HOME", dir.Join("nobody")}})).value(), std::nullopt);
}

// A config file named explicitly must exist; the error says who named it.
TEST(LocateConfigFile, MissingNamedFileIsAnError) {
  TempDir dir;
  ConnectionFlags flags;
  flags.config_file = dir.Join("absent.yaml");
  Result<std::optional<std::string>> by_flag = LocateConfigFile(flags, FakeEnv({}));
  ASSERT_FALSE(by_flag.ok());
  EXPECT_EQ(by_flag.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(by_flag.status().message(), HasSubstr("absent.yaml (from --config)"));

  Result<std::optional<std::string>> by_env =
      LocateConfigFile({}, FakeEnv({{"SOV_CONFIG", dir.Join("gone.yaml")}}));
  ASSERT_FALSE(by_env.ok());
  EXPECT_THAT(by_env.status().message(), HasSubstr("gone.yaml (from SOV_CONFIG)"));
}

// Malformed YAML is reported as FILE:LINE:COL.
TEST(ParseConfigFile, MalformedYamlNamesLineAndColumn) {
  Result<ConfigFileSettings> parsed =
      ParseConfigFile("/etc/sovctl.yaml", "address: a:1\nca: [unclosed\n");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), StartsWith("/etc/sovctl.yaml:"));
  EXPECT_THAT(parsed.status().message(), ::testing::MatchesRegex("/etc/sovctl\\.yaml:[0-9]+:[0-9]+: .+"));
}

// An unknown key is refused at its exact line and column, with the keys that are allowed.
TEST(ParseConfigFile, UnknownKeyNamesLineAndColumn) {
  Result<ConfigFileSettings> parsed =
      ParseConfigFile("c.yaml", "address: a:1\n  \nadress: b:2\n");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().message(),
            "c.yaml:3:1: unknown key 'adress' (expected one of address, ca, cert, key, "
            "token_file, registry_key)");
}

// A value that is not a non-empty string is refused where the value is.
TEST(ParseConfigFile, BadValuesNameLineAndColumn) {
  Result<ConfigFileSettings> list = ParseConfigFile("c.yaml", "address: a:1\nca: [x, y]\n");
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().message(), "c.yaml:2:5: 'ca' must be a string");

  Result<ConfigFileSettings> empty = ParseConfigFile("c.yaml", "cert: \"\"\n");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().message(), "c.yaml:1:7: 'cert' must not be empty");

  Result<ConfigFileSettings> null = ParseConfigFile("c.yaml", "key:\n");
  ASSERT_FALSE(null.ok());
  EXPECT_EQ(null.status().message(), "c.yaml:1:1: 'key' has no value (expected a string)");
}

// A key given twice is refused rather than silently taking one of the values.
TEST(ParseConfigFile, RepeatedKeyIsRefused) {
  Result<ConfigFileSettings> parsed = ParseConfigFile("c.yaml", "address: a:1\naddress: b:2\n");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().message(), "c.yaml:2:1: key 'address' is given twice");
}

// A document that is not a mapping is refused; an empty file sets nothing.
TEST(ParseConfigFile, TopLevelMustBeAMappingButMayBeEmpty) {
  Result<ConfigFileSettings> list = ParseConfigFile("c.yaml", "- address\n");
  ASSERT_FALSE(list.ok());
  EXPECT_THAT(list.status().message(), StartsWith("c.yaml:1:1: expected a mapping"));

  Result<ConfigFileSettings> empty = ParseConfigFile("c.yaml", "# nothing yet\n");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->address.has_value());
}

// A bad config file fails resolution with its FILE:LINE:COL message.
TEST(ResolveClientConfig, BadConfigFileFails) {
  TempDir dir;
  std::string config = WriteTestFile(dir.Join("config.yaml"), "address: a:1\ntimeout: 3\n");
  Result<ClientConfig> resolved = ResolveClientConfig({}, FakeEnv({{"SOV_CONFIG", config}}));
  ASSERT_FALSE(resolved.ok());
  EXPECT_THAT(resolved.status().message(), StartsWith(config + ":2:1: unknown key 'timeout'"));
}

// Without an address anywhere, resolution fails and says where one may be given.
TEST(ResolveClientConfig, MissingAddressIsAnError) {
  Result<ClientConfig> resolved = ResolveClientConfig({}, FakeEnv({}));
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(resolved.status().message(), HasSubstr("--addr"));
  EXPECT_THAT(resolved.status().message(), HasSubstr("SOV_ADDR"));
}

// --insecure is accepted for loopback addresses only.
TEST(ResolveClientConfig, InsecureOnlyOnLoopback) {
  ConnectionFlags flags;
  flags.insecure = true;
  flags.address = "127.0.0.1:7443";
  EXPECT_TRUE(ResolveClientConfig(flags, FakeEnv({})).ok());
  flags.address = "gateway.example.eu:7443";
  Result<ClientConfig> remote = ResolveClientConfig(flags, FakeEnv({}));
  ASSERT_FALSE(remote.ok());
  EXPECT_THAT(remote.status().message(), HasSubstr("not a loopback address"));
}

// The timeout must be positive and becomes milliseconds.
TEST(ResolveClientConfig, Timeout) {
  ConnectionFlags flags;
  flags.address = "127.0.0.1:1";
  flags.timeout_seconds = 2.5;
  EXPECT_EQ(ResolveClientConfig(flags, FakeEnv({}))->timeout, std::chrono::milliseconds(2500));
  flags.timeout_seconds = 0;
  EXPECT_FALSE(ResolveClientConfig(flags, FakeEnv({})).ok());
}

// Loopback means localhost, 127.0.0.0/8, ::1 or a Unix socket, in any gRPC target syntax.
TEST(IsLoopbackAddress, RecognisesLoopbackTargets) {
  for (const char* address : {"localhost:1", "127.0.0.1:7443", "127.1.2.3:1", "[::1]:7443", "::1",
                              "dns:///localhost:7443", "ipv4:127.0.0.1:7443", "ipv6:[::1]:7443",
                              "unix:/run/sovd.sock", "localhost"}) {
    EXPECT_TRUE(IsLoopbackAddress(address)) << address;
  }
  for (const char* address : {"10.0.0.1:7443", "gateway.example.eu:443", "[2001:db8::1]:7443",
                              "0.0.0.0:7443", "128.0.0.1:1", "dns:///example.com:443",
                              "localhost.evil.example:1", ""}) {
    EXPECT_FALSE(IsLoopbackAddress(address)) << address;
  }
}

ClientConfig TlsConfig(const TempDir& dir, mode_t key_mode) {
  ClientConfig config;
  config.address = "127.0.0.1:1";
  config.ca_file = WriteTestFile(dir.Join("ca.pem"), "CA PEM");
  config.cert_file = WriteTestFile(dir.Join("client.pem"), "CERT PEM");
  config.key_file = WriteTestFile(dir.Join("client.key"), "KEY PEM", key_mode);
  return config;
}

// A client key that group or others may read is refused, naming the file.
TEST(LoadClientCredentials, GroupReadableKeyIsRefused) {
  TempDir dir;
  ClientConfig config = TlsConfig(dir, 0644);
  Result<ClientCredentials> creds = LoadClientCredentials(config);
  ASSERT_FALSE(creds.ok());
  EXPECT_EQ(creds.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(creds.status().message(), HasSubstr(config.key_file));
}

// A 0600 client key is read along with the CA bundle and certificate.
TEST(LoadClientCredentials, PrivateKeyIsRead) {
  TempDir dir;
  Result<ClientCredentials> creds = LoadClientCredentials(TlsConfig(dir, 0600));
  ASSERT_TRUE(creds.ok()) << creds.status().ToString();
  EXPECT_EQ(creds->root_certs_pem, "CA PEM");
  EXPECT_EQ(creds->cert_chain_pem, "CERT PEM");
  EXPECT_EQ(creds->private_key_pem, "KEY PEM");
  EXPECT_EQ(creds->token, "");
}

// A certificate without its key (or the reverse) is an error, not a silent fallback.
TEST(LoadClientCredentials, CertificateNeedsKey) {
  TempDir dir;
  ClientConfig config = TlsConfig(dir, 0600);
  config.key_file.clear();
  EXPECT_EQ(LoadClientCredentials(config).status().code(), StatusCode::kInvalidArgument);
  config = TlsConfig(dir, 0600);
  config.cert_file.clear();
  EXPECT_EQ(LoadClientCredentials(config).status().code(), StatusCode::kInvalidArgument);
}

// --insecure reads no TLS files, so a config written for TLS still works against a plaintext sovd.
TEST(LoadClientCredentials, InsecureIgnoresTlsFiles) {
  TempDir dir;
  ClientConfig config = TlsConfig(dir, 0644);
  config.insecure = true;
  Result<ClientCredentials> creds = LoadClientCredentials(config);
  ASSERT_TRUE(creds.ok()) << creds.status().ToString();
  EXPECT_EQ(creds->private_key_pem, "");
}

// A token file is trimmed of its trailing newline and must be private.
TEST(LoadClientCredentials, TokenFile) {
  TempDir dir;
  ClientConfig config;
  config.address = "127.0.0.1:1";
  config.token_file = WriteTestFile(dir.Join("token"), "sovt_abc\n", 0600);
  Result<ClientCredentials> creds = LoadClientCredentials(config);
  ASSERT_TRUE(creds.ok()) << creds.status().ToString();
  EXPECT_EQ(creds->token, "sovt_abc");

  WriteTestFile(config.token_file, "sovt_abc\n", 0644);
  EXPECT_EQ(LoadClientCredentials(config).status().code(), StatusCode::kPermissionDenied);

  WriteTestFile(config.token_file, "\n", 0600);
  EXPECT_EQ(LoadClientCredentials(config).status().code(), StatusCode::kInvalidArgument);
}

// A token from SOV_TOKEN is passed through as given.
TEST(LoadClientCredentials, TokenFromEnvironment) {
  ClientConfig config;
  config.address = "127.0.0.1:1";
  config.token = "sovt_xyz";
  EXPECT_EQ(LoadClientCredentials(config)->token, "sovt_xyz");
}

// registry_key is a path like the others, resolved against the config file's directory.
TEST(ParseConfigFile, RegistryKeyIsAPath) {
  Result<ConfigFileSettings> parsed =
      ParseConfigFile("/etc/sov/sovctl.yaml", "registry_key: signing.pub\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->registry_key_file, "/etc/sov/signing.pub");
}

}  // namespace
}  // namespace sov::cli
