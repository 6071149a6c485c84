// Shows EraseWithLineage over a real Registry: the erased dataset's dependents are visited
// breadth first, each once by its shortest path, and handled by the policy's lineage rules
// (a released model is revoked, a pending one only noticed, flag-retrain and none leave the
// stage); a dry run changes nothing; a second erasure completes an interrupted propagation.
#include "gateway/erasure.h"

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/dsse.h"
#include "crypto/sha256.h"
#include "registry/local_blob_store.h"
#include "registry/sqlite_metadata_store.h"
#include "tests/testing/temp_dir.h"

namespace sov::gateway {
namespace {

using registry::ArtifactRecord;
using registry::Kind;
using registry::Stage;

constexpr char kLocation[] = "eu-de-1";

constexpr char kPolicy[] = R"(version: 1
name: lineage
lineage:
  - id: reports-listed
    when: artifact.kind == 'report'
    on_ancestor_erased: none
  - id: personal-revokes
    when: ancestor.classification == 'personal' && artifact.name != 'acme/research'
    on_ancestor_erased: revoke
  - id: retrain
    on_ancestor_erased: flag-retrain
)";

class EraseWithLineageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = registry::SqliteMetadataStore::Open(dir_.Join("meta.db"));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    auto blobs = registry::LocalBlobStore::Create({{kLocation, dir_.Join("blobs")}});
    ASSERT_TRUE(blobs.ok()) << blobs.status().ToString();
    registry::AuditLogOptions audit_options;
    audit_options.checkpoint_interval = std::chrono::hours(1);
    auto audit = std::make_shared<registry::AuditLog>(store_, signing_key_, audit_options);
    registry::RegistryOptions options;
    options.locations = {{kLocation, "DE"}};
    registry_ = std::make_unique<registry::Registry>(store_, std::move(blobs).value(), audit,
                                                     crypto::SecretKey::Random(), signing_key_,
                                                     options);
    auto policy = policy::Policy::Load(kPolicy, "policy.yaml");
    ASSERT_TRUE(policy.ok()) << policy.status().message();
    policy_ = std::make_unique<policy::Policy>(*policy);
  }

  // Pushes name@1.0.0 with lineage on `parents` (name@1.0.0 each); releases it when asked.
  ArtifactRecord Push(Kind kind, const std::string& name, std::vector<std::string> parents,
                      bool release, std::map<std::string, std::string> labels = {}) {
    registry::ArtifactSpec spec;
    spec.kind = kind;
    spec.name = name;
    spec.version = "1.0.0";
    spec.classification = kind == Kind::kDataset ? "personal" : "internal";
    spec.purposes = {"fraud-detection"};
    spec.owner_tenant = "acme";
    spec.storage_location = kLocation;
    spec.labels = std::move(labels);
    for (const std::string& parent : parents) {
      auto record = registry_->Get(parent, "1.0.0");
      EXPECT_TRUE(record.ok());
      registry::LineageLink link;
      link.name = parent;
      link.version = "1.0.0";
      link.digest = record->digest;
      link.kind = record->spec.kind;
      link.relation = record->spec.kind == Kind::kDataset ? "trained-on" : "derived-from";
      spec.lineage.push_back(link);
    }
    const std::string data = "bytes of " + name;
    auto upload = registry_->CreateUpload(spec, static_cast<int64_t>(data.size()), "", {}, {});
    EXPECT_TRUE(upload.ok()) << upload.status().ToString();
    auto writer = registry_->OpenUploadWriter(upload->id, 0);
    EXPECT_TRUE(writer.ok());
    EXPECT_TRUE((*writer)->Write(data).ok());
    auto record = (*writer)->Commit(crypto::Sha256Of(data).ToString(), {}, {});
    EXPECT_TRUE(record.ok()) << record.status().ToString();
    if (release) {
      registry::Registry::Transition t;
      t.from = {Stage::kPending};
      t.to = Stage::kReleased;
      auto released = registry_->ChangeStage(name, "1.0.0", t, {}, {});
      EXPECT_TRUE(released.ok());
      return *released;
    }
    return *record;
  }

  // acme/customers (personal dataset)
  //   <- acme/fraud (released model)  <- acme/fraud-distilled (released model)
  //                                    <- acme/fraud-report (report)
  //   <- acme/candidate (pending model)
  //   <- acme/research (released model, which the policy only flags for retraining)
  // acme/fraud-distilled also names acme/customers directly: its shortest path is direct.
  void BuildGraph() {
    Push(Kind::kDataset, "acme/customers", {}, false);
    Push(Kind::kModel, "acme/fraud", {"acme/customers"}, true);
    Push(Kind::kModel, "acme/candidate", {"acme/customers"}, false);
    Push(Kind::kModel, "acme/research", {"acme/customers"}, true);
    Push(Kind::kReport, "acme/fraud-report", {"acme/fraud"}, false);
    Push(Kind::kModel, "acme/fraud-distilled", {"acme/fraud", "acme/customers"}, true);
  }

  Stage StageOf(const std::string& name) {
    auto record = registry_->Get(name, "1.0.0");
    EXPECT_TRUE(record.ok());
    return record->stage;
  }

  registry::Actor Officer() {
    registry::Actor actor;
    actor.tenant_id = "compliance";
    actor.principal = {{"tenantId", "compliance"}, {"authMethod", "mtls"},
                       {"credential", "CN=compliance"}};
    return actor;
  }

  testing::TempDir dir_;
  crypto::Ed25519PrivateKey signing_key_ = crypto::Ed25519PrivateKey::Generate();
  std::shared_ptr<registry::MetadataStore> store_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<policy::Policy> policy_;
};

// Effects come breadth first with shortest paths; each rule does what it says.
TEST_F(EraseWithLineageTest, PropagatesBreadthFirst) {
  BuildGraph();
  auto target = registry_->Get("acme/customers", "1.0.0");
  ASSERT_TRUE(target.ok());
  auto outcome = EraseWithLineage(*registry_, *policy_, *target, {"Art. 17 request", "DSR-1"},
                                  Officer(), {}, /*dry_run=*/false);
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(outcome->erased.stage, Stage::kErased);
  auto record_json = SignedErasureRecord(*registry_, outcome->erased);
  ASSERT_TRUE(record_json.ok()) << record_json.status().ToString();
  auto record = crypto::DsseEnvelope::FromJson(*record_json);
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  EXPECT_TRUE(crypto::VerifyDsse(*record, {registry_->registry_key()}).ok());

  std::vector<std::string> order;
  std::map<std::string, const LineageEffect*> by_name;
  for (const LineageEffect& e : outcome->effects) {
    order.push_back(e.artifact.spec.name);
    by_name[e.artifact.spec.name] = &e;
  }
  EXPECT_EQ(order, (std::vector<std::string>{"acme/fraud", "acme/candidate", "acme/research",
                                             "acme/fraud-distilled", "acme/fraud-report"}));

  const LineageEffect& fraud = *by_name["acme/fraud"];
  EXPECT_EQ(fraud.action, "revoke");
  EXPECT_EQ(fraud.artifact.stage, Stage::kReleased);
  EXPECT_EQ(fraud.new_stage, Stage::kRevoked);
  EXPECT_EQ(fraud.rule_id, "personal-revokes");
  EXPECT_EQ(fraud.rule_location, "policy.yaml:7:5");
  EXPECT_EQ(fraud.path, (std::vector<std::string>{"acme/customers@1.0.0", "acme/fraud@1.0.0"}));

  EXPECT_EQ(by_name["acme/candidate"]->action, "revoke");
  EXPECT_EQ(by_name["acme/candidate"]->new_stage, Stage::kPending);
  EXPECT_EQ(by_name["acme/research"]->action, "flag-retrain");
  EXPECT_EQ(by_name["acme/research"]->new_stage, Stage::kReleased);
  EXPECT_EQ(by_name["acme/fraud-distilled"]->path,
            (std::vector<std::string>{"acme/customers@1.0.0", "acme/fraud-distilled@1.0.0"}));
  EXPECT_EQ(by_name["acme/fraud-report"]->action, "none");
  EXPECT_EQ(by_name["acme/fraud-report"]->path,
            (std::vector<std::string>{"acme/customers@1.0.0", "acme/fraud@1.0.0",
                                      "acme/fraud-report@1.0.0"}));

  // What the registry now holds.
  EXPECT_EQ(StageOf("acme/fraud"), Stage::kRevoked);
  EXPECT_EQ(StageOf("acme/fraud-distilled"), Stage::kRevoked);
  EXPECT_EQ(StageOf("acme/candidate"), Stage::kPending);
  EXPECT_EQ(StageOf("acme/research"), Stage::kReleased);
  auto candidate = registry_->Get("acme/candidate", "1.0.0");
  ASSERT_EQ(candidate->lineage_notices.size(), 1u);
  EXPECT_EQ(candidate->lineage_notices[0].action, "revoke");
  EXPECT_EQ(candidate->lineage_notices[0].erased_name, "acme/customers");
  auto research = registry_->Get("acme/research", "1.0.0");
  ASSERT_EQ(research->lineage_notices.size(), 1u);
  EXPECT_EQ(research->lineage_notices[0].action, "flag-retrain");
  EXPECT_TRUE(registry_->Get("acme/fraud-report", "1.0.0")->lineage_notices.empty());
}

// A dry run reports the same effects and changes nothing.
TEST_F(EraseWithLineageTest, DryRunChangesNothing) {
  BuildGraph();
  auto target = registry_->Get("acme/customers", "1.0.0");
  const int64_t audit_before = *store_->AuditSize();
  auto outcome = EraseWithLineage(*registry_, *policy_, *target, {"check", ""}, Officer(), {},
                                  /*dry_run=*/true);
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_FALSE(outcome->erased.tombstone.has_value());
  EXPECT_FALSE(SignedErasureRecord(*registry_, outcome->erased).ok());
  ASSERT_EQ(outcome->effects.size(), 5u);
  EXPECT_EQ(outcome->effects[0].new_stage, Stage::kRevoked);
  EXPECT_EQ(StageOf("acme/customers"), Stage::kPending);
  EXPECT_EQ(StageOf("acme/fraud"), Stage::kReleased);
  EXPECT_TRUE(registry_->Get("acme/candidate", "1.0.0")->lineage_notices.empty());
  EXPECT_EQ(*store_->AuditSize(), audit_before);
  auto reader = registry_->OpenReader(*target, 0, std::nullopt);
  EXPECT_TRUE(reader.ok());
}

// A crash after the shredding (simulated: Registry::Erase alone) leaves the dependents as they
// were; erasing again completes the propagation, and a third time changes nothing more.
TEST_F(EraseWithLineageTest, SecondEraseCompletesPropagation) {
  BuildGraph();
  ASSERT_TRUE(registry_->Erase("acme/customers", "1.0.0", {"first", ""}, Officer(), {}).ok());
  EXPECT_EQ(StageOf("acme/fraud"), Stage::kReleased);

  auto target = registry_->Get("acme/customers", "1.0.0");
  auto outcome = EraseWithLineage(*registry_, *policy_, *target, {"again", ""}, Officer(), {},
                                  /*dry_run=*/false);
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(outcome->erased.tombstone->reason, "first");
  // The record is the first erasure's, not a second one.
  auto record_json = SignedErasureRecord(*registry_, outcome->erased);
  ASSERT_TRUE(record_json.ok()) << record_json.status().ToString();
  auto record = crypto::DsseEnvelope::FromJson(*record_json);
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  EXPECT_EQ(nlohmann::json::parse(record->payload).at("reason"), "first");
  EXPECT_EQ(StageOf("acme/fraud"), Stage::kRevoked);
  EXPECT_EQ(StageOf("acme/fraud-distilled"), Stage::kRevoked);

  const int64_t audit_before = *store_->AuditSize();
  auto third = EraseWithLineage(*registry_, *policy_, *registry_->Get("acme/customers", "1.0.0"),
                                {"third", ""}, Officer(), {}, /*dry_run=*/false);
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  EXPECT_EQ(*store_->AuditSize(), audit_before);
  EXPECT_EQ(third->effects.size(), 5u);
  EXPECT_EQ(registry_->Get("acme/candidate", "1.0.0")->lineage_notices.size(), 1u);
}

// Without a lineage section every dependent is revoked under lineage.default.
TEST_F(EraseWithLineageTest, DefaultRuleRevokes) {
  BuildGraph();
  auto strict = policy::Policy::Load("version: 1\nname: strict\n", "strict.yaml");
  ASSERT_TRUE(strict.ok());
  auto outcome = EraseWithLineage(*registry_, *strict, *registry_->Get("acme/customers", "1.0.0"),
                                  {"gone", ""}, Officer(), {}, /*dry_run=*/false);
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  for (const LineageEffect& e : outcome->effects) {
    EXPECT_EQ(e.action, "revoke") << e.artifact.spec.name;
    EXPECT_EQ(e.rule_id, "lineage.default");
  }
  EXPECT_EQ(StageOf("acme/research"), Stage::kRevoked);
  EXPECT_EQ(registry_->Get("acme/fraud-report", "1.0.0")->lineage_notices.size(), 1u);
}

}  // namespace
}  // namespace sov::gateway
