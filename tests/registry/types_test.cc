// Shows that kind, stage and upload-state names round-trip and that unknown names are refused
// with the allowed ones listed.
#include "registry/types.h"

#include <gtest/gtest.h>

namespace sov::registry {
namespace {

TEST(TypesTest, NamesRoundTrip) {
  // Every enumerator parses back from its name.
  for (Kind k : {Kind::kDataset, Kind::kModel, Kind::kReport}) {
    auto parsed = ParseKind(KindName(k));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, k);
  }
  for (Stage s : {Stage::kPending, Stage::kValidating, Stage::kReleased, Stage::kRejected,
                  Stage::kRevoked, Stage::kErased}) {
    auto parsed = ParseStage(StageName(s));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, s);
  }
  for (UploadState s : {UploadState::kOpen, UploadState::kCommitted, UploadState::kAborted}) {
    auto parsed = ParseUploadState(UploadStateName(s));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_EQ(KindName(Kind::kModel), "model");
  EXPECT_EQ(StageName(Stage::kReleased), "released");
}

TEST(TypesTest, UnknownNamesAreRefused) {
  // Upper case, empty and unknown names are INVALID_ARGUMENT quoting the value.
  auto kind = ParseKind("Model");
  ASSERT_FALSE(kind.ok());
  EXPECT_EQ(kind.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(kind.status().message().find("'Model'"), std::string::npos);
  EXPECT_NE(kind.status().message().find("dataset, model, report"), std::string::npos);
  EXPECT_FALSE(ParseStage("").ok());
  EXPECT_FALSE(ParseUploadState("closed").ok());
}

}  // namespace
}  // namespace sov::registry
