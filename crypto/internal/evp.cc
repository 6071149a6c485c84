#include "crypto/internal/evp.h"

#include <openssl/err.h>

#include <cstdio>
#include <cstdlib>

namespace sov::crypto::internal {

void CheckEvp(int rc, const char* call) {
  if (rc == 1) return;
  char reason[256] = "unknown error";
  unsigned long err = ERR_get_error();
  if (err != 0) ERR_error_string_n(err, reason, sizeof reason);
  std::fprintf(stderr, "sovereign: %s failed: %s\n", call, reason);
  std::abort();
}

const EVP_MD* Sha256Md() {
  static EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    CheckEvp(fetched != nullptr ? 1 : 0, "EVP_MD_fetch(SHA256)");
    return fetched;
  }();
  return md;
}

}  // namespace sov::crypto::internal
