// Shows that a real sovd never serves tampered bytes: after one byte in the middle of a stored
// blob is flipped, Fetch delivers only bytes equal to the original prefix and ends with
// DATA_LOSS, and the failure is recorded as an INTEGRITY_FAILURE audit entry that compliance
// can query.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/integration/registry_client.h"

namespace sov {
namespace {

using ::testing::HasSubstr;
using sov::testing::Describe;
namespace fs = std::filesystem;

constexpr char kName[] = "acme-ml/fraud/tampered";
constexpr size_t kSize = 3 << 20;  // three encryption chunks

// Flips one byte at the middle of the file; returns false when it cannot.
bool FlipMiddleByte(const fs::path& file) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  if (!f) return false;
  f.seekg(0, std::ios::end);
  const std::streamoff size = f.tellg();
  if (size < 2) return false;
  const std::streamoff middle = size / 2;
  f.seekg(middle);
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(middle);
  f.write(&c, 1);
  return static_cast<bool>(f);
}

TEST(RegistryTamperTest, FlippedByteIsDataLossWithNoTamperedBytesServedAndIsAudited) {
  sov::testing::DevGateway gateway;
  std::string error;
  ASSERT_TRUE(gateway.Start(&error)) << error;
  std::unique_ptr<sov::testing::RegistryClient> acme = gateway.Client("acme-ml");
  const std::string bytes = sov::testing::RandomBytes(kSize, 42);
  v1::PushResponse pushed;
  grpc::Status status = acme->Push(
      sov::testing::MakeSpec(v1::ARTIFACT_KIND_DATASET, kName, "1.0.0",
                             v1::CLASSIFICATION_INTERNAL),
      bytes, &pushed);
  ASSERT_TRUE(status.ok()) << Describe(status);
  const std::string location = pushed.artifact().storage_location().id();
  ASSERT_FALSE(location.empty());

  // Intact first.
  sov::testing::FetchResult fetched = acme->Fetch(kName, "1.0.0");
  ASSERT_TRUE(fetched.status.ok()) << Describe(fetched.status);
  ASSERT_EQ(fetched.bytes, bytes);

  // The one blob of this gateway.
  std::vector<fs::path> blobs;
  const fs::path root = fs::path(gateway.File("blobs")) / location / "blobs";
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file() && e.path().extension() == ".blob") blobs.push_back(e.path());
  }
  ASSERT_EQ(blobs.size(), 1u) << root;
  ASSERT_TRUE(FlipMiddleByte(blobs.front())) << blobs.front();

  fetched = acme->Fetch(kName, "1.0.0");
  EXPECT_EQ(fetched.status.error_code(), grpc::StatusCode::DATA_LOSS) << Describe(fetched.status);
  EXPECT_TRUE(fetched.has_header);
  EXPECT_LT(fetched.bytes.size(), bytes.size());
  EXPECT_TRUE(fetched.bytes == bytes.substr(0, fetched.bytes.size()))
      << "bytes served before the error differ from the original (" << fetched.bytes.size()
      << " bytes in " << fetched.chunks << " chunks)";
  // A flip in the middle lies past the first encryption chunk: that one may come, the rest not.
  EXPECT_LE(fetched.bytes.size(), size_t{2} << 20);

  // A range inside the tampered chunk is refused too, with nothing of it served.
  sov::testing::FetchResult range = acme->Fetch(kName, "1.0.0", (3 << 20) / 2 - 10, 20);
  EXPECT_EQ(range.status.error_code(), grpc::StatusCode::DATA_LOSS) << Describe(range.status);
  EXPECT_EQ(range.bytes, "");

  // compliance finds the INTEGRITY_FAILURE entry for this artifact.
  std::unique_ptr<sov::testing::RegistryClient> compliance = gateway.Client("compliance");
  v1::QueryRequest query;
  query.mutable_filter()->add_types(v1::AUDIT_EVENT_TYPE_INTEGRITY_FAILURE);
  v1::QueryResponse entries;
  status = compliance->QueryAudit(query, &entries);
  ASSERT_TRUE(status.ok()) << Describe(status);
  ASSERT_GE(entries.entries_size(), 1);
  const v1::AuditEntry& entry = entries.entries(0);
  EXPECT_EQ(entry.type(), v1::AUDIT_EVENT_TYPE_INTEGRITY_FAILURE);
  EXPECT_EQ(entry.artifact().name(), kName);
  EXPECT_EQ(entry.artifact().version(), "1.0.0");
  EXPECT_EQ(entry.artifact().digest(), sov::testing::DigestOf(bytes));
  EXPECT_EQ(entry.action(), "artifact.fetch");
  EXPECT_EQ(entry.principal().tenant_id(), "acme-ml");
  EXPECT_THAT(entry.details().ShortDebugString(), HasSubstr(location));
  acme.reset();
  compliance.reset();
  EXPECT_TRUE(gateway.Stop()) << gateway.sovd()->Stderr();
}

}  // namespace
}  // namespace sov
