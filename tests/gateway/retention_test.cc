// Tests for the retention plan and sweeper (gateway/retention.h) over a real registry: the plan's
// order, filters and horizon under the policy in force; the pusher's retain_until erasing at the
// earlier deadline; the sweeper with a fake clock erases and revokes exactly the expired
// artifacts, audits each change, is idempotent, keeps going past a failing item, and its
// background thread sweeps on its own; a sweep on several workers leaves the same state, audit
// entries and counts as one worker, stops when cancelled and still counts and retries failures.
#include "gateway/retention.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/gateway/governance_testing.h"

namespace sov::gateway {
namespace {

using registry::Kind;
using registry::Stage;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::GovernanceRegistry;

constexpr auto kDay = std::chrono::hours(24);

std::vector<std::string> Names(const std::vector<RetentionItem>& items) {
  std::vector<std::string> out;
  for (const RetentionItem& item : items) out.push_back(item.artifact.spec.name);
  return out;
}

std::vector<std::string> Names(const SweepReport& report) {
  std::vector<std::string> out;
  for (const SweptItem& s : report.items) {
    out.push_back(s.item.artifact.spec.name + ":" + std::string(SweepOutcomeName(s.outcome)));
  }
  return out;
}

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    start_ = std::chrono::system_clock::now();
    internal_ = reg_.Push(Kind::kDataset, "acme/internal", "1.0.0", "internal");
    personal_ = reg_.Push(Kind::kDataset, "acme/personal", "1.0.0", "personal");
    model_ = reg_.Push(Kind::kModel, "acme/model", "1.0.0", "internal", {"acme/internal@1.0.0"});
    public_ = reg_.Push(Kind::kDataset, "other/public", "1.0.0", "public");
  }

  Result<std::vector<RetentionItem>> Plan(std::chrono::hours from_start,
                                          RetentionPlanFilter filter = {}) {
    filter.horizon = start_ + from_start;
    return ComputeRetentionPlan(reg_.registry(), policy_, filter);
  }

  GovernanceRegistry reg_;
  policy::Policy policy_ = testing::LoadPolicy();
  SystemTime start_;
  registry::ArtifactRecord internal_, personal_, model_, public_;
};

TEST_F(RetentionTest, PlanListsDeadlinesBeforeTheHorizonSoonestFirst) {
  auto plan = Plan(30 * kDay);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  // personal: 10 days then erase; the model: 20 days then revoke; internal (40 days) and public
  // (unlimited) are not due within 30 days.
  EXPECT_THAT(Names(*plan), ElementsAre("acme/personal", "acme/model"));
  const RetentionItem& first = (*plan)[0];
  EXPECT_EQ(first.ruling.action, "erase");
  EXPECT_EQ(first.ruling.deadline, personal_.create_time + 10 * kDay);
  EXPECT_EQ(first.ruling.rule_id, "retention:6");
  EXPECT_EQ(first.ruling.rule_location.file, "governance.yaml");
  EXPECT_EQ(first.ruling.rule_location.line, 6);
  EXPECT_EQ(first.classification, "personal");
  const RetentionItem& second = (*plan)[1];
  EXPECT_EQ(second.ruling.action, "revoke");
  EXPECT_EQ(second.ruling.rule_id, "retention:9");
  EXPECT_EQ(second.ruling.deadline, model_.create_time + 20 * kDay);

  auto later = Plan(50 * kDay);
  ASSERT_TRUE(later.ok());
  EXPECT_THAT(Names(*later), ElementsAre("acme/personal", "acme/model", "acme/internal"));
}

TEST_F(RetentionTest, PlanFiltersByKindClassificationAndOwner) {
  RetentionPlanFilter models;
  models.kind = Kind::kModel;
  EXPECT_THAT(Names(*Plan(50 * kDay, models)), ElementsAre("acme/model"));
  RetentionPlanFilter personal;
  personal.classification = "personal";
  EXPECT_THAT(Names(*Plan(50 * kDay, personal)), ElementsAre("acme/personal"));
  RetentionPlanFilter other;
  other.owner_tenant = "other";
  EXPECT_TRUE(Plan(50 * kDay, other)->empty());  // its public data is kept without limit
  RetentionPlanFilter acme;
  acme.owner_tenant = "acme";
  EXPECT_EQ(Plan(50 * kDay, acme)->size(), 3u);
}

TEST_F(RetentionTest, ThePolicyInForceDecidesNotTheDeadlineStoredAtPush) {
  // The artifacts were pushed without a stored deadline; a stricter policy applies to them.
  EXPECT_FALSE(personal_.spec.retention_deadline.has_value());
  std::string stricter = testing::kGovernancePolicy;
  stricter.replace(stricter.find("max_age: 10d"), 12, "max_age: 1d ");
  policy::Policy now = testing::LoadPolicy(stricter);
  RetentionPlanFilter filter;
  filter.horizon = start_ + 2 * kDay;
  auto plan = ComputeRetentionPlan(reg_.registry(), now, filter);
  ASSERT_TRUE(plan.ok());
  ASSERT_THAT(Names(*plan), ElementsAre("acme/personal"));
  EXPECT_EQ((*plan)[0].ruling.deadline, personal_.create_time + kDay);
}

TEST_F(RetentionTest, RetainUntilEarlierThanThePolicyDeadlineErasesAtRetainUntil) {
  // Personal data (policy: 10 days, erase) whose pusher asked for 3 days: planned and erased at
  // retain_until, not a second before, and audited as the pusher's retain_until.
  const SystemTime until = start_ + 3 * kDay;
  registry::ArtifactRecord early =
      reg_.Push(Kind::kDataset, "acme/early", "1.0.0", "personal", {}, until);
  ASSERT_EQ(reg_.Get(early).spec.retain_until, until);  // as stored

  auto plan = Plan(5 * kDay);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_THAT(Names(*plan), ElementsAre("acme/early"));
  const RetentionRuling& ruling = (*plan)[0].ruling;
  EXPECT_EQ(ruling.deadline, until);
  EXPECT_EQ(ruling.action, "erase");
  EXPECT_EQ(ruling.rule_id, "retain_until");
  EXPECT_TRUE(ruling.rule_location.file.empty());
  EXPECT_EQ(ruling.rule_location.line, 0);

  auto before = SweepRetention(reg_.registry(), policy_, until - std::chrono::seconds(1), {});
  ASSERT_TRUE(before.ok()) << before.status().message();
  EXPECT_TRUE(before->items.empty());
  EXPECT_EQ(reg_.Get(early).stage, Stage::kPending);

  auto at = SweepRetention(reg_.registry(), policy_, until, {});
  ASSERT_TRUE(at.ok()) << at.status().message();
  EXPECT_THAT(Names(*at), ElementsAre("acme/early:erased"));
  registry::ArtifactRecord erased = reg_.Get(early);
  EXPECT_EQ(erased.stage, Stage::kErased);
  ASSERT_TRUE(erased.tombstone.has_value());
  EXPECT_THAT(erased.tombstone->reason, HasSubstr("retain_until (set at push)"));
  EXPECT_EQ(reg_.Get(personal_).stage, Stage::kPending);  // its 10 days have not passed

  std::vector<registry::AuditEvent> entries = reg_.Entries("RETENTION");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].artifact_name, "acme/early");
  EXPECT_EQ(entries[0].action, "retention.erase");
  EXPECT_EQ(entries[0].body["stageChange"]["ruleId"], "retain_until");
  EXPECT_EQ(entries[0].body["details"]["ruleId"], "retain_until");
  EXPECT_EQ(entries[0].body["details"]["deadlineSource"], "retain_until (set at push)");
  EXPECT_FALSE(entries[0].body["details"].contains("ruleLocation"));
}

TEST_F(RetentionTest, RetainUntilLaterThanThePolicyDeadlineLeavesThePolicyRuling) {
  // Personal data (policy: 10 days, erase) whose pusher allowed 15 days: the policy's entry
  // decides, and the sweep on day 11 erases it under that entry.
  registry::ArtifactRecord late =
      reg_.Push(Kind::kDataset, "acme/late", "1.0.0", "personal", {}, start_ + 15 * kDay);
  RetentionPlanFilter personal;
  personal.classification = "personal";
  auto plan = Plan(30 * kDay, personal);
  ASSERT_TRUE(plan.ok());
  ASSERT_THAT(Names(*plan), ElementsAre("acme/personal", "acme/late"));
  EXPECT_EQ((*plan)[1].ruling.rule_id, "retention:6");
  EXPECT_EQ((*plan)[1].ruling.action, "erase");
  EXPECT_EQ((*plan)[1].ruling.deadline, late.create_time + 10 * kDay);

  auto swept = SweepRetention(reg_.registry(), policy_, start_ + 11 * kDay, {});
  ASSERT_TRUE(swept.ok());
  EXPECT_THAT(Names(*swept), ElementsAre("acme/personal:erased", "acme/late:erased"));
  EXPECT_THAT(reg_.Get(late).tombstone->reason, HasSubstr("retention:6"));

  // A retain_until equal to the policy's deadline: the policy's entry stands too.
  auto catalog = ArtifactCatalog::Load(reg_.registry());
  ASSERT_TRUE(catalog.ok());
  registry::ArtifactRecord same = internal_;
  same.spec.retain_until = internal_.create_time + 40 * kDay;
  std::optional<RetentionRuling> ruling = RuleOnRetention(policy_, *catalog, same);
  ASSERT_TRUE(ruling.has_value());
  EXPECT_EQ(ruling->rule_id, "retention:12");
  // One nanosecond earlier, and it is the pusher's.
  same.spec.retain_until = internal_.create_time + 40 * kDay - std::chrono::nanoseconds(1);
  ruling = RuleOnRetention(policy_, *catalog, same);
  ASSERT_TRUE(ruling.has_value());
  EXPECT_EQ(ruling->rule_id, "retain_until");
}

TEST_F(RetentionTest, RetainUntilAppliesWhereThePolicyKeepsWithoutLimitOrHasNoEntry) {
  // Public data (policy: unlimited) and anonymised data (no entry) with a retain_until are
  // erased at it; without one they are kept.
  const SystemTime until = start_ + 2 * kDay;
  registry::ArtifactRecord open =
      reg_.Push(Kind::kDataset, "other/open", "1.0.0", "public", {}, until);
  registry::ArtifactRecord anon =
      reg_.Push(Kind::kDataset, "other/anon", "1.0.0", "anonymised", {}, until);
  registry::ArtifactRecord anon_kept = reg_.Push(Kind::kDataset, "other/anon-kept", "1.0.0",
                                                 "anonymised");

  auto plan = Plan(3 * kDay);
  ASSERT_TRUE(plan.ok());
  EXPECT_THAT(Names(*plan), ElementsAre("other/anon", "other/open"));
  for (const RetentionItem& item : *plan) {
    EXPECT_EQ(item.ruling.rule_id, "retain_until") << item.artifact.spec.name;
    EXPECT_EQ(item.ruling.action, "erase") << item.artifact.spec.name;
  }

  auto before = SweepRetention(reg_.registry(), policy_, until - std::chrono::seconds(1), {});
  ASSERT_TRUE(before.ok());
  EXPECT_TRUE(before->items.empty());
  auto at = SweepRetention(reg_.registry(), policy_, until, {});
  ASSERT_TRUE(at.ok());
  EXPECT_THAT(Names(*at), ElementsAre("other/anon:erased", "other/open:erased"));
  EXPECT_EQ(reg_.Get(open).stage, Stage::kErased);
  EXPECT_EQ(reg_.Get(anon).stage, Stage::kErased);
  EXPECT_EQ(reg_.Get(anon_kept).stage, Stage::kPending);
  EXPECT_EQ(reg_.Get(public_).stage, Stage::kPending);
}

TEST_F(RetentionTest, RetainUntilErasesAModelThePolicyWouldOnlyRevoke) {
  // Models: policy 20 days, then revoke. An earlier retain_until erases the model instead.
  registry::ArtifactRecord early = reg_.Release(
      reg_.Push(Kind::kModel, "acme/early-model", "1.0.0", "internal", {}, start_ + 5 * kDay));
  auto plan = Plan(10 * kDay);
  ASSERT_TRUE(plan.ok());
  ASSERT_THAT(Names(*plan), ElementsAre("acme/early-model"));
  EXPECT_EQ((*plan)[0].ruling.action, "erase");
  EXPECT_EQ((*plan)[0].ruling.rule_id, "retain_until");
  auto swept = SweepRetention(reg_.registry(), policy_, start_ + 6 * kDay, {});
  ASSERT_TRUE(swept.ok());
  EXPECT_THAT(Names(*swept), ElementsAre("acme/early-model:erased"));
  EXPECT_EQ(reg_.Get(early).stage, Stage::kErased);

  // A later retain_until: the policy revokes the released model at 20 days; a revoke keeps the
  // data, so the pusher's limit still erases it at 25 days.
  registry::ArtifactRecord late = reg_.Release(
      reg_.Push(Kind::kModel, "acme/late-model", "1.0.0", "internal", {}, start_ + 25 * kDay));
  auto day21 = SweepRetention(reg_.registry(), policy_, start_ + 21 * kDay, {});
  ASSERT_TRUE(day21.ok());
  EXPECT_THAT(Names(*day21), ElementsAre("acme/personal:erased", "acme/model:unchanged",
                                         "acme/late-model:revoked"));
  EXPECT_EQ(reg_.Get(late).stage, Stage::kRevoked);
  EXPECT_EQ(reg_.Get(late).history.back().rule_id, "retention:9");
  auto day24 = SweepRetention(reg_.registry(), policy_, start_ + 24 * kDay, {});
  ASSERT_TRUE(day24.ok());
  EXPECT_EQ(day24->erased + day24->revoked, 0);
  EXPECT_EQ(reg_.Get(late).stage, Stage::kRevoked);
  auto day25 = SweepRetention(reg_.registry(), policy_, start_ + 25 * kDay, {});
  ASSERT_TRUE(day25.ok());
  EXPECT_THAT(Names(*day25), ElementsAre("acme/model:unchanged", "acme/late-model:erased"));
  EXPECT_EQ(reg_.Get(late).stage, Stage::kErased);
  EXPECT_THAT(reg_.Get(late).tombstone->reason, HasSubstr("retain_until"));

  // An unreleased model: the revoke would change nothing, so retain_until is what the plan
  // shows, even after the policy's deadline.
  reg_.Push(Kind::kModel, "acme/pending-model", "1.0.0", "internal", {}, start_ + 30 * kDay);
  auto catalog = ArtifactCatalog::Load(reg_.registry());
  ASSERT_TRUE(catalog.ok());
  std::optional<RetentionRuling> ruling =
      RuleOnRetention(policy_, *catalog, *catalog->Find("acme/pending-model", "1.0.0"));
  ASSERT_TRUE(ruling.has_value());
  EXPECT_EQ(ruling->rule_id, "retain_until");
  EXPECT_EQ(ruling->deadline, start_ + 30 * kDay);
}

TEST_F(RetentionTest, CatalogReadsEveryArtifactOnceWhateverItsPages) {
  // Pages hold whole names: the three versions of acme/model straddle every small page size.
  reg_.Push(Kind::kModel, "acme/model", "1.1.0", "internal", {"acme/internal@1.0.0"});
  reg_.Push(Kind::kModel, "acme/model", "1.2.0", "internal");
  ASSERT_TRUE(SweepRetention(reg_.registry(), policy_, start_ + 15 * kDay, {}).ok());
  std::vector<std::string> expected;
  for (int64_t page_rows : {0, 1, 2, 3, 4, 500}) {
    SCOPED_TRACE("page_rows " + std::to_string(page_rows));
    auto catalog = ArtifactCatalog::Load(reg_.registry(), page_rows);
    ASSERT_TRUE(catalog.ok()) << catalog.status().message();
    std::vector<std::string> refs;
    for (const registry::ArtifactRecord& a : catalog->artifacts()) {
      refs.push_back(a.spec.name + "@" + a.spec.version + ":" +
                     std::string(registry::StageName(a.stage)));
    }
    if (page_rows == 0) {
      expected = refs;
      EXPECT_THAT(refs, ElementsAre("acme/internal@1.0.0:pending", "acme/model@1.0.0:pending",
                                    "acme/model@1.1.0:pending", "acme/model@1.2.0:pending",
                                    "acme/personal@1.0.0:erased", "other/public@1.0.0:pending"));
    }
    EXPECT_EQ(refs, expected);
    const registry::ArtifactRecord* internal = catalog->Find("acme/internal", "1.0.0");
    ASSERT_NE(internal, nullptr);
    EXPECT_EQ(catalog->Dependents(*internal).size(), 2u);
  }
}

TEST_F(RetentionTest, SweepErasesAndRevokesExactlyTheExpiredOnesAndIsIdempotent) {
  // Day 15: only the personal dataset (10 days) is past its deadline.
  auto first = SweepRetention(reg_.registry(), policy_, start_ + 15 * kDay, {});
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_THAT(Names(*first), ElementsAre("acme/personal:erased"));
  EXPECT_EQ(first->erased, 1);
  EXPECT_EQ(first->failed, 0);
  // The erasure did not wait for its key's shredding (the WAL's cut); the sweep waited for it
  // before it returned.
  EXPECT_EQ(reg_.store().unawaited_total(), 1);
  EXPECT_EQ(reg_.store().unawaited(), 0);
  registry::ArtifactRecord erased = reg_.Get(personal_);
  EXPECT_EQ(erased.stage, Stage::kErased);
  ASSERT_TRUE(erased.tombstone.has_value());
  EXPECT_EQ(erased.tombstone->system_actor, "retention");
  EXPECT_THAT(erased.tombstone->reason, HasSubstr("retention:6"));
  EXPECT_THAT(erased.tombstone->reason, HasSubstr("governance.yaml:6"));
  EXPECT_EQ(reg_.Get(internal_).stage, Stage::kPending);

  // Day 25: the released model is revoked; the unreleased internal dataset (40 days) is kept.
  reg_.Release(model_);
  auto second = SweepRetention(reg_.registry(), policy_, start_ + 25 * kDay, {});
  ASSERT_TRUE(second.ok());
  EXPECT_THAT(Names(*second), ElementsAre("acme/model:revoked"));
  EXPECT_EQ(second->revoked, 1);
  registry::ArtifactRecord revoked = reg_.Get(model_);
  EXPECT_EQ(revoked.stage, Stage::kRevoked);
  ASSERT_FALSE(revoked.history.empty());
  EXPECT_EQ(revoked.history.back().system_actor, "retention");
  EXPECT_EQ(revoked.history.back().rule_id, "retention:9");
  EXPECT_EQ(reg_.Get(internal_).stage, Stage::kPending);
  EXPECT_EQ(reg_.Get(public_).stage, Stage::kPending);

  // Each change has its RETENTION entry, naming the rule.
  std::vector<registry::AuditEvent> entries = reg_.Entries("RETENTION");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].artifact_name, "acme/personal");
  EXPECT_EQ(entries[0].system_actor, "retention");
  EXPECT_EQ(entries[0].action, "retention.erase");
  EXPECT_EQ(entries[0].body["stageChange"]["ruleId"], "retention:6");
  EXPECT_EQ(entries[0].body["details"]["ruleLocation"], "governance.yaml:6:5");
  EXPECT_EQ(entries[1].artifact_name, "acme/model");
  EXPECT_EQ(entries[1].body["stageChange"]["toStage"], "revoked");

  // The same sweep again does nothing and writes nothing.
  auto again = SweepRetention(reg_.registry(), policy_, start_ + 25 * kDay, {});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->erased + again->revoked + again->failed, 0);
  EXPECT_TRUE(again->items.empty());
  EXPECT_EQ(reg_.Entries("RETENTION").size(), 2u);
}

TEST_F(RetentionTest, RevokeOfAnUnreleasedArtifactChangesNothingButIsListed) {
  auto report = SweepRetention(reg_.registry(), policy_, start_ + 25 * kDay, {});
  ASSERT_TRUE(report.ok());
  EXPECT_THAT(Names(*report), ElementsAre("acme/personal:erased", "acme/model:unchanged"));
  EXPECT_EQ(report->unchanged, 1);
  EXPECT_EQ(report->revoked, 0);
  EXPECT_EQ(reg_.Get(model_).stage, Stage::kPending);
  EXPECT_EQ(reg_.Entries("RETENTION").size(), 1u);  // only the erasure
}

TEST_F(RetentionTest, DryRunListsAndChangesNothing) {
  reg_.Release(model_);
  SweepOptions options;
  options.dry_run = true;
  auto report = SweepRetention(reg_.registry(), policy_, start_ + 45 * kDay, options);
  ASSERT_TRUE(report.ok());
  EXPECT_THAT(Names(*report),
              ElementsAre("acme/personal:erased", "acme/model:revoked", "acme/internal:erased"));
  EXPECT_EQ(report->erased, 2);
  EXPECT_EQ(report->revoked, 1);
  EXPECT_EQ(reg_.Get(personal_).stage, Stage::kPending);
  EXPECT_EQ(reg_.Get(model_).stage, Stage::kReleased);
  EXPECT_TRUE(reg_.Entries("RETENTION").empty());
}

TEST_F(RetentionTest, AFailingItemIsCountedAuditedAndRetriedWithoutStoppingTheSweep) {
  registry::ArtifactRecord second = reg_.Push(Kind::kDataset, "acme/personal2", "1.0.0", "personal");
  reg_.store().FailArtifact(personal_.id);
  auto report = SweepRetention(reg_.registry(), policy_, start_ + 15 * kDay, {});
  ASSERT_TRUE(report.ok()) << report.status().message();
  // The first item (the soonest deadline) failed; the next one was still erased.
  EXPECT_THAT(Names(*report), ElementsAre("acme/personal:failed", "acme/personal2:erased"));
  EXPECT_EQ(report->failed, 1);
  EXPECT_EQ(report->erased, 1);
  EXPECT_THAT(report->items[0].error, HasSubstr("injected failure"));
  EXPECT_NE(reg_.Get(personal_).stage, Stage::kErased);
  EXPECT_EQ(reg_.Get(second).stage, Stage::kErased);
  // The two items are independent, so the sweep's workers may log them in either order.
  std::vector<registry::AuditEvent> entries = reg_.Entries("RETENTION");
  ASSERT_EQ(entries.size(), 2u);
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.artifact_name < b.artifact_name; });
  EXPECT_EQ(entries[0].artifact_name, "acme/personal");
  EXPECT_EQ(entries[0].body["details"]["outcome"], "failed");
  EXPECT_THAT(entries[0].body["details"]["error"].get<std::string>(), HasSubstr("injected"));
  EXPECT_EQ(entries[1].artifact_name, "acme/personal2");  // committed with the erasure
  EXPECT_EQ(entries[1].body["details"]["outcome"], "applied");

  // The next sweep retries it.
  reg_.store().HealAll();
  auto retry = SweepRetention(reg_.registry(), policy_, start_ + 15 * kDay, {});
  ASSERT_TRUE(retry.ok());
  EXPECT_THAT(Names(*retry), ElementsAre("acme/personal:erased"));
  EXPECT_EQ(retry->failed, 0);
  EXPECT_EQ(reg_.Get(personal_).stage, Stage::kErased);
}

TEST_F(RetentionTest, SweepListsAtMostMaxListedButCountsAll) {
  reg_.Release(model_);
  SweepOptions options;
  options.dry_run = true;
  options.max_listed = 1;
  auto report = SweepRetention(reg_.registry(), policy_, start_ + 45 * kDay, options);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->items.size(), 1u);
  EXPECT_TRUE(report->truncated);
  EXPECT_EQ(report->erased + report->revoked, 3);
}

TEST_F(RetentionTest, BackgroundSweeperSweepsWithItsClockAndStops) {
  const SystemTime later = start_ + 15 * kDay;
  policy::Policy policy = policy_;
  auto shared_policy = std::make_shared<const policy::Policy>(policy);
  RetentionSweeper sweeper(
      reg_.shared(), [shared_policy] { return shared_policy; }, std::chrono::milliseconds(20),
      [later] { return later; });
  sweeper.Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (sweeper.completed_sweeps() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  sweeper.Stop();
  EXPECT_GE(sweeper.completed_sweeps(), 2);
  EXPECT_EQ(reg_.Get(personal_).stage, Stage::kErased);
  // Swept at least twice, erased once.
  EXPECT_EQ(reg_.Entries("RETENTION").size(), 1u);
}

// ---- Concurrent sweeps ---------------------------------------------------------------------

// A registry full of lineage, built the same way whatever registry it is built in: pairs of
// personal datasets with a shared released model, chains dataset -> derived dataset -> model
// (models derived from personal data are personal: erased at ten days), internal datasets with
// a personal dataset and a released model derived from them (erased and revoked before their
// parent, so that the order inside the group decides whether the parent's erasure finds them
// erased or revoked), released models without lineage (revoked), and independent personal
// datasets.
void BuildLineage(GovernanceRegistry& reg, int pairs) {
  for (int i = 0; i < pairs; ++i) {
    const std::string n = std::to_string(i);
    reg.Push(Kind::kDataset, "acme/a" + n, "1.0.0", "personal");
    reg.Push(Kind::kDataset, "acme/b" + n, "1.0.0", "personal");
    reg.Release(reg.Push(Kind::kModel, "acme/shared" + n, "1.0.0", "internal",
                         {"acme/a" + n + "@1.0.0", "acme/b" + n + "@1.0.0"}));
    reg.Push(Kind::kDataset, "acme/c" + n, "1.0.0", "personal");
    reg.Push(Kind::kDataset, "acme/c" + n + "-derived", "1.0.0", "personal",
             {"acme/c" + n + "@1.0.0"});
    reg.Release(reg.Push(Kind::kModel, "acme/chain" + n, "1.0.0", "internal",
                         {"acme/c" + n + "-derived@1.0.0"}));
    reg.Push(Kind::kDataset, "acme/x" + n, "1.0.0", "internal");
    reg.Push(Kind::kDataset, "acme/x" + n + "-personal", "1.0.0", "personal",
             {"acme/x" + n + "@1.0.0"});
    reg.Release(reg.Push(Kind::kModel, "acme/x" + n + "-model", "1.0.0", "internal",
                         {"acme/x" + n + "@1.0.0"}));
    reg.Release(reg.Push(Kind::kModel, "acme/m" + n, "1.0.0", "internal"));
    reg.Push(Kind::kDataset, "acme/solo" + n, "1.0.0", "personal");
  }
}

// Every artifact's name, stage, notices and eraser, by name.
std::vector<std::string> EndState(GovernanceRegistry& reg) {
  registry::ArtifactFilter all;
  all.include_erased = true;
  all.limit = 0;
  Result<std::vector<registry::ArtifactRecord>> records = reg.registry().List(all);
  EXPECT_TRUE(records.ok());
  std::vector<std::string> out;
  for (const registry::ArtifactRecord& r : *records) {
    std::vector<std::string> notices;
    for (const registry::LineageNotice& n : r.lineage_notices) {
      notices.push_back(n.erased_name + "@" + n.erased_version + ":" + n.action);
    }
    std::sort(notices.begin(), notices.end());
    std::string line = r.spec.name + " " + std::string(registry::StageName(r.stage));
    for (const std::string& n : notices) line += " notice=" + n;
    // (The reason names the deadline, which differs between registries built apart.)
    if (r.tombstone.has_value()) line += " erased-by=" + r.tombstone->system_actor;
    out.push_back(std::move(line));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The audit entries a sweep writes, as a sorted multiset: the order of entries from different
// lineage groups is the workers', the entries themselves must not differ.
std::vector<std::string> SweepEntries(GovernanceRegistry& reg) {
  std::vector<std::string> out;
  for (const char* type : {"RETENTION", "ERASURE", "LINEAGE_PROPAGATION", "STAGE_CHANGE"}) {
    for (const registry::AuditEvent& e : reg.Entries(type)) {
      std::string line = e.type + " " + e.action + " " + e.artifact_name;
      const nlohmann::json& details = e.body.value("details", nlohmann::json::object());
      if (details.contains("outcome")) line += " outcome=" + details["outcome"].get<std::string>();
      if (details.contains("erasedAncestor")) {
        line += " ancestor=" + details["erasedAncestor"]["name"].get<std::string>();
      }
      if (e.body.contains("stageChange")) {
        line += " to=" + e.body["stageChange"]["toStage"].get<std::string>();
      }
      out.push_back(std::move(line));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ConcurrentSweepTest, ManyWorkersLeaveTheSameStateEntriesAndCountsAsOne) {
  // The same registry swept by one worker and by eight: identical report (in the plan's order),
  // end state and audit entries; the eight-worker sweep really ran on several threads.
  constexpr int kPairs = 8;
  const policy::Policy policy = testing::LoadPolicy();
  GovernanceRegistry one, many;
  BuildLineage(one, kPairs);
  BuildLineage(many, kPairs);
  const SystemTime later = std::chrono::system_clock::now() + 100 * kDay;

  auto sweep = [&](GovernanceRegistry& reg, size_t concurrency,
                   std::set<std::thread::id>& threads) {
    std::mutex mu;
    SweepOptions options;
    options.concurrency = concurrency;
    options.cancelled = [&] {
      std::lock_guard<std::mutex> lock(mu);
      threads.insert(std::this_thread::get_id());
      return false;
    };
    return SweepRetention(reg.registry(), policy, later, options);
  };
  std::set<std::thread::id> one_threads, many_threads;
  auto sequential = sweep(one, 1, one_threads);
  auto concurrent = sweep(many, 8, many_threads);
  ASSERT_TRUE(sequential.ok()) << sequential.status().message();
  ASSERT_TRUE(concurrent.ok()) << concurrent.status().message();

  EXPECT_EQ(one_threads, std::set<std::thread::id>{std::this_thread::get_id()});
  EXPECT_GE(many_threads.size(), 2u);
  EXPECT_EQ(concurrent->erased, sequential->erased);
  EXPECT_EQ(concurrent->revoked, sequential->revoked);
  EXPECT_EQ(concurrent->unchanged, sequential->unchanged);
  EXPECT_EQ(concurrent->failed, 0);
  EXPECT_EQ(sequential->failed, 0);
  // Each erasure went on without awaiting its shredding, and the sweep awaited them all.
  EXPECT_EQ(many.store().unawaited_total(), concurrent->erased);
  EXPECT_EQ(many.store().unawaited(), 0);
  EXPECT_FALSE(concurrent->stopped);
  // a, b, shared, c, c-derived, chain, x, x-personal, solo erased; x-model and m revoked.
  EXPECT_EQ(sequential->erased, 9 * kPairs);
  EXPECT_EQ(sequential->revoked, 2 * kPairs);
  EXPECT_EQ(Names(*concurrent), Names(*sequential));
  EXPECT_EQ(EndState(many), EndState(one));
  EXPECT_EQ(SweepEntries(many), SweepEntries(one));
  // The order inside a group held: the personal dataset derived from x was erased before x,
  // so x's erasure left it no notice.
  for (GovernanceRegistry* reg : {&one, &many}) {
    EXPECT_TRUE(reg->registry().Get("acme/x0-personal", "1.0.0")->lineage_notices.empty());
    registry::ArtifactRecord x_model = reg->registry().Get("acme/x0-model", "1.0.0").value();
    EXPECT_EQ(x_model.stage, Stage::kRevoked);
    EXPECT_EQ(x_model.history.back().rule_id, "retention:9");  // by retention, then noticed
    EXPECT_EQ(x_model.lineage_notices.size(), 1u);
    EXPECT_EQ(reg->registry().Get("acme/shared0", "1.0.0")->lineage_notices.size(), 2u);
  }

  // A second sweep with many workers finds nothing left to do.
  std::set<std::thread::id> again_threads;
  auto again = sweep(many, 8, again_threads);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->erased + again->revoked + again->failed, 0);
}

TEST(ConcurrentSweepTest, CancellationStopsEveryWorkerAndTheNextSweepFinishes) {
  // cancelled() is asked one call at a time, before each item; once it says so no worker
  // starts another item, and the next sweep erases the rest.
  const policy::Policy policy = testing::LoadPolicy();
  GovernanceRegistry reg;
  constexpr int kItems = 24;
  for (int i = 0; i < kItems; ++i) {
    reg.Push(Kind::kDataset, "acme/p" + std::to_string(i), "1.0.0", "personal");
  }
  const SystemTime later = std::chrono::system_clock::now() + 15 * kDay;
  std::atomic<int> calls{0};
  std::atomic<int> inside{0};
  std::atomic<bool> overlapped{false};
  SweepOptions options;
  options.concurrency = 6;
  options.cancelled = [&] {
    if (inside.fetch_add(1) != 0) overlapped = true;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    const bool stop = calls.fetch_add(1) >= 5;  // the first five items go ahead
    inside.fetch_sub(1);
    return stop;
  };
  auto report = SweepRetention(reg.registry(), policy, later, options);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_FALSE(overlapped);
  EXPECT_TRUE(report->stopped);
  EXPECT_EQ(report->erased, 5);
  EXPECT_EQ(report->items.size(), 5u);
  EXPECT_EQ(reg.Entries("ERASURE").size(), 5u);

  auto rest = SweepRetention(reg.registry(), policy, later, {});
  ASSERT_TRUE(rest.ok());
  EXPECT_FALSE(rest->stopped);
  EXPECT_EQ(rest->erased, kItems - 5);
  EXPECT_EQ(reg.Entries("ERASURE").size(), static_cast<size_t>(kItems));
}

TEST(ConcurrentSweepTest, FailingItemsAreCountedAuditedAndRetried) {
  // With several workers, each failing item is still counted, listed with its error in the
  // plan's order, audited as failed, and erased by the next sweep.
  const policy::Policy policy = testing::LoadPolicy();
  GovernanceRegistry reg;
  std::vector<registry::ArtifactRecord> records;
  for (int i = 0; i < 12; ++i) {
    records.push_back(
        reg.Push(Kind::kDataset, "acme/p" + std::to_string(i + 10), "1.0.0", "personal"));
  }
  for (int i : {1, 6, 11}) reg.store().FailArtifact(records[static_cast<size_t>(i)].id);
  const SystemTime later = std::chrono::system_clock::now() + 15 * kDay;
  SweepOptions options;
  options.concurrency = 4;
  auto report = SweepRetention(reg.registry(), policy, later, options);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->failed, 3);
  EXPECT_EQ(report->erased, 9);
  ASSERT_EQ(report->items.size(), 12u);
  for (size_t i = 0; i < records.size(); ++i) {
    const SweptItem& swept = report->items[i];
    EXPECT_EQ(swept.item.artifact.spec.name, records[i].spec.name);  // the plan's order
    const bool failing = i == 1 || i == 6 || i == 11;
    EXPECT_EQ(swept.outcome, failing ? SweepOutcome::kFailed : SweepOutcome::kErased) << i;
    if (failing) {
      EXPECT_THAT(swept.error, HasSubstr("injected failure"));
    }
    EXPECT_EQ(reg.Get(records[i]).stage == Stage::kErased, !failing) << i;
  }
  int failed_entries = 0;
  for (const registry::AuditEvent& e : reg.Entries("RETENTION")) {
    if (e.body["details"]["outcome"] == "failed") ++failed_entries;
  }
  EXPECT_EQ(failed_entries, 3);

  reg.store().HealAll();
  auto retry = SweepRetention(reg.registry(), policy, later, options);
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->failed, 0);
  EXPECT_EQ(retry->erased, 3);
  for (const registry::ArtifactRecord& r : records) EXPECT_EQ(reg.Get(r).stage, Stage::kErased);
}

TEST(RetentionSweeperTest, ZeroIntervalStartsNoThread) {
  GovernanceRegistry reg;
  auto policy = std::make_shared<const policy::Policy>(testing::LoadPolicy());
  RetentionSweeper sweeper(reg.shared(), [policy] { return policy; }, std::chrono::milliseconds(0));
  sweeper.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(sweeper.completed_sweeps(), 0);
}

}  // namespace
}  // namespace sov::gateway
