// Shows that sovd's config file parses into ServerConfig and that each kind of mistake is one
// line naming FILE:LINE:COLUMN and the key.
#include "gateway/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/testing/temp_dir.h"

namespace sov::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kFile[] = "/etc/sovereign/sovd.yaml";

constexpr char kGood[] = R"(# production example
listen: 0.0.0.0:7443
data_dir: /var/lib/sovereign
tls:
  cert: tls/server.pem
  key: tls/server.key
  client_ca: tls/ca.pem
master_key: keys/master.key
signing_key: /secrets/signing.key
storage:
  - {name: eu-de-1, jurisdiction: DE, path: blobs/eu-de-1}
  - name: us-east-1
    jurisdiction: US
    path: /mnt/us
tenants: tenants.yaml
policy: policy.yaml
)";

// Returns kGood with the first occurrence of `from` replaced by `to`.
std::string GoodWith(std::string_view from, std::string_view to) {
  std::string text = kGood;
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
  return text;
}

std::string ErrorOf(std::string_view text) {
  Result<ServerConfig> config = ParseServerConfig(text, kFile);
  EXPECT_FALSE(config.ok());
  if (config.ok()) return "";
  EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(config.status().message().find('\n'), std::string::npos) << "one line";
  return config.status().message();
}

TEST(ConfigTest, GoodFileParsesWithPathsResolvedAgainstItsDirectory) {
  // A complete config: every value lands where it belongs, relative paths resolved.
  Result<ServerConfig> config = ParseServerConfig(kGood, kFile);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->listen.host, "0.0.0.0");
  EXPECT_EQ(config->listen.port, 7443);
  EXPECT_EQ(config->data_dir, "/var/lib/sovereign");
  ASSERT_TRUE(config->tls.has_value());
  EXPECT_EQ(config->tls->cert, "/etc/sovereign/tls/server.pem");
  EXPECT_EQ(config->tls->key, "/etc/sovereign/tls/server.key");
  EXPECT_EQ(config->tls->client_ca, "/etc/sovereign/tls/ca.pem");
  EXPECT_EQ(config->master_key, "/etc/sovereign/keys/master.key");
  EXPECT_EQ(config->signing_key, "/secrets/signing.key");
  ASSERT_EQ(config->storage.size(), 2u);
  EXPECT_EQ(config->storage[0].name, "eu-de-1");
  EXPECT_EQ(config->storage[0].jurisdiction, "DE");
  EXPECT_EQ(config->storage[0].path, "/etc/sovereign/blobs/eu-de-1");
  EXPECT_EQ(config->storage[1].path, "/mnt/us");
  EXPECT_EQ(config->tenants, "/etc/sovereign/tenants.yaml");
  EXPECT_EQ(config->policy, "/etc/sovereign/policy.yaml");
  EXPECT_EQ(config->locations.at("master_key"), "/etc/sovereign/sovd.yaml:8:13");
  EXPECT_EQ(config->locations.at("storage[1].path"), "/etc/sovereign/sovd.yaml:14:11");
}

TEST(ConfigTest, ErrorAtPointsAtTheKeyThatNamedTheFile) {
  // A problem found later (a missing file) is reported at the line of the key naming it.
  Result<ServerConfig> config = ParseServerConfig(kGood, kFile);
  ASSERT_TRUE(config.ok());
  Status status = config->ErrorAt("tls.key", NotFound("cannot open /etc/sovereign/tls/server.key"));
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_EQ(status.message(),
            "/etc/sovereign/sovd.yaml:6:8: error: tls.key: cannot open /etc/sovereign/tls/server.key");
}

TEST(ConfigTest, TlsIsOptionalAndDataDirDefaultsToTheConfigDirectory) {
  // Without tls (insecure-loopback setups) and data_dir, parsing still succeeds.
  std::string text = GoodWith("data_dir: /var/lib/sovereign\n", "");
  text = text.substr(0, text.find("tls:")) + text.substr(text.find("master_key:"));
  Result<ServerConfig> config = ParseServerConfig(text, kFile);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_FALSE(config->tls.has_value());
  EXPECT_EQ(config->data_dir, "/etc/sovereign");
}

TEST(ConfigTest, SyntaxErrorNamesLineAndColumn) {
  // A YAML syntax error points at where the parser stopped.
  std::string message = ErrorOf("listen: 127.0.0.1:7443\ntls: {cert: a.pem\n");
  EXPECT_THAT(message, StartsWith("/etc/sovereign/sovd.yaml:3:1: error: "));
}

TEST(ConfigTest, WrongTypeNamesTheKey) {
  // A mapping where a string belongs: the contract's example message.
  std::string message = ErrorOf(GoodWith("  cert: tls/server.pem", "  cert: {path: x}"));
  EXPECT_EQ(message, "/etc/sovereign/sovd.yaml:5:9: error: tls.cert: expected a string, got a mapping");
}

TEST(ConfigTest, UnknownKeyIsAnErrorWithASuggestion) {
  // A typo is not silently ignored.
  std::string message = ErrorOf(GoodWith("policy:", "polcy:"));
  EXPECT_THAT(message, StartsWith("/etc/sovereign/sovd.yaml:"));
  EXPECT_THAT(message, HasSubstr("policy: required key is missing"));
  message = ErrorOf(GoodWith("tenants: tenants.yaml", "tenants: tenants.yaml\ntennants: x"));
  EXPECT_EQ(message,
            "/etc/sovereign/sovd.yaml:16:1: error: unknown key 'tennants'; did you mean 'tenants'?");
  message = ErrorOf(GoodWith("  client_ca: tls/ca.pem", "  client_ca: tls/ca.pem\n  ciphers: x"));
  EXPECT_THAT(message, StartsWith("/etc/sovereign/sovd.yaml:8:3: error: unknown key 'tls.ciphers'"));
}

TEST(ConfigTest, MissingRequiredKeyIsNamed) {
  // Leaving out master_key names it.
  std::string message = ErrorOf(GoodWith("master_key: keys/master.key\n", ""));
  EXPECT_EQ(message, "/etc/sovereign/sovd.yaml:2:1: error: master_key: required key is missing");
}

TEST(ConfigTest, DuplicateKeyIsAnError) {
  // yaml-cpp would keep one of two equal keys silently; the config refuses both.
  std::string message = ErrorOf(GoodWith("policy: policy.yaml", "policy: a.yaml\npolicy: b.yaml"));
  EXPECT_EQ(message,
            "/etc/sovereign/sovd.yaml:17:1: error: policy: duplicate key (first at "
            "/etc/sovereign/sovd.yaml:16:1)");
}

TEST(ConfigTest, BadListenAddressIsExplained) {
  // A listen address without a port, or with a port out of range.
  EXPECT_THAT(ErrorOf(GoodWith("0.0.0.0:7443", "0.0.0.0")),
              HasSubstr("sovd.yaml:2:9: error: listen: listen address '0.0.0.0' has no port"));
  EXPECT_THAT(ErrorOf(GoodWith("0.0.0.0:7443", "0.0.0.0:70000")),
              HasSubstr("port must be a number from 0 to 65535"));
}

TEST(ConfigTest, StorageErrorsNameTheEntry) {
  // A bad jurisdiction code and a duplicate location name, each at its entry.
  EXPECT_EQ(ErrorOf(GoodWith("jurisdiction: DE", "jurisdiction: Germany")),
            "/etc/sovereign/sovd.yaml:11:35: error: storage[0].jurisdiction: 'Germany' is not "
            "an ISO 3166-1 alpha-2 country code (e.g. DE, FR, US)");
  EXPECT_THAT(ErrorOf(GoodWith("name: us-east-1", "name: eu-de-1")),
              HasSubstr("sovd.yaml:12:11: error: storage[1].name: duplicate storage location "
                        "'eu-de-1' (first at /etc/sovereign/sovd.yaml:11:12)"));
  EXPECT_THAT(ErrorOf(GoodWith("  - {name: eu-de-1, jurisdiction: DE, path: blobs/eu-de-1}\n"
                               "  - name: us-east-1\n    jurisdiction: US\n    path: /mnt/us\n",
                               "  []\n")),
              HasSubstr("storage: expected a non-empty list"));
}

// Returns kGood with `sections` appended; kGood has 16 lines, so they start at line 17.
std::string GoodPlus(std::string_view sections) { return kGood + std::string(sections); }

TEST(ConfigTest, ValidationAndRetentionDefaultWhenAbsent) {
  // Without validation: and retention: sections, every setting keeps its documented default.
  Result<ServerConfig> config = ParseServerConfig(kGood, kFile);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->validation.workers, 1);
  EXPECT_EQ(config->validation.backend, "auto");
  EXPECT_EQ(config->validation.lease_seconds, 60);
  EXPECT_FALSE(config->validation.external_workers);
  EXPECT_EQ(config->validation.max_attempts, 3);
  EXPECT_EQ(config->validation.poll_interval_ms, 1000);
  EXPECT_EQ(config->retention.sweep_interval_ms, 3'600'000);
  EXPECT_EQ(config->retention.sweep_concurrency, 32);
}

TEST(ConfigTest, ValidationKeysAreParsed) {
  // Each validation key, set to something other than its default, lands in ValidationSettings.
  Result<ServerConfig> config = ParseServerConfig(GoodPlus("validation:\n"
                                                           "  workers: 4\n"
                                                           "  backend: cuda\n"
                                                           "  lease: 2m\n"
                                                           "  external_workers: true\n"
                                                           "  max_attempts: 0\n"
                                                           "  poll_interval: 250ms\n"),
                                                  kFile);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->validation.max_attempts, 0);
  EXPECT_EQ(config->validation.poll_interval_ms, 250);
  EXPECT_EQ(config->validation.workers, 4);
  EXPECT_EQ(config->validation.backend, "cuda");
  EXPECT_EQ(config->validation.lease_seconds, 120);
  EXPECT_TRUE(config->validation.external_workers);
  // The bounds of workers are accepted: 0 runs no workers in the gateway, 256 is the most.
  config =
      ParseServerConfig(GoodPlus("validation: {workers: 0, backend: cpu, lease: 5s}\n"), kFile);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->validation.workers, 0);
  EXPECT_EQ(config->validation.backend, "cpu");
  EXPECT_EQ(config->validation.lease_seconds, 5);
  config = ParseServerConfig(GoodPlus("validation:\n  workers: 256\n"), kFile);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->validation.workers, 256);
  // The bounds of poll_interval.
  config = ParseServerConfig(GoodPlus("validation: {poll_interval: 10ms}\n"), kFile);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->validation.poll_interval_ms, 10);
  config = ParseServerConfig(GoodPlus("validation: {poll_interval: 1h}\n"), kFile);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->validation.poll_interval_ms, 3'600'000);
}

TEST(ConfigTest, RetentionSweepIntervalIsParsed) {
  // A duration in any unit becomes milliseconds; a zero, with or without a unit, turns the
  // background sweep off.
  Result<ServerConfig> config =
      ParseServerConfig(GoodPlus("retention:\n  sweep_interval: 15m\n"), kFile);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->retention.sweep_interval_ms, 900'000);
  config = ParseServerConfig(GoodPlus("retention:\n  sweep_interval: 1s\n"), kFile);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->retention.sweep_interval_ms, 1000);
  config = ParseServerConfig(GoodPlus("retention:\n  sweep_interval: 0\n"), kFile);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->retention.sweep_interval_ms, 0);
  config = ParseServerConfig(GoodPlus("retention:\n  sweep_interval: 0s\n"), kFile);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->retention.sweep_interval_ms, 0);
}

TEST(ConfigTest, RetentionSweepConcurrencyIsParsedFromOneTo128) {
  // 1 (one item after another) and 128 are the bounds; the default is 32.
  Result<ServerConfig> config =
      ParseServerConfig(GoodPlus("retention:\n  sweep_concurrency: 1\n"), kFile);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->retention.sweep_concurrency, 1);
  config = ParseServerConfig(GoodPlus("retention:\n  sweep_concurrency: 128\n"), kFile);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->retention.sweep_concurrency, 128);
}

TEST(ConfigTest, BadValidationAndRetentionSettingsNameFileLineAndKey) {
  // Each value these sections refuse, each unknown key and each wrong type is one line at the
  // offending text (the sections start at line 17).
  struct Case {
    std::string_view sections;
    std::string_view error;  // after "/etc/sovereign/sovd.yaml:"
  };
  constexpr Case kCases[] = {
      // A worker count that is negative, too large, fractional or empty.
      {"validation:\n  max_attempts: 101\n",
       "18:17: error: validation.max_attempts: '101' is not a whole number from 0 to 100"},
      {"validation:\n  workers: -1\n",
       "18:12: error: validation.workers: '-1' is not a whole number from 0 to 256"},
      {"validation:\n  workers: 257\n",
       "18:12: error: validation.workers: '257' is not a whole number from 0 to 256"},
      {"validation:\n  workers: 2.5\n",
       "18:12: error: validation.workers: '2.5' is not a whole number from 0 to 256"},
      {"validation:\n  workers: ''\n",
       "18:12: error: validation.workers: '' is not a whole number from 0 to 256"},
      {"validation:\n  backend: gpu\n",
       "18:12: error: validation.backend: 'gpu' is not one of auto, cpu, cuda"},
      // A lease without a unit, and one below the minimum.
      {"validation:\n  lease: 60\n",
       "18:10: error: validation.lease: '60' is not a duration (an integer with ms, s, m, h or d, "
       "e.g. 24h)"},
      {"validation:\n  lease: 4s\n", "18:10: error: validation.lease: must be at least 5s"},
      // The other sections' durations below their minimum.
      {"registry:\n  upload_ttl: 999ms\n",
       "18:15: error: registry.upload_ttl: must be at least 1s"},
      {"audit:\n  checkpoint_interval: 9ms\n",
       "18:24: error: audit.checkpoint_interval: must be at least 10ms"},
      // A poll interval outside 10ms to 1h, or not a duration.
      {"validation:\n  poll_interval: 9ms\n",
       "18:18: error: validation.poll_interval: must be between 10ms and 1h"},
      {"validation:\n  poll_interval: 61m\n",
       "18:18: error: validation.poll_interval: must be between 10ms and 1h"},
      {"validation:\n  poll_interval: 1\n",
       "18:18: error: validation.poll_interval: '1' is not a duration (an integer with ms, s, m, "
       "h or d, e.g. 24h)"},
      {"validation:\n  external_workers: yes\n",
       "18:21: error: validation.external_workers: 'yes' is not true or false"},
      // A malformed, negative or too short sweep interval says how to disable the sweep.
      {"retention:\n  sweep_interval: hourly\n",
       "18:19: error: retention.sweep_interval: 'hourly' is not a duration (an integer with ms, "
       "s, m, h or d, e.g. 24h); 0 disables the background sweep"},
      {"retention:\n  sweep_interval: -1h\n",
       "18:19: error: retention.sweep_interval: '-1h' is not a duration (an integer with ms, s, "
       "m, h or d, e.g. 24h); 0 disables the background sweep"},
      // Durations past 100 years are refused, not wrapped around.
      {"retention:\n  sweep_interval: 220000000000d\n",
       "18:19: error: retention.sweep_interval: '220000000000d' is longer than 100 years; 0 "
       "disables the background sweep"},
      {"validation:\n  lease: 999999999999h\n",
       "18:10: error: validation.lease: '999999999999h' is longer than 100 years"},
      // A sweep concurrency of 0, above 128, or not a whole number.
      {"retention:\n  sweep_concurrency: 0\n",
       "18:22: error: retention.sweep_concurrency: '0' is not a whole number from 1 to 128 (1 "
       "erases one artifact after another)"},
      {"retention:\n  sweep_concurrency: 129\n",
       "18:22: error: retention.sweep_concurrency: '129' is not a whole number from 1 to 128 (1 "
       "erases one artifact after another)"},
      {"retention:\n  sweep_concurrency: four\n",
       "18:22: error: retention.sweep_concurrency: 'four' is not a whole number from 1 to 128 (1 "
       "erases one artifact after another)"},
      {"retention:\n  sweep_interval: 500ms\n",
       "18:19: error: retention.sweep_interval: must be at least 1s, or 0 to disable the "
       "background sweep"},
      // Typos are not ignored.
      {"validation:\n  worker: 2\n",
       "18:3: error: unknown key 'validation.worker'; did you mean 'workers'?"},
      {"retention:\n  sweep_intervall: 1h\n",
       "18:3: error: unknown key 'retention.sweep_intervall'; did you mean 'sweep_interval'?"},
      // A list or mapping where a value or a section belongs.
      {"validation:\n  workers: [1, 2]\n",
       "18:12: error: validation.workers: expected a string, got a list"},
      {"retention:\n  sweep_interval: {every: 1h}\n",
       "18:19: error: retention.sweep_interval: expected a string, got a mapping"},
      {"validation: 4\n", "17:13: error: validation: expected a mapping, got a scalar"},
      {"retention: [1h]\n", "17:12: error: retention: expected a mapping, got a list"},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(ErrorOf(GoodPlus(c.sections)), "/etc/sovereign/sovd.yaml:" + std::string(c.error))
        << c.sections;
  }
}

TEST(ConfigTest, EmptyAndMissingFiles) {
  // An empty file and a file that does not exist are named.
  EXPECT_EQ(ErrorOf("# nothing\n"), "/etc/sovereign/sovd.yaml:1:1: error: the file is empty");
  sov::testing::TempDir dir;
  Result<ServerConfig> missing = LoadServerConfig(dir.Join("absent.yaml"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), StartsWith(dir.Join("absent.yaml") + ": error: "));
}

TEST(ConfigTest, LoadReadsAFile) {
  // LoadServerConfig resolves relative paths against the file's real directory.
  sov::testing::TempDir dir;
  sov::testing::WriteTextFile(dir.Join("sovd.yaml"), kGood);
  Result<ServerConfig> config = LoadServerConfig(dir.Join("sovd.yaml"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->tenants, dir.Join("tenants.yaml"));
}

}  // namespace
}  // namespace sov::gateway
