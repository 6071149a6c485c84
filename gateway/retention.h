// Retention (GDPR Art. 5(1)(e), storage limitation): which artifacts reach their retention
// deadline, and the sweeper that applies the deadline's action. The policy in force decides: for
// every artifact, Policy::RetentionFor is recomputed from its create time with the current
// policy (rule, action and deadline), so that a compliance officer's change of a retention rule
// applies to artifacts pushed before it; the deadline stored at push is not consulted (see
// docs/policy.md, "Retention"). The pusher's own limit (retain_until, stored as asked in
// ArtifactSpec::retain_until) is applied too: the artifact is erased at the earlier of the two.
// The plan and the sweep each read every artifact in one query (an ArtifactCatalog): with the
// current policy deciding, a stored-deadline index cannot narrow the scan.
//
// The sweeper erases (gateway/erasure.h EraseWithLineage, system actor "retention") or revokes
// (RELEASED -> REVOKED) each artifact past its deadline, each change audited (a RETENTION entry
// committed with it). It is idempotent: erased and revoked artifacts are skipped, so a sweep
// after a crash finishes the work. One item's failure is counted, audited and retried on the
// next sweep; it never stops the sweep. Sweeps in one process run one at a time (a process-wide
// lock), whether the RetentionSweeper's thread or a SweepRetention call started them.
//
// Inside one sweep, the due items are split into lineage groups: an item joins every other item
// whose artifact, or anything its erasure propagates to (the transitive dependents), it shares.
// Each group is handled by one worker, in the plan's order, exactly as a sequential sweep would;
// groups run on up to SweepOptions::concurrency workers at once, so that the store's group
// commit merges their durable steps (and the WAL checkpoint after a key-destroying group: see
// docs/security.md). Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "gateway/config.h"
#include "policy/policy.h"
#include "registry/registry.h"

namespace sov::gateway {

// Where the time comes from; tests pass a fake one to move time.
using Clock = std::function<SystemTime()>;
// Returns std::chrono::system_clock::now().
SystemTime SystemNow();

// Every artifact of the registry (erased ones included), read in one query, indexed by
// name@version and by lineage parent, with the policy's view of each (lineage entries completed
// with each parent's classification and purposes). Not thread-safe; build one per use.
class ArtifactCatalog {
 public:
  // Reads every artifact, erased ones included, `page_rows` at a time (whole names; 0: in one
  // read). Each page is its own read transaction, so a long catalog does not hold a reader in
  // the store's WAL for its whole read: that would hold up the checkpoint that must follow
  // every key destruction (docs/security.md), and every erasure waiting on it. The catalog is
  // therefore not one snapshot: an artifact pushed or changed meanwhile may show its state
  // before the change, as it could a moment after any read. The store's error otherwise.
  static constexpr int64_t kDefaultPageRows = 500;
  static Result<ArtifactCatalog> Load(registry::Registry& registry,
                                      int64_t page_rows = kDefaultPageRows);

  // In the store's order: by name, then push order.
  const std::vector<registry::ArtifactRecord>& artifacts() const { return artifacts_; }
  // Returns the artifact name@version, or nullptr.
  const registry::ArtifactRecord* Find(const std::string& name, const std::string& version) const;
  // Returns the artifacts whose lineage names `record` directly.
  std::vector<const registry::ArtifactRecord*> Dependents(const registry::ArtifactRecord& record) const;
  // Returns the policy's view of `record` (as the gateway's decisions see it).
  policy::Artifact PolicyView(const registry::ArtifactRecord& record) const;

 private:
  std::vector<registry::ArtifactRecord> artifacts_;
  std::map<std::string, size_t> by_ref_;                 // "name@version" -> index
  std::map<std::string, std::vector<size_t>> children_;  // parent "name@version" -> indexes
};

// The rule id of a ruling set by the pusher's retain_until rather than by a policy entry.
inline constexpr std::string_view kRetainUntilRuleId = "retain_until";

// What the policy in force, or the pusher's retain_until, says about one artifact's retention.
struct RetentionRuling {
  SystemTime deadline;
  std::string action;  // "erase" | "revoke"
  // The retention entry: entries have no ids in the policy language, so the id names the
  // entry by its line ("retention:42"); the location is FILE:LINE:COL. kRetainUntilRuleId when
  // the pusher's retain_until set the deadline; the location is then empty.
  std::string rule_id;
  policy::SourceLocation rule_location;
};

// Returns the ruling for `record` under `policy`, recomputed from its create time, or the
// pusher's retain_until (action erase) where that comes first: when no entry applies, the entry
// keeps it without limit, the entry's deadline is later, or the entry revokes and the artifact
// is not RELEASED (the revoke has nothing left to do). Nullopt when neither sets a deadline, or
// the artifact is ERASED.
std::optional<RetentionRuling> RuleOnRetention(const policy::Policy& policy,
                                               const ArtifactCatalog& catalog,
                                               const registry::ArtifactRecord& record);

// One artifact with a deadline.
struct RetentionItem {
  registry::ArtifactRecord artifact;
  std::string classification;  // effective, as the policy sees it
  RetentionRuling ruling;
};

// Which items a plan lists. Empty fields match everything.
struct RetentionPlanFilter {
  SystemTime horizon;  // deadlines strictly before this (past ones included)
  std::optional<registry::Kind> kind;
  std::string classification;  // effective classification
  std::string owner_tenant;
};

// Returns every non-erased artifact whose deadline under `policy` is before filter.horizon,
// soonest first (ties by name, then version). The store's error otherwise.
Result<std::vector<RetentionItem>> ComputeRetentionPlan(registry::Registry& registry,
                                                        const policy::Policy& policy,
                                                        const RetentionPlanFilter& filter);

// What a sweep did to one item.
enum class SweepOutcome {
  kErased,     // erased now (dry run: would be)
  kRevoked,    // revoked now (dry run: would be)
  kUnchanged,  // action revoke on an artifact that is not RELEASED: nothing to do, listed
  kFailed,     // the action failed; retried on the next sweep
};
// "erased", "revoked", "unchanged", "failed".
std::string_view SweepOutcomeName(SweepOutcome outcome);

struct SweptItem {
  RetentionItem item;
  SweepOutcome outcome = SweepOutcome::kUnchanged;
  std::string error;  // kFailed: why (a Status message; no secret)
};

// Workers a sweep uses unless told otherwise: the config's default, so that the two cannot
// drift. At most kMaxSweepConcurrency (gateway/config.h) are used.
inline constexpr size_t kDefaultSweepConcurrency =
    static_cast<size_t>(RetentionSettings{}.sweep_concurrency);

struct SweepOptions {
  bool dry_run = false;
  // Lineage groups handled at once (see the file comment): 1 applies every item one after
  // another on the calling thread; more start up to concurrency - 1 threads beside it. 0 is
  // taken as 1; values above kMaxSweepConcurrency as kMaxSweepConcurrency.
  size_t concurrency = kDefaultSweepConcurrency;
  size_t max_listed = 10000;  // items kept in SweepReport::items; the counts cover all
  // The request that asked for the sweep (its DECISION entry's request id); empty for the
  // background sweeper.
  std::string request_id;
  // Asked by each worker before each item, one call at a time (never concurrently); once it
  // returns true every worker stops after its current item (the rest waits for the next sweep)
  // and the report says so. Unset: never.
  std::function<bool()> cancelled;
};

struct SweepReport {
  // In the plan's order (deadline order), at most max_listed, whatever order the workers
  // finished them in; a stopped sweep lists only the items it acted on.
  std::vector<SweptItem> items;
  int64_t erased = 0;
  int64_t revoked = 0;
  int64_t unchanged = 0;
  int64_t failed = 0;
  bool truncated = false;  // more items than listed
  bool stopped = false;    // options.cancelled stopped the sweep before the last item
};

// Applies `policy`'s retention to every artifact whose deadline is at or before `now`: erase ->
// EraseWithLineage, revoke -> RELEASED to REVOKED; each with a RETENTION audit entry (system
// actor "retention", the rule and its location) committed with the change. Already revoked
// artifacts are skipped. With dry_run nothing changes. Fails only when the artifacts cannot be
// read; an item's failure is in the report (and the audit log). Returns only after every worker
// it started has finished.
Result<SweepReport> SweepRetention(registry::Registry& registry, const policy::Policy& policy,
                                   SystemTime now, const SweepOptions& options);

// Runs SweepRetention every `interval` on a background thread with the policy `policy()`
// returns at that time and `concurrency` workers, logging what each sweep did. Thread-safe.
class RetentionSweeper {
 public:
  RetentionSweeper(std::shared_ptr<registry::Registry> registry,
                   std::function<std::shared_ptr<const policy::Policy>()> policy,
                   std::chrono::milliseconds interval, Clock clock = SystemNow,
                   size_t concurrency = kDefaultSweepConcurrency);
  // Stops the thread.
  ~RetentionSweeper();
  RetentionSweeper(const RetentionSweeper&) = delete;
  RetentionSweeper& operator=(const RetentionSweeper&) = delete;

  // Starts the thread; the first sweep runs at once. No-op when running or the interval is 0.
  void Start();
  // Stops the thread; a sweep in progress stops after its current items (one per worker).
  // Idempotent.
  void Stop();
  // Sweeps now on the caller's thread (with the sweeper's clock and policy; `options` as given,
  // its concurrency included).
  Result<SweepReport> SweepNow(const SweepOptions& options);
  // Sweeps finished by the background thread so far.
  int64_t completed_sweeps() const;

 private:
  void Loop();

  std::shared_ptr<registry::Registry> registry_;
  std::function<std::shared_ptr<const policy::Policy>()> policy_;
  const std::chrono::milliseconds interval_;
  const Clock clock_;
  const size_t concurrency_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;        // SOV_GUARDED_BY(mu_)
  std::atomic<bool> stop_requested_{false};  // read by a sweep in progress, between items
  int64_t completed_sweeps_ = 0;  // SOV_GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace sov::gateway
