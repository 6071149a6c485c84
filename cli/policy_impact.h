// Policy impact analysis, behind `sovctl policy impact`: replays the decisions recorded in the
// audit log against a candidate policy with the same engine (policy::Policy::Decide) and groups
// every decision that would change by (recorded effect and rule) -> (candidate effect and rule).
// Each DECISION entry records its full input (principal, action, artifact, request attributes,
// `now`; docs/audit.md), so the answer is exact for those requests. A decision "changes" when
// the candidate decides it with another effect or by another rule.
//
// This part is pure: ImpactAnalysis is offered the audit entries' leaf_data (canonical JSON) in
// index order, from an export file or from the gateway, and knows neither. Entries whose input
// cannot be replayed (no input: a listing's summary entry, or an older gateway's format) are
// reported as not replayable, with the reason. An ImpactAnalysis is used from one thread; the
// free functions are thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "common/time.h"
#include "policy/decision.h"
#include "policy/policy.h"

namespace sov::cli {

// Which recorded decisions to replay: with `last` > 0 the last `last` DECISION entries offered;
// otherwise every DECISION entry appended in [since, until) (an unset bound is open).
struct ImpactWindow {
  int64_t last = 0;
  std::optional<SystemTime> since;  // inclusive
  std::optional<SystemTime> until;  // exclusive
};

// One recorded decision as the report names it. Strings are empty where the entry has none.
struct RecordedDecision {
  int64_t index = 0;
  std::string time;           // appendTime as recorded (RFC 3339, microseconds)
  std::string tenant;         // principal.tenantId
  std::string action;
  std::string artifact;       // "name@version", "name", or empty
  std::string effect;         // "allow" or "deny", as recorded
  std::string rule;           // the recorded ruleId; "default-deny" when no rule matched
  std::string policy_digest;  // the policy in force then
};

// The decisions that change the same way: same recorded effect and rule, same candidate effect
// and rule.
struct ImpactGroup {
  std::string before_effect;
  std::string before_rule;  // "default-deny" when no rule matched
  std::string after_effect;
  std::string after_rule;   // "default-deny" when no rule of the candidate matches
  policy::SourceLocation after_location;  // of the candidate's rule; line 0 for default deny
  std::string after_reason;
  std::vector<std::string> actions;  // the actions concerned, sorted, distinct
  std::vector<RecordedDecision> decisions;  // every one, in index order

  int64_t count() const { return static_cast<int64_t>(decisions.size()); }
  bool effect_changed() const { return before_effect != after_effect; }
};

// A recorded decision that could not be replayed, and why.
struct NotReplayable {
  RecordedDecision recorded;
  std::string reason;
};

struct ImpactReport {
  // The candidate policy.
  std::string policy_file;
  std::string policy_name;
  std::string policy_digest;
  // Where the decisions came from and which window, in words, for the text report (set by the
  // caller; may be empty).
  std::string source;
  std::string window;

  int64_t decisions = 0;       // DECISION entries in the window
  int64_t replayed = 0;        // of which replayed
  int64_t unchanged = 0;
  int64_t changed = 0;         // effect or deciding rule differs
  int64_t effect_changed = 0;  // of which the effect differs
  int64_t first_index = -1;    // of the decisions in the window; -1 when none
  int64_t last_index = -1;
  std::string first_time;
  std::string last_time;
  // The policies the replayed decisions were recorded under, by digest, with how many each.
  std::vector<std::pair<std::string, int64_t>> recorded_policies;
  std::vector<ImpactGroup> groups;            // largest first
  std::vector<NotReplayable> not_replayable;  // in index order

  bool any_change() const { return changed > 0; }
};

class ImpactAnalysis {
 public:
  ImpactAnalysis(policy::Policy candidate, ImpactWindow window);

  // Offers one audit entry's leaf_data; entries must come in index order. Entries that are not
  // DECISION entries, and decisions outside the window, are skipped. INVALID_ARGUMENT when
  // `leaf_data` is not a JSON object with an integer "index", a string "type" and an RFC 3339
  // "appendTime" (not an audit entry at all).
  Status Add(std::string_view leaf_data);

  // Replays the decisions the window holds (the last N are kept until now) and returns the
  // report. Call once.
  ImpactReport Finish();

 private:
  void Replay(const nlohmann::json& leaf);

  policy::Policy candidate_;
  ImpactWindow window_;
  std::deque<std::string> kept_;  // with window_.last: the last N decisions offered
  ImpactReport report_;
  // (before effect, before rule, after effect, after rule) -> index into report_.groups.
  std::map<std::vector<std::string>, size_t> group_of_;
  std::map<std::string, size_t> policy_of_;
};

// Rebuilds the decision request that a DECISION entry's `input` object records (docs/audit.md).
// INVALID_ARGUMENT naming the first member that is missing or of the wrong type, e.g.
// "input.principal.roles must be a list of strings": such an entry cannot be replayed exactly.
// Members this build does not know are ignored (no policy this build loads can read them).
Result<policy::DecisionRequest> DecisionRequestFromInput(const nlohmann::json& input);

// Renders the report for people: the candidate, the source and window, the counts, then one
// block per group, largest first ("allow (rule x) -> deny (no rule matched): 42 decisions")
// with up to `examples` decisions each, then the decisions that could not be replayed.
std::string FormatImpactReport(const ImpactReport& report, size_t examples = 3);

// The report as one JSON document with every changed decision (for --output json).
nlohmann::ordered_json ImpactReportJson(const ImpactReport& report);

}  // namespace sov::cli
