// Shows how sovctl reads NAME[@VERSION] and KEY=VALUE, and that each refusal says what to type instead.
#include "cli/artifact_ref.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sov::cli {
namespace {

using ::testing::HasSubstr;

// NAME and NAME@VERSION split at the '@'; a version is optional unless required.
TEST(ParseArtifactRef, NameAndVersion) {
  Result<ArtifactRefText> bare = ParseArtifactRef("acme-ml/fraud/classifier", VersionRule::kOptional);
  ASSERT_TRUE(bare.ok()) << bare.status().ToString();
  EXPECT_EQ(bare->name, "acme-ml/fraud/classifier");
  EXPECT_EQ(bare->version, "");
  EXPECT_EQ(bare->ToString(), "acme-ml/fraud/classifier");

  Result<ArtifactRefText> pinned =
      ParseArtifactRef("acme-ml/fraud/classifier@2.0.0-rc.1", VersionRule::kRequired);
  ASSERT_TRUE(pinned.ok()) << pinned.status().ToString();
  EXPECT_EQ(pinned->name, "acme-ml/fraud/classifier");
  EXPECT_EQ(pinned->version, "2.0.0-rc.1");
  EXPECT_EQ(pinned->ToString(), "acme-ml/fraud/classifier@2.0.0-rc.1");

  EXPECT_TRUE(ParseArtifactRef("a/b.c_d-e/f9", VersionRule::kOptional).ok());
}

// A required version that is missing is refused with an example and where to find versions.
TEST(ParseArtifactRef, RequiredVersionMissing) {
  Result<ArtifactRefText> ref = ParseArtifactRef("acme-ml/fraud", VersionRule::kRequired);
  ASSERT_FALSE(ref.ok());
  EXPECT_EQ(ref.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(ref.status().message(), HasSubstr("needs a version"));
  EXPECT_THAT(ref.status().message(), HasSubstr("acme-ml/fraud@1.0.0"));
  EXPECT_THAT(ref.status().message(), HasSubstr("sovctl ls acme-ml/fraud"));
}

// An empty version after '@' and a second '@' are refused.
TEST(ParseArtifactRef, MalformedAt) {
  EXPECT_THAT(ParseArtifactRef("acme-ml/fraud@", VersionRule::kOptional).status().message(),
              HasSubstr("no version after '@'"));
  EXPECT_THAT(ParseArtifactRef("acme-ml/fraud@1.0.0@2.0.0", VersionRule::kOptional).status().message(),
              HasSubstr("more than one '@'"));
}

// A name without a tenant is refused; with the caller's tenant known, the hint is the full name.
TEST(CheckArtifactName, MissingTenantSuggestsFullName) {
  Status generic = CheckArtifactName("classifier");
  EXPECT_EQ(generic.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(generic.message(), HasSubstr("has no tenant"));
  EXPECT_THAT(generic.message(), HasSubstr("<tenant>/<path>"));
  EXPECT_THAT(generic.message(), HasSubstr("sovctl whoami"));

  Status hinted = CheckArtifactName("Classifier", std::string("acme-ml"));
  EXPECT_THAT(hinted.message(), HasSubstr("did you mean 'acme-ml/classifier'?"));
}

// Each grammar rule is refused with a reason, and a near miss with the name it probably meant.
TEST(CheckArtifactName, GrammarWithDidYouMean) {
  EXPECT_THAT(CheckArtifactName("Acme-ML/Fraud").message(),
              HasSubstr("upper-case letters (names are lower-case); did you mean 'acme-ml/fraud'?"));
  EXPECT_THAT(CheckArtifactName("acme-ml/fraud model").message(),
              HasSubstr("did you mean 'acme-ml/fraud-model'?"));
  EXPECT_THAT(CheckArtifactName("acme-ml//fraud").message(), HasSubstr("empty segment"));
  EXPECT_THAT(CheckArtifactName("acme-ml/fraud/").message(), HasSubstr("empty segment"));
  EXPECT_THAT(CheckArtifactName("acme-ml/-fraud").message(), HasSubstr("starts or ends with '-'"));
  EXPECT_THAT(CheckArtifactName("acme-ml/fr..aud").message(), HasSubstr("two separators in a row"));
  EXPECT_THAT(CheckArtifactName("acme-ml/" + std::string(250, 'a')).message(),
              HasSubstr("at most 255"));
  EXPECT_THAT(CheckArtifactName("").message(), HasSubstr("empty"));
  EXPECT_TRUE(CheckArtifactName("acme-ml/" + std::string(247, 'a')).ok());
}

// Versions are bare SemVer 2.0.0 without build metadata; near misses get a suggestion.
TEST(CheckArtifactVersion, SemVerWithDidYouMean) {
  for (const char* good : {"0.0.0", "1.4.0", "10.20.30", "2.0.0-rc.1", "1.0.0-alpha-beta.7"}) {
    EXPECT_TRUE(CheckArtifactVersion(good).ok()) << good;
  }
  EXPECT_THAT(CheckArtifactVersion("v1.2.0").message(),
              HasSubstr("leading 'v' (versions are bare SemVer); did you mean '1.2.0'?"));
  EXPECT_THAT(CheckArtifactVersion("1.2").message(), HasSubstr("did you mean '1.2.0'?"));
  EXPECT_THAT(CheckArtifactVersion("3").message(), HasSubstr("did you mean '3.0.0'?"));
  EXPECT_THAT(CheckArtifactVersion("1.0.0+build.5").message(),
              HasSubstr("build metadata ('+...'), which artifact versions may not have; did you "
                        "mean '1.0.0'?"));
  EXPECT_THAT(CheckArtifactVersion("01.0.0").message(), HasSubstr("leading zero"));
  EXPECT_THAT(CheckArtifactVersion("1.0.0-").message(), HasSubstr("empty pre-release"));
  EXPECT_THAT(CheckArtifactVersion("1.0.0-rc..1").message(), HasSubstr("empty pre-release identifier"));
  EXPECT_THAT(CheckArtifactVersion("1.0.0-01").message(), HasSubstr("leading zero"));
  EXPECT_THAT(CheckArtifactVersion("latest").message(), HasSubstr("e.g. '1.4.0'"));
}

// A version error inside a reference names the version.
TEST(ParseArtifactRef, BadVersionInReference) {
  Result<ArtifactRefText> ref = ParseArtifactRef("acme-ml/fraud@v2.0.0", VersionRule::kOptional);
  ASSERT_FALSE(ref.ok());
  EXPECT_THAT(ref.status().message(), HasSubstr("version 'v2.0.0'"));
  EXPECT_THAT(ref.status().message(), HasSubstr("did you mean '2.0.0'?"));
}

// Labels are KEY=VALUE with the gateway's key grammar; values may be empty or contain '='.
TEST(ParseLabel, KeyValue) {
  Result<std::pair<std::string, std::string>> label = ParseLabel("team=fraud");
  ASSERT_TRUE(label.ok());
  EXPECT_EQ(label->first, "team");
  EXPECT_EQ(label->second, "fraud");
  EXPECT_EQ(ParseLabel("sov.dev/owner=a=b")->second, "a=b");
  EXPECT_EQ(ParseLabel("empty=")->second, "");
  EXPECT_EQ(ParseLabel("note=Grüße")->second, "Grüße");
}

// Malformed labels are refused with a reason that names the label.
TEST(ParseLabel, Refusals) {
  EXPECT_THAT(ParseLabel("team").status().message(),
              HasSubstr("label 'team' has no '=': use KEY=VALUE, e.g. team=fraud"));
  EXPECT_THAT(ParseLabel("=x").status().message(), HasSubstr("empty key"));
  EXPECT_THAT(ParseLabel("Team=x").status().message(), HasSubstr("keys are lower-case"));
  EXPECT_THAT(ParseLabel("te am=x").status().message(), HasSubstr("contains ' '"));
  EXPECT_THAT(ParseLabel("-team=x").status().message(), HasSubstr("start and end with a letter"));
  EXPECT_THAT(ParseLabel(std::string(64, 'k') + "=x").status().message(),
              HasSubstr("longer than 63"));
  EXPECT_THAT(ParseLabel("k=" + std::string(257, 'v')).status().message(),
              HasSubstr("longer than 256"));
  EXPECT_TRUE(ParseLabel("k=" + std::string(256, 'v')).ok());
  EXPECT_THAT(ParseLabel("k=\xff").status().message(), HasSubstr("not valid UTF-8"));
  // What the gateway refuses too: an overlong form and a UTF-16 surrogate.
  EXPECT_THAT(ParseLabel("k=\xE0\x80\x80").status().message(), HasSubstr("not valid UTF-8"));
  EXPECT_THAT(ParseLabel("k=\xED\xA0\x80").status().message(), HasSubstr("not valid UTF-8"));
  // The limit counts characters: 256 two-byte characters pass.
  std::string wide;
  for (int i = 0; i < 256; ++i) wide += "\xC3\xA9";
  EXPECT_TRUE(ParseLabel("k=" + wide).ok());
}

// A list of labels becomes a map; a key given twice is refused.
TEST(ParseLabels, DuplicateKey) {
  Result<std::map<std::string, std::string>> labels = ParseLabels({"a=1", "b=2"});
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ(labels->size(), 2u);
  EXPECT_THAT(ParseLabels({"a=1", "a=2"}).status().message(), HasSubstr("'a' is given twice"));
}

}  // namespace
}  // namespace sov::cli
