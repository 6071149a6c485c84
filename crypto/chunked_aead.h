// Chunked AEAD: the at-rest encryption format of artifact blobs ("SOVCA1"). A blob is a 16-byte
// header followed by chunks of at most 1 MiB of plaintext, each sealed on its own with
// ChaCha20-Poly1305 (RFC 8439, OpenSSL EVP) under the artifact's data key, with a fresh random
// nonce, and bound by its additional data to the blob header, its index and whether it is the
// final chunk. So any chunk decrypts alone (a ranged download can resume at any byte offset) and
// an upload can stop after any whole chunk and be continued later by another process, while a
// changed, moved, dropped, spliced or appended chunk is still detected. The registry calls these
// functions chunk by chunk as it writes and reads blobs; docs/crypto.md ("Blob encryption
// (chunked AEAD)") specifies the bytes. The functions keep no state but one OpenSSL cipher
// context per thread, so they are safe to call from several threads at once.
//
// Layout (all sizes in bytes):
//   header   = "SOVCA1\0\0" (8) || blob salt (8 random)                         16
//   chunk i  = nonce (12 random) || ChaCha20 ciphertext (= plaintext size) || Poly1305 tag (16)
//   AAD(i)   = header (16) || uint64 big-endian i (8) || 0x01 if final else 0x00 (1)
// Every chunk but the last holds exactly kChunkPlaintextBytes of plaintext; the last (final)
// holds 0..kChunkPlaintextBytes, and only the empty blob has an empty final chunk, so each
// plaintext size has exactly one sealed size. Plaintext byte offset p lies in chunk
// p / kChunkPlaintextBytes, which starts at file offset ChunkFileOffset(that index).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "crypto/secret_key.h"

namespace sov::crypto {

inline constexpr size_t kChunkPlaintextBytes = size_t{1} << 20;
inline constexpr size_t kBlobHeaderBytes = 16;
inline constexpr size_t kChunkNonceBytes = 12;
inline constexpr size_t kChunkTagBytes = 16;
inline constexpr size_t kChunkOverheadBytes = kChunkNonceBytes + kChunkTagBytes;
inline constexpr size_t kSealedChunkBytes = kChunkPlaintextBytes + kChunkOverheadBytes;

// Returns a fresh blob header: the magic "SOVCA1\0\0" and 8 random salt bytes. Write it once at
// the start of the blob (and keep it: every chunk is bound to it).
std::string NewBlobHeader();

// Checks that `header` is a blob header of this format; DATA_LOSS when its size or magic is wrong.
Status CheckBlobHeader(std::string_view header);

// Seals chunk `index` of the blob that starts with `header`, appending nonce || ciphertext || tag
// (plaintext.size() + kChunkOverheadBytes bytes) to `out`, whose spare capacity is reused.
// A chunk that is not final must hold exactly kChunkPlaintextBytes; a final one at most that.
// INVALID_ARGUMENT on a bad header or size; INTERNAL naming the OpenSSL call that failed, with
// `out` unchanged. `plaintext` must not point into `out`.
Status EncryptChunk(const SecretKey& key, std::string_view header, uint64_t index, bool is_final,
                    std::string_view plaintext, std::string& out);

// Opens sealed chunk `index` (nonce || ciphertext || tag, as EncryptChunk appended it) of the blob
// that starts with `header`, and appends its plaintext to `out`. DATA_LOSS, naming the chunk
// index and with `out` unchanged, when the header is not ours, the chunk has an impossible size,
// or it fails authentication: a changed byte, another index or final flag than it was sealed
// with, a chunk of another blob, or a wrong key. `sealed` must not point into `out`.
Status DecryptChunk(const SecretKey& key, std::string_view header, uint64_t index, bool is_final,
                    std::string_view sealed, std::string& out);

// Returns the number of chunks of a blob of `plaintext_size` bytes (1 for an empty blob).
uint64_t ChunkCount(uint64_t plaintext_size);

// Returns whether chunk `index` is the final chunk of a blob of `plaintext_size` bytes.
bool IsFinalChunk(uint64_t index, uint64_t plaintext_size);

// Returns the plaintext size of chunk `index` of a blob of `plaintext_size` bytes (0 past the end).
uint64_t ChunkPlaintextSize(uint64_t index, uint64_t plaintext_size);

// Returns the file offset at which sealed chunk `index` starts.
uint64_t ChunkFileOffset(uint64_t index);

// Returns the size of the whole sealed blob (header and all chunks) of `plaintext_size` bytes.
uint64_t SealedSize(uint64_t plaintext_size);

// Returns the plaintext size of a complete sealed blob of `sealed_size` bytes; DATA_LOSS when no
// plaintext size seals to exactly that many bytes (a truncated or padded blob).
Result<uint64_t> PlaintextSizeOfSealed(uint64_t sealed_size);

}  // namespace sov::crypto
