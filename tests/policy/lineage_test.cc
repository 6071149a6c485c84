// Shows the `lineage:` section: the first matching entry decides what erasing an ancestor does
// to a derived artifact (CEL over `ancestor` and `artifact`), the default is `revoke` under
// `lineage.default`, and every mistake is a load error with FILE:LINE:COL.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/explain.h"
#include "policy/policy.h"

namespace sov::policy {
namespace {

constexpr char kPolicy[] = R"(version: 1
name: lineage
lineage:
  - id: personal-data-erasure-revokes-models
    when: ancestor.classification in ['personal', 'special-category']
    on_ancestor_erased: revoke
  - id: reports-listed
    when: artifact.kind == 'report'
    on_ancestor_erased: none
  - id: others-retrain
    description: Everything else is retrained at the next cycle.
    on_ancestor_erased: flag-retrain
)";

Policy MustLoad(std::string_view text) {
  Result<Policy> p = Policy::Load(text, "p.yaml");
  EXPECT_TRUE(p.ok()) << p.status().message();
  if (!p.ok()) std::abort();
  return *p;
}

Artifact Dataset(std::string classification) {
  Artifact a;
  a.kind = "dataset";
  a.name = "acme/customers";
  a.version = "1.0.0";
  a.classification = std::move(classification);
  return a;
}

Artifact Derived(std::string kind) {
  Artifact a;
  a.kind = std::move(kind);
  a.name = "acme/model";
  a.version = "2.0.0";
  a.classification = "internal";
  return a;
}

// The first entry whose condition holds wins, in file order; the rule names its entry.
TEST(PolicyLineage, FirstMatchWins) {
  Policy p = MustLoad(kPolicy);
  LineageRule r = p.LineageRuleFor(Derived("model"), Dataset("personal"));
  EXPECT_EQ(r.action, LineageAction::kRevoke);
  EXPECT_EQ(r.id, "personal-data-erasure-revokes-models");
  EXPECT_EQ(r.location.ToString(), "p.yaml:4:5");
  EXPECT_TRUE(r.errors.empty());

  // A personal ancestor revokes even a report: the first entry comes first.
  EXPECT_EQ(p.LineageRuleFor(Derived("report"), Dataset("special-category")).action,
            LineageAction::kRevoke);

  r = p.LineageRuleFor(Derived("report"), Dataset("internal"));
  EXPECT_EQ(r.action, LineageAction::kNone);
  EXPECT_EQ(r.id, "reports-listed");
  EXPECT_EQ(r.location.ToString(), "p.yaml:7:5");

  r = p.LineageRuleFor(Derived("model"), Dataset("public"));
  EXPECT_EQ(r.action, LineageAction::kFlagRetrain);
  EXPECT_EQ(r.id, "others-retrain");
  EXPECT_EQ(r.location.ToString(), "p.yaml:10:5");
}

// Without a section, or when nothing matches, erasure revokes (the strict reading).
TEST(PolicyLineage, DefaultIsRevoke) {
  Policy none = MustLoad("version: 1\nname: t\n");
  LineageRule r = none.LineageRuleFor(Derived("model"), Dataset("public"));
  EXPECT_EQ(r.action, LineageAction::kRevoke);
  EXPECT_EQ(r.id, "lineage.default");
  EXPECT_EQ(r.location.file, "p.yaml");

  Policy narrow = MustLoad(
      "version: 1\nname: t\nlineage:\n  - id: public-kept\n"
      "    when: ancestor.classification == 'public'\n    on_ancestor_erased: none\n");
  r = narrow.LineageRuleFor(Derived("model"), Dataset("personal"));
  EXPECT_EQ(r.action, LineageAction::kRevoke);
  EXPECT_EQ(r.id, "lineage.default");
  EXPECT_EQ(r.location.ToString(), "p.yaml:3:1");
  EXPECT_EQ(narrow.LineageRuleFor(Derived("model"), Dataset("public")).action,
            LineageAction::kNone);
}

// `artifact` is the derived artifact with its effective (inherited) classification.
TEST(PolicyLineage, DerivedArtifactSeesEffectiveClassification) {
  Policy p = MustLoad(
      "version: 1\nname: t\nlineage:\n  - id: personal-models\n"
      "    when: artifact.classification == 'personal' && artifact.kind == 'model'\n"
      "    on_ancestor_erased: revoke\n  - id: rest\n    on_ancestor_erased: none\n");
  Artifact model = Derived("model");
  EXPECT_EQ(p.LineageRuleFor(model, Dataset("internal")).id, "rest");
  LineageEntry parent;
  parent.name = "acme/customers";
  parent.version = "1.0.0";
  parent.classification = "personal";
  model.lineage.push_back(parent);
  EXPECT_EQ(p.LineageRuleFor(model, Dataset("internal")).id, "personal-models");
}

// A condition that fails to evaluate skips its entry and says why, with its place in the file.
TEST(PolicyLineage, EvaluationErrorSkipsEntry) {
  Policy p = MustLoad(
      "version: 1\nname: t\nlineage:\n  - id: by-label\n"
      "    when: ancestor.labels.origin == 'crm'\n    on_ancestor_erased: none\n");
  LineageRule r = p.LineageRuleFor(Derived("model"), Dataset("internal"));
  EXPECT_EQ(r.action, LineageAction::kRevoke);
  EXPECT_EQ(r.id, "lineage.default");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].rfind("p.yaml:5:", 0), 0u) << r.errors[0];
}

std::vector<std::string> Errors(const std::string& body) {
  PolicyCheck check = Policy::Check("version: 1\nname: t\n" + body, "p.yaml");
  std::vector<std::string> out;
  for (const Diagnostic& d : check.diagnostics) {
    out.push_back(std::to_string(d.location.line) + ":" + std::to_string(d.location.column) +
                  ": " + d.message + (d.hint.empty() ? "" : " | " + d.hint));
  }
  EXPECT_EQ(check.policy.has_value(), out.empty());
  return out;
}

// Unknown keys, bad actions, missing fields, reserved and repeated ids and CEL errors are load
// errors at the offending token.
TEST(PolicyLineage, LoadErrors) {
  EXPECT_EQ(Errors("lineage:\n  - id: a\n    on_ancestor_erase: revoke\n"),
            (std::vector<std::string>{
                "5:5: unknown key `on_ancestor_erase` in a lineage entry | did you mean "
                "`on_ancestor_erased`?",
                "4:5: lineage entry `a` needs `on_ancestor_erased` | `on_ancestor_erased: "
                "revoke`, `flag-retrain` or `none`"}));
  EXPECT_EQ(Errors("lineage:\n  - id: a\n    on_ancestor_erased: revok\n"),
            (std::vector<std::string>{"5:25: unknown lineage action `revok` | did you mean "
                                      "`revoke`?"}));
  EXPECT_EQ(Errors("lineage:\n  - on_ancestor_erased: none\n"),
            (std::vector<std::string>{"4:5: a lineage entry needs an `id` | e.g. `id: "
                                      "personal-data-erasure-revokes-models`"}));
  EXPECT_EQ(Errors("lineage:\n  - id: lineage.default\n    on_ancestor_erased: none\n")
                .at(0)
                .substr(0, 45),
            "4:9: lineage id `lineage.default` is reserved");
  EXPECT_EQ(Errors("lineage:\n  - id: a\n    on_ancestor_erased: none\n"
                   "  - id: a\n    on_ancestor_erased: revoke\n")
                .at(0),
            "6:9: lineage id `a` is used twice | lineage ids must be unique");
  std::vector<std::string> cel = Errors(
      "lineage:\n  - id: a\n    when: ancestor.classification == \n    on_ancestor_erased: none\n");
  ASSERT_EQ(cel.size(), 1u);
  EXPECT_EQ(cel[0].rfind("5:", 0), 0u) << cel[0];
  EXPECT_NE(cel[0].find("invalid lineage condition"), std::string::npos) << cel[0];
  std::vector<std::string> undeclared = Errors(
      "lineage:\n  - id: a\n    when: principal.tenant_id == 'x'\n    on_ancestor_erased: none\n");
  ASSERT_EQ(undeclared.size(), 1u);
  EXPECT_NE(undeclared[0].find("principal"), std::string::npos) << undeclared[0];
  EXPECT_EQ(Errors("lineage: {a: b}\n").size(), 1u);
}

// `policy check` summarises the section, the default included.
TEST(PolicyLineage, Summary) {
  const std::string summary = SummarizePolicy(MustLoad(kPolicy));
  EXPECT_NE(summary.find("  personal-data-erasure-revokes-models (when ancestor.classification in "
                         "['personal', 'special-category']): revoke  (p.yaml:4:5)\n"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("  others-retrain: flag-retrain  (p.yaml:10:5)\n"), std::string::npos);
  EXPECT_NE(summary.find("  lineage.default: revoke  (p.yaml:3:1, when no entry matches)\n"),
            std::string::npos)
      << summary;
}

}  // namespace
}  // namespace sov::policy
