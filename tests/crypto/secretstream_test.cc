// Shows that secretstream round-trips any size fed in any pieces, has exactly the documented
// size, and turns every kind of tampering, truncation or wrong key into DATA_LOSS.
#include "crypto/secretstream.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <string>
#include <vector>

namespace sov::crypto {
namespace {

constexpr size_t kPrefix = 8 + 24;              // magic+version, secretstream header
constexpr size_t kFull = kStreamChunkSize + 17;  // one full ciphertext chunk

std::string Pattern(size_t size, uint32_t seed = 1) {
  std::string s(size, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < size; ++i) {
    x = x * 1664525u + 1013904223u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

// Encrypts `plaintext` fed in pieces of `step` bytes (the whole at once when 0).
std::string Encrypt(const SecretKey& key, std::string_view plaintext, size_t step = 0) {
  std::string out;
  out.reserve(StreamCiphertextSize(plaintext.size()));
  auto enc = StreamEncryptor::Create(key, &out);
  EXPECT_TRUE(enc.ok()) << enc.status().ToString();
  if (!enc.ok()) return {};
  if (step == 0) step = std::max<size_t>(plaintext.size(), 1);
  for (size_t i = 0; i < plaintext.size(); i += step) {
    EXPECT_TRUE(enc->Update(plaintext.substr(i, step), &out).ok());
  }
  EXPECT_TRUE(enc->Finish(&out).ok());
  return out;
}

// Decrypts `ciphertext` fed in pieces of `step` bytes; returns the first failure, or the
// plaintext.
Result<std::string> Decrypt(const SecretKey& key, std::string_view ciphertext, size_t step = 0) {
  std::string out;
  auto dec = StreamDecryptor::Create(key);
  if (!dec.ok()) return dec.status();
  if (step == 0) step = std::max<size_t>(ciphertext.size(), 1);
  for (size_t i = 0; i < ciphertext.size(); i += step) {
    Status status = dec->Update(ciphertext.substr(i, step), &out);
    if (!status.ok()) return status;
  }
  Status status = dec->Finish(&out);
  if (!status.ok()) return status;
  return out;
}

// Asserts that decrypting `ciphertext`, whole and in pieces, fails with DATA_LOSS.
void ExpectDataLoss(const SecretKey& key, std::string_view ciphertext, const std::string& what) {
  for (size_t step : {size_t{0}, size_t{4093}, size_t{kFull}, size_t{kFull - 1}}) {
    auto result = Decrypt(key, ciphertext, step);
    ASSERT_FALSE(result.ok()) << what << " (step " << step << ") decrypted";
    EXPECT_EQ(result.status().code(), StatusCode::kDataLoss)
        << what << ": " << result.status().ToString();
  }
}

class SecretStreamTest : public ::testing::Test {
 protected:
  SecretKey key_ = SecretKey::Random();
};

TEST_F(SecretStreamTest, RoundTripsAllSizesInOddPieces) {
  // Sizes around chunk boundaries round-trip whole and fed in odd-sized pieces.
  for (size_t size : {size_t{0}, size_t{1}, kStreamChunkSize - 1, kStreamChunkSize,
                      kStreamChunkSize + 1, kStreamChunkSize * 7 / 2}) {
    SCOPED_TRACE("size " + std::to_string(size));
    std::string plaintext = Pattern(size, static_cast<uint32_t>(size));
    for (size_t enc_step : {size_t{0}, size_t{65537}, size_t{kStreamChunkSize + 3}}) {
      std::string ciphertext = Encrypt(key_, plaintext, enc_step);
      ASSERT_EQ(ciphertext.size(), StreamCiphertextSize(size));
      for (size_t dec_step : {size_t{0}, size_t{1000003}, size_t{kFull}, size_t{kFull + 1}}) {
        auto decrypted = Decrypt(key_, ciphertext, dec_step);
        ASSERT_TRUE(decrypted.ok()) << decrypted.status().ToString();
        EXPECT_TRUE(*decrypted == plaintext) << "enc step " << enc_step << " dec step " << dec_step;
      }
    }
  }
}

TEST_F(SecretStreamTest, TinyPiecesRoundTrip) {
  // Byte-at-a-time decryption of the header and a short stream works.
  std::string plaintext = Pattern(1000);
  std::string ciphertext = Encrypt(key_, plaintext, 7);
  auto decrypted = Decrypt(key_, ciphertext, 1);
  ASSERT_TRUE(decrypted.ok()) << decrypted.status().ToString();
  EXPECT_EQ(*decrypted, plaintext);
}

TEST_F(SecretStreamTest, CiphertextSizeIsExact) {
  // StreamCiphertextSize is the header plus 17 bytes per chunk, the final chunk included.
  EXPECT_EQ(StreamCiphertextSize(0), kPrefix + 17);
  EXPECT_EQ(StreamCiphertextSize(1), kPrefix + 1 + 17);
  EXPECT_EQ(StreamCiphertextSize(kStreamChunkSize - 1), kPrefix + kStreamChunkSize - 1 + 17);
  EXPECT_EQ(StreamCiphertextSize(kStreamChunkSize), kPrefix + kFull + 17);
  EXPECT_EQ(StreamCiphertextSize(uint64_t{5} << 40),
            kPrefix + (uint64_t{5} << 20) * kFull + 17);  // 5 TiB: no 32-bit overflow
}

TEST_F(SecretStreamTest, FormatStartsWithMagicAndIsRandomised) {
  // The stream starts with "SOVSS1\0\0", and the same plaintext encrypts differently each time.
  std::string a = Encrypt(key_, "same");
  std::string b = Encrypt(key_, "same");
  EXPECT_EQ(a.substr(0, 8), std::string("SOVSS1\0\0", 8));
  EXPECT_NE(a, b);
}

TEST_F(SecretStreamTest, FlippedBytesAreDataLoss) {
  // A flipped byte in the magic, the header, a middle chunk or the last chunk is DATA_LOSS.
  std::string ciphertext = Encrypt(key_, Pattern(kStreamChunkSize * 7 / 2));  // 4 chunks
  ASSERT_EQ(ciphertext.size(), kPrefix + 3 * kFull + kStreamChunkSize / 2 + 17);
  struct Case {
    size_t offset;
    const char* what;
  };
  for (const Case& c : {Case{3, "magic"}, Case{7, "version byte"}, Case{8, "header start"},
                        Case{kPrefix - 1, "header end"}, Case{kPrefix, "first chunk start"},
                        Case{kPrefix + kFull + 12345, "middle chunk"},
                        Case{kPrefix + 2 * kFull - 1, "middle chunk tag"},
                        Case{kPrefix + 3 * kFull, "last chunk tag byte"},
                        Case{kPrefix + 3 * kFull + 100, "last chunk body"},
                        Case{ciphertext.size() - 1, "last byte"}}) {
    std::string tampered = ciphertext;
    tampered[c.offset] ^= 0x01;
    ExpectDataLoss(key_, tampered, c.what);
  }
}

TEST_F(SecretStreamTest, ReorderedChunksAreDataLoss) {
  // Dropping, swapping or repeating a whole chunk is DATA_LOSS.
  std::string ciphertext = Encrypt(key_, Pattern(kStreamChunkSize * 7 / 2));
  std::string prefix = ciphertext.substr(0, kPrefix);
  std::vector<std::string> chunks;
  for (size_t i = kPrefix; i < ciphertext.size(); i += kFull) chunks.push_back(ciphertext.substr(i, kFull));
  ASSERT_EQ(chunks.size(), 4u);
  auto join = [&](std::vector<int> order) {
    std::string s = prefix;
    for (int i : order) s += chunks[static_cast<size_t>(i)];
    return s;
  };
  ASSERT_EQ(join({0, 1, 2, 3}), ciphertext);
  ExpectDataLoss(key_, join({0, 2, 3}), "dropped middle chunk");
  ExpectDataLoss(key_, join({1, 2, 3}), "dropped first chunk");
  ExpectDataLoss(key_, join({1, 0, 2, 3}), "swapped chunks");
  ExpectDataLoss(key_, join({0, 1, 1, 2, 3}), "repeated chunk");
  ExpectDataLoss(key_, join({0, 1, 2, 3, 3}), "repeated final chunk");
  ExpectDataLoss(key_, join({0, 1, 2, 2}), "repeated chunk instead of final");
}

TEST_F(SecretStreamTest, TruncationIsDataLoss) {
  // Cutting the stream anywhere, a chunk boundary included, is DATA_LOSS.
  std::string ciphertext = Encrypt(key_, Pattern(kStreamChunkSize * 7 / 2));
  for (size_t cut : {size_t{0}, size_t{5}, size_t{8}, kPrefix - 1, kPrefix, kPrefix + 1,
                     kPrefix + 16, kPrefix + 17, kPrefix + kFull - 1, kPrefix + kFull,
                     kPrefix + kFull + 1, kPrefix + 3 * kFull,  // final chunk dropped entirely
                     kPrefix + 3 * kFull + 16, ciphertext.size() - 1}) {
    ExpectDataLoss(key_, std::string_view(ciphertext).substr(0, cut),
                   "truncated at " + std::to_string(cut));
  }
  // An empty stream's final chunk is 17 bytes; dropping it is caught too.
  std::string empty = Encrypt(key_, "");
  ExpectDataLoss(key_, std::string_view(empty).substr(0, kPrefix), "empty stream without final");
}

TEST_F(SecretStreamTest, TrailingBytesAreDataLoss) {
  // Anything after the final chunk, even one byte or a whole chunk, is DATA_LOSS.
  for (size_t size : {size_t{0}, size_t{100}, kStreamChunkSize}) {
    std::string ciphertext = Encrypt(key_, Pattern(size));
    ExpectDataLoss(key_, ciphertext + "x", "one trailing byte");
    ExpectDataLoss(key_, ciphertext + std::string(kFull, '\0'), "a trailing chunk of zeros");
    ExpectDataLoss(key_, ciphertext + ciphertext.substr(kPrefix), "the chunks again");
  }
}

TEST_F(SecretStreamTest, SplicedStreamsAreDataLoss) {
  // A chunk from another stream under the same key does not authenticate.
  std::string a = Encrypt(key_, Pattern(kStreamChunkSize + 10, 1));
  std::string b = Encrypt(key_, Pattern(kStreamChunkSize + 10, 2));
  ExpectDataLoss(key_, a.substr(0, kPrefix + kFull) + b.substr(kPrefix + kFull),
                 "final chunk from another stream");
  ExpectDataLoss(key_, b.substr(0, kPrefix) + a.substr(kPrefix), "header from another stream");
}

TEST_F(SecretStreamTest, WrongKeyIsDataLoss) {
  // Another key fails on the first chunk and yields no plaintext.
  std::string ciphertext = Encrypt(key_, Pattern(kStreamChunkSize * 2 + 5));
  ExpectDataLoss(SecretKey::Random(), ciphertext, "wrong key");
  std::string out;
  auto dec = StreamDecryptor::Create(SecretKey::Random());
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(dec->Update(ciphertext, &out).code(), StatusCode::kDataLoss);
  EXPECT_TRUE(out.empty());
}

TEST_F(SecretStreamTest, FailureIsFinal) {
  // After one failure every later call fails too and appends nothing.
  std::string ciphertext = Encrypt(key_, Pattern(kStreamChunkSize * 2));
  std::string tampered = ciphertext;
  tampered[kPrefix + kFull + 5] ^= 0x80;  // second chunk
  std::string out;
  auto dec = StreamDecryptor::Create(key_);
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(dec->Update(tampered, &out).code(), StatusCode::kDataLoss);
  EXPECT_EQ(out.size(), kStreamChunkSize);  // only the first, authentic chunk
  size_t before = out.size();
  EXPECT_EQ(dec->Update(ciphertext.substr(kPrefix + 2 * kFull), &out).code(),
            StatusCode::kDataLoss);
  EXPECT_EQ(dec->Finish(&out).code(), StatusCode::kDataLoss);
  EXPECT_EQ(out.size(), before);
}

// Builds a stream by hand with libsodium: the prefix, then one chunk per (plaintext, tag).
std::string HandMadeStream(const SecretKey& key,
                           const std::vector<std::pair<std::string, unsigned char>>& chunks) {
  crypto_secretstream_xchacha20poly1305_state state;
  unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
  crypto_secretstream_xchacha20poly1305_init_push(&state, header, key.data());
  std::string out("SOVSS1\0\0", 8);
  out.append(reinterpret_cast<const char*>(header), sizeof header);
  for (const auto& [plaintext, tag] : chunks) {
    std::string c(plaintext.size() + crypto_secretstream_xchacha20poly1305_ABYTES, '\0');
    crypto_secretstream_xchacha20poly1305_push(
        &state, reinterpret_cast<unsigned char*>(c.data()), nullptr,
        reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(), nullptr, 0,
        tag);
    out += c;
  }
  return out;
}

TEST_F(SecretStreamTest, FullSizeFinalChunkEndsTheStream) {
  // A full-size chunk tagged FINAL is a complete stream; anything after it is DATA_LOSS.
  std::string full = Pattern(kStreamChunkSize);
  std::string stream =
      HandMadeStream(key_, {{full, crypto_secretstream_xchacha20poly1305_TAG_FINAL}});
  auto decrypted = Decrypt(key_, stream, 999);
  ASSERT_TRUE(decrypted.ok()) << decrypted.status().ToString();
  EXPECT_TRUE(*decrypted == full);
  ExpectDataLoss(key_, stream + "x", "byte after a full-size final chunk");
}

TEST_F(SecretStreamTest, ShortChunkWithoutFinalTagIsDataLoss) {
  // A stream whose last (short) chunk is tagged MESSAGE was cut short: DATA_LOSS.
  std::string stream =
      HandMadeStream(key_, {{"abc", crypto_secretstream_xchacha20poly1305_TAG_MESSAGE}});
  ExpectDataLoss(key_, stream, "short MESSAGE chunk at the end");
  // Other tags (PUSH, REKEY) are never written, so they are refused too.
  std::string push = HandMadeStream(
      key_, {{Pattern(kStreamChunkSize), crypto_secretstream_xchacha20poly1305_TAG_PUSH},
             {"", crypto_secretstream_xchacha20poly1305_TAG_FINAL}});
  ExpectDataLoss(key_, push, "PUSH tag");
}

TEST_F(SecretStreamTest, EncryptorRefusesUseAfterFinish) {
  // Update or Finish after Finish is FAILED_PRECONDITION.
  std::string out;
  auto enc = StreamEncryptor::Create(key_, &out);
  ASSERT_TRUE(enc.ok());
  ASSERT_TRUE(enc->Finish(&out).ok());
  EXPECT_EQ(enc->Update("x", &out).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(enc->Finish(&out).code(), StatusCode::kFailedPrecondition);
}

TEST_F(SecretStreamTest, MovedObjectsKeepStreaming) {
  // Moving an encryptor or decryptor mid-stream carries its state.
  std::string plaintext = Pattern(kStreamChunkSize + 500);
  std::string ciphertext;
  auto created = StreamEncryptor::Create(key_, &ciphertext);
  ASSERT_TRUE(created.ok());
  StreamEncryptor enc = std::move(*created);
  ASSERT_TRUE(enc.Update(std::string_view(plaintext).substr(0, 700), &ciphertext).ok());
  StreamEncryptor moved(std::move(enc));
  ASSERT_TRUE(moved.Update(std::string_view(plaintext).substr(700), &ciphertext).ok());
  ASSERT_TRUE(moved.Finish(&ciphertext).ok());

  std::string out;
  auto dec = StreamDecryptor::Create(key_);
  ASSERT_TRUE(dec.ok());
  ASSERT_TRUE(dec->Update(std::string_view(ciphertext).substr(0, 10), &out).ok());
  StreamDecryptor moved_dec(std::move(*dec));
  ASSERT_TRUE(moved_dec.Update(std::string_view(ciphertext).substr(10), &out).ok());
  ASSERT_TRUE(moved_dec.Finish(&out).ok());
  EXPECT_TRUE(out == plaintext);
}

}  // namespace
}  // namespace sov::crypto
