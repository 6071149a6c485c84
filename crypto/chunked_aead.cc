#include "crypto/chunked_aead.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <cstring>
#include <memory>
#include <string>

#include "crypto/internal/sodium.h"

namespace sov::crypto {
namespace {

constexpr char kMagic[8] = {'S', 'O', 'V', 'C', 'A', '1', 0, 0};
constexpr size_t kSaltBytes = kBlobHeaderBytes - sizeof kMagic;
constexpr size_t kAadBytes = kBlobHeaderBytes + 8 + 1;
static_assert(kChunkPlaintextBytes <= (size_t{1} << 30), "EVP lengths are int");

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};

// Returns the status for a failed OpenSSL call, with OpenSSL's reason, and empties this thread's
// error queue so that the next call starts clean.
Status OpenSslFailure(const char* call) {
  char reason[256] = "unknown error";
  unsigned long err = ERR_get_error();
  if (err != 0) ERR_error_string_n(err, reason, sizeof reason);
  ERR_clear_error();
  return Internal(std::string("chunked_aead: ") + call + " failed: " + reason);
}

// Fetching the algorithm once avoids OpenSSL 3's implicit fetch on every initialisation.
const EVP_CIPHER* ChaCha20Poly1305() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  return cipher;
}

// Returns this thread's cipher context, already bound to ChaCha20-Poly1305, or nullptr when
// OpenSSL cannot make one. Re-keying a bound context allocates nothing, so steady-state chunks
// cost no allocation at all.
EVP_CIPHER_CTX* ThreadCipherCtx() {
  thread_local std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx;
  if (ctx) return ctx.get();
  const EVP_CIPHER* cipher = ChaCha20Poly1305();
  if (cipher == nullptr) return nullptr;
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> fresh(EVP_CIPHER_CTX_new());
  if (!fresh || EVP_CipherInit_ex(fresh.get(), cipher, nullptr, nullptr, nullptr, 1) != 1 ||
      EVP_CIPHER_CTX_get_iv_length(fresh.get()) != static_cast<int>(kChunkNonceBytes) ||
      EVP_CIPHER_CTX_get_key_length(fresh.get()) != static_cast<int>(SecretKey::kSize)) {
    return nullptr;
  }
  ctx = std::move(fresh);
  return ctx.get();
}

// The context outlives the call, so the key schedule would otherwise stay in this thread's
// memory until the next chunk; re-keying with zeros overwrites it without freeing anything.
void ScrubCipherCtx(EVP_CIPHER_CTX* ctx) {
  static const unsigned char kZeros[SecretKey::kSize] = {};
  if (EVP_CipherInit_ex(ctx, nullptr, nullptr, kZeros, kZeros, -1) != 1) ERR_clear_error();
}

// Writes AAD(index) = header || BE64(index) || final flag into `aad`.
void MakeAad(std::string_view header, uint64_t index, bool is_final, unsigned char* aad) {
  std::memcpy(aad, header.data(), kBlobHeaderBytes);
  for (int i = 0; i < 8; ++i) {
    aad[kBlobHeaderBytes + i] = static_cast<unsigned char>(index >> (56 - 8 * i));
  }
  aad[kBlobHeaderBytes + 8] = is_final ? 1 : 0;
}

std::string ChunkName(uint64_t index) { return "chunk " + std::to_string(index); }

// Runs one ChaCha20-Poly1305 operation with this thread's context. Encrypting writes the tag to
// `tag`; decrypting checks it. Returns false when decryption fails authentication, and an error
// Status when OpenSSL itself fails.
Result<bool> RunCipher(bool encrypt, const SecretKey& key, const unsigned char* nonce,
                       const unsigned char* aad, const unsigned char* in, size_t len,
                       unsigned char* dst, unsigned char* tag) {
  EVP_CIPHER_CTX* ctx = ThreadCipherCtx();
  if (ctx == nullptr) {
    return OpenSslFailure("EVP_CIPHER_CTX_new/EVP_CipherInit_ex(ChaCha20-Poly1305)");
  }
  struct Scrub {
    EVP_CIPHER_CTX* ctx;
    ~Scrub() { ScrubCipherCtx(ctx); }
  } scrub{ctx};
  int n = 0;
  if (EVP_CipherInit_ex(ctx, nullptr, nullptr, key.data(), nonce, encrypt ? 1 : 0) != 1) {
    return OpenSslFailure("EVP_CipherInit_ex");
  }
  if (EVP_CipherUpdate(ctx, nullptr, &n, aad, static_cast<int>(kAadBytes)) != 1) {
    return OpenSslFailure("EVP_CipherUpdate(aad)");
  }
  if (len > 0) {
    if (EVP_CipherUpdate(ctx, dst, &n, in, static_cast<int>(len)) != 1 ||
        n != static_cast<int>(len)) {
      return OpenSslFailure("EVP_CipherUpdate");
    }
  }
  if (encrypt) {
    if (EVP_CipherFinal_ex(ctx, dst + len, &n) != 1) return OpenSslFailure("EVP_CipherFinal_ex");
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kChunkTagBytes), tag) !=
        1) {
      return OpenSslFailure("EVP_CIPHER_CTX_ctrl(EVP_CTRL_AEAD_GET_TAG)");
    }
    return true;
  }
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kChunkTagBytes), tag) != 1) {
    return OpenSslFailure("EVP_CIPHER_CTX_ctrl(EVP_CTRL_AEAD_SET_TAG)");
  }
  if (EVP_CipherFinal_ex(ctx, dst + len, &n) != 1) {
    ERR_clear_error();  // a wrong tag is the caller's DATA_LOSS, not OpenSSL's error
    return false;
  }
  return true;
}

// Grows `out` by `n` bytes and returns where they start. std::string has no uninitialised growth
// before C++23's resize_and_overwrite, so the new bytes are zero-filled first: about a seventh of
// the time of a chunk whose output is not yet in cache, none of it an allocation once `out` has
// the capacity.
unsigned char* Extend(std::string& out, size_t n) {
  size_t old = out.size();
  out.resize(old + n);
  return reinterpret_cast<unsigned char*>(out.data()) + old;
}

}  // namespace

std::string NewBlobHeader() {
  internal::InitSodium();
  std::string header(kBlobHeaderBytes, '\0');
  std::memcpy(header.data(), kMagic, sizeof kMagic);
  randombytes_buf(header.data() + sizeof kMagic, kSaltBytes);
  return header;
}

Status CheckBlobHeader(std::string_view header) {
  if (header.size() != kBlobHeaderBytes) {
    return DataLoss("chunked_aead: blob header must be " + std::to_string(kBlobHeaderBytes) +
                    " bytes, got " + std::to_string(header.size()));
  }
  if (std::memcmp(header.data(), kMagic, sizeof kMagic) != 0) {
    return DataLoss("chunked_aead: not a Sovereign chunked AEAD v1 blob (bad magic or version)");
  }
  return OkStatus();
}

Status EncryptChunk(const SecretKey& key, std::string_view header, uint64_t index, bool is_final,
                    std::string_view plaintext, std::string& out) {
  if (Status status = CheckBlobHeader(header); !status.ok()) {
    return InvalidArgument(status.message());
  }
  if (plaintext.size() > kChunkPlaintextBytes ||
      (!is_final && plaintext.size() != kChunkPlaintextBytes)) {
    return InvalidArgument(
        "chunked_aead: " + ChunkName(index) + " holds " + std::to_string(plaintext.size()) +
        " bytes; a " + (is_final ? "final chunk at most " : "chunk that is not final exactly ") +
        std::to_string(kChunkPlaintextBytes));
  }
  internal::InitSodium();
  unsigned char aad[kAadBytes];
  MakeAad(header, index, is_final, aad);
  const size_t old_size = out.size();
  unsigned char* nonce = Extend(out, plaintext.size() + kChunkOverheadBytes);
  unsigned char* ciphertext = nonce + kChunkNonceBytes;
  // Random, not derived from the index: a resumed upload may seal chunk i again with other bytes
  // under the same key, and a counter nonce would then repeat.
  randombytes_buf(nonce, kChunkNonceBytes);
  Result<bool> sealed =
      RunCipher(true, key, nonce, aad, reinterpret_cast<const unsigned char*>(plaintext.data()),
                plaintext.size(), ciphertext, ciphertext + plaintext.size());
  if (!sealed.ok()) {
    out.resize(old_size);
    return sealed.status().WithContext(ChunkName(index));
  }
  return OkStatus();
}

Status DecryptChunk(const SecretKey& key, std::string_view header, uint64_t index, bool is_final,
                    std::string_view sealed, std::string& out) {
  if (Status status = CheckBlobHeader(header); !status.ok()) {
    return status.WithContext(ChunkName(index));
  }
  if (sealed.size() < kChunkOverheadBytes) {
    return DataLoss("chunked_aead: " + ChunkName(index) + " is truncated: " +
                    std::to_string(sealed.size()) + " bytes, at least " +
                    std::to_string(kChunkOverheadBytes) + " needed");
  }
  const size_t len = sealed.size() - kChunkOverheadBytes;
  if (len > kChunkPlaintextBytes) {
    return DataLoss("chunked_aead: " + ChunkName(index) + " is " + std::to_string(sealed.size()) +
                    " bytes, longer than any sealed chunk");
  }
  if (!is_final && len != kChunkPlaintextBytes) {
    return DataLoss("chunked_aead: " + ChunkName(index) + " is truncated: " +
                    std::to_string(sealed.size()) + " bytes where a chunk that is not final has " +
                    std::to_string(kSealedChunkBytes));
  }
  unsigned char aad[kAadBytes];
  MakeAad(header, index, is_final, aad);
  const auto* in = reinterpret_cast<const unsigned char*>(sealed.data());
  // The tag is copied because OpenSSL's set-tag control takes a non-const pointer.
  unsigned char tag[kChunkTagBytes];
  std::memcpy(tag, in + kChunkNonceBytes + len, kChunkTagBytes);
  const size_t old_size = out.size();
  unsigned char* dst = Extend(out, len);
  Result<bool> opened = RunCipher(false, key, in, aad, in + kChunkNonceBytes, len, dst, tag);
  if (!opened.ok() || !*opened) {
    // Plaintext that failed authentication must not linger in the caller's spare capacity.
    sodium_memzero(dst, len);
    out.resize(old_size);
    if (!opened.ok()) return opened.status().WithContext(ChunkName(index));
    return DataLoss("chunked_aead: " + ChunkName(index) +
                    " failed authentication (corrupt, moved, from another blob, wrong final "
                    "flag, or wrong key)");
  }
  return OkStatus();
}

uint64_t ChunkCount(uint64_t plaintext_size) {
  if (plaintext_size == 0) return 1;
  return (plaintext_size - 1) / kChunkPlaintextBytes + 1;
}

bool IsFinalChunk(uint64_t index, uint64_t plaintext_size) {
  return index + 1 == ChunkCount(plaintext_size);
}

uint64_t ChunkPlaintextSize(uint64_t index, uint64_t plaintext_size) {
  uint64_t count = ChunkCount(plaintext_size);
  if (index >= count) return 0;
  if (index + 1 < count) return kChunkPlaintextBytes;
  return plaintext_size - index * kChunkPlaintextBytes;
}

uint64_t ChunkFileOffset(uint64_t index) {
  return kBlobHeaderBytes + index * uint64_t{kSealedChunkBytes};
}

uint64_t SealedSize(uint64_t plaintext_size) {
  return kBlobHeaderBytes + ChunkCount(plaintext_size) * uint64_t{kChunkOverheadBytes} +
         plaintext_size;
}

Result<uint64_t> PlaintextSizeOfSealed(uint64_t sealed_size) {
  if (sealed_size < kBlobHeaderBytes + kChunkOverheadBytes) {
    return DataLoss("chunked_aead: a sealed blob of " + std::to_string(sealed_size) +
                    " bytes is too short to hold a header and a final chunk");
  }
  const uint64_t body = sealed_size - kBlobHeaderBytes;
  const uint64_t full = body / kSealedChunkBytes;
  const uint64_t rest = body % kSealedChunkBytes;
  // The final chunk is either the last full-size one (rest == 0) or a shorter one with at least
  // one byte of plaintext; an empty final chunk after full chunks is not this format's encoding.
  if (rest == 0) return full * kChunkPlaintextBytes;
  if (rest > kChunkOverheadBytes || (full == 0 && rest == kChunkOverheadBytes)) {
    return full * kChunkPlaintextBytes + (rest - kChunkOverheadBytes);
  }
  return DataLoss("chunked_aead: no blob seals to " + std::to_string(sealed_size) +
                  " bytes (truncated or padded)");
}

}  // namespace sov::crypto
