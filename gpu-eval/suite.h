// The benchmark suite: everything a release gate can ask about a model, measured with one
// backend on one validation dataset and written into a Report.
//
//   quality      a clean run: accuracy, macro-F1, per-class precision/recall, confusion, log-loss
//   fairness     per-group accuracy and positive rate, and the largest gaps (when groups exist)
//   robustness   a run with seeded Gaussian input noise; NaN/Inf in weights and outputs
//   determinism  a second clean run must give identical predictions
//   performance  latency p50/p99 per batch size, throughput, memory held
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "gpu-eval/backend.h"
#include "gpu-eval/dataset.h"
#include "gpu-eval/model.h"
#include "gpu-eval/report.h"

namespace sov::gpu_eval {

struct SuiteOptions {
  double noise_stddev = 0.1;        // in the features' own units
  uint64_t noise_seed = 20261129;
  int32_t positive_class = 1;       // the "favourable" outcome for the fairness rates
  std::vector<int64_t> batch_sizes = {1, 32, 1024};
  int warmup = 3;
  int min_iterations = 20;          // per batch size, and at least
  double min_seconds = 0.5;         // this long per batch size
  bool check_determinism = true;
};

// Loads `model` and `dataset` into `backend` and runs the suite. `report.model`/`dataset` are
// left for the caller to fill (paths, digests). INVALID_ARGUMENT when the dataset does not fit
// the model; a backend failure is returned as is. `progress` gets stages "quality",
// "robustness", "determinism", "latency".
Result<Report> RunSuite(Backend& backend, const Model& model, const Dataset& dataset,
                        const SuiteOptions& options, const ProgressFn& progress = {});

}  // namespace sov::gpu_eval
