// crypto_throughput: measures the throughput of Sovereign's SHA-256 (crypto::Sha256), of its
// blob encryption (crypto/chunked_aead.h, OpenSSL ChaCha20-Poly1305 per 1 MiB chunk) and of its
// older stream encryption (crypto::StreamEncryptor / StreamDecryptor, libsodium secretstream) over
// a buffer held in memory (1 GiB by default), and beside them, in the same run on the same
// machine, the peers a reader would compare against: `openssl speed -evp sha256`, coreutils
// `sha256sum` over the same bytes in a page-cached file, and `openssl speed -evp
// chacha20-poly1305` (encrypt and decrypt). Prints one table: MB/s (10^6 bytes per second, wall
// clock) for each, the ratio ours/peer, and the number of runs. A peer that cannot run is
// reported as "peer not available".
//
// Usage: crypto_throughput [--mib N] [--runs N] [--seconds N]
// Run by `make bench` (the CMake target `bench`), never by the tests.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/status.h"
#include "crypto/chunked_aead.h"
#include "crypto/secret_key.h"
#include "crypto/secretstream.h"
#include "crypto/sha256.h"

namespace {

using Clock = std::chrono::steady_clock;
using sov::crypto::kStreamChunkSize;

struct Options {
  size_t mib = 1024;
  int runs = 3;
  int openssl_seconds = 3;
};

// Throughput samples in MB/s (10^6 bytes per second).
struct Samples {
  std::vector<double> mbps;
  std::string note;  // why there are none, when there are none

  bool available() const { return !mbps.empty(); }
  double Median() const {
    std::vector<double> sorted = mbps;
    std::sort(sorted.begin(), sorted.end());
    size_t n = sorted.size();
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }
  double Best() const { return *std::max_element(mbps.begin(), mbps.end()); }
};

double Mbps(size_t bytes, Clock::duration elapsed) {
  double seconds = std::chrono::duration<double>(elapsed).count();
  return seconds > 0 ? static_cast<double>(bytes) / seconds / 1e6 : 0;
}

// Fills `buffer` with xorshift64 output: incompressible, and cheap to make.
void FillPseudoRandom(std::string& buffer) {
  uint64_t state = 0x9e3779b97f4a7c15ull;
  size_t i = 0;
  for (; i + 8 <= buffer.size(); i += 8) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    std::memcpy(&buffer[i], &state, 8);
  }
  for (; i < buffer.size(); ++i) buffer[i] = static_cast<char>(i);
}

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

// Runs `command` through /bin/sh with stderr folded into stdout; nullopt when it cannot start.
std::optional<CommandResult> RunCommand(const std::string& command) {
  std::string full = command + " 2>&1";
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  CommandResult result;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) result.output.append(buf, n);
  int status = pclose(pipe);
  result.exit_code = (status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  return result;
}

bool HaveProgram(const std::string& name) {
  auto result = RunCommand("command -v " + name + " >/dev/null");
  return result && result->exit_code == 0;
}

std::string FirstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  return line.size() > 100 ? line.substr(0, 100) + "..." : line;
}

// `openssl speed -mr -elapsed -evp <cipher_or_digest>` once per run; -elapsed makes it report
// wall-clock time as we do, and -mr prints "+F:<n>:<name>:<bytes per second>".
Samples OpenSslSpeed(const Options& options, const std::string& algorithm, bool decrypt) {
  Samples samples;
  if (!HaveProgram("openssl")) {
    samples.note = "peer not available: no openssl on the PATH";
    return samples;
  }
  std::string command = "openssl speed -mr -elapsed -evp " + algorithm +
                        (decrypt ? " -decrypt" : "") + " -bytes 16384 -seconds " +
                        std::to_string(options.openssl_seconds);
  for (int run = 0; run < options.runs; ++run) {
    auto result = RunCommand(command);
    if (!result || result->exit_code != 0) {
      samples.mbps.clear();
      samples.note = "peer not available: `" + command + "` failed" +
                     (result ? ": " + FirstLine(result->output) : std::string());
      return samples;
    }
    std::optional<double> bytes_per_second;
    size_t pos = 0;
    while ((pos = result->output.find("+F:", pos)) != std::string::npos) {
      size_t end = result->output.find('\n', pos);
      std::string line = result->output.substr(pos, end - pos);
      size_t colon = line.rfind(':');
      char* parse_end = nullptr;
      double value = std::strtod(line.c_str() + colon + 1, &parse_end);
      if (parse_end != line.c_str() + colon + 1 && value > 0) bytes_per_second = value;
      pos = end;
    }
    if (!bytes_per_second) {
      samples.mbps.clear();
      samples.note = "peer not available: could not parse `" + command + "` output";
      return samples;
    }
    samples.mbps.push_back(*bytes_per_second / 1e6);
  }
  return samples;
}

// Deletes the file when it goes out of scope.
struct TempFile {
  std::string path;
  ~TempFile() {
    if (!path.empty()) unlink(path.c_str());
  }
};

// coreutils sha256sum over `data` written to a file under /tmp (page-cached: written just before,
// and read once untimed); also checks that it agrees with our digest.
Samples Sha256sum(const Options& options, const std::string& data, const std::string& our_hex) {
  Samples samples;
  if (!HaveProgram("sha256sum")) {
    samples.note = "peer not available: no sha256sum on the PATH";
    return samples;
  }
  TempFile file;
  char name[] = "/tmp/sov-bench-XXXXXX";
  int fd = mkstemp(name);
  if (fd < 0) {
    samples.note = "peer not available: mkstemp under /tmp failed: " + std::string(strerror(errno));
    return samples;
  }
  file.path = name;
  size_t written = 0;
  while (written < data.size()) {
    ssize_t n = write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      samples.note = "peer not available: writing " + file.path + " failed: " + strerror(errno);
      return samples;
    }
    written += static_cast<size_t>(n);
  }
  close(fd);

  const std::string command = "sha256sum " + file.path;
  for (int run = -1; run < options.runs; ++run) {  // run -1 warms the page cache
    Clock::time_point start = Clock::now();
    auto result = RunCommand(command);
    Clock::duration elapsed = Clock::now() - start;
    if (!result || result->exit_code != 0) {
      samples.mbps.clear();
      samples.note = "peer not available: `sha256sum` failed" +
                     (result ? ": " + FirstLine(result->output) : std::string());
      return samples;
    }
    if (result->output.compare(0, our_hex.size(), our_hex) != 0) {
      samples.mbps.clear();
      samples.note = "DISAGREES: sha256sum printed " + FirstLine(result->output);
      return samples;
    }
    if (run >= 0) samples.mbps.push_back(Mbps(data.size(), elapsed));
  }
  return samples;
}

// Runs `body` once untimed (first touch of output buffers, caches), then `runs` times, and
// returns the throughput of each timed run over `bytes`.
Samples Time(int runs, size_t bytes, const std::function<sov::Status()>& body) {
  Samples samples;
  for (int run = -1; run < runs; ++run) {
    Clock::time_point start = Clock::now();
    sov::Status status = body();
    Clock::duration elapsed = Clock::now() - start;
    if (!status.ok()) {
      samples.mbps.clear();
      samples.note = "failed: " + status.ToString();
      return samples;
    }
    if (run >= 0) samples.mbps.push_back(Mbps(bytes, elapsed));
  }
  return samples;
}

struct Row {
  std::string what;
  const Samples* ours;
  std::string peer_name;
  const Samples* peer;
};

void PrintTable(const std::vector<Row>& rows, const Options& options) {
  std::printf("\n%-32s %10s %10s  %-44s %10s %8s\n", "operation (ours)", "MB/s med",
              "MB/s best", "peer", "MB/s med", "ours/peer");
  std::printf("%s\n", std::string(121, '-').c_str());
  for (const Row& row : rows) {
    char ours_median[32] = "n/a";
    char ours_best[32] = "n/a";
    if (row.ours->available()) {
      std::snprintf(ours_median, sizeof(ours_median), "%.0f", row.ours->Median());
      std::snprintf(ours_best, sizeof(ours_best), "%.0f", row.ours->Best());
    }
    char peer_median[32] = "n/a";
    char ratio[32] = "n/a";
    if (row.peer != nullptr && row.peer->available()) {
      std::snprintf(peer_median, sizeof(peer_median), "%.0f", row.peer->Median());
      if (row.ours->available()) {
        std::snprintf(ratio, sizeof(ratio), "%.2f", row.ours->Median() / row.peer->Median());
      }
    }
    std::printf("%-32s %10s %10s  %-44s %10s %8s\n", row.what.c_str(), ours_median, ours_best,
                row.peer_name.c_str(), peer_median, ratio);
    if (!row.ours->available()) std::printf("    ours: %s\n", row.ours->note.c_str());
    if (row.peer != nullptr && !row.peer->available()) {
      std::printf("    %s\n", row.peer->note.c_str());
    }
  }
  std::printf("\n%d timed runs each after one untimed warm-up (median and best shown); "
              "%zu MiB in memory; openssl speed: "
              "16384-byte blocks, %d s per run, wall clock (-elapsed); MB = 10^6 bytes.\n",
              options.runs, options.mib, options.openssl_seconds);
}

bool ParsePositive(const char* text, long max, long* out) {
  char* end = nullptr;
  long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value <= 0 || value > max) return false;
  *out = value;
  return true;
}

bool ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    long value = 0;
    if (i + 1 >= argc) return false;
    if (arg == "--mib" && ParsePositive(argv[++i], 64 * 1024, &value)) {
      options->mib = static_cast<size_t>(value);
    } else if (arg == "--runs" && ParsePositive(argv[++i], 100, &value)) {
      options->runs = static_cast<int>(value);
    } else if (arg == "--seconds" && ParsePositive(argv[++i], 60, &value)) {
      options->openssl_seconds = static_cast<int>(value);
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) {
    std::fprintf(stderr, "usage: %s [--mib N] [--runs N] [--seconds N]\n", argv[0]);
    return 2;
  }
  const size_t size = options.mib << 20;
  std::printf("crypto_throughput: %zu MiB, %d runs\n", options.mib, options.runs);
  std::fflush(stdout);

  std::string plaintext(size, '\0');
  FillPseudoRandom(plaintext);

  // SHA-256, streamed in 1 MiB pieces as the registry hashes an upload.
  std::string our_hex;
  Samples sha = Time(options.runs, size, [&] {
    sov::crypto::Sha256 hasher;
    for (size_t off = 0; off < size; off += kStreamChunkSize) {
      hasher.Update(std::string_view(plaintext).substr(off, kStreamChunkSize));
    }
    our_hex = hasher.Finish().Hex();
    return sov::OkStatus();
  });

  // secretstream encryption and decryption, fed in 1 MiB pieces.
  const sov::crypto::SecretKey key = sov::crypto::SecretKey::Random();
  std::string ciphertext;
  Samples encrypt = Time(options.runs, size, [&]() -> sov::Status {
    ciphertext.clear();
    ciphertext.reserve(sov::crypto::StreamCiphertextSize(size));
    SOV_ASSIGN_OR_RETURN(auto encryptor, sov::crypto::StreamEncryptor::Create(key, &ciphertext));
    for (size_t off = 0; off < size; off += kStreamChunkSize) {
      SOV_RETURN_IF_ERROR(
          encryptor.Update(std::string_view(plaintext).substr(off, kStreamChunkSize), &ciphertext));
    }
    return encryptor.Finish(&ciphertext);
  });
  std::string decrypted;
  Samples decrypt;
  if (encrypt.available()) {
    decrypt = Time(options.runs, size, [&]() -> sov::Status {
      decrypted.clear();
      decrypted.reserve(size);
      SOV_ASSIGN_OR_RETURN(auto decryptor, sov::crypto::StreamDecryptor::Create(key));
      for (size_t off = 0; off < ciphertext.size(); off += kStreamChunkSize) {
        SOV_RETURN_IF_ERROR(decryptor.Update(
            std::string_view(ciphertext).substr(off, kStreamChunkSize), &decrypted));
      }
      return decryptor.Finish(&decrypted);
    });
    if (decrypt.available() && decrypted != plaintext) {
      decrypt.mbps.clear();
      decrypt.note = "failed: decrypted bytes differ from the plaintext";
    }
  } else {
    decrypt.note = "skipped: encryption failed";
  }

  // Chunked AEAD (the blob format): every chunk sealed and opened on its own, as the blob store
  // does, into buffers whose capacity is reused.
  const std::string header = sov::crypto::NewBlobHeader();
  const uint64_t chunks = sov::crypto::ChunkCount(size);
  Samples chunked_encrypt = Time(options.runs, size, [&]() -> sov::Status {
    ciphertext.clear();
    ciphertext.reserve(sov::crypto::SealedSize(size));
    ciphertext.append(header);
    for (uint64_t i = 0; i < chunks; ++i) {
      SOV_RETURN_IF_ERROR(sov::crypto::EncryptChunk(
          key, header, i, sov::crypto::IsFinalChunk(i, size),
          std::string_view(plaintext).substr(i * sov::crypto::kChunkPlaintextBytes,
                                             sov::crypto::ChunkPlaintextSize(i, size)),
          ciphertext));
    }
    return sov::OkStatus();
  });
  Samples chunked_decrypt;
  if (chunked_encrypt.available()) {
    chunked_decrypt = Time(options.runs, size, [&]() -> sov::Status {
      decrypted.clear();
      decrypted.reserve(size);
      for (uint64_t i = 0; i < chunks; ++i) {
        SOV_RETURN_IF_ERROR(sov::crypto::DecryptChunk(
            key, header, i, sov::crypto::IsFinalChunk(i, size),
            std::string_view(ciphertext)
                .substr(sov::crypto::ChunkFileOffset(i),
                        sov::crypto::ChunkPlaintextSize(i, size) +
                            sov::crypto::kChunkOverheadBytes),
            decrypted));
      }
      return sov::OkStatus();
    });
    if (chunked_decrypt.available() && decrypted != plaintext) {
      chunked_decrypt.mbps.clear();
      chunked_decrypt.note = "failed: decrypted bytes differ from the plaintext";
    }
  } else {
    chunked_decrypt.note = "skipped: encryption failed";
  }
  ciphertext = std::string();
  decrypted = std::string();

  std::printf("ours done; running peers (about %d s)...\n",
              options.runs * (3 * options.openssl_seconds + 4));
  std::fflush(stdout);
  Samples openssl_sha = OpenSslSpeed(options, "sha256", false);
  Samples sha256sum;
  if (sha.available()) {
    sha256sum = Sha256sum(options, plaintext, our_hex);
  } else {
    sha256sum.note = "skipped: our SHA-256 failed";
  }
  Samples openssl_enc = OpenSslSpeed(options, "chacha20-poly1305", false);
  Samples openssl_dec = OpenSslSpeed(options, "chacha20-poly1305", true);

  PrintTable(
      {
          {"SHA-256 (crypto::Sha256)", &sha, "openssl speed -evp sha256", &openssl_sha},
          {"SHA-256 (crypto::Sha256)", &sha, "sha256sum, same bytes, page-cached file",
           &sha256sum},
          {"chunked_aead encrypt", &chunked_encrypt, "openssl speed -evp chacha20-poly1305",
           &openssl_enc},
          {"chunked_aead decrypt", &chunked_decrypt,
           "openssl speed -evp chacha20-poly1305 -decrypt", &openssl_dec},
          {"secretstream encrypt", &encrypt, "openssl speed -evp chacha20-poly1305", &openssl_enc},
          {"secretstream decrypt", &decrypt, "openssl speed -evp chacha20-poly1305 -decrypt",
           &openssl_dec},
      },
      options);
  bool ours_ok = sha.available() && chunked_encrypt.available() &&
                 chunked_decrypt.available() && encrypt.available() && decrypt.available();
  return ours_ok ? 0 : 1;
}
