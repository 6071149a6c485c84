// Helpers for the registry integration tests: DevGateway runs a real `sovd --dev --data-dir DIR`
// in a temporary directory (and edits its policy and tenants files between runs), and
// RegistryClient calls its RegistryService and AuditService over mTLS as one of the dev tenants
// (acme-ml, partner-us, compliance), with the few composite steps the tests need: push bytes
// (CreateUpload + Push + commit), fetch all bytes, get, list. Every call has a deadline. A
// RegistryClient may be used from one thread at a time; DevGateway from the test thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "sov/v1/audit.grpc.pb.h"
#include "sov/v1/registry.grpc.pb.h"
#include "tests/testing/process.h"
#include "tests/testing/temp_dir.h"

namespace sov::testing {

// What one Push stream does: the bytes go in chunks of `chunk_bytes`, with `pause` between
// chunks; `commit` ends the stream with a commit carrying `digest` (the digest of the whole
// artifact when empty, which is only right when the stream sends it whole).
struct PushOptions {
  size_t chunk_bytes = 1 << 20;
  std::chrono::milliseconds pause{0};
  bool commit = true;
  std::string digest;
};

// A Fetch stream's outcome: the header (when one came), every chunk's bytes concatenated, how
// many chunks came, and the status the stream ended with.
struct FetchResult {
  bool has_header = false;
  v1::FetchHeader header;
  std::string bytes;
  int chunks = 0;
  grpc::Status status;
};

class RegistryClient {
 public:
  // Connects to `address` with DIR/ca.pem and the tenant's DIR/clients/<tenant>.{pem,key}.
  RegistryClient(const std::string& address, const std::string& dev_dir,
                 const std::string& tenant);

  const std::string& tenant() const { return tenant_; }
  v1::RegistryService::Stub& registry() { return *registry_; }
  v1::AuditService::Stub& audit() { return *audit_; }

  grpc::Status CreateUpload(const v1::ArtifactSpec& spec, int64_t size_bytes,
                            v1::Upload* upload, const std::string& expected_digest = "");
  // Streams `bytes` into the upload starting at `offset` (see PushOptions).
  grpc::Status PushBytes(const std::string& upload_id, int64_t offset, std::string_view bytes,
                         const PushOptions& options, v1::PushResponse* response);
  // CreateUpload (size and digest declared) + one Push stream with a commit.
  grpc::Status Push(const v1::ArtifactSpec& spec, std::string_view bytes,
                    v1::PushResponse* response = nullptr, const PushOptions& options = {});
  grpc::Status GetUpload(const std::string& upload_id, v1::Upload* upload);
  grpc::Status CancelUpload(const std::string& upload_id, v1::Upload* upload = nullptr);

  grpc::Status Get(const std::string& name, const std::string& version,
                   v1::GetArtifactResponse* response);
  grpc::Status List(const v1::ListArtifactsRequest& request, v1::ListArtifactsResponse* response);
  // Fetches name@version (empty: the highest released one the caller may see), all bytes.
  FetchResult Fetch(const std::string& name, const std::string& version, int64_t offset = 0,
                    int64_t length = 0);
  grpc::Status Release(const std::string& name, const std::string& version,
                       v1::ReleaseResponse* response = nullptr, const std::string& reason = "");
  grpc::Status Revoke(const std::string& name, const std::string& version,
                      const std::string& reason, v1::RevokeResponse* response = nullptr);
  grpc::Status Sign(const v1::SignRequest& request, v1::SignResponse* response = nullptr);
  grpc::Status GetLineage(const std::string& name, const std::string& version,
                          v1::GetLineageResponse* response);
  grpc::Status GetQuota(const std::string& tenant_id, v1::GetQuotaResponse* response);
  grpc::Status QueryAudit(const v1::QueryRequest& request, v1::QueryResponse* response);

 private:
  void Prepare(grpc::ClientContext& context) const;

  std::string tenant_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::RegistryService::Stub> registry_;
  std::unique_ptr<v1::AuditService::Stub> audit_;
};

// A dev gateway in a temporary directory. The environment (CA, client certificates, keys,
// tenants.yaml, policy.yaml) is created by the constructor, so that a test may edit the files
// before the first start; sovd keeps the port it chose on its first start across restarts.
class DevGateway {
 public:
  DevGateway();  // aborts the test binary when the environment cannot be created

  const std::string& dir() const { return dir_; }
  std::string File(const std::string& name) const { return dir_ + "/" + name; }
  SovdProcess* sovd() { return sovd_.get(); }
  const std::string& address() const { return sovd_->address(); }

  // Starts `sovd --dev --data-dir DIR`; on failure returns false with sovd's output in *error.
  bool Start(std::string* error);
  // SIGTERM and wait: true when sovd exited 0. Destroy the RegistryClients first: sovd's
  // graceful shutdown waits (up to its 10 s grace) for connected channels to go away.
  bool Stop();
  // SIGKILL at once and wait; true when sovd died from the signal.
  bool Kill();

  std::unique_ptr<RegistryClient> Client(const std::string& tenant) const;

  // Rewrites DIR/policy.yaml without its release_gates section (the rest unchanged), and
  // DIR/sovd.yaml with `validation: {workers: 0}` so that no worker validates (and rejects) the
  // arbitrary bytes such tests push as models before they release them by hand.
  void RemoveReleaseGates();
  // Rewrites DIR/tenants.yaml with `tenant`'s jurisdiction set to `jurisdiction`.
  void SetTenantJurisdiction(const std::string& tenant, const std::string& jurisdiction);

 private:
  TempDir tmp_;
  std::string dir_;
  std::unique_ptr<SovdProcess> sovd_;
};

// A spec with the fields every test sets; lawful basis and special-category condition follow
// the classification's needs unless the caller changes them.
v1::ArtifactSpec MakeSpec(v1::ArtifactKind kind, const std::string& name,
                          const std::string& version, v1::Classification classification,
                          const std::vector<std::string>& purposes = {"fraud-detection"});
// Adds a lineage edge to `spec`.
void AddLineage(v1::ArtifactSpec& spec, const std::string& name, const std::string& version,
                v1::LineageRelation relation = v1::LINEAGE_RELATION_TRAINED_ON);

// `size` pseudo-random bytes, the same for the same seed.
std::string RandomBytes(size_t size, uint64_t seed);
// "sha256:<hex>" of `bytes`.
std::string DigestOf(std::string_view bytes);

// Verifies a manifest envelope with the registry's public key file (PEM) and returns "" when it
// verifies and names `name` with `digest` as its subject, else what is wrong.
std::string CheckManifest(const v1::DsseEnvelope& manifest, const std::string& public_key_file,
                          const std::string& name, const std::string& digest);

// `text` with every occurrence of `from` replaced by `to`.
std::string ReplaceAll(std::string text, const std::string& from, const std::string& to);

// "CODE: message" for failure messages.
std::string Describe(const grpc::Status& status);

}  // namespace sov::testing
