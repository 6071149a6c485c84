// Authenticated streaming encryption for artifact bytes: libsodium's secretstream
// (XChaCha20-Poly1305) over 1 MiB plaintext chunks. The ciphertext is a versioned header
// followed by chunks; the last one carries the FINAL tag. A flipped byte, a dropped, repeated or
// reordered chunk, trailing bytes or a truncated stream make decryption fail with DATA_LOSS;
// it never yields wrong plaintext. Encryptor and decryptor objects are single-threaded.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "crypto/secret_key.h"

namespace sov::crypto {

inline constexpr size_t kStreamChunkSize = size_t{1} << 20;

// Returns the exact ciphertext size for `plaintext_size` bytes of plaintext.
uint64_t StreamCiphertextSize(uint64_t plaintext_size);

class StreamEncryptor {
 public:
  // Starts a stream under `key` (a per-artifact data key) and appends the header to `out`.
  // Reserving StreamCiphertextSize(n) in `out` first avoids reallocation copies.
  static Result<StreamEncryptor> Create(const SecretKey& key, std::string* out);

  StreamEncryptor(StreamEncryptor&&) noexcept;
  StreamEncryptor& operator=(StreamEncryptor&&) noexcept;
  ~StreamEncryptor();

  // Buffers `plaintext` and appends the ciphertext of every chunk that is now complete to `out`.
  Status Update(std::string_view plaintext, std::string* out);
  // Appends the final chunk (what is buffered, possibly nothing) to `out`; no Update after.
  Status Finish(std::string* out);

 private:
  struct State;
  explicit StreamEncryptor(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

class StreamDecryptor {
 public:
  // Prepares to decrypt a stream made under `key`; the header arrives through Update.
  static Result<StreamDecryptor> Create(const SecretKey& key);

  StreamDecryptor(StreamDecryptor&&) noexcept;
  StreamDecryptor& operator=(StreamDecryptor&&) noexcept;
  ~StreamDecryptor();

  // Consumes `ciphertext` and appends the plaintext of every chunk that authenticates to `out`.
  // DATA_LOSS on a bad header, a chunk that fails authentication, or bytes after the final chunk.
  // What is appended before Finish succeeds is authentic but may be a truncated prefix: do not
  // release it as the whole artifact until Finish returns OK. After any error, every call fails.
  Status Update(std::string_view ciphertext, std::string* out);
  // Checks that the stream ended with its final chunk; DATA_LOSS when it was truncated.
  Status Finish(std::string* out);

 private:
  struct State;
  explicit StreamDecryptor(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace sov::crypto
