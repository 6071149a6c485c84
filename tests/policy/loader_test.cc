// Shows that the policy loader refuses each kind of mistake with the exact FILE:LINE:COLUMN of the
// offending token and a useful hint, reports every error at once, and accepts what it should.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/explain.h"
#include "policy/policy.h"

namespace sov::policy {
namespace {

constexpr char kHeader[] = "version: 1\nname: t\n";

// Returns the diagnostics of loading `body` (after a two-line header) as "LINE:COL: message".
std::vector<std::string> Errors(const std::string& body) {
  PolicyCheck check = Policy::Check(kHeader + body, "p.yaml");
  std::vector<std::string> out;
  for (const Diagnostic& d : check.diagnostics) {
    EXPECT_EQ(d.location.file, "p.yaml");
    out.push_back(std::to_string(d.location.line) + ":" + std::to_string(d.location.column) + ": " +
                  d.message + (d.hint.empty() ? "" : " | " + d.hint));
  }
  EXPECT_EQ(check.policy.has_value(), out.empty());
  return out;
}

std::string OnlyError(const std::string& body) {
  std::vector<std::string> errors = Errors(body);
  EXPECT_EQ(errors.size(), 1u) << testing::PrintToString(errors);
  return errors.empty() ? "" : errors[0];
}

// Bad YAML is reported where the parser stopped.
TEST(PolicyLoader, BadYamlNamesLineAndColumn) {
  EXPECT_EQ(OnlyError("rules: [a, b\nresidency: {}\n"), "4:10: invalid YAML: end of sequence flow not found");
}

// An unknown key points at the key and suggests the nearest allowed one.
TEST(PolicyLoader, UnknownKeyWithDidYouMean) {
  // The misspelt key also leaves `transfer_to` missing, which is reported second.
  EXPECT_EQ(Errors("residency:\n  personal:\n    store_in: [DE]\n    trasfer_to: [DE]\n").at(0),
            "6:5: unknown key `trasfer_to` in residency.personal | did you mean `transfer_to`?");
  EXPECT_EQ(OnlyError("rulez: []\n"), "3:1: unknown key `rulez` in the policy file | did you mean `rules`?");
}

// Unknown jurisdictions, lower-case codes and groups named like countries are errors.
TEST(PolicyLoader, UnknownJurisdiction) {
  EXPECT_EQ(OnlyError("jurisdictions:\n  EEA: [DE, FR]\nresidency:\n  personal:\n    store_in: [EEE]\n    transfer_to: [EEA]\n"),
            "7:16: unknown jurisdiction `EEE` in residency.personal.store_in | did you mean `EEA`?");
  EXPECT_EQ(OnlyError("jurisdictions:\n  EU: [de, FR]\n"),
            "4:8: unknown jurisdiction `de` in group `EU` | country codes are upper case: `DE`");
  EXPECT_EQ(OnlyError("jurisdictions:\n  DE: [DE]\n"),
            "4:3: group name `DE` is an ISO 3166 country code | choose a name that is not a country code, e.g. `DE-ONLY`");
  EXPECT_EQ(OnlyError("jurisdictions:\n  EU: [XX]\n"),
            "4:8: unknown jurisdiction `XX` in group `EU` | expected one of: EU");
}

// A group that contains itself through other groups is a cycle, reported at the closing member.
TEST(PolicyLoader, JurisdictionCycle) {
  EXPECT_EQ(OnlyError("jurisdictions:\n  A: [B, DE]\n  B: [C]\n  C: [A]\n"),
            "6:7: jurisdiction groups form a cycle: A -> B -> C -> A | a group may not contain itself, "
            "directly or through other groups");
}

// A CEL syntax error inside a plain `when:` points at the failing token in the file.
TEST(PolicyLoader, CelErrorInPlainScalar) {
  EXPECT_EQ(OnlyError("rules:\n  - id: r\n    effect: allow\n    actions: [artifact.get]\n"
                      "    when: artifact.stage == 'released' &&\n"),
            "7:42: invalid condition: unexpected end of expression");
}

// In quoted scalars the quote shifts the column by one.
TEST(PolicyLoader, CelErrorInQuotedScalar) {
  EXPECT_EQ(OnlyError("rules:\n  - id: r\n    effect: allow\n    actions: [artifact.get]\n"
                      "    when: \"artifact.kind == )\"\n"),
            "7:29: invalid condition: unexpected ')'");
}

// In block scalars (`>` and `|`) the expression starts on the next line, at its indentation.
TEST(PolicyLoader, CelErrorInBlockScalar) {
  EXPECT_EQ(OnlyError("rules:\n  - id: r\n    effect: allow\n    actions: [artifact.get]\n"
                      "    when: >\n      artifact.kind == 'model' &&\n      artifact.stage == ]\n"),
            "9:25: invalid condition: unexpected ']'");
  EXPECT_EQ(OnlyError("rules:\n  - id: r\n    effect: allow\n    actions: [artifact.get]\n"
                      "    when: |\n      artifact.kind == 'model' &&\n        principle.roles == []\n"),
            "9:9: invalid condition: undeclared variable 'principle' (known variables: principal, "
            "artifact, request, now)");
}

// Bad durations, effects, lawful bases and actions name the value and what is allowed.
TEST(PolicyLoader, BadValues) {
  EXPECT_EQ(OnlyError("retention:\n  - classification: personal\n    max_age: 2y\n    at_deadline: erase\n"),
            "5:14: invalid age `2y` | write a whole number and a unit: w (weeks), d (days), h (hours), "
            "m (minutes), s (seconds), e.g. `730d`; or `unlimited`");
  EXPECT_EQ(OnlyError("rules:\n  - id: r\n    effect: alow\n    actions: [artifact.get]\n"),
            "5:13: unknown effect `alow` | did you mean `allow`?");
  EXPECT_EQ(OnlyError("rules:\n  - id: r\n    effect: allow\n    actions: [artifact.fecth]\n"),
            "6:15: unknown action `artifact.fecth` | did you mean `artifact.fetch`?");
  EXPECT_EQ(OnlyError("purposes:\n  ads:\n    lawful_basis: consnet\n"),
            "5:19: unknown lawful basis `consnet` | did you mean `consent`?");
  EXPECT_EQ(OnlyError("retention:\n  - classification: personel\n    max_age: 1d\n    at_deadline: erase\n"),
            "4:21: unknown classification `personel` | did you mean `personal`?");
}

// Structural mistakes: duplicate ids and keys, missing fields, lists written as scalars.
TEST(PolicyLoader, StructuralMistakes) {
  EXPECT_EQ(OnlyError("rules:\n  - id: r\n    effect: allow\n    actions: [artifact.get]\n"
                      "  - id: r\n    effect: deny\n    actions: [artifact.get]\n"),
            "7:9: rule id `r` is used twice | rule ids must be unique");
  EXPECT_EQ(OnlyError("rules:\n  - id: r\n    actions: [artifact.get]\n"),
            "4:5: rule `r` needs an `effect` | `effect: allow` or `effect: deny`");
  EXPECT_EQ(OnlyError("rules:\n  - id: r\n    effect: allow\n    actions: artifact.get\n"),
            "6:14: actions must be a list, not a single value | write a list, e.g. [artifact.get]");
  EXPECT_EQ(OnlyError("rules:\n  - id: residency.mine\n    effect: allow\n    actions: [artifact.get]\n"),
            "4:9: rule id `residency.mine` is reserved for generated rules | ids starting with residency., "
            "purposes. or release_gates name rules that sections generate; choose another id");
  EXPECT_EQ(OnlyError("name: again\n"), "3:1: `name` appears twice in the policy file | remove or merge the repeated key");
  EXPECT_EQ(OnlyError("release_gates:\n  - id: g\n    validation_datasets: [\"holdout@^x\"]\n"),
            "5:27: invalid version range `^x` | write NAME@RANGE, e.g. `credit-holdout@^2.0.0` or "
            "`credit-holdout@>=2.1.0 <3`");
  EXPECT_EQ(OnlyError("release_gates:\n  - id: g\n    signatures: {threshold: 3, signers: [a, b]}\n"),
            "5:29: threshold 3 must be between 1 and the number of signers (2)");
}

// Every error in a file is reported, not just the first.
TEST(PolicyLoader, ReportsEveryError) {
  std::vector<std::string> errors = Errors(
      "jurisdictions:\n  EU: [ZZ]\nrules:\n  - id: a\n    effect: maybe\n    actions: [artifact.get]\n"
      "  - id: b\n    effect: allow\n    actions: [artifact.get]\n    when: 1 +\n");
  ASSERT_EQ(errors.size(), 3u) << testing::PrintToString(errors);
  EXPECT_EQ(errors[0].substr(0, 5), "4:8: ");
  EXPECT_EQ(errors[1].substr(0, 6), "7:13: ");
  EXPECT_EQ(errors[2].substr(0, 7), "12:14: ");
}

// A missing header and an empty file are refused; Load joins all errors with file names.
TEST(PolicyLoader, HeaderAndLoadMessage) {
  PolicyCheck empty = Policy::Check("", "e.yaml");
  ASSERT_EQ(empty.diagnostics.size(), 1u);
  EXPECT_EQ(empty.diagnostics[0].ToString(),
            "e.yaml:1:1: error: the policy file is empty (hint: start with `version: 1` and `name: ...` (see docs/policy.md))");
  Result<Policy> bad = Policy::Load("version: 2\n", "v.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "v.yaml:1:10: error: unsupported policy version `2` (hint: this gateway reads `version: 1`)\n"
            "v.yaml:1:1: error: missing `name` (hint: add e.g. `name: eu-ml-platform`)");
  Result<Policy> missing = Policy::LoadFile("/nonexistent/policy.yaml");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

// A valid policy loads, and its digest is sha256 of the exact bytes.
TEST(PolicyLoader, DigestOfTheFileBytes) {
  Result<Policy> p = Policy::Load("version: 1\nname: t\n", "t.yaml");
  ASSERT_TRUE(p.ok()) << p.status().message();
  // sha256 of "version: 1\nname: t\n"
  EXPECT_EQ(p->digest().substr(0, 7), "sha256:");
  EXPECT_EQ(p->digest().size(), 7u + 64u);
  Result<Policy> q = Policy::Load("version: 1\nname: t\n\n", "t.yaml");
  ASSERT_TRUE(q.ok());
  EXPECT_NE(p->digest(), q->digest());
  EXPECT_EQ(p->name(), "t");
  EXPECT_EQ(p->file_name(), "t.yaml");
}

}  // namespace
}  // namespace sov::policy
