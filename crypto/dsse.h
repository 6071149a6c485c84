// DSSE (Dead Simple Signing Envelope, v1.0.0): the pre-authentication encoding, envelopes in
// their JSON form, Ed25519 signing and verification with a signature threshold. Used for artifact
// manifests, evaluation reports and `sovctl sign`. Envelopes are plain values; thread-compatible.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "crypto/ed25519.h"

namespace sov::crypto {

// Returns PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, where LEN is
// the ASCII decimal byte length.
std::string Pae(std::string_view payload_type, std::string_view payload);

struct DsseSignature {
  std::string keyid;  // Ed25519PublicKey::KeyId() of the signer; may be empty on input
  std::string sig;    // raw signature bytes (base64 only in JSON)
};

struct DsseEnvelope {
  std::string payload_type;
  std::string payload;  // raw payload bytes (base64 only in JSON)
  std::vector<DsseSignature> signatures;

  // Returns the JSON form {"payload","payloadType","signatures":[{"keyid","sig"}]} with standard
  // padded base64, as the spec writes it.
  std::string ToJson() const;
  // Parses the JSON form; base64 fields may be standard or URL-safe, padded or not.
  // INVALID_ARGUMENT naming the field that is wrong.
  static Result<DsseEnvelope> FromJson(std::string_view json);
};

// Returns a signed envelope: signs PAE(payload_type, payload) with `key`.
DsseEnvelope SignDsse(std::string_view payload_type, std::string_view payload,
                      const Ed25519PrivateKey& key);

// Appends `key`'s signature to `envelope` (a further publisher's signature).
void AddDsseSignature(DsseEnvelope& envelope, const Ed25519PrivateKey& key);

// Verifies `envelope` against `trusted` keys and returns the key ids of the distinct trusted
// keys with a valid signature. A signature whose keyid is empty is tried against every trusted
// key; one with an unknown keyid or a bad signature is ignored (it does not count).
// PERMISSION_DENIED (naming how many verified out of how many needed) when fewer than
// `threshold` distinct trusted keys verified; INVALID_ARGUMENT when threshold is 0.
Result<std::vector<std::string>> VerifyDsse(const DsseEnvelope& envelope,
                                            const std::vector<Ed25519PublicKey>& trusted,
                                            size_t threshold = 1);

// Base64 helpers used by DSSE and the key files: Encode writes standard padded base64, UrlEncode
// the URL-safe alphabet without padding (RFC 4648 section 5; tokens and page tokens); Decode
// accepts standard or URL-safe, with or without padding, ignoring nothing else (no whitespace);
// INVALID_ARGUMENT on another character, both alphabets mixed, misplaced padding, or non-zero
// bits after the last byte (so that each byte string has one accepted encoding per alphabet).
std::string Base64Encode(std::string_view bytes);
std::string Base64UrlEncode(std::string_view bytes);
Result<std::string> Base64Decode(std::string_view text);

}  // namespace sov::crypto
