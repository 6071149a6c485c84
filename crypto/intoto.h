// in-toto attestation Statement v1 (https://in-toto.io/Statement/v1): the payload of every
// manifest and report envelope. A Statement binds a predicate (JSON) to subjects named by
// digest. Plain value; thread-compatible.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "crypto/dsse.h"
#include "crypto/sha256.h"

namespace sov::crypto {

inline constexpr std::string_view kInTotoStatementType = "https://in-toto.io/Statement/v1";
inline constexpr std::string_view kInTotoPayloadType = "application/vnd.in-toto+json";

struct ResourceDescriptor {
  std::string name;
  std::map<std::string, std::string> digest;  // algorithm -> lower-case hex, e.g. "sha256"
};

struct Statement {
  std::vector<ResourceDescriptor> subject;
  std::string predicate_type;  // a URI naming the predicate's schema
  nlohmann::json predicate = nlohmann::json::object();

  // Returns the canonical JSON text (keys sorted, no whitespace) with "_type" set; a null
  // predicate is omitted.
  std::string ToJson() const;
  // Parses and checks "_type", a non-empty subject list with a non-empty digest map each (a
  // "sha256" value must be 64 lower-case hex digits; "name" may be absent), a non-empty
  // predicateType, and a predicate that is an object when present. INVALID_ARGUMENT naming the
  // field otherwise.
  static Result<Statement> FromJson(std::string_view json);
};

// Returns a subject descriptor for `name` with its sha256 digest.
ResourceDescriptor SubjectFor(std::string_view name, const Digest& digest);

// Returns a DSSE envelope (payload type kInTotoPayloadType) of `statement` signed with `key`.
DsseEnvelope SignStatement(const Statement& statement, const Ed25519PrivateKey& key);

// Verifies the envelope as VerifyDsse does (PERMISSION_DENIED), then checks its payload type
// (INVALID_ARGUMENT unless kInTotoPayloadType) and parses the statement (INVALID_ARGUMENT).
// When `verified_key_ids` is given, it receives the key ids that verified as soon as the
// signatures pass (so it stays empty exactly when the signature check failed).
Result<Statement> VerifyStatement(const DsseEnvelope& envelope,
                                  const std::vector<Ed25519PublicKey>& trusted,
                                  size_t threshold = 1,
                                  std::vector<std::string>* verified_key_ids = nullptr);

}  // namespace sov::crypto
