// Shows that a push acknowledged by sovd survives `kill -9`, and that an unacknowledged one never
// leaves a partial artifact: 20 clients push 3 MiB each in 256 KiB chunks, sovd is killed when
// some have been acknowledged and others are mid-stream, and after a restart every acknowledged
// artifact is fetched intact with a manifest that verifies, nothing partial is visible, and no
// staging file is left for an upload that is not open.
#include <atomic>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/integration/registry_client.h"

namespace sov {
namespace {

using sov::testing::Describe;
using sov::testing::MakeSpec;
namespace fs = std::filesystem;

constexpr int kPushes = 20;
constexpr size_t kArtifactBytes = 3 << 20;
constexpr size_t kChunkBytes = 256 << 10;
constexpr int kAckedBeforeKill = 5;

struct PushOutcome {
  std::string name;
  std::string bytes;
  std::string digest;
  std::string upload_id;    // empty when CreateUpload failed
  bool acknowledged = false;
  grpc::Status status;
};

std::string NameOf(int i) { return "acme-ml/crash/artifact-" + std::to_string(i); }

// Every file with `suffix` under DIR/blobs/<location>/<kind>/.
std::vector<fs::path> FilesUnder(const std::string& blobs, const std::string& kind,
                                 const std::string& suffix) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const fs::directory_entry& location : fs::directory_iterator(blobs, ec)) {
    const fs::path dir = location.path() / kind;
    if (!fs::is_directory(dir)) continue;
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir, ec)) {
      if (e.is_regular_file() && e.path().filename().string().ends_with(suffix)) {
        out.push_back(e.path());
      }
    }
  }
  return out;
}

TEST(RegistryCrashTest, AcknowledgedPushesSurviveKillNineAndNothingPartialIsVisible) {
  sov::testing::DevGateway gateway;
  std::string error;
  ASSERT_TRUE(gateway.Start(&error)) << error;

  std::vector<PushOutcome> outcomes(kPushes);
  for (int i = 0; i < kPushes; ++i) {
    outcomes[i].name = NameOf(i);
    outcomes[i].bytes = sov::testing::RandomBytes(kArtifactBytes, 100 + i);
    outcomes[i].digest = sov::testing::DigestOf(outcomes[i].bytes);
  }

  std::atomic<int> acknowledged{0};
  std::atomic<int> finished{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kPushes; ++i) {
    threads.emplace_back([&, i] {
      PushOutcome& out = outcomes[i];
      std::unique_ptr<sov::testing::RegistryClient> client = gateway.Client("acme-ml");
      v1::Upload upload;
      out.status = client->CreateUpload(
          MakeSpec(v1::ARTIFACT_KIND_DATASET, out.name, "1.0.0", v1::CLASSIFICATION_INTERNAL),
          static_cast<int64_t>(out.bytes.size()), &upload, out.digest);
      if (out.status.ok()) {
        out.upload_id = upload.upload_id();
        // Staggered speeds: the first clients finish quickly, the last ones take seconds.
        sov::testing::PushOptions options;
        options.chunk_bytes = kChunkBytes;
        options.pause = std::chrono::milliseconds(5 + 10 * i);
        options.digest = out.digest;
        v1::PushResponse response;
        out.status = client->PushBytes(out.upload_id, 0, out.bytes, options, &response);
        out.acknowledged = out.status.ok() && response.artifact().digest() == out.digest;
        if (out.acknowledged) ++acknowledged;
      }
      ++finished;
    });
  }

  // Kill sovd once some pushes are acknowledged while others are still streaming.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (acknowledged.load() < kAckedBeforeKill && finished.load() < kPushes &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const int finished_at_kill = finished.load();
  ASSERT_TRUE(gateway.Kill());
  for (std::thread& t : threads) t.join();
  ASSERT_GE(acknowledged.load(), kAckedBeforeKill) << "pushes were too slow or failed:\n"
                                                   << Describe(outcomes[0].status);
  ASSERT_LT(finished_at_kill, kPushes) << "every push finished before the kill";
  int unacknowledged = 0;
  for (const PushOutcome& out : outcomes) {
    if (!out.acknowledged) ++unacknowledged;
    if (out.acknowledged || !out.status.ok()) continue;
    ADD_FAILURE() << out.name << " ended OK without an artifact in the response";
  }
  EXPECT_GT(unacknowledged, 0);

  ASSERT_TRUE(gateway.Start(&error)) << error;
  std::unique_ptr<sov::testing::RegistryClient> client = gateway.Client("acme-ml");
  const std::string registry_key = gateway.File("signing.pub");
  int visible = 0;
  for (const PushOutcome& out : outcomes) {
    SCOPED_TRACE(out.name + (out.acknowledged ? " (acknowledged)" : " (not acknowledged: " +
                                                                     Describe(out.status) + ")"));
    v1::GetArtifactResponse got;
    grpc::Status status = client->Get(out.name, "1.0.0", &got);
    if (!out.acknowledged && status.error_code() == grpc::StatusCode::NOT_FOUND) continue;
    // Acknowledged, or committed just before the kill without the client seeing it: intact.
    ASSERT_TRUE(status.ok()) << Describe(status);
    ++visible;
    EXPECT_EQ(got.artifact().digest(), out.digest);
    EXPECT_EQ(got.artifact().size_bytes(), static_cast<int64_t>(kArtifactBytes));
    EXPECT_EQ(sov::testing::CheckManifest(got.manifest(), registry_key, out.name, out.digest), "");
    sov::testing::FetchResult fetched = client->Fetch(out.name, "1.0.0");
    ASSERT_TRUE(fetched.status.ok()) << Describe(fetched.status);
    EXPECT_EQ(sov::testing::DigestOf(fetched.bytes), out.digest);
    EXPECT_EQ(fetched.bytes.size(), kArtifactBytes);
    EXPECT_EQ(sov::testing::CheckManifest(fetched.header.manifest(), registry_key, out.name,
                                          out.digest),
              "");
    if (!out.upload_id.empty()) {
      v1::Upload upload;
      status = client->GetUpload(out.upload_id, &upload);
      ASSERT_TRUE(status.ok()) << Describe(status);
      EXPECT_EQ(upload.state(), v1::UPLOAD_STATE_COMMITTED);
      EXPECT_EQ(upload.artifact().digest(), out.digest);
    }
  }
  EXPECT_GE(visible, acknowledged.load());

  // The listing agrees: exactly the visible ones, each complete.
  v1::ListArtifactsRequest list;
  list.set_name_prefix("acme-ml/crash/");
  v1::ListArtifactsResponse listed;
  grpc::Status status = client->List(list, &listed);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(listed.artifacts_size(), visible);
  for (const v1::Artifact& a : listed.artifacts()) {
    EXPECT_EQ(a.size_bytes(), static_cast<int64_t>(kArtifactBytes)) << a.name();
  }

  // Staging files belong to open uploads only; blobs to artifacts only.
  const std::string blobs = gateway.File("blobs");
  std::set<std::string> ours;
  for (const PushOutcome& out : outcomes) ours.insert(out.upload_id);
  for (const fs::path& part : FilesUnder(blobs, "staging", ".part")) {
    const std::string id = part.stem().string();
    v1::Upload upload;
    status = client->GetUpload(id, &upload);
    EXPECT_TRUE(status.ok()) << part << ": " << Describe(status);
    EXPECT_EQ(upload.state(), v1::UPLOAD_STATE_OPEN)
        << part << " is left for an upload in state " << v1::UploadState_Name(upload.state());
    EXPECT_EQ(ours.count(id), 1u) << part;
  }
  EXPECT_EQ(FilesUnder(blobs, "blobs", ".blob").size(), static_cast<size_t>(visible));
  std::cout << "killed with " << acknowledged.load() << " of " << kPushes
            << " pushes acknowledged; after restart " << visible << " artifacts, "
            << FilesUnder(blobs, "staging", ".part").size() << " open uploads with staging files\n";

  // An upload still open resumes from its committed offset and commits intact.
  for (const PushOutcome& out : outcomes) {
    if (out.upload_id.empty()) continue;
    v1::Upload upload;
    if (!client->GetUpload(out.upload_id, &upload).ok() ||
        upload.state() != v1::UPLOAD_STATE_OPEN) {
      continue;
    }
    const int64_t offset = upload.committed_offset();
    ASSERT_GE(offset, 0);
    ASSERT_LE(offset, static_cast<int64_t>(kArtifactBytes));
    sov::testing::PushOptions options;
    options.digest = out.digest;
    v1::PushResponse response;
    status = client->PushBytes(out.upload_id, offset,
                               std::string_view(out.bytes).substr(static_cast<size_t>(offset)),
                               options, &response);
    ASSERT_TRUE(status.ok()) << out.name << " resumed at " << offset << ": " << Describe(status);
    std::cout << out.name << " resumed at offset " << offset << " and committed\n";
    sov::testing::FetchResult fetched = client->Fetch(out.name, "1.0.0");
    ASSERT_TRUE(fetched.status.ok()) << Describe(fetched.status);
    EXPECT_EQ(sov::testing::DigestOf(fetched.bytes), out.digest);
    break;
  }
  client.reset();
  EXPECT_TRUE(gateway.Stop()) << gateway.sovd()->Stderr();
}

}  // namespace
}  // namespace sov
