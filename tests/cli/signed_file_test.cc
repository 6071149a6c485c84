// Shows what `sovctl sign-blob` attests for a file and what `sovctl verify-blob` accepts and rejects, in-process.
#include "cli/signed_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/dsse.h"
#include "tests/cli/temp_dir.h"

namespace sov::cli {
namespace {

using ::sov::cli::testing::TempDir;
using ::sov::cli::testing::WriteTestFile;
using ::testing::HasSubstr;

// DescribeFile gives the base name, the size and the sha256 of the contents.
TEST(DescribeFile, NameSizeAndDigest) {
  TempDir dir;
  std::string path = WriteTestFile(dir.Join("model.bin"), "weights\n");
  Result<FileFacts> facts = DescribeFile(path);
  ASSERT_TRUE(facts.ok()) << facts.status().ToString();
  EXPECT_EQ(facts->name, "model.bin");
  EXPECT_EQ(facts->size, 8u);
  EXPECT_EQ(facts->digest, crypto::Sha256Of("weights\n"));
}

// Only regular files are described; a missing file is NOT_FOUND naming it.
TEST(DescribeFile, RefusesDirectoriesAndMissingFiles) {
  TempDir dir;
  EXPECT_EQ(DescribeFile(dir.path()).status().code(), StatusCode::kInvalidArgument);
  Result<FileFacts> missing = DescribeFile(dir.Join("absent"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("absent"));
}

// The statement has one subject (name + sha256), our predicate type, size and signing time.
TEST(SignedFileStatement, SubjectAndPredicate) {
  FileFacts facts{"data.csv", 42, crypto::Sha256Of("x")};
  crypto::Statement statement = SignedFileStatement(facts, SystemTime(std::chrono::seconds(0)));
  ASSERT_EQ(statement.subject.size(), 1u);
  EXPECT_EQ(statement.subject[0].name, "data.csv");
  EXPECT_EQ(statement.subject[0].digest.at("sha256"), crypto::Sha256Of("x").Hex());
  EXPECT_EQ(statement.predicate_type, kSignedFilePredicateType);
  EXPECT_EQ(statement.predicate["size"], 42);
  EXPECT_EQ(statement.predicate["signed_at"], "1970-01-01T00:00:00Z");
}

class VerifySignedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = WriteTestFile(dir_.Join("model.bin"), "weights");
    FileFacts facts = DescribeFile(file_).value();
    envelope_ = crypto::SignStatement(SignedFileStatement(facts, std::chrono::system_clock::now()),
                                      signer_)
                    .ToJson();
  }

  TempDir dir_;
  std::string file_;
  crypto::Ed25519PrivateKey signer_ = crypto::Ed25519PrivateKey::Generate();
  crypto::Ed25519PrivateKey other_ = crypto::Ed25519PrivateKey::Generate();
  std::string envelope_;
};

// The signer's key and the unchanged file verify; the report names key, subject and match.
TEST_F(VerifySignedFileTest, AcceptsSignerAndFile) {
  VerificationReport report =
      VerifySignedFile(envelope_, {signer_.public_key()}, 1, std::optional<std::string>(file_));
  EXPECT_TRUE(report.verified) << report.error;
  EXPECT_EQ(report.error, "");
  EXPECT_THAT(report.key_ids, ::testing::ElementsAre(signer_.public_key().KeyId()));
  ASSERT_EQ(report.subjects.size(), 1u);
  EXPECT_EQ(report.matched_subject, "model.bin");
  EXPECT_EQ(report.predicate_type, kSignedFilePredicateType);
}

// A changed file is a digest mismatch even though the signature is good.
TEST_F(VerifySignedFileTest, RejectsChangedFile) {
  WriteTestFile(file_, "weightz");
  VerificationReport report = VerifySignedFile(envelope_, {signer_.public_key()}, 1, file_);
  EXPECT_FALSE(report.verified);
  EXPECT_THAT(report.error, HasSubstr("digest mismatch"));
  EXPECT_EQ(report.key_ids.size(), 1u);
}

// Another key's signature does not count; nor does one signature towards a threshold of 2.
TEST_F(VerifySignedFileTest, RejectsWrongKeyAndUnmetThreshold) {
  EXPECT_FALSE(VerifySignedFile(envelope_, {other_.public_key()}, 1, std::nullopt).verified);
  VerificationReport two =
      VerifySignedFile(envelope_, {signer_.public_key(), other_.public_key()}, 2, std::nullopt);
  EXPECT_FALSE(two.verified);
  EXPECT_THAT(two.error, HasSubstr("signature check failed"));
}

// Text that is not an envelope fails with a reason rather than crashing.
TEST_F(VerifySignedFileTest, RejectsGarbage) {
  VerificationReport report = VerifySignedFile("{not json", {signer_.public_key()}, 1, std::nullopt);
  EXPECT_FALSE(report.verified);
  EXPECT_THAT(report.error, HasSubstr("not a DSSE envelope"));
}

}  // namespace
}  // namespace sov::cli
