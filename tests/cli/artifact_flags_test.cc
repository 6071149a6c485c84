// Shows how sovctl's enum words map to the API's enums and how push's flags become an ArtifactSpec, with refusals that name the flag.
#include "cli/artifact_flags.h"

#include <chrono>
#include <cstdint>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/proto_interop.h"

namespace sov::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Flag names are the proto names without the enum's prefix, lower-case, '-' for '_'.
TEST(EnumFlags, NamesAndValues) {
  EXPECT_THAT(EnumFlagNames<v1::ArtifactKind>(), ElementsAre("dataset", "model", "report"));
  EXPECT_THAT(EnumFlagNames<v1::Classification>(),
              ElementsAre("public", "internal", "personal", "special-category", "pseudonymised",
                          "anonymised"));
  EXPECT_THAT(EnumFlagNames<v1::LawfulBasis>(),
              ElementsAre("consent", "contract", "legal-obligation", "vital-interests",
                          "public-task", "legitimate-interests", "not-applicable"));
  EXPECT_THAT(EnumFlagNames<v1::Stage>(),
              ElementsAre("pending", "validating", "released", "rejected", "revoked", "erased"));
  EXPECT_EQ(EnumFlagName(v1::LINEAGE_RELATION_TRAINED_ON), "trained-on");
  EXPECT_EQ(EnumFlagName(v1::CLASSIFICATION_SPECIAL_CATEGORY), "special-category");
  EXPECT_EQ(EnumFlagName(v1::STAGE_UNSPECIFIED), "unspecified");
  EXPECT_EQ(EnumFlagName(static_cast<v1::Stage>(99)), "unknown(99)");
}

// Parsing maps every word back to its value, and refuses others listing the choices.
TEST(EnumFlags, ParseRoundTripAndRefusal) {
  EXPECT_EQ(*ParseEnumFlag<v1::Classification>("--classification", "pseudonymised"),
            v1::CLASSIFICATION_PSEUDONYMISED);
  EXPECT_EQ(*ParseEnumFlag<v1::LawfulBasis>("--lawful-basis", "legitimate-interests"),
            v1::LAWFUL_BASIS_LEGITIMATE_INTERESTS);
  EXPECT_EQ(*ParseEnumFlag<v1::ArtifactKind>("--kind", "model"), v1::ARTIFACT_KIND_MODEL);
  EXPECT_EQ(*ParseEnumFlag<v1::Effect>("--effect", "deny"), v1::EFFECT_DENY);
  for (const std::string& name : EnumFlagNames<v1::Stage>()) {
    EXPECT_EQ(EnumFlagName(*ParseEnumFlag<v1::Stage>("--stage", name)), name);
  }
  Result<v1::Classification> bad = ParseEnumFlag<v1::Classification>("--classification", "personel");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "--classification 'personel' is not one of public, internal, personal, "
            "special-category, pseudonymised, anonymised");
  EXPECT_FALSE(ParseEnumFlag<v1::Stage>("--stage", "unspecified").ok());
}

PushFlags ModelFlags() {
  PushFlags flags;
  flags.kind = "model";
  flags.name = "acme-ml/fraud/classifier";
  flags.version = "1.4.0";
  flags.trained_on = {"acme-ml/fraud/train@1.0.0"};
  flags.validated_on = {"acme-ml/fraud/holdout@1.0.0"};
  flags.derived_from = {};
  flags.classification = "personal";
  flags.purposes = {"fraud-detection"};
  flags.lawful_basis = "contract";
  flags.labels = {"team=fraud", "sov.dev/run=42"};
  flags.media_type = "application/vnd.sov.safetensors";
  flags.description = "gradient boosted";
  flags.location = "eu-de-1";
  return flags;
}

// Every flag lands in its field; lineage keeps its relation and version.
TEST(BuildArtifactSpec, ModelWithLineage) {
  Result<v1::ArtifactSpec> spec = BuildArtifactSpec(ModelFlags());
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->kind(), v1::ARTIFACT_KIND_MODEL);
  EXPECT_EQ(spec->name(), "acme-ml/fraud/classifier");
  EXPECT_EQ(spec->version(), "1.4.0");
  EXPECT_EQ(spec->classification(), v1::CLASSIFICATION_PERSONAL);
  EXPECT_EQ(spec->lawful_basis(), v1::LAWFUL_BASIS_CONTRACT);
  EXPECT_THAT(spec->purposes(), ElementsAre("fraud-detection"));
  ASSERT_EQ(spec->lineage_size(), 2);
  EXPECT_EQ(spec->lineage(0).relation(), v1::LINEAGE_RELATION_TRAINED_ON);
  EXPECT_EQ(spec->lineage(0).artifact().name(), "acme-ml/fraud/train");
  EXPECT_EQ(spec->lineage(0).artifact().version(), "1.0.0");
  EXPECT_EQ(spec->lineage(1).relation(), v1::LINEAGE_RELATION_VALIDATED_ON);
  EXPECT_EQ(spec->labels().at("team"), "fraud");
  EXPECT_EQ(spec->labels().at("sov.dev/run"), "42");
  EXPECT_EQ(spec->media_type(), "application/vnd.sov.safetensors");
  EXPECT_EQ(spec->description(), "gradient boosted");
  EXPECT_EQ(spec->storage_location(), "eu-de-1");
}

// Unset optional flags leave their fields at the API's defaults.
TEST(BuildArtifactSpec, MinimalDataset) {
  PushFlags flags;
  flags.kind = "dataset";
  flags.name = "acme-ml/fraud/train";
  flags.version = "1.0.0";
  flags.derived_from = {"acme-ml/raw/events@3.1.0"};
  Result<v1::ArtifactSpec> spec = BuildArtifactSpec(flags);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->kind(), v1::ARTIFACT_KIND_DATASET);
  EXPECT_EQ(spec->classification(), v1::CLASSIFICATION_UNSPECIFIED);
  EXPECT_EQ(spec->lawful_basis(), v1::LAWFUL_BASIS_UNSPECIFIED);
  ASSERT_EQ(spec->lineage_size(), 1);
  EXPECT_EQ(spec->lineage(0).relation(), v1::LINEAGE_RELATION_DERIVED_FROM);
  EXPECT_TRUE(spec->storage_location().empty());
  EXPECT_FALSE(spec->has_retain_until());
}

// --retain-until takes a date (midnight UTC), an RFC 3339 time or a duration from now.
TEST(BuildArtifactSpec, RetainUntil) {
  PushFlags flags = ModelFlags();
  flags.retain_until = "2027-06-30";
  Result<v1::ArtifactSpec> spec = BuildArtifactSpec(flags);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ASSERT_TRUE(spec->has_retain_until());
  EXPECT_EQ(spec->retain_until().seconds(), 1814313600);  // 2027-06-30T00:00:00Z
  EXPECT_EQ(TimestampText(spec->retain_until()), "2027-06-30T00:00:00Z");

  flags.retain_until = "2027-06-30T12:00:00+02:00";
  spec = BuildArtifactSpec(flags);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(TimestampText(spec->retain_until()), "2027-06-30T10:00:00Z");

  flags.retain_until = "90d";
  // The clock the flag reads: protobuf's GetCurrentTime comes from absl's own clock, which can
  // stand a few microseconds off system_clock and so straddle a second differently.
  const auto seconds_now = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const int64_t before = seconds_now();
  spec = BuildArtifactSpec(flags);
  const int64_t after = seconds_now();
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_GE(spec->retain_until().seconds(), before + 90 * 86400);
  EXPECT_LE(spec->retain_until().seconds(), after + 90 * 86400);

  EXPECT_FALSE(BuildArtifactSpec(ModelFlags())->has_retain_until());
}

// A --retain-until that is neither a time nor a duration is refused naming the flag and both forms.
TEST(BuildArtifactSpec, RetainUntilRefused) {
  for (const char* text : {"soon", "2027-13-01", "90", "90y", "-5d", "9999999d"}) {
    PushFlags flags = ModelFlags();
    flags.retain_until = text;
    Result<v1::ArtifactSpec> spec = BuildArtifactSpec(flags);
    ASSERT_FALSE(spec.ok()) << text;
    EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(spec.status().message(),
                HasSubstr("--retain-until: '" + std::string(text) + "'"));
  }
}

// Each malformed flag is refused with the flag's name in front.
TEST(BuildArtifactSpec, RefusalsNameTheFlag) {
  auto message = [](auto mutate) {
    PushFlags flags = ModelFlags();
    mutate(flags);
    Result<v1::ArtifactSpec> spec = BuildArtifactSpec(flags);
    EXPECT_FALSE(spec.ok());
    return spec.ok() ? std::string() : spec.status().message();
  };
  EXPECT_THAT(message([](PushFlags& f) { f.kind = "report"; }),
              HasSubstr("--kind 'report' is not one of dataset, model"));
  EXPECT_THAT(message([](PushFlags& f) { f.name = "classifier"; }), HasSubstr("--name: "));
  EXPECT_THAT(message([](PushFlags& f) { f.version = "v1.4.0"; }),
              HasSubstr("--version: version 'v1.4.0'"));
  EXPECT_THAT(message([](PushFlags& f) { f.trained_on = {"acme-ml/fraud/train"}; }),
              HasSubstr("--trained-on: 'acme-ml/fraud/train' needs a version"));
  EXPECT_THAT(message([](PushFlags& f) { f.validated_on = {"acme-ml/fraud/classifier@1.4.0"}; }),
              HasSubstr("names the artifact being pushed"));
  EXPECT_THAT(message([](PushFlags& f) { f.classification = "secret"; }),
              HasSubstr("--classification 'secret'"));
  EXPECT_THAT(message([](PushFlags& f) { f.lawful_basis = "consent-given"; }),
              HasSubstr("--lawful-basis 'consent-given'"));
  EXPECT_THAT(message([](PushFlags& f) { f.labels = {"team"}; }), HasSubstr("--label: "));
  EXPECT_THAT(message([](PushFlags& f) { f.purposes = {"a", "a"}; }),
              HasSubstr("--purpose 'a' is given twice"));
}

// With the caller's tenant known, a name without one gets the full name as its hint.
TEST(BuildArtifactSpec, TenantHint) {
  PushFlags flags = ModelFlags();
  flags.name = "classifier";
  Result<v1::ArtifactSpec> spec = BuildArtifactSpec(flags, std::string("acme-ml"));
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(spec.status().message(), HasSubstr("did you mean 'acme-ml/classifier'?"));
}

}  // namespace
}  // namespace sov::cli
