// Shows that SHA-256 matches the FIPS 180 vectors one-shot, streamed and from a file, and that
// the "sha256:<hex>" notation parses only its canonical form.
#include "crypto/sha256.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/file.h"

namespace sov::crypto {
namespace {

constexpr char kAbc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr char kEmpty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char k448Bit[] = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr char kMillionA[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
constexpr char k448BitMessage[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

// Returns `size` bytes that differ between positions, so that a misplaced piece changes the hash.
std::string Pattern(size_t size) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 131 + (i >> 8)) & 0xff);
  return s;
}

TEST(Sha256Test, FipsVectorsOneShot) {
  // FIPS 180-2 appendix B vectors and the empty string, through Sha256Of.
  EXPECT_EQ(Sha256Of("abc").Hex(), kAbc);
  EXPECT_EQ(Sha256Of("").Hex(), kEmpty);
  EXPECT_EQ(Sha256Of(k448BitMessage).Hex(), k448Bit);
  EXPECT_EQ(Sha256Of(std::string(1000000, 'a')).Hex(), kMillionA);
}

TEST(Sha256Test, ToStringHasPrefix) {
  // ToString is "sha256:" and the lower-case hex.
  EXPECT_EQ(Sha256Of("abc").ToString(), std::string("sha256:") + kAbc);
}

TEST(Sha256Test, MillionAStreamedInPieces) {
  // One million 'a' fed a thousand bytes at a time gives the FIPS digest.
  Sha256 hasher;
  std::string piece(1000, 'a');
  for (int i = 0; i < 1000; ++i) hasher.Update(piece);
  EXPECT_EQ(hasher.Finish().Hex(), kMillionA);
}

TEST(Sha256Test, StreamingInOddPiecesEqualsOneShot) {
  // Any split of the input, including empty pieces, hashes like the whole.
  std::string data = Pattern(3 * 1024 * 1024 + 17);
  Digest expected = Sha256Of(data);
  for (size_t step : {size_t{1}, size_t{3}, size_t{63}, size_t{64}, size_t{65}, size_t{4097},
                      size_t{1000003}}) {
    Sha256 hasher;
    std::string_view rest = data;
    // Byte-at-a-time over 3 MiB is slow, so step 1 covers only a prefix then one big piece.
    size_t budget = step == 1 ? 5000 : data.size();
    while (!rest.empty() && budget > 0) {
      size_t n = std::min({step, rest.size(), budget});
      hasher.Update(rest.substr(0, n));
      hasher.Update("");
      rest.remove_prefix(n);
      budget -= n;
    }
    hasher.Update(rest);
    EXPECT_EQ(hasher.Finish(), expected) << "step " << step;
  }
}

TEST(Sha256Test, MoveKeepsState) {
  // A moved Sha256 carries on from where the original was.
  Sha256 a;
  a.Update("ab");
  Sha256 b(std::move(a));
  b.Update("c");
  Sha256 c;
  c = std::move(b);
  EXPECT_EQ(c.Finish().Hex(), kAbc);
}

TEST(Sha256Test, ParseRoundTrips) {
  // Parse accepts what ToString prints.
  Digest d = Sha256Of("abc");
  auto parsed = Digest::Parse(d.ToString());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, d);
}

TEST(Sha256Test, ParseRejectsMalformed) {
  // Wrong prefix, wrong length, non-hex and upper-case digits are INVALID_ARGUMENT.
  std::string hex = kAbc;
  for (const std::string& bad :
       {std::string(""), hex, "sha512:" + hex, "SHA256:" + hex, "sha256" + hex,
        "sha256:" + hex.substr(1), "sha256:" + hex + "0", "sha256:" + hex.substr(0, 63) + "g",
        "sha256:" + hex.substr(0, 63) + " ", "sha256:BA7816BF" + hex.substr(8), std::string("sha256:")}) {
    auto parsed = Digest::Parse(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

class Sha256FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sov_sha256_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(Sha256FileTest, FileDigestEqualsInMemoryDigest) {
  // Sha256File streams a file larger than its read buffer to the same digest as Sha256Of.
  std::string data = Pattern(2 * 1024 * 1024 + 5);
  std::string path = dir_ + "/blob";
  ASSERT_TRUE(WriteNewFile(path, data, 0644).ok());
  auto digest = Sha256File(path);
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_EQ(*digest, Sha256Of(data));

  std::string empty = dir_ + "/empty";
  ASSERT_TRUE(WriteNewFile(empty, "", 0644).ok());
  EXPECT_EQ(Sha256File(empty)->Hex(), kEmpty);
}

TEST_F(Sha256FileTest, ProgressCountsEveryByteOnceInOrder) {
  // on_progress sees the bytes hashed so far after each block: rising, ending at the size.
  std::string data = Pattern(2 * 1024 * 1024 + 5);
  std::string path = dir_ + "/blob";
  ASSERT_TRUE(WriteNewFile(path, data, 0644).ok());
  std::vector<uint64_t> seen;
  auto digest = Sha256File(path, [&](uint64_t done) { seen.push_back(done); });
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_EQ(*digest, Sha256Of(data));
  ASSERT_GE(seen.size(), 3u);  // at least two whole 1 MiB blocks and the 5-byte tail
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1], seen[i]) << i;
  EXPECT_EQ(seen.back(), data.size());
}

TEST_F(Sha256FileTest, MissingFileIsNotFound) {
  // A missing file is NOT_FOUND naming the path.
  auto digest = Sha256File(dir_ + "/nope");
  ASSERT_FALSE(digest.ok());
  EXPECT_EQ(digest.status().code(), StatusCode::kNotFound);
  EXPECT_NE(digest.status().message().find(dir_ + "/nope"), std::string::npos);
}

}  // namespace
}  // namespace sov::crypto
