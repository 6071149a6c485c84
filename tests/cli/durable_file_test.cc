// Shows OpenPartFile creating FILE.part and CommitPartFile putting it in place of FILE, and that
// a failure leaves no FILE.part.
#include "cli/durable_file.h"

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/cli/temp_dir.h"

namespace sov::cli {
namespace {

using ::sov::cli::testing::ReadTestFile;
using ::sov::cli::testing::TempDir;
using ::sov::cli::testing::WriteTestFile;

// FILE.part open for writing in a temporary directory, as the export commands leave it.
class CommitPartFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    file_.open(part_, std::ios::binary | std::ios::trunc);
    ASSERT_TRUE(file_);
  }

  TempDir dir_;
  const std::string target_ = dir_.Join("export.jsonl");
  const std::string part_ = target_ + ".part";
  std::ofstream file_;
};

// FILE.part is created empty (truncating a leftover one); a directory that does not exist is
// "cannot create PART: ...".
TEST(OpenPartFileTest, CreatesOrTruncatesAndNamesTheFileOnFailure) {
  TempDir dir;
  const std::string part = dir.Join("records.csv.part");
  WriteTestFile(part, "left over from a crash\n");
  std::ofstream file;
  Status st = OpenPartFile(file, part);
  ASSERT_TRUE(st.ok()) << st.ToString();
  file << "fresh\n";
  file.close();
  EXPECT_EQ(ReadTestFile(part), "fresh\n");

  const std::string missing = dir.Join("missing/records.csv.part");
  std::ofstream other;
  st = OpenPartFile(other, missing);
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_EQ(st.message(), "cannot create " + missing + ": No such file or directory");
}

// A commit replaces the old FILE with the whole of what was written, and FILE.part is gone.
TEST_F(CommitPartFileTest, ReplacesTheTargetAndRemovesThePart) {
  WriteTestFile(target_, "old export\n");
  file_ << "new export\n";

  Status st = CommitPartFile(file_, part_, target_);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(ReadTestFile(target_), "new export\n");
  EXPECT_FALSE(std::filesystem::exists(part_));
}

// A rename that fails (the target's directory does not exist) deletes FILE.part and names both
// files and the reason.
TEST_F(CommitPartFileTest, FailedRenameRemovesThePartAndNamesTheFiles) {
  const std::string target = dir_.Join("missing/export.jsonl");
  file_ << "entries\n";

  Status st = CommitPartFile(file_, part_, target);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_EQ(st.message(),
            "cannot rename " + part_ + " to " + target + ": No such file or directory");
  EXPECT_FALSE(std::filesystem::exists(part_));
  EXPECT_FALSE(std::filesystem::exists(target));
}

// A stream that already failed is never renamed into place: FILE keeps its old bytes.
TEST_F(CommitPartFileTest, FailedStreamKeepsTheOldTarget) {
  WriteTestFile(target_, "old export\n");
  file_ << "half an entr";
  file_.setstate(std::ios::badbit);  // as a failed write leaves it

  Status st = CommitPartFile(file_, part_, target_);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "cannot write " + part_);
  EXPECT_EQ(ReadTestFile(target_), "old export\n");
  EXPECT_FALSE(std::filesystem::exists(part_));
}

}  // namespace
}  // namespace sov::cli
