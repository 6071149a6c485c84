// The policy test runner, behind `sovctl policy test FILE CASES.yaml`: a cases file lists
// requests with the decision each should get (allow or deny, and optionally the deciding rule);
// RunPolicyTests decides each against a Policy and reports a pass/fail row per case, as
// `opa test` does. ParseDecisionRequest reads one request in the same YAML shape, for
// `sovctl policy explain FILE REQUEST.yaml`. The cases format is documented in docs/policy.md.
// Pure functions over their inputs; safe to call from several threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "policy/decision.h"
#include "policy/policy.h"

namespace sov::policy {

// Parses a decision request (action, principal, artifact, request, now) from YAML text; a
// missing `now` means the current time. On failure returns InvalidArgument listing every
// error as "FILE:LINE:COL: error: ...".
Result<DecisionRequest> ParseDecisionRequest(std::string_view text, std::string file_name);

struct TestCaseResult {
  std::string name;
  SourceLocation location;  // the case in the cases file
  Effect expected = Effect::kDeny;
  std::string expected_rule;  // empty: any rule
  bool passed = false;
  std::string failure;  // why it failed, e.g. "expected allow, got deny by rule x (file:12)"
  Decision decision;
};

struct TestReport {
  std::vector<TestCaseResult> cases;
  int passed = 0;
  int failed = 0;
  bool ok() const { return failed == 0; }
};

// Runs every case of a cases file (a YAML list of {name, request, expect, rule}) against
// `policy`. InvalidArgument listing every error (with the cases file's file:line:col) when the
// cases file is malformed; a case that fails is not an error but a row of the report.
Result<TestReport> RunPolicyTests(const Policy& policy, std::string_view cases_text,
                                  std::string cases_file);
// Reads the cases file at `path` and runs it.
Result<TestReport> RunPolicyTestFile(const Policy& policy, const std::string& path);

// Renders the report as a table, one line per case ("PASS"/"FAIL", name, expected, got, rule
// and its location, and the failure), then a summary line "N passed, M failed".
std::string FormatTestReport(const TestReport& report);

}  // namespace sov::policy
