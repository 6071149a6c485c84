#include "crypto/internal/sodium.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

namespace sov::crypto::internal {

void InitSodium() {
  static const bool initialised = [] {
    if (sodium_init() < 0) {
      std::fputs("sovereign: sodium_init failed; no usable random number generator\n", stderr);
      std::abort();
    }
    return true;
  }();
  (void)initialised;
}

}  // namespace sov::crypto::internal
