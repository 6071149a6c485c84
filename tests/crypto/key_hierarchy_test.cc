// Shows the key hierarchy: master key files are 0600 and strictly parsed, tenant keys derive
// deterministically and independently, and wrapped data keys unwrap only under the same tenant
// key and context.
#include "crypto/key_hierarchy.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "common/file.h"
#include "common/hex.h"

namespace sov::crypto {
namespace {

SecretKey CountingKey() {
  std::string bytes(32, '\0');
  for (int i = 0; i < 32; ++i) bytes[static_cast<size_t>(i)] = static_cast<char>(i);
  return *SecretKey::FromBytes(bytes);
}

class KeyHierarchyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sov_key_hierarchy_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static mode_t ModeOf(const std::string& path) {
    struct stat st;
    EXPECT_EQ(stat(path.c_str(), &st), 0);
    return st.st_mode & 0777;
  }

  std::string dir_;
};

TEST_F(KeyHierarchyTest, TenantKeyMatchesKnownAnswer) {
  // Derivation is pinned: BLAKE2b-keyed(tenant id) under crypto_kdf subkey 1 of "sovtenan",
  // computed independently of libsodium (Python hashlib) for master = 00 01 .. 1f.
  SecretKey master = CountingKey();
  EXPECT_EQ(HexEncode(DeriveTenantKey(master, "acme").bytes()),
            "7bdd1beb03c5a10dcbd649caa6acbb7b9f293147f7e76599b406b5d02d1ac786");
  EXPECT_EQ(HexEncode(DeriveTenantKey(master, "").bytes()),
            "c2d4ee7072dc79b030c1541fd2da08aabccde0fac7677b60db9cb0b8801bd14b");
}

TEST_F(KeyHierarchyTest, PurposeKeyAndTagMatchKnownAnswers) {
  // A purpose key is BLAKE2b-keyed(purpose) under crypto_kdf subkey 1 of "sovpurps": another
  // context than the tenants', so a tenant named like a purpose gets another key. The tag is
  // 16-byte keyed BLAKE2b. Both computed with Python hashlib for master = 00 01 .. 1f.
  SecretKey master = CountingKey();
  SecretKey purpose = DerivePurposeKey(master, "page-tokens");
  EXPECT_EQ(HexEncode(purpose.bytes()),
            "e115430860d90d0015dadf705083099ba1650a8976d6dbe1e0704764ae244ddc");
  EXPECT_EQ(HexEncode(DeriveTenantKey(master, "page-tokens").bytes()),
            "44359e28cc81ef5c9b751d61c760655a93bd96f56d43b757af22f917b3bde2f6");
  EXPECT_TRUE(purpose.Equals(DerivePurposeKey(master, "page-tokens")));
  EXPECT_FALSE(purpose.Equals(DerivePurposeKey(master, "page-tokens2")));
  EXPECT_FALSE(purpose.Equals(DerivePurposeKey(SecretKey::Random(), "page-tokens")));

  EXPECT_EQ(HexEncode(KeyedTag(master, "page 1")), "076011e97f08eb3045f7e73830d6f675");
  EXPECT_EQ(HexEncode(KeyedTag(master, "")), "3daf97bce7888fd59773c66bf647459c");
  EXPECT_TRUE(TagsEqual(KeyedTag(master, "page 1"), KeyedTag(master, "page 1")));
  EXPECT_FALSE(TagsEqual(KeyedTag(master, "page 1"), KeyedTag(master, "page 2")));
  EXPECT_FALSE(TagsEqual(KeyedTag(master, "page 1"), KeyedTag(master, "page 1").substr(0, 15)));
}

TEST_F(KeyHierarchyTest, DerivationIsDeterministicAndSeparatesTenants) {
  // The same master and tenant give the same key; another tenant or master gives another.
  SecretKey master = SecretKey::Random();
  SecretKey a1 = DeriveTenantKey(master, "tenant-a");
  SecretKey a2 = DeriveTenantKey(master, "tenant-a");
  EXPECT_TRUE(a1.Equals(a2));
  EXPECT_FALSE(a1.Equals(DeriveTenantKey(master, "tenant-b")));
  EXPECT_FALSE(a1.Equals(DeriveTenantKey(master, "tenant-a ")));
  EXPECT_FALSE(a1.Equals(DeriveTenantKey(master, std::string("tenant-a\0", 9))));
  EXPECT_FALSE(a1.Equals(DeriveTenantKey(SecretKey::Random(), "tenant-a")));
  EXPECT_FALSE(a1.Equals(master));
}

TEST_F(KeyHierarchyTest, WrapUnwrapRoundTrip) {
  // A wrapped data key is 72 bytes (nonce, ciphertext, tag) and unwraps to the same key.
  SecretKey tenant = DeriveTenantKey(SecretKey::Random(), "tenant-a");
  SecretKey data_key = NewDataKey();
  std::string wrapped = WrapDataKey(tenant, data_key, "artifact/model/fraud@1.4.0");
  EXPECT_EQ(wrapped.size(), 72u);
  EXPECT_EQ(wrapped.find(data_key.bytes()), std::string::npos);
  auto unwrapped = UnwrapDataKey(tenant, wrapped, "artifact/model/fraud@1.4.0");
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
  EXPECT_TRUE(unwrapped->Equals(data_key));
  // Wrapping twice uses fresh nonces.
  EXPECT_NE(WrapDataKey(tenant, data_key, "c"), WrapDataKey(tenant, data_key, "c"));
  EXPECT_FALSE(NewDataKey().Equals(NewDataKey()));
}

TEST_F(KeyHierarchyTest, UnwrapMismatchesAreDataLoss) {
  // Another tenant's key, another context, any flipped byte, or a cut or padded blob: DATA_LOSS.
  SecretKey master = SecretKey::Random();
  SecretKey tenant = DeriveTenantKey(master, "tenant-a");
  SecretKey data_key = NewDataKey();
  std::string wrapped = WrapDataKey(tenant, data_key, "artifact-1");
  auto expect_data_loss = [](const Result<SecretKey>& r, const std::string& what) {
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << what;
  };
  expect_data_loss(UnwrapDataKey(DeriveTenantKey(master, "tenant-b"), wrapped, "artifact-1"),
                   "wrong tenant key");
  expect_data_loss(UnwrapDataKey(tenant, wrapped, "artifact-2"), "wrong context");
  expect_data_loss(UnwrapDataKey(tenant, wrapped, ""), "empty context");
  for (size_t i = 0; i < wrapped.size(); ++i) {
    std::string tampered = wrapped;
    tampered[i] ^= 0x01;
    expect_data_loss(UnwrapDataKey(tenant, tampered, "artifact-1"),
                     "flipped byte " + std::to_string(i));
  }
  expect_data_loss(UnwrapDataKey(tenant, wrapped.substr(0, 71), "artifact-1"), "truncated");
  expect_data_loss(UnwrapDataKey(tenant, "", "artifact-1"), "empty");
  expect_data_loss(UnwrapDataKey(tenant, wrapped + "x", "artifact-1"), "trailing byte");
}

TEST_F(KeyHierarchyTest, MasterKeyFileRoundTripAt0600) {
  // CreateMasterKeyFile writes the documented format with mode 0600, and it loads back.
  std::string path = dir_ + "/master.key";
  auto created = CreateMasterKeyFile(path);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(ModeOf(path), 0600u);
  std::string contents = *ReadFile(path);
  EXPECT_EQ(contents.rfind("sov-master-key-v1\n", 0), 0u);
  EXPECT_EQ(contents.size(), 18u + 44u + 1u);
  auto loaded = LoadMasterKeyFile(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(loaded->Equals(*created));
}

TEST_F(KeyHierarchyTest, KnownMasterKeyFileLoads) {
  // A hand-written file in the documented format (base64 of 00 01 .. 1f) loads, with or
  // without its final newline.
  const std::string body = "sov-master-key-v1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  for (const std::string& contents : {body + "\n", body}) {
    std::string path = dir_ + "/m" + std::to_string(contents.size());
    ASSERT_TRUE(WriteNewFile(path, contents, 0600).ok());
    auto loaded = LoadMasterKeyFile(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_TRUE(loaded->Equals(CountingKey()));
  }
}

TEST_F(KeyHierarchyTest, CreateRefusesToOverwrite) {
  // Creating a master key where a file exists is ALREADY_EXISTS and leaves the old key intact.
  std::string path = dir_ + "/master.key";
  auto first = CreateMasterKeyFile(path);
  ASSERT_TRUE(first.ok());
  auto second = CreateMasterKeyFile(path);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(LoadMasterKeyFile(path)->Equals(*first));
}

TEST_F(KeyHierarchyTest, WorldReadableMasterKeyIsRefused) {
  // A master key file readable by group or others is PERMISSION_DENIED naming the file.
  std::string path = dir_ + "/master.key";
  ASSERT_TRUE(CreateMasterKeyFile(path).ok());
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  auto loaded = LoadMasterKeyFile(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(loaded.status().message().find(path), std::string::npos);
  EXPECT_NE(loaded.status().message().find("0644"), std::string::npos);
}

TEST_F(KeyHierarchyTest, MalformedMasterKeyIsInvalidArgumentWithoutKeyBytes) {
  // Wrong header, wrong length, bad base64 or extra lines: INVALID_ARGUMENT naming the file and
  // never echoing what is in it.
  const std::string b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  const std::string cases[] = {
      "",
      b64 + "\n",
      "sov-master-key-v2\n" + b64 + "\n",
      "sov-master-key-v1\n",
      "sov-master-key-v1\n" + b64.substr(0, 40) + "\n",
      "sov-master-key-v1\n" + b64 + "\n\n",
      "sov-master-key-v1\n" + b64 + "\nextra\n",
      "sov-master-key-v1\n" + b64.substr(0, 43) + "!\n",
      "sov-master-key-v1\r\n" + b64 + "\r\n",
      "sov-master-key-v1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8AAAA\n",  // 35 bytes
  };
  int i = 0;
  for (const std::string& contents : cases) {
    std::string path = dir_ + "/bad" + std::to_string(i++);
    ASSERT_TRUE(WriteNewFile(path, contents, 0600).ok());
    auto loaded = LoadMasterKeyFile(path);
    ASSERT_FALSE(loaded.ok()) << i;
    EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument) << loaded.status().ToString();
    EXPECT_NE(loaded.status().message().find(path), std::string::npos);
    EXPECT_EQ(loaded.status().message().find("AAECAwQF"), std::string::npos);
  }
}

TEST_F(KeyHierarchyTest, MissingMasterKeyIsNotFound) {
  // Loading a master key file that does not exist is NOT_FOUND.
  EXPECT_EQ(LoadMasterKeyFile(dir_ + "/none").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace sov::crypto
