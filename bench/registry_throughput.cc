// Registry throughput beside an OCI registry, and unary call rate beside a bare gRPC server.
//
// 1. Push and fetch of one artifact (1 GiB by default) through `sovd --dev` on loopback over
//    mTLS, with hashing, encryption, fsync and the audit append included; the same bytes pushed
//    to and fetched from Debian's docker-registry (distribution 2.8, started here on loopback)
//    with curl through its blob upload API (POST + monolithic PUT, then GET). Prints MB/s for
//    each and the ratio, and sovd's peak resident memory, which must stay flat with size.
// 2. GetArtifact calls per second from 32 concurrent clients (authentication, policy decision
//    and durable audit append included) beside a bare gRPC server in this process answering
//    the same response message over the same mTLS credentials; ratio and p50/p99 latency.
//
// Usage: registry_throughput [--mib N] [--seconds S] [--clients C] [--keep]
// Needs: $SOV_BUILD_DIR or the default build tree for sovd; docker-registry and curl on PATH
// (the peer is reported as not available otherwise).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "common/allocator.h"
#include "common/file.h"
#include "crypto/sha256.h"
#include "sov/v1/registry.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Child {
  pid_t pid = -1;
  int out_fd = -1;
};

// Starts argv with stdout (and stderr) on a pipe, or on /dev/null when `quiet`.
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

// Runs argv to completion; returns the exit code and stdout.
int Run(const std::vector<std::string>& argv, std::string* out = nullptr) {
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

std::string ReadText(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes `mib` MiB of pseudo-random bytes (incompressible) and returns its sha256 digest.
std::string MakeFile(const fs::path& path, int mib) {
  std::mt19937_64 rng(42);
  std::vector<uint64_t> block((1 << 20) / 8);
  std::ofstream out(path, std::ios::binary);
  sov::crypto::Sha256 hasher;
  for (int i = 0; i < mib; ++i) {
    for (auto& w : block) w = rng();
    std::string_view bytes(reinterpret_cast<const char*>(block.data()), block.size() * 8);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    hasher.Update(bytes);
  }
  return hasher.Finish().ToString();
}

struct Sovd {
  Child child;
  std::string address;
};

std::optional<Sovd> StartSovd(const std::string& sovd, const fs::path& dir) {
  Sovd s;
  s.child = Spawn({sovd, "--dev", "--data-dir", dir.string(), "--no-policy-watch"}, true);
  std::string seen;
  char buf[1024];
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    ssize_t n = ::read(s.child.out_fd, buf, sizeof buf);
    if (n <= 0) break;
    seen.append(buf, static_cast<size_t>(n));
    size_t at = seen.find("sovd listening on ");
    if (at != std::string::npos) {
      size_t end = seen.find(' ', at + 18);
      if (end == std::string::npos) continue;
      s.address = seen.substr(at + 18, end - at - 18);
      // Keep draining stdout so sovd never blocks on a full pipe.
      int fd = s.child.out_fd;
      std::thread([fd] {
        char sink[4096];
        while (::read(fd, sink, sizeof sink) > 0) {
        }
      }).detach();
      return s;
    }
  }
  std::cerr << "sovd did not start:\n" << seen << "\n";
  return std::nullopt;
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

// Pushes `file` as a new dataset; returns the seconds from CreateUpload to the acknowledged
// commit, or a negative value on failure.
double Push(sov::v1::RegistryService::Stub& stub, const fs::path& file, const std::string& digest,
            const std::string& name, const std::string& version) {
  const auto size = static_cast<int64_t>(fs::file_size(file));
  const auto start = Clock::now();
  grpc::ClientContext create_ctx;
  sov::v1::CreateUploadRequest create;
  create.mutable_spec()->set_kind(sov::v1::ARTIFACT_KIND_DATASET);
  create.mutable_spec()->set_name(name);
  create.mutable_spec()->set_version(version);
  create.mutable_spec()->set_classification(sov::v1::CLASSIFICATION_INTERNAL);
  create.mutable_spec()->add_purposes("fraud-detection");
  create.set_size_bytes(size);
  create.set_expected_digest(digest);
  sov::v1::CreateUploadResponse created;
  grpc::Status status = stub.CreateUpload(&create_ctx, create, &created);
  if (!status.ok()) {
    std::cerr << "CreateUpload: " << status.error_message() << "\n";
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
  sov::v1::PushRequest chunk;
  std::string* bytes = chunk.mutable_chunk();
  bytes->resize(1 << 20);
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
    std::cerr << "Push: " << status.error_message() << "\n";
    return -1;
  }
  return Seconds(Clock::now() - start);
}

double Fetch(sov::v1::RegistryService::Stub& stub, const std::string& name,
             const std::string& version, int64_t expect) {
  const auto start = Clock::now();
  grpc::ClientContext ctx;
  sov::v1::FetchRequest request;
  request.mutable_artifact()->set_name(name);
  request.mutable_artifact()->set_version(version);
  auto reader = stub.Fetch(&ctx, request);
  sov::v1::FetchResponse message;
  int64_t got = 0;
  while (reader->Read(&message)) {
    if (message.has_chunk()) got += static_cast<int64_t>(message.chunk().size());
  }
  grpc::Status status = reader->Finish();
  if (!status.ok() || got != expect) {
    std::cerr << "Fetch: " << status.error_message() << " (" << got << " bytes)\n";
    return -1;
  }
  return Seconds(Clock::now() - start);
}

struct Rate {
  double calls_per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
  int64_t errors = 0;
};

Rate Hammer(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
            const sov::v1::GetArtifactRequest& request, double seconds) {
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(channels.size());
  std::atomic<int64_t> errors{0};
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (size_t i = 0; i < channels.size(); ++i) {
    threads.emplace_back([&, i] {
      auto stub = sov::v1::RegistryService::NewStub(channels[i]);
      sov::v1::GetArtifactResponse response;
      while (!stop.load(std::memory_order_relaxed)) {
        grpc::ClientContext ctx;
        const auto t0 = Clock::now();
        grpc::Status status = stub->GetArtifact(&ctx, request, &response);
        const double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
        if (!status.ok()) {
          ++errors;
          continue;
        }
        latencies[i].push_back(us);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed = Seconds(Clock::now() - start);
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  Rate r;
  r.errors = errors;
  if (all.empty()) return r;
  r.calls_per_s = static_cast<double>(all.size()) / elapsed;
  r.p50_us = all[all.size() / 2];
  r.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  return r;
}

// The peer for unary calls: a gRPC server that answers GetArtifact with a fixed message and does
// nothing else.
class BareRegistry final : public sov::v1::RegistryService::Service {
 public:
  explicit BareRegistry(sov::v1::GetArtifactResponse canned) : canned_(std::move(canned)) {}
  grpc::Status GetArtifact(grpc::ServerContext*, const sov::v1::GetArtifactRequest*,
                           sov::v1::GetArtifactResponse* response) override {
    *response = canned_;
    return grpc::Status::OK;
  }

 private:
  sov::v1::GetArtifactResponse canned_;
};

}  // namespace

int main(int argc, char** argv) {
  sov::TuneAllocatorForStreaming();
  int mib = 1024;
  double seconds = 5;
  int clients = 32;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--mib" && i + 1 < argc) {
      mib = std::atoi(argv[++i]);
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--clients" && i + 1 < argc) {
      clients = std::atoi(argv[++i]);
    } else if (a == "--keep") {
      keep = true;
    } else {
      std::cerr << "usage: registry_throughput [--mib N] [--seconds S] [--clients C] [--keep]\n";
      return 2;
    }
  }
  const char* build_env = std::getenv("SOV_BUILD_DIR");
  const std::string sovd = build_env != nullptr ? std::string(build_env) + "/gateway/sovd"
                                                : std::string(SOV_BINARY_DIR) + "/gateway/sovd";
  const fs::path work = fs::temp_directory_path() / ("sov-bench-registry-" + std::to_string(::getpid()));
  fs::create_directories(work);
  const fs::path file = work / "artifact.bin";
  std::cout << "registry_throughput: " << mib << " MiB artifact, " << clients
            << " clients for " << seconds << " s (work dir " << work << ")\n";
  const std::string digest = MakeFile(file, mib);
  const double mb = static_cast<double>(mib) * 1048576.0 / 1e6;

  // sovd
  std::optional<Sovd> server = StartSovd(sovd, work / "sovd");
  if (!server) return 1;
  auto channel = MtlsChannel(work / "sovd", server->address, "acme-ml");
  auto stub = sov::v1::RegistryService::NewStub(channel);
  {
    // Warm up: connection, policy, database.
    fs::path small = work / "small.bin";
    std::string small_digest = MakeFile(small, 1);
    if (Push(*stub, small, small_digest, "acme-ml/bench/warmup", "1.0.0") < 0) return 1;
  }
  const long rss_small = PeakRssKiB(server->child.pid);
  // Each timed phase starts with no dirty pages waiting for writeback (the input file was just
  // written), so that neither side pays for the other's or the generator's writes.
  ::sync();
  const double push_s = Push(*stub, file, digest, "acme-ml/bench/artifact", "1.0.0");
  const double fetch_s = Fetch(*stub, "acme-ml/bench/artifact", "1.0.0",
                               static_cast<int64_t>(fs::file_size(file)));
  const long rss_big = PeakRssKiB(server->child.pid);
  if (push_s < 0 || fetch_s < 0) return 1;

  // docker-registry
  double peer_push_s = -1;
  double peer_fetch_s = -1;
  if (OnPath("docker-registry") && OnPath("curl")) {
    const fs::path reg = work / "docker-registry";
    fs::create_directories(reg / "data");
    // A free port: bind 0, read it back, release it.
    int port = 0;
    {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      socklen_t len = sizeof addr;
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
      port = ntohs(addr.sin_port);
      ::close(fd);
    }
    const std::string base = "http://127.0.0.1:" + std::to_string(port);
    std::ofstream(reg / "config.yml")
        << "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n"
           "  filesystem:\n    rootdirectory: "
        << (reg / "data").string() << "\nhttp:\n  addr: 127.0.0.1:" << port << "\n";
    Child registry = Spawn({"docker-registry", "serve", (reg / "config.yml").string()}, false);
    bool up = false;
    for (int i = 0; i < 100 && !up; ++i) {
      up = Run({"curl", "-sf", "-o", "/dev/null", base + "/v2/"}) == 0;
      if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (up) {
      ::sync();
      const auto start = Clock::now();
      std::string headers;
      Run({"curl", "-s", "-D", "-", "-o", "/dev/null", "-X", "POST",
           base + "/v2/bench/blobs/uploads/"},
          &headers);
      std::string location;
      std::istringstream lines(headers);
      for (std::string line; std::getline(lines, line);) {
        if (line.size() > 10 && (line.rfind("Location:", 0) == 0 || line.rfind("location:", 0) == 0)) {
          location = line.substr(10);
          while (!location.empty() && (location.back() == '\r' || location.back() == ' ')) location.pop_back();
        }
      }
      std::string code;
      Run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H",
           "Content-Type: application/octet-stream", "-T", file.string(),
           location + "&digest=" + digest},
          &code);
      peer_push_s = Seconds(Clock::now() - start);
      if (code != "201") {
        std::cerr << "docker-registry PUT answered " << code << "\n";
        peer_push_s = -1;
      }
      const auto fetch_start = Clock::now();
      code.clear();
      Run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
           base + "/v2/bench/blobs/" + digest},
          &code);
      peer_fetch_s = Seconds(Clock::now() - fetch_start);
      if (code != "200") peer_fetch_s = -1;
    }
    ::kill(registry.pid, SIGTERM);
    ::waitpid(registry.pid, nullptr, 0);
  }

  std::printf("\n%-44s %10s   %-34s %10s   %s\n", "ours", "MB/s", "peer", "MB/s", "ours/peer");
  auto row = [&](const char* ours, double s, const char* peer, double ps) {
    const double r = mb / s;
    if (ps > 0) {
      const double pr = mb / ps;
      std::printf("%-44s %10.1f   %-34s %10.1f   %.2fx\n", ours, r, peer, pr, r / pr);
    } else {
      std::printf("%-44s %10.1f   %-34s %10s   -\n", ours, r, peer, "n/a");
    }
  };
  row("sovd push (hash+encrypt+fsync+audit, mTLS)", push_s, "docker-registry push (curl PUT)",
      peer_push_s);
  row("sovd fetch (decrypt+verify, mTLS)", fetch_s, "docker-registry fetch (curl GET)",
      peer_fetch_s);
  std::printf("sovd peak RSS: %ld MiB after a 1 MiB push, %ld MiB after the %d MiB push+fetch\n",
              rss_small / 1024, rss_big / 1024, mib);

  // Unary GetArtifact: sovd vs a bare server with the same response and credentials.
  sov::v1::GetArtifactRequest get;
  get.mutable_artifact()->set_name("acme-ml/bench/artifact");
  get.mutable_artifact()->set_version("1.0.0");
  sov::v1::GetArtifactResponse canned;
  {
    grpc::ClientContext ctx;
    if (!stub->GetArtifact(&ctx, get, &canned).ok()) return 1;
  }
  std::vector<std::shared_ptr<grpc::Channel>> ours;
  for (int i = 0; i < clients; ++i) ours.push_back(MtlsChannel(work / "sovd", server->address, "acme-ml"));
  const Rate ours_rate = Hammer(ours, get, seconds);

  BareRegistry bare(canned);
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = ReadText(work / "sovd" / "ca.pem");
  ssl.pem_key_cert_pairs.push_back(
      {ReadText(work / "sovd" / "server.key"), ReadText(work / "sovd" / "server.pem")});
  grpc::ServerBuilder builder;
  int bare_port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &bare_port);
  builder.RegisterService(&bare);
  std::unique_ptr<grpc::Server> bare_server = builder.BuildAndStart();
  std::vector<std::shared_ptr<grpc::Channel>> peers;
  for (int i = 0; i < clients; ++i) {
    peers.push_back(MtlsChannel(work / "sovd", "127.0.0.1:" + std::to_string(bare_port), "acme-ml"));
  }
  const Rate peer_rate = Hammer(peers, get, seconds);
  bare_server->Shutdown();

  std::printf("\n");
  std::printf("%-44s %10s %10s %10s %8s\n", ("unary GetArtifact, " + std::to_string(clients) + " clients").c_str(), "calls/s", "p50 us",
              "p99 us", "errors");
  std::printf("%-44s %10.0f %10.0f %10.0f %8lld\n", "sovd (auth + policy + audit append)",
              ours_rate.calls_per_s, ours_rate.p50_us, ours_rate.p99_us,
              static_cast<long long>(ours_rate.errors));
  std::printf("%-44s %10.0f %10.0f %10.0f %8lld\n", "bare gRPC server (same message, mTLS)",
              peer_rate.calls_per_s, peer_rate.p50_us, peer_rate.p99_us,
              static_cast<long long>(peer_rate.errors));
  if (peer_rate.calls_per_s > 0) {
    std::printf("ratio sovd/bare: %.2fx calls/s\n", ours_rate.calls_per_s / peer_rate.calls_per_s);
  }

  ::kill(server->child.pid, SIGTERM);
  ::waitpid(server->child.pid, nullptr, 0);
  if (!keep) fs::remove_all(work);
  return 0;
}
