// The report as JSON in the schema of docs/models.md ("Evaluation report"): fixed group and
// field order, lowerCamelCase names, null for undefined metrics.
#include "gpu-eval/report.h"

#include <optional>
#include <span>

#include "gpu-eval/internal/json.h"

namespace sov::gpu_eval {
namespace {

void OptionalDouble(json::Writer& w, const std::optional<double>& value) {
  if (value) {
    w.Double(*value);
  } else {
    w.Null();
  }
}

void IntArray(json::Writer& w, std::span<const int64_t> values) {
  w.BeginArray();
  for (int64_t v : values) w.Int(v);
  w.EndArray();
}

void Subject(json::Writer& w, const Report& r) {
  w.Key("subject").BeginObject();
  w.Key("model").String(r.model);
  if (!r.model_digest.empty()) w.Key("modelDigest").String(r.model_digest);
  w.Key("dataset").String(r.dataset);
  if (!r.dataset_digest.empty()) w.Key("datasetDigest").String(r.dataset_digest);
  w.Key("weightDtype").String(r.weight_dtype);
  w.Key("layerSizes");
  IntArray(w, r.layer_sizes);
  w.Key("parameters").Int(r.parameters);
  w.Key("rows").Int(r.rows);
  w.Key("classes").Int(r.classes);
  w.EndObject();
}

void Conditions(json::Writer& w, const Report& r) {
  w.Key("conditions").BeginObject();
  w.Key("backend").String(r.backend);
  w.Key("backendKind").String(r.backend_kind);
  w.Key("precision").String(r.precision);
  w.Key("startedAt").String(r.started_at);
  w.Key("durationSeconds").Double(r.duration_seconds);
  w.EndObject();
}

// The confusion matrix as rows (true class) of columns (predicted class), which reads far better
// than a flat list; flat only if its size does not match `classes`, so that nothing is lost.
void Confusion(json::Writer& w, const Report& r) {
  const std::span<const int64_t> cells(r.confusion);
  const size_t n = r.classes > 0 ? static_cast<size_t>(r.classes) : 0;
  if (n == 0 || cells.size() != n * n) {
    IntArray(w, cells);
    return;
  }
  w.BeginArray();
  for (size_t row = 0; row < n; ++row) IntArray(w, cells.subspan(row * n, n));
  w.EndArray();
}

void Quality(json::Writer& w, const Report& r) {
  w.Key("quality").BeginObject();
  w.Key("accuracy").Double(r.accuracy);
  w.Key("macroF1").Double(r.macro_f1);
  w.Key("logLoss").Double(r.log_loss);
  w.Key("perClass").BeginArray();
  for (const ClassMetrics& c : r.per_class) {
    w.BeginObject();
    w.Key("label").Int(c.label);
    w.Key("support").Int(c.support);
    w.Key("precision");
    OptionalDouble(w, c.precision);
    w.Key("recall");
    OptionalDouble(w, c.recall);
    w.Key("f1");
    OptionalDouble(w, c.f1);
    w.EndObject();
  }
  w.EndArray();
  w.Key("confusion");
  Confusion(w, r);
  w.EndObject();
}

// null without groups, so that the key is always there for gates that read it.
void Fairness(json::Writer& w, const Report& r) {
  w.Key("fairness");
  if (!r.has_groups) {
    w.Null();
    return;
  }
  w.BeginObject();
  w.Key("positiveClass").Int(r.positive_class);
  w.Key("perGroup").BeginArray();
  for (const GroupMetrics& g : r.per_group) {
    w.BeginObject();
    w.Key("value").Int(g.value);
    w.Key("rows").Int(g.rows);
    w.Key("accuracy").Double(g.accuracy);
    w.Key("positiveRate").Double(g.positive_rate);
    w.Key("truePositiveRate");
    OptionalDouble(w, g.true_positive_rate);
    w.EndObject();
  }
  w.EndArray();
  w.Key("accuracyGap").Double(r.accuracy_gap);
  w.Key("demographicParityDifference").Double(r.demographic_parity_difference);
  w.Key("equalOpportunityDifference");
  OptionalDouble(w, r.equal_opportunity_difference);
  w.EndObject();
}

void Robustness(json::Writer& w, const Report& r) {
  w.Key("robustness").BeginObject();
  w.Key("noiseStddev").Double(r.noise_stddev);
  w.Key("noiseSeed").Uint(r.noise_seed);
  w.Key("noisyAccuracy").Double(r.noisy_accuracy);
  w.Key("nonFiniteWeights").Int(r.non_finite_weights);
  w.Key("nonFiniteOutputRows").Int(r.non_finite_output_rows);
  w.EndObject();
}

void Determinism(json::Writer& w, const Report& r) {
  w.Key("determinism").BeginObject();
  w.Key("deterministic").Bool(r.deterministic);
  w.Key("differingPredictions").Int(r.differing_predictions);
  w.EndObject();
}

void Performance(json::Writer& w, const Report& r) {
  w.Key("performance").BeginObject();
  w.Key("latency").BeginArray();
  for (const LatencyStats& l : r.latency) {
    w.BeginObject();
    w.Key("batch").Int(l.batch);
    w.Key("iterations").Int(l.iterations);
    w.Key("p50Ms").Double(l.p50_ms);
    w.Key("p99Ms").Double(l.p99_ms);
    w.Key("samplesPerSecond").Double(l.samples_per_second);
    w.EndObject();
  }
  w.EndArray();
  w.Key("throughputSamplesPerSecond").Double(r.throughput_samples_per_second);
  w.Key("memoryBytes").Uint(r.memory_bytes);
  w.EndObject();
}

}  // namespace

std::string ReportToJson(const Report& report, int indent) {
  json::Writer w(indent);
  w.BeginObject();
  w.Key("schema").String(kReportSchema);
  Subject(w, report);
  Conditions(w, report);
  Quality(w, report);
  Fairness(w, report);
  Robustness(w, report);
  Determinism(w, report);
  Performance(w, report);
  w.EndObject();
  return w.str();
}

}  // namespace sov::gpu_eval
