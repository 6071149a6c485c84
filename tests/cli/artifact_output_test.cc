// Shows how registry records and audit entries print as text: the ls row, the show lines and the one-line audit entry.
#include "cli/artifact_output.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sov::cli {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Key;
using ::testing::Not;
using ::testing::Pair;

v1::Artifact Model() {
  v1::Artifact a;
  a.set_name("acme-ml/fraud/classifier");
  a.set_version("1.4.0");
  a.set_kind(v1::ARTIFACT_KIND_MODEL);
  a.set_digest("sha256:5c468ae313e607b9e4ad5c6ee8d650bc10a91d7696f1f16e69e9e2dd8013f8a2");
  a.set_size_bytes(3 * 1024 * 1024);
  a.set_stage(v1::STAGE_RELEASED);
  a.set_classification(v1::CLASSIFICATION_PERSONAL);
  a.set_declared_classification(v1::CLASSIFICATION_INTERNAL);
  a.mutable_storage_location()->set_id("eu-de-1");
  a.mutable_storage_location()->set_jurisdiction("DE");
  a.mutable_create_time()->set_seconds(1795963528);  // 2026-11-29T14:45:28Z
  v1::LineageRef* edge = a.add_lineage();
  edge->set_relation(v1::LINEAGE_RELATION_TRAINED_ON);
  edge->mutable_artifact()->set_name("acme-ml/fraud/train");
  edge->mutable_artifact()->set_version("1.0.0");
  edge->set_kind(v1::ARTIFACT_KIND_DATASET);
  (*a.mutable_labels())["team"] = "fraud";
  return a;
}

// An ls row: name, version, kind, stage, size, short digest, location id, creation time.
TEST(ArtifactTableRow, Columns) {
  EXPECT_THAT(ArtifactTableRow(Model()),
              ElementsAre("acme-ml/fraud/classifier", "1.4.0", "model", "released", "3.0 MiB",
                          "sha256:5c468ae313e6", "eu-de-1", "2026-11-29T14:45:28Z"));
  EXPECT_EQ(ArtifactTableHeader().size(), ArtifactTableRow(Model()).size());
}

// show's lines carry the effective and declared classification, lineage and labels.
TEST(ArtifactDetails, Lines) {
  KeyValues lines = ArtifactDetails(Model(), nullptr);
  EXPECT_THAT(lines, Contains(Pair("artifact", "acme-ml/fraud/classifier@1.4.0")));
  EXPECT_THAT(lines, Contains(Pair("location", "eu-de-1 (DE)")));
  EXPECT_THAT(lines, Contains(Pair("classification", "personal (declared internal)")));
  EXPECT_THAT(lines, Contains(Pair("lineage", "trained-on acme-ml/fraud/train@1.0.0 (dataset)")));
  EXPECT_THAT(lines, Contains(Pair("label", "team=fraud")));
  EXPECT_THAT(lines, Contains(Pair("size", "3.0 MiB (3145728 bytes)")));
}

// The pusher's retain_until prints on a line of its own, apart from the effective deadline (here
// the policy's, which comes first); without one there is no such line.
TEST(ArtifactDetails, RetainUntilApartFromTheDeadline) {
  v1::Artifact a = Model();
  a.mutable_retention_deadline()->set_seconds(1861920000);  // 2029-01-01T00:00:00Z
  a.set_retention_action(v1::RETENTION_ACTION_REVOKE);
  EXPECT_THAT(ArtifactDetails(a, nullptr), Not(Contains(Key("retain_until"))));

  a.mutable_retain_until()->set_seconds(1880236800);  // 2029-08-01T00:00:00Z
  KeyValues lines = ArtifactDetails(a, nullptr);
  EXPECT_THAT(lines, Contains(Pair("retention", "2029-01-01T00:00:00Z (revoke)")));
  EXPECT_THAT(lines, Contains(Pair("retain_until", "2029-08-01T00:00:00Z (set at push)")));
  // Right after the retention line, so that the two read together.
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].first == "retention") {
      ASSERT_LT(i + 1, lines.size());
      EXPECT_EQ(lines[i + 1].first, "retain_until");
    }
  }
}

// A decision entry prints its effect and rule; another event prints its type.
TEST(AuditEntryLine, DecisionsAndEvents) {
  v1::AuditEntry entry;
  entry.set_index(17);
  entry.mutable_append_time()->set_seconds(1795963528);
  entry.set_type(v1::AUDIT_EVENT_TYPE_DECISION);
  entry.mutable_principal()->set_tenant_id("shop");
  entry.set_action("artifact.fetch");
  entry.mutable_artifact()->set_name("acme-ml/fraud/classifier");
  entry.mutable_artifact()->set_version("1.4.0");
  entry.mutable_decision()->set_effect(v1::EFFECT_DENY);
  entry.mutable_decision()->set_rule_id("residency.personal.transfer_to");
  EXPECT_EQ(AuditEntryLine(entry),
            "17  2026-11-29T14:45:28Z  shop  artifact.fetch  deny  residency.personal.transfer_to  "
            "acme-ml/fraud/classifier@1.4.0");

  entry.mutable_decision()->set_rule_id("");
  entry.mutable_decision()->set_default_deny(true);
  EXPECT_THAT(AuditTableRow(entry)[5], "default-deny");

  v1::AuditEntry change;
  change.set_index(18);
  change.set_type(v1::AUDIT_EVENT_TYPE_STAGE_CHANGE);
  change.set_system_actor("validation");
  change.set_action("artifact.validate");
  EXPECT_THAT(AuditTableRow(change),
              ElementsAre("18", "-", "(validation)", "artifact.validate", "stage-change", "-", "-"));
}

}  // namespace
}  // namespace sov::cli
