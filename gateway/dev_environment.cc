#include "gateway/dev_environment.h"

#include <filesystem>
#include <sys/stat.h>

#include "common/file.h"
#include "crypto/ed25519.h"
#include "crypto/key_hierarchy.h"
#include "crypto/x509.h"
#include "gateway/bearer_token.h"
#include "gateway/internal/dev_policy.h"

namespace sov::gateway {
namespace {

constexpr char kOrganization[] = "Sovereign Dev";
constexpr std::chrono::hours kCaValidity{24 * 365 * 10};
constexpr std::chrono::hours kLeafValidity{24 * 365 * 3};
constexpr char kInitialListen[] = "127.0.0.1:0";

struct ExampleTenant {
  const char* id;
  const char* name;
  const char* jurisdiction;
  const char* roles;     // YAML flow list
  const char* purposes;  // YAML flow list
};

constexpr ExampleTenant kExampleTenants[] = {
    {"acme-ml", "ACME ML platform team", "DE", "[ml-engineer]", "[fraud-detection]"},
    {"compliance", "Compliance office", "DE", "[compliance-officer]", "[]"},
    {"partner-us", "US partner fraud service", "US", "[tenant-service]", "[fraud-detection]"},
};
constexpr char kTokenTenant[] = "acme-ml";
constexpr char kTokenName[] = "dev-token";

std::string Path(const std::string& dir, std::string_view name) {
  return (std::filesystem::path(dir) / name).string();
}

// Returns `text` as a double-quoted YAML scalar.
std::string YamlQuote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string ServerConfigYaml(std::string_view listen) {
  std::string yaml =
      "# sovd configuration for a development gateway, written by `sovd --dev`.\n"
      "# Relative paths are resolved against this file's directory. See docs/operations.md.\n"
      "# Do not use this setup in production: its CA key lies next to the certificates.\n";
  yaml += "listen: " + std::string(listen) + "\n";
  yaml +=
      "data_dir: .\n"
      "tls:\n"
      "  cert: server.pem\n"
      "  key: server.key\n"
      "  client_ca: ca.pem\n"
      "master_key: master.key\n"
      "signing_key: signing.key\n"
      "storage:\n"
      "  - {name: eu-de-1, jurisdiction: DE, path: blobs/eu-de-1}\n"
      "  - {name: eu-fr-1, jurisdiction: FR, path: blobs/eu-fr-1}\n"
      "  - {name: us-east-1, jurisdiction: US, path: blobs/us-east-1}\n"
      "tenants: tenants.yaml\n"
      "policy: policy.yaml\n";
  return yaml;
}

std::string SovctlConfigYaml(const DevEnvironment& env, const ListenAddress& address) {
  std::string yaml =
      "# sovctl configuration for the development gateway in " + env.dir +
      ", written by `sovd --dev`.\n"
      "# Use it with: export SOV_CONFIG=" + Path(env.dir, "sovctl.yaml") + "\n";
  yaml += "address: " + address.ToString() + "\n";
  yaml += "ca: " + YamlQuote(Path(env.dir, "ca.pem")) + "\n";
  yaml += "cert: " + YamlQuote(Path(env.dir, "clients/acme-ml.pem")) + "\n";
  yaml += "key: " + YamlQuote(Path(env.dir, "clients/acme-ml.key")) + "\n";
  yaml += "registry_key: " + YamlQuote(Path(env.dir, "signing.pub")) + "\n";
  return yaml;
}

Status WriteCertificateAndKey(const std::string& dir, std::string_view base,
                              const crypto::CertificateAndKey& pair) {
  SOV_RETURN_IF_ERROR(WriteNewFile(Path(dir, std::string(base) + ".pem"), pair.cert_pem, 0644));
  return WriteNewFile(Path(dir, std::string(base) + ".key"), pair.key_pem, 0600);
}

Status CreateEnvironment(const DevEnvironment& env) {
  const std::string& dir = env.dir;
  SOV_RETURN_IF_ERROR(MakeDirectories(dir, 0700));
  // The directory will hold private keys: nobody else may list or enter it.
  if (::chmod(dir.c_str(), 0700) != 0) return Internal("cannot chmod 0700 " + dir);
  SOV_RETURN_IF_ERROR(MakeDirectories(Path(dir, "clients"), 0700));

  SOV_ASSIGN_OR_RETURN(crypto::CertificateAndKey ca,
                       crypto::CreateCertificateAuthority("Sovereign Dev CA", kOrganization,
                                                          kCaValidity));
  SOV_RETURN_IF_ERROR(WriteCertificateAndKey(dir, "ca", ca));
  SOV_ASSIGN_OR_RETURN(crypto::CertificateAndKey server,
                       crypto::IssueServerCertificate(ca, {"localhost"}, {"127.0.0.1", "::1"},
                                                      kLeafValidity));
  SOV_RETURN_IF_ERROR(WriteCertificateAndKey(dir, "server", server));

  const std::string token = GenerateBearerToken();
  SOV_RETURN_IF_ERROR(WriteNewFile(Path(dir, "clients/acme-ml.token"), token + "\n", 0600));

  std::string tenants =
      "# Tenants of the development gateway, written by `sovd --dev`. See docs/operations.md.\n"
      "# Each tenant authenticates with a client certificate (its subject below) issued by\n"
      "# ca.pem, or with a bearer token of which only the SHA-256 is stored here.\n"
      "tenants:\n";
  for (const ExampleTenant& example : kExampleTenants) {
    SOV_ASSIGN_OR_RETURN(crypto::CertificateAndKey client,
                         crypto::IssueClientCertificate(ca, example.id, kOrganization,
                                                        kLeafValidity));
    SOV_RETURN_IF_ERROR(
        WriteCertificateAndKey(dir, std::string("clients/") + example.id, client));
    // The subject exactly as the gateway will compute it from the certificate.
    SOV_ASSIGN_OR_RETURN(std::string subject, crypto::CertificateSubject(client.cert_pem));
    tenants += "  - id: " + std::string(example.id) + "\n";
    tenants += "    name: " + YamlQuote(example.name) + "\n";
    tenants += "    jurisdiction: " + std::string(example.jurisdiction) + "\n";
    tenants += "    roles: " + std::string(example.roles) + "\n";
    tenants += "    purposes: " + std::string(example.purposes) + "\n";
    tenants += "    mtls_subjects: [" + YamlQuote(subject) + "]\n";
    if (std::string_view(example.id) == kTokenTenant) {
      // A publisher key for `sovctl sign`, registered to the tenant.
      crypto::Ed25519PrivateKey publisher = crypto::Ed25519PrivateKey::Generate();
      const std::string base = std::string("clients/") + example.id + ".publisher";
      SOV_RETURN_IF_ERROR(crypto::WritePrivateKeyFile(Path(dir, base + ".key"), publisher));
      SOV_RETURN_IF_ERROR(
          crypto::WritePublicKeyFile(Path(dir, base + ".pub"), publisher.public_key()));
      tenants += "    publisher_keys: [" + base + ".pub]\n";
      tenants += "    tokens:\n";
      tenants += "      - name: " + std::string(kTokenName) + "\n";
      tenants += "        sha256: " + YamlQuote(HashBearerToken(token).ToString()) +
                 "   # of clients/acme-ml.token\n";
    }
  }
  SOV_RETURN_IF_ERROR(WriteNewFile(Path(dir, "tenants.yaml"), tenants, 0644));

  SOV_ASSIGN_OR_RETURN(crypto::SecretKey master,
                       crypto::CreateMasterKeyFile(Path(dir, "master.key")));
  (void)master;
  crypto::Ed25519PrivateKey signing = crypto::Ed25519PrivateKey::Generate();
  SOV_RETURN_IF_ERROR(crypto::WritePrivateKeyFile(Path(dir, "signing.key"), signing));
  SOV_RETURN_IF_ERROR(crypto::WritePublicKeyFile(Path(dir, "signing.pub"), signing.public_key()));
  SOV_RETURN_IF_ERROR(WriteNewFile(Path(dir, "policy.yaml"), internal::kDevPolicyYaml, 0644));
  // Last: its presence marks a complete environment.
  return WriteNewFile(env.config_file, ServerConfigYaml(kInitialListen), 0644);
}

}  // namespace

Result<DevEnvironment> PrepareDevEnvironment(const std::string& dir) {
  DevEnvironment env;
  std::error_code ec;
  env.dir = std::filesystem::absolute(dir, ec).lexically_normal().string();
  if (ec) return InvalidArgument("cannot resolve --data-dir " + dir + ": " + ec.message());
  while (env.dir.size() > 1 && env.dir.back() == '/') env.dir.pop_back();
  env.config_file = Path(env.dir, "sovd.yaml");

  if (std::filesystem::exists(env.config_file, ec)) return env;
  if (std::filesystem::exists(env.dir, ec)) {
    if (!std::filesystem::is_directory(env.dir, ec)) {
      return FailedPrecondition(env.dir + " exists and is not a directory");
    }
    if (!std::filesystem::is_empty(env.dir, ec)) {
      return FailedPrecondition(env.dir +
                                " holds files but no sovd.yaml, so it is not a complete sovd "
                                "--dev directory (perhaps an interrupted first start): remove "
                                "it or choose another --data-dir");
    }
  }
  Status created = CreateEnvironment(env);
  if (!created.ok()) {
    return Status(created.code(), "cannot create the development environment in " + env.dir +
                                      ": " + created.message());
  }
  env.created = true;
  return env;
}

Status RecordDevAddress(const DevEnvironment& env, const ListenAddress& address) {
  SOV_ASSIGN_OR_RETURN(std::string config, ReadFile(env.config_file));
  // Replace only the listen line, keeping anything the user changed elsewhere.
  const std::string wanted = "listen: " + address.ToString();
  size_t pos = config.rfind("\nlisten:");
  if (pos != std::string::npos) {
    size_t end = config.find('\n', pos + 1);
    std::string line = config.substr(pos + 1, end == std::string::npos ? end : end - pos - 1);
    bool port_zero = line.size() >= 2 && line.compare(line.size() - 2, 2, ":0") == 0;
    if (port_zero && line != wanted) {
      config.replace(pos + 1, line.size(), wanted);
      SOV_RETURN_IF_ERROR(WriteFileAtomic(env.config_file, config, 0644));
    }
  }
  const std::string sovctl_file = Path(env.dir, "sovctl.yaml");
  const std::string sovctl = SovctlConfigYaml(env, address);
  Result<std::string> existing = ReadFile(sovctl_file);
  if (existing.ok() && *existing == sovctl) return OkStatus();
  return WriteFileAtomic(sovctl_file, sovctl, 0644);
}

std::string DevInstructions(const DevEnvironment& env, const ListenAddress& address, bool mtls) {
  const std::string token_file = Path(env.dir, "clients/acme-ml.token");
  std::string text = "Development gateway; its keys, certificates and config are in " + env.dir +
                     (env.created ? " (created now)" : "") + ".\n";
  if (mtls) {
    text += "Point sovctl at it as tenant acme-ml with:\n";
    text += "  export SOV_CONFIG=" + Path(env.dir, "sovctl.yaml") + "\n";
    text += "or, equivalently:\n";
    text += "  export SOV_ADDR=" + address.ToString() + "\n";
    text += "  export SOV_CA=" + Path(env.dir, "ca.pem") + "\n";
    text += "  export SOV_CERT=" + Path(env.dir, "clients/acme-ml.pem") + "\n";
    text += "  export SOV_KEY=" + Path(env.dir, "clients/acme-ml.key") + "\n";
    text += "To use acme-ml's bearer token instead of its certificate (with SOV_CA, without "
            "SOV_CERT/SOV_KEY):\n";
  } else {
    text += "Plaintext on loopback: only bearer tokens authenticate. Point sovctl at it with:\n";
    text += "  export SOV_ADDR=" + address.ToString() + "\n";
  }
  text += "  export SOV_TOKEN=\"$(cat " + token_file + ")\"\n";
  text += "Then try: sovctl whoami\n";
  return text;
}

}  // namespace sov::gateway
