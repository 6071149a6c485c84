#include "crypto/secretstream.h"
#include "crypto/internal/sodium.h"

#include <sodium.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

namespace sov::crypto {
namespace {

// Ciphertext layout (docs/crypto.md):
//   "SOVSS1\0\0"                      8 bytes: magic, format version 1, two reserved zero bytes
//   secretstream header               24 bytes (crypto_secretstream_xchacha20poly1305_HEADERBYTES)
//   chunk*                            each 1 MiB of plaintext + 17 bytes, tag MESSAGE
//   final chunk                       0 .. 1 MiB-1 bytes of plaintext + 17 bytes, tag FINAL
// The final chunk is always shorter than a full one, so the decryptor can tell where chunks end
// without a length field: a full chunk is decrypted as soon as it has arrived, and whatever is
// left at Finish must be the final chunk.
constexpr uint8_t kMagic[8] = {'S', 'O', 'V', 'S', 'S', '1', 0, 0};
constexpr size_t kHeaderSize = crypto_secretstream_xchacha20poly1305_HEADERBYTES;
constexpr size_t kPrefixSize = sizeof kMagic + kHeaderSize;
constexpr size_t kABytes = crypto_secretstream_xchacha20poly1305_ABYTES;
constexpr size_t kFullChunk = kStreamChunkSize + kABytes;

static_assert(kStreamChunkSize <= crypto_secretstream_xchacha20poly1305_MESSAGEBYTES_MAX);
static_assert(kHeaderSize == 24 && kABytes == 17, "the documented format fixes these sizes");

constexpr unsigned char kTagMessage = crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
constexpr unsigned char kTagFinal = crypto_secretstream_xchacha20poly1305_TAG_FINAL;


// Grows `out` by `n` bytes and returns where they start. std::string::resize zero-fills, which
// costs a memset next to the cipher; the caller reserves the total (StreamCiphertextSize) to
// avoid reallocation copies.
uint8_t* Extend(std::string* out, size_t n) {
  size_t old = out->size();
  out->resize(old + n);
  return reinterpret_cast<uint8_t*>(out->data()) + old;
}

}  // namespace

uint64_t StreamCiphertextSize(uint64_t plaintext_size) {
  return kPrefixSize + (plaintext_size / kStreamChunkSize) * kFullChunk +
         plaintext_size % kStreamChunkSize + kABytes;
}

// ---------------------------------------------------------------------------------------------
// Encryption

struct StreamEncryptor::State {
  crypto_secretstream_xchacha20poly1305_state stream;
  std::unique_ptr<uint8_t[]> buffer;  // kStreamChunkSize bytes once needed: pending plaintext
  size_t buffered = 0;
  bool finished = false;

  ~State() {
    sodium_memzero(&stream, sizeof stream);
    if (buffer) sodium_memzero(buffer.get(), kStreamChunkSize);
  }

  uint8_t* Buffer() {
    if (!buffer) buffer = std::make_unique_for_overwrite<uint8_t[]>(kStreamChunkSize);
    return buffer.get();
  }

  // Encrypts `len` bytes at `in` into `len + kABytes` bytes at `dst`.
  Status Push(uint8_t* dst, const uint8_t* in, size_t len, unsigned char tag) {
    unsigned long long written = 0;
    if (crypto_secretstream_xchacha20poly1305_push(&stream, dst, &written, in, len, nullptr, 0,
                                                   tag) != 0 ||
        written != len + kABytes) {
      return Internal("crypto_secretstream_xchacha20poly1305_push failed");
    }
    return OkStatus();
  }
};

StreamEncryptor::StreamEncryptor(std::unique_ptr<State> state) : state_(std::move(state)) {}
StreamEncryptor::StreamEncryptor(StreamEncryptor&&) noexcept = default;
StreamEncryptor& StreamEncryptor::operator=(StreamEncryptor&&) noexcept = default;
StreamEncryptor::~StreamEncryptor() = default;

Result<StreamEncryptor> StreamEncryptor::Create(const SecretKey& key, std::string* out) {
  internal::InitSodium();
  auto state = std::make_unique<State>();
  uint8_t header[kHeaderSize];
  if (crypto_secretstream_xchacha20poly1305_init_push(&state->stream, header, key.data()) != 0) {
    return Internal("crypto_secretstream_xchacha20poly1305_init_push failed");
  }
  out->append(reinterpret_cast<const char*>(kMagic), sizeof kMagic);
  out->append(reinterpret_cast<const char*>(header), sizeof header);
  return StreamEncryptor(std::move(state));
}

Status StreamEncryptor::Update(std::string_view plaintext, std::string* out) {
  if (!state_) return FailedPrecondition("StreamEncryptor used after move");
  State& s = *state_;
  if (s.finished) return FailedPrecondition("StreamEncryptor::Update after Finish");
  const auto* in = reinterpret_cast<const uint8_t*>(plaintext.data());
  size_t len = plaintext.size();
  size_t chunks = (s.buffered + len) / kStreamChunkSize;
  if (chunks > 0) {
    size_t old_size = out->size();
    uint8_t* dst = Extend(out, chunks * kFullChunk);
    Status status;
    if (s.buffered > 0) {
      size_t fill = kStreamChunkSize - s.buffered;
      std::memcpy(s.buffer.get() + s.buffered, in, fill);
      in += fill;
      len -= fill;
      s.buffered = 0;
      status = s.Push(dst, s.buffer.get(), kStreamChunkSize, kTagMessage);
      dst += kFullChunk;
      --chunks;
    }
    // Whole chunks of the caller's data are encrypted straight from it into `out`.
    for (; status.ok() && chunks > 0; --chunks) {
      status = s.Push(dst, in, kStreamChunkSize, kTagMessage);
      in += kStreamChunkSize;
      len -= kStreamChunkSize;
      dst += kFullChunk;
    }
    if (!status.ok()) {
      out->resize(old_size);
      s.finished = true;  // the stream state is unusable
      return status;
    }
  }
  if (len > 0) {
    std::memcpy(s.Buffer() + s.buffered, in, len);
    s.buffered += len;
  }
  return OkStatus();
}

Status StreamEncryptor::Finish(std::string* out) {
  if (!state_) return FailedPrecondition("StreamEncryptor used after move");
  State& s = *state_;
  if (s.finished) return FailedPrecondition("StreamEncryptor::Finish called twice");
  s.finished = true;
  size_t old_size = out->size();
  uint8_t* dst = Extend(out, s.buffered + kABytes);
  static const uint8_t kNoPlaintext = 0;  // a valid pointer for an empty final chunk
  Status status = s.Push(dst, s.buffered > 0 ? s.buffer.get() : &kNoPlaintext, s.buffered,
                         kTagFinal);
  if (!status.ok()) out->resize(old_size);
  if (s.buffer) sodium_memzero(s.buffer.get(), s.buffered);
  s.buffered = 0;
  return status;
}

// ---------------------------------------------------------------------------------------------
// Decryption

struct StreamDecryptor::State {
  std::optional<SecretKey> key;  // held until the header has arrived
  uint8_t prefix[kPrefixSize];
  size_t prefix_len = 0;
  crypto_secretstream_xchacha20poly1305_state stream;
  std::unique_ptr<uint8_t[]> buffer;  // kFullChunk bytes once needed: a partial chunk
  size_t buffered = 0;
  uint64_t chunk_index = 0;  // of the next chunk, for messages
  bool header_done = false;
  bool finished = false;
  bool failed = false;

  ~State() { sodium_memzero(&stream, sizeof stream); }

  uint8_t* Buffer() {
    if (!buffer) buffer = std::make_unique_for_overwrite<uint8_t[]>(kFullChunk);
    return buffer.get();
  }

  // Every failure poisons the decryptor, so that a caller who ignores one error cannot go on to
  // receive plaintext from a stream that has already proven corrupt.
  Status Fail(std::string message) {
    failed = true;
    key.reset();
    return DataLoss("secretstream: " + std::move(message));
  }

  // Consumes the first bytes of the stream; after kPrefixSize of them, checks the magic and
  // initialises the stream state. Returns how many bytes of `in` it used.
  Result<size_t> TakePrefix(const uint8_t* in, size_t len) {
    size_t take = std::min(len, kPrefixSize - prefix_len);
    std::memcpy(prefix + prefix_len, in, take);
    prefix_len += take;
    if (prefix_len < kPrefixSize) return take;
    if (std::memcmp(prefix, kMagic, sizeof kMagic) != 0) {
      return Fail("not a Sovereign secretstream v1 (bad magic or version)");
    }
    if (crypto_secretstream_xchacha20poly1305_init_pull(&stream, prefix + sizeof kMagic,
                                                        key->data()) != 0) {
      return Fail("invalid stream header");
    }
    key.reset();
    header_done = true;
    return take;
  }

  // Decrypts one chunk of `len` bytes at `in`, appending its plaintext to `out`; the chunk must
  // carry kTagFinal when `must_be_final`, else kTagMessage or kTagFinal. On failure nothing is
  // appended.
  Status Pull(const uint8_t* in, size_t len, bool must_be_final, std::string* out) {
    size_t old_size = out->size();
    uint8_t* dst = Extend(out, len - kABytes);
    unsigned long long plain_len = 0;
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(&stream, dst, &plain_len, &tag, in, len,
                                                   nullptr, 0) != 0) {
      out->resize(old_size);
      return Fail("chunk " + std::to_string(chunk_index) +
                  " failed authentication (corrupt, reordered, from another stream, or wrong "
                  "key)");
    }
    bool ok_tag = must_be_final ? tag == kTagFinal : (tag == kTagMessage || tag == kTagFinal);
    if (!ok_tag) {
      out->resize(old_size);
      return Fail(must_be_final ? "truncated: the last chunk is not the final one"
                                : "chunk " + std::to_string(chunk_index) + " has an unexpected tag");
    }
    ++chunk_index;
    if (tag == kTagFinal) finished = true;
    return OkStatus();
  }
};

StreamDecryptor::StreamDecryptor(std::unique_ptr<State> state) : state_(std::move(state)) {}
StreamDecryptor::StreamDecryptor(StreamDecryptor&&) noexcept = default;
StreamDecryptor& StreamDecryptor::operator=(StreamDecryptor&&) noexcept = default;
StreamDecryptor::~StreamDecryptor() = default;

Result<StreamDecryptor> StreamDecryptor::Create(const SecretKey& key) {
  internal::InitSodium();
  auto state = std::make_unique<State>();
  state->key.emplace(key);
  return StreamDecryptor(std::move(state));
}

Status StreamDecryptor::Update(std::string_view ciphertext, std::string* out) {
  if (!state_) return FailedPrecondition("StreamDecryptor used after move");
  State& s = *state_;
  if (s.failed) return DataLoss("secretstream: the stream already failed to decrypt");
  const auto* in = reinterpret_cast<const uint8_t*>(ciphertext.data());
  size_t len = ciphertext.size();
  if (!s.header_done) {
    SOV_ASSIGN_OR_RETURN(size_t used, s.TakePrefix(in, len));
    in += used;
    len -= used;
    if (!s.header_done) return OkStatus();
  }
  if (s.finished && len > 0) return s.Fail("bytes after the final chunk");
  if (s.buffered > 0) {
    size_t take = std::min(len, kFullChunk - s.buffered);
    std::memcpy(s.buffer.get() + s.buffered, in, take);
    s.buffered += take;
    in += take;
    len -= take;
    if (s.buffered < kFullChunk) return OkStatus();
    s.buffered = 0;
    SOV_RETURN_IF_ERROR(s.Pull(s.buffer.get(), kFullChunk, false, out));
  }
  // Whole chunks of the caller's data are decrypted straight from it into `out`.
  while (len >= kFullChunk && !s.finished) {
    SOV_RETURN_IF_ERROR(s.Pull(in, kFullChunk, false, out));
    in += kFullChunk;
    len -= kFullChunk;
  }
  if (len == 0) return OkStatus();
  if (s.finished) return s.Fail("bytes after the final chunk");
  std::memcpy(s.Buffer(), in, len);
  s.buffered = len;
  return OkStatus();
}

Status StreamDecryptor::Finish(std::string* out) {
  if (!state_) return FailedPrecondition("StreamDecryptor used after move");
  State& s = *state_;
  if (s.failed) return DataLoss("secretstream: the stream already failed to decrypt");
  if (!s.header_done) return s.Fail("truncated: the stream ends inside its header");
  if (s.finished) return OkStatus();  // a full-size final chunk; Update refused anything after
  if (s.buffered < kABytes) {
    return s.Fail(s.buffered == 0 ? "truncated: the stream ends without its final chunk"
                                  : "truncated: the stream ends inside a chunk");
  }
  size_t len = s.buffered;
  s.buffered = 0;
  return s.Pull(s.buffer.get(), len, true, out);
}

}  // namespace sov::crypto
