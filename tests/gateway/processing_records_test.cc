// Tests for the records of processing (gateway/processing_records.h) over a real registry and
// audit log: a dataset's record names the tenant that fetched it and the tenants that fetched
// models derived from it (transitively), with the third-country flag from the policy's EEA
// group; models get their own records on request; owner and erased filters; the pusher's
// earlier retain_until as the deadline; the built-in EEA list when the policy defines no group.
#include "gateway/processing_records.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/gateway/governance_testing.h"

namespace sov::gateway {
namespace {

using registry::Kind;
using ::testing::ElementsAre;
using testing::GovernanceRegistry;

std::vector<sov::v1::ProcessingRecord> Export(GovernanceRegistry& reg, const policy::Policy& policy,
                                              const TenantDirectory& tenants,
                                              ProcessingRecordsOptions options = {}) {
  std::vector<sov::v1::ProcessingRecord> out;
  Status st = BuildProcessingRecords(reg.registry(), policy, tenants, options,
                                     [&](const sov::v1::ProcessingRecord& r) {
                                       out.push_back(r);
                                       return OkStatus();
                                     });
  EXPECT_TRUE(st.ok()) << st.message();
  return out;
}

std::vector<std::string> Names(const std::vector<sov::v1::ProcessingRecord>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r.artifact().name());
  return out;
}

const sov::v1::Recipient* FindRecipient(const sov::v1::ProcessingRecord& record,
                                        const std::string& tenant) {
  for (const sov::v1::Recipient& r : record.recipients()) {
    if (r.tenant_id() == tenant) return &r;
  }
  return nullptr;
}

class ProcessingRecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dataset_ = reg_.Push(Kind::kDataset, "acme/customers", "1.0.0", "personal");
    model_ = reg_.Push(Kind::kModel, "acme/scorer", "1.0.0", "personal", {"acme/customers@1.0.0"});
    tuned_ = reg_.Push(Kind::kModel, "acme/scorer-tuned", "1.0.0", "personal", {"acme/scorer@1.0.0"});
    other_ = reg_.Push(Kind::kDataset, "beta/logs", "1.0.0", "internal");
    // fr-svc (inside the EEA group) fetched the dataset twice; us-svc fetched the model trained
    // on it; jp-svc fetched a model fine-tuned from that model.
    reg_.RecordFetch(policy_, dataset_, "fr-svc", "FR");
    reg_.RecordFetch(policy_, dataset_, "fr-svc", "FR");
    reg_.RecordFetch(policy_, model_, "us-svc", "US");
    reg_.RecordFetch(policy_, tuned_, "jp-svc", "JP");
  }

  GovernanceRegistry reg_;
  policy::Policy policy_ = testing::LoadPolicy();
  TenantDirectory tenants_;
  registry::ArtifactRecord dataset_, model_, tuned_, other_;
};

TEST_F(ProcessingRecordsTest, DatasetRecordNamesDirectAndDerivedRecipients) {
  std::vector<sov::v1::ProcessingRecord> records = Export(reg_, policy_, tenants_);
  // Datasets only by default, by name.
  ASSERT_THAT(Names(records), ElementsAre("acme/customers", "beta/logs"));
  const sov::v1::ProcessingRecord& r = records[0];
  EXPECT_EQ(r.artifact().digest(), dataset_.digest);
  EXPECT_EQ(r.kind(), sov::v1::ARTIFACT_KIND_DATASET);
  EXPECT_EQ(r.owner_tenant(), "acme");
  EXPECT_THAT(std::vector<std::string>(r.purposes().begin(), r.purposes().end()),
              ElementsAre("fraud-detection"));
  EXPECT_EQ(r.lawful_basis(), sov::v1::LAWFUL_BASIS_CONTRACT);
  EXPECT_EQ(r.classification(), sov::v1::CLASSIFICATION_PERSONAL);
  EXPECT_EQ(r.storage_location().id(), "eu-de-1");
  EXPECT_EQ(r.storage_location().jurisdiction(), "DE");
  EXPECT_EQ(r.stage(), sov::v1::STAGE_PENDING);
  EXPECT_EQ(r.retention_action(), sov::v1::RETENTION_ACTION_ERASE);
  EXPECT_TRUE(r.has_retention_deadline());
  EXPECT_TRUE(r.has_create_time());
  EXPECT_FALSE(r.has_erase_time());
  ASSERT_EQ(r.derived_models_size(), 2);
  EXPECT_EQ(r.derived_models(0).name(), "acme/scorer");
  EXPECT_EQ(r.derived_models(1).name(), "acme/scorer-tuned");

  ASSERT_EQ(r.recipients_size(), 3);
  const sov::v1::Recipient* fr = FindRecipient(r, "fr-svc");
  ASSERT_NE(fr, nullptr);
  EXPECT_EQ(fr->kind(), sov::v1::RECIPIENT_KIND_FETCHED);
  EXPECT_EQ(fr->jurisdiction(), "FR");
  EXPECT_EQ(fr->fetch_count(), 2);
  EXPECT_LE(fr->first_fetch_time().seconds(), fr->last_fetch_time().seconds());
  EXPECT_FALSE(fr->third_country_transfer());
  EXPECT_TRUE(fr->transfer_rule_id().empty());

  const sov::v1::Recipient* us = FindRecipient(r, "us-svc");
  ASSERT_NE(us, nullptr);
  EXPECT_EQ(us->kind(), sov::v1::RECIPIENT_KIND_VIA_DERIVED_MODEL);
  EXPECT_EQ(us->via().name(), "acme/scorer");
  EXPECT_EQ(us->via().digest(), model_.digest);
  EXPECT_EQ(us->fetch_count(), 1);
  EXPECT_TRUE(us->third_country_transfer());
  EXPECT_EQ(us->transfer_rule_id(), "everyone-fetches");

  const sov::v1::Recipient* jp = FindRecipient(r, "jp-svc");
  ASSERT_NE(jp, nullptr);
  EXPECT_EQ(jp->kind(), sov::v1::RECIPIENT_KIND_VIA_DERIVED_MODEL);
  EXPECT_EQ(jp->via().name(), "acme/scorer-tuned");
  EXPECT_TRUE(jp->third_country_transfer());

  // The other dataset was never fetched.
  EXPECT_EQ(records[1].recipients_size(), 0);
  EXPECT_EQ(records[1].derived_models_size(), 0);
}

TEST_F(ProcessingRecordsTest, ModelsHaveTheirOwnRecordsOnRequest) {
  ProcessingRecordsOptions options;
  options.include_models = true;
  std::vector<sov::v1::ProcessingRecord> records = Export(reg_, policy_, tenants_, options);
  ASSERT_THAT(Names(records),
              ElementsAre("acme/customers", "acme/scorer", "acme/scorer-tuned", "beta/logs"));
  const sov::v1::ProcessingRecord& model = records[1];
  EXPECT_EQ(model.kind(), sov::v1::ARTIFACT_KIND_MODEL);
  ASSERT_EQ(model.recipients_size(), 2);
  EXPECT_EQ(FindRecipient(model, "us-svc")->kind(), sov::v1::RECIPIENT_KIND_FETCHED);
  EXPECT_EQ(FindRecipient(model, "jp-svc")->kind(), sov::v1::RECIPIENT_KIND_VIA_DERIVED_MODEL);
  EXPECT_EQ(FindRecipient(model, "fr-svc"), nullptr);  // fetched the dataset, not the model
  ASSERT_EQ(model.derived_models_size(), 1);
  EXPECT_EQ(model.derived_models(0).name(), "acme/scorer-tuned");
}

TEST_F(ProcessingRecordsTest, OwnerAndErasedFilters) {
  ProcessingRecordsOptions beta;
  beta.owner_tenant = "beta";
  EXPECT_THAT(Names(Export(reg_, policy_, tenants_, beta)), ElementsAre("beta/logs"));

  registry::Registry::EraseRequest request;
  request.reason = "Art. 17 request";
  registry::Actor actor;
  actor.tenant_id = "compliance";
  ASSERT_TRUE(reg_.registry().Erase("beta/logs", "1.0.0", request, actor, {}).ok());
  EXPECT_TRUE(Export(reg_, policy_, tenants_, beta).empty());
  beta.include_erased = true;
  std::vector<sov::v1::ProcessingRecord> erased = Export(reg_, policy_, tenants_, beta);
  ASSERT_THAT(Names(erased), ElementsAre("beta/logs"));
  EXPECT_EQ(erased[0].stage(), sov::v1::STAGE_ERASED);
  EXPECT_TRUE(erased[0].has_erase_time());
}

TEST_F(ProcessingRecordsTest, RecordShowsThePushersEarlierRetainUntil) {
  // Public data, which the policy keeps without limit, with a retain_until: the record's
  // deadline is retain_until and its action erase; without one it has no deadline.
  const SystemTime until = std::chrono::system_clock::now() + std::chrono::hours(48);
  reg_.Push(Kind::kDataset, "beta/open", "1.0.0", "public", {}, until);
  reg_.Push(Kind::kDataset, "beta/open-kept", "1.0.0", "public");
  ProcessingRecordsOptions beta;
  beta.owner_tenant = "beta";
  std::vector<sov::v1::ProcessingRecord> records = Export(reg_, policy_, tenants_, beta);
  ASSERT_THAT(Names(records), ElementsAre("beta/logs", "beta/open", "beta/open-kept"));
  EXPECT_EQ(records[1].retention_action(), sov::v1::RETENTION_ACTION_ERASE);
  ASSERT_TRUE(records[1].has_retention_deadline());
  EXPECT_EQ(records[1].retention_deadline().seconds(),
            std::chrono::duration_cast<std::chrono::seconds>(until.time_since_epoch()).count());
  EXPECT_EQ(records[2].retention_action(), sov::v1::RETENTION_ACTION_NONE);
  EXPECT_FALSE(records[2].has_retention_deadline());
}

TEST_F(ProcessingRecordsTest, EmitErrorStopsTheExport) {
  int calls = 0;
  Status st = BuildProcessingRecords(reg_.registry(), policy_, tenants_, {},
                                     [&](const sov::v1::ProcessingRecord&) {
                                       ++calls;
                                       return Cancelled("client went away");
                                     });
  EXPECT_EQ(st.code(), StatusCode::kCancelled);
  EXPECT_EQ(calls, 1);
}

TEST(ThirdCountryTest, PolicyGroupOrTheBuiltInEea) {
  policy::Policy with_group = testing::LoadPolicy();  // EEA: [DE, FR]
  EXPECT_FALSE(IsThirdCountry(with_group, "FR"));
  EXPECT_TRUE(IsThirdCountry(with_group, "NO"));  // the policy's group decides
  EXPECT_TRUE(IsThirdCountry(with_group, ""));

  policy::Policy without = testing::LoadPolicy("version: 1\nname: bare\n");
  EXPECT_FALSE(IsThirdCountry(without, "NO"));  // the 30 EEA states
  EXPECT_FALSE(IsThirdCountry(without, "DE"));
  EXPECT_TRUE(IsThirdCountry(without, "US"));
  EXPECT_TRUE(IsThirdCountry(without, "CH"));
}

}  // namespace
}  // namespace sov::gateway
