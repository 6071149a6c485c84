#include "gateway/retention.h"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <set>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "gateway/call_guard.h"
#include "gateway/erasure.h"
#include "gateway/log.h"
#include "gateway/registry_convert.h"

namespace sov::gateway {
namespace {

using registry::ArtifactRecord;
using registry::Stage;

std::string RefKey(std::string_view name, std::string_view version) {
  return std::string(name) + "@" + std::string(version);
}

// Sweeps in one process run one at a time: two at once would race to erase the same artifact
// (harmless, since erasure is idempotent, but each would audit it).
std::mutex& SweepMutex() {
  static std::mutex mu;
  return mu;
}

std::string BaseName(const std::string& file) {
  return std::filesystem::path(file).filename().string();
}

// The rule's location as entries and reasons show it: the policy file's base name, line, column.
std::string PublicRuleLocation(const policy::SourceLocation& location) {
  policy::SourceLocation shown = location;
  shown.file = BaseName(location.file);
  return shown.ToString();
}

bool FromRetainUntil(const RetentionRuling& ruling) { return ruling.rule_id == kRetainUntilRuleId; }

std::string RetentionReason(const RetentionItem& item) {
  // An erasure being completed keeps the reason it was erased for.
  if (item.artifact.tombstone.has_value()) return item.artifact.tombstone->reason;
  // No policy entry to name: the reason must say the pusher asked for it.
  if (FromRetainUntil(item.ruling)) {
    return std::string(kRetainUntilRuleId) + " (set at push): deadline " +
           FormatRfc3339(item.ruling.deadline) + " passed";
  }
  return "retention rule " + item.ruling.rule_id + " at " +
         PublicRuleLocation(item.ruling.rule_location) + ": deadline " +
         FormatRfc3339(item.ruling.deadline) + " passed";
}

// The RETENTION entry for one item; `to` is empty when the action failed.
registry::AuditEvent RetentionEvent(const RetentionItem& item, const policy::Policy& policy,
                                    const std::string& request_id, std::string_view to,
                                    const std::string& error) {
  const ArtifactRecord& a = item.artifact;
  registry::AuditEvent event;
  event.type = "RETENTION";
  event.request_id = request_id;
  event.system_actor = "retention";
  event.action = "retention." + item.ruling.action;
  event.artifact_name = a.spec.name;
  event.artifact_version = a.spec.version;
  event.artifact_digest = a.digest;
  nlohmann::json details = {{"deadline", FormatRfc3339(item.ruling.deadline)},
                            {"ruleId", item.ruling.rule_id},
                            {"policyDigest", policy.digest()},
                            {"outcome", !error.empty()                   ? "failed"
                                        : a.stage == registry::Stage::kErased ? "lineage-completed"
                                                                              : "applied"}};
  // A deadline from the pusher's retain_until has no place in the policy file.
  if (std::string location = PublicRuleLocation(item.ruling.rule_location); !location.empty()) {
    details["ruleLocation"] = std::move(location);
  }
  if (FromRetainUntil(item.ruling)) details["deadlineSource"] = "retain_until (set at push)";
  if (!error.empty()) details["error"] = error;
  event.body["details"] = std::move(details);
  if (!to.empty() && a.stage != registry::Stage::kErased) {
    event.body["stageChange"] = {{"fromStage", std::string(registry::StageName(a.stage))},
                                 {"toStage", std::string(to)},
                                 {"reason", RetentionReason(item)},
                                 {"ruleId", item.ruling.rule_id}};
  }
  return event;
}

registry::Actor RetentionActor(const std::string& request_id) {
  registry::Actor actor;
  actor.system_actor = "retention";
  actor.request_id = request_id;
  return actor;
}

Status Erase(registry::Registry& registry, const policy::Policy& policy, const RetentionItem& item,
             const std::string& request_id) {
  registry::Registry::EraseRequest request;
  request.reason = RetentionReason(item);
  // The sweep waits for the shredding of all its erasures at its end (SweepRetention).
  request.await_shredding = false;
  std::vector<registry::AuditEvent> audit = {
      RetentionEvent(item, policy, request_id, "erased", "")};
  Result<ErasureOutcome> erased = EraseWithLineage(registry, policy, item.artifact, request,
                                                   RetentionActor(request_id), std::move(audit),
                                                   /*dry_run=*/false);
  return erased.status();
}

// Revokes a RELEASED artifact. OK (nothing done) when it was revoked or erased meanwhile.
Status Revoke(registry::Registry& registry, const policy::Policy& policy, const RetentionItem& item,
              const std::string& request_id) {
  registry::Registry::Transition transition;
  transition.from = {Stage::kReleased};
  transition.to = Stage::kRevoked;
  transition.reason = RetentionReason(item);
  transition.rule_id = item.ruling.rule_id;
  transition.rule_location = PublicRuleLocation(item.ruling.rule_location);
  Result<ArtifactRecord> revoked = registry.ChangeStage(
      item.artifact.spec.name, item.artifact.spec.version, transition, RetentionActor(request_id),
      {RetentionEvent(item, policy, request_id, "revoked", "")});
  if (revoked.ok()) return OkStatus();
  if (revoked.status().code() == StatusCode::kFailedPrecondition) {
    // The stage moved since the scan; a later sweep sees the new stage.
    Result<ArtifactRecord> now = registry.Get(item.artifact.spec.name, item.artifact.spec.version);
    if (now.ok() && (now->stage == Stage::kRevoked || now->stage == Stage::kErased)) {
      return OkStatus();
    }
  }
  return revoked.status();
}

// Records a failed action; the failure of this append is only logged: the sweep goes on.
void AuditFailure(registry::Registry& registry, const policy::Policy& policy,
                  const RetentionItem& item, const std::string& request_id,
                  const std::string& error) {
  Result<std::vector<int64_t>> appended =
      registry.audit().Append({RetentionEvent(item, policy, request_id, "", error)});
  if (!appended.ok()) {
    LogEvent(*ModuleLogger("retention"), spdlog::level::err, "audit append failed",
             {{"event", "RETENTION"}, {"error", appended.status().message()}});
  }
}

}  // namespace

SystemTime SystemNow() { return std::chrono::system_clock::now(); }

// ---- ArtifactCatalog ----------------------------------------------------------------------------

Result<ArtifactCatalog> ArtifactCatalog::Load(registry::Registry& registry, int64_t page_rows) {
  registry::ArtifactFilter page;
  page.include_erased = true;
  page.limit = std::max<int64_t>(page_rows, 0);
  ArtifactCatalog catalog;
  while (true) {
    SOV_ASSIGN_OR_RETURN(std::vector<ArtifactRecord> rows, registry.store().ListArtifacts(page));
    // A page holds every version of each name in it, so the next one starts after the last.
    const bool last = page.limit == 0 || static_cast<int64_t>(rows.size()) < page.limit;
    if (!rows.empty()) page.after_name = rows.back().spec.name;
    catalog.artifacts_.insert(catalog.artifacts_.end(), std::make_move_iterator(rows.begin()),
                              std::make_move_iterator(rows.end()));
    if (last) break;
  }
  for (size_t i = 0; i < catalog.artifacts_.size(); ++i) {
    const ArtifactRecord& a = catalog.artifacts_[i];
    catalog.by_ref_[RefKey(a.spec.name, a.spec.version)] = i;
    for (const registry::LineageLink& link : a.spec.lineage) {
      std::vector<size_t>& children = catalog.children_[RefKey(link.name, link.version)];
      // A link named twice (trained-on and validated-on) is one dependent.
      if (children.empty() || children.back() != i) children.push_back(i);
    }
  }
  return catalog;
}

const ArtifactRecord* ArtifactCatalog::Find(const std::string& name,
                                            const std::string& version) const {
  auto it = by_ref_.find(RefKey(name, version));
  return it == by_ref_.end() ? nullptr : &artifacts_[it->second];
}

std::vector<const ArtifactRecord*> ArtifactCatalog::Dependents(const ArtifactRecord& record) const {
  std::vector<const ArtifactRecord*> out;
  auto it = children_.find(RefKey(record.spec.name, record.spec.version));
  if (it == children_.end()) return out;
  for (size_t i : it->second) out.push_back(&artifacts_[i]);
  return out;
}

policy::Artifact ArtifactCatalog::PolicyView(const ArtifactRecord& record) const {
  policy::Artifact view = PolicyArtifact(record);
  for (policy::LineageEntry& entry : view.lineage) {
    const ArtifactRecord* parent = Find(entry.name, entry.version);
    if (parent != nullptr) FillLineageEntry(*parent, entry);
  }
  return view;
}

// ---- Plan ---------------------------------------------------------------------------------------

std::optional<RetentionRuling> RuleOnRetention(const policy::Policy& policy,
                                               const ArtifactCatalog& catalog,
                                               const ArtifactRecord& record) {
  if (record.stage == Stage::kErased) return std::nullopt;
  std::optional<RetentionRuling> by_policy;
  policy::Retention retention = policy.RetentionFor(catalog.PolicyView(record));
  if (retention.matched && !retention.unlimited && retention.deadline.has_value() &&
      retention.action != policy::RetentionAction::kKeep) {
    by_policy.emplace();
    by_policy->deadline = *retention.deadline;
    by_policy->action = std::string(policy::RetentionActionName(retention.action));
    by_policy->rule_id = "retention:" + std::to_string(retention.location.line);
    by_policy->rule_location = retention.location;
  }
  const std::optional<SystemTime>& retain_until = record.spec.retain_until;
  if (!retain_until.has_value()) return by_policy;
  // The pusher asked that the data be kept no longer than retain_until (the API's promise). A
  // revoke keeps the data, so an earlier revoke yields to retain_until once it has nothing left
  // to do (the artifact is revoked, or not released); on a RELEASED artifact it comes first,
  // and the sweep after it sees the artifact REVOKED.
  const bool policy_first =
      by_policy.has_value() && by_policy->deadline <= *retain_until &&
      (by_policy->action != "revoke" || record.stage == Stage::kReleased);
  if (policy_first) return by_policy;
  RetentionRuling ruling;
  ruling.deadline = *retain_until;
  ruling.action = "erase";
  ruling.rule_id = std::string(kRetainUntilRuleId);
  return ruling;
}

namespace {

std::vector<RetentionItem> PlanFromCatalog(const ArtifactCatalog& catalog,
                                           const policy::Policy& policy,
                                           const RetentionPlanFilter& filter) {
  std::vector<RetentionItem> items;
  for (const ArtifactRecord& record : catalog.artifacts()) {
    if (record.stage == Stage::kErased) continue;
    if (filter.kind.has_value() && record.spec.kind != *filter.kind) continue;
    if (!filter.owner_tenant.empty() && record.spec.owner_tenant != filter.owner_tenant) continue;
    std::optional<RetentionRuling> ruling = RuleOnRetention(policy, catalog, record);
    if (!ruling.has_value() || ruling->deadline >= filter.horizon) continue;
    std::string classification = policy.EffectiveClassification(catalog.PolicyView(record));
    if (!filter.classification.empty() && classification != filter.classification) continue;
    items.push_back(RetentionItem{record, std::move(classification), std::move(*ruling)});
  }
  std::sort(items.begin(), items.end(), [](const RetentionItem& a, const RetentionItem& b) {
    return std::tie(a.ruling.deadline, a.artifact.spec.name, a.artifact.spec.version) <
           std::tie(b.ruling.deadline, b.artifact.spec.name, b.artifact.spec.version);
  });
  return items;
}

// Whether the sweeper erased `record` but did not finish applying the lineage rules to what
// was derived from it (a crash or a failure between the erasure and the last lineage step):
// some artifact derived from it, transitively, is not erased and has no notice naming it.
bool LineagePropagationIncomplete(const ArtifactCatalog& catalog, const ArtifactRecord& record) {
  if (record.stage != Stage::kErased || !record.tombstone.has_value() ||
      record.tombstone->system_actor != "retention") {
    return false;
  }
  std::vector<const ArtifactRecord*> queue = catalog.Dependents(record);
  std::set<const ArtifactRecord*> seen(queue.begin(), queue.end());
  for (size_t i = 0; i < queue.size(); ++i) {
    const ArtifactRecord* next = queue[i];
    if (next->stage != Stage::kErased) {
      const bool noticed = std::any_of(
          next->lineage_notices.begin(), next->lineage_notices.end(),
          [&](const registry::LineageNotice& n) {
            return n.erased_name == record.spec.name && n.erased_version == record.spec.version;
          });
      if (!noticed) return true;
    }
    for (const ArtifactRecord* child : catalog.Dependents(*next)) {
      if (seen.insert(child).second) queue.push_back(child);
    }
  }
  return false;
}

}  // namespace

Result<std::vector<RetentionItem>> ComputeRetentionPlan(registry::Registry& registry,
                                                        const policy::Policy& policy,
                                                        const RetentionPlanFilter& filter) {
  SOV_ASSIGN_OR_RETURN(ArtifactCatalog catalog, ArtifactCatalog::Load(registry));
  return PlanFromCatalog(catalog, policy, filter);
}

// ---- Sweep --------------------------------------------------------------------------------------

std::string_view SweepOutcomeName(SweepOutcome outcome) {
  switch (outcome) {
    case SweepOutcome::kErased: return "erased";
    case SweepOutcome::kRevoked: return "revoked";
    case SweepOutcome::kFailed: return "failed";
    default: return "unchanged";
  }
}

namespace {

// Splits `items` into lineage groups (see retention.h): two items share a group when the sets of
// artifacts their actions write intersect, directly or through a chain of other items. An erasure
// writes its artifact and, through EraseWithLineage, every artifact derived from it
// transitively; a revoke writes its artifact only. Returns the groups, each in the plan's order,
// ordered by their first item. Union-find over the catalog's artifacts; each artifact's
// dependents are expanded once over all items (a node already expanded had its whole closure
// joined to it then), so the cost is linear in the lineage graph.
std::vector<std::vector<size_t>> LineageGroups(const ArtifactCatalog& catalog,
                                               const std::vector<RetentionItem>& items) {
  const std::vector<ArtifactRecord>& all = catalog.artifacts();
  std::vector<size_t> parent(all.size() + items.size());
  for (size_t i = 0; i < parent.size(); ++i) parent[i] = i;
  auto find = [&](size_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  auto join = [&](size_t a, size_t b) { parent[find(a)] = find(b); };
  auto node_of = [&](const ArtifactRecord& record) -> std::optional<size_t> {
    const ArtifactRecord* found = catalog.Find(record.spec.name, record.spec.version);
    if (found == nullptr) return std::nullopt;
    return static_cast<size_t>(found - all.data());
  };

  std::vector<bool> expanded(all.size(), false);
  for (size_t i = 0; i < items.size(); ++i) {
    // Every item has a node of its own, joined to its artifact's when the catalog has it.
    const size_t item_node = all.size() + i;
    std::optional<size_t> node = node_of(items[i].artifact);
    if (!node.has_value()) continue;
    join(item_node, *node);
    if (items[i].ruling.action != "erase" || expanded[*node]) continue;
    std::vector<size_t> queue = {*node};
    expanded[*node] = true;
    while (!queue.empty()) {
      const size_t next = queue.back();
      queue.pop_back();
      for (const ArtifactRecord* child : catalog.Dependents(all[next])) {
        const size_t c = static_cast<size_t>(child - all.data());
        join(c, *node);
        if (!expanded[c]) {
          expanded[c] = true;
          queue.push_back(c);
        }
      }
    }
  }

  std::vector<std::vector<size_t>> groups;
  std::map<size_t, size_t> group_of_root;
  for (size_t i = 0; i < items.size(); ++i) {
    const size_t root = find(all.size() + i);
    auto [it, inserted] = group_of_root.emplace(root, groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  return groups;
}

// One sweep's shared state: the workers take whole lineage groups from `next_group` and write
// only the result slots of their own items, so nothing but the cancellation check needs a lock.
struct SweepRun {
  SweepRun(registry::Registry& on, const policy::Policy& under, const SweepOptions& as_asked,
           std::string id, std::vector<RetentionItem>& plan,
           std::vector<std::vector<size_t>> lineage_groups)
      : registry(on),
        policy(under),
        options(as_asked),
        request_id(std::move(id)),
        items(plan),
        groups(std::move(lineage_groups)),
        results(plan.size()) {}

  registry::Registry& registry;
  const policy::Policy& policy;
  const SweepOptions& options;
  const std::string request_id;
  std::vector<RetentionItem>& items;
  const std::vector<std::vector<size_t>> groups;
  std::vector<std::optional<SweptItem>> results;  // by item; nullopt: skipped or not reached
  std::atomic<size_t> next_group{0};
  std::atomic<bool> stopped{false};
  std::mutex cancel_mu;  // options.cancelled is called by one worker at a time

  bool Cancelled() {
    if (stopped.load()) return true;
    if (!options.cancelled) return false;
    std::lock_guard<std::mutex> lock(cancel_mu);
    if (stopped.load()) return true;
    if (options.cancelled()) stopped = true;
    return stopped.load();
  }
};

// Applies the action on one item; nullopt when there is nothing to list (revoked already).
std::optional<SweptItem> SweepItem(SweepRun& run, const RetentionItem& item) {
  SweptItem swept;
  if (item.ruling.action == "erase") {
    swept.outcome = SweepOutcome::kErased;
  } else if (item.artifact.stage == Stage::kRevoked) {
    return std::nullopt;  // done by an earlier sweep (or by hand)
  } else {
    swept.outcome =
        item.artifact.stage == Stage::kReleased ? SweepOutcome::kRevoked : SweepOutcome::kUnchanged;
  }
  if (!run.options.dry_run && swept.outcome != SweepOutcome::kUnchanged) {
    Status done = swept.outcome == SweepOutcome::kErased
                      ? Erase(run.registry, run.policy, item, run.request_id)
                      : Revoke(run.registry, run.policy, item, run.request_id);
    if (!done.ok()) {
      swept.outcome = SweepOutcome::kFailed;
      swept.error = done.message();
      LogEvent(*ModuleLogger("retention"), spdlog::level::warn,
               "retention action failed; retried on the next sweep",
               {{"artifact", RefKey(item.artifact.spec.name, item.artifact.spec.version)},
                {"action", item.ruling.action},
                {"rule", item.ruling.rule_id},
                {"error", done.message()}});
      AuditFailure(run.registry, run.policy, item, run.request_id, swept.error);
    }
  }
  return swept;
}

// One worker: whole groups, each item of a group in the plan's order, until none is left or
// the sweep is cancelled.
void SweepWorker(SweepRun& run) {
  while (!run.stopped.load()) {
    const size_t g = run.next_group.fetch_add(1);
    if (g >= run.groups.size()) return;
    for (size_t i : run.groups[g]) {
      if (run.Cancelled()) return;
      run.results[i] = SweepItem(run, run.items[i]);
    }
  }
}

}  // namespace

Result<SweepReport> SweepRetention(registry::Registry& registry, const policy::Policy& policy,
                                   SystemTime now, const SweepOptions& options) {
  std::lock_guard<std::mutex> lock(SweepMutex());
  SOV_ASSIGN_OR_RETURN(ArtifactCatalog catalog, ArtifactCatalog::Load(registry));
  RetentionPlanFilter due;
  // Deadlines at or before now.
  due.horizon = now + std::chrono::microseconds(1);
  std::vector<RetentionItem> items = PlanFromCatalog(catalog, policy, due);
  // Erasures whose lineage step was cut short are completed (EraseWithLineage is OK on an
  // ERASED artifact and applies the lineage rules again), in the same deadline order.
  std::vector<RetentionItem> unfinished;
  for (const ArtifactRecord& record : catalog.artifacts()) {
    if (!LineagePropagationIncomplete(catalog, record)) continue;
    RetentionItem item;
    item.artifact = record;
    item.classification = policy.EffectiveClassification(catalog.PolicyView(record));
    item.ruling.action = "erase";
    item.ruling.deadline = record.tombstone->erase_time;
    item.ruling.rule_id = "retention";
    // The tombstone's reason names the rule that erased it.
    unfinished.push_back(std::move(item));
  }
  items.insert(items.begin(), std::make_move_iterator(unfinished.begin()),
               std::make_move_iterator(unfinished.end()));

  // Items in different groups write disjoint sets of artifacts (as of the catalog), so their
  // order relative to each other changes nothing but the order of their audit entries; within a
  // group the plan's order holds, as in a sequential sweep. An artifact pushed during the sweep
  // with lineage in two groups may get notices from both at once: the registry's
  // revision-conditional writes retry such a conflict, as they do against a concurrent Erase
  // call. Each step stays its own durable, audited commit, so a crash mid-sweep leaves what
  // the next sweep completes (erased items are skipped, cut-short lineage steps redone).
  SweepRun run(registry, policy, options,
               options.request_id.empty() ? internal::NewRequestId() : options.request_id, items,
               LineageGroups(catalog, items));
  const size_t concurrency =
      std::clamp<size_t>(options.concurrency, 1, static_cast<size_t>(kMaxSweepConcurrency));
  // The calling thread is one of the workers; no more of them than there are groups.
  const size_t wanted = std::min(concurrency, run.groups.size());
  const size_t extra_workers = wanted > 0 ? wanted - 1 : 0;
  std::vector<std::thread> workers;
  for (size_t w = 0; w < extra_workers; ++w) {
    try {
      workers.emplace_back([&run] { SweepWorker(run); });
    } catch (const std::system_error& e) {
      // Fewer threads only make the sweep slower; the calling thread works anyway.
      LogEvent(*ModuleLogger("retention"), spdlog::level::warn,
               "cannot start a sweep worker; sweeping with fewer",
               {{"workers", std::to_string(workers.size() + 1)}, {"error", e.what()}});
      break;
    }
  }
  SweepWorker(run);
  for (std::thread& worker : workers) worker.join();
  // The erasures did not wait for their keys to leave the store's files (the WAL's cut), so
  // that the workers went on meanwhile and one cut served many of them: wait for it now.
  registry.AwaitShredding();

  SweepReport report;
  report.stopped = run.stopped.load();
  for (size_t i = 0; i < items.size(); ++i) {
    if (!run.results[i].has_value()) continue;
    SweptItem& swept = *run.results[i];
    switch (swept.outcome) {
      case SweepOutcome::kErased: ++report.erased; break;
      case SweepOutcome::kRevoked: ++report.revoked; break;
      case SweepOutcome::kFailed: ++report.failed; break;
      case SweepOutcome::kUnchanged: ++report.unchanged; break;
    }
    if (report.items.size() < options.max_listed) {
      swept.item = std::move(items[i]);
      report.items.push_back(std::move(swept));
    } else {
      report.truncated = true;
    }
  }
  return report;
}

// ---- RetentionSweeper ---------------------------------------------------------------------------

RetentionSweeper::RetentionSweeper(std::shared_ptr<registry::Registry> registry,
                                   std::function<std::shared_ptr<const policy::Policy>()> policy,
                                   std::chrono::milliseconds interval, Clock clock,
                                   size_t concurrency)
    : registry_(std::move(registry)),
      policy_(std::move(policy)),
      interval_(interval),
      clock_(std::move(clock)),
      concurrency_(concurrency) {}

RetentionSweeper::~RetentionSweeper() { Stop(); }

void RetentionSweeper::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || interval_.count() <= 0 || stopping_) return;
  thread_ = std::thread([this] { Loop(); });
}

void RetentionSweeper::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_requested_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<SweepReport> RetentionSweeper::SweepNow(const SweepOptions& options) {
  std::shared_ptr<const policy::Policy> policy = policy_();
  return SweepRetention(*registry_, *policy, clock_(), options);
}

int64_t RetentionSweeper::completed_sweeps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return completed_sweeps_;
}

void RetentionSweeper::Loop() {
  std::shared_ptr<spdlog::logger> log = ModuleLogger("retention");
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    SweepOptions options;
    options.concurrency = concurrency_;
    options.cancelled = [this] { return stop_requested_.load(); };
    Result<SweepReport> report = SweepNow(options);
    if (!report.ok()) {
      LogEvent(*log, spdlog::level::err, "retention sweep failed; retried at the next interval",
               {{"error", report.status().message()}});
    } else {
      const bool acted = report->erased + report->revoked + report->failed > 0;
      LogEvent(*log, acted ? spdlog::level::info : spdlog::level::debug, "retention sweep",
               {{"erased", std::to_string(report->erased)},
                {"revoked", std::to_string(report->revoked)},
                {"unchanged", std::to_string(report->unchanged)},
                {"failed", std::to_string(report->failed)},
                {"stopped", report->stopped ? "true" : "false"}});
    }
    lock.lock();
    ++completed_sweeps_;
    wake_.notify_all();
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

}  // namespace sov::gateway
