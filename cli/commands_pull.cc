// `sovctl pull`: downloads an artifact and verifies it before it is put in place. The manifest
// is checked against the pinned registry key first; the bytes go to FILE.part, hashed as they
// arrive; only when they have the digest the signed manifest names is FILE.part fsynced and
// renamed to FILE. FILE.part.digest records which artifact FILE.part holds, so that a later pull
// of the same digest resumes with a byte range (pinned to that digest) instead of starting over.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/artifact_output.h"
#include "cli/artifact_ref.h"
#include "cli/commands.h"
#include "cli/gateway_connection.h"
#include "cli/manifest_check.h"
#include "cli/progress.h"
#include "cli/proto_interop.h"
#include "cli/registry_calls.h"
#include "cli/registry_key.h"
#include "common/file.h"
#include "crypto/sha256.h"
#include "sov/v1/registry.grpc.pb.h"

namespace sov::cli {
namespace {

struct PullOptions {
  std::string ref;
  std::string out;
  std::vector<std::string> registry_keys;
  bool trust_server_key = false;
  bool no_progress = false;
};

Status ErrnoStatus(const std::string& what, const std::string& path) {
  const int err = errno;
  std::string message = what + " " + path + ": " + std::strerror(err);
  if (err == ENOENT) return NotFound(std::move(message));
  if (err == EACCES || err == EPERM) return PermissionDenied(std::move(message));
  if (err == ENOSPC || err == EDQUOT) return ResourceExhausted(std::move(message));
  return Internal(std::move(message));
}

std::string DirectoryOf(const std::string& path) {
  std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

// FILE.part with its digest record: where the bytes go until they are verified.
class PartialFile {
 public:
  explicit PartialFile(const std::string& out)
      : out_(out), part_(out + ".part"), record_(out + ".part.digest") {}
  ~PartialFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  PartialFile(const PartialFile&) = delete;
  PartialFile& operator=(const PartialFile&) = delete;

  // Opens FILE.part for the artifact with `digest` and `size`: keeps its bytes (and hashes them
  // into `hasher`) when FILE.part.digest says they are of this digest and there are not too
  // many; otherwise starts it empty. Returns the offset to fetch from.
  Result<uint64_t> Open(const std::string& digest, uint64_t size, crypto::Sha256& hasher,
                        ProgressBar& progress) {
    Result<std::string> recorded = ReadFile(record_);
    if (recorded.ok() && *recorded == digest + "\n") {
      fd_ = ::open(part_.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
      struct stat st {};
      if (fd_ >= 0 && ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode) &&
          static_cast<uint64_t>(st.st_size) <= size) {
        SOV_RETURN_IF_ERROR(HashExisting(static_cast<uint64_t>(st.st_size), hasher, progress));
        return static_cast<uint64_t>(st.st_size);
      }
      if (fd_ >= 0) ::close(fd_);
      fd_ = -1;
    }
    // A fresh start: the record first, so FILE.part never holds bytes of an unrecorded digest.
    ::unlink(record_.c_str());
    fd_ = ::open(part_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd_ < 0) return ErrnoStatus("cannot create", part_);
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return ErrnoStatus("cannot stat", part_);
    if (!S_ISREG(st.st_mode)) return FailedPrecondition(part_ + " is not a regular file");
    if (Status s = WriteFileAtomic(record_, digest + "\n", 0644); !s.ok()) return s;
    return uint64_t{0};
  }

  // Appends `bytes` at `offset`.
  Status WriteAt(uint64_t offset, std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("cannot write", part_);
      }
      bytes.remove_prefix(static_cast<size_t>(n));
      offset += static_cast<uint64_t>(n);
    }
    return OkStatus();
  }

  // Makes FILE.part durable and renames it to FILE; removes the digest record.
  Status Commit() {
    if (::fsync(fd_) != 0) return ErrnoStatus("cannot fsync", part_);
    if (::close(fd_) != 0) {
      fd_ = -1;
      return ErrnoStatus("cannot close", part_);
    }
    fd_ = -1;
    if (::rename(part_.c_str(), out_.c_str()) != 0) return ErrnoStatus("cannot rename to", out_);
    ::unlink(record_.c_str());
    return SyncDirectory(DirectoryOf(out_));
  }

  // Deletes FILE.part and its record: their bytes must not be resumed.
  void Discard() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    ::unlink(part_.c_str());
    ::unlink(record_.c_str());
  }

  const std::string& part() const { return part_; }

 private:
  Status HashExisting(uint64_t size, crypto::Sha256& hasher, ProgressBar& progress) {
    std::string buffer(1 << 20, '\0');
    uint64_t done = 0;
    while (done < size) {
      ssize_t n = ::pread(fd_, buffer.data(),
                          static_cast<size_t>(std::min<uint64_t>(buffer.size(), size - done)),
                          static_cast<off_t>(done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("cannot read", part_);
      }
      if (n == 0) return Aborted(part_ + " became shorter while it was being read");
      hasher.Update(std::string_view(buffer.data(), static_cast<size_t>(n)));
      done += static_cast<uint64_t>(n);
      progress.Update(done);
    }
    progress.Finish();
    return OkStatus();
  }

  std::string out_;
  std::string part_;
  std::string record_;
  int fd_ = -1;
};

// What one Fetch stream did.
struct FetchOutcome {
  grpc::Status status;
  Status local;  // a local failure (disk, or a stream that breaks the contract)
};

FetchOutcome FetchFrom(const GatewayConnection& connection, v1::RegistryService::Stub& stub,
                       const v1::Artifact& artifact, const v1::DsseEnvelope& manifest,
                       uint64_t& position, PartialFile& part, crypto::Sha256& hasher,
                       ProgressBar& progress) {
  const auto size = static_cast<uint64_t>(artifact.size_bytes());
  grpc::ClientContext context;
  connection.PrepareCall(context, GatewayConnection::Deadline::kNone);
  v1::FetchRequest request;
  request.mutable_artifact()->set_name(artifact.name());
  request.mutable_artifact()->set_version(artifact.version());
  // The pin: a resumed download can never mix the bytes of two artifacts.
  request.mutable_artifact()->set_digest(artifact.digest());
  request.set_offset(static_cast<int64_t>(position));
  std::unique_ptr<grpc::ClientReader<v1::FetchResponse>> reader = stub.Fetch(&context, request);

  FetchOutcome outcome;
  auto fail = [&](Status st) {
    outcome.local = std::move(st);
    context.TryCancel();
    outcome.status = reader->Finish();
    return outcome;
  };
  v1::FetchResponse message;
  bool header_seen = false;
  while (reader->Read(&message)) {
    if (!header_seen) {
      if (!message.has_header()) {
        return fail(Internal("the gateway's Fetch stream began without a header"));
      }
      const v1::FetchHeader& header = message.header();
      if (header.artifact().digest() != artifact.digest()) {
        return fail(FailedPrecondition("the gateway served " + header.artifact().digest() +
                                       ", not the pinned " + artifact.digest()));
      }
      if (header.offset() != static_cast<int64_t>(position)) {
        return fail(Internal("the gateway's Fetch starts at byte " +
                             std::to_string(header.offset()) + ", not " +
                             std::to_string(position)));
      }
      // The manifest verified before the download; the header's must state the same.
      if (header.manifest().payload() != manifest.payload() ||
          header.manifest().payload_type() != manifest.payload_type()) {
        return fail(FailedPrecondition(
            "the manifest in the Fetch header differs from the one GetArtifact returned"));
      }
      header_seen = true;
      continue;
    }
    if (message.has_header()) return fail(Internal("the gateway sent a second Fetch header"));
    if (message.part_case() != v1::FetchResponse::kChunk) continue;  // a part this build lacks
    const std::string& chunk = message.chunk();
    if (position + chunk.size() > size) {
      return fail(DataLoss("the gateway sent more bytes than the artifact's " +
                           std::to_string(size)));
    }
    if (Status st = part.WriteAt(position, chunk); !st.ok()) return fail(st);
    hasher.Update(chunk);
    position += chunk.size();
    progress.Update(position);
  }
  outcome.status = reader->Finish();
  if (outcome.status.ok() && !header_seen) {
    outcome.local = Internal("the gateway's Fetch stream ended without a header");
  }
  if (!outcome.status.ok()) outcome.local = RpcFailure(outcome.status, &context);
  return outcome;
}

int RunPull(const CommandLine& cli, const PullOptions& opts) {
  Result<ArtifactRefText> ref = ParseArtifactRef(opts.ref, VersionRule::kOptional);
  if (!ref.ok()) return ReportUsageError(*cli.err, "pull", ref.status().message());
  std::error_code ec;
  if (std::filesystem::is_directory(opts.out, ec)) {
    return ReportUsageError(*cli.err, "pull",
                            "-o " + opts.out + " is a directory; name the file to write");
  }

  Result<GatewayConnection> connection = OpenGatewayConnection(cli.connection, cli.env);
  if (!connection.ok()) return ReportLocalError(*cli.err, connection.status());
  Result<TrustedRegistryKeys> keys =
      ObtainRegistryKeys(opts.registry_keys, opts.trust_server_key, cli.connection, cli.env,
                         &*connection, *cli.err);
  if (!keys.ok()) return ReportLocalError(*cli.err, keys.status());

  // The record and manifest first: the digest they verify is pinned for every Fetch below.
  v1::ArtifactRef wanted;
  wanted.set_name(ref->name);
  wanted.set_version(ref->version);
  Result<v1::GetArtifactResponse> got = GetArtifact(*connection, wanted);
  if (!got.ok()) return ReportLocalError(*cli.err, got.status());
  const v1::Artifact& artifact = got->artifact();
  ManifestVerification verified = VerifyManifest(artifact, got->manifest(), keys->keys);
  if (!verified.ok()) {
    return ReportLocalError(*cli.err, "the manifest of " + RefText(artifact) +
                                          " does not verify with " + keys->source + ": " +
                                          verified.FirstFailure() + "; nothing was downloaded");
  }
  if (artifact.size_bytes() < 0) {
    return ReportLocalError(*cli.err, "the record of " + RefText(artifact) + " has a negative size");
  }
  const auto size = static_cast<uint64_t>(artifact.size_bytes());

  const bool show_progress = ShouldShowProgress(cli.err, opts.no_progress);
  PartialFile part(opts.out);
  crypto::Sha256 hasher;
  Result<uint64_t> start = [&] {
    ProgressBar checking(show_progress ? cli.err : nullptr, "checking", size);
    return part.Open(artifact.digest(), size, hasher, checking);
  }();
  if (!start.ok()) return ReportLocalError(*cli.err, start.status());
  uint64_t position = *start;
  if (position > 0) {
    *cli.err << "sovctl: resuming " << part.part() << " at " << FormatBytes(position) << " of "
             << FormatBytes(size) << "\n";
  }

  auto stub = v1::RegistryService::NewStub(connection->channel());
  ProgressBar progress(show_progress ? cli.err : nullptr, "pulling", size, position);
  int failures = 0;
  for (;;) {
    const uint64_t before = position;
    FetchOutcome outcome = FetchFrom(*connection, *stub, artifact, got->manifest(), position, part,
                                     hasher, progress);
    if (outcome.status.ok() && outcome.local.ok()) break;
    progress.Finish();
    if (outcome.status.error_code() == grpc::StatusCode::DATA_LOSS ||
        outcome.local.code() == StatusCode::kDataLoss) {
      part.Discard();
      return ReportLocalError(*cli.err, outcome.local.message() + " (" + part.part() +
                                            " was deleted; nothing of it may be used)");
    }
    const bool local_only = outcome.status.ok() || outcome.status.error_code() ==
                                                       grpc::StatusCode::CANCELLED;
    if (local_only || !IsRetryable(outcome.status.error_code())) {
      return ReportLocalError(*cli.err, outcome.local);
    }
    if (position > before) failures = 0;
    if (++failures > kMaxRetries) {
      return ReportLocalError(*cli.err, outcome.local.message() + " (gave up after " +
                                            std::to_string(kMaxRetries) +
                                            " retries; run the same pull again to resume)");
    }
    SleepBeforeRetry(failures);
    progress.Restart(position);
  }
  progress.Finish();

  if (position != size) {
    return ReportLocalError(*cli.err, "the download of " + RefText(artifact) + " ended after " +
                                          std::to_string(position) + " of " +
                                          std::to_string(size) +
                                          " bytes (run the same pull again to resume)");
  }
  const std::string received = hasher.Finish().ToString();
  if (received != artifact.digest()) {
    part.Discard();
    return ReportLocalError(*cli.err, "the downloaded bytes have " + received +
                                          ", but the signed manifest says " + artifact.digest() +
                                          "; " + part.part() + " was deleted and " + opts.out +
                                          " left untouched");
  }
  if (Status st = part.Commit(); !st.ok()) return ReportLocalError(*cli.err, st);

  if (cli.output == OutputFormat::kJson) {
    WriteJson(*cli.out, {{"file", opts.out},
                         {"artifact", ProtoToJson(artifact)},
                         {"registry_key_ids", verified.registry_key_ids}});
  } else {
    KeyValues lines = {{"pulled", RefText(artifact)},
                       {"digest", artifact.digest() + " (verified)"},
                       {"size", FormatBytes(size)},
                       {"file", opts.out}};
    for (const std::string& id : verified.registry_key_ids) {
      lines.emplace_back("signed_by", id + " (registry)");
    }
    *cli.out << FormatKeyValues(lines);
  }
  return kExitOk;
}

}  // namespace

void AddPullCommand(CLI::App& app, CommandLine& cli) {
  auto opts = std::make_shared<PullOptions>();
  CLI::App* cmd = app.add_subcommand(
      "pull",
      "Download an artifact and verify it. The manifest must be signed by the registry key and "
      "name the artifact's digest, and the bytes must have that digest. The bytes go to "
      "FILE.part and become FILE only once verified; an interrupted pull resumes where it "
      "stopped.");
  cmd->add_option("ARTIFACT", opts->ref,
                  "NAME or NAME@VERSION (without a version: the highest released one)")
      ->required();
  cmd->add_option("-o,--out", opts->out, "File to write (replaced only once verified); required")
      ->required()
      ->option_text("FILE");
  cmd->add_option("--registry-key", opts->registry_keys,
                  "The registry's public key (PEM) [env: SOV_REGISTRY_KEY; config: registry_key]; "
                  "repeat for rotated keys")
      ->allow_extra_args(false)
      ->option_text("FILE");
  cmd->add_flag("--trust-server-key", opts->trust_server_key,
                "With no registry key configured, trust the one the gateway lists (warns)");
  cmd->add_flag("--no-progress", opts->no_progress,
                "No progress bar (it is drawn on stderr only when stderr is a terminal)");
  cmd->footer(
      "Prints the artifact, its verified digest, size, file and the registry key that signed\n"
      "the manifest. With --output json: {\"file\", \"artifact\": <Artifact>,\n"
      "\"registry_key_ids\"}. Any failure leaves FILE as it was and says why; FILE.part (and\n"
      "FILE.part.digest) stay for a resumed pull unless their bytes are bad.\n"
      "\n"
      "Examples:\n"
      "  sovctl pull acme-ml/fraud/classifier@1.4.0 -o model.safetensors\n"
      "  SOV_REGISTRY_KEY=registry.pub sovctl pull acme-ml/fraud/classifier -o model.safetensors");
  cmd->callback([&cli, opts] { cli.run = [&cli, opts] { return RunPull(cli, *opts); }; });
}

}  // namespace sov::cli
