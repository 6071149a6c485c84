// Shared by the retention and records-of-processing tests: a real Registry (SQLite store, local
// blob store, audit log) in a temporary directory, whose store can be told to fail every commit
// that changes one artifact (to show that one failing item does not stop a sweep), helpers that
// push small artifacts and record allowed fetch decisions exactly as the gateway's CallGuard
// does, and a policy text with retention rules.
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/ed25519.h"
#include "crypto/secret_key.h"
#include "crypto/sha256.h"
#include "gateway/call_guard.h"
#include "policy/policy.h"
#include "registry/audit_entry.h"
#include "registry/local_blob_store.h"
#include "registry/registry.h"
#include "registry/sqlite_metadata_store.h"
#include "tests/testing/temp_dir.h"

namespace sov::gateway::testing {

// Forwards to a real store; Commit fails (UNAVAILABLE) for a batch that updates, or destroys the
// key of, an artifact whose id is in the failing set. Counts the key destructions committed
// without awaiting their shredding, and how many of them no AwaitShredding call has followed.
class FailingStore final : public registry::MetadataStore {
 public:
  explicit FailingStore(std::shared_ptr<registry::MetadataStore> inner) : inner_(std::move(inner)) {}

  void FailArtifact(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    failing_.insert(id);
  }
  void HealAll() {
    std::lock_guard<std::mutex> lock(mu_);
    failing_.clear();
  }

  Result<registry::CommitResult> Commit(registry::WriteBatch batch) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const registry::Mutation& m : batch.mutations) {
        std::string id;
        if (auto* u = std::get_if<registry::mutation::UpdateArtifact>(&m)) id = u->artifact.id;
        if (auto* d = std::get_if<registry::mutation::DeleteDataKey>(&m)) id = d->artifact_id;
        if (!id.empty() && failing_.count(id) != 0) {
          return Unavailable("injected failure for artifact " + id);
        }
      }
    }
    const bool unawaited =
        !batch.await_shredding &&
        std::any_of(batch.mutations.begin(), batch.mutations.end(), [](const auto& m) {
          return std::holds_alternative<registry::mutation::DeleteDataKey>(m);
        });
    Result<registry::CommitResult> result = inner_->Commit(std::move(batch));
    if (unawaited && result.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      ++unawaited_;
      ++unawaited_total_;
    }
    return result;
  }
  void AwaitShredding() override {
    int64_t before;
    {
      std::lock_guard<std::mutex> lock(mu_);
      before = unawaited_;
    }
    inner_->AwaitShredding();
    std::lock_guard<std::mutex> lock(mu_);
    unawaited_ -= before;
  }
  // Key destructions committed without awaiting their shredding: since the last AwaitShredding
  // that began after them, and in all.
  int64_t unawaited() {
    std::lock_guard<std::mutex> lock(mu_);
    return unawaited_;
  }
  int64_t unawaited_total() {
    std::lock_guard<std::mutex> lock(mu_);
    return unawaited_total_;
  }
  Result<std::optional<registry::ArtifactRecord>> FindArtifact(const std::string& name,
                                                               const std::string& version) override {
    return inner_->FindArtifact(name, version);
  }
  Result<std::optional<registry::ArtifactRecord>> FindArtifactById(const std::string& id) override {
    return inner_->FindArtifactById(id);
  }
  Result<std::vector<registry::ArtifactRecord>> ListVersions(const std::string& name) override {
    return inner_->ListVersions(name);
  }
  Result<std::vector<registry::ArtifactRecord>> ListArtifacts(
      const registry::ArtifactFilter& filter) override {
    return inner_->ListArtifacts(filter);
  }
  Result<std::vector<registry::ArtifactRecord>> ListDependents(const std::string& name,
                                                               const std::string& version) override {
    return inner_->ListDependents(name, version);
  }
  Result<std::string> WrappedDataKey(const std::string& artifact_id) override {
    return inner_->WrappedDataKey(artifact_id);
  }
  Result<std::optional<registry::UploadRecord>> FindUpload(const std::string& upload_id) override {
    return inner_->FindUpload(upload_id);
  }
  Result<std::optional<registry::UploadRecord>> FindOpenUpload(const std::string& name,
                                                               const std::string& version) override {
    return inner_->FindOpenUpload(name, version);
  }
  Result<std::vector<registry::UploadRecord>> ListOpenUploads() override {
    return inner_->ListOpenUploads();
  }
  Result<registry::TenantUsage> Usage(const std::string& tenant_id) override {
    return inner_->Usage(tenant_id);
  }
  Result<std::optional<registry::JobRecord>> FindJob(const std::string& job_id) override {
    return inner_->FindJob(job_id);
  }
  Result<std::vector<registry::JobRecord>> ListJobs(const registry::JobFilter& filter) override {
    return inner_->ListJobs(filter);
  }
  Result<std::vector<registry::KeyRevocation>> ListKeyRevocations() override {
    return inner_->ListKeyRevocations();
  }
  Result<int64_t> AuditSize() override { return inner_->AuditSize(); }
  Result<std::vector<registry::AuditRecord>> ReadAudit(int64_t begin, int64_t end) override {
    return inner_->ReadAudit(begin, end);
  }
  Result<std::vector<registry::AuditRecord>> QueryAudit(const registry::AuditFilter& filter) override {
    return inner_->QueryAudit(filter);
  }
  Result<registry::LeafHash> AuditNode(int level, int64_t index) override {
    return inner_->AuditNode(level, index);
  }
  Result<std::optional<registry::CheckpointRecord>> FindCheckpoint(int64_t tree_size) override {
    return inner_->FindCheckpoint(tree_size);
  }
  Result<std::vector<registry::CheckpointRecord>> ListCheckpoints(int64_t begin,
                                                                  int64_t end) override {
    return inner_->ListCheckpoints(begin, end);
  }

 private:
  std::shared_ptr<registry::MetadataStore> inner_;
  std::mutex mu_;
  std::set<std::string> failing_;
  int64_t unawaited_ = 0;
  int64_t unawaited_total_ = 0;
};

// Retention: personal data 10 days then erase; models 20 days then revoke; internal data 40
// days then erase; public data without limit. EEA = DE, FR (a small group, so that FR is inside
// and US outside). Everyone may fetch.
inline constexpr char kGovernancePolicy[] = R"(version: 1
name: governance-test
jurisdictions:
  EEA: [DE, FR]
retention:
  - classification: personal
    max_age: 10d
    at_deadline: erase
  - when: artifact.kind == "model"
    max_age: 20d
    at_deadline: revoke
  - classification: internal
    max_age: 40d
    at_deadline: erase
  - classification: public
    max_age: unlimited
rules:
  - id: everyone-fetches
    effect: allow
    actions: [artifact.fetch]
    principals: {tenants: ["*"]}
    reason: Test policy.
)";

inline policy::Policy LoadPolicy(std::string_view text = kGovernancePolicy) {
  Result<policy::Policy> loaded = policy::Policy::Load(text, "governance.yaml");
  EXPECT_TRUE(loaded.ok()) << loaded.status().message();
  return std::move(loaded).value();
}

class GovernanceRegistry {
 public:
  GovernanceRegistry() {
    auto sqlite = registry::SqliteMetadataStore::Open(dir_.Join("meta.db"));
    EXPECT_TRUE(sqlite.ok()) << sqlite.status().message();
    store_ = std::make_shared<FailingStore>(std::shared_ptr<registry::MetadataStore>(std::move(*sqlite)));
    auto blobs = registry::LocalBlobStore::Create({{"eu-de-1", dir_.Join("blobs")}});
    EXPECT_TRUE(blobs.ok()) << blobs.status().message();
    registry::AuditLogOptions audit_options;
    audit_options.checkpoint_interval = std::chrono::hours(1);
    audit_ = std::make_shared<registry::AuditLog>(store_, signing_key_, audit_options);
    registry::RegistryOptions options;
    options.locations = {{"eu-de-1", "DE"}};
    registry_ = std::make_shared<registry::Registry>(
        store_, std::shared_ptr<registry::BlobStore>(std::move(*blobs)), audit_, master_key_,
        signing_key_, options);
  }

  registry::Registry& registry() { return *registry_; }
  std::shared_ptr<registry::Registry> shared() { return registry_; }
  FailingStore& store() { return *store_; }

  // Pushes a small artifact; lineage entries are "name@version" of artifacts pushed before;
  // `retain_until` is the pusher's own limit, stored as the gateway stores it.
  registry::ArtifactRecord Push(registry::Kind kind, const std::string& name,
                                const std::string& version, const std::string& classification,
                                const std::vector<std::string>& lineage = {},
                                std::optional<SystemTime> retain_until = std::nullopt) {
    registry::ArtifactSpec spec;
    spec.kind = kind;
    spec.name = name;
    spec.version = version;
    spec.media_type = "application/octet-stream";
    spec.classification = classification;
    spec.effective_classification = classification;
    spec.purposes = {"fraud-detection"};
    spec.lawful_basis = "contract";
    spec.owner_tenant = name.substr(0, name.find('/'));
    spec.storage_location = "eu-de-1";
    spec.storage_jurisdiction = "DE";
    spec.created_by = spec.owner_tenant;
    spec.retain_until = retain_until;
    for (const std::string& ref : lineage) {
      const size_t at = ref.find('@');
      Result<registry::ArtifactRecord> parent = registry_->Get(ref.substr(0, at), ref.substr(at + 1));
      EXPECT_TRUE(parent.ok()) << ref;
      registry::LineageLink link;
      link.name = ref.substr(0, at);
      link.version = ref.substr(at + 1);
      link.digest = parent.ok() ? parent->digest : "";
      link.relation = "trained-on";
      link.kind = parent.ok() ? parent->spec.kind : registry::Kind::kDataset;
      spec.lineage.push_back(link);
    }
    const std::string bytes = name + "@" + version + " bytes";
    registry::Actor actor;
    actor.tenant_id = spec.owner_tenant;
    actor.request_id = "req-push";
    Result<registry::UploadRecord> upload = registry_->CreateUpload(
        spec, static_cast<int64_t>(bytes.size()), "", actor, {});
    EXPECT_TRUE(upload.ok()) << upload.status().message();
    auto writer = registry_->OpenUploadWriter(upload->id, 0);
    EXPECT_TRUE(writer.ok()) << writer.status().message();
    EXPECT_TRUE((*writer)->Write(bytes).ok());
    Result<registry::ArtifactRecord> committed =
        (*writer)->Commit(crypto::Sha256Of(bytes).ToString(), actor, {});
    EXPECT_TRUE(committed.ok()) << committed.status().message();
    return std::move(committed).value();
  }

  registry::ArtifactRecord Release(const registry::ArtifactRecord& record) {
    registry::Registry::Transition t;
    t.from = {registry::Stage::kPending, registry::Stage::kValidating};
    t.to = registry::Stage::kReleased;
    t.reason = "test";
    registry::Actor actor;
    actor.system_actor = "validation";
    Result<registry::ArtifactRecord> released =
        registry_->ChangeStage(record.spec.name, record.spec.version, t, actor, {});
    EXPECT_TRUE(released.ok()) << released.status().message();
    return std::move(released).value();
  }

  registry::ArtifactRecord Get(const registry::ArtifactRecord& record) {
    Result<registry::ArtifactRecord> got = registry_->Get(record.spec.name, record.spec.version);
    EXPECT_TRUE(got.ok()) << got.status().message();
    return std::move(got).value();
  }

  // Appends the DECISION entry the gateway's CallGuard writes for an allowed fetch of `record`
  // by `tenant` (whose home is `jurisdiction`), deciding it with `policy`.
  void RecordFetch(const policy::Policy& policy, const registry::ArtifactRecord& record,
                   const std::string& tenant, const std::string& jurisdiction) {
    Principal principal;
    principal.tenant.id = tenant;
    principal.tenant.jurisdiction = jurisdiction;
    principal.tenant.roles = {"tenant-service"};
    principal.credential = "CN=" + tenant;
    policy::Artifact artifact;
    artifact.kind = std::string(registry::KindName(record.spec.kind));
    artifact.name = record.spec.name;
    artifact.version = record.spec.version;
    artifact.owner_tenant = record.spec.owner_tenant;
    artifact.classification = record.spec.classification;
    artifact.stage = std::string(registry::StageName(record.stage));
    policy::DecisionRequest request =
        internal::MakeDecisionRequest(principal, "artifact.fetch", artifact);
    policy::Decision decision = policy.Decide(request);
    ASSERT_TRUE(decision.allowed());
    nlohmann::json who = {{"tenantId", tenant}, {"authMethod", "mtls"}, {"credential", "CN=" + tenant}};
    Result<std::vector<int64_t>> appended = registry_->audit().Append(
        {internal::DecisionEvent(request, decision, who, internal::NewRequestId())});
    ASSERT_TRUE(appended.ok()) << appended.status().message();
  }

  // Every audit entry of `type`, decoded.
  std::vector<registry::AuditEvent> Entries(const std::string& type) {
    registry::AuditFilter filter;
    filter.types = {type};
    filter.limit = 0;
    std::vector<registry::AuditEvent> out;
    Result<std::vector<registry::AuditRecord>> records = store_->QueryAudit(filter);
    EXPECT_TRUE(records.ok());
    if (!records.ok()) return out;
    for (const registry::AuditRecord& r : *records) {
      Result<registry::AuditEvent> e = registry::DecodeLeafData(r.leaf_data, nullptr, nullptr, nullptr);
      EXPECT_TRUE(e.ok());
      if (e.ok()) out.push_back(std::move(*e));
    }
    return out;
  }

 private:
  sov::testing::TempDir dir_;
  crypto::SecretKey master_key_ = crypto::SecretKey::Random();
  crypto::Ed25519PrivateKey signing_key_ = crypto::Ed25519PrivateKey::Generate();
  std::shared_ptr<FailingStore> store_;
  std::shared_ptr<registry::AuditLog> audit_;
  std::shared_ptr<registry::Registry> registry_;
};

}  // namespace sov::gateway::testing
