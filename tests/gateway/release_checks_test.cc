// Shows that the release checks build the `eval` map gates read from gpu-eval reports (worst case
// across datasets, benchmarks present only when measured), evaluate gates into per-condition
// checks with their policy file:line, and count signers the way docs/policy.md says.
#include "gateway/release_checks.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/ed25519.h"
#include "gpu-eval/report.h"
#include "tests/testing/temp_dir.h"

namespace sov::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using nlohmann::json;

constexpr char kPolicy[] = R"(version: 1
name: gates
release_gates:
  - id: credit
    applies_when: "'credit' in artifact.purposes"
    benchmarks: [accuracy, fairness]
    validation_datasets: ["holdout@^2.0.0"]
    require:
      - eval.accuracy >= 0.95
      - eval.fairness.max_group_gap <= 0.05
    signatures:
      threshold: 2
      signers: [registry, risk-officer, compliance]
  - id: models
    applies_when: artifact.kind == 'model'
    benchmarks: [accuracy, robustness]
    require:
      - eval.accuracy >= 0.9
      - eval.robustness.noise_accuracy_drop <= 0.05
      - eval.determinism.deterministic
rules: []
)";

policy::Policy MustLoad(const char* text = kPolicy) {
  Result<policy::Policy> p = policy::Policy::Load(text, "/etc/sov/gates.yaml");
  EXPECT_TRUE(p.ok()) << p.status().message();
  if (!p.ok()) std::abort();
  return *p;
}

// A gpu-eval report as ReportToJson writes it.
json Report(double accuracy, double noisy, bool groups, double gap = 0.02) {
  gpu_eval::Report r;
  r.model = "m";
  r.dataset = "d";
  r.classes = 2;
  r.accuracy = accuracy;
  r.macro_f1 = accuracy - 0.01;
  r.log_loss = 0.2;
  r.per_class = {{0, 10, 0.9, 0.8, 0.85}, {1, 10, 0.7, std::nullopt, std::nullopt}};
  r.confusion = {8, 2, 3, 7};
  r.has_groups = groups;
  if (groups) {
    r.per_group = {{0, 10, 0.9, 0.5, 0.6}, {1, 10, 0.9 - gap, 0.4, std::nullopt}};
    r.accuracy_gap = gap;
    r.demographic_parity_difference = 0.1;
  }
  r.noise_stddev = 0.1;
  r.noisy_accuracy = noisy;
  r.deterministic = true;
  r.latency = {{1, 20, 0.05, 0.09, 20000.0}, {32, 20, 0.2, 0.3, 160000.0}};
  r.throughput_samples_per_second = 150000.0;
  r.memory_bytes = 4096;
  return json::parse(gpu_eval::ReportToJson(r));
}

policy::Artifact Model(std::vector<std::string> purposes) {
  policy::Artifact a;
  a.kind = "model";
  a.name = "acme/credit-model";
  a.version = "1.0.0";
  a.owner_tenant = "acme";
  a.purposes = std::move(purposes);
  a.stage = "validating";
  return a;
}

// Report names and versions follow the documented format; the reserved segment is detected.
TEST(ReleaseChecks, ReportNamesAndVersions) {
  EXPECT_EQ(ReportName("acme/fraud/model"), "acme/fraud/model/evaluation");
  EXPECT_EQ(ReportVersion("1.2.0", 7), "1.2.0-eval.7");
  EXPECT_EQ(ReportVersion("1.2.0-rc.1", 7), "1.2.0-rc.1.eval.7");
  EXPECT_TRUE(IsReservedReportName("acme/fraud/model/evaluation"));
  EXPECT_TRUE(IsReservedReportName("evaluation"));
  EXPECT_FALSE(IsReservedReportName("acme/evaluations"));
  EXPECT_FALSE(IsReservedReportName("acme/evaluation/model"));
}

// One dataset's eval map has every documented key, and fairness only with groups.
TEST(ReleaseChecks, DatasetEvalKeys) {
  Result<json> eval = DatasetEval(Report(0.96, 0.93, /*groups=*/true));
  ASSERT_TRUE(eval.ok()) << eval.status().message();
  EXPECT_DOUBLE_EQ((*eval)["accuracy"].get<double>(), 0.96);
  EXPECT_DOUBLE_EQ((*eval)["macro_f1"].get<double>(), 0.95);
  EXPECT_DOUBLE_EQ((*eval)["quality"]["log_loss"].get<double>(), 0.2);
  EXPECT_DOUBLE_EQ((*eval)["quality"]["min_class_recall"].get<double>(), 0.8);
  EXPECT_DOUBLE_EQ((*eval)["fairness"]["max_group_gap"].get<double>(), 0.02);
  EXPECT_DOUBLE_EQ((*eval)["fairness"]["demographic_parity_difference"].get<double>(), 0.1);
  EXPECT_NEAR((*eval)["robustness"]["noise_accuracy_drop"].get<double>(), 0.03, 1e-12);
  EXPECT_DOUBLE_EQ((*eval)["robustness"]["noise_accuracy"].get<double>(), 0.93);
  EXPECT_EQ((*eval)["robustness"]["non_finite_weights"].get<int64_t>(), 0);
  EXPECT_EQ((*eval)["determinism"]["deterministic"].get<bool>(), true);
  EXPECT_DOUBLE_EQ((*eval)["performance"]["throughput"].get<double>(), 150000.0);
  EXPECT_DOUBLE_EQ((*eval)["performance"]["latency_p50_ms"].get<double>(), 0.05);
  EXPECT_DOUBLE_EQ((*eval)["performance"]["batches"]["32"]["p99_ms"].get<double>(), 0.3);

  Result<json> no_groups = DatasetEval(Report(0.96, 0.93, /*groups=*/false));
  ASSERT_TRUE(no_groups.ok());
  EXPECT_FALSE(no_groups->contains("fairness"));

  json broken = Report(0.9, 0.9, false);
  broken["quality"].erase("accuracy");
  Result<json> bad = DatasetEval(broken);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("quality.accuracy"));
}

// With several datasets the top level is the worst case and each dataset keeps its own map.
TEST(ReleaseChecks, CombineTakesTheWorstCase) {
  json a = *DatasetEval(Report(0.97, 0.96, true, 0.01));
  json b = *DatasetEval(Report(0.91, 0.80, false));
  json eval = CombineEval({{"acme/holdout", a}, {"acme/stress", b}});
  EXPECT_DOUBLE_EQ(eval["accuracy"].get<double>(), 0.91);
  EXPECT_NEAR(eval["robustness"]["noise_accuracy_drop"].get<double>(), 0.11, 1e-12);
  EXPECT_DOUBLE_EQ(eval["robustness"]["noise_accuracy"].get<double>(), 0.80);
  // Fairness was measured on one dataset only: it is present, from that one.
  EXPECT_DOUBLE_EQ(eval["fairness"]["max_group_gap"].get<double>(), 0.01);
  EXPECT_DOUBLE_EQ(eval["datasets"]["acme/holdout"]["accuracy"].get<double>(), 0.97);
  EXPECT_DOUBLE_EQ(eval["datasets"]["acme/stress"]["accuracy"].get<double>(), 0.91);
}

// The JSON map becomes CEL values of the right kinds.
TEST(ReleaseChecks, EvalValueKinds) {
  policy::cel::Value v = EvalValue(json{{"a", 0.5}, {"n", 3}, {"ok", true}, {"m", {{"x", 1}}}});
  ASSERT_EQ(v.kind(), policy::cel::Kind::kMap);
  EXPECT_EQ(v.FindField("a")->kind(), policy::cel::Kind::kDouble);
  EXPECT_EQ(v.FindField("n")->kind(), policy::cel::Kind::kInt);
  EXPECT_TRUE(v.FindField("ok")->is_true());
  EXPECT_EQ(v.FindField("m")->FindField("x")->int_value(), 1);
}

// Every applicable gate's benchmarks, datasets, conditions and signatures become checks; a gate
// that needs fairness on data without groups fails with "missing benchmark"; failures name the
// policy file:line.
TEST(ReleaseChecks, EvaluatesGatesIntoChecks) {
  const policy::Policy policy = MustLoad();
  json eval = CombineEval({{"acme/holdout", *DatasetEval(Report(0.93, 0.92, false))},
                           {"holdout", *DatasetEval(Report(0.93, 0.92, false))}});
  json predicate = {{"eval", eval},
                    {"datasets", json::array({{{"name", "acme/holdout"},
                                               {"version", "2.1.0"},
                                               {"requirement", "holdout"}}})}};
  policy::GateEvidence evidence = EvidenceFrom(predicate, {"registry"});
  EXPECT_THAT(evidence.validation_datasets, ElementsAre("acme/holdout@2.1.0", "holdout@2.1.0"));
  GateEvaluation result = EvaluateReleaseGates(policy, Model({"credit"}), evidence, eval);
  EXPECT_THAT(result.gates, ElementsAre("credit", "models"));
  EXPECT_FALSE(result.conditions_passed);
  EXPECT_FALSE(result.signatures_met);

  std::map<std::string, GateCheck> by;
  for (const GateCheck& c : result.checks) by[c.gate_id + "|" + c.condition] = c;
  EXPECT_EQ(by["credit|benchmark accuracy"].outcome, "passed");
  EXPECT_EQ(by["credit|benchmark fairness"].outcome, "failed");
  EXPECT_THAT(by["credit|benchmark fairness"].error, HasSubstr("missing benchmark"));
  EXPECT_EQ(by["credit|dataset holdout@^2.0.0"].outcome, "passed");
  EXPECT_EQ(by["credit|dataset holdout@^2.0.0"].observed, "holdout@2.1.0");
  const GateCheck& accuracy = by["credit|eval.accuracy >= 0.95"];
  EXPECT_EQ(accuracy.outcome, "failed");
  EXPECT_EQ(accuracy.observed, "eval.accuracy = 0.93");
  EXPECT_EQ(accuracy.location.line, 9);
  EXPECT_EQ(by["credit|eval.fairness.max_group_gap <= 0.05"].outcome, "error");
  EXPECT_EQ(by["models|eval.accuracy >= 0.9"].outcome, "passed");
  EXPECT_EQ(by["models|eval.determinism.deterministic"].outcome, "passed");
  const GateCheck& sigs = by["credit|2 signatures from signers [registry, risk-officer, compliance]"];
  EXPECT_EQ(sigs.outcome, "failed");
  EXPECT_EQ(sigs.observed, "1 of 2 signatures (registry)");

  // The reason text lists every failed condition with its file (base name) and line.
  const std::string failures = result.FailureText();
  EXPECT_THAT(failures, HasSubstr("credit: eval.accuracy >= 0.95: is false (eval.accuracy = 0.93) "
                                  "(gates.yaml:9)"));
  EXPECT_THAT(failures, HasSubstr("benchmark fairness"));
  EXPECT_THAT(failures, ::testing::Not(HasSubstr("/etc/sov")));
  EXPECT_THAT(result.SignatureText(), HasSubstr("credit: needs 2 valid signatures"));

  json results = result.ToJson();
  ASSERT_TRUE(results.is_array());
  EXPECT_EQ(results.size(), result.checks.size());
  EXPECT_EQ(results[0]["gate_id"], "credit");
}

// A model that passes every condition and has its signers passes; a model outside a gate's
// applies_when is judged by the others only.
TEST(ReleaseChecks, PassingModel) {
  const policy::Policy policy = MustLoad();
  json eval = CombineEval({{"acme/holdout", *DatasetEval(Report(0.97, 0.95, true, 0.01))}});
  json predicate = {{"eval", eval},
                    {"datasets", json::array({{{"name", "acme/holdout"},
                                               {"version", "2.0.3"},
                                               {"requirement", "holdout"}}})}};
  GateEvaluation credit = EvaluateReleaseGates(
      policy, Model({"credit"}), EvidenceFrom(predicate, {"registry", "compliance"}), eval);
  EXPECT_TRUE(credit.passed()) << credit.FailureText() << credit.SignatureText();
  GateEvaluation other =
      EvaluateReleaseGates(policy, Model({"fraud"}), EvidenceFrom(predicate, {}), eval);
  EXPECT_THAT(other.gates, ElementsAre("models"));
  EXPECT_TRUE(other.passed());
  EXPECT_TRUE(UnmetSignatureThresholds(policy, Model({"credit"}), {"registry", "acme"}).size() == 1);
  EXPECT_TRUE(UnmetSignatureThresholds(policy, Model({"credit"}), {"registry", "risk-officer"}).empty());
}

// Signers: "registry" for the registry key, a publisher's tenant id and roles; revoked,
// unregistered and excluded keys never count.
TEST(ReleaseChecks, ValidSigners) {
  testing::TempDir dir;
  const crypto::Ed25519PrivateKey registry_key = crypto::Ed25519PrivateKey::Generate();
  const crypto::Ed25519PrivateKey risk_key = crypto::Ed25519PrivateKey::Generate();
  const crypto::Ed25519PrivateKey other_key = crypto::Ed25519PrivateKey::Generate();
  testing::WriteTextFile(dir.Join("risk.pem"), crypto::EncodePublicKeyPem(risk_key.public_key()));
  testing::WriteTextFile(dir.Join("tenants.yaml"), R"(tenants:
  - id: risk
    jurisdiction: DE
    roles: [risk-officer, reviewer]
    mtls_subjects: ["CN=risk"]
    publisher_keys: [risk.pem]
  - id: acme
    jurisdiction: DE
    roles: [ml-engineer]
    mtls_subjects: ["CN=acme"]
)");
  Result<TenantDirectory> tenants = TenantDirectory::Load(dir.Join("tenants.yaml"));
  ASSERT_TRUE(tenants.ok()) << tenants.status().message();

  registry::ArtifactRecord model;
  registry::SignatureRecord by_registry{registry_key.public_key().KeyId(), "registry", "registry",
                                        "sig", {}};
  registry::SignatureRecord by_risk{risk_key.public_key().KeyId(), "publisher", "risk", "sig", {}};
  // A key the tenants file does not register to acme does not count for acme.
  registry::SignatureRecord by_stranger{other_key.public_key().KeyId(), "publisher", "acme", "sig", {}};
  model.signatures = {by_registry, by_risk, by_stranger};

  EXPECT_THAT(ValidSigners(model, registry_key.public_key(), *tenants, {}),
              ElementsAre("registry", "reviewer", "risk", "risk-officer"));
  registry::KeyRevocation revoked;
  revoked.keyid = risk_key.public_key().KeyId();
  EXPECT_THAT(ValidSigners(model, registry_key.public_key(), *tenants, {revoked}),
              ElementsAre("registry"));
  EXPECT_THAT(ValidSigners(model, registry_key.public_key(), *tenants, {},
                           risk_key.public_key().KeyId()),
              ElementsAre("registry"));
  // A "registry" signature by another key is not the registry's.
  EXPECT_THAT(ValidSigners(model, other_key.public_key(), *tenants, {}),
              ElementsAre("reviewer", "risk", "risk-officer"));
}

}  // namespace
}  // namespace sov::gateway
