// The tenants file: who may call the gateway, and what the gateway believes about each caller
// (home jurisdiction, roles, purposes). A tenant is reached either by the RFC 2253 subject of
// its mTLS client certificate or by a bearer token, of which only the SHA-256 hash is stored.
// Nothing in a request can change these facts; they come from this file alone. A loaded
// TenantDirectory is immutable and safe to share between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "crypto/ed25519.h"
#include "crypto/sha256.h"

namespace sov::gateway {

// A bearer token registered to a tenant: a name for logs and WhoAmI, and the token's hash.
struct TokenCredential {
  std::string name;       // e.g. "ci-pipeline"; unique within its tenant
  crypto::Digest sha256;  // SHA-256 of the whole token string ("sovt_...")
};

struct Tenant {
  std::string id;            // e.g. "acme-ml"
  std::string display_name;  // optional
  std::string jurisdiction;  // ISO 3166-1 alpha-2
  std::vector<std::string> roles;
  std::vector<std::string> purposes;
  std::vector<std::string> mtls_subjects;  // RFC 2253, e.g. "CN=acme-ml,O=Sovereign Dev"
  std::vector<TokenCredential> tokens;
  // Publishers' Ed25519 keys whose signatures on this tenant's behalf the registry accepts
  // (`publisher_keys:` lists PEM public-key files, relative to the tenants file).
  std::vector<crypto::Ed25519PublicKey> publisher_keys;
  // Storage quota in bytes (`quota_bytes:`, an integer or with a KiB/MiB/GiB/TiB suffix);
  // 0: unlimited.
  int64_t quota_bytes = 0;
};

class TenantDirectory {
 public:
  TenantDirectory() = default;

  // Parses a tenants file's text; `file` names it in errors ("FILE:L:C: error: ..."). Rejects
  // unknown keys, malformed or duplicate tenant ids, codes that are not ISO 3166-1 alpha-2,
  // malformed token hashes, and a subject or token hash registered twice.
  static Result<TenantDirectory> Parse(std::string_view text, const std::string& file);
  // Reads and parses a tenants file; NOT_FOUND naming the file when it does not exist.
  static Result<TenantDirectory> Load(const std::string& file);

  // Returns the tenant with this id, or nullptr.
  const Tenant* FindById(std::string_view id) const;
  // Returns the tenant that registered this exact certificate subject, or nullptr.
  const Tenant* FindBySubject(std::string_view subject) const;

  const std::vector<Tenant>& tenants() const { return tenants_; }

 private:
  std::vector<Tenant> tenants_;
};

// Returns true for tenant ids of 1 to 63 characters from [a-z0-9-] that start and end with a
// letter or digit (DNS-label style, safe in paths, logs and certificate names).
bool IsValidTenantId(std::string_view id);

// Parses "1048576", "10GiB", "512 MiB": bytes, or KiB/MiB/GiB/TiB multiples.
Result<int64_t> ParseByteSize(std::string_view text);

}  // namespace sov::gateway
