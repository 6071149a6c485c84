// Tests of the audit conversions: stored leaves and checkpoints to sov.v1 messages, API filters
// to the store's, Query page tokens, and who sees which entries.
#include "gateway/audit_convert.h"

#include <chrono>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/hex.h"
#include "common/time.h"
#include "crypto/dsse.h"
#include "crypto/ed25519.h"
#include "crypto/merkle.h"
#include "gateway/audit_service.h"
#include "registry/audit_entry.h"
#include "registry/audit_log.h"

namespace sov::gateway {
namespace {

using Json = nlohmann::json;

SystemTime At(std::string_view rfc3339) {
  Result<SystemTime> time = ParseRfc3339(rfc3339);
  EXPECT_TRUE(time.ok()) << rfc3339;
  return time.ok() ? *time : SystemTime{};
}

registry::LeafHash FilledHash(uint8_t byte) {
  registry::LeafHash hash{};
  hash.fill(byte);
  return hash;
}

std::string Bytes(const registry::LeafHash& hash) {
  return std::string(reinterpret_cast<const char*>(hash.data()), hash.size());
}

registry::AuditRecord RecordOf(int64_t index, std::string leaf_data) {
  registry::AuditRecord record;
  record.index = index;
  record.leaf_data = std::move(leaf_data);
  record.leaf_hash = crypto::merkle::LeafHash(record.leaf_data);
  return record;
}

// A denied fetch, as the guard records it: the event goes through EncodeLeafData.
registry::AuditEvent DeniedFetch() {
  registry::AuditEvent e;
  e.type = "DECISION";
  e.request_id = "0123456789abcdef0123456789abcdef";
  e.principal = {{"tenantId", "acme-ml"}, {"authMethod", "bearer_token"}, {"credential", "ci"}};
  e.action = "artifact.fetch";
  e.artifact_name = "acme-ml/fraud/model";
  e.artifact_version = "1.2.0";
  e.artifact_digest = "sha256:" + std::string(64, 'a');
  e.effect = "deny";
  e.rule_id = "no-transfer-us";
  e.policy_digest = "sha256:" + std::string(64, 'b');
  e.body = {
      {"decision",
       {{"ruleLocation", "/etc/sov/policy.yaml:42:7"},
        {"reason", "personal data stays in the EU"},
        {"matchedRules",
         Json::array({Json{{"ruleId", "no-transfer-us"},
                           {"effect", "deny"},
                           {"location", "/etc/sov/policy.yaml:42:7"},
                           {"reason", "personal data stays in the EU"},
                           {"section", "residency"}},
                      "fetch-own-purpose"})}}},
      {"input",
       {{"action", "artifact.fetch"},
        {"principal", {{"tenant_id", "acme-ml"}, {"roles", Json::array({"ml-engineer"})}}},
        {"artifact", {{"name", "acme-ml/fraud/model"}, {"size_bytes", 1024}}},
        {"request", {{"auth_method", "bearer_token"}}},
        {"now", "2026-03-01T10:00:00.250000Z"}}},
      {"details", {{"note", "first fetch"}, {"attempt", 2}}},
      {"futureKey", {{"ignored", true}}},
  };
  return e;
}

TEST(AuditConvertTest, DecisionLeafConvertsEveryField) {
  // Shows that a leaf as EncodeLeafData writes it fills every field of the AuditEntry.
  const SystemTime appended = At("2026-03-01T10:00:00.500000Z");
  const registry::LeafHash previous = FilledHash(0xab);
  const std::string leaf = registry::EncodeLeafData(DeniedFetch(), 7, appended, previous);
  const registry::AuditRecord record = RecordOf(7, leaf);

  const sov::v1::AuditEntry entry = ToAuditEntry(record);
  EXPECT_EQ(entry.index(), 7);
  EXPECT_EQ(entry.append_time().seconds(), ToTimestamp(appended).seconds());
  EXPECT_EQ(entry.append_time().nanos(), 500000000);
  EXPECT_EQ(entry.type(), sov::v1::AUDIT_EVENT_TYPE_DECISION);
  EXPECT_EQ(entry.request_id(), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(entry.principal().tenant_id(), "acme-ml");
  EXPECT_EQ(entry.principal().auth_method(), sov::v1::AUTH_METHOD_BEARER_TOKEN);
  EXPECT_EQ(entry.principal().credential(), "ci");
  EXPECT_TRUE(entry.system_actor().empty());
  EXPECT_EQ(entry.action(), "artifact.fetch");
  EXPECT_EQ(entry.artifact().name(), "acme-ml/fraud/model");
  EXPECT_EQ(entry.artifact().version(), "1.2.0");
  EXPECT_EQ(entry.artifact().digest(), "sha256:" + std::string(64, 'a'));

  const sov::v1::Decision& decision = entry.decision();
  EXPECT_EQ(decision.effect(), sov::v1::EFFECT_DENY);
  EXPECT_EQ(decision.rule_id(), "no-transfer-us");
  EXPECT_EQ(decision.location().file(), "/etc/sov/policy.yaml");
  EXPECT_EQ(decision.location().line(), 42);
  EXPECT_EQ(decision.location().column(), 7);
  EXPECT_EQ(decision.reason(), "personal data stays in the EU");
  EXPECT_EQ(decision.policy_digest(), "sha256:" + std::string(64, 'b'));
  EXPECT_EQ(decision.action(), "artifact.fetch");
  EXPECT_FALSE(decision.default_deny());
  ASSERT_EQ(decision.matched_rules_size(), 2);
  EXPECT_EQ(decision.matched_rules(0).rule_id(), "no-transfer-us");
  EXPECT_EQ(decision.matched_rules(0).effect(), sov::v1::EFFECT_DENY);
  EXPECT_EQ(decision.matched_rules(0).location().line(), 42);
  EXPECT_EQ(decision.matched_rules(0).origin(), sov::v1::RULE_ORIGIN_RESIDENCY);
  EXPECT_EQ(decision.matched_rules(0).reason(), "personal data stays in the EU");
  EXPECT_EQ(decision.matched_rules(1).rule_id(), "fetch-own-purpose");

  const sov::v1::DecisionInput& input = entry.input();
  EXPECT_EQ(input.action(), "artifact.fetch");
  EXPECT_EQ(input.principal().fields().at("tenant_id").string_value(), "acme-ml");
  EXPECT_EQ(input.principal().fields().at("roles").list_value().values(0).string_value(),
            "ml-engineer");
  EXPECT_EQ(input.artifact().fields().at("size_bytes").number_value(), 1024);
  EXPECT_EQ(input.request().fields().at("auth_method").string_value(), "bearer_token");
  EXPECT_EQ(input.now().nanos(), 250000000);

  EXPECT_EQ(entry.details().fields().at("note").string_value(), "first fetch");
  EXPECT_EQ(entry.details().fields().at("attempt").number_value(), 2);
  EXPECT_FALSE(entry.has_stage_change());
  EXPECT_FALSE(entry.has_record());
  EXPECT_EQ(entry.previous_leaf_hash(), Bytes(previous));
  EXPECT_EQ(entry.leaf_data(), leaf);
  EXPECT_EQ(entry.leaf_hash(), Bytes(record.leaf_hash));
}

TEST(AuditConvertTest, ErasureLeafCarriesRecordAndStageChange) {
  // Shows that a system event's stage change and signed record (embedded DSSE JSON) convert.
  const crypto::Ed25519PrivateKey key = crypto::Ed25519PrivateKey::Generate();
  const crypto::DsseEnvelope signed_record = crypto::SignDsse(
      "application/vnd.sov.erasure.v1+json", R"({"name":"acme-ml/raw","why":"art17"})", key);
  Json leaf = {
      {"index", 3},
      {"appendTime", "2026-03-02T08:00:00.000001Z"},
      {"type", "ERASURE"},
      {"previousLeafHash", std::string(64, '0')},
      {"systemActor", "retention"},
      {"action", "artifact.erase"},
      {"artifact", {{"name", "acme-ml/raw"}, {"version", "1.0.0"}}},
      {"stageChange",
       {{"from", "released"},
        {"to", "erased"},
        {"time", "2026-03-02T08:00:00Z"},
        {"systemActor", "retention"},
        {"reason", "retention deadline"},
        {"ruleId", "retention.personal"},
        {"ruleLocation", "policy.yaml:80:3"},
        {"auditIndex", 3}}},
      {"record", Json::parse(signed_record.ToJson())},
  };
  const sov::v1::AuditEntry entry = ToAuditEntry(RecordOf(3, leaf.dump()));

  EXPECT_EQ(entry.type(), sov::v1::AUDIT_EVENT_TYPE_ERASURE);
  EXPECT_FALSE(entry.has_principal());
  EXPECT_EQ(entry.system_actor(), "retention");
  EXPECT_EQ(entry.append_time().nanos(), 1000);
  EXPECT_TRUE(entry.artifact().digest().empty());
  EXPECT_FALSE(entry.has_decision());
  const sov::v1::StageChange& change = entry.stage_change();
  EXPECT_EQ(change.from_stage(), sov::v1::STAGE_RELEASED);
  EXPECT_EQ(change.to_stage(), sov::v1::STAGE_ERASED);
  EXPECT_EQ(change.change_time().seconds(), ToTimestamp(At("2026-03-02T08:00:00Z")).seconds());
  EXPECT_EQ(change.system_actor(), "retention");
  EXPECT_EQ(change.reason(), "retention deadline");
  EXPECT_EQ(change.rule_id(), "retention.personal");
  EXPECT_EQ(change.rule_location().file(), "policy.yaml");
  EXPECT_EQ(change.rule_location().line(), 80);
  EXPECT_EQ(change.rule_location().column(), 3);
  EXPECT_EQ(change.audit_index(), 3);
  EXPECT_EQ(entry.record().payload_type(), "application/vnd.sov.erasure.v1+json");
  EXPECT_EQ(entry.record().payload(), R"({"name":"acme-ml/raw","why":"art17"})");
  ASSERT_EQ(entry.record().signatures_size(), 1);
  EXPECT_EQ(entry.record().signatures(0).keyid(), key.public_key().KeyId());
  EXPECT_EQ(entry.record().signatures(0).sig(), signed_record.signatures[0].sig);
  EXPECT_EQ(entry.previous_leaf_hash(), std::string(32, '\0'));
}

TEST(AuditConvertTest, MissingAndMalformedFieldsStayUnset) {
  // Shows that absent or ill-shaped keys leave their fields unset and never fail the entry.
  Json leaf = {{"index", 1},           {"type", "NOT_A_TYPE"},     {"principal", "acme-ml"},
               {"decision", 17},       {"record", "not an envelope"}, {"details", Json::array()},
               {"previousLeafHash", "abc"}, {"appendTime", "yesterday"}};
  const sov::v1::AuditEntry entry = ToAuditEntry(RecordOf(1, leaf.dump()));
  EXPECT_EQ(entry.index(), 1);
  EXPECT_EQ(entry.type(), sov::v1::AUDIT_EVENT_TYPE_UNSPECIFIED);
  EXPECT_FALSE(entry.has_append_time());
  EXPECT_FALSE(entry.has_principal());
  EXPECT_FALSE(entry.has_decision());
  EXPECT_FALSE(entry.has_record());
  EXPECT_FALSE(entry.has_details());
  EXPECT_TRUE(entry.previous_leaf_hash().empty());
  EXPECT_FALSE(entry.leaf_data().empty());

  const sov::v1::AuditEntry garbage = ToAuditEntry(RecordOf(9, "{not json"));
  EXPECT_EQ(garbage.index(), 9);
  EXPECT_EQ(garbage.leaf_data(), "{not json");
  EXPECT_EQ(garbage.leaf_hash().size(), 32u);
  EXPECT_FALSE(garbage.has_append_time());
}

TEST(AuditConvertTest, DefaultDenyIsDerivedWhenNoRuleDecided) {
  // Shows that the guard's "default-deny" placeholder reads as a default deny without a rule.
  registry::AuditEvent e;
  e.type = "DECISION";
  e.principal = {{"tenantId", "acme-ml"}, {"authMethod", "mtls"}, {"credential", "CN=acme-ml"}};
  e.action = "audit.read";
  e.effect = "deny";
  e.rule_id = "default-deny";
  e.policy_digest = "sha256:00";
  e.body = {{"decision", {{"reason", "no rule allows this request (deny by default)"},
                          {"matchedRules", Json::array()}}},
            {"input", {{"action", "audit.read"}, {"attributes", {{"auth_method", "mtls"}}}}}};
  const std::string leaf =
      registry::EncodeLeafData(e, 0, At("2026-03-01T10:00:00Z"), registry::LeafHash{});
  const sov::v1::AuditEntry entry = ToAuditEntry(RecordOf(0, leaf));
  EXPECT_EQ(entry.principal().auth_method(), sov::v1::AUTH_METHOD_MTLS);
  EXPECT_EQ(entry.decision().effect(), sov::v1::EFFECT_DENY);
  EXPECT_TRUE(entry.decision().rule_id().empty());
  EXPECT_TRUE(entry.decision().default_deny());
  EXPECT_FALSE(entry.decision().has_location());
  EXPECT_EQ(entry.decision().matched_rules_size(), 0);
  EXPECT_EQ(entry.decision().action(), "audit.read");
  EXPECT_EQ(entry.input().request().fields().at("auth_method").string_value(), "mtls");

  // A rule that the policy itself names "default-deny" keeps its id.
  Json named = Json::parse(leaf);
  named["decision"]["ruleLocation"] = "policy.yaml:3:1";
  const sov::v1::AuditEntry own_rule = ToAuditEntry(RecordOf(0, named.dump()));
  EXPECT_EQ(own_rule.decision().rule_id(), "default-deny");
  EXPECT_FALSE(own_rule.decision().default_deny());
}

TEST(AuditConvertTest, CheckpointTakesOriginFromSignedPayload) {
  // Shows that a stored checkpoint converts with its envelope, and its origin is the signed one.
  const crypto::Ed25519PrivateKey key = crypto::Ed25519PrivateKey::Generate();
  registry::CheckpointRecord record;
  record.tree_size = 12;
  record.root = FilledHash(0x5a);
  record.time = At("2026-03-01T10:00:05Z");
  const std::string payload =
      registry::CheckpointPayload("sovereign.example.eu/audit", 12, record.root, record.time);
  record.envelope = crypto::SignDsse(registry::kCheckpointPayloadType, payload, key).ToJson();

  const sov::v1::Checkpoint checkpoint = ToCheckpoint(record, "configured/origin");
  EXPECT_EQ(checkpoint.origin(), "sovereign.example.eu/audit");
  EXPECT_EQ(checkpoint.tree_size(), 12);
  EXPECT_EQ(checkpoint.root_hash(), Bytes(record.root));
  EXPECT_EQ(checkpoint.sign_time().seconds(), ToTimestamp(record.time).seconds());
  EXPECT_EQ(checkpoint.envelope().payload_type(), registry::kCheckpointPayloadType);
  EXPECT_EQ(checkpoint.envelope().payload(), payload);
  EXPECT_EQ(checkpoint.envelope().signatures_size(), 1);

  record.envelope = "garbage";
  const sov::v1::Checkpoint unreadable = ToCheckpoint(record, "configured/origin");
  EXPECT_EQ(unreadable.origin(), "configured/origin");
  EXPECT_FALSE(unreadable.has_envelope());
}

TEST(AuditConvertTest, PageTokenRoundTrips) {
  // Shows that a token decodes to the index it was made from, in its own direction only.
  for (int64_t index : {int64_t{0}, int64_t{1}, int64_t{999}, int64_t{1} << 40,
                        std::numeric_limits<int64_t>::max()}) {
    for (bool descending : {false, true}) {
      const std::string token = EncodeAuditPageToken(index, descending);
      EXPECT_EQ(token.find_first_not_of(
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                std::string::npos)
          << token;
      Result<int64_t> decoded = DecodeAuditPageToken(token, descending);
      ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
      EXPECT_EQ(*decoded, index);
      Result<int64_t> other = DecodeAuditPageToken(token, !descending);
      EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

std::string Base64UrlOf(std::string_view text) { return crypto::Base64UrlEncode(text); }

TEST(AuditConvertTest, GarbagePageTokensAreRefused) {
  // Shows that anything EncodeAuditPageToken did not write is INVALID_ARGUMENT.
  const std::string valid = EncodeAuditPageToken(5, false);
  ASSERT_EQ(valid, Base64UrlOf("v1:a:5"));
  for (const std::string& token :
       {std::string("!!!"), std::string("abc"), valid + "=", valid + "A", std::string("A"),
        std::string(100, 'A'), Base64UrlOf("v1:a:"), Base64UrlOf("v1:a:-1"),
        Base64UrlOf("v1:a:05"), Base64UrlOf("v1:a:5x"), Base64UrlOf("v1:a:+5"),
        Base64UrlOf("v2:a:5"), Base64UrlOf("v1:x:5"), Base64UrlOf("v1:a:99999999999999999999"),
        Base64UrlOf("5"), crypto::Base64Encode("v1:a:5?")}) {
    Result<int64_t> decoded = DecodeAuditPageToken(token, false);
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument) << token;
  }
}

TEST(AuditConvertTest, EventTypeNamesDropThePrefix) {
  // Shows the store's names of event types, both ways.
  EXPECT_EQ(AuditEventTypeName(sov::v1::AUDIT_EVENT_TYPE_DECISION), "DECISION");
  EXPECT_EQ(AuditEventTypeName(sov::v1::AUDIT_EVENT_TYPE_LINEAGE_PROPAGATION),
            "LINEAGE_PROPAGATION");
  EXPECT_FALSE(AuditEventTypeName(sov::v1::AUDIT_EVENT_TYPE_UNSPECIFIED).has_value());
  EXPECT_FALSE(AuditEventTypeName(static_cast<sov::v1::AuditEventType>(99)).has_value());
  EXPECT_EQ(ParseAuditEventType("STAGE_CHANGE"), sov::v1::AUDIT_EVENT_TYPE_STAGE_CHANGE);
  EXPECT_EQ(ParseAuditEventType("stage_change"), sov::v1::AUDIT_EVENT_TYPE_UNSPECIFIED);
  EXPECT_EQ(ParseAuditEventType("AUDIT_EVENT_TYPE_DECISION"),
            sov::v1::AUDIT_EVENT_TYPE_UNSPECIFIED);
}

TEST(AuditConvertTest, FilterMapsToStoreFilter) {
  // Shows how every AuditFilter field reaches the store's filter.
  sov::v1::AuditFilter filter;
  filter.set_start_index(10);
  filter.set_end_index(20);
  *filter.mutable_window()->mutable_start_time() = ToTimestamp(At("2026-03-01T00:00:00Z"));
  *filter.mutable_window()->mutable_end_time() = ToTimestamp(At("2026-03-02T00:00:00Z"));
  filter.add_types(sov::v1::AUDIT_EVENT_TYPE_DECISION);
  filter.add_types(sov::v1::AUDIT_EVENT_TYPE_KEY_REVOCATION);
  filter.set_tenant_id("acme-ml");
  filter.add_actions("artifact.fetch");
  filter.set_effect(sov::v1::EFFECT_DENY);
  filter.mutable_artifact()->set_name("acme-ml/fraud/model");
  filter.mutable_artifact()->set_version("1.2.0");
  filter.set_rule_id("no-transfer-us");
  filter.set_request_id("r1");
  filter.set_policy_digest("sha256:cd");

  Result<registry::AuditFilter> out = ToRegistryFilter(filter);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->start_index, 10);
  EXPECT_EQ(out->end_index, 20);
  ASSERT_TRUE(out->since.has_value());
  ASSERT_TRUE(out->until.has_value());
  EXPECT_EQ(*out->since, At("2026-03-01T00:00:00Z"));
  EXPECT_EQ(*out->until, At("2026-03-02T00:00:00Z"));
  EXPECT_EQ(out->types, (std::vector<std::string>{"DECISION", "KEY_REVOCATION"}));
  EXPECT_EQ(out->tenant_id, "acme-ml");
  EXPECT_EQ(out->actions, std::vector<std::string>{"artifact.fetch"});
  EXPECT_EQ(out->effect, "deny");
  EXPECT_EQ(out->artifact_name, "acme-ml/fraud/model");
  EXPECT_EQ(out->artifact_version, "1.2.0");
  EXPECT_EQ(out->rule_id, "no-transfer-us");
  EXPECT_EQ(out->request_id, "r1");
  EXPECT_EQ(out->policy_digest, "sha256:cd");

  filter.set_effect(sov::v1::EFFECT_ALLOW);
  EXPECT_EQ(ToRegistryFilter(filter)->effect, "allow");
  filter.set_effect(sov::v1::EFFECT_UNSPECIFIED);
  EXPECT_EQ(ToRegistryFilter(filter)->effect, "");

  // UNSPECIFIED among the types means any type.
  filter.add_types(sov::v1::AUDIT_EVENT_TYPE_UNSPECIFIED);
  EXPECT_TRUE(ToRegistryFilter(filter)->types.empty());

  Result<registry::AuditFilter> empty = ToRegistryFilter(sov::v1::AuditFilter());
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->start_index, 0);
  EXPECT_EQ(empty->end_index, 0);
  EXPECT_FALSE(empty->since.has_value());
  EXPECT_TRUE(empty->types.empty());
  EXPECT_TRUE(empty->effect.empty());
}

TEST(AuditConvertTest, MalformedFiltersAreInvalid) {
  // Shows the filters that are refused with INVALID_ARGUMENT.
  auto code_of = [](const sov::v1::AuditFilter& filter) {
    return ToRegistryFilter(filter).status().code();
  };
  sov::v1::AuditFilter filter;
  filter.set_start_index(-1);
  EXPECT_EQ(code_of(filter), StatusCode::kInvalidArgument);
  filter = {};
  filter.set_end_index(-1);
  EXPECT_EQ(code_of(filter), StatusCode::kInvalidArgument);
  filter = {};
  filter.set_start_index(5);
  filter.set_end_index(4);
  EXPECT_EQ(code_of(filter), StatusCode::kInvalidArgument);
  filter = {};
  filter.add_types(static_cast<sov::v1::AuditEventType>(99));
  EXPECT_EQ(code_of(filter), StatusCode::kInvalidArgument);
  filter = {};
  filter.set_effect(static_cast<sov::v1::Effect>(7));
  EXPECT_EQ(code_of(filter), StatusCode::kInvalidArgument);
  filter = {};
  filter.mutable_artifact()->set_version("1.0.0");
  EXPECT_EQ(code_of(filter), StatusCode::kInvalidArgument);
  filter = {};
  filter.mutable_window()->mutable_start_time()->set_nanos(-1);
  EXPECT_EQ(code_of(filter), StatusCode::kInvalidArgument);
  filter = {};
  filter.mutable_window()->mutable_end_time()->set_seconds(int64_t{1} << 50);
  EXPECT_EQ(code_of(filter), StatusCode::kInvalidArgument);
}

Principal CallerWithRoles(std::string tenant, std::vector<std::string> roles) {
  Principal principal;
  principal.tenant.id = std::move(tenant);
  principal.tenant.roles = std::move(roles);
  return principal;
}

TEST(AuditConvertTest, CallersWithoutAuditRoleSeeOnlyTheirOwnCalls) {
  // Shows the visibility rule of Query and Tail.
  const Principal officer = CallerWithRoles("dpo", {"compliance-officer"});
  const Principal auditor = CallerWithRoles("ext", {"viewer", "auditor"});
  const Principal team = CallerWithRoles("acme-ml", {"ml-engineer"});

  registry::AuditFilter filter;
  EXPECT_TRUE(internal::RestrictAuditFilterToCaller(officer, filter));
  EXPECT_TRUE(filter.tenant_id.empty());
  EXPECT_TRUE(internal::RestrictAuditFilterToCaller(auditor, filter));
  EXPECT_TRUE(filter.tenant_id.empty());
  EXPECT_TRUE(internal::RestrictAuditFilterToCaller(team, filter));
  EXPECT_EQ(filter.tenant_id, "acme-ml");
  filter.tenant_id = "globex";
  EXPECT_FALSE(internal::RestrictAuditFilterToCaller(team, filter));

  sov::v1::AuditEntry own;
  own.mutable_principal()->set_tenant_id("acme-ml");
  sov::v1::AuditEntry other;
  other.mutable_principal()->set_tenant_id("globex");
  sov::v1::AuditEntry system;
  system.set_system_actor("retention");
  EXPECT_TRUE(internal::AuditEntryVisibleTo(team, own));
  EXPECT_FALSE(internal::AuditEntryVisibleTo(team, other));
  EXPECT_FALSE(internal::AuditEntryVisibleTo(team, system));
  EXPECT_TRUE(internal::AuditEntryVisibleTo(officer, other));
  EXPECT_TRUE(internal::AuditEntryVisibleTo(auditor, system));
}

TEST(AuditConvertTest, TimestampsRoundTrip) {
  // Shows that times survive the trip through google.protobuf.Timestamp, before 1970 too.
  for (std::string_view text : {"2026-03-01T10:00:00.123456789Z", "1969-12-31T23:59:59.5Z"}) {
    const SystemTime time = At(text);
    Result<SystemTime> back = FromTimestamp(ToTimestamp(time));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, time) << text;
  }
  EXPECT_EQ(ToTimestamp(At("1969-12-31T23:59:59.5Z")).seconds(), -1);
  EXPECT_EQ(ToTimestamp(At("1969-12-31T23:59:59.5Z")).nanos(), 500000000);
}

}  // namespace
}  // namespace sov::gateway
