#include "cli/registry_key.h"

#include <utility>

#include "sov/v1/registry.grpc.pb.h"

namespace sov::cli {

Result<RegistryKeyFiles> ResolveRegistryKeyFiles(const std::vector<std::string>& flag_paths,
                                                 const ConnectionFlags& flags,
                                                 const EnvLookup& env) {
  RegistryKeyFiles files;
  if (!flag_paths.empty()) {
    files.paths = flag_paths;
    files.source = "--registry-key";
    return files;
  }
  if (std::optional<std::string> from_env = env("SOV_REGISTRY_KEY")) {
    files.paths.push_back(*from_env);
    files.source = "SOV_REGISTRY_KEY";
    return files;
  }
  SOV_ASSIGN_OR_RETURN(std::optional<std::string> config_path, LocateConfigFile(flags, env));
  if (config_path) {
    SOV_ASSIGN_OR_RETURN(ConfigFileSettings settings, LoadConfigFile(*config_path));
    if (settings.registry_key_file) {
      files.paths.push_back(*settings.registry_key_file);
      files.source = *config_path;
    }
  }
  return files;
}

Result<TrustedRegistryKeys> LoadRegistryKeys(const RegistryKeyFiles& files) {
  TrustedRegistryKeys trusted;
  for (const std::string& path : files.paths) {
    Result<crypto::Ed25519PublicKey> key = crypto::LoadPublicKeyFile(path);
    if (!key.ok()) {
      return key.status().WithContext("registry key " + path + " (from " + files.source + ")");
    }
    trusted.keys.push_back(*key);
    if (!trusted.source.empty()) trusted.source += ", ";
    trusted.source += path;
  }
  trusted.source = "registry key " + trusted.source + " (from " + files.source + ")";
  return trusted;
}

Status NoRegistryKeyError() {
  return FailedPrecondition(
      "no registry key to verify signatures with: pass --registry-key FILE, set "
      "SOV_REGISTRY_KEY=FILE, or set 'registry_key: FILE' in the config file (`sovd --dev` "
      "writes DATA_DIR/signing.pub; operators publish theirs); or pass --trust-server-key to "
      "trust the key the gateway sends, which proves nothing against a compromised gateway");
}

Result<std::vector<v1::SigningKey>> ListSigningKeys(const GatewayConnection& connection,
                                                    v1::SignerRole role) {
  auto stub = v1::RegistryService::NewStub(connection.channel());
  std::vector<v1::SigningKey> keys;
  v1::ListSigningKeysRequest request;
  request.set_role(role);
  request.set_page_size(1000);
  for (;;) {
    grpc::ClientContext context;
    connection.PrepareCall(context);
    v1::ListSigningKeysResponse response;
    grpc::Status status = stub->ListSigningKeys(&context, request, &response);
    if (!status.ok()) return RpcFailure(status, &context);
    for (const v1::SigningKey& key : response.keys()) keys.push_back(key);
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  return keys;
}

Result<crypto::Ed25519PublicKey> PublicKeyOf(const v1::SigningKey& key) {
  Result<crypto::Ed25519PublicKey> parsed = crypto::Ed25519PublicKey::FromBytes(key.public_key());
  if (!parsed.ok()) return parsed.status().WithContext("signing key " + key.keyid());
  if (parsed->KeyId() != key.keyid()) {
    return InvalidArgument("signing key " + key.keyid() + ": its public key bytes have key id " +
                           parsed->KeyId());
  }
  return parsed;
}

Result<TrustedRegistryKeys> ObtainRegistryKeys(const std::vector<std::string>& flag_paths,
                                               bool trust_server_key,
                                               const ConnectionFlags& flags, const EnvLookup& env,
                                               const GatewayConnection* connection,
                                               std::ostream& warnings) {
  SOV_ASSIGN_OR_RETURN(RegistryKeyFiles files, ResolveRegistryKeyFiles(flag_paths, flags, env));
  if (!files.paths.empty()) return LoadRegistryKeys(files);
  if (!trust_server_key) return NoRegistryKeyError();
  if (connection == nullptr) {
    return FailedPrecondition("--trust-server-key needs a gateway connection");
  }
  SOV_ASSIGN_OR_RETURN(std::vector<v1::SigningKey> listed,
                       ListSigningKeys(*connection, v1::SIGNER_ROLE_REGISTRY));
  TrustedRegistryKeys trusted;
  std::string ids;
  for (const v1::SigningKey& key : listed) {
    if (key.role() != v1::SIGNER_ROLE_REGISTRY || key.state() == v1::KEY_STATE_REVOKED) continue;
    SOV_ASSIGN_OR_RETURN(crypto::Ed25519PublicKey public_key, PublicKeyOf(key));
    trusted.keys.push_back(public_key);
    if (!ids.empty()) ids += ", ";
    ids += key.keyid();
  }
  if (trusted.keys.empty()) {
    return FailedPrecondition("the gateway lists no registry key (--trust-server-key)");
  }
  trusted.source = "the gateway's registry key (--trust-server-key)";
  warnings << "sovctl: warning: trusting the registry key(s) " << ids
           << " because the gateway says so (--trust-server-key); pin the key with "
              "--registry-key, SOV_REGISTRY_KEY or registry_key in the config file\n";
  return trusted;
}

}  // namespace sov::cli
