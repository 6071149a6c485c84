// Shows that artifact names follow the OCI-style grammar of artifact.proto with the owner tenant
// first, and that label keys and values follow ArtifactSpec.labels, with messages that quote
// the bad value.
#include "registry/names.h"

#include <gtest/gtest.h>

#include <string>

namespace sov::registry {
namespace {

TEST(NamesTest, ValidNames) {
  // Two or more segments of [a-z0-9] runs joined by single separators.
  for (const char* name : {"acme-ml/fraud/classifier", "a/b", "acme/x.y_z-1", "t1/0/1/2",
                           "acme-ml/fraud.v2/model_a"}) {
    EXPECT_TRUE(ValidateArtifactName(name).ok()) << name;
  }
  EXPECT_TRUE(ValidateArtifactName("a/" + std::string(253, 'b')).ok());
}

TEST(NamesTest, InvalidNames) {
  // Each bad name is INVALID_ARGUMENT quoting it and saying what is allowed.
  for (const std::string& bad :
       {std::string(""), std::string("acme"), std::string("acme/"), std::string("/acme/x"),
        std::string("acme//x"), std::string("Acme/x"), std::string("acme/X"),
        std::string("acme/-x"), std::string("acme/x-"), std::string("acme/x--y"),
        std::string("acme/x._y"), std::string("acme/x y"), std::string("acme/x/../y"),
        std::string("acme/x\n"), std::string("acme/é"), std::string("a/" + std::string(254, 'b'))}) {
    Status st = ValidateArtifactName(bad);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("'" + bad.substr(0, 40)), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("<owner tenant>/<path>"), std::string::npos) << st.message();
  }
}

TEST(NamesTest, OwnerTenantIsFirstSegment) {
  // The owner is everything before the first '/'.
  EXPECT_EQ(OwnerTenantOf("acme-ml/fraud/classifier"), "acme-ml");
  EXPECT_EQ(OwnerTenantOf("solo"), "solo");
}

TEST(NamesTest, LabelKeys) {
  // Keys: 1 to 63 of [a-z0-9._/-], alphanumeric at both ends.
  for (const char* key : {"team", "a", "app.kubernetes.io/name", "x_y-z.0", "9"}) {
    EXPECT_TRUE(ValidateLabelKey(key).ok()) << key;
  }
  EXPECT_TRUE(ValidateLabelKey(std::string(63, 'k')).ok());
  for (const std::string& bad : {std::string(""), std::string(64, 'k'), std::string("Team"),
                                 std::string("-x"), std::string("x/"), std::string("a b"),
                                 std::string("a:b")}) {
    Status st = ValidateLabelKey(bad);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("[a-z0-9._/-]"), std::string::npos) << st.message();
  }
}

TEST(NamesTest, LabelValues) {
  // Values: valid UTF-8, at most 256 characters (not bytes).
  EXPECT_TRUE(ValidateLabelValue("k", "").ok());
  EXPECT_TRUE(ValidateLabelValue("k", std::string(256, 'v')).ok());
  std::string umlauts;
  for (int i = 0; i < 256; ++i) umlauts += "\xc3\xa4";  // 256 characters, 512 bytes
  EXPECT_TRUE(ValidateLabelValue("k", umlauts).ok());
  EXPECT_FALSE(ValidateLabelValue("k", umlauts + "a").ok());
  EXPECT_FALSE(ValidateLabelValue("k", std::string(257, 'v')).ok());
  for (const char* bad : {"\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    Status st = ValidateLabelValue("k", bad);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("UTF-8"), std::string::npos);
  }
}

TEST(NamesTest, LabelCount) {
  // At most 64 labels; the first bad key is reported.
  std::map<std::string, std::string> labels;
  for (int i = 0; i < 64; ++i) labels["k" + std::to_string(i)] = "v";
  EXPECT_TRUE(ValidateLabels(labels).ok());
  labels["k64"] = "v";
  EXPECT_FALSE(ValidateLabels(labels).ok());
  EXPECT_FALSE(ValidateLabels({{"Bad", "v"}}).ok());
}

}  // namespace
}  // namespace sov::registry
