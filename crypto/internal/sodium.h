// Process-wide libsodium initialisation shared by the crypto module's sources. Thread-safe.
#pragma once

namespace sov::crypto::internal {

// Initialises libsodium once (idempotent, thread-safe). Aborts when libsodium cannot start:
// that means no usable CSPRNG, which nothing in this module can recover from.
void InitSodium();

}  // namespace sov::crypto::internal
