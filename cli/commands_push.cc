// `sovctl push`: uploads a file as a new dataset or model version. The file is hashed first
// (its digest and size go into CreateUpload), then streamed in 1 MiB chunks into the upload and
// committed with its digest. CreateUpload is idempotent, so running the same push again resumes
// an interrupted upload at the offset the gateway made durable; within one run a broken stream
// is resumed the same way (GetUpload, then Push from the committed offset) with backoff.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/artifact_flags.h"
#include "cli/artifact_output.h"
#include "cli/artifact_ref.h"
#include "cli/commands.h"
#include "cli/gateway_connection.h"
#include "cli/progress.h"
#include "cli/proto_interop.h"
#include "cli/registry_calls.h"
#include "crypto/sha256.h"
#include "sov/v1/identity.grpc.pb.h"
#include "sov/v1/registry.grpc.pb.h"

namespace sov::cli {
namespace {

// The chunk size the gateway recommends: its encryption chunks are 1 MiB.
constexpr size_t kChunkBytes = 1 << 20;

struct PushOptions {
  std::string file;
  PushFlags spec;
  bool no_progress = false;
};

std::string ErrnoText(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// An open file and what it looked like when it was hashed.
class SourceFile {
 public:
  ~SourceFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  SourceFile() = default;
  SourceFile(const SourceFile&) = delete;
  SourceFile& operator=(const SourceFile&) = delete;

  // Opens `path`, which must be a regular file.
  Status Open(const std::string& path) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      return errno == ENOENT ? NotFound(ErrnoText("cannot open", path))
                             : PermissionDenied(ErrnoText("cannot open", path));
    }
    if (::fstat(fd_, &stat_) != 0) return Internal(ErrnoText("cannot stat", path));
    if (!S_ISREG(stat_.st_mode)) return InvalidArgument(path + " is not a regular file");
    return OkStatus();
  }

  // Streams the whole file through SHA-256, reporting progress. ABORTED when it changed
  // meanwhile.
  Result<crypto::Digest> Hash(ProgressBar& progress) {
    crypto::Sha256 hasher;
    std::string buffer(kChunkBytes, '\0');
    uint64_t done = 0;
    for (;;) {
      ssize_t n = ::pread(fd_, buffer.data(), buffer.size(), static_cast<off_t>(done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Internal(ErrnoText("cannot read", path_));
      }
      if (n == 0) break;
      hasher.Update(std::string_view(buffer.data(), static_cast<size_t>(n)));
      done += static_cast<uint64_t>(n);
      progress.Update(done);
    }
    progress.Finish();
    if (done != size() || Changed()) {
      return Aborted(path_ + " changed while it was being hashed; push it once it is complete");
    }
    return hasher.Finish();
  }

  // Reads up to `length` bytes at `offset` into `out` (resized to what was read).
  Status ReadAt(uint64_t offset, size_t length, std::string& out) {
    out.resize(length);
    size_t got = 0;
    while (got < length) {
      ssize_t n = ::pread(fd_, out.data() + got, length - got, static_cast<off_t>(offset + got));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Internal(ErrnoText("cannot read", path_));
      }
      if (n == 0) return Aborted(path_ + " became shorter while it was being pushed");
      got += static_cast<size_t>(n);
    }
    return OkStatus();
  }

  // True when the file's size, modification time or inode differ from when it was opened.
  bool Changed() const {
    struct stat now {};
    if (::fstat(fd_, &now) != 0) return true;
    return now.st_size != stat_.st_size || now.st_mtim.tv_sec != stat_.st_mtim.tv_sec ||
           now.st_mtim.tv_nsec != stat_.st_mtim.tv_nsec || now.st_ino != stat_.st_ino;
  }

  uint64_t size() const { return static_cast<uint64_t>(stat_.st_size); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  struct stat stat_ {};
};

// The caller's tenant, for the did-you-mean of a name without one; nullopt when the gateway
// cannot be asked.
std::optional<std::string> CallerTenant(const CommandLine& cli) {
  Result<GatewayConnection> connection = OpenGatewayConnection(cli.connection, cli.env);
  if (!connection.ok()) return std::nullopt;
  auto stub = v1::IdentityService::NewStub(connection->channel());
  grpc::ClientContext context;
  connection->PrepareCall(context);
  // Only a hint for an error message: not worth the whole --timeout.
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::WhoAmIResponse response;
  if (!stub->WhoAmI(&context, v1::WhoAmIRequest(), &response).ok()) return std::nullopt;
  if (response.tenant_id().empty()) return std::nullopt;
  return response.tenant_id();
}

// One push of a file into an upload, resumed after failures.
class Pusher {
 public:
  Pusher(const CommandLine& cli, const GatewayConnection& connection, SourceFile& file,
         const crypto::Digest& digest, bool show_progress)
      : cli_(cli),
        connection_(connection),
        stub_(v1::RegistryService::NewStub(connection.channel())),
        file_(file),
        digest_(digest.ToString()),
        show_progress_(show_progress) {}

  // Opens (or finds) the upload, sends the bytes and commits. Returns the committed artifact
  // and its manifest.
  Result<v1::PushResponse> Run(const v1::ArtifactSpec& spec) {
    SOV_ASSIGN_OR_RETURN(v1::Upload upload, OpenUpload(spec));
    return Send(upload);
  }

 private:
  Result<v1::Upload> CreateUpload(const v1::ArtifactSpec& spec) {
    v1::CreateUploadRequest request;
    *request.mutable_spec() = spec;
    request.set_size_bytes(static_cast<int64_t>(file_.size()));
    request.set_expected_digest(digest_);
    v1::CreateUploadResponse response;
    SOV_RETURN_IF_ERROR(CallGateway([&](grpc::ClientContext& context) {
      connection_.PrepareCall(context);
      return stub_->CreateUpload(&context, request, &response);
    }));
    return response.upload();
  }

  Result<v1::Upload> OpenUpload(const v1::ArtifactSpec& spec) {
    Result<v1::Upload> upload = CreateUpload(spec);
    if (!upload.ok()) return upload.status();
    // An open upload of this name+version from an earlier run that holds other bytes (the file
    // was changed since) cannot be completed: cancel it and start over.
    if ((!upload->expected_digest().empty() && upload->expected_digest() != digest_) ||
        (upload->has_size_bytes() && static_cast<uint64_t>(upload->size_bytes()) != file_.size())) {
      *cli_.err << "sovctl: warning: an open upload of " << spec.name() << "@" << spec.version()
                << " was for other bytes (" << upload->expected_digest()
                << "); cancelling it and starting over\n";
      v1::CancelUploadRequest cancel;
      cancel.set_upload_id(upload->upload_id());
      v1::CancelUploadResponse cancelled;
      SOV_RETURN_IF_ERROR(CallGateway([&](grpc::ClientContext& context) {
        connection_.PrepareCall(context);
        return stub_->CancelUpload(&context, cancel, &cancelled);
      }));
      upload = CreateUpload(spec);
      if (!upload.ok()) return upload.status();
    }
    if (upload->state() != v1::UPLOAD_STATE_OPEN) {
      return FailedPrecondition("CreateUpload returned upload " + upload->upload_id() +
                                " in state " + EnumFlagName(upload->state()) + ", not open");
    }
    if (upload->committed_offset() < 0 ||
        static_cast<uint64_t>(upload->committed_offset()) > file_.size()) {
      return FailedPrecondition("the gateway's upload " + upload->upload_id() +
                                " has committed offset " +
                                std::to_string(upload->committed_offset()) + ", beyond the " +
                                std::to_string(file_.size()) + " bytes of " + file_.path());
    }
    if (upload->committed_offset() > 0) {
      *cli_.err << "sovctl: resuming upload " << upload->upload_id() << " at "
                << FormatBytes(static_cast<uint64_t>(upload->committed_offset())) << " of "
                << FormatBytes(file_.size()) << "\n";
    }
    return upload;
  }

  Result<v1::Upload> GetUpload(const std::string& upload_id) {
    v1::GetUploadRequest request;
    request.set_upload_id(upload_id);
    v1::GetUploadResponse response;
    // Asked after a broken stream, when the gateway may be restarting: retried.
    SOV_RETURN_IF_ERROR(CallGateway(
        [&](grpc::ClientContext& context) {
          connection_.PrepareCall(context);
          return stub_->GetUpload(&context, request, &response);
        },
        kMaxRetries));
    return response.upload();
  }

  // One Push stream from `offset`: header, chunks, commit. A local failure (the file changed)
  // cancels the stream and is returned in `local`.
  grpc::Status PushStream(grpc::ClientContext& context, const std::string& upload_id,
                          uint64_t offset, ProgressBar& progress, v1::PushResponse* response,
                          Status* local) {
    std::unique_ptr<grpc::ClientWriter<v1::PushRequest>> writer =
        stub_->Push(&context, response);
    v1::PushRequest header;
    header.mutable_header()->set_upload_id(upload_id);
    header.mutable_header()->set_offset(static_cast<int64_t>(offset));
    bool open = writer->Write(header);
    uint64_t position = offset;
    v1::PushRequest chunk;
    while (open && position < file_.size()) {
      const size_t length =
          static_cast<size_t>(std::min<uint64_t>(kChunkBytes, file_.size() - position));
      if (Status st = file_.ReadAt(position, length, *chunk.mutable_chunk()); !st.ok()) {
        *local = st;
        context.TryCancel();
        return writer->Finish();
      }
      open = writer->Write(chunk);
      if (open) {
        position += length;
        progress.Update(position);
      }
    }
    if (open) {
      // The digest in the commit is of the bytes hashed at the start; refuse to commit bytes
      // that are no longer those (the gateway would abort the upload on the mismatch anyway).
      if (file_.Changed()) {
        *local = Aborted(file_.path() +
                         " changed while it was being pushed; nothing was committed (run the "
                         "push again once the file is complete)");
        context.TryCancel();
        return writer->Finish();
      }
      v1::PushRequest commit;
      commit.mutable_commit()->set_digest(digest_);
      if (writer->Write(commit)) writer->WritesDone();
    }
    return writer->Finish();
  }

  // Completes a COMMITTED upload's artifact (when the commit's answer was lost).
  Result<v1::PushResponse> CommittedArtifact(const v1::Upload& upload) {
    SOV_ASSIGN_OR_RETURN(v1::GetArtifactResponse got,
                         GetArtifact(connection_, upload.artifact(), kMaxRetries));
    v1::PushResponse response;
    *response.mutable_upload() = upload;
    *response.mutable_artifact() = got.artifact();
    *response.mutable_manifest() = got.manifest();
    return response;
  }

  Result<v1::PushResponse> Send(v1::Upload upload) {
    uint64_t offset = static_cast<uint64_t>(upload.committed_offset());
    ProgressBar progress(show_progress_ ? cli_.err : nullptr, "pushing", file_.size(), offset);
    int failures = 0;
    for (;;) {
      grpc::ClientContext context;
      connection_.PrepareCall(context, GatewayConnection::Deadline::kNone);
      v1::PushResponse response;
      Status local;
      grpc::Status status =
          PushStream(context, upload.upload_id(), offset, progress, &response, &local);
      if (!local.ok()) return local;
      if (status.ok()) {
        progress.Finish();
        if (!response.has_artifact()) {
          return Internal("the gateway acknowledged the commit of upload " + upload.upload_id() +
                          " without the artifact");
        }
        return response;
      }
      // ABORTED means the stream started at a stale offset (reason UPLOAD_OFFSET_MISMATCH) or
      // another stream is writing the upload: either way GetUpload says where things stand.
      std::optional<v1::ErrorDetail> detail = ReadErrorDetail(context);
      const bool aborted = status.error_code() == grpc::StatusCode::ABORTED;
      const bool offset_mismatch =
          aborted && detail && detail->reason() == v1::ERROR_REASON_UPLOAD_OFFSET_MISMATCH;
      if (!aborted && !IsRetryable(status.error_code())) {
        progress.Finish();
        return RpcFailure(status, &context);
      }
      if (++failures > kMaxRetries) {
        progress.Finish();
        Status failure = RpcFailure(status, &context);
        return Status(failure.code(),
                      failure.message() + " (gave up after " + std::to_string(kMaxRetries) +
                          " retries; run the same push again to resume)");
      }
      // An offset mismatch needs no pause: the gateway is there and says where to resume.
      if (!offset_mismatch) SleepBeforeRetry(failures);
      Result<v1::Upload> now = GetUpload(upload.upload_id());
      if (!now.ok()) {
        progress.Finish();
        return now.status();
      }
      upload = *std::move(now);
      if (upload.state() == v1::UPLOAD_STATE_COMMITTED) {
        progress.Finish();
        return CommittedArtifact(upload);
      }
      if (upload.state() != v1::UPLOAD_STATE_OPEN) {
        progress.Finish();
        return FailedPrecondition("the gateway aborted upload " + upload.upload_id() + ": " +
                                  upload.abort_reason() + " (run the push again to start over)");
      }
      const auto committed = static_cast<uint64_t>(upload.committed_offset());
      if (committed > file_.size()) {
        progress.Finish();
        return FailedPrecondition("the gateway's committed offset " + std::to_string(committed) +
                                  " is beyond the file's size");
      }
      if (committed > offset) failures = 0;  // progress was made: count afresh
      offset = committed;
      progress.Restart(offset);
    }
  }

  const CommandLine& cli_;
  const GatewayConnection& connection_;
  std::unique_ptr<v1::RegistryService::Stub> stub_;
  SourceFile& file_;
  std::string digest_;
  bool show_progress_;
};

int EmitPushed(const CommandLine& cli, const v1::PushResponse& response) {
  if (cli.output == OutputFormat::kJson) {
    WriteJson(*cli.out, {{"artifact", ProtoToJson(response.artifact())},
                         {"manifest", ProtoToJson(response.manifest())}});
  } else {
    *cli.out << FormatKeyValues(ArtifactSummary(response.artifact()));
  }
  return kExitOk;
}

int RunPush(const CommandLine& cli, const PushOptions& opts) {
  Result<v1::ArtifactSpec> spec = BuildArtifactSpec(opts.spec);
  if (!spec.ok()) {
    Status st = spec.status();
    // A name without its tenant: ask the gateway whose caller this is, for the did-you-mean.
    if (opts.spec.name.find('/') == std::string::npos) {
      if (std::optional<std::string> tenant = CallerTenant(cli)) {
        Result<v1::ArtifactSpec> again = BuildArtifactSpec(opts.spec, tenant);
        if (!again.ok()) st = again.status();
      }
    }
    return ReportUsageError(*cli.err, "push", st.message());
  }

  SourceFile file;
  if (Status st = file.Open(opts.file); !st.ok()) return ReportLocalError(*cli.err, st);
  Result<GatewayConnection> connection = OpenGatewayConnection(cli.connection, cli.env);
  if (!connection.ok()) return ReportLocalError(*cli.err, connection.status());

  const bool show_progress = ShouldShowProgress(cli.err, opts.no_progress);
  Result<crypto::Digest> digest = [&] {
    ProgressBar hashing(show_progress ? cli.err : nullptr, "hashing", file.size());
    return file.Hash(hashing);
  }();
  if (!digest.ok()) return ReportLocalError(*cli.err, digest.status());

  Pusher pusher(cli, *connection, file, *digest, show_progress);
  Result<v1::PushResponse> pushed = pusher.Run(*spec);
  if (!pushed.ok()) {
    // A rerun after a commit whose answer was lost finds the version taken: by these bytes?
    if (pushed.status().code() == StatusCode::kAlreadyExists) {
      v1::ArtifactRef ref;
      ref.set_name(spec->name());
      ref.set_version(spec->version());
      Result<v1::GetArtifactResponse> existing = GetArtifact(*connection, ref);
      if (existing.ok() && existing->artifact().digest() == digest->ToString()) {
        *cli.err << "sovctl: " << spec->name() << "@" << spec->version()
                 << " is already in the registry with these bytes\n";
        v1::PushResponse response;
        *response.mutable_artifact() = existing->artifact();
        *response.mutable_manifest() = existing->manifest();
        return EmitPushed(cli, response);
      }
    }
    return ReportLocalError(*cli.err, pushed.status());
  }
  return EmitPushed(cli, *pushed);
}

}  // namespace

void AddPushCommand(CLI::App& app, CommandLine& cli) {
  auto opts = std::make_shared<PushOptions>();
  CLI::App* cmd = app.add_subcommand(
      "push",
      "Push a file to the registry as a new dataset or model version. The file is hashed, the "
      "gateway's policy decides on the declared name, classification, purposes, lineage and "
      "storage location before any byte is sent, then the bytes stream in 1 MiB chunks and are "
      "committed with their SHA-256. Run the same command again to resume an interrupted push.");
  cmd->add_option("FILE", opts->file, "File to push")->required();
  PushFlags& spec = opts->spec;
  cmd->add_option("--kind", spec.kind, "What the file is; required")
      ->required()
      ->check(CLI::IsMember({"dataset", "model"}))
      ->option_text("dataset|model");
  cmd->add_option("--name", spec.name,
                  "Artifact name, <tenant>/<path>, e.g. acme-ml/fraud/classifier; required")
      ->required()
      ->option_text("NAME");
  cmd->add_option("--version", spec.version, "SemVer version, e.g. 1.4.0; required")
      ->required()
      ->option_text("VERSION");
  cmd->add_option("--trained-on", spec.trained_on, "Dataset the model was trained on; repeatable")
      ->allow_extra_args(false)
      ->option_text("NAME@VERSION");
  cmd->add_option("--validated-on", spec.validated_on,
                  "Dataset the model was validated on; repeatable")
      ->allow_extra_args(false)
      ->option_text("NAME@VERSION");
  cmd->add_option("--derived-from", spec.derived_from,
                  "Dataset this dataset was derived from; repeatable")
      ->allow_extra_args(false)
      ->option_text("NAME@VERSION");
  cmd->add_option("--classification", spec.classification, "Data classification")
      ->check(CLI::IsMember(EnumFlagNames<v1::Classification>()))
      ->option_text("public|internal|personal|special-category|pseudonymised|anonymised");
  cmd->add_option("--purpose", spec.purposes,
                  "Processing purpose defined in the policy, e.g. fraud-detection; repeatable")
      ->allow_extra_args(false)
      ->option_text("PURPOSE");
  cmd->add_option("--lawful-basis", spec.lawful_basis,
                  "GDPR Art. 6 lawful basis; required for personal data")
      ->check(CLI::IsMember(EnumFlagNames<v1::LawfulBasis>()))
      ->option_text(
          "consent|contract|legal-obligation|vital-interests|public-task|legitimate-interests|"
          "not-applicable");
  cmd->add_option("--special-category-condition", spec.special_category_condition,
                  "GDPR Art. 9(2) condition; required for special-category data")
      ->check(CLI::IsMember(EnumFlagNames<v1::SpecialCategoryCondition>()))
      ->option_text("explicit-consent|employment-law|...|research");
  cmd->add_option("--label", spec.labels, "Label KEY=VALUE, immutable after push; repeatable")
      ->allow_extra_args(false)
      ->option_text("KEY=VALUE");
  cmd->add_option("--media-type", spec.media_type,
                  "Media type of the bytes [application/octet-stream]")
      ->option_text("TYPE");
  cmd->add_option("--description", spec.description, "Free text for people")
      ->option_text("TEXT");
  cmd->add_option("--location", spec.location,
                  "Storage location wanted, e.g. eu-de-1 [the first the residency rules allow]")
      ->option_text("ID");
  cmd->add_option("--retain-until", spec.retain_until,
                  "Keep the artifact no longer than TIME: the gateway erases it at TIME or at the "
                  "policy's retention deadline, whichever is first. TIME is a date (midnight UTC), "
                  "an RFC 3339 time, or a duration from now (90d, 12h, 2w)")
      ->option_text("TIME");
  cmd->add_flag("--no-progress", opts->no_progress,
                "No progress bar (it is drawn on stderr only when stderr is a terminal)");
  cmd->footer(
      "Prints the artifact (name@version), digest, size, kind, stage (pending; a model then\n"
      "goes through validation) and storage location. With --output json:\n"
      "{\"artifact\": <Artifact>, \"manifest\": <DsseEnvelope>} in proto3 JSON.\n"
      "\n"
      "A broken connection is resumed from the offset the gateway made durable (5 retries with\n"
      "backoff); after that, or after Ctrl-C, the same command resumes the upload. A file that\n"
      "changes while it is pushed is never committed.\n"
      "\n"
      "Examples:\n"
      "  sovctl push train.safetensors --kind dataset --name acme-ml/fraud/train --version 1.0.0 \\\n"
      "    --classification personal --lawful-basis contract --purpose fraud-detection \\\n"
      "    --label team=fraud --location eu-de-1 --retain-until 2027-06-30\n"
      "  sovctl push model.safetensors --kind model --name acme-ml/fraud/classifier \\\n"
      "    --version 1.4.0 --trained-on acme-ml/fraud/train@1.0.0 \\\n"
      "    --validated-on acme-ml/fraud/holdout@1.0.0 --purpose fraud-detection");
  cmd->callback([&cli, opts] { cli.run = [&cli, opts] { return RunPush(cli, *opts); }; });
}

}  // namespace sov::cli
