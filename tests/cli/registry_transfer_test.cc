// Shows push and pull against an in-process fake RegistryService (loopback, plaintext): resuming a broken push and a broken or interrupted pull from where the gateway or FILE.part left off, and a pull that refuses bad bytes or an unverified manifest without touching FILE.
#include <filesystem>
#include <map>
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
#include "cli/proto_interop.h"
#include "crypto/ed25519.h"
#include "crypto/intoto.h"
#include "crypto/sha256.h"
#include "sov/v1/error.pb.h"
#include "sov/v1/registry.grpc.pb.h"
#include "tests/cli/temp_dir.h"

namespace sov::cli {
namespace {

using ::sov::cli::testing::ReadTestFile;
using ::sov::cli::testing::TempDir;
using ::sov::cli::testing::WriteTestFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr int64_t kMiB = 1 << 20;

// A RegistryService that keeps one upload and one artifact in memory, with knobs that break
// streams the way a restarting gateway would.
class FakeRegistry final : public v1::RegistryService::Service {
 public:
  explicit FakeRegistry(const crypto::Ed25519PrivateKey& key) : key_(key) {}

  // Push: once this many bytes arrived in one stream, fail UNAVAILABLE (once), losing the chunk
  // in flight.
  std::optional<int64_t> break_push_after;
  // Fetch: after this many bytes in one stream, fail UNAVAILABLE (once).
  std::optional<int64_t> break_fetch_after;
  // Fetch: flip a bit of the byte at this offset.
  std::optional<int64_t> corrupt_at;
  // CreateUpload: report this committed offset instead of the real one (as when another stream
  // wrote in between).
  std::optional<int64_t> create_reports_offset;
  // The key that signs manifests (default: the registry key the client trusts).
  const crypto::Ed25519PrivateKey* manifest_key = nullptr;

  std::vector<int64_t> push_offsets;   // header offset of each Push stream
  std::vector<int64_t> fetch_offsets;  // offset of each Fetch
  std::vector<std::string> fetch_pins;  // digest pin of each Fetch
  int cancels = 0;

  // Makes the artifact `name@version` with `bytes` exist, as after a committed push.
  void Store(const std::string& name, const std::string& version, const std::string& bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    bytes_ = bytes;
    Commit(name, version);
  }

  // Opens an upload as an earlier run would have left it.
  void SeedUpload(const v1::ArtifactSpec& spec, const std::string& digest, int64_t size,
                  const std::string& committed_bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    upload_.set_upload_id("up-seeded");
    *upload_.mutable_spec() = spec;
    upload_.set_size_bytes(size);
    upload_.set_expected_digest(digest);
    upload_.set_state(v1::UPLOAD_STATE_OPEN);
    upload_.set_committed_offset(static_cast<int64_t>(committed_bytes.size()));
    bytes_ = committed_bytes;
  }

  std::string bytes() {
    std::lock_guard<std::mutex> lock(mu_);
    return bytes_;
  }

  grpc::Status CreateUpload(grpc::ServerContext*, const v1::CreateUploadRequest* request,
                            v1::CreateUploadResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (upload_.state() == v1::UPLOAD_STATE_OPEN &&
        upload_.spec().SerializeAsString() == request->spec().SerializeAsString()) {
      *response->mutable_upload() = upload_;  // idempotent: the open upload, where it stands
      if (create_reports_offset) response->mutable_upload()->set_committed_offset(*create_reports_offset);
      return grpc::Status::OK;
    }
    upload_.Clear();
    upload_.set_upload_id("up-" + std::to_string(++uploads_));
    *upload_.mutable_spec() = request->spec();
    upload_.set_size_bytes(request->size_bytes());
    upload_.set_expected_digest(request->expected_digest());
    upload_.set_state(v1::UPLOAD_STATE_OPEN);
    upload_.mutable_storage_location()->set_id("eu-de-1");
    upload_.mutable_storage_location()->set_jurisdiction("DE");
    bytes_.clear();
    *response->mutable_upload() = upload_;
    return grpc::Status::OK;
  }

  grpc::Status GetUpload(grpc::ServerContext*, const v1::GetUploadRequest* request,
                         v1::GetUploadResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (request->upload_id() != upload_.upload_id()) return {grpc::StatusCode::NOT_FOUND, "no upload"};
    *response->mutable_upload() = upload_;
    return grpc::Status::OK;
  }

  grpc::Status CancelUpload(grpc::ServerContext*, const v1::CancelUploadRequest* request,
                            v1::CancelUploadResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (request->upload_id() != upload_.upload_id()) return {grpc::StatusCode::NOT_FOUND, "no upload"};
    upload_.set_state(v1::UPLOAD_STATE_ABORTED);
    upload_.set_abort_reason("cancelled");
    bytes_.clear();
    ++cancels;
    *response->mutable_upload() = upload_;
    return grpc::Status::OK;
  }

  grpc::Status Push(grpc::ServerContext* context, grpc::ServerReader<v1::PushRequest>* reader,
                    v1::PushResponse* response) override {
    v1::PushRequest message;
    if (!reader->Read(&message) || !message.has_header()) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "first message is not a header"};
    }
    std::lock_guard<std::mutex> lock(mu_);
    push_offsets.push_back(message.header().offset());
    if (message.header().upload_id() != upload_.upload_id()) {
      return {grpc::StatusCode::NOT_FOUND, "no upload"};
    }
    if (message.header().offset() != upload_.committed_offset()) {
      v1::ErrorDetail detail;
      detail.set_reason(v1::ERROR_REASON_UPLOAD_OFFSET_MISMATCH);
      detail.set_committed_offset(upload_.committed_offset());
      context->AddTrailingMetadata("sov-error-bin", detail.SerializeAsString());
      return {grpc::StatusCode::ABORTED, "offset mismatch"};
    }
    int64_t in_stream = 0;
    while (reader->Read(&message)) {
      if (message.has_chunk()) {
        bytes_ += message.chunk();
        in_stream += static_cast<int64_t>(message.chunk().size());
        if (break_push_after && in_stream >= *break_push_after) {
          break_push_after.reset();
          // The chunk in flight is lost; what came before is durable.
          bytes_.resize(bytes_.size() - message.chunk().size());
          upload_.set_committed_offset(static_cast<int64_t>(bytes_.size()));
          return {grpc::StatusCode::UNAVAILABLE, "gateway restarting"};
        }
      } else if (message.has_commit()) {
        if (crypto::Sha256Of(bytes_).ToString() != message.commit().digest()) {
          upload_.set_state(v1::UPLOAD_STATE_ABORTED);
          return {grpc::StatusCode::INVALID_ARGUMENT, "digest mismatch"};
        }
        Commit(upload_.spec().name(), upload_.spec().version());
        upload_.set_state(v1::UPLOAD_STATE_COMMITTED);
        upload_.set_committed_offset(static_cast<int64_t>(bytes_.size()));
        upload_.mutable_artifact()->set_name(artifact_.name());
        upload_.mutable_artifact()->set_version(artifact_.version());
        upload_.mutable_artifact()->set_digest(artifact_.digest());
        *response->mutable_upload() = upload_;
        *response->mutable_artifact() = artifact_;
        *response->mutable_manifest() = manifest_;
        return grpc::Status::OK;
      }
    }
    upload_.set_committed_offset(static_cast<int64_t>(bytes_.size()));
    *response->mutable_upload() = upload_;
    return grpc::Status::OK;
  }

  grpc::Status GetArtifact(grpc::ServerContext*, const v1::GetArtifactRequest* request,
                           v1::GetArtifactResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (artifact_.name().empty() || request->artifact().name() != artifact_.name()) {
      return {grpc::StatusCode::NOT_FOUND, "no such artifact"};
    }
    *response->mutable_artifact() = artifact_;
    *response->mutable_manifest() = manifest_;
    return grpc::Status::OK;
  }

  grpc::Status Fetch(grpc::ServerContext*, const v1::FetchRequest* request,
                     grpc::ServerWriter<v1::FetchResponse>* writer) override {
    std::string bytes;
    v1::FetchResponse header;
    {
      std::lock_guard<std::mutex> lock(mu_);
      fetch_offsets.push_back(request->offset());
      fetch_pins.push_back(request->artifact().digest());
      if (!request->artifact().digest().empty() && request->artifact().digest() != artifact_.digest()) {
        return {grpc::StatusCode::FAILED_PRECONDITION, "digest pin mismatch"};
      }
      bytes = bytes_;
      *header.mutable_header()->mutable_artifact() = artifact_;
      *header.mutable_header()->mutable_manifest() = manifest_;
    }
    const int64_t offset = request->offset();
    if (offset > static_cast<int64_t>(bytes.size())) return {grpc::StatusCode::OUT_OF_RANGE, "offset"};
    if (corrupt_at) bytes[static_cast<size_t>(*corrupt_at)] ^= 1;
    header.mutable_header()->set_offset(offset);
    header.mutable_header()->set_length(static_cast<int64_t>(bytes.size()) - offset);
    writer->Write(header);
    int64_t sent = 0;
    for (int64_t at = offset; at < static_cast<int64_t>(bytes.size()); at += kMiB / 2) {
      if (break_fetch_after && sent >= *break_fetch_after) {
        break_fetch_after.reset();
        return {grpc::StatusCode::UNAVAILABLE, "gateway restarting"};
      }
      v1::FetchResponse chunk;
      chunk.set_chunk(bytes.substr(static_cast<size_t>(at), kMiB / 2));
      sent += static_cast<int64_t>(chunk.chunk().size());
      writer->Write(chunk);
    }
    return grpc::Status::OK;
  }

 private:
  // Records the artifact of bytes_ and signs its manifest (mu_ held).
  void Commit(const std::string& name, const std::string& version) {
    const crypto::Digest digest = crypto::Sha256Of(bytes_);
    artifact_.Clear();
    artifact_.set_name(name);
    artifact_.set_version(version);
    artifact_.set_kind(v1::ARTIFACT_KIND_MODEL);
    artifact_.set_digest(digest.ToString());
    artifact_.set_size_bytes(static_cast<int64_t>(bytes_.size()));
    artifact_.set_stage(v1::STAGE_PENDING);
    artifact_.mutable_storage_location()->set_id("eu-de-1");
    artifact_.mutable_storage_location()->set_jurisdiction("DE");
    crypto::Statement statement;
    statement.subject.push_back(crypto::SubjectFor(name, digest));
    statement.predicate_type = "https://sovereign.dev/attestations/manifest/v1";
    statement.predicate = {{"version", version}};
    manifest_ = ToProtoEnvelope(
        crypto::SignStatement(statement, manifest_key != nullptr ? *manifest_key : key_));
    artifact_.set_manifest_digest(crypto::Sha256Of(manifest_.payload()).ToString());
  }

  const crypto::Ed25519PrivateKey& key_;
  std::mutex mu_;
  v1::Upload upload_;
  int uploads_ = 0;
  std::string bytes_;
  v1::Artifact artifact_;
  v1::DsseEnvelope manifest_;
};

// Bytes that differ at every position, so that a misplaced chunk changes the digest.
std::string Pattern(int64_t size) {
  std::string out(static_cast<size_t>(size), '\0');
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>((i * 131 + i / 7919) & 0xff);
  return out;
}

class RegistryTransferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
    ASSERT_TRUE(crypto::WritePublicKeyFile(dir_.Join("signing.pub"), registry_.public_key()).ok());
  }
  void TearDown() override { server_->Shutdown(); }

  struct Run {
    int exit_code;
    std::string out;
    std::string err;
  };

  // Runs sovctl in-process against the fake, in the test's directory, with no config file.
  Run Sovctl(std::vector<std::string> args) {
    std::vector<std::string> all = {"sovctl", "--insecure", "--addr",
                                    "127.0.0.1:" + std::to_string(port_)};
    for (std::string& arg : args) {
      // Paths are relative to the test directory.
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

  std::vector<std::string> PushArgs(const std::string& file) {
    return {"push", "@" + file, "--kind", "model", "--name", "acme-ml/fraud/classifier",
            "--version", "1.4.0", "--purpose", "fraud-detection"};
  }

  crypto::Ed25519PrivateKey registry_ = crypto::Ed25519PrivateKey::Generate();
  FakeRegistry fake_{registry_};
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  TempDir dir_;
};

// A push of 3.5 MiB whose first stream breaks after 2.5 MiB resumes at the durable 2 MiB and
// commits the exact bytes.
TEST_F(RegistryTransferTest, PushResumesAfterABrokenStream) {
  const std::string data = Pattern(7 * kMiB / 2);
  WriteTestFile(dir_.Join("model.bin"), data);
  fake_.break_push_after = 5 * kMiB / 2;
  Run run = Sovctl(PushArgs("model.bin"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(fake_.push_offsets, ElementsAre(0, 2 * kMiB));
  EXPECT_TRUE(fake_.bytes() == data);
  EXPECT_THAT(run.out, HasSubstr("artifact: acme-ml/fraud/classifier@1.4.0"));
  EXPECT_THAT(run.out, HasSubstr(crypto::Sha256Of(data).ToString()));
  EXPECT_THAT(run.out, HasSubstr("eu-de-1 (DE)"));
}

// Running push again continues the open upload an earlier run left, at its committed offset.
TEST_F(RegistryTransferTest, RerunResumesTheOpenUpload) {
  const std::string data = Pattern(3 * kMiB);
  WriteTestFile(dir_.Join("model.bin"), data);
  // The spec exactly as push builds it, so that CreateUpload finds the open upload.
  v1::ArtifactSpec spec;
  spec.set_kind(v1::ARTIFACT_KIND_MODEL);
  spec.set_name("acme-ml/fraud/classifier");
  spec.set_version("1.4.0");
  spec.add_purposes("fraud-detection");
  fake_.SeedUpload(spec, crypto::Sha256Of(data).ToString(), 3 * kMiB, data.substr(0, kMiB));
  Run run = Sovctl(PushArgs("model.bin"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(fake_.push_offsets, ElementsAre(kMiB));
  EXPECT_THAT(run.err, HasSubstr("resuming upload up-seeded at 1.0 MiB of 3.0 MiB"));
  EXPECT_TRUE(fake_.bytes() == data);
}

// A Push at a stale offset gets ABORTED with the committed offset in the sov-error-bin trailer;
// sovctl asks GetUpload and continues from there.
TEST_F(RegistryTransferTest, OffsetMismatchContinuesAtTheCommittedOffset) {
  const std::string data = Pattern(2 * kMiB);
  WriteTestFile(dir_.Join("model.bin"), data);
  v1::ArtifactSpec spec;
  spec.set_kind(v1::ARTIFACT_KIND_MODEL);
  spec.set_name("acme-ml/fraud/classifier");
  spec.set_version("1.4.0");
  spec.add_purposes("fraud-detection");
  fake_.SeedUpload(spec, crypto::Sha256Of(data).ToString(), 2 * kMiB, data.substr(0, kMiB));
  fake_.create_reports_offset = 0;
  Run run = Sovctl(PushArgs("model.bin"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(fake_.push_offsets, ElementsAre(0, kMiB));
  EXPECT_TRUE(fake_.bytes() == data);
}

// An open upload for other bytes (the file changed since) is cancelled and the push starts over.
TEST_F(RegistryTransferTest, OpenUploadOfOtherBytesIsCancelled) {
  const std::string data = Pattern(kMiB + 5);
  WriteTestFile(dir_.Join("model.bin"), data);
  v1::ArtifactSpec spec;
  spec.set_kind(v1::ARTIFACT_KIND_MODEL);
  spec.set_name("acme-ml/fraud/classifier");
  spec.set_version("1.4.0");
  spec.add_purposes("fraud-detection");
  fake_.SeedUpload(spec, crypto::Sha256Of("older bytes").ToString(), kMiB + 5, "older");
  Run run = Sovctl(PushArgs("model.bin"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(fake_.cancels, 1);
  EXPECT_THAT(run.err, HasSubstr("was for other bytes"));
  EXPECT_THAT(fake_.push_offsets, ElementsAre(0));
  EXPECT_TRUE(fake_.bytes() == data);
}

// push --output json prints the artifact and its manifest in proto3 JSON.
TEST_F(RegistryTransferTest, PushJson) {
  WriteTestFile(dir_.Join("model.bin"), "weights");
  std::vector<std::string> args = PushArgs("model.bin");
  args.insert(args.end(), {"--output", "json"});
  Run run = Sovctl(args);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  nlohmann::json doc = nlohmann::json::parse(run.out);
  EXPECT_EQ(doc["artifact"]["digest"], crypto::Sha256Of("weights").ToString());
  EXPECT_EQ(doc["artifact"]["stage"], "STAGE_PENDING");
  EXPECT_EQ(doc["manifest"]["payloadType"], "application/vnd.in-toto+json");
}

// A pull verifies and renames into place; nothing of FILE.part is left.
TEST_F(RegistryTransferTest, PullVerifiesAndRenames) {
  const std::string data = Pattern(2 * kMiB + 17);
  fake_.Store("acme-ml/fraud/classifier", "1.4.0", data);
  Run run = Sovctl({"pull", "acme-ml/fraud/classifier@1.4.0", "-o", "@model.bin",
                    "--registry-key", "@signing.pub"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(ReadTestFile(dir_.Join("model.bin")) == data);
  EXPECT_FALSE(std::filesystem::exists(dir_.Join("model.bin.part")));
  EXPECT_FALSE(std::filesystem::exists(dir_.Join("model.bin.part.digest")));
  EXPECT_THAT(run.out, HasSubstr("(verified)"));
  EXPECT_THAT(run.out, HasSubstr(registry_.public_key().KeyId()));
  // Every Fetch is pinned to the digest the signed manifest names.
  EXPECT_THAT(fake_.fetch_pins, ElementsAre(crypto::Sha256Of(data).ToString()));
}

// A broken Fetch resumes with a byte range at the bytes already written.
TEST_F(RegistryTransferTest, PullResumesAfterABrokenStream) {
  const std::string data = Pattern(3 * kMiB);
  fake_.Store("acme-ml/fraud/classifier", "1.4.0", data);
  fake_.break_fetch_after = 3 * kMiB / 2;
  Run run = Sovctl({"pull", "acme-ml/fraud/classifier@1.4.0", "-o", "@model.bin",
                    "--registry-key", "@signing.pub"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(fake_.fetch_offsets, ElementsAre(0, 3 * kMiB / 2));
  EXPECT_TRUE(ReadTestFile(dir_.Join("model.bin")) == data);
}

// A FILE.part of the same digest from an earlier run is continued, not downloaded again.
TEST_F(RegistryTransferTest, PullContinuesAnEarlierPartFile) {
  const std::string data = Pattern(2 * kMiB);
  fake_.Store("acme-ml/fraud/classifier", "1.4.0", data);
  WriteTestFile(dir_.Join("model.bin.part"), data.substr(0, kMiB));
  WriteTestFile(dir_.Join("model.bin.part.digest"), crypto::Sha256Of(data).ToString() + "\n");
  Run run = Sovctl({"pull", "acme-ml/fraud/classifier", "-o", "@model.bin", "--registry-key",
                    "@signing.pub"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(fake_.fetch_offsets, ElementsAre(kMiB));
  EXPECT_TRUE(ReadTestFile(dir_.Join("model.bin")) == data);
}

// A FILE.part of another digest (another version) is started over, never mixed in.
TEST_F(RegistryTransferTest, PullStartsOverAPartFileOfAnotherDigest) {
  const std::string data = Pattern(kMiB);
  fake_.Store("acme-ml/fraud/classifier", "1.4.0", data);
  WriteTestFile(dir_.Join("model.bin.part"), "bytes of version 1.3.0");
  WriteTestFile(dir_.Join("model.bin.part.digest"), crypto::Sha256Of("v1.3.0").ToString() + "\n");
  Run run = Sovctl({"pull", "acme-ml/fraud/classifier@1.4.0", "-o", "@model.bin",
                    "--registry-key", "@signing.pub"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(fake_.fetch_offsets, ElementsAre(0));
  EXPECT_TRUE(ReadTestFile(dir_.Join("model.bin")) == data);
}

// Bytes that do not have the signed digest are deleted and FILE is left untouched.
TEST_F(RegistryTransferTest, PullRefusesBadBytes) {
  fake_.Store("acme-ml/fraud/classifier", "1.4.0", Pattern(kMiB));
  fake_.corrupt_at = 1000;
  WriteTestFile(dir_.Join("model.bin"), "the old model");
  Run run = Sovctl({"pull", "acme-ml/fraud/classifier@1.4.0", "-o", "@model.bin",
                    "--registry-key", "@signing.pub"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, StartsWith("sovctl: error: the downloaded bytes have sha256:"));
  EXPECT_THAT(run.err, HasSubstr("was deleted and " + dir_.Join("model.bin") + " left untouched"));
  EXPECT_EQ(ReadTestFile(dir_.Join("model.bin")), "the old model");
  EXPECT_FALSE(std::filesystem::exists(dir_.Join("model.bin.part")));
}

// A manifest that the pinned registry key did not sign stops the pull before any byte.
TEST_F(RegistryTransferTest, PullRefusesAnUnverifiedManifest) {
  crypto::Ed25519PrivateKey impostor = crypto::Ed25519PrivateKey::Generate();
  fake_.manifest_key = &impostor;
  fake_.Store("acme-ml/fraud/classifier", "1.4.0", Pattern(kMiB));
  Run run = Sovctl({"pull", "acme-ml/fraud/classifier@1.4.0", "-o", "@model.bin",
                    "--registry-key", "@signing.pub"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("does not verify with registry key"));
  EXPECT_THAT(run.err, HasSubstr("nothing was downloaded"));
  EXPECT_TRUE(fake_.fetch_offsets.empty());
  EXPECT_FALSE(std::filesystem::exists(dir_.Join("model.bin")));
  EXPECT_FALSE(std::filesystem::exists(dir_.Join("model.bin.part")));
}

}  // namespace
}  // namespace sov::cli
