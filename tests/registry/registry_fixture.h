// RegistryFixture: the set-up that the Registry tests (registry_test.cc, erasure_test.cc,
// validation_test.cc) share: a fresh temporary directory holding a real SQLite store (meta.db)
// and a LocalBlobStore (blobs-de, location kLocation in DE), an AuditLog and a Registry over them
// with a random master key and registry signing key; plus helpers to push an artifact and to
// read the audit log back, and a spec and a DECISION entry to start from. Each test file derives its own fixture from it and adds what only it
// needs. One fixture per test, used from the test's thread; the Registry it holds is
// thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "crypto/sha256.h"
#include "registry/local_blob_store.h"
#include "registry/registry.h"
#include "registry/sqlite_metadata_store.h"
#include "tests/testing/temp_dir.h"

namespace sov::registry {

inline constexpr int64_t kMiB = int64_t{1} << 20;
// The fixture's one storage location, in jurisdiction DE.
inline constexpr char kLocation[] = "eu-de-1";

// Returns tenant acme calling with a token, as the gateway describes it (request req-1).
inline Actor TenantActor() {
  Actor actor;
  actor.tenant_id = "acme";
  actor.principal = {{"tenantId", "acme"}, {"authMethod", "token"}, {"credential", "tok-1"}};
  actor.request_id = "req-1";
  return actor;
}

// Returns acme's artifact name@version of `kind` in the fixture's location: personal data for
// fraud-detection under contract, created by acme. Tests change what they need.
inline ArtifactSpec TestSpec(Kind kind, const std::string& name, const std::string& version) {
  ArtifactSpec spec;
  spec.kind = kind;
  spec.name = name;
  spec.version = version;
  spec.media_type = "application/octet-stream";
  spec.classification = "personal";
  spec.effective_classification = "personal";
  spec.purposes = {"fraud-detection"};
  spec.lawful_basis = "contract";
  spec.owner_tenant = "acme";
  spec.storage_location = kLocation;
  spec.storage_jurisdiction = "DE";
  spec.created_by = "acme";
  return spec;
}

// Returns the gateway's DECISION entry allowing `action` by rule `rule_id` in request
// `request_id`, under a policy whose digest is 64 times `digest_fill`.
inline AuditEvent AllowDecision(const std::string& action, const std::string& rule_id,
                                const std::string& request_id = "req-1", char digest_fill = 'b') {
  AuditEvent event;
  event.type = "DECISION";
  event.request_id = request_id;
  event.action = action;
  event.effect = "allow";
  event.rule_id = rule_id;
  event.policy_digest = "sha256:" + std::string(64, digest_fill);
  return event;
}

class RegistryFixture : public ::testing::Test {
 protected:
  RegistryFixture() { options_.locations = {{kLocation, "DE"}}; }

  void SetUp() override {
    auto blobs = LocalBlobStore::Create({{kLocation, blob_dir()}});
    ASSERT_TRUE(blobs.ok()) << blobs.status().ToString();
    blobs_ = std::move(blobs).value();
    OpenStore();
  }

  // (Re)opens the store at db_path_, a new AuditLog and a Registry with options_ over it, as a
  // restarted gateway does. The blobs stay.
  void OpenStore() {
    registry_.reset();
    audit_.reset();
    store_.reset();
    auto store = SqliteMetadataStore::Open(db_path_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    audit_ = NewAuditLog(store_);
    registry_ = NewRegistry(options_);
  }

  // Returns an AuditLog over `store` signed with the registry key; its hourly checkpoints never
  // come during a test.
  std::shared_ptr<AuditLog> NewAuditLog(std::shared_ptr<MetadataStore> store) {
    AuditLogOptions audit_options;
    audit_options.checkpoint_interval = std::chrono::hours(1);
    return std::make_shared<AuditLog>(std::move(store), signing_key_, audit_options);
  }

  // Returns a Registry over `store`, the fixture's blobs and `audit`, with the fixture's keys.
  std::unique_ptr<Registry> NewRegistry(std::shared_ptr<MetadataStore> store,
                                        std::shared_ptr<AuditLog> audit,
                                        RegistryOptions options) {
    return std::make_unique<Registry>(std::move(store), blobs_, std::move(audit), master_key_,
                                      signing_key_, std::move(options));
  }

  // Returns a Registry over the fixture's store and audit log with `options`.
  std::unique_ptr<Registry> NewRegistry(RegistryOptions options) {
    return NewRegistry(store_, audit_, std::move(options));
  }

  // Creates an upload of `spec` as `actor` (with `decisions` audited), writes `data` in
  // `slice`-byte writes and commits it with its digest, through `registry` (registry_ when
  // null). Returns the committed artifact or the first failure.
  Result<ArtifactRecord> PushArtifact(const ArtifactSpec& spec, std::string_view data,
                                      const Actor& actor, std::vector<AuditEvent> decisions = {},
                                      size_t slice = static_cast<size_t>(kMiB),
                                      Registry* registry = nullptr) {
    if (registry == nullptr) registry = registry_.get();
    SOV_ASSIGN_OR_RETURN(UploadRecord upload,
                         registry->CreateUpload(spec, static_cast<int64_t>(data.size()), "", actor,
                                                std::move(decisions)));
    SOV_ASSIGN_OR_RETURN(std::unique_ptr<UploadWriter> writer,
                         registry->OpenUploadWriter(upload.id, 0));
    for (size_t at = 0; at < data.size(); at += slice) {
      SOV_RETURN_IF_ERROR(writer->Write(data.substr(at, slice)));
    }
    return writer->Commit(crypto::Sha256Of(data).ToString(), actor, {});
  }

  // Returns every record of the audit log, in order.
  std::vector<AuditRecord> AuditEntries() {
    auto size = store_->AuditSize();
    EXPECT_TRUE(size.ok());
    auto records = store_->ReadAudit(0, *size);
    EXPECT_TRUE(records.ok());
    return *records;
  }

  // Returns the parsed leaves of every audit entry, in order.
  std::vector<nlohmann::json> AuditLeaves() {
    std::vector<nlohmann::json> out;
    for (const AuditRecord& r : AuditEntries()) out.push_back(nlohmann::json::parse(r.leaf_data));
    return out;
  }

  // The LocalBlobStore's root directory.
  std::string blob_dir() const { return dir_.Join("blobs-de"); }

  testing::TempDir dir_;
  std::string db_path_ = dir_.Join("meta.db");
  std::shared_ptr<MetadataStore> store_;
  std::shared_ptr<BlobStore> blobs_;
  std::shared_ptr<AuditLog> audit_;
  crypto::SecretKey master_key_ = crypto::SecretKey::Random();
  crypto::Ed25519PrivateKey signing_key_ = crypto::Ed25519PrivateKey::Generate();
  RegistryOptions options_;
  std::unique_ptr<Registry> registry_;
};

}  // namespace sov::registry
