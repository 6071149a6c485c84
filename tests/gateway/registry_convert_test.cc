// Tests of the registry record -> sov.v1.Artifact (and Upload) conversion for retention: the
// effective deadline and the pusher's retain_until are two fields, and retain_until is set only
// when the pusher asked for one.
#include "gateway/registry_convert.h"

#include <chrono>
#include <string>

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include "common/time.h"

namespace sov::gateway {
namespace {

using google::protobuf::util::TimeUtil;

SystemTime At(std::string_view rfc3339) {
  Result<SystemTime> time = ParseRfc3339(rfc3339);
  EXPECT_TRUE(time.ok()) << rfc3339;
  return time.ok() ? *time : SystemTime{};
}

// Personal data the policy keeps 730 days, pushed without a limit of the pusher's own.
registry::ArtifactRecord PersonalDataset() {
  registry::ArtifactRecord record;
  record.id = "0123456789abcdef";
  record.spec.kind = registry::Kind::kDataset;
  record.spec.name = "acme-ml/fraud/train";
  record.spec.version = "1.0.0";
  record.spec.classification = "personal";
  record.spec.lawful_basis = "contract";
  record.spec.purposes = {"fraud-detection"};
  record.spec.owner_tenant = "acme-ml";
  record.spec.storage_location = "eu-de-1";
  record.spec.storage_jurisdiction = "DE";
  record.spec.retention_deadline = At("2028-11-29T00:00:00Z");
  record.spec.retention_action = "erase";
  record.digest = "sha256:" + std::string(64, 'a');
  record.size_bytes = 4000;
  record.stage = registry::Stage::kPending;
  record.create_time = At("2026-11-30T00:00:00Z");
  record.update_time = record.create_time;
  return record;
}

// No retain_until at push: the field stays unset (not the epoch), the deadline is the policy's.
TEST(ArtifactToProto, RetainUntilUnsetWhenThePusherGaveNone) {
  v1::Artifact out;
  ArtifactToProto(PersonalDataset(), &out);
  EXPECT_FALSE(out.has_retain_until());
  ASSERT_TRUE(out.has_retention_deadline());
  EXPECT_EQ(TimeUtil::ToString(out.retention_deadline()), "2028-11-29T00:00:00Z");
  EXPECT_EQ(out.retention_action(), v1::RETENTION_ACTION_ERASE);
}

// A retain_until later than the policy's deadline: the effective deadline stays the policy's,
// and retain_until is returned as asked, apart from it.
TEST(ArtifactToProto, RetainUntilApartFromTheEffectiveDeadline) {
  registry::ArtifactRecord record = PersonalDataset();
  record.spec.retain_until = At("2030-01-31T00:00:00Z");
  v1::Artifact out;
  ArtifactToProto(record, &out);
  ASSERT_TRUE(out.has_retain_until());
  EXPECT_EQ(TimeUtil::ToString(out.retain_until()), "2030-01-31T00:00:00Z");
  EXPECT_EQ(TimeUtil::ToString(out.retention_deadline()), "2028-11-29T00:00:00Z");
}

// An earlier retain_until is also the deadline; sub-second parts are kept to the microsecond,
// as every time in the message, so the two fields compare equal.
TEST(ArtifactToProto, EarlierRetainUntilIsAlsoTheDeadline) {
  registry::ArtifactRecord record = PersonalDataset();
  const SystemTime until = At("2027-03-01T12:30:00.123456789Z");
  record.spec.retain_until = until;
  record.spec.retention_deadline = until;
  v1::Artifact out;
  ArtifactToProto(record, &out);
  ASSERT_TRUE(out.has_retain_until());
  EXPECT_EQ(TimeUtil::ToString(out.retain_until()), "2027-03-01T12:30:00.123456Z");
  EXPECT_EQ(out.retain_until(), out.retention_deadline());

  // The same through the call GetArtifact uses, which parses the manifest too.
  v1::Artifact with_manifest;
  v1::DsseEnvelope manifest;
  ArtifactAndManifestToProto(record, &with_manifest, &manifest);
  EXPECT_EQ(TimeUtil::ToString(with_manifest.retain_until()), "2027-03-01T12:30:00.123456Z");
}

// An open upload returns the spec given to CreateUpload, retain_until included.
TEST(UploadToProto, KeepsTheSpecsRetainUntil) {
  registry::UploadRecord upload;
  upload.id = "u-1";
  upload.spec = PersonalDataset().spec;
  v1::Upload out;
  UploadToProto(upload, &out);
  EXPECT_FALSE(out.spec().has_retain_until());
  upload.spec.retain_until = At("2030-01-31T00:00:00Z");
  out.Clear();
  UploadToProto(upload, &out);
  ASSERT_TRUE(out.spec().has_retain_until());
  EXPECT_EQ(TimeUtil::ToString(out.spec().retain_until()), "2030-01-31T00:00:00Z");
}

}  // namespace
}  // namespace sov::gateway
