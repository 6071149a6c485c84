// Shows OpenPartFile creating FILE.part and CommitPartFile putting it in place of FILE, and that
// a failure leaves no FILE.part; and ExportSink doing both, or writing to standard output.
#include "cli/durable_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>
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

// ExportSink on a file: the export goes to FILE.part and replaces FILE at Commit; an abandoned
// export deletes FILE.part and leaves FILE as it was.
TEST(ExportSinkTest, CommitReplacesTheFileAndAbandonLeavesItAsItWas) {
  TempDir dir;
  const std::string target = dir.Join("records.csv");
  WriteTestFile(target, "old records\n");
  std::ostringstream out;

  Result<ExportSink> abandoned = ExportSink::Open(target, out);
  ASSERT_TRUE(abandoned.ok()) << abandoned.status().ToString();
  EXPECT_FALSE(abandoned->to_stdout());
  abandoned->stream() << "half a rec";
  EXPECT_TRUE(std::filesystem::exists(target + ".part"));
  abandoned->Abandon();
  EXPECT_FALSE(std::filesystem::exists(target + ".part"));
  EXPECT_EQ(ReadTestFile(target), "old records\n");

  Result<ExportSink> committed = ExportSink::Open(target, out);
  ASSERT_TRUE(committed.ok()) << committed.status().ToString();
  committed->stream() << "new records\n";
  Status st = committed->Commit();
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(ReadTestFile(target), "new records\n");
  EXPECT_FALSE(std::filesystem::exists(target + ".part"));
  EXPECT_TRUE(out.str().empty());

  const std::string missing = dir.Join("missing/records.csv");
  Result<ExportSink> refused = ExportSink::Open(missing, out);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            "cannot create " + missing + ".part: No such file or directory");
}

// "-" is standard output: the export goes to the given stream, and no file is made.
TEST(ExportSinkTest, DashWritesToTheOutputStream) {
  std::ostringstream out;
  Result<ExportSink> sink = ExportSink::Open("-", out);
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  EXPECT_TRUE(sink->to_stdout());
  sink->stream() << "entry\n";
  sink->Abandon();  // nothing to delete
  EXPECT_TRUE(sink->Commit().ok());
  EXPECT_EQ(out.str(), "entry\n");
  EXPECT_FALSE(std::filesystem::exists("-.part"));
}

}  // namespace
}  // namespace sov::cli
