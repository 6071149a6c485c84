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
// 3. The hardware ceilings that push and fetch run into, measured before sovd starts and
//    printed beside the peer's rates: the disk's durable sequential write rate under the work
//    directory (1 GiB in 64 MiB pieces, fdatasync after each), and SHA-256 and
//    ChaCha20-Poly1305 through OpenSSL EVP on one core (1 MiB buffers, as sovd uses them).
//
// Usage: registry_throughput [--mib N] [--seconds S] [--clients C] [--only get|push|fetch]
//                            [--keep]
// --only runs one part (the artifact is still pushed, untimed, when fetch or get needs it).
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
#include <openssl/evp.h>

#include "bench/sovd_harness.h"
#include "common/allocator.h"
#include "common/file.h"
#include "crypto/sha256.h"
#include "sov/v1/registry.grpc.pb.h"

namespace {

namespace fs = std::filesystem;
using sov::bench::Clock;
using sov::bench::Seconds;
using sov::bench::Child;
using sov::bench::Spawn;
using sov::bench::Run;
using sov::bench::OnPath;
using sov::bench::PeakRssKiB;
using sov::bench::ReadText;
using sov::bench::MtlsChannel;

double Push(sov::v1::RegistryService::Stub& stub, const fs::path& file, const std::string& digest,
            const std::string& name, const std::string& version) {
  return sov::bench::Push(stub, file, digest, sov::bench::DatasetSpec(name, version));
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


// The hardware limits of push and fetch, in MB/s; 0 when not measured.
struct Ceilings {
  double disk_write = 0;
  double sha256 = 0;
  double chacha20_poly1305 = 0;
};

// Fills `buffer` with pseudo-random (incompressible) bytes.
void FillRandom(std::vector<unsigned char>& buffer) {
  std::mt19937_64 rng(7);
  for (size_t i = 0; i + 8 <= buffer.size(); i += 8) {
    const uint64_t word = rng();
    std::memcpy(buffer.data() + i, &word, 8);
  }
}

// Writes 1 GiB to a new file in `dir` in 64 MiB pieces, each made durable with fdatasync before
// the next, as sovd's push does every 64 MiB; returns MB/s.
double DiskWriteRate(const fs::path& dir) {
  constexpr size_t kPiece = size_t{64} << 20;
  constexpr int kPieces = 16;
  std::vector<unsigned char> piece(kPiece);
  FillRandom(piece);
  const fs::path path = dir / "ceiling-write.bin";
  ::sync();  // nothing else's dirty pages in the way
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) std::abort();
  const auto start = Clock::now();
  for (int i = 0; i < kPieces; ++i) {
    size_t done = 0;
    while (done < kPiece) {
      ssize_t n = ::write(fd, piece.data() + done, kPiece - done);
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
    if (::fdatasync(fd) != 0) std::abort();
  }
  const double elapsed = Seconds(Clock::now() - start);
  ::close(fd);
  fs::remove(path);
  return static_cast<double>(kPiece) * kPieces / 1e6 / elapsed;
}

// SHA-256 of 1 GiB in 1 MiB updates through OpenSSL EVP on this thread; returns MB/s.
double Sha256Rate() {
  std::vector<unsigned char> buffer(size_t{1} << 20);
  FillRandom(buffer);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const auto start = Clock::now();
  if (EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) std::abort();
  for (int i = 0; i < 1024; ++i) {
    if (EVP_DigestUpdate(ctx, buffer.data(), buffer.size()) != 1) std::abort();
  }
  if (EVP_DigestFinal_ex(ctx, digest, &length) != 1) std::abort();
  const double elapsed = Seconds(Clock::now() - start);
  EVP_MD_CTX_free(ctx);
  return 1024 * 1048576.0 / 1e6 / elapsed;
}

// ChaCha20-Poly1305 sealing of 1 GiB as 1 MiB chunks, each with its own nonce and tag as sovd
// seals blob chunks, through OpenSSL EVP on this thread; returns MB/s.
double ChaCha20Poly1305Rate() {
  std::vector<unsigned char> plain(size_t{1} << 20);
  FillRandom(plain);
  std::vector<unsigned char> sealed(plain.size());
  unsigned char key[32] = {1};
  unsigned char nonce[12] = {};
  unsigned char tag[16];
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  const auto start = Clock::now();
  for (int i = 0; i < 1024; ++i) {
    std::memcpy(nonce, &i, sizeof i);
    int n = 0;
    const int size = static_cast<int>(plain.size());
    if (EVP_EncryptInit_ex(ctx, EVP_chacha20_poly1305(), nullptr, key, nonce) != 1 ||
        EVP_EncryptUpdate(ctx, sealed.data(), &n, plain.data(), size) != 1 ||
        EVP_EncryptFinal_ex(ctx, sealed.data() + n, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, sizeof tag, tag) != 1) {
      std::abort();
    }
  }
  const double elapsed = Seconds(Clock::now() - start);
  EVP_CIPHER_CTX_free(ctx);
  return 1024 * 1048576.0 / 1e6 / elapsed;
}

// Prints one ceiling (MB/s) as a multiple of the peer's rate for the same operation, or beside
// it; alone when the peer's rate is unknown (<= 0).
void PrintCeiling(const char* what, double ceiling, const char* peer, double peer_rate,
                  bool as_multiple) {
  if (peer_rate <= 0) {
    std::printf("ceiling: %s %.0f MB/s\n", what, ceiling);
  } else if (as_multiple) {
    std::printf("ceiling: %s %.0f MB/s = %.1fx %s\n", what, ceiling, ceiling / peer_rate, peer);
  } else {
    std::printf("ceiling: %s %.0f MB/s vs %s %.0f MB/s\n", what, ceiling, peer, peer_rate);
  }
}

// Seconds for docker-registry to take and to give back the same file; negative when a step
// failed or the peer is not available.
struct PeerTimes {
  double push_s = -1;
  double fetch_s = -1;
};

PeerTimes TimeDockerRegistry(const fs::path& work, const fs::path& file,
                             const std::string& digest) {
  PeerTimes times;
  if (!OnPath("docker-registry") || !OnPath("curl")) return times;
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
    times.push_s = Seconds(Clock::now() - start);
    if (code != "201") {
      std::cerr << "docker-registry PUT answered " << code << "\n";
      times.push_s = -1;
    }
    const auto fetch_start = Clock::now();
    code.clear();
    Run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
         base + "/v2/bench/blobs/" + digest},
        &code);
    times.fetch_s = Seconds(Clock::now() - fetch_start);
    if (code != "200") times.fetch_s = -1;
  }
  ::kill(registry.pid, SIGTERM);
  ::waitpid(registry.pid, nullptr, 0);
  return times;
}

struct Options {
  int mib = 1024;
  double seconds = 5;
  int clients = 32;
  bool keep = false;
  std::string only;  // "get", "push", "fetch", or empty for all three
  bool Times(std::string_view part) const { return only.empty() || only == part; }
};

std::optional<Options> ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--mib" && has_value) {
      o.mib = std::atoi(argv[++i]);
    } else if (a == "--seconds" && has_value) {
      o.seconds = std::atof(argv[++i]);
    } else if (a == "--clients" && has_value) {
      o.clients = std::atoi(argv[++i]);
    } else if (a == "--only" && has_value) {
      o.only = argv[++i];
      if (o.only != "get" && o.only != "push" && o.only != "fetch") return std::nullopt;
    } else if (a == "--keep") {
      o.keep = true;
    } else {
      return std::nullopt;
    }
  }
  return o;
}

// Times the fetch of the pushed artifact (when asked for) and docker-registry's push and fetch
// of the same file, and prints the rows and ceilings asked for. False when sovd's fetch failed.
bool CompareTransfers(const Options& o, sov::v1::RegistryService::Stub& stub, pid_t sovd_pid,
                      const fs::path& work, const fs::path& file, const std::string& digest,
                      double push_s, long rss_small, const Ceilings& ceilings) {
  const double mb = static_cast<double>(o.mib) * 1048576.0 / 1e6;
  double fetch_s = 0;
  if (o.Times("fetch")) {
    fetch_s = Fetch(stub, "acme-ml/bench/artifact", "1.0.0",
                    static_cast<int64_t>(fs::file_size(file)));
    if (fetch_s < 0) return false;
  }
  const long rss_big = PeakRssKiB(sovd_pid);
  const PeerTimes peer = TimeDockerRegistry(work, file, digest);
  const double peer_push = peer.push_s > 0 ? mb / peer.push_s : 0;
  const double peer_fetch = peer.fetch_s > 0 ? mb / peer.fetch_s : 0;

  std::printf("\n%-44s %10s   %-34s %10s   %s\n", "ours", "MB/s", "peer", "MB/s", "ours/peer");
  auto row = [&](const char* ours, double s, const char* peer_name, double peer_rate) {
    const double r = mb / s;
    if (peer_rate > 0) {
      std::printf("%-44s %10.1f   %-34s %10.1f   %.2fx\n", ours, r, peer_name, peer_rate,
                  r / peer_rate);
    } else {
      std::printf("%-44s %10.1f   %-34s %10s   -\n", ours, r, peer_name, "n/a");
    }
  };
  if (o.Times("push")) {
    row("sovd push (hash+encrypt+fsync+audit, mTLS)", push_s, "docker-registry push (curl PUT)",
        peer_push);
  }
  if (o.Times("fetch")) {
    row("sovd fetch (decrypt+verify, mTLS)", fetch_s, "docker-registry fetch (curl GET)",
        peer_fetch);
  }
  if (o.Times("push")) {
    PrintCeiling("durable disk write", ceilings.disk_write, "docker-registry push", peer_push,
                 true);
    PrintCeiling("sha256 (one core)", ceilings.sha256, "docker-registry push", peer_push, true);
    PrintCeiling("chacha20-poly1305 (one core)", ceilings.chacha20_poly1305,
                 "docker-registry push", peer_push, true);
  }
  if (o.Times("fetch")) {
    PrintCeiling("sha256 (one core)", ceilings.sha256, "docker-registry fetch", peer_fetch,
                 false);
    PrintCeiling("chacha20-poly1305 (one core)", ceilings.chacha20_poly1305,
                 "docker-registry fetch", peer_fetch, false);
  }
  std::printf("sovd peak RSS: %ld MiB after a 1 MiB push, %ld MiB after the %d MiB push%s\n",
              rss_small / 1024, rss_big / 1024, o.mib, o.Times("fetch") ? "+fetch" : "");
  return true;
}

// Hammers GetArtifact on sovd, then on a bare server answering with the message sovd returned,
// over the same mTLS credentials; prints both and the ratio. False when sovd's first call fails.
bool CompareUnary(const Options& o, sov::v1::RegistryService::Stub& stub, const fs::path& work,
                  const std::string& sovd_address) {
  sov::v1::GetArtifactRequest get;
  get.mutable_artifact()->set_name("acme-ml/bench/artifact");
  get.mutable_artifact()->set_version("1.0.0");
  sov::v1::GetArtifactResponse canned;
  {
    grpc::ClientContext ctx;
    if (!stub.GetArtifact(&ctx, get, &canned).ok()) return false;
  }
  std::vector<std::shared_ptr<grpc::Channel>> ours;
  for (int i = 0; i < o.clients; ++i) ours.push_back(MtlsChannel(work / "sovd", sovd_address, "acme-ml"));
  const Rate ours_rate = Hammer(ours, get, o.seconds);

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
  for (int i = 0; i < o.clients; ++i) {
    peers.push_back(MtlsChannel(work / "sovd", "127.0.0.1:" + std::to_string(bare_port), "acme-ml"));
  }
  const Rate peer_rate = Hammer(peers, get, o.seconds);
  bare_server->Shutdown();

  std::printf("\n");
  std::printf("%-44s %10s %10s %10s %8s\n", ("unary GetArtifact, " + std::to_string(o.clients) + " clients").c_str(), "calls/s", "p50 us",
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
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  sov::TuneAllocatorForStreaming();
  const std::optional<Options> options = ParseOptions(argc, argv);
  if (!options) {
    std::cerr << "usage: registry_throughput [--mib N] [--seconds S] [--clients C] "
                 "[--only get|push|fetch] [--keep]\n";
    return 2;
  }
  const Options& o = *options;
  const std::string sovd = sov::bench::SovdBinary(SOV_BINARY_DIR);
  const fs::path work = fs::temp_directory_path() / ("sov-bench-registry-" + std::to_string(::getpid()));
  fs::create_directories(work);
  const fs::path file = work / "artifact.bin";
  std::cout << "registry_throughput: " << o.mib << " MiB artifact, " << o.clients
            << " clients for " << o.seconds << " s (work dir " << work << ")\n";
  const std::string digest = MakeFile(file, o.mib);

  // Measured before sovd starts, so that each hash has a core to itself.
  Ceilings ceilings;
  if (o.Times("push") || o.Times("fetch")) {
    ceilings.disk_write = DiskWriteRate(work);
    ceilings.sha256 = Sha256Rate();
    ceilings.chacha20_poly1305 = ChaCha20Poly1305Rate();
  }

  // sovd
  std::optional<sov::bench::Sovd> server = sov::bench::StartSovd(sovd, work / "sovd");
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
  if (push_s < 0) return 1;
  if ((o.Times("push") || o.Times("fetch")) &&
      !CompareTransfers(o, *stub, server->child.pid, work, file, digest, push_s, rss_small,
                        ceilings)) {
    return 1;
  }
  if (o.Times("get") && !CompareUnary(o, *stub, work, server->address)) return 1;

  sov::bench::StopSovd(*server);
  if (!o.keep) fs::remove_all(work);
  return 0;
}
