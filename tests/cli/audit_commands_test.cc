// Shows `sovctl audit export`, `audit verify` (live), `audit tail` and `audit query` against an in-process fake AuditService serving a hand-built log.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "crypto/ed25519.h"
#include "sov/v1/audit.grpc.pb.h"
#include "tests/cli/audit_export_builder.h"
#include "tests/cli/temp_dir.h"

namespace sov::cli {
namespace {

using ::sov::cli::testing::AuditExportBuilder;
using ::sov::cli::testing::ReadTestFile;
using ::sov::cli::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Serves the records of an AuditExportBuilder.
class FakeAudit final : public v1::AuditService::Service {
 public:
  explicit FakeAudit(const std::vector<v1::ExportResponse>* records) : records_(records) {}

  std::optional<v1::QueryRequest> last_query;

  grpc::Status Export(grpc::ServerContext*, const v1::ExportRequest*,
                      grpc::ServerWriter<v1::ExportResponse>* writer) override {
    for (const v1::ExportResponse& record : *records_) writer->Write(record);
    return grpc::Status::OK;
  }

  grpc::Status Query(grpc::ServerContext*, const v1::QueryRequest* request,
                     v1::QueryResponse* response) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_query = *request;
    }
    std::vector<const v1::AuditEntry*> entries;
    for (const v1::ExportResponse& record : *records_) {
      if (record.has_entry()) entries.push_back(&record.entry());
    }
    if (request->descending()) std::reverse(entries.begin(), entries.end());
    for (const v1::AuditEntry* entry : entries) {
      if (request->page_size() > 0 && response->entries_size() >= request->page_size()) break;
      *response->add_entries() = *entry;
    }
    return grpc::Status::OK;
  }

 private:
  const std::vector<v1::ExportResponse>* records_;
  std::mutex mu_;
};

class AuditCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 5; ++i) {
      builder_.AddEntry(i % 2 == 0 ? "artifact.fetch" : "artifact.push");
      if (i == 2 || i == 4) builder_.AddCheckpoint();
    }
    grpc::ServerBuilder server;
    server.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    server.RegisterService(&fake_);
    server_ = server.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_TRUE(crypto::WritePublicKeyFile(dir_.Join("signing.pub"), registry_.public_key()).ok());
  }
  void TearDown() override { server_->Shutdown(); }

  struct Run {
    int exit_code;
    std::string out;
    std::string err;
  };

  Run Sovctl(std::vector<std::string> args) {
    std::vector<std::string> all = {"sovctl", "--insecure", "--addr",
                                    "127.0.0.1:" + std::to_string(port_)};
    for (std::string& arg : args) {
      all.push_back(arg.starts_with("@") ? dir_.Join(arg.substr(1)) : arg);
    }
    std::vector<const char*> argv;
    for (const std::string& arg : all) argv.push_back(arg.c_str());
    std::ostringstream out, err;
    const std::string home = dir_.path();
    int code = RunSovctl(static_cast<int>(argv.size()), argv.data(), out, err,
                         [home](const std::string& name) -> std::optional<std::string> {
                           if (name == "HOME") return home;
                           return std::nullopt;
                         });
    return {code, out.str(), err.str()};
  }

  crypto::Ed25519PrivateKey registry_ = crypto::Ed25519PrivateKey::Generate();
  AuditExportBuilder builder_{registry_};
  FakeAudit fake_{&builder_.records};
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  TempDir dir_;
};

// export writes the stream as JSON lines, renamed into place, and says what it wrote.
TEST_F(AuditCommandsTest, ExportWritesJsonLines) {
  Run run = Sovctl({"audit", "export", "-o", "@audit.jsonl"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(ReadTestFile(dir_.Join("audit.jsonl")), builder_.Jsonl());
  EXPECT_FALSE(std::filesystem::exists(dir_.Join("audit.jsonl.part")));
  EXPECT_THAT(run.out, HasSubstr("entries:     5 (index 0 to 4)"));
  EXPECT_THAT(run.out, HasSubstr("checkpoints: 2"));

  // ... which audit verify then accepts offline.
  Run verify =
      Sovctl({"audit", "verify", "--file", "@audit.jsonl", "--registry-key", "@signing.pub"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
}

// verify without --file checks the live log as it streams.
TEST_F(AuditCommandsTest, LiveVerify) {
  Run run = Sovctl({"audit", "verify", "--registry-key", "@signing.pub"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "audit log verified: 5 entries, 2 checkpoints, latest root " +
                         builder_.RootHex() + " at tree size 5 signed by " +
                         registry_.public_key().KeyId() + "\n");
}

// A live log with an edited entry fails naming it.
TEST_F(AuditCommandsTest, LiveVerifyNamesTheEditedEntry) {
  v1::AuditEntry* entry = builder_.records[1].mutable_entry();
  std::string data = entry->leaf_data();
  data.replace(data.find("artifact.push"), 13, "artifact.pull");
  entry->set_leaf_data(data);
  Run run = Sovctl({"audit", "verify", "--registry-key", "@signing.pub"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, StartsWith("sovctl: error: audit log verification failed: entry 1: "
                                  "leaf_data does not hash to the value entry 2 chains to"));
}

// Without a configured key (and without --trust-server-key), live verify says how to give one.
TEST_F(AuditCommandsTest, LiveVerifyNeedsAKey) {
  Run run = Sovctl({"audit", "verify"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, StartsWith("sovctl: error: no registry key"));
}

// tail prints the latest entries oldest first, one line each.
TEST_F(AuditCommandsTest, TailPrintsLatestEntries) {
  Run run = Sovctl({"audit", "tail", "-n", "2"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, StartsWith("3  -  -  artifact.push  "));
  EXPECT_THAT(run.out, HasSubstr("\n4  -  -  artifact.fetch  "));
  EXPECT_TRUE(fake_.last_query->descending());
  EXPECT_EQ(fake_.last_query->page_size(), 2);

  Run json = Sovctl({"audit", "tail", "-n", "1", "--output", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(nlohmann::json::parse(json.out)["index"], "4");
}

// query sends the filter and prints a table with a header.
TEST_F(AuditCommandsTest, QuerySendsTheFilter) {
  Run run = Sovctl({"audit", "query", "--effect", "deny", "--tenant", "shop", "--action",
                    "artifact.fetch", "--artifact", "acme-ml/fraud@1.0.0", "--since",
                    "2026-11-01", "--limit", "3"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, StartsWith("INDEX  TIME  TENANT  ACTION"));
  const v1::AuditFilter& filter = fake_.last_query->filter();
  EXPECT_EQ(filter.effect(), v1::EFFECT_DENY);
  EXPECT_EQ(filter.tenant_id(), "shop");
  EXPECT_EQ(filter.actions(0), "artifact.fetch");
  EXPECT_EQ(filter.artifact().name(), "acme-ml/fraud");
  EXPECT_EQ(filter.artifact().version(), "1.0.0");
  EXPECT_EQ(filter.window().start_time().seconds(), 1793491200);  // 2026-11-01T00:00:00Z
  EXPECT_EQ(fake_.last_query->page_size(), 3);
}

}  // namespace
}  // namespace sov::cli
