#include "bench/sovd_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

namespace sov::bench {

namespace fs = std::filesystem;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

Child Spawn(const std::vector<std::string>& argv, bool capture) {
  int fds[2] = {-1, -1};
  if (capture && ::pipe2(fds, O_CLOEXEC) != 0) std::abort();
  pid_t pid = ::fork();
  if (pid == 0) {
    if (capture) {
      ::dup2(fds[1], 1);
    } else {
      int null_fd = ::open("/dev/null", O_WRONLY);
      ::dup2(null_fd, 1);
    }
    int err = ::open("/dev/null", O_WRONLY);
    ::dup2(err, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  Child child;
  child.pid = pid;
  if (capture) {
    ::close(fds[1]);
    child.out_fd = fds[0];
  }
  return child;
}

int Run(const std::vector<std::string>& argv, std::string* out) {
  Child c = Spawn(argv, out != nullptr);
  if (out != nullptr) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(c.out_fd, buf, sizeof buf)) > 0) out->append(buf, static_cast<size_t>(n));
    ::close(c.out_fd);
  }
  int status = 0;
  ::waitpid(c.pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool OnPath(const std::string& tool) {
  return Run({"sh", "-c", "command -v " + tool + " >/dev/null 2>&1"}) == 0;
}

long PeakRssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

// Reads `child`'s stdout until a whole line holding `marker` has arrived (at most 60 s); then
// keeps draining it on a thread of its own so that the child never blocks on a full pipe. What
// was read, or nullopt (with it printed) when the output ended or the time ran out first.
std::optional<std::string> AwaitLine(const Child& child, const std::string& marker,
                                     const std::string& what) {
  std::string seen;
  char buf[1024];
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    ssize_t n = ::read(child.out_fd, buf, sizeof buf);
    if (n <= 0) break;
    seen.append(buf, static_cast<size_t>(n));
    size_t at = seen.find(marker);
    if (at == std::string::npos || seen.find('\n', at) == std::string::npos) continue;
    int fd = child.out_fd;
    std::thread([fd] {
      char sink[4096];
      while (::read(fd, sink, sizeof sink) > 0) {
      }
    }).detach();
    return seen;
  }
  std::cerr << what << " did not start:\n" << seen << "\n";
  return std::nullopt;
}

}  // namespace

std::optional<Sovd> StartSovd(const std::string& sovd_binary, const fs::path& dir,
                              const std::vector<std::string>& extra_args) {
  Sovd s;
  std::vector<std::string> argv = {sovd_binary, "--dev", "--data-dir", dir.string()};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  s.child = Spawn(argv, true);
  const std::string marker = "sovd listening on ";
  std::optional<std::string> seen = AwaitLine(s.child, marker, "sovd");
  if (!seen) return std::nullopt;
  const size_t at = seen->find(marker) + marker.size();
  s.address = seen->substr(at, seen->find_first_of(" \n", at) - at);
  return s;
}

std::optional<Child> StartEvalWorker(const std::string& sovd_binary, const fs::path& config,
                                     const std::vector<std::string>& extra_args) {
  std::vector<std::string> argv = {sovd_binary, "eval-worker", "--config", config.string(),
                                   "--no-policy-watch"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  Child child = Spawn(argv, true);
  if (!AwaitLine(child, "sovd eval-worker running", "sovd eval-worker")) {
    ::kill(child.pid, SIGKILL);
    ::waitpid(child.pid, nullptr, 0);
    return std::nullopt;
  }
  return child;
}

void StopChild(Child& child) {
  if (child.pid <= 0) return;
  ::kill(child.pid, SIGTERM);
  ::waitpid(child.pid, nullptr, 0);
  child.pid = -1;
}

void StopSovd(Sovd& sovd) { StopChild(sovd.child); }

std::string SovdBinary(const char* binary_dir) {
  const char* build_env = std::getenv("SOV_BUILD_DIR");
  return (build_env != nullptr ? std::string(build_env) : std::string(binary_dir)) +
         "/gateway/sovd";
}

std::shared_ptr<grpc::Channel> MtlsChannel(const fs::path& dir, const std::string& address,
                                           const std::string& tenant) {
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadText(dir / "ca.pem");
  tls.pem_cert_chain = ReadText(dir / "clients" / (tenant + ".pem"));
  tls.pem_private_key = ReadText(dir / "clients" / (tenant + ".key"));
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(8 << 20);
  // Distinct channels get distinct connections.
  args.SetInt("sov.bench.channel", static_cast<int>(std::random_device{}()));
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(tls), args);
}

sov::v1::ArtifactSpec DatasetSpec(const std::string& name, const std::string& version) {
  sov::v1::ArtifactSpec spec;
  spec.set_kind(sov::v1::ARTIFACT_KIND_DATASET);
  spec.set_name(name);
  spec.set_version(version);
  spec.set_classification(sov::v1::CLASSIFICATION_INTERNAL);
  spec.add_purposes("fraud-detection");
  return spec;
}

double Push(sov::v1::RegistryService::Stub& stub, const fs::path& file, const std::string& digest,
            const sov::v1::ArtifactSpec& spec) {
  const auto size = static_cast<int64_t>(fs::file_size(file));
  const auto start = Clock::now();
  grpc::ClientContext create_ctx;
  sov::v1::CreateUploadRequest create;
  *create.mutable_spec() = spec;
  create.set_size_bytes(size);
  create.set_expected_digest(digest);
  sov::v1::CreateUploadResponse created;
  grpc::Status status = stub.CreateUpload(&create_ctx, create, &created);
  if (!status.ok()) {
    std::cerr << "CreateUpload " << spec.name() << ": " << status.error_message() << "\n";
    return -1;
  }
  grpc::ClientContext push_ctx;
  sov::v1::PushResponse pushed;
  auto stream = stub.Push(&push_ctx, &pushed);
  sov::v1::PushRequest header;
  header.mutable_header()->set_upload_id(created.upload().upload_id());
  header.mutable_header()->set_offset(0);
  stream->Write(header);
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::cerr << "cannot open " << file << "\n";
    return -1;
  }
  sov::v1::PushRequest chunk;
  std::string* bytes = chunk.mutable_chunk();
  for (int64_t off = 0; off < size; off += 1 << 20) {
    size_t n = static_cast<size_t>(std::min<int64_t>(1 << 20, size - off));
    bytes->resize(n);
    if (::pread(fd, bytes->data(), n, off) != static_cast<ssize_t>(n)) std::abort();
    if (!stream->Write(chunk)) break;
  }
  ::close(fd);
  sov::v1::PushRequest commit;
  commit.mutable_commit()->set_digest(digest);
  stream->Write(commit);
  stream->WritesDone();
  status = stream->Finish();
  if (!status.ok()) {
    std::cerr << "Push " << spec.name() << ": " << status.error_message() << "\n";
    return -1;
  }
  return Seconds(Clock::now() - start);
}

}  // namespace sov::bench
