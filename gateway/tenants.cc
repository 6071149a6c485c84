#include "gateway/tenants.h"

#include <map>

#include <filesystem>

#include "common/file.h"
#include "gateway/internal/iso3166.h"
#include "gateway/internal/yaml_reader.h"

namespace sov::gateway {
namespace {

using internal::MapReader;

Result<Tenant> ReadTenant(const std::string& file, const YAML::Node& node, size_t index,
                          std::map<std::string, std::string>& subject_owner,
                          std::map<std::string, std::string>& token_owner) {
  const std::string path = "tenants[" + std::to_string(index) + "]";
  SOV_ASSIGN_OR_RETURN(MapReader reader, MapReader::Create(file, node, path));
  Tenant tenant;
  SOV_ASSIGN_OR_RETURN(tenant.id, reader.RequiredString("id"));
  if (!IsValidTenantId(tenant.id)) {
    return reader.ErrorFor("id", "'" + tenant.id +
                                     "' is not a valid tenant id (1-63 characters of a-z, 0-9 "
                                     "and '-', starting and ending with a letter or digit)");
  }
  SOV_ASSIGN_OR_RETURN(auto display_name, reader.OptionalString("name"));
  tenant.display_name = display_name.value_or("");
  SOV_ASSIGN_OR_RETURN(tenant.jurisdiction, reader.RequiredString("jurisdiction"));
  if (!internal::IsIso3166Alpha2(tenant.jurisdiction)) {
    return reader.ErrorFor("jurisdiction",
                           "'" + tenant.jurisdiction +
                               "' is not an ISO 3166-1 alpha-2 country code (e.g. DE, FR, US)");
  }
  SOV_ASSIGN_OR_RETURN(tenant.roles, reader.StringList("roles"));
  SOV_ASSIGN_OR_RETURN(tenant.purposes, reader.StringList("purposes"));
  SOV_ASSIGN_OR_RETURN(tenant.mtls_subjects, reader.StringList("mtls_subjects"));
  for (const std::string& subject : tenant.mtls_subjects) {
    auto [it, inserted] = subject_owner.emplace(subject, tenant.id);
    if (!inserted) {
      return reader.ErrorFor("mtls_subjects", "subject '" + subject +
                                                  "' is already registered to tenant '" +
                                                  it->second + "'");
    }
  }

  if (reader.Has("tokens")) {
    YAML::Node tokens = reader.Get("tokens");
    if (!tokens.IsNull() && !tokens.IsSequence()) {
      return reader.ErrorFor("tokens", "expected a list of {name, sha256}");
    }
    for (size_t i = 0; tokens.IsSequence() && i < tokens.size(); ++i) {
      const std::string token_path = path + ".tokens[" + std::to_string(i) + "]";
      SOV_ASSIGN_OR_RETURN(MapReader token, MapReader::Create(file, tokens[i], token_path));
      TokenCredential credential;
      SOV_ASSIGN_OR_RETURN(credential.name, token.RequiredString("name"));
      if (credential.name.empty()) return token.ErrorFor("name", "must not be empty");
      for (const TokenCredential& earlier : tenant.tokens) {
        if (earlier.name == credential.name) {
          return token.ErrorFor("name", "duplicate token name '" + credential.name + "'");
        }
      }
      SOV_ASSIGN_OR_RETURN(std::string hash, token.RequiredString("sha256"));
      Result<crypto::Digest> digest = crypto::Digest::Parse(hash);
      if (!digest.ok()) {
        return token.ErrorFor("sha256", "expected \"sha256:\" and 64 hex digits, the SHA-256 "
                                        "of the token (" + digest.status().message() + ")");
      }
      credential.sha256 = *digest;
      auto [it, inserted] = token_owner.emplace(digest->ToString(), tenant.id);
      if (!inserted) {
        return token.ErrorFor("sha256", "the same token hash is already registered to tenant '" +
                                            it->second + "'");
      }
      SOV_RETURN_IF_ERROR(token.CheckNoUnknownKeys({"name", "sha256"}));
      tenant.tokens.push_back(std::move(credential));
    }
  }
  SOV_ASSIGN_OR_RETURN(auto quota, reader.OptionalString("quota_bytes"));
  if (quota.has_value()) {
    Result<int64_t> bytes = ParseByteSize(*quota);
    if (!bytes.ok()) return reader.ErrorFor("quota_bytes", bytes.status().message());
    tenant.quota_bytes = *bytes;
  }
  SOV_ASSIGN_OR_RETURN(std::vector<std::string> key_files, reader.StringList("publisher_keys"));
  for (const std::string& key_file : key_files) {
    std::string resolved = key_file;
    if (!std::filesystem::path(key_file).is_absolute()) {
      resolved = (std::filesystem::path(file).parent_path() / key_file).string();
    }
    Result<crypto::Ed25519PublicKey> key = crypto::LoadPublicKeyFile(resolved);
    if (!key.ok()) {
      return reader.ErrorFor("publisher_keys", "'" + key_file + "': " + key.status().message());
    }
    tenant.publisher_keys.push_back(*key);
  }
  SOV_RETURN_IF_ERROR(reader.CheckNoUnknownKeys({"id", "name", "jurisdiction", "roles", "purposes",
                                                 "mtls_subjects", "tokens", "quota_bytes",
                                                 "publisher_keys"}));
  return tenant;
}

}  // namespace

Result<int64_t> ParseByteSize(std::string_view text) {
  static constexpr std::pair<std::string_view, int> kUnits[] = {
      {"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}};
  std::string_view digits = text;
  int shift = 0;
  for (const auto& [suffix, bits] : kUnits) {
    if (digits.ends_with(suffix)) {
      digits.remove_suffix(suffix.size());
      shift = bits;
      break;
    }
  }
  while (!digits.empty() && digits.back() == ' ') digits.remove_suffix(1);
  if (digits.empty() || digits.size() > 15) {
    return InvalidArgument("'" + std::string(text) +
                           "' is not a size (an integer number of bytes, or with a KiB, MiB, "
                           "GiB or TiB suffix)");
  }
  int64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') {
      return InvalidArgument("'" + std::string(text) +
                             "' is not a size (an integer number of bytes, or with a KiB, MiB, "
                             "GiB or TiB suffix)");
    }
    value = value * 10 + (c - '0');
  }
  if (value > (int64_t{1} << (62 - shift))) return InvalidArgument("'" + std::string(text) + "' is too large");
  return value << shift;
}

bool IsValidTenantId(std::string_view id) {
  if (id.empty() || id.size() > 63 || id.front() == '-' || id.back() == '-') return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

Result<TenantDirectory> TenantDirectory::Parse(std::string_view text, const std::string& file) {
  SOV_ASSIGN_OR_RETURN(YAML::Node root, internal::ParseYaml(text, file));
  SOV_ASSIGN_OR_RETURN(MapReader reader, MapReader::Create(file, root, ""));
  if (!reader.Has("tenants")) {
    return internal::ErrorAt(file, reader.mark(), "tenants: required key is missing");
  }
  YAML::Node list = reader.Get("tenants");
  if (!list.IsSequence()) {
    return reader.ErrorFor("tenants", "expected a list of tenants");
  }
  SOV_RETURN_IF_ERROR(reader.CheckNoUnknownKeys({"tenants"}));

  TenantDirectory directory;
  std::map<std::string, std::string> id_where;
  std::map<std::string, std::string> subject_owner;
  std::map<std::string, std::string> token_owner;
  for (size_t i = 0; i < list.size(); ++i) {
    SOV_ASSIGN_OR_RETURN(Tenant tenant, ReadTenant(file, list[i], i, subject_owner, token_owner));
    std::string where = internal::Where(file, list[i]["id"].Mark());
    auto [it, inserted] = id_where.emplace(tenant.id, where);
    if (!inserted) {
      return InvalidArgument(where + ": error: tenants[" + std::to_string(i) +
                             "].id: duplicate tenant id '" + tenant.id + "' (first at " +
                             it->second + ")");
    }
    directory.tenants_.push_back(std::move(tenant));
  }
  return directory;
}

Result<TenantDirectory> TenantDirectory::Load(const std::string& file) {
  SOV_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  return Parse(text, file);
}

const Tenant* TenantDirectory::FindById(std::string_view id) const {
  for (const Tenant& tenant : tenants_) {
    if (tenant.id == id) return &tenant;
  }
  return nullptr;
}

const Tenant* TenantDirectory::FindBySubject(std::string_view subject) const {
  for (const Tenant& tenant : tenants_) {
    for (const std::string& s : tenant.mtls_subjects) {
      if (s == subject) return &tenant;
    }
  }
  return nullptr;
}

}  // namespace sov::gateway
