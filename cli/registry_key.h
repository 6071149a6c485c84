// The registry's public key: what `sovctl pull`, `sovctl verify` and `sovctl audit verify`
// check manifests and audit checkpoints against. It is pinned by the user, never taken from the
// server silently: a command's --registry-key FILE (repeatable, for rotated keys), else
// SOV_REGISTRY_KEY, else the config file's `registry_key` (relative to the config file). `sovd
// --dev` writes DATA_DIR/signing.pub. Only with --trust-server-key are the registry keys that
// ListSigningKeys returns used instead, with a warning. Thread-safe: pure functions and calls.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/client_config.h"
#include "cli/gateway_connection.h"
#include "common/status.h"
#include "crypto/ed25519.h"
#include "sov/v1/artifact.pb.h"

namespace sov::cli {

// The registry key files that apply and where they were named ("--registry-key",
// "SOV_REGISTRY_KEY", or the config file's path). `paths` is empty when none is configured.
struct RegistryKeyFiles {
  std::vector<std::string> paths;
  std::string source;
};

// Picks the registry key files by precedence (see the header comment). Config file errors as
// LocateConfigFile and LoadConfigFile report them.
Result<RegistryKeyFiles> ResolveRegistryKeyFiles(const std::vector<std::string>& flag_paths,
                                                 const ConnectionFlags& flags,
                                                 const EnvLookup& env);

// Keys to verify registry signatures with, and a description of where they came from for
// messages ("--registry-key registry.pub", "the gateway (--trust-server-key)").
struct TrustedRegistryKeys {
  std::vector<crypto::Ed25519PublicKey> keys;
  std::string source;
};

// Loads every file of `files` (PEM SubjectPublicKeyInfo). File and parse errors name the file
// and where it was configured.
Result<TrustedRegistryKeys> LoadRegistryKeys(const RegistryKeyFiles& files);

// Returns the message for a command that needs a registry key and has none configured.
Status NoRegistryKeyError();

// Returns every signing key the gateway lists with `role` (all pages).
Result<std::vector<v1::SigningKey>> ListSigningKeys(const GatewayConnection& connection,
                                                    v1::SignerRole role);

// Converts a SigningKey to a public key; INVALID_ARGUMENT when its bytes are not 32 or its key
// id does not match them.
Result<crypto::Ed25519PublicKey> PublicKeyOf(const v1::SigningKey& key);

// Returns the registry keys to trust: the configured ones when there are any; else, only when
// `trust_server_key` is set, the gateway's non-revoked registry keys (writing a warning that
// names their key ids to `warnings`); else NoRegistryKeyError(). `connection` may be null for
// offline use, in which case trust_server_key cannot be honoured (FAILED_PRECONDITION).
Result<TrustedRegistryKeys> ObtainRegistryKeys(const std::vector<std::string>& flag_paths,
                                               bool trust_server_key,
                                               const ConnectionFlags& flags, const EnvLookup& env,
                                               const GatewayConnection* connection,
                                               std::ostream& warnings);

}  // namespace sov::cli
