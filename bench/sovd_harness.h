// What the benchmarks that drive a real sovd share: child processes, a `sovd --dev` started on
// loopback with an ephemeral port (its address read from its ready line), mTLS channels with the
// dev environment's client certificates, and a streamed push of a file. Benchmarks only: errors
// are printed and returned as empty/negative results, never thrown; not thread-safe except where
// a function says so.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "sov/v1/registry.grpc.pb.h"

namespace sov::bench {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d);

struct Child {
  pid_t pid = -1;
  int out_fd = -1;  // the child's stdout when captured, else -1
};

// Starts argv with stdout on a pipe (capture) or on /dev/null; stderr goes to /dev/null.
Child Spawn(const std::vector<std::string>& argv, bool capture);
// Runs argv to completion; returns its exit code (-1 when killed) and, when `out` is given, its
// stdout.
int Run(const std::vector<std::string>& argv, std::string* out = nullptr);
// Whether `tool` is on PATH.
bool OnPath(const std::string& tool);
// The peak resident set of a process in KiB (VmHWM), -1 when unknown.
long PeakRssKiB(pid_t pid);
// The whole file, or "" when it cannot be read.
std::string ReadText(const std::filesystem::path& path);

// A running `sovd --dev --data-dir DIR`.
struct Sovd {
  Child child;
  std::string address;  // "127.0.0.1:PORT"
};
// Starts sovd (the binary at `sovd_binary`) in dev mode on `dir`, with `extra_args`, and waits
// up to 60 s for its ready line; keeps draining its stdout afterwards. nullopt (with sovd's
// output printed) when it does not start.
std::optional<Sovd> StartSovd(const std::string& sovd_binary, const std::filesystem::path& dir,
                              const std::vector<std::string>& extra_args = {"--no-policy-watch"});
// SIGTERM, then waits for it to exit.
void StopSovd(Sovd& sovd);
// Starts `sovd eval-worker --config CONFIG --no-policy-watch` with `extra_args` and waits up to
// 60 s for its running line; keeps draining its stdout afterwards. nullopt (with its output
// printed) when it does not start.
std::optional<Child> StartEvalWorker(const std::string& sovd_binary,
                                     const std::filesystem::path& config,
                                     const std::vector<std::string>& extra_args = {});
// SIGTERM, then waits for it to exit.
void StopChild(Child& child);
// The sovd binary of this build tree, or of $SOV_BUILD_DIR when set.
std::string SovdBinary(const char* binary_dir);

// An mTLS channel to a dev sovd whose environment is `dir`, as `tenant` (a client certificate in
// DIR/clients/). Every call returns a distinct connection.
std::shared_ptr<grpc::Channel> MtlsChannel(const std::filesystem::path& dir,
                                           const std::string& address, const std::string& tenant);

// Pushes `file` (whose sha256 digest is `digest`) with `spec`; returns the seconds from
// CreateUpload to the acknowledged commit, or a negative value on failure (printed).
double Push(sov::v1::RegistryService::Stub& stub, const std::filesystem::path& file,
            const std::string& digest, const sov::v1::ArtifactSpec& spec);
// A dataset spec as the registry benchmark pushes it: internal, purpose fraud-detection.
sov::v1::ArtifactSpec DatasetSpec(const std::string& name, const std::string& version);

}  // namespace sov::bench
