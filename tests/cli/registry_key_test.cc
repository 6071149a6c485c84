// Shows where sovctl finds the registry's public key (flag over environment over config file) and that it never trusts the gateway's word for it unless told to.
#include "cli/registry_key.h"

#include <map>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/cli/temp_dir.h"

namespace sov::cli {
namespace {

using ::sov::cli::testing::TempDir;
using ::sov::cli::testing::WriteTestFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

// --registry-key beats SOV_REGISTRY_KEY, which beats the config file's registry_key.
TEST(ResolveRegistryKeyFiles, Precedence) {
  TempDir dir;
  std::string config = WriteTestFile(dir.Join("sovctl.yaml"), "registry_key: keys/signing.pub\n");
  ConnectionFlags flags;
  flags.config_file = config;

  Result<RegistryKeyFiles> from_file = ResolveRegistryKeyFiles({}, flags, FakeEnv({}));
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  EXPECT_THAT(from_file->paths, ElementsAre(dir.Join("keys/signing.pub")));
  EXPECT_EQ(from_file->source, config);

  Result<RegistryKeyFiles> from_env =
      ResolveRegistryKeyFiles({}, flags, FakeEnv({{"SOV_REGISTRY_KEY", "env.pub"}}));
  EXPECT_THAT(from_env->paths, ElementsAre("env.pub"));
  EXPECT_EQ(from_env->source, "SOV_REGISTRY_KEY");

  Result<RegistryKeyFiles> from_flag = ResolveRegistryKeyFiles(
      {"a.pub", "b.pub"}, flags, FakeEnv({{"SOV_REGISTRY_KEY", "env.pub"}}));
  EXPECT_THAT(from_flag->paths, ElementsAre("a.pub", "b.pub"));
  EXPECT_EQ(from_flag->source, "--registry-key");
}

// With nothing configured anywhere, there are no paths (and no error yet).
TEST(ResolveRegistryKeyFiles, NothingConfigured) {
  TempDir dir;
  Result<RegistryKeyFiles> files =
      ResolveRegistryKeyFiles({}, ConnectionFlags(), FakeEnv({{"HOME", dir.path()}}));
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_TRUE(files->paths.empty());
}

// Keys load from PEM; a bad file is named with where it was configured.
TEST(LoadRegistryKeys, LoadsAndNamesBadFiles) {
  TempDir dir;
  crypto::Ed25519PrivateKey key = crypto::Ed25519PrivateKey::Generate();
  ASSERT_TRUE(crypto::WritePublicKeyFile(dir.Join("signing.pub"), key.public_key()).ok());
  Result<TrustedRegistryKeys> keys = LoadRegistryKeys({{dir.Join("signing.pub")}, "SOV_REGISTRY_KEY"});
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ(keys->keys.size(), 1u);
  EXPECT_EQ(keys->keys[0], key.public_key());
  EXPECT_THAT(keys->source, HasSubstr("signing.pub (from SOV_REGISTRY_KEY)"));

  WriteTestFile(dir.Join("bad.pub"), "not a key");
  Result<TrustedRegistryKeys> bad = LoadRegistryKeys({{dir.Join("bad.pub")}, "--registry-key"});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("bad.pub (from --registry-key)"));
}

// Without a configured key and without --trust-server-key, the error says how to configure one.
TEST(ObtainRegistryKeys, RefusesToGuess) {
  TempDir dir;
  std::ostringstream warnings;
  Result<TrustedRegistryKeys> keys = ObtainRegistryKeys(
      {}, /*trust_server_key=*/false, ConnectionFlags(), FakeEnv({{"HOME", dir.path()}}), nullptr,
      warnings);
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(keys.status().message(), HasSubstr("--registry-key FILE"));
  EXPECT_THAT(keys.status().message(), HasSubstr("SOV_REGISTRY_KEY"));
  EXPECT_THAT(keys.status().message(), HasSubstr("registry_key"));
  EXPECT_THAT(keys.status().message(), HasSubstr("--trust-server-key"));
  EXPECT_EQ(warnings.str(), "");
}

// A configured key is used even when --trust-server-key is given, and nothing is fetched.
TEST(ObtainRegistryKeys, ConfiguredKeyWins) {
  TempDir dir;
  crypto::Ed25519PrivateKey key = crypto::Ed25519PrivateKey::Generate();
  ASSERT_TRUE(crypto::WritePublicKeyFile(dir.Join("signing.pub"), key.public_key()).ok());
  std::ostringstream warnings;
  Result<TrustedRegistryKeys> keys =
      ObtainRegistryKeys({dir.Join("signing.pub")}, /*trust_server_key=*/true, ConnectionFlags(),
                         FakeEnv({}), nullptr, warnings);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(keys->keys.size(), 1u);
  EXPECT_EQ(warnings.str(), "");
}

// A SigningKey's bytes must match its key id.
TEST(PublicKeyOf, ChecksKeyId) {
  crypto::Ed25519PrivateKey key = crypto::Ed25519PrivateKey::Generate();
  v1::SigningKey listed;
  listed.set_public_key(std::string(key.public_key().bytes.begin(), key.public_key().bytes.end()));
  listed.set_keyid(key.public_key().KeyId());
  EXPECT_TRUE(PublicKeyOf(listed).ok());
  listed.set_keyid("sha256:" + std::string(64, '0'));
  EXPECT_THAT(PublicKeyOf(listed).status().message(), HasSubstr("its public key bytes have key id"));
  listed.set_public_key("short");
  EXPECT_FALSE(PublicKeyOf(listed).ok());
}

}  // namespace
}  // namespace sov::cli
