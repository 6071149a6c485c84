// Shows that Ed25519 signing matches RFC 8032, that verification rejects any change, and that
// key files use the PEM formats `openssl pkey` reads, with private keys kept 0600.
#include "crypto/ed25519.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "common/file.h"
#include "common/hex.h"

namespace sov::crypto {
namespace {

std::string Unhex(std::string_view hex) {
  auto bytes = HexDecode(hex);
  EXPECT_TRUE(bytes.has_value()) << hex;
  if (!bytes) return {};
  return std::string(bytes->begin(), bytes->end());
}

struct Rfc8032Vector {
  const char* name;
  const char* seed;
  const char* public_key;
  const char* message;
  const char* signature;
};

// RFC 8032 section 7.1: TEST 1, TEST 2, TEST 3 and TEST SHA(abc).
constexpr Rfc8032Vector kVectors[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9"
     "b46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f1"
     "1d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984d"
     "c6594a7c15e9716ed28dc027beceea1ec40a"},
    {"TEST SHA(abc)", "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3fe"
     "ebbd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431"
     "e0303dca179c138ac17ad9bef1177331a704"},
};

TEST(Ed25519Test, Rfc8032Vectors) {
  // Each RFC 8032 seed gives exactly the listed public key and signature, and it verifies.
  for (const auto& v : kVectors) {
    SCOPED_TRACE(v.name);
    auto key = Ed25519PrivateKey::FromSeed(Unhex(v.seed));
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    EXPECT_EQ(HexEncode(key->public_key().bytes), v.public_key);
    EXPECT_EQ(HexEncode(key->seed()), v.seed);
    std::string message = Unhex(v.message);
    std::string signature = key->Sign(message);
    EXPECT_EQ(HexEncode(signature), v.signature);
    EXPECT_TRUE(Ed25519Verify(key->public_key(), message, signature));
  }
}

TEST(Ed25519Test, VerifyRejectsFlippedBits) {
  // Flipping any one bit of the message or of the signature makes verification fail.
  auto key = Ed25519PrivateKey::Generate();
  std::string message = "release model fraud-detector 1.4.0";
  std::string signature = key.Sign(message);
  ASSERT_TRUE(Ed25519Verify(key.public_key(), message, signature));
  for (size_t i = 0; i < message.size() * 8; i += 7) {
    std::string m = message;
    m[i / 8] ^= static_cast<char>(1 << (i % 8));
    EXPECT_FALSE(Ed25519Verify(key.public_key(), m, signature)) << "message bit " << i;
  }
  for (size_t i = 0; i < signature.size() * 8; ++i) {
    std::string s = signature;
    s[i / 8] ^= static_cast<char>(1 << (i % 8));
    EXPECT_FALSE(Ed25519Verify(key.public_key(), message, s)) << "signature bit " << i;
  }
}

TEST(Ed25519Test, VerifyRejectsWrongKeyAndLength) {
  // Another key, a short or a long signature, and an empty one all fail.
  auto key = Ed25519PrivateKey::Generate();
  auto other = Ed25519PrivateKey::Generate();
  std::string signature = key.Sign("m");
  EXPECT_FALSE(Ed25519Verify(other.public_key(), "m", signature));
  EXPECT_FALSE(Ed25519Verify(key.public_key(), "m", signature.substr(0, 63)));
  EXPECT_FALSE(Ed25519Verify(key.public_key(), "m", signature + '\0'));
  EXPECT_FALSE(Ed25519Verify(key.public_key(), "m", ""));
}

TEST(Ed25519Test, FromSeedAndFromBytesCheckLengths) {
  // Seeds and raw public keys must be exactly 32 bytes.
  EXPECT_EQ(Ed25519PrivateKey::FromSeed(std::string(31, 'x')).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Ed25519PrivateKey::FromSeed(std::string(33, 'x')).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Ed25519PublicKey::FromBytes(std::string(31, 'x')).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(Ed25519PublicKey::FromBytes(std::string(32, 'x')).ok());
}

TEST(Ed25519Test, KeyIdIsSha256OfRawKey) {
  // The key id of RFC 8032 TEST 1's public key is sha256 of its 32 bytes.
  auto key = Ed25519PublicKey::FromBytes(Unhex(kVectors[0].public_key));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->KeyId().rfind("sha256:", 0), 0u);
  EXPECT_EQ(key->KeyId().size(), 7u + 64u);
  EXPECT_NE(key->KeyId(), Ed25519PrivateKey::Generate().public_key().KeyId());
}

TEST(Ed25519Test, PemRoundTrip) {
  // Encoded PEM keys parse back to the same key, and the encoding is the standard one.
  auto key = Ed25519PrivateKey::FromSeed(Unhex(kVectors[0].seed));
  ASSERT_TRUE(key.ok());
  std::string private_pem = EncodePrivateKeyPem(*key);
  EXPECT_EQ(private_pem.rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u);
  // RFC 8410 section 10.3's example encoding prefix, "MC4CAQAwBQYDK2VwBCIEI".
  EXPECT_NE(private_pem.find("\nMC4CAQAwBQYDK2VwBCIEI"), std::string::npos);
  auto parsed = ParsePrivateKeyPem(private_pem);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->seed(), key->seed());
  EXPECT_EQ(parsed->public_key(), key->public_key());

  std::string public_pem = EncodePublicKeyPem(key->public_key());
  EXPECT_EQ(public_pem.rfind("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA", 0), 0u);
  auto parsed_public = ParsePublicKeyPem(public_pem);
  ASSERT_TRUE(parsed_public.ok()) << parsed_public.status().ToString();
  EXPECT_EQ(*parsed_public, key->public_key());
}

TEST(Ed25519Test, MalformedPemIsInvalidArgument) {
  // Garbage, truncated PEM, the wrong kind of PEM block and non-Ed25519 keys are refused.
  auto key = Ed25519PrivateKey::Generate();
  std::string private_pem = EncodePrivateKeyPem(key);
  std::string public_pem = EncodePublicKeyPem(key.public_key());
  std::string corrupted = private_pem;
  corrupted[40] = corrupted[40] == 'A' ? '!' : 'A';
  // A P-256 SubjectPublicKeyInfo: a valid PEM key of another algorithm.
  const std::string p256_public =
      "-----BEGIN PUBLIC KEY-----\n"
      "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEVs/o5+uQbTjL3chynL4wXgUg2R9\n"
      "q9UU8I5mEovUf86QZ7kOBIjJwqnzD1omageEHWwHdBO6B+dFabmdT9POxg==\n"
      "-----END PUBLIC KEY-----\n";
  for (const std::string& bad :
       {std::string(""), std::string("not a key"), private_pem.substr(0, 50), corrupted,
        public_pem}) {
    auto parsed = ParsePrivateKeyPem(bad);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << parsed.status().ToString();
  }
  for (const std::string& bad : {std::string(""), public_pem.substr(0, 40), private_pem,
                                 p256_public}) {
    auto parsed = ParsePublicKeyPem(bad);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << parsed.status().ToString();
  }
  EXPECT_NE(ParsePublicKeyPem(p256_public).status().message().find("not Ed25519"),
            std::string::npos);
}

class Ed25519FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sov_ed25519_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static mode_t ModeOf(const std::string& path) {
    struct stat st;
    EXPECT_EQ(stat(path.c_str(), &st), 0);
    return st.st_mode & 0777;
  }
  static bool HaveOpenSslCli() { return std::system("openssl version >/dev/null 2>&1") == 0; }

  std::string dir_;
};

TEST_F(Ed25519FileTest, KeyFilesRoundTripWithModes) {
  // The private key file is created 0600 and the public key file 0644; both load back.
  auto key = Ed25519PrivateKey::Generate();
  std::string private_path = dir_ + "/signing.key";
  std::string public_path = dir_ + "/signing.pub";
  ASSERT_TRUE(WritePrivateKeyFile(private_path, key).ok());
  ASSERT_TRUE(WritePublicKeyFile(public_path, key.public_key()).ok());
  EXPECT_EQ(ModeOf(private_path), 0600u);
  EXPECT_EQ(ModeOf(public_path), 0644u);
  auto loaded = LoadPrivateKeyFile(private_path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->seed(), key.seed());
  auto loaded_public = LoadPublicKeyFile(public_path);
  ASSERT_TRUE(loaded_public.ok()) << loaded_public.status().ToString();
  EXPECT_EQ(*loaded_public, key.public_key());
}

TEST_F(Ed25519FileTest, PrivateKeyFileIsNeverOverwritten) {
  // Writing a private key over an existing file is ALREADY_EXISTS and keeps the old key.
  auto first = Ed25519PrivateKey::Generate();
  std::string path = dir_ + "/signing.key";
  ASSERT_TRUE(WritePrivateKeyFile(path, first).ok());
  EXPECT_EQ(WritePrivateKeyFile(path, Ed25519PrivateKey::Generate()).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(LoadPrivateKeyFile(path)->seed(), first.seed());
}

TEST_F(Ed25519FileTest, GroupReadablePrivateKeyIsRefused) {
  // A 0644 private key file is PERMISSION_DENIED, and the message names the file and its mode.
  std::string path = dir_ + "/signing.key";
  ASSERT_TRUE(WritePrivateKeyFile(path, Ed25519PrivateKey::Generate()).ok());
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  auto loaded = LoadPrivateKeyFile(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(loaded.status().message().find(path), std::string::npos);
  EXPECT_NE(loaded.status().message().find("0644"), std::string::npos);
}

TEST_F(Ed25519FileTest, MalformedKeyFileNamesPathNotContents) {
  // A 0600 file that is not a key is INVALID_ARGUMENT naming the file, not echoing its bytes.
  std::string path = dir_ + "/signing.key";
  ASSERT_TRUE(WriteNewFile(path, "SECRETSECRETSECRET\n", 0600).ok());
  auto loaded = LoadPrivateKeyFile(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(loaded.status().message().find(path), std::string::npos);
  EXPECT_EQ(loaded.status().message().find("SECRET"), std::string::npos);
}

TEST_F(Ed25519FileTest, OpenSslCliAgreesWithOurEncoding) {
  // `openssl pkey` derives our public key from our private key file, and we read its keys.
  if (!HaveOpenSslCli()) GTEST_SKIP() << "openssl command not found";
  auto key = Ed25519PrivateKey::FromSeed(Unhex(kVectors[2].seed));
  ASSERT_TRUE(key.ok());
  std::string private_path = dir_ + "/ours.key";
  ASSERT_TRUE(WritePrivateKeyFile(private_path, *key).ok());
  std::string derived_path = dir_ + "/derived.pub";
  ASSERT_EQ(std::system(("openssl pkey -in " + private_path + " -pubout -out " + derived_path +
                         " 2>/dev/null")
                            .c_str()),
            0);
  EXPECT_EQ(*ReadFile(derived_path), EncodePublicKeyPem(key->public_key()));
  // OpenSSL re-encoding our private key gives back the same bytes.
  std::string reencoded_path = dir_ + "/reencoded.key";
  ASSERT_EQ(std::system(("openssl pkey -in " + private_path + " -out " + reencoded_path +
                         " 2>/dev/null")
                            .c_str()),
            0);
  EXPECT_EQ(*ReadFile(reencoded_path), EncodePrivateKeyPem(*key));

  // A key that openssl generates loads here, and its public key matches openssl's.
  std::string theirs = dir_ + "/theirs.key";
  std::string theirs_pub = dir_ + "/theirs.pub";
  ASSERT_EQ(std::system(("umask 077 && openssl genpkey -algorithm ed25519 -out " + theirs +
                         " 2>/dev/null && openssl pkey -in " + theirs + " -pubout -out " +
                         theirs_pub + " 2>/dev/null")
                            .c_str()),
            0);
  auto loaded = LoadPrivateKeyFile(theirs);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  auto loaded_pub = LoadPublicKeyFile(theirs_pub);
  ASSERT_TRUE(loaded_pub.ok()) << loaded_pub.status().ToString();
  EXPECT_EQ(loaded->public_key(), *loaded_pub);
}

}  // namespace
}  // namespace sov::crypto
