// Shows Registry::Erase and AddLineageNotice over a real SQLite store and LocalBlobStore: the
// data key and the blob are destroyed, reads fail, a registry-signed erasure record without
// content is audited with the caller's decision, validation jobs are cancelled, erasure is
// idempotent, and lineage notices (with a revoke) are added once and audited.
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/dsse.h"
#include "registry/registry.h"
#include "tests/registry/registry_fixture.h"

namespace sov::registry {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr char kMarker[] = "PLAINTEXT-MARKER-3f9a1c";

ArtifactSpec Spec(Kind kind, const std::string& name, const std::string& version) {
  return TestSpec(kind, name, version);
}

Actor Officer() {
  Actor actor;
  actor.tenant_id = "compliance";
  actor.principal = {{"tenantId", "compliance"}, {"authMethod", "mtls"},
                     {"credential", "CN=compliance"}};
  actor.request_id = "req-erase";
  return actor;
}

AuditEvent Decision(const std::string& action) {
  return AllowDecision(action, "compliance-erase", "req-erase", 'c');
}

class ErasureTest : public RegistryFixture {
 protected:
  ArtifactRecord Push(const ArtifactSpec& spec, const std::string& data) {
    auto committed = PushArtifact(spec, data, Actor{});
    EXPECT_TRUE(committed.ok()) << committed.status().ToString();
    return committed.ok() ? *committed : ArtifactRecord{};
  }

  // Every file under the blob directory (staging included), whatever its name.
  std::vector<std::string> BlobFiles() {
    std::vector<std::string> out;
    for (const auto& entry : fs::recursive_directory_iterator(blob_dir())) {
      if (entry.is_regular_file()) out.push_back(entry.path().string());
    }
    return out;
  }

  Registry::Transition Release() {
    Registry::Transition t;
    t.from = {Stage::kPending};
    t.to = Stage::kReleased;
    t.reason = "test";
    return t;
  }
};

// Erase destroys the key and the blob, keeps a tombstone, and signs an erasure record that
// names the artifact and never its content; the caller's decision is in the same batch.
TEST_F(ErasureTest, EraseShredsAndSignsRecord) {
  const std::string data = std::string("rows: ") + kMarker + " alice@example.org";
  ArtifactRecord pushed = Push(Spec(Kind::kDataset, "acme/customers", "1.0.0"), data);
  ASSERT_TRUE(store_->WrappedDataKey(pushed.id).ok());
  ASSERT_EQ(BlobFiles().size(), 1u);

  Registry::EraseRequest request{"Art. 17 request", "DSR-42"};
  auto erased = registry_->Erase("acme/customers", "1.0.0", request, Officer(),
                                 {Decision("artifact.erase")});
  ASSERT_TRUE(erased.ok()) << erased.status().ToString();
  EXPECT_EQ(erased->stage, Stage::kErased);
  ASSERT_TRUE(erased->tombstone.has_value());
  const Tombstone& t = *erased->tombstone;
  EXPECT_EQ(t.tenant_id, "compliance");
  EXPECT_EQ(t.reason, "Art. 17 request");
  EXPECT_EQ(t.subject_request_id, "DSR-42");
  ASSERT_GE(t.audit_index, 0);
  ASSERT_FALSE(erased->history.empty());
  EXPECT_EQ(erased->history.back().to, Stage::kErased);
  EXPECT_EQ(erased->history.back().audit_index, t.audit_index);

  // The key row and the blob are gone; reads fail with FAILED_PRECONDITION.
  EXPECT_EQ(store_->WrappedDataKey(pushed.id).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(BlobFiles().empty());
  EXPECT_EQ(registry_->OpenReader(pushed, 0, std::nullopt).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(registry_->OpenReader(*erased, 0, std::nullopt).status().code(),
            StatusCode::kFailedPrecondition);

  // The stored record has the tombstone with the entry's index.
  auto stored = registry_->Get("acme/customers", "1.0.0");
  ASSERT_TRUE(stored.ok());
  ASSERT_TRUE(stored->tombstone.has_value());
  EXPECT_EQ(stored->tombstone->audit_index, t.audit_index);
  // Tombstone, history event and their entry's index committed together, in one revision.
  EXPECT_EQ(stored->revision, pushed.revision + 1);
  EXPECT_EQ(stored->revision, erased->revision);
  EXPECT_EQ(stored->history.back().audit_index, t.audit_index);

  // The ERASURE entry holds a registry-signed record about the artifact, not its bytes.
  std::vector<Json> entries = AuditLeaves();
  const Json& entry = entries.at(static_cast<size_t>(t.audit_index));
  EXPECT_EQ(entry["type"], "ERASURE");
  EXPECT_EQ(entry["action"], "artifact.erase");
  EXPECT_EQ(entry["artifact"]["digest"], pushed.digest);
  auto envelope = crypto::DsseEnvelope::FromJson(entry["record"].dump());
  ASSERT_TRUE(envelope.ok()) << envelope.status().ToString();
  EXPECT_EQ(envelope->payload_type, Registry::kErasurePayloadType);
  EXPECT_TRUE(crypto::VerifyDsse(*envelope, {registry_->registry_key()}).ok());
  EXPECT_FALSE(crypto::VerifyDsse(*envelope, {crypto::Ed25519PrivateKey::Generate().public_key()})
                   .ok());
  Json payload = Json::parse(envelope->payload);
  EXPECT_EQ(payload["name"], "acme/customers");
  EXPECT_EQ(payload["version"], "1.0.0");
  EXPECT_EQ(payload["digest"], pushed.digest);
  EXPECT_EQ(payload["sizeBytes"], static_cast<int64_t>(data.size()));
  EXPECT_EQ(payload["kind"], "dataset");
  EXPECT_EQ(payload["reason"], "Art. 17 request");
  EXPECT_EQ(payload["subjectRequestId"], "DSR-42");
  EXPECT_EQ(payload["erasedBy"]["tenantId"], "compliance");
  for (const Json& e : entries) {
    EXPECT_EQ(e.dump().find(kMarker), std::string::npos) << e.dump();
  }
  // The decision entry was committed with the erasure.
  bool decision_found = false;
  for (const Json& e : entries) {
    decision_found = decision_found || (e["type"] == "DECISION" && e["action"] == "artifact.erase");
  }
  EXPECT_TRUE(decision_found);
}

// A second Erase changes nothing and appends only the caller's decision.
TEST_F(ErasureTest, EraseIsIdempotent) {
  Push(Spec(Kind::kDataset, "acme/customers", "1.0.0"), "data");
  auto first = registry_->Erase("acme/customers", "1.0.0", {"first", ""}, Officer(), {});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const size_t size_after_first = AuditLeaves().size();
  auto second = registry_->Erase("acme/customers", "1.0.0", {"second", ""}, Officer(),
                                 {Decision("artifact.erase")});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_TRUE(second->tombstone.has_value());
  EXPECT_EQ(second->tombstone->reason, "first");
  EXPECT_EQ(second->tombstone->audit_index, first->tombstone->audit_index);
  std::vector<Json> entries = AuditLeaves();
  ASSERT_EQ(entries.size(), size_after_first + 1);
  EXPECT_EQ(entries.back()["type"], "DECISION");
}

// Bad requests change nothing.
TEST_F(ErasureTest, EraseValidatesRequest) {
  Push(Spec(Kind::kDataset, "acme/customers", "1.0.0"), "data");
  EXPECT_EQ(registry_->Erase("acme/customers", "1.0.0", {"", ""}, Officer(), {}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->Erase("acme/customers", "1.0.0", {std::string(1025, 'r'), ""}, Officer(), {})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->Erase("acme/customers", "1.0.0", {"ok", std::string(257, 's')}, Officer(), {})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  // 1024 characters of two bytes each are within the limit.
  std::string umlauts;
  for (int i = 0; i < 1024; ++i) umlauts += "\xc3\xa4";
  EXPECT_EQ(registry_->Erase("acme/absent", "1.0.0", {umlauts, ""}, Officer(), {}).status().code(),
            StatusCode::kNotFound);
  auto still = registry_->Get("acme/customers", "1.0.0");
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->stage, Stage::kPending);
  EXPECT_TRUE(store_->WrappedDataKey(still->id).ok());
}

// The model's queued and running validation jobs are cancelled in the erasure's batch.
TEST_F(ErasureTest, EraseCancelsValidationJobs) {
  ArtifactRecord model = Push(Spec(Kind::kModel, "acme/model", "1.0.0"), "weights");
  for (JobState state : {JobState::kQueued, JobState::kSucceeded}) {
    JobRecord job;
    job.id = std::string("job-") + std::string(JobStateName(state));
    job.model_name = model.spec.name;
    job.model_version = model.spec.version;
    job.model_digest = model.digest;
    job.state = state;
    job.create_time = std::chrono::system_clock::now();
    WriteBatch batch;
    batch.Add(mutation::EnqueueJob{job});
    ASSERT_TRUE(store_->Commit(std::move(batch)).ok());
  }
  auto erased = registry_->Erase("acme/model", "1.0.0", {"withdrawn", ""}, Officer(), {});
  ASSERT_TRUE(erased.ok()) << erased.status().ToString();
  auto queued = store_->FindJob("job-queued");
  ASSERT_TRUE(queued.ok() && queued->has_value());
  EXPECT_EQ((*queued)->state, JobState::kCancelled);
  auto done = store_->FindJob("job-succeeded");
  ASSERT_TRUE(done.ok() && done->has_value());
  EXPECT_EQ((*done)->state, JobState::kSucceeded);
  bool cancelled_entry = false;
  for (const Json& e : AuditLeaves()) {
    cancelled_entry = cancelled_entry || (e["type"] == "VALIDATION" &&
                                          e["details"]["event"] == "cancelled" &&
                                          e["details"]["jobId"] == "job-queued");
  }
  EXPECT_TRUE(cancelled_entry);
}

// A blob whose delete failed, or that a crash brought back (here: put back), is removed by Recover.
TEST_F(ErasureTest, RecoverRemovesErasedBlob) {
  ArtifactRecord pushed = Push(Spec(Kind::kDataset, "acme/customers", "1.0.0"), "data");
  ASSERT_EQ(BlobFiles().size(), 1u);
  const std::string blob = BlobFiles().front();
  const std::string copy = dir_.Join("copy");
  fs::copy_file(blob, copy);
  ASSERT_TRUE(registry_->Erase("acme/customers", "1.0.0", {"gone", ""}, Officer(), {}).ok());
  fs::copy_file(copy, blob);
  auto removed = registry_->Recover();
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 1);
  EXPECT_TRUE(BlobFiles().empty());
}

// A revoke notice moves a released model to REVOKED in one audited batch; a second notice for
// the same ancestor adds nothing; flag-retrain leaves the stage; an erased artifact refuses.
TEST_F(ErasureTest, LineageNotices) {
  Push(Spec(Kind::kModel, "acme/model", "1.0.0"), "weights-1");
  Push(Spec(Kind::kModel, "acme/model", "2.0.0"), "weights-2");
  ASSERT_TRUE(registry_->ChangeStage("acme/model", "1.0.0", Release(), Actor{}, {}).ok());

  LineageNotice notice;
  notice.erased_name = "acme/customers";
  notice.erased_version = "1.0.0";
  notice.erased_digest = "sha256:" + std::string(64, 'a');
  notice.action = "revoke";
  notice.rule_id = "personal-revokes";
  notice.rule_location = "policy.yaml:12:5";
  Registry::Transition revoke;
  revoke.from = {Stage::kReleased};
  revoke.to = Stage::kRevoked;
  revoke.reason = "derived from erased acme/customers@1.0.0";
  revoke.rule_id = "personal-revokes";
  revoke.rule_location = "policy.yaml:12:5";

  const size_t before = AuditLeaves().size();
  auto revoked =
      registry_->AddLineageNotice("acme/model", "1.0.0", notice, revoke, Officer(), {});
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(revoked->stage, Stage::kRevoked);
  ASSERT_EQ(revoked->lineage_notices.size(), 1u);
  EXPECT_EQ(revoked->lineage_notices[0].rule_id, "personal-revokes");
  EXPECT_EQ(revoked->history.back().to, Stage::kRevoked);
  EXPECT_EQ(revoked->history.back().rule_id, "personal-revokes");
  std::vector<Json> entries = AuditLeaves();
  ASSERT_EQ(entries.size(), before + 1);
  EXPECT_EQ(entries.back()["type"], "LINEAGE_PROPAGATION");
  EXPECT_EQ(entries.back()["details"]["erasedAncestor"]["name"], "acme/customers");
  EXPECT_EQ(entries.back()["stageChange"]["toStage"], "revoked");

  auto stored = registry_->Get("acme/model", "1.0.0");
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->lineage_notices.size(), 1u);
  EXPECT_EQ(stored->lineage_notices[0], revoked->lineage_notices[0]);
  EXPECT_EQ(stored->stage, Stage::kRevoked);

  // Again: nothing is added, nothing is audited but what the caller passes.
  auto again = registry_->AddLineageNotice("acme/model", "1.0.0", notice, revoke, Officer(), {});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->lineage_notices.size(), 1u);
  EXPECT_EQ(AuditLeaves().size(), before + 1);

  // flag-retrain on a pending model: a notice, the stage unchanged.
  notice.action = "flag-retrain";
  auto flagged =
      registry_->AddLineageNotice("acme/model", "2.0.0", notice, std::nullopt, Officer(), {});
  ASSERT_TRUE(flagged.ok()) << flagged.status().ToString();
  EXPECT_EQ(flagged->stage, Stage::kPending);
  ASSERT_EQ(flagged->lineage_notices.size(), 1u);
  EXPECT_EQ(flagged->lineage_notices[0].action, "flag-retrain");

  // A revoke transition on a model that is not released is a wrong stage.
  EXPECT_EQ(registry_->AddLineageNotice("acme/model", "2.0.0", notice, revoke, Officer(), {})
                .status()
                .code(),
            StatusCode::kFailedPrecondition);

  ASSERT_TRUE(registry_->Erase("acme/model", "2.0.0", {"gone", ""}, Officer(), {}).ok());
  notice.erased_version = "1.0.1";
  EXPECT_EQ(registry_->AddLineageNotice("acme/model", "2.0.0", notice, std::nullopt, Officer(), {})
                .status()
                .code(),
            StatusCode::kFailedPrecondition);
}

// A model whose data was erased under a revoking lineage rule is never released: ChangeStage
// refuses it naming the erased ancestor and the rule, while a flag-retrain notice does not stop
// a release.
TEST_F(ErasureTest, RevokeNoticeBlocksRelease) {
  Push(Spec(Kind::kModel, "acme/model", "1.0.0"), "weights-1");
  Push(Spec(Kind::kModel, "acme/model", "2.0.0"), "weights-2");
  LineageNotice notice;
  notice.erased_name = "acme/customers";
  notice.erased_version = "1.0.0";
  notice.erased_digest = "sha256:" + std::string(64, 'a');
  notice.action = "revoke";
  notice.rule_id = "personal-revokes";
  notice.rule_location = "policy.yaml:12:5";
  ASSERT_TRUE(
      registry_->AddLineageNotice("acme/model", "1.0.0", notice, std::nullopt, Officer(), {}).ok());
  auto refused = registry_->ChangeStage("acme/model", "1.0.0", Release(), Actor{}, {});
  ASSERT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              ::testing::HasSubstr("derived from erased acme/customers@1.0.0; lineage rule "
                                   "personal-revokes (policy.yaml:12:5) revokes it"));
  EXPECT_EQ(registry_->Get("acme/model", "1.0.0")->stage, Stage::kPending);

  notice.action = "flag-retrain";
  ASSERT_TRUE(
      registry_->AddLineageNotice("acme/model", "2.0.0", notice, std::nullopt, Officer(), {}).ok());
  auto released = registry_->ChangeStage("acme/model", "2.0.0", Release(), Actor{}, {});
  ASSERT_TRUE(released.ok()) << released.status().ToString();
  EXPECT_EQ(released->stage, Stage::kReleased);
}

}  // namespace
}  // namespace sov::registry
