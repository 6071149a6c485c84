// Shows that LocalBlobStore stages uploads that survive reopening with truncation to the durable
// point, publishes them durably into the fan-out layout, reads them back with exact-length
// reads, lists and deletes, and refuses ids that could leave their directory.
#include "registry/local_blob_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "tests/testing/temp_dir.h"

namespace sov::registry {
namespace {

std::string Pattern(size_t size, int seed = 0) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 131 + seed + (i >> 9)) & 0xff);
  return s;
}

class LocalBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = LocalBlobStore::Create(
        {{"eu-de-1", dir_.Join("de")}, {"us-east-1", dir_.Join("us")}});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  std::string ReadAll(const std::string& location, const std::string& blob_id) {
    auto reader = store_->Open(location, blob_id);
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    if (!reader.ok()) return "";
    std::string out;
    EXPECT_TRUE((*reader)->ReadAt(0, (*reader)->size(), out).ok());
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<LocalBlobStore> store_;
};

TEST_F(LocalBlobStoreTest, CreatesPrivateDirectories) {
  // Each location gets staging/ and blobs/ with mode 0700.
  for (const char* sub : {"de/staging", "de/blobs", "us/staging", "us/blobs"}) {
    struct stat st;
    ASSERT_EQ(::stat(dir_.Join(sub).c_str(), &st), 0) << sub;
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0700u) << sub;
  }
  EXPECT_EQ(store_->Locations(), (std::vector<std::string>{"eu-de-1", "us-east-1"}));
}

TEST_F(LocalBlobStoreTest, RefusesBadLocationConfig) {
  // Empty and duplicate names are INVALID_ARGUMENT.
  EXPECT_EQ(LocalBlobStore::Create({{"", dir_.Join("x")}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(LocalBlobStore::Create({{"a", dir_.Join("x")}, {"a", dir_.Join("y")}}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(LocalBlobStoreTest, AppendSyncPublishRead) {
  // Mixed small and large appends come back byte for byte after Publish.
  std::string data = Pattern(9 * 1024 * 1024 + 77);
  auto appender = store_->OpenStaging("eu-de-1", "up1", 0);
  ASSERT_TRUE(appender.ok()) << appender.status().ToString();
  size_t pos = 0;
  for (size_t step : {size_t{10}, size_t{1} << 20, size_t{3}, size_t{5} << 20, size_t{4096}}) {
    ASSERT_TRUE((*appender)->Append(std::string_view(data).substr(pos, step)).ok());
    pos += step;
  }
  ASSERT_TRUE((*appender)->Append(std::string_view(data).substr(pos)).ok());
  EXPECT_EQ((*appender)->size(), data.size());
  ASSERT_TRUE((*appender)->Sync().ok());
  appender->reset();

  ASSERT_TRUE(store_->Publish("eu-de-1", "up1", "AbCdef_-1").ok());
  EXPECT_TRUE(std::filesystem::exists(dir_.Join("de/blobs/Ab/AbCdef_-1.blob")));
  EXPECT_FALSE(std::filesystem::exists(dir_.Join("de/staging/up1.part")));
  EXPECT_EQ(ReadAll("eu-de-1", "AbCdef_-1"), data);

  // Partial reads at offsets.
  auto reader = store_->Open("eu-de-1", "AbCdef_-1");
  ASSERT_TRUE(reader.ok());
  std::string piece;
  ASSERT_TRUE((*reader)->ReadAt(1234567, 1000, piece).ok());
  EXPECT_EQ(piece, data.substr(1234567, 1000));
  // Past the end is DATA_LOSS.
  Status short_read = (*reader)->ReadAt(data.size() - 10, 11, piece);
  EXPECT_EQ(short_read.code(), StatusCode::kDataLoss) << short_read.ToString();
  // The other location does not have it.
  EXPECT_EQ(store_->Open("us-east-1", "AbCdef_-1").status().code(), StatusCode::kNotFound);
}

TEST_F(LocalBlobStoreTest, UnsyncedBytesReachTheFileWhenTheAppenderCloses) {
  // Buffered appends are written out by the destructor, so a Publish after it sees them.
  {
    auto appender = store_->OpenStaging("eu-de-1", "u2", 0);
    ASSERT_TRUE(appender.ok());
    ASSERT_TRUE((*appender)->Append("hello ").ok());
    ASSERT_TRUE((*appender)->Append("world").ok());
  }
  ASSERT_TRUE(store_->Publish("eu-de-1", "u2", "b2").ok());
  EXPECT_EQ(ReadAll("eu-de-1", "b2"), "hello world");
}

TEST_F(LocalBlobStoreTest, ReopenTruncatesToKeepBytes) {
  // Resuming keeps exactly the durable prefix and appends after it.
  {
    auto appender = store_->OpenStaging("eu-de-1", "u3", 0);
    ASSERT_TRUE(appender.ok());
    ASSERT_TRUE((*appender)->Append("0123456789").ok());
    ASSERT_TRUE((*appender)->Sync().ok());
    ASSERT_TRUE((*appender)->Append("garbage").ok());
  }
  {
    auto appender = store_->OpenStaging("eu-de-1", "u3", 4);
    ASSERT_TRUE(appender.ok()) << appender.status().ToString();
    EXPECT_EQ((*appender)->size(), 4u);
    ASSERT_TRUE((*appender)->Append("abcd").ok());
    EXPECT_EQ((*appender)->size(), 8u);
    ASSERT_TRUE((*appender)->Sync().ok());
  }
  EXPECT_EQ(std::filesystem::file_size(dir_.Join("de/staging/u3.part")), 8u);
  // keep_bytes equal to the size keeps everything; 0 on an existing object empties it.
  {
    auto appender = store_->OpenStaging("eu-de-1", "u3", 8);
    ASSERT_TRUE(appender.ok());
    EXPECT_EQ((*appender)->size(), 8u);
  }
  ASSERT_TRUE(store_->Publish("eu-de-1", "u3", "b3").ok());
  EXPECT_EQ(ReadAll("eu-de-1", "b3"), "0123abcd");
}

TEST_F(LocalBlobStoreTest, MissingOrShortStagingIsDataLoss) {
  // An absent object with keep_bytes > 0, or one shorter than keep_bytes, is DATA_LOSS.
  EXPECT_EQ(store_->OpenStaging("eu-de-1", "gone", 5).status().code(), StatusCode::kDataLoss);
  {
    auto appender = store_->OpenStaging("eu-de-1", "short", 0);
    ASSERT_TRUE(appender.ok());
    ASSERT_TRUE((*appender)->Append("abc").ok());
    ASSERT_TRUE((*appender)->Sync().ok());
  }
  EXPECT_EQ(store_->OpenStaging("eu-de-1", "short", 4).status().code(), StatusCode::kDataLoss);
  // The failed open left the object alone.
  EXPECT_EQ(std::filesystem::file_size(dir_.Join("de/staging/short.part")), 3u);
}

TEST_F(LocalBlobStoreTest, UnknownLocationIsNotFound) {
  // Every call names an unknown location NOT_FOUND.
  EXPECT_EQ(store_->OpenStaging("mars-1", "u", 0).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Publish("mars-1", "u", "b").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Open("mars-1", "b").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->ListBlobs("mars-1").status().code(), StatusCode::kNotFound);
}

TEST_F(LocalBlobStoreTest, PublishRules) {
  // No staging object: NOT_FOUND; an existing blob is never replaced; a retried Publish after
  // success is OK.
  EXPECT_EQ(store_->Publish("eu-de-1", "nothing", "bx").code(), StatusCode::kNotFound);
  for (const char* upload : {"p1", "p2"}) {
    auto appender = store_->OpenStaging("eu-de-1", upload, 0);
    ASSERT_TRUE(appender.ok());
    ASSERT_TRUE((*appender)->Append(upload).ok());
    ASSERT_TRUE((*appender)->Sync().ok());
  }
  ASSERT_TRUE(store_->Publish("eu-de-1", "p1", "same").ok());
  EXPECT_TRUE(store_->Publish("eu-de-1", "p1", "same").ok());  // retry: already there
  EXPECT_EQ(store_->Publish("eu-de-1", "p2", "same").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadAll("eu-de-1", "same"), "p1");
}

TEST_F(LocalBlobStoreTest, ListDiscardDelete) {
  // Lists show staging objects and blobs by id, sorted; discards and deletes are idempotent.
  for (const char* upload : {"s2", "s1", "s3"}) {
    auto appender = store_->OpenStaging("eu-de-1", upload, 0);
    ASSERT_TRUE(appender.ok());
  }
  ASSERT_TRUE(store_->Publish("eu-de-1", "s3", "zz-blob").ok());
  ASSERT_TRUE(store_->Publish("eu-de-1", "s2", "a").ok());  // a one-character id
  // Stray files are not reported.
  testing::WriteTextFile(dir_.Join("de/staging/junk.tmp"), "x");
  testing::WriteTextFile(dir_.Join("de/blobs/zz/notablob"), "x");

  auto staging = store_->ListStaging("eu-de-1");
  ASSERT_TRUE(staging.ok());
  EXPECT_EQ(*staging, std::vector<std::string>{"s1"});
  auto blobs = store_->ListBlobs("eu-de-1");
  ASSERT_TRUE(blobs.ok());
  EXPECT_EQ(*blobs, (std::vector<std::string>{"a", "zz-blob"}));

  // Write times: a blob keeps its staging object's; absent objects are NOT_FOUND.
  const SystemTime now = std::chrono::system_clock::now();
  for (Result<SystemTime> written :
       {store_->StagingWriteTime("eu-de-1", "s1"), store_->BlobWriteTime("eu-de-1", "a")}) {
    ASSERT_TRUE(written.ok()) << written.status().ToString();
    EXPECT_LE(*written, now + std::chrono::seconds(1));
    EXPECT_GE(*written, now - std::chrono::minutes(5));
  }
  EXPECT_EQ(store_->StagingWriteTime("eu-de-1", "s3").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->BlobWriteTime("eu-de-1", "nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->BlobWriteTime("mars-1", "a").status().code(), StatusCode::kNotFound);

  EXPECT_TRUE(store_->DiscardStaging("eu-de-1", "s1").ok());
  EXPECT_TRUE(store_->DiscardStaging("eu-de-1", "s1").ok());
  EXPECT_TRUE(store_->ListStaging("eu-de-1")->empty());
  EXPECT_TRUE(store_->Delete("eu-de-1", "zz-blob").ok());
  EXPECT_TRUE(store_->Delete("eu-de-1", "zz-blob").ok());
  EXPECT_EQ(store_->Open("eu-de-1", "zz-blob").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*store_->ListBlobs("eu-de-1"), std::vector<std::string>{"a"});
}

TEST_F(LocalBlobStoreTest, BadIdsAreRefused) {
  // Path separators, dots, empty and over-long ids are INVALID_ARGUMENT everywhere.
  for (const std::string& bad : {std::string(""), std::string(".."), std::string("../x"),
                                 std::string("a/b"), std::string("a.b"), std::string("a b"),
                                 std::string(129, 'a'), std::string("x\0y", 3)}) {
    EXPECT_EQ(store_->OpenStaging("eu-de-1", bad, 0).status().code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->Publish("eu-de-1", bad, "ok").code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->Publish("eu-de-1", "ok", bad).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->DiscardStaging("eu-de-1", bad).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->Open("eu-de-1", bad).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->Delete("eu-de-1", bad).code(), StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(store_->OpenStaging("eu-de-1", std::string(128, 'a'), 0).ok());
}

TEST_F(LocalBlobStoreTest, StreamingThroughput) {
  // Prints the append rate for 1 MiB chunks (page cache, then one fdatasync); not asserted.
  constexpr size_t kChunk = size_t{1} << 20;
  constexpr int kChunks = 256;
  std::string chunk = Pattern(kChunk, 7);
  auto appender = store_->OpenStaging("eu-de-1", "fast", 0);
  ASSERT_TRUE(appender.ok());
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kChunks; ++i) ASSERT_TRUE((*appender)->Append(chunk).ok());
  auto appended = std::chrono::steady_clock::now();
  ASSERT_TRUE((*appender)->Sync().ok());
  auto synced = std::chrono::steady_clock::now();
  double bytes = static_cast<double>(kChunk) * kChunks;
  double append_s = std::chrono::duration<double>(appended - start).count();
  double total_s = std::chrono::duration<double>(synced - start).count();
  std::printf("[ perf ] 256 MiB in 1 MiB appends: %.2f GB/s appending, %.2f GB/s with fdatasync\n",
              bytes / append_s / 1e9, bytes / total_s / 1e9);
}

}  // namespace
}  // namespace sov::registry
