// Shows retention deadlines (first matching entry, by classification or CEL condition, with the
// inherited classification) and release-gate evaluation: every failed benchmark, dataset,
// condition and signature requirement listed with its file:line.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/policy.h"

namespace sov::policy {
namespace {

constexpr char kPolicy[] = R"(version: 1
name: sections
retention:
  - when: artifact.kind == 'model' && artifact.stage == 'revoked'
    max_age: 90d
    at_deadline: erase
  - classification: personal
    max_age: 730d
    at_deadline: erase
  - when: artifact.labels.keep == 'short'
    max_age: 12h
    at_deadline: revoke
  - classification: public
    max_age: unlimited
release_gates:
  - id: credit
    applies_when: "'credit' in artifact.purposes"
    benchmarks: [accuracy, fairness]
    validation_datasets: ["holdout@^2.0.0", "stress@>=1.2.0 <1.5.0"]
    require:
      - eval.accuracy >= 0.95
      - eval.fairness.max_group_gap <= 0.05
      - >
        eval.accuracy -
        eval.robustness.drop >= 0.9
    signatures:
      threshold: 2
      signers: [risk, compliance, registry]
  - id: models
    applies_when: artifact.kind == 'model'
    require:
      - eval.accuracy >= 0.9
)";

Policy MustLoad() {
  Result<Policy> p = Policy::Load(kPolicy, "p.yaml");
  EXPECT_TRUE(p.ok()) << p.status().message();
  if (!p.ok()) std::abort();
  return *p;
}

const SystemTime kCreated = SystemTime(std::chrono::seconds(1700000000));

// The first entry that applies sets max_age, deadline and action.
TEST(PolicyRetention, Deadlines) {
  Policy p = MustLoad();
  Artifact a;
  a.kind = "dataset";
  a.classification = "personal";
  a.created_at = kCreated;
  Retention r = p.RetentionFor(a);
  ASSERT_TRUE(r.matched);
  EXPECT_EQ(r.max_age, std::chrono::hours(24 * 730));
  EXPECT_EQ(*r.deadline, kCreated + std::chrono::hours(24 * 730));
  EXPECT_EQ(r.action, RetentionAction::kErase);
  EXPECT_EQ(r.location.ToString(), "p.yaml:7:5");

  a.kind = "model";
  a.stage = "revoked";
  r = p.RetentionFor(a);
  EXPECT_EQ(r.max_age, std::chrono::hours(24 * 90));
  EXPECT_EQ(r.location.ToString(), "p.yaml:4:5");

  Artifact labelled;
  labelled.classification = "internal";
  labelled.labels["keep"] = "short";
  labelled.created_at = kCreated;
  r = p.RetentionFor(labelled);
  EXPECT_EQ(r.action, RetentionAction::kRevoke);
  EXPECT_EQ(*r.deadline, kCreated + std::chrono::hours(12));

  Artifact open;
  open.classification = "public";
  r = p.RetentionFor(open);
  EXPECT_TRUE(r.matched && r.unlimited);
  EXPECT_FALSE(r.deadline.has_value());
  // `internal` without the label matches nothing; the failed label lookup is reported.
  Artifact none;
  none.classification = "internal";
  r = p.RetentionFor(none);
  EXPECT_FALSE(r.matched);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].substr(0, 12), "p.yaml:10:27") << r.errors[0];
}

// Models inherit the classification that retention applies to.
TEST(PolicyRetention, InheritedClassification) {
  Policy p = MustLoad();
  Artifact model;
  model.kind = "model";
  model.classification = "public";
  model.lineage = {LineageEntry{"dataset", "d", "1.0.0", "personal", {}}};
  EXPECT_EQ(p.RetentionFor(model).location.ToString(), "p.yaml:7:5");
}

Artifact CreditModel() {
  Artifact a;
  a.kind = "model";
  a.purposes = {"credit"};
  return a;
}

Result<cel::Value> Report(double accuracy, double gap, double drop) {
  return cel::Value::StringMap(std::map<std::string, cel::Value>{
      {"accuracy", cel::Value::Double(accuracy)},
      {"fairness", cel::Value::StringMap(std::map<std::string, cel::Value>{{"max_group_gap", cel::Value::Double(gap)}})},
      {"robustness", cel::Value::StringMap(std::map<std::string, cel::Value>{{"drop", cel::Value::Double(drop)}})}});
}

// Gates apply by their CEL condition, in file order.
TEST(PolicyGates, WhichGatesApply) {
  Policy p = MustLoad();
  std::vector<const ReleaseGate*> gates = p.GatesFor(CreditModel());
  ASSERT_EQ(gates.size(), 2u);
  EXPECT_EQ(gates[0]->id, "credit");
  EXPECT_EQ(gates[0]->location.ToString(), "p.yaml:16:5");
  Artifact dataset;
  dataset.kind = "dataset";
  EXPECT_TRUE(p.GatesFor(dataset).empty());
}

// A passing report with enough signers passes every applying gate.
TEST(PolicyGates, Passes) {
  Policy p = MustLoad();
  GateEvidence e;
  e.eval = *Report(0.97, 0.03, 0.01);
  e.validation_datasets = {"holdout@2.3.1", "stress@1.4.0"};
  e.valid_signers = {"risk", "registry"};
  GateResult r = p.EvaluateGates(CreditModel(), e);
  EXPECT_TRUE(r.passed);
  EXPECT_EQ(r.gates, (std::vector<std::string>{"credit", "models"}));
  EXPECT_TRUE(r.failures.empty());
}

// Every failure is listed with what failed, why, and where it is written.
TEST(PolicyGates, ListsEveryFailure) {
  Policy p = MustLoad();
  GateEvidence e;
  e.eval = cel::Value::StringMap(std::map<std::string, cel::Value>{
      {"accuracy", cel::Value::Double(0.93)}});
  e.validation_datasets = {"holdout@3.0.0"};
  e.valid_signers = {"risk", "intern", "risk"};
  GateResult r = p.EvaluateGates(CreditModel(), e);
  EXPECT_FALSE(r.passed);
  std::vector<std::string> got;
  for (const GateFailure& f : r.failures) {
    got.push_back(f.gate_id + " | " + f.what + " | " + f.message + " | " + f.location.ToString());
  }
  EXPECT_EQ(got, (std::vector<std::string>{
                     "credit | benchmark fairness | the report has no result for benchmark `fairness` | p.yaml:16:5",
                     "credit | dataset holdout@^2.0.0 | validated on `holdout@3.0.0`, which is outside `^2.0.0` | p.yaml:19:27",
                     "credit | dataset stress@>=1.2.0 <1.5.0 | the model was not validated on `stress` | p.yaml:19:45",
                     "credit | eval.accuracy >= 0.95 | is false | p.yaml:21:9",
                     "credit | eval.fairness.max_group_gap <= 0.05 | could not be evaluated: no such key: 'fairness' | p.yaml:22:14",
                     "credit | eval.accuracy - eval.robustness.drop >= 0.9 | could not be evaluated: no such key: 'robustness' | p.yaml:25:14",
                     "credit | signatures | needs 2 valid signatures from the signers listed, has 1 (risk) | p.yaml:26:5",
                 }))
      << testing::PrintToString(got);
}

// A report with no validation dataset has no benchmark results: the failure says why, and how to
// give the model a dataset; with a dataset, a missing benchmark is only missing.
TEST(PolicyGates, MissingBenchmarkWithoutADatasetSaysHowToGiveOne) {
  Policy p = MustLoad();
  GateEvidence e;
  e.eval = cel::Value::StringMap(std::map<std::string, cel::Value>{});
  e.valid_signers = {"risk", "registry"};
  GateResult r = p.EvaluateGates(CreditModel(), e);
  ASSERT_FALSE(r.failures.empty());
  EXPECT_EQ(r.failures[0].what, "benchmark accuracy");
  EXPECT_EQ(r.failures[0].message,
            "the report has no result for benchmark `accuracy` (the model was validated on no "
            "dataset: give it one with a validated-on lineage link, `sovctl push --validated-on "
            "NAME@VERSION`, or name one in the gate's validation_datasets)");
  e.validation_datasets = {"holdout@2.3.1"};
  r = p.EvaluateGates(CreditModel(), e);
  ASSERT_FALSE(r.failures.empty());
  EXPECT_EQ(r.failures[0].message, "the report has no result for benchmark `accuracy`");
}

}  // namespace
}  // namespace sov::policy
