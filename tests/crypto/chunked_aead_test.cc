// Shows that chunked AEAD blobs round-trip every size around the chunk boundary, decrypt chunk by
// chunk in any order and after a resumed upload, have exactly the documented geometry and bytes
// (checked against libsodium's independent ChaCha20-Poly1305), and turn every kind of tampering,
// moving, truncation or wrong key into DATA_LOSS that names the chunk.
#include "crypto/chunked_aead.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>
#include <thread>
#include <vector>

namespace sov::crypto {
namespace {

constexpr size_t kC = kChunkPlaintextBytes;

std::string Pattern(size_t size, uint32_t seed = 1) {
  std::string s(size, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < size; ++i) {
    x = x * 1664525u + 1013904223u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

// Seals a whole blob as the blob store does: header, then each chunk in order.
std::string SealBlob(const SecretKey& key, std::string_view plaintext) {
  std::string blob = NewBlobHeader();
  const std::string header = blob;
  const uint64_t n = plaintext.size();
  for (uint64_t i = 0; i < ChunkCount(n); ++i) {
    Status status = EncryptChunk(key, header, i, IsFinalChunk(i, n),
                                 plaintext.substr(i * kC, ChunkPlaintextSize(i, n)), blob);
    EXPECT_TRUE(status.ok()) << status.ToString();
  }
  return blob;
}

// Opens a whole blob: the plaintext size from the sealed size, then each chunk at its offset.
Result<std::string> OpenBlob(const SecretKey& key, std::string_view blob) {
  if (blob.size() < kBlobHeaderBytes) return DataLoss("no header");
  const std::string_view header = blob.substr(0, kBlobHeaderBytes);
  SOV_RETURN_IF_ERROR(CheckBlobHeader(header));
  SOV_ASSIGN_OR_RETURN(uint64_t n, PlaintextSizeOfSealed(blob.size()));
  std::string out;
  for (uint64_t i = 0; i < ChunkCount(n); ++i) {
    std::string_view sealed =
        blob.substr(ChunkFileOffset(i), ChunkPlaintextSize(i, n) + kChunkOverheadBytes);
    SOV_RETURN_IF_ERROR(DecryptChunk(key, header, i, IsFinalChunk(i, n), sealed, out));
  }
  return out;
}

std::string_view Header(std::string_view blob) { return blob.substr(0, kBlobHeaderBytes); }

std::string_view SealedChunk(std::string_view blob, uint64_t index, uint64_t plaintext_size) {
  return blob.substr(ChunkFileOffset(index),
                     ChunkPlaintextSize(index, plaintext_size) + kChunkOverheadBytes);
}

// Asserts that decrypting `sealed` as described fails with DATA_LOSS naming `index`, leaving the
// output buffer as it was.
void ExpectChunkDataLoss(const SecretKey& key, std::string_view header, uint64_t index,
                         bool is_final, std::string_view sealed, const std::string& what) {
  std::string out = "kept";
  Status status = DecryptChunk(key, header, index, is_final, sealed, out);
  EXPECT_EQ(status.code(), StatusCode::kDataLoss) << what << ": " << status.ToString();
  EXPECT_EQ(out, "kept") << what;
  if (status.code() == StatusCode::kDataLoss) {
    EXPECT_NE(status.message().find("chunk " + std::to_string(index)), std::string::npos)
        << what << ": " << status.message();
  }
}

class ChunkedAeadTest : public ::testing::Test {
 protected:
  SecretKey key_ = SecretKey::Random();
};

TEST_F(ChunkedAeadTest, RoundTripsSizesAroundTheChunkBoundary) {
  // Every size near a chunk boundary seals to SealedSize bytes and opens to the same plaintext.
  for (size_t size : {size_t{0}, size_t{1}, kC - 1, kC, kC + 1, 3 * kC + 5}) {
    SCOPED_TRACE(size);
    const std::string plaintext = Pattern(size, static_cast<uint32_t>(size));
    const std::string blob = SealBlob(key_, plaintext);
    EXPECT_EQ(blob.size(), SealedSize(size));
    auto n = PlaintextSizeOfSealed(blob.size());
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    EXPECT_EQ(*n, size);
    auto opened = OpenBlob(key_, blob);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_TRUE(*opened == plaintext);
  }
}

TEST_F(ChunkedAeadTest, GeometryIsAsDocumented) {
  // Chunk counts, offsets and sizes follow the layout in the header, one encoding per size.
  EXPECT_EQ(kChunkOverheadBytes, 28u);
  EXPECT_EQ(kBlobHeaderBytes, 16u);
  EXPECT_EQ(ChunkCount(0), 1u);
  EXPECT_EQ(ChunkCount(1), 1u);
  EXPECT_EQ(ChunkCount(kC), 1u);
  EXPECT_EQ(ChunkCount(kC + 1), 2u);
  EXPECT_EQ(ChunkCount(3 * kC + 5), 4u);
  EXPECT_TRUE(IsFinalChunk(0, 0));
  EXPECT_TRUE(IsFinalChunk(0, kC));
  EXPECT_FALSE(IsFinalChunk(0, kC + 1));
  EXPECT_TRUE(IsFinalChunk(1, kC + 1));
  EXPECT_FALSE(IsFinalChunk(2, kC + 1));
  EXPECT_EQ(ChunkPlaintextSize(0, 0), 0u);
  EXPECT_EQ(ChunkPlaintextSize(0, kC + 1), kC);
  EXPECT_EQ(ChunkPlaintextSize(1, kC + 1), 1u);
  EXPECT_EQ(ChunkPlaintextSize(2, kC + 1), 0u);
  EXPECT_EQ(ChunkPlaintextSize(3, 3 * kC + 5), 5u);
  EXPECT_EQ(ChunkFileOffset(0), 16u);
  EXPECT_EQ(ChunkFileOffset(3), 16u + 3 * (kC + 28));
  EXPECT_EQ(SealedSize(0), 16u + 28);
  EXPECT_EQ(SealedSize(kC), 16u + kC + 28);
  EXPECT_EQ(SealedSize(3 * kC + 5), 16u + 3 * (kC + 28) + 5 + 28);
  // A petabyte-scale size round-trips through the sealed size.
  const uint64_t big = (uint64_t{1} << 50) + 12345;
  auto back = PlaintextSizeOfSealed(SealedSize(big));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, big);
  // Sizes that no plaintext seals to: too short, a torn chunk, an empty final chunk after a full
  // one (not this format's encoding), a chunk's overhead without its tag.
  for (uint64_t bad : {uint64_t{0}, uint64_t{16}, uint64_t{16 + 27}, uint64_t{16 + kC + 28 + 28},
                       uint64_t{16 + kC + 28 + 5}, uint64_t{16 + 2 * (kC + 28) + 1}}) {
    auto result = PlaintextSizeOfSealed(bad);
    EXPECT_EQ(result.status().code(), StatusCode::kDataLoss) << bad;
  }
}

TEST_F(ChunkedAeadTest, MatchesRfc8439ChaCha20Poly1305WithTheDocumentedAad) {
  // An independent implementation (libsodium's IETF ChaCha20-Poly1305) opens a chunk given the
  // documented nonce || ciphertext || tag split and AAD = header || BE64(index) || final.
  ASSERT_GE(sodium_init(), 0);
  const std::string header = NewBlobHeader();
  const std::string plaintext = Pattern(1000);
  std::string sealed;
  ASSERT_TRUE(EncryptChunk(key_, header, 0x0102030405060708ull, true, plaintext, sealed).ok());
  ASSERT_EQ(sealed.size(), plaintext.size() + 28);
  std::string aad = header;
  for (int i = 1; i <= 8; ++i) aad.push_back(static_cast<char>(i));
  aad.push_back('\x01');
  std::string opened(plaintext.size(), '\0');
  unsigned long long opened_len = 0;
  const auto* s = reinterpret_cast<const unsigned char*>(sealed.data());
  ASSERT_EQ(crypto_aead_chacha20poly1305_ietf_decrypt(
                reinterpret_cast<unsigned char*>(opened.data()), &opened_len, nullptr, s + 12,
                sealed.size() - 12, reinterpret_cast<const unsigned char*>(aad.data()),
                aad.size(), s, key_.data()),
            0);
  EXPECT_EQ(opened_len, plaintext.size());
  EXPECT_EQ(opened, plaintext);
  // And the other way: libsodium's sealing, laid out as documented, opens here.
  std::string theirs(12 + plaintext.size() + 16, '\0');
  auto* t = reinterpret_cast<unsigned char*>(theirs.data());
  randombytes_buf(t, 12);
  unsigned long long theirs_len = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(
      t + 12, &theirs_len, reinterpret_cast<const unsigned char*>(plaintext.data()),
      plaintext.size(), reinterpret_cast<const unsigned char*>(aad.data()), aad.size(), nullptr,
      t, key_.data());
  std::string out;
  Status status = DecryptChunk(key_, header, 0x0102030405060708ull, true, theirs, out);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(out, plaintext);
}

TEST_F(ChunkedAeadTest, HeaderHasMagicAndRandomSalt) {
  // Headers start with "SOVCA1\0\0" and differ by their salt.
  const std::string a = NewBlobHeader();
  const std::string b = NewBlobHeader();
  ASSERT_EQ(a.size(), kBlobHeaderBytes);
  EXPECT_EQ(a.substr(0, 8), std::string("SOVCA1\0\0", 8));
  EXPECT_NE(a, b);
  EXPECT_TRUE(CheckBlobHeader(a).ok());
  EXPECT_EQ(CheckBlobHeader(a.substr(0, 15)).code(), StatusCode::kDataLoss);
  EXPECT_EQ(CheckBlobHeader(a + "x").code(), StatusCode::kDataLoss);
  std::string other_version = a;
  other_version[5] = '2';
  EXPECT_EQ(CheckBlobHeader(other_version).code(), StatusCode::kDataLoss);
  std::string secretstream = a;
  secretstream.replace(0, 6, "SOVSS1");
  EXPECT_EQ(CheckBlobHeader(secretstream).code(), StatusCode::kDataLoss);
}

TEST_F(ChunkedAeadTest, EncryptionUsesAFreshNonceEveryTime) {
  // Sealing the same chunk twice gives different bytes (random nonces), and both open.
  const std::string header = NewBlobHeader();
  const std::string plaintext = Pattern(kC);
  std::string first;
  std::string second;
  ASSERT_TRUE(EncryptChunk(key_, header, 0, false, plaintext, first).ok());
  ASSERT_TRUE(EncryptChunk(key_, header, 0, false, plaintext, second).ok());
  EXPECT_NE(first.substr(0, 12), second.substr(0, 12));
  EXPECT_NE(first, second);
  std::string out;
  ASSERT_TRUE(DecryptChunk(key_, header, 0, false, first, out).ok());
  ASSERT_TRUE(DecryptChunk(key_, header, 0, false, second, out).ok());
  EXPECT_TRUE(out == plaintext + plaintext);
}

TEST_F(ChunkedAeadTest, AppendsToOutputAndReusesItsCapacity) {
  // Both directions append after what `out` holds; a reused buffer is not reallocated.
  const std::string header = NewBlobHeader();
  const std::string plaintext = Pattern(kC);
  std::string sealed = "prefix";
  ASSERT_TRUE(EncryptChunk(key_, header, 0, false, plaintext, sealed).ok());
  ASSERT_EQ(sealed.substr(0, 6), "prefix");
  const std::string_view chunk = std::string_view(sealed).substr(6);
  std::string out = "p";
  ASSERT_TRUE(DecryptChunk(key_, header, 0, false, chunk, out).ok());
  EXPECT_TRUE(out == "p" + plaintext);

  std::string buffer;
  buffer.reserve(kSealedChunkBytes);
  const char* data = buffer.data();
  for (int i = 0; i < 3; ++i) {
    buffer.clear();
    ASSERT_TRUE(EncryptChunk(key_, header, 0, false, plaintext, buffer).ok());
    EXPECT_EQ(buffer.data(), data);
  }
  std::string plain;
  plain.reserve(kC);
  const char* plain_data = plain.data();
  for (int i = 0; i < 3; ++i) {
    plain.clear();
    ASSERT_TRUE(DecryptChunk(key_, header, 0, false, buffer, plain).ok());
    EXPECT_EQ(plain.data(), plain_data);
  }
}

TEST_F(ChunkedAeadTest, DecryptsAnyChunkAloneForRangedReads) {
  // A reader decrypts only the chunk holding a byte offset, in any order.
  const uint64_t n = 3 * kC + 5;
  const std::string plaintext = Pattern(n, 7);
  const std::string blob = SealBlob(key_, plaintext);
  for (uint64_t i : {uint64_t{3}, uint64_t{1}, uint64_t{0}, uint64_t{2}}) {
    std::string out;
    Status status = DecryptChunk(key_, Header(blob), i, IsFinalChunk(i, n),
                                 SealedChunk(blob, i, n), out);
    ASSERT_TRUE(status.ok()) << status.ToString();
    EXPECT_TRUE(out == plaintext.substr(i * kC, ChunkPlaintextSize(i, n))) << i;
  }
  // Resuming a download at byte offset 2 MiB + 10 starts with chunk 2.
  const uint64_t offset = 2 * kC + 10;
  const uint64_t first = offset / kC;
  std::string out;
  ASSERT_TRUE(DecryptChunk(key_, Header(blob), first, false, SealedChunk(blob, first, n), out)
                  .ok());
  EXPECT_EQ(out.substr(offset % kC, 100), plaintext.substr(offset, 100));
}

TEST_F(ChunkedAeadTest, ResumedUploadOpensAsOneBlob) {
  // An upload that stops after two chunks, re-seals its second chunk in a new "process" (new
  // buffers, same header and key) and goes on, gives a blob that opens to the whole plaintext.
  const uint64_t n = 3 * kC + 5;
  const std::string plaintext = Pattern(n, 9);
  std::string blob = NewBlobHeader();
  const std::string header = blob;
  ASSERT_TRUE(EncryptChunk(key_, header, 0, false, plaintext.substr(0, kC), blob).ok());
  ASSERT_TRUE(EncryptChunk(key_, header, 1, false, plaintext.substr(kC, kC), blob).ok());
  // The durable point was after chunk 0: the store truncates back to it.
  const std::string first_try_chunk1 = blob.substr(ChunkFileOffset(1));
  blob.resize(ChunkFileOffset(1));
  std::thread resumed([&] {
    std::string stored_header = blob.substr(0, kBlobHeaderBytes);
    for (uint64_t i = 1; i < ChunkCount(n); ++i) {
      ASSERT_TRUE(EncryptChunk(key_, stored_header, i, IsFinalChunk(i, n),
                               std::string_view(plaintext).substr(i * kC, ChunkPlaintextSize(i, n)),
                               blob)
                      .ok());
    }
  });
  resumed.join();
  EXPECT_NE(blob.substr(ChunkFileOffset(1), kSealedChunkBytes), first_try_chunk1);
  auto opened = OpenBlob(key_, blob);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_TRUE(*opened == plaintext);
}

TEST_F(ChunkedAeadTest, EveryTamperingIsDataLoss) {
  // A changed byte anywhere in a chunk, another index, final flag, header or key, or a torn
  // chunk fails with DATA_LOSS and leaves the output as it was.
  const uint64_t n = 2 * kC + 100;
  const std::string blob = SealBlob(key_, Pattern(n, 3));
  const std::string header(Header(blob));
  const std::string chunk0(SealedChunk(blob, 0, n));
  const std::string last(SealedChunk(blob, 2, n));

  for (size_t pos : {size_t{0}, size_t{11}, size_t{12}, size_t{12 + 50000}, 12 + kC - 1,
                     12 + kC, kSealedChunkBytes - 1}) {
    std::string flipped = chunk0;
    flipped[pos] ^= 0x01;
    ExpectChunkDataLoss(key_, header, 0, false, flipped, "flipped byte " + std::to_string(pos));
  }
  for (size_t pos : {size_t{3}, size_t{12}, size_t{12 + 99}, size_t{12 + 100},
                     last.size() - 1}) {
    std::string flipped = last;
    flipped[pos] ^= 0x80;
    ExpectChunkDataLoss(key_, header, 2, true, flipped, "flipped last byte " + std::to_string(pos));
  }
  ExpectChunkDataLoss(key_, header, 1, false, chunk0, "chunk 0 read as chunk 1");
  ExpectChunkDataLoss(key_, header, 0, false, SealedChunk(blob, 1, n), "swapped chunks");
  ExpectChunkDataLoss(key_, header, 1ull << 32, false, chunk0, "index high bits");
  ExpectChunkDataLoss(key_, header, 1, true, last, "final chunk at another index");
  // The final flag: a full chunk sealed as not final does not open as final (and vice versa),
  // so a blob cut at a chunk boundary cannot pass as complete.
  ExpectChunkDataLoss(key_, header, 0, true, chunk0, "non-final read as final");
  const std::string exact = SealBlob(key_, Pattern(kC, 4));
  ExpectChunkDataLoss(key_, Header(exact), 0, false, SealedChunk(exact, 0, kC),
                      "final read as non-final");
  // Header: another blob's salt, a wrong magic, a wrong size.
  ExpectChunkDataLoss(key_, NewBlobHeader(), 0, false, chunk0, "another blob's header");
  std::string bad_magic = header;
  bad_magic[0] = 'X';
  ExpectChunkDataLoss(key_, bad_magic, 0, false, chunk0, "bad magic");
  ExpectChunkDataLoss(key_, header.substr(0, 15), 0, false, chunk0, "short header");
  // A chunk of another blob under the same key, at the same index.
  const std::string other = SealBlob(key_, Pattern(n, 3));
  ExpectChunkDataLoss(key_, header, 0, false, SealedChunk(other, 0, n), "spliced chunk");
  // Wrong key.
  ExpectChunkDataLoss(SecretKey::Random(), header, 0, false, chunk0, "wrong key");
  ExpectChunkDataLoss(SecretKey::Random(), header, 2, true, last, "wrong key, final");
  // Torn chunks.
  ExpectChunkDataLoss(key_, header, 0, false, std::string_view(chunk0).substr(0, chunk0.size() - 1),
                      "non-final chunk missing a byte");
  ExpectChunkDataLoss(key_, header, 2, true, std::string_view(last).substr(0, last.size() - 1),
                      "final chunk missing a byte");
  ExpectChunkDataLoss(key_, header, 2, true, std::string_view(last).substr(0, 27),
                      "shorter than the overhead");
  ExpectChunkDataLoss(key_, header, 2, true, "", "empty");
  ExpectChunkDataLoss(key_, header, 0, true, chunk0 + "x", "longer than a chunk");
  // After all those failures this thread's cipher context still opens the untouched chunks.
  std::string out;
  EXPECT_TRUE(DecryptChunk(key_, header, 0, false, chunk0, out).ok());
  EXPECT_TRUE(DecryptChunk(key_, header, 2, true, last, out).ok());
  EXPECT_EQ(out.size(), kC + 100);
}

TEST_F(ChunkedAeadTest, TruncatedOrExtendedBlobsFail) {
  // Dropping the final chunk, cutting inside one, or appending after the final chunk is caught.
  const uint64_t n = 2 * kC + 100;
  const std::string blob = SealBlob(key_, Pattern(n, 5));
  // Cut at a chunk boundary: the size is valid (2 MiB), but chunk 1 was not sealed as final.
  const std::string cut = blob.substr(0, ChunkFileOffset(2));
  EXPECT_EQ(OpenBlob(key_, cut).status().code(), StatusCode::kDataLoss);
  // Cut inside the final chunk: the size is valid, the final chunk's tag is gone.
  EXPECT_EQ(OpenBlob(key_, blob.substr(0, blob.size() - 1)).status().code(),
            StatusCode::kDataLoss);
  // A further chunk after the final one.
  std::string extended = blob;
  ASSERT_TRUE(EncryptChunk(key_, Header(blob), 3, true, "more", extended).ok());
  EXPECT_EQ(OpenBlob(key_, extended).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(OpenBlob(key_, blob + std::string(28, '\0')).status().code(), StatusCode::kDataLoss);
  // The empty blob without its empty final chunk.
  const std::string empty = SealBlob(key_, "");
  EXPECT_EQ(OpenBlob(key_, Header(empty)).status().code(), StatusCode::kDataLoss);
}

TEST_F(ChunkedAeadTest, EncryptRejectsMisuse) {
  // Wrong chunk sizes or a bad header are INVALID_ARGUMENT, with the output untouched.
  const std::string header = NewBlobHeader();
  std::string out = "kept";
  EXPECT_EQ(EncryptChunk(key_, header, 0, false, Pattern(kC - 1), out).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(EncryptChunk(key_, header, 0, false, Pattern(kC + 1), out).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(EncryptChunk(key_, header, 0, true, Pattern(kC + 1), out).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(EncryptChunk(key_, header.substr(0, 8), 0, true, "x", out).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(EncryptChunk(key_, std::string(16, 'A'), 0, true, "x", out).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(out, "kept");
}

TEST_F(ChunkedAeadTest, ErrorsNeverQuoteKeyMaterial) {
  // A failure message names the chunk but never the key bytes.
  const std::string header = NewBlobHeader();
  std::string sealed;
  ASSERT_TRUE(EncryptChunk(key_, header, 5, true, "abc", sealed).ok());
  std::string out;
  Status status = DecryptChunk(SecretKey::Random(), header, 5, true, sealed, out);
  ASSERT_EQ(status.code(), StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("chunk 5"), std::string::npos);
  EXPECT_EQ(status.message().find(key_.bytes()), std::string::npos);
}

TEST_F(ChunkedAeadTest, ThreadsEncryptAndDecryptConcurrently) {
  // Each thread has its own cipher context: concurrent calls with different keys do not mix.
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &failures] {
      const SecretKey key = SecretKey::Random();
      const std::string header = NewBlobHeader();
      const std::string plaintext = Pattern(kC, static_cast<uint32_t>(t));
      for (int i = 0; i < 8; ++i) {
        std::string sealed;
        std::string out;
        if (!EncryptChunk(key, header, i, false, plaintext, sealed).ok() ||
            !DecryptChunk(key, header, i, false, sealed, out).ok() || out != plaintext) {
          ++failures[t];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace sov::crypto
