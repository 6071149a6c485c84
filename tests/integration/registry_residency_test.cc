// Shows that a real sovd applies the dev policy's residency section: personal data is stored only
// in EU locations, special-category data only in Germany, and a model trained on personal data
// (so itself personal) is not served to a tenant outside the EEA, while an EU tenant fetches it.
#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/integration/registry_client.h"

namespace sov {
namespace {

using ::testing::HasSubstr;
using sov::testing::Describe;
using sov::testing::MakeSpec;

const std::set<std::string> kEu = {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI",
                                   "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
                                   "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"};

class RegistryResidencyTest : public ::testing::Test {
 protected:
  void Start() {
    std::string error;
    ASSERT_TRUE(gateway_.Start(&error)) << error;
    acme_ = gateway_.Client("acme-ml");
    partner_ = gateway_.Client("partner-us");
  }

  void TearDown() override {
    acme_.reset();
    partner_.reset();
    if (gateway_.sovd() != nullptr) {
      EXPECT_TRUE(gateway_.Stop()) << gateway_.sovd()->Stderr();
    }
  }

  // CreateUpload of `spec` at `location` (empty: the gateway chooses).
  grpc::Status Create(v1::ArtifactSpec spec, const std::string& location, v1::Upload* upload) {
    spec.set_storage_location(location);
    return acme_->CreateUpload(spec, 1024, upload);
  }

  sov::testing::DevGateway gateway_;
  std::unique_ptr<sov::testing::RegistryClient> acme_;
  std::unique_ptr<sov::testing::RegistryClient> partner_;
};

TEST_F(RegistryResidencyTest, PersonalDataIsPlacedOnlyInTheEu) {
  // Personal data for fraud detection (legitimate interests): the chosen location is in the EU;
  // us-east-1 is refused naming residency.personal.store_in; eu-fr-1 may be asked for.
  Start();
  const v1::ArtifactSpec spec = MakeSpec(v1::ARTIFACT_KIND_DATASET, "acme-ml/fraud/customers",
                                         "1.0.0", v1::CLASSIFICATION_PERSONAL);
  v1::Upload upload;
  grpc::Status status = Create(spec, "", &upload);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(kEu.count(upload.storage_location().jurisdiction()), 1u)
      << upload.storage_location().ShortDebugString();

  const std::string bytes = sov::testing::RandomBytes(1024, 7);
  v1::PushResponse pushed;
  sov::testing::PushOptions options;
  status = acme_->PushBytes(upload.upload_id(), 0, bytes, options, &pushed);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(pushed.artifact().storage_location().id(), upload.storage_location().id());
  EXPECT_EQ(kEu.count(pushed.artifact().storage_location().jurisdiction()), 1u);
  EXPECT_EQ(pushed.artifact().classification(), v1::CLASSIFICATION_PERSONAL);

  v1::ArtifactSpec next = spec;
  next.set_version("1.1.0");
  status = Create(next, "us-east-1", &upload);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Describe(status);
  EXPECT_THAT(status.error_message(), HasSubstr("residency.personal.store_in"));

  status = Create(next, "eu-fr-1", &upload);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(upload.storage_location().id(), "eu-fr-1");
  EXPECT_EQ(upload.storage_location().jurisdiction(), "FR");
  EXPECT_TRUE(acme_->CancelUpload(upload.upload_id()).ok());
}

TEST_F(RegistryResidencyTest, SpecialCategoryDataStaysInGermany) {
  // Special-category data (Art. 9(2) condition set) goes to eu-de-1 only; eu-fr-1 and us-east-1
  // are refused naming residency.special-category.store_in.
  Start();
  const v1::ArtifactSpec spec = MakeSpec(v1::ARTIFACT_KIND_DATASET, "acme-ml/health/records",
                                         "1.0.0", v1::CLASSIFICATION_SPECIAL_CATEGORY);
  ASSERT_NE(spec.special_category_condition(), v1::SPECIAL_CATEGORY_CONDITION_UNSPECIFIED);
  v1::Upload upload;
  grpc::Status status = Create(spec, "", &upload);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(upload.storage_location().id(), "eu-de-1");
  EXPECT_EQ(upload.storage_location().jurisdiction(), "DE");

  for (const char* location : {"eu-fr-1", "us-east-1"}) {
    v1::ArtifactSpec other = spec;
    other.set_version("2.0.0");
    status = Create(other, location, &upload);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << location << ": " << Describe(status);
    EXPECT_THAT(status.error_message(), HasSubstr("residency.special-category.store_in"))
        << location;
  }
}

TEST_F(RegistryResidencyTest, ModelTrainedOnPersonalDataIsNotServedOutsideTheEea) {
  // With the release gates removed from the policy: a model declared internal but trained on a
  // personal dataset is personal; released, acme-ml (DE) fetches it, partner-us (US, then IN)
  // is refused naming residency.personal.transfer_to. A model trained on internal data only is
  // served to partner-us in the US (an adequate country) but not in India.
  gateway_.RemoveReleaseGates();
  Start();
  const std::string personal_bytes = sov::testing::RandomBytes(4096, 11);
  grpc::Status status =
      acme_->Push(MakeSpec(v1::ARTIFACT_KIND_DATASET, "acme-ml/fraud/transactions", "1.0.0",
                           v1::CLASSIFICATION_PERSONAL),
                  personal_bytes);
  ASSERT_TRUE(status.ok()) << Describe(status);
  status = acme_->Push(MakeSpec(v1::ARTIFACT_KIND_DATASET, "acme-ml/fraud/merchants", "1.0.0",
                                v1::CLASSIFICATION_INTERNAL),
                       sov::testing::RandomBytes(4096, 12));
  ASSERT_TRUE(status.ok()) << Describe(status);

  v1::ArtifactSpec personal_model = MakeSpec(v1::ARTIFACT_KIND_MODEL, "acme-ml/fraud/model",
                                             "1.0.0", v1::CLASSIFICATION_INTERNAL);
  // Its effective classification will be personal, which needs the purpose's lawful basis.
  personal_model.set_lawful_basis(v1::LAWFUL_BASIS_LEGITIMATE_INTERESTS);
  sov::testing::AddLineage(personal_model, "acme-ml/fraud/transactions", "1.0.0");
  const std::string model_bytes = sov::testing::RandomBytes(8192, 13);
  v1::PushResponse pushed;
  status = acme_->Push(personal_model, model_bytes, &pushed);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(pushed.artifact().declared_classification(), v1::CLASSIFICATION_INTERNAL);
  EXPECT_EQ(pushed.artifact().classification(), v1::CLASSIFICATION_PERSONAL);
  EXPECT_EQ(kEu.count(pushed.artifact().storage_location().jurisdiction()), 1u);

  v1::ArtifactSpec internal_model = MakeSpec(
      v1::ARTIFACT_KIND_MODEL, "acme-ml/fraud/scorer", "1.0.0", v1::CLASSIFICATION_INTERNAL);
  sov::testing::AddLineage(internal_model, "acme-ml/fraud/merchants", "1.0.0");
  const std::string scorer_bytes = sov::testing::RandomBytes(8192, 14);
  status = acme_->Push(internal_model, scorer_bytes);
  ASSERT_TRUE(status.ok()) << Describe(status);

  for (const char* name : {"acme-ml/fraud/model", "acme-ml/fraud/scorer"}) {
    v1::ReleaseResponse released;
    status = acme_->Release(name, "1.0.0", &released, "residency test");
    ASSERT_TRUE(status.ok()) << name << ": " << Describe(status);
    ASSERT_EQ(released.artifact().stage(), v1::STAGE_RELEASED) << released.ShortDebugString();
  }

  auto expect_refused = [&](const std::string& rule) {
    sov::testing::FetchResult fetched = partner_->Fetch("acme-ml/fraud/model", "1.0.0");
    EXPECT_EQ(fetched.status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << Describe(fetched.status);
    EXPECT_THAT(fetched.status.error_message(), HasSubstr(rule));
    EXPECT_EQ(fetched.bytes, "");
    EXPECT_EQ(fetched.chunks, 0);
  };

  // partner-us is in the US: outside the EEA that personal data may be transferred to.
  expect_refused("residency.personal.transfer_to");
  sov::testing::FetchResult own = acme_->Fetch("acme-ml/fraud/model", "1.0.0");
  ASSERT_TRUE(own.status.ok()) << Describe(own.status);
  EXPECT_EQ(own.bytes, model_bytes);
  sov::testing::FetchResult scorer = partner_->Fetch("acme-ml/fraud/scorer", "");
  ASSERT_TRUE(scorer.status.ok()) << Describe(scorer.status);
  EXPECT_EQ(scorer.bytes, scorer_bytes);

  // partner-us moves to India, a country without an adequacy decision.
  acme_.reset();
  partner_.reset();
  ASSERT_TRUE(gateway_.Stop()) << gateway_.sovd()->Stderr();
  gateway_.SetTenantJurisdiction("partner-us", "IN");
  Start();
  expect_refused("residency.personal.transfer_to");
  scorer = partner_->Fetch("acme-ml/fraud/scorer", "1.0.0");
  EXPECT_EQ(scorer.status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << Describe(scorer.status);
  EXPECT_THAT(scorer.status.error_message(), HasSubstr("residency.internal.transfer_to"));
  EXPECT_EQ(scorer.bytes, "");
  own = acme_->Fetch("acme-ml/fraud/model", "1.0.0");
  ASSERT_TRUE(own.status.ok()) << Describe(own.status);
  EXPECT_EQ(own.bytes, model_bytes);
}

}  // namespace
}  // namespace sov
