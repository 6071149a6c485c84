// SHA-256 over OpenSSL's EVP interface, one-shot or streaming, and the `sha256:<hex>` digest
// notation that OCI and in-toto use. A Sha256 object is single-threaded; Digest is a value.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header

namespace sov::crypto {

struct Digest {
  std::array<uint8_t, 32> bytes{};

  // Returns "sha256:" followed by 64 lower-case hex digits.
  std::string ToString() const;
  // Returns the 64 lower-case hex digits alone.
  std::string Hex() const;
  // Parses "sha256:<64 hex>"; INVALID_ARGUMENT naming what is wrong otherwise.
  static Result<Digest> Parse(std::string_view text);

  friend bool operator==(const Digest&, const Digest&) = default;
};

// Incremental SHA-256: Update any number of times, then Finish once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256(Sha256&& other) noexcept;
  Sha256& operator=(Sha256&& other) noexcept;

  void Update(std::string_view data);
  // Returns the digest of everything passed to Update; the object may not be updated after.
  Digest Finish();

 private:
  evp_md_ctx_st* ctx_;
};

// Returns SHA-256 of `data`.
Digest Sha256Of(std::string_view data);

// Returns SHA-256 of a file's contents, streamed (never read whole into memory). When given,
// `on_progress` is called after each 1 MiB block with the bytes hashed so far.
Result<Digest> Sha256File(const std::string& path,
                          const std::function<void(uint64_t done)>& on_progress = {});

}  // namespace sov::crypto
