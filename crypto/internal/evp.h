// OpenSSL EVP pieces shared by the crypto module's hashing sources (sha256.cc, merkle.cc).
// Hashing with a valid context cannot fail: EVP's SHA-256 fails only when memory allocation or
// the default provider is broken, which nothing here can recover from, so such a failure is
// reported on stderr and aborts. Thread-safe.
#pragma once

#include <openssl/evp.h>

namespace sov::crypto::internal {

// Returns when rc is 1 (EVP's success); otherwise prints `call` and OpenSSL's reason, and aborts.
void CheckEvp(int rc, const char* call);

// SHA-256, fetched once: it spares OpenSSL 3's implicit fetch on every EVP_DigestInit_ex.
const EVP_MD* Sha256Md();

}  // namespace sov::crypto::internal
