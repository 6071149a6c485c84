#include "tests/integration/registry_client.h"

#include <signal.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include "crypto/dsse.h"
#include "crypto/ed25519.h"
#include "crypto/intoto.h"
#include "crypto/sha256.h"
#include "gateway/dev_environment.h"

namespace sov::testing {
namespace {

constexpr std::chrono::seconds kCallDeadline{30};

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "registry_client: %s\n", why.c_str());
  std::abort();
}

}  // namespace

std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  if (from.empty()) return text;
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::string Describe(const grpc::Status& status) {
  static constexpr const char* kNames[] = {
      "OK",          "CANCELLED",         "UNKNOWN",          "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND",   "ALREADY_EXISTS",   "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",        "UNAVAILABLE",      "DATA_LOSS",
      "UNAUTHENTICATED"};
  const int code = static_cast<int>(status.error_code());
  std::string name = code >= 0 && code < 17 ? kNames[code] : std::to_string(code);
  return name + ": " + status.error_message();
}

RegistryClient::RegistryClient(const std::string& address, const std::string& dev_dir,
                               const std::string& tenant)
    : tenant_(tenant) {
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadTextFile(dev_dir + "/ca.pem");
  tls.pem_cert_chain = ReadTextFile(dev_dir + "/clients/" + tenant + ".pem");
  tls.pem_private_key = ReadTextFile(dev_dir + "/clients/" + tenant + ".key");
  if (tls.pem_root_certs.empty() || tls.pem_cert_chain.empty() || tls.pem_private_key.empty()) {
    Die("missing dev credentials for " + tenant + " in " + dev_dir);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(8 << 20);
  channel_ = grpc::CreateCustomChannel(address, grpc::SslCredentials(tls), args);
  registry_ = v1::RegistryService::NewStub(channel_);
  audit_ = v1::AuditService::NewStub(channel_);
}

void RegistryClient::Prepare(grpc::ClientContext& context) const {
  context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
}

grpc::Status RegistryClient::CreateUpload(const v1::ArtifactSpec& spec, int64_t size_bytes,
                                          v1::Upload* upload,
                                          const std::string& expected_digest) {
  grpc::ClientContext context;
  Prepare(context);
  v1::CreateUploadRequest request;
  *request.mutable_spec() = spec;
  if (size_bytes >= 0) request.set_size_bytes(size_bytes);
  request.set_expected_digest(expected_digest);
  v1::CreateUploadResponse response;
  grpc::Status status = registry_->CreateUpload(&context, request, &response);
  if (upload != nullptr) *upload = response.upload();
  return status;
}

grpc::Status RegistryClient::PushBytes(const std::string& upload_id, int64_t offset,
                                       std::string_view bytes, const PushOptions& options,
                                       v1::PushResponse* response) {
  grpc::ClientContext context;
  Prepare(context);
  v1::PushResponse ignored;
  v1::PushResponse* out = response != nullptr ? response : &ignored;
  std::unique_ptr<grpc::ClientWriter<v1::PushRequest>> writer = registry_->Push(&context, out);
  v1::PushRequest message;
  message.mutable_header()->set_upload_id(upload_id);
  message.mutable_header()->set_offset(offset);
  bool open = writer->Write(message);
  const size_t chunk = std::max<size_t>(options.chunk_bytes, 1);
  for (size_t at = 0; open && at < bytes.size(); at += chunk) {
    if (at != 0 && options.pause.count() > 0) std::this_thread::sleep_for(options.pause);
    message.Clear();
    message.set_chunk(std::string(bytes.substr(at, chunk)));
    open = writer->Write(message);
  }
  if (open && options.commit) {
    message.Clear();
    message.mutable_commit()->set_digest(options.digest.empty() ? DigestOf(bytes) : options.digest);
    open = writer->Write(message);
  }
  if (open) writer->WritesDone();
  return writer->Finish();
}

grpc::Status RegistryClient::Push(const v1::ArtifactSpec& spec, std::string_view bytes,
                                  v1::PushResponse* response, const PushOptions& options) {
  v1::Upload upload;
  const std::string digest = DigestOf(bytes);
  grpc::Status created =
      CreateUpload(spec, static_cast<int64_t>(bytes.size()), &upload, digest);
  if (!created.ok()) return created;
  PushOptions with_digest = options;
  if (with_digest.digest.empty()) with_digest.digest = digest;
  return PushBytes(upload.upload_id(), 0, bytes, with_digest, response);
}

grpc::Status RegistryClient::GetUpload(const std::string& upload_id, v1::Upload* upload) {
  grpc::ClientContext context;
  Prepare(context);
  v1::GetUploadRequest request;
  request.set_upload_id(upload_id);
  v1::GetUploadResponse response;
  grpc::Status status = registry_->GetUpload(&context, request, &response);
  if (upload != nullptr) *upload = response.upload();
  return status;
}

grpc::Status RegistryClient::CancelUpload(const std::string& upload_id, v1::Upload* upload) {
  grpc::ClientContext context;
  Prepare(context);
  v1::CancelUploadRequest request;
  request.set_upload_id(upload_id);
  v1::CancelUploadResponse response;
  grpc::Status status = registry_->CancelUpload(&context, request, &response);
  if (upload != nullptr) *upload = response.upload();
  return status;
}

grpc::Status RegistryClient::Get(const std::string& name, const std::string& version,
                                 v1::GetArtifactResponse* response) {
  grpc::ClientContext context;
  Prepare(context);
  v1::GetArtifactRequest request;
  request.mutable_artifact()->set_name(name);
  request.mutable_artifact()->set_version(version);
  v1::GetArtifactResponse ignored;
  return registry_->GetArtifact(&context, request, response != nullptr ? response : &ignored);
}

grpc::Status RegistryClient::List(const v1::ListArtifactsRequest& request,
                                  v1::ListArtifactsResponse* response) {
  grpc::ClientContext context;
  Prepare(context);
  return registry_->ListArtifacts(&context, request, response);
}

FetchResult RegistryClient::Fetch(const std::string& name, const std::string& version,
                                  int64_t offset, int64_t length) {
  grpc::ClientContext context;
  Prepare(context);
  v1::FetchRequest request;
  request.mutable_artifact()->set_name(name);
  request.mutable_artifact()->set_version(version);
  request.set_offset(offset);
  request.set_length(length);
  FetchResult result;
  std::unique_ptr<grpc::ClientReader<v1::FetchResponse>> reader =
      registry_->Fetch(&context, request);
  v1::FetchResponse message;
  while (reader->Read(&message)) {
    if (message.has_header()) {
      result.has_header = true;
      result.header = message.header();
    } else {
      result.bytes += message.chunk();
      ++result.chunks;
    }
  }
  result.status = reader->Finish();
  return result;
}

grpc::Status RegistryClient::Release(const std::string& name, const std::string& version,
                                     v1::ReleaseResponse* response, const std::string& reason) {
  grpc::ClientContext context;
  Prepare(context);
  v1::ReleaseRequest request;
  request.mutable_artifact()->set_name(name);
  request.mutable_artifact()->set_version(version);
  request.set_reason(reason);
  v1::ReleaseResponse ignored;
  return registry_->Release(&context, request, response != nullptr ? response : &ignored);
}

grpc::Status RegistryClient::Revoke(const std::string& name, const std::string& version,
                                    const std::string& reason, v1::RevokeResponse* response) {
  grpc::ClientContext context;
  Prepare(context);
  v1::RevokeRequest request;
  request.mutable_artifact()->set_name(name);
  request.mutable_artifact()->set_version(version);
  request.set_reason(reason);
  v1::RevokeResponse ignored;
  return registry_->Revoke(&context, request, response != nullptr ? response : &ignored);
}

grpc::Status RegistryClient::Sign(const v1::SignRequest& request, v1::SignResponse* response) {
  grpc::ClientContext context;
  Prepare(context);
  v1::SignResponse ignored;
  return registry_->Sign(&context, request, response != nullptr ? response : &ignored);
}

grpc::Status RegistryClient::GetLineage(const std::string& name, const std::string& version,
                                        v1::GetLineageResponse* response) {
  grpc::ClientContext context;
  Prepare(context);
  v1::GetLineageRequest request;
  request.mutable_artifact()->set_name(name);
  request.mutable_artifact()->set_version(version);
  return registry_->GetLineage(&context, request, response);
}

grpc::Status RegistryClient::GetQuota(const std::string& tenant_id,
                                      v1::GetQuotaResponse* response) {
  grpc::ClientContext context;
  Prepare(context);
  v1::GetQuotaRequest request;
  request.set_tenant_id(tenant_id);
  return registry_->GetQuota(&context, request, response);
}

grpc::Status RegistryClient::QueryAudit(const v1::QueryRequest& request,
                                        v1::QueryResponse* response) {
  grpc::ClientContext context;
  Prepare(context);
  return audit_->Query(&context, request, response);
}

DevGateway::DevGateway() {
  Result<gateway::DevEnvironment> env = gateway::PrepareDevEnvironment(tmp_.Join("dev"));
  if (!env.ok()) Die("cannot create the dev environment: " + env.status().ToString());
  dir_ = env->dir;
}

bool DevGateway::Start(std::string* error) {
  sovd_.reset();
  sovd_ = SovdProcess::Start({"--dev", "--data-dir", dir_}, error);
  return sovd_ != nullptr;
}

bool DevGateway::Stop() {
  if (sovd_ == nullptr) return false;
  std::optional<int> code = sovd_->Stop(SIGTERM);
  return code.has_value() && *code == 0;
}

bool DevGateway::Kill() {
  if (sovd_ == nullptr) return false;
  return !sovd_->Stop(SIGKILL).has_value();
}

std::unique_ptr<RegistryClient> DevGateway::Client(const std::string& tenant) const {
  return std::make_unique<RegistryClient>(sovd_->address(), dir_, tenant);
}

void DevGateway::RemoveReleaseGates() {
  const std::string path = File("policy.yaml");
  std::string text = ReadTextFile(path);
  const size_t start = text.find("\nrelease_gates:\n");
  if (start == std::string::npos) Die("policy.yaml has no release_gates section");
  // The section ends at the next top-level key (a line starting with a letter) or comment.
  size_t end = start + 1;
  while (true) {
    end = text.find('\n', end);
    if (end == std::string::npos) {
      end = text.size();
      break;
    }
    ++end;
    if (end < text.size() && (std::isalpha(static_cast<unsigned char>(text[end])) || text[end] == '#')) break;
  }
  text.erase(start + 1, end - start - 1);
  WriteTextFile(path, text);
  // Without gates the tests release models pushed as arbitrary bytes by hand; a validation
  // worker would reject them first (they do not load as models), so none runs.
  const std::string config = File("sovd.yaml");
  WriteTextFile(config, ReadTextFile(config) + "validation:\n  workers: 0\n");
}

void DevGateway::SetTenantJurisdiction(const std::string& tenant,
                                       const std::string& jurisdiction) {
  const std::string path = File("tenants.yaml");
  std::string text = ReadTextFile(path);
  const size_t at = text.find("  - id: " + tenant + "\n");
  if (at == std::string::npos) Die("tenants.yaml has no tenant " + tenant);
  const size_t field = text.find("    jurisdiction: ", at);
  const size_t next = text.find("  - id: ", at + 1);
  if (field == std::string::npos || (next != std::string::npos && field > next)) {
    Die("tenant " + tenant + " has no jurisdiction line");
  }
  const size_t value = field + std::string("    jurisdiction: ").size();
  text.replace(value, text.find('\n', value) - value, jurisdiction);
  WriteTextFile(path, text);
}

v1::ArtifactSpec MakeSpec(v1::ArtifactKind kind, const std::string& name,
                          const std::string& version, v1::Classification classification,
                          const std::vector<std::string>& purposes) {
  v1::ArtifactSpec spec;
  spec.set_kind(kind);
  spec.set_name(name);
  spec.set_version(version);
  spec.set_media_type("application/octet-stream");
  spec.set_classification(classification);
  for (const std::string& purpose : purposes) spec.add_purposes(purpose);
  switch (classification) {
    case v1::CLASSIFICATION_PERSONAL:
    case v1::CLASSIFICATION_PSEUDONYMISED:
      spec.set_lawful_basis(v1::LAWFUL_BASIS_LEGITIMATE_INTERESTS);
      break;
    case v1::CLASSIFICATION_SPECIAL_CATEGORY:
      spec.set_lawful_basis(v1::LAWFUL_BASIS_LEGITIMATE_INTERESTS);
      spec.set_special_category_condition(v1::SPECIAL_CATEGORY_CONDITION_RESEARCH);
      break;
    default:
      spec.set_lawful_basis(v1::LAWFUL_BASIS_NOT_APPLICABLE);
      break;
  }
  return spec;
}

void AddLineage(v1::ArtifactSpec& spec, const std::string& name, const std::string& version,
                v1::LineageRelation relation) {
  v1::LineageRef* ref = spec.add_lineage();
  ref->mutable_artifact()->set_name(name);
  ref->mutable_artifact()->set_version(version);
  ref->set_relation(relation);
}

std::string RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 random(seed * 0x9E3779B97F4A7C15ull + 1);
  std::string out(size, '\0');
  size_t at = 0;
  while (at < size) {
    uint64_t word = random();
    for (int i = 0; i < 8 && at < size; ++i, word >>= 8) out[at++] = static_cast<char>(word & 0xff);
  }
  return out;
}

std::string DigestOf(std::string_view bytes) { return crypto::Sha256Of(bytes).ToString(); }

std::string CheckManifest(const v1::DsseEnvelope& manifest, const std::string& public_key_file,
                          const std::string& name, const std::string& digest) {
  Result<crypto::Ed25519PublicKey> key = crypto::LoadPublicKeyFile(public_key_file);
  if (!key.ok()) return "cannot load " + public_key_file + ": " + key.status().ToString();
  crypto::DsseEnvelope envelope;
  envelope.payload_type = manifest.payload_type();
  envelope.payload = manifest.payload();
  for (const v1::DsseSignature& sig : manifest.signatures()) {
    envelope.signatures.push_back({sig.keyid(), sig.sig()});
  }
  Result<crypto::Statement> statement = crypto::VerifyStatement(envelope, {*key});
  if (!statement.ok()) return "manifest does not verify: " + statement.status().ToString();
  if (statement->subject.size() != 1) return "manifest has " + std::to_string(statement->subject.size()) + " subjects";
  const crypto::ResourceDescriptor& subject = statement->subject.front();
  auto sha = subject.digest.find("sha256");
  if (sha == subject.digest.end()) return "manifest subject has no sha256 digest";
  if ("sha256:" + sha->second != digest) {
    return "manifest subject digest sha256:" + sha->second + " is not " + digest;
  }
  if (subject.name != name) return "manifest subject name " + subject.name + " is not " + name;
  return "";
}

}  // namespace sov::testing
