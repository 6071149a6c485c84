// Text renderings of the policy engine's results for people, behind `sovctl policy check`
// and `sovctl policy explain`: a decision with every matched rule and error, the summary of
// what a policy allows, and load errors one per line. Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "policy/decision.h"
#include "policy/policy.h"

namespace sov::policy {

// Renders a decision: the effect, the deciding rule with its file:line and reason, every
// matched rule, every rule whose condition failed, and the policy digest. `request` is the
// request it answered (its action and principal head the text).
std::string FormatDecision(const Decision& decision, const DecisionRequest& request);

// Renders every diagnostic on its own line ("FILE:LINE:COL: error: MESSAGE (hint: ...)").
std::string FormatDiagnostics(const std::vector<Diagnostic>& diagnostics);

// Summarises what a policy says: its name and digest, jurisdiction groups, where each
// classification may be stored and transferred, retention, purposes, release gates, and for
// each rule who may (or may not) do what.
std::string SummarizePolicy(const Policy& policy);

}  // namespace sov::policy
