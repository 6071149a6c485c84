// Push to released through a real sovd: how long a model takes from `push` to `released`, split
// into the phases an ML team waits for, beside the same benchmark suite run in this process on the
// same files (the pipeline's own cost is the difference).
//
//   1. A feed-forward model of about 100 MB (784-4096-5120-10, F32 by default) and a 10,000-row
//      validation set are generated. The validation labels are the model's own predictions (from
//      the CPU backend), so that the model passes an accuracy gate: what is measured is the
//      pipeline, not the model.
//   2. `sovd --dev` starts with the dev policy whose release gates are replaced by one gate:
//      accuracy >= 0.99 on the validation set, and two signatures (the registry's and the
//      acme-ml tenant's publisher key).
//   3. The dataset, then the model, are pushed (transfer); the model's validation job is queued by
//      the push, run by sovd's worker on the CPU backend (queue wait, validation), and leaves the
//      model PENDING for its second signature; acme-ml signs the manifest and the Sign call
//      releases it (signing).
//   4. The peer: gpu_eval::RunSuite on the same model and data with the CPU backend, in-process,
//      with the suite options the worker uses.
//
// With --eval-worker the gateway runs no worker of its own (`validation: {workers: 0,
// external_workers: true}`) and a separate `sovd eval-worker --workers 1 --backend cpu` process
// runs the job: the queue wait is then how long a job queued by one process takes to reach
// another (the queue signal, gateway/queue_signal.h, or failing that the workers' poll).
//
// Needs only this build tree (sovd). Usage: release_pipeline_bench [--rows N] [--widths
// 784,4096,5120,10] [--threads T] [--eval-worker] [--keep]
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>

#include "bench/gpu-eval/backend_comparison.h"
#include "bench/sovd_harness.h"
#include "crypto/dsse.h"
#include "crypto/ed25519.h"
#include "crypto/sha256.h"
#include "gpu-eval/backend.h"
#include "gpu-eval/suite.h"
#include "sov/v1/evaluation.grpc.pb.h"
#include "sov/v1/registry.grpc.pb.h"

namespace {

namespace fs = std::filesystem;
namespace gpu = sov::gpu_eval;
using sov::bench::Clock;
using sov::bench::Seconds;

struct Options {
  int64_t rows = 10000;
  std::vector<int64_t> widths = {784, 4096, 5120, 10};
  int threads = 0;  // 0: every core, as sovd's worker uses them
  bool keep = false;
  bool eval_worker = false;  // validate in a `sovd eval-worker` process, not in sovd
};

std::optional<Options> ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "--rows") {
      const char* v = next();
      if (v == nullptr || (o.rows = std::atoll(v)) <= 0) return std::nullopt;
    } else if (arg == "--threads") {
      const char* v = next();
      if (v == nullptr || (o.threads = std::atoi(v)) < 0) return std::nullopt;
    } else if (arg == "--widths") {
      const char* v = next();
      if (v == nullptr) return std::nullopt;
      o.widths.clear();
      std::stringstream in(v);
      std::string part;
      while (std::getline(in, part, ',')) {
        const int64_t w = std::atoll(part.c_str());
        if (w <= 0) return std::nullopt;
        o.widths.push_back(w);
      }
      if (o.widths.size() < 2) return std::nullopt;
    } else if (arg == "--keep") {
      o.keep = true;
    } else if (arg == "--eval-worker") {
      o.eval_worker = true;
    } else {
      return std::nullopt;
    }
  }
  return o;
}

std::string DigestOf(std::string_view bytes) {
  sov::crypto::Sha256 hash;
  hash.Update(bytes);
  return hash.Finish().ToString();
}

bool WriteFile(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

// The validation set: standard normal features, labels = the model's own predictions.
struct Generated {
  std::string model_bytes;
  std::string dataset_bytes;
  gpu::Dataset dataset;  // as loaded, for the in-process peer
};

std::optional<Generated> Generate(const Options& o, const gpu::Model*& model_out,
                                  std::optional<gpu::crosscheck::GeneratedModel>& keep_model) {
  gpu::crosscheck::ModelSpec spec;
  spec.widths = o.widths;
  spec.seed = 7;
  auto model = gpu::crosscheck::MakeRandomModel(spec);
  if (!model.ok()) {
    std::cerr << "model: " << model.status().ToString() << "\n";
    return std::nullopt;
  }
  keep_model = std::move(model).value();
  model_out = &keep_model->model;

  Generated g;
  g.model_bytes = *keep_model->bytes;
  gpu::Dataset& d = g.dataset;
  d.source = "generated";
  d.rows = o.rows;
  d.cols = o.widths.front();
  d.features.resize(static_cast<size_t>(d.rows * d.cols));
  std::mt19937_64 rng(11);
  std::normal_distribution<float> feature(0.0f, 1.0f);
  for (float& v : d.features) v = feature(rng);
  d.labels.assign(static_cast<size_t>(d.rows), 0);

  gpu::BackendOptions backend_options;
  backend_options.kind = gpu::BackendKind::kCpu;
  backend_options.threads = o.threads;
  std::unique_ptr<gpu::Backend> cpu = gpu::CreateCpuBackend(backend_options);
  sov::Status status = cpu->LoadModel(*model_out);
  if (status.ok()) status = cpu->LoadDataset(d);
  if (!status.ok()) {
    std::cerr << "labelling: " << status.ToString() << "\n";
    return std::nullopt;
  }
  auto run = cpu->Run(gpu::RunOptions{});
  if (!run.ok()) {
    std::cerr << "labelling: " << run.status().ToString() << "\n";
    return std::nullopt;
  }
  d.labels = run->predictions;

  std::vector<gpu::TensorToWrite> tensors;
  tensors.push_back({"features", gpu::DType::kF32, {d.rows, d.cols},
                     gpu::crosscheck::EncodeTensor(d.features, gpu::DType::kF32)});
  std::string labels(d.labels.size() * sizeof(int32_t), '\0');
  std::memcpy(labels.data(), d.labels.data(), labels.size());
  tensors.push_back({"labels", gpu::DType::kI32, {d.rows}, std::move(labels)});
  g.dataset_bytes = gpu::SerializeSafetensors(tensors);
  return g;
}

// The dev policy with its release_gates section replaced by the benchmark's one gate.
bool InstallBenchPolicy(const fs::path& dev_dir, const std::string& dataset_name) {
  const fs::path path = dev_dir / "policy.yaml";
  std::string text = sov::bench::ReadText(path);
  // The section runs to the next top-level line (a key, or the comment above one).
  const size_t begin = text.find("\nrelease_gates:\n");
  size_t end = std::string::npos;
  for (size_t at = begin == std::string::npos ? begin : text.find('\n', begin + 1);
       at != std::string::npos && at + 1 < text.size(); at = text.find('\n', at + 1)) {
    const char c = text[at + 1];
    if (c != ' ' && c != '\n') {
      end = at;
      break;
    }
  }
  if (begin == std::string::npos || end == std::string::npos) {
    std::cerr << "cannot find the release_gates section in " << path << "\n";
    return false;
  }
  const std::string gates =
      "\nrelease_gates:\n"
      "  - id: bench-release\n"
      "    benchmarks: [accuracy]\n"
      "    validation_datasets: [\"" + dataset_name + "@^1.0.0\"]\n"
      "    require:\n"
      "      - eval.accuracy >= 0.99\n"
      "    signatures:\n"
      "      threshold: 2\n"
      "      signers: [registry, acme-ml]\n";
  text.replace(begin, end - begin, gates);
  return WriteFile(path, text);
}

double ToSeconds(const google::protobuf::Timestamp& t) {
  return static_cast<double>(t.seconds()) + t.nanos() / 1e9;
}

// Polls the model's validation jobs until one has finished; nullopt after `timeout`.
std::optional<sov::v1::ValidationJob> WaitForJob(sov::v1::EvaluationService::Stub& stub,
                                                 const std::string& name,
                                                 const std::string& version,
                                                 std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string last_phase;
  while (Clock::now() < deadline) {
    grpc::ClientContext ctx;
    sov::v1::ListValidationJobsRequest request;
    request.mutable_model()->set_name(name);
    request.mutable_model()->set_version(version);
    sov::v1::ListValidationJobsResponse response;
    grpc::Status status = stub.ListValidationJobs(&ctx, request, &response);
    if (!status.ok()) {
      std::cerr << "ListValidationJobs: " << status.error_message() << "\n";
      return std::nullopt;
    }
    for (const sov::v1::ValidationJob& job : response.jobs()) {
      if (job.state() == sov::v1::JOB_STATE_SUCCEEDED || job.state() == sov::v1::JOB_STATE_FAILED) {
        return job;
      }
      if (job.phase() != last_phase && ::isatty(2)) {
        last_phase = job.phase();
        std::cerr << "  validation: " << last_phase << " (" << static_cast<int>(job.progress() * 100)
                  << "%)\n";
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::cerr << "no validation job finished within " << timeout.count() << " s\n";
  return std::nullopt;
}

// Signs the model's manifest with acme-ml's publisher key; returns the seconds the Sign call took
// (signature made beforehand) and the stage it left the model in.
std::optional<std::pair<double, sov::v1::Stage>> SignAsPublisher(
    sov::v1::RegistryService::Stub& stub, const fs::path& dev_dir, const std::string& name,
    const std::string& version) {
  auto key = sov::crypto::LoadPrivateKeyFile((dev_dir / "clients" / "acme-ml.publisher.key").string());
  if (!key.ok()) {
    std::cerr << "publisher key: " << key.status().ToString() << "\n";
    return std::nullopt;
  }
  grpc::ClientContext get_ctx;
  sov::v1::GetArtifactRequest get;
  get.mutable_artifact()->set_name(name);
  get.mutable_artifact()->set_version(version);
  sov::v1::GetArtifactResponse got;
  grpc::Status status = stub.GetArtifact(&get_ctx, get, &got);
  if (!status.ok()) {
    std::cerr << "GetArtifact: " << status.error_message() << "\n";
    return std::nullopt;
  }
  const auto start = Clock::now();
  sov::v1::SignRequest sign;
  *sign.mutable_artifact() = get.artifact();
  sov::v1::DsseSignature* sig = sign.add_signatures();
  sig->set_sig(key->Sign(sov::crypto::Pae(got.manifest().payload_type(), got.manifest().payload())));
  sig->set_keyid(key->public_key().KeyId());
  grpc::ClientContext sign_ctx;
  sov::v1::SignResponse signed_response;
  status = stub.Sign(&sign_ctx, sign, &signed_response);
  const double seconds = Seconds(Clock::now() - start);
  if (!status.ok()) {
    std::cerr << "Sign: " << status.error_message() << "\n";
    return std::nullopt;
  }
  return std::make_pair(seconds, signed_response.artifact().stage());
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Options> options = ParseOptions(argc, argv);
  if (!options) {
    std::cerr << "usage: release_pipeline_bench [--rows N] [--widths 784,4096,5120,10] "
                 "[--threads T] [--eval-worker] [--keep]\n";
    return 2;
  }
  const Options& o = *options;
  const fs::path work =
      fs::temp_directory_path() / ("sov-bench-release-" + std::to_string(::getpid()));
  fs::create_directories(work);
  const fs::path dev_dir = work / "sovd";

  // 1. The files.
  const gpu::Model* model = nullptr;
  std::optional<gpu::crosscheck::GeneratedModel> model_storage;
  std::optional<Generated> generated = Generate(o, model, model_storage);
  if (!generated) return 1;
  const fs::path model_file = work / "model.safetensors";
  const fs::path dataset_file = work / "holdout.safetensors";
  if (!WriteFile(model_file, generated->model_bytes) ||
      !WriteFile(dataset_file, generated->dataset_bytes)) {
    std::cerr << "cannot write the generated files under " << work << "\n";
    return 1;
  }
  const std::string model_digest = DigestOf(generated->model_bytes);
  const std::string dataset_digest = DigestOf(generated->dataset_bytes);
  const double model_mb = static_cast<double>(generated->model_bytes.size()) / 1e6;
  const double dataset_mb = static_cast<double>(generated->dataset_bytes.size()) / 1e6;
  std::string shape;
  for (int64_t w : o.widths) shape += (shape.empty() ? "" : "-") + std::to_string(w);
  std::printf("release_pipeline_bench: model %s F32 (%.1f MB), validation set %lld rows (%.1f MB), "
              "CPU backend, %u cores, validated by %s (work dir %s)\n",
              shape.c_str(), model_mb, static_cast<long long>(o.rows), dataset_mb,
              std::thread::hardware_concurrency(),
              o.eval_worker ? "a sovd eval-worker process" : "sovd's own worker", work.c_str());

  // 2. The peer: the same suite in this process.
  double peer_s = 0;
  {
    gpu::BackendOptions backend_options;
    backend_options.kind = gpu::BackendKind::kCpu;
    backend_options.threads = o.threads;
    std::unique_ptr<gpu::Backend> cpu = gpu::CreateCpuBackend(backend_options);
    const auto start = Clock::now();
    auto report = gpu::RunSuite(*cpu, *model, generated->dataset, gpu::SuiteOptions{});
    peer_s = Seconds(Clock::now() - start);
    if (!report.ok()) {
      std::cerr << "in-process suite: " << report.status().ToString() << "\n";
      return 1;
    }
    std::printf("in-process suite: accuracy %.4f in %.2f s\n", report->accuracy, peer_s);
  }
  model_storage.reset();  // the model's ~100 MB are not needed any more
  generated->dataset = {};

  // 3. sovd with the benchmark's gate: a first start creates the dev environment.
  const std::string sovd_binary = sov::bench::SovdBinary(SOV_BINARY_DIR);
  {
    std::optional<sov::bench::Sovd> first = sov::bench::StartSovd(sovd_binary, dev_dir);
    if (!first) return 1;
    sov::bench::StopSovd(*first);
  }
  const std::string dataset_name = "acme-ml/bench/holdout";
  const std::string model_name = "acme-ml/bench/classifier";
  if (!InstallBenchPolicy(dev_dir, dataset_name)) return 1;
  if (o.eval_worker) {
    std::ofstream config(dev_dir / "sovd.yaml", std::ios::app);
    config << "validation:\n  workers: 0\n  external_workers: true\n";
    if (!config) {
      std::cerr << "cannot add the validation section to " << dev_dir / "sovd.yaml" << "\n";
      return 1;
    }
  }
  std::optional<sov::bench::Sovd> server = sov::bench::StartSovd(sovd_binary, dev_dir);
  if (!server) return 1;
  std::optional<sov::bench::Child> eval_worker;
  if (o.eval_worker) {
    std::vector<std::string> args = {"--workers", "1", "--backend", "cpu"};
    eval_worker = sov::bench::StartEvalWorker(sovd_binary, dev_dir / "sovd.yaml", args);
    if (!eval_worker) {
      sov::bench::StopSovd(*server);
      return 1;
    }
  }
  auto channel = sov::bench::MtlsChannel(dev_dir, server->address, "acme-ml");
  auto registry = sov::v1::RegistryService::NewStub(channel);
  auto evaluation = sov::v1::EvaluationService::NewStub(channel);

  int exit_code = 1;
  do {
    ::sync();
    const double dataset_push_s =
        sov::bench::Push(*registry, dataset_file, dataset_digest,
                         sov::bench::DatasetSpec(dataset_name, "1.0.0"));
    if (dataset_push_s < 0) break;

    sov::v1::ArtifactSpec spec;
    spec.set_kind(sov::v1::ARTIFACT_KIND_MODEL);
    spec.set_name(model_name);
    spec.set_version("1.0.0");
    spec.set_classification(sov::v1::CLASSIFICATION_INTERNAL);
    spec.add_purposes("fraud-detection");
    sov::v1::LineageRef* validated = spec.add_lineage();
    validated->mutable_artifact()->set_name(dataset_name);
    validated->mutable_artifact()->set_version("1.0.0");
    validated->set_relation(sov::v1::LINEAGE_RELATION_VALIDATED_ON);
    validated->set_kind(sov::v1::ARTIFACT_KIND_DATASET);
    const auto push_wall_start = std::chrono::system_clock::now();
    const double model_push_s = sov::bench::Push(*registry, model_file, model_digest, spec);
    if (model_push_s < 0) break;
    const double acked_at =
        std::chrono::duration<double>(push_wall_start.time_since_epoch()).count() + model_push_s;

    std::optional<sov::v1::ValidationJob> job =
        WaitForJob(*evaluation, model_name, "1.0.0", std::chrono::seconds(1800));
    if (!job) break;
    if (job->state() != sov::v1::JOB_STATE_SUCCEEDED) {
      std::cerr << "validation failed: " << job->error() << "\n";
      break;
    }
    const double queued_s = ToSeconds(job->start_time()) - std::max(acked_at, ToSeconds(job->create_time()));
    const double validation_s = ToSeconds(job->end_time()) - ToSeconds(job->start_time());
    const double ack_to_end_s = ToSeconds(job->end_time()) - acked_at;
    if (job->outcome_stage() != sov::v1::STAGE_PENDING) {
      std::cerr << "expected the model to wait for its second signature, the job left it in stage "
                << sov::v1::Stage_Name(job->outcome_stage()) << "\n";
      break;
    }
    auto signing = SignAsPublisher(*registry, dev_dir, model_name, "1.0.0");
    if (!signing) break;
    if (signing->second != sov::v1::STAGE_RELEASED) {
      std::cerr << "the second signature did not release the model (stage "
                << sov::v1::Stage_Name(signing->second) << ")\n";
      break;
    }
    const double total_s = model_push_s + ack_to_end_s + signing->first;

    std::printf("\n%-52s %10s %8s\n", "phase (model push to released)", "seconds", "share");
    auto row = [&](const char* what, double s) {
      std::printf("%-52s %10.3f %7.1f%%\n", what, s, 100.0 * s / total_s);
    };
    char transfer[96];
    std::snprintf(transfer, sizeof transfer, "transfer: model push, %.0f MB (%.0f MB/s)", model_mb,
                  model_mb / model_push_s);
    row(transfer, model_push_s);
    row("queue wait (push acknowledged -> job started)", std::max(0.0, queued_s));
    row("validation (job started -> report signed, gates)", validation_s);
    row("signing: publisher Sign call -> released", signing->first);
    std::printf("%-52s %10.3f\n", "total", total_s);
    std::printf("%-52s %10.3f\n", "(not counted) dataset push beforehand", dataset_push_s);
    std::printf("%-52s %10.3f\n", "(not counted) job queued -> job started, by the server",
                ToSeconds(job->start_time()) - ToSeconds(job->create_time()));
    std::printf("\npeer: the same suite in-process on the same files   %10.3f s\n", peer_s);
    std::printf("ratio in-process suite / sovd validation: %.2fx (1.00x = no pipeline overhead)\n",
                peer_s / validation_s);
    exit_code = 0;
  } while (false);

  if (eval_worker) sov::bench::StopChild(*eval_worker);
  sov::bench::StopSovd(*server);
  if (!o.keep) fs::remove_all(work);
  return exit_code;
}
