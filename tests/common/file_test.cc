// Shows the file primitives: atomic writes set the mode, new files refuse to overwrite, and the
// private-key permission check refuses group- or world-accessible files.
#include "common/file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>

namespace sov {
namespace {

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sov_file_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(FileTest, AtomicWriteSetsModeAndReplaces) {
  std::string path = dir_ + "/a";
  ASSERT_TRUE(WriteFileAtomic(path, "one", 0600).ok());
  ASSERT_TRUE(WriteFileAtomic(path, "two", 0600).ok());
  EXPECT_EQ(*ReadFile(path), "two");
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // No temporary files are left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1);
}

TEST_F(FileTest, NewFileRefusesToOverwrite) {
  std::string path = dir_ + "/k";
  ASSERT_TRUE(WriteNewFile(path, "secret", 0600).ok());
  Status again = WriteNewFile(path, "other", 0600);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(*ReadFile(path), "secret");
}

TEST_F(FileTest, PrivateModeCheck) {
  std::string path = dir_ + "/key";
  ASSERT_TRUE(WriteFileAtomic(path, "x", 0600).ok());
  EXPECT_TRUE(CheckPrivateFileMode(path).ok());
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  Status st = CheckPrivateFileMode(path);
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(st.message().find("0644"), std::string::npos);
  EXPECT_NE(st.message().find(path), std::string::npos);
  EXPECT_FALSE(ReadPrivateFile(path).ok());
  ASSERT_EQ(chmod(path.c_str(), 0640), 0);
  EXPECT_FALSE(CheckPrivateFileMode(path).ok());
}

TEST_F(FileTest, ReadMissingIsNotFound) {
  EXPECT_EQ(ReadFile(dir_ + "/missing").status().code(), StatusCode::kNotFound);
}

TEST_F(FileTest, MakeDirectoriesAndResolve) {
  std::string deep = dir_ + "/a/b/c";
  ASSERT_TRUE(MakeDirectories(deep, 0700).ok());
  EXPECT_TRUE(std::filesystem::is_directory(deep));
  EXPECT_TRUE(MakeDirectories(deep, 0700).ok());
  EXPECT_EQ(ResolvePath("/etc/sov", "tenants.yaml"), "/etc/sov/tenants.yaml");
  EXPECT_EQ(ResolvePath("/etc/sov", "/abs/x"), "/abs/x");
}

}  // namespace
}  // namespace sov
