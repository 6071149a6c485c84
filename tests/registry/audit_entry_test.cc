// Shows that an audit leaf's canonical JSON has exactly the documented keys, sorted and without
// whitespace, that decisions copy effect/rule/policy into the hashed "decision", that a leaf
// prepared apart from its position is the same bytes, that decoding inverts encoding, and that
// the RFC 3339 helpers it uses (common/time.h) are exact.
#include "registry/audit_entry.h"

#include <gtest/gtest.h>

#include <string>

#include "common/time.h"

namespace sov::registry {
namespace {

using std::chrono::microseconds;
using std::chrono::nanoseconds;

SystemTime At(std::string_view text) {
  auto t = ParseRfc3339(text);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? *t : SystemTime();
}

std::string Repeat(std::string_view piece, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += piece;
  return out;
}

LeafHash Filled(uint8_t byte) {
  LeafHash h;
  h.fill(byte);
  return h;
}

TEST(Rfc3339Test, MicrosFormatting) {
  // Six fraction digits always; finer parts dropped toward the past, also before 1970.
  SystemTime t = At("2026-11-29T17:26:18.123456789Z");
  EXPECT_EQ(FormatRfc3339Micros(t), "2026-11-29T17:26:18.123456Z");
  EXPECT_EQ(FormatRfc3339(t), "2026-11-29T17:26:18Z");
  EXPECT_EQ(FormatRfc3339Micros(SystemTime()), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatRfc3339Micros(SystemTime() - nanoseconds(1)), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatRfc3339Micros(At("2024-02-29T23:59:59Z")), "2024-02-29T23:59:59.000000Z");
}

TEST(Rfc3339Test, ParsesOffsetsAndFractions) {
  // Offsets shift to UTC; fractions of 1 to 9 digits scale; lower-case t and z are accepted.
  EXPECT_EQ(At("2026-11-29T18:26:18+01:00"), At("2026-11-29T17:26:18Z"));
  EXPECT_EQ(At("2026-11-29T12:56:18-04:30"), At("2026-11-29T17:26:18Z"));
  EXPECT_EQ(At("2026-11-29t17:26:18.5z") - At("2026-11-29T17:26:18Z"), microseconds(500000));
  EXPECT_EQ(At("1970-01-01T00:00:00.000000001Z").time_since_epoch(), nanoseconds(1));
  SystemTime t = At("2031-07-04T01:02:03.654321Z");
  EXPECT_EQ(At(FormatRfc3339Micros(t)), t);
}

TEST(Rfc3339Test, RefusesMalformed) {
  // Impossible dates, leap seconds, missing zones and junk are INVALID_ARGUMENT.
  for (const char* bad : {"", "2026-11-29", "2026-11-29T17:26:18", "2026-02-29T00:00:00Z",
                          "2026-13-01T00:00:00Z", "2026-11-31T00:00:00Z", "2026-11-29T24:00:00Z",
                          "2026-11-29T23:59:60Z", "2026-11-29T17:26:18.Z",
                          "2026-11-29T17:26:18.1234567890Z", "2026-11-29T17:26:18Zjunk",
                          "2026-11-29T17:26:18+0100", "2026-11-29 17:26:18Z"}) {
    auto t = ParseRfc3339(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(AuditEntryTest, MinimalEntryHasOnlyRequiredKeys) {
  // An event with only a type gives the four required keys, sorted, without whitespace.
  AuditEvent e;
  e.type = "POLICY_LOAD";
  std::string leaf = EncodeLeafData(e, 0, At("2026-11-29T17:26:18.123456Z"), LeafHash{});
  EXPECT_EQ(leaf,
            "{\"appendTime\":\"2026-11-29T17:26:18.123456Z\",\"index\":0,"
            "\"previousLeafHash\":\"" + std::string(64, '0') + "\",\"type\":\"POLICY_LOAD\"}");
}

TEST(AuditEntryTest, DecisionEntryIsCanonical) {
  // Every field lands under its key; effect, ruleId and policyDigest are merged into the body's
  // decision, and the body's other members stay at top level.
  AuditEvent e;
  e.type = "DECISION";
  e.request_id = "req-1";
  e.principal = {{"tenantId", "acme-ml"}, {"authMethod", "mtls"}, {"credential", "CN=acme"}};
  e.action = "artifact.fetch";
  e.artifact_name = "acme-ml/fraud/model";
  e.artifact_version = "1.0.0";
  e.effect = "deny";
  e.rule_id = "no-us";
  e.policy_digest = "sha256:abcd";
  e.body = {{"decision", {{"reason", "residency"}, {"defaultDeny", false}}},
            {"input", {{"action", "artifact.fetch"}}}};
  std::string leaf = EncodeLeafData(e, 41, At("2026-01-02T03:04:05Z"), Filled(0xab));
  EXPECT_EQ(leaf,
            "{\"action\":\"artifact.fetch\",\"appendTime\":\"2026-01-02T03:04:05.000000Z\","
            "\"artifact\":{\"name\":\"acme-ml/fraud/model\",\"version\":\"1.0.0\"},"
            "\"decision\":{\"defaultDeny\":false,\"effect\":\"deny\",\"policyDigest\":"
            "\"sha256:abcd\",\"reason\":\"residency\",\"ruleId\":\"no-us\"},\"index\":41,"
            "\"input\":{\"action\":\"artifact.fetch\"},\"previousLeafHash\":\"" +
                Repeat("ab", 32) +
                "\",\"principal\":{\"authMethod\":\"mtls\",\"credential\":\"CN=acme\","
                "\"tenantId\":\"acme-ml\"},\"requestId\":\"req-1\",\"type\":\"DECISION\"}");
}

TEST(AuditEntryTest, DecisionCreatedWhenAbsent) {
  // An effect without a body decision makes one; the struct wins over a body value.
  AuditEvent e;
  e.type = "DECISION";
  e.effect = "allow";
  e.rule_id = "r1";
  e.body = {{"decision", {{"effect", "deny"}}}};
  std::string leaf = EncodeLeafData(e, 1, SystemTime(), LeafHash{});
  EXPECT_NE(leaf.find("\"decision\":{\"effect\":\"allow\",\"policyDigest\":\"\",\"ruleId\":\"r1\"}"),
            std::string::npos)
      << leaf;
  e.body = nlohmann::json::object();
  leaf = EncodeLeafData(e, 1, SystemTime(), LeafHash{});
  EXPECT_NE(leaf.find("\"decision\":{\"effect\":\"allow\""), std::string::npos) << leaf;
}

TEST(AuditEntryTest, InvalidUtf8IsReplacedNotThrown) {
  // A malformed request must still be auditable: bad bytes become U+FFFD.
  AuditEvent e;
  e.type = "DECISION";
  e.artifact_name = "bad\xff";
  std::string leaf = EncodeLeafData(e, 0, SystemTime(), LeafHash{});
  EXPECT_NE(leaf.find("bad\xef\xbf\xbd"), std::string::npos);
}

TEST(AuditEntryTest, PreparedLeafIsTheWholeObjectDumped) {
  // The leaf assembled from PrepareLeafData's members is byte for byte nlohmann's dump() of the
  // whole entry, for members sorting into every gap around the position keys.
  AuditEvent e;
  e.type = "DECISION";
  e.request_id = "r-1";
  e.principal = {{"tenantId", "acme-ml"}, {"credential", "CN=\"q\" \xff"}};
  e.system_actor = "retention";
  e.action = "artifact.get";
  e.artifact_name = "acme-ml/a";
  e.artifact_digest = "sha256:00";
  e.effect = "allow";
  e.rule_id = "r";
  e.policy_digest = "sha256:11";
  e.body = {{"decision", {{"reason", "ok"}}},
            {"details", {{"n", -1}}},
            {"input", {{"attributes", {{"appendTime", "x"}, {"index", 1}}}}},
            {"record", "env"},
            {"stageChange", {{"toStage", "released"}}}};
  const SystemTime t = At("2026-11-29T17:26:18.5Z");
  nlohmann::json whole = e.body;
  whole["decision"].update({{"effect", "allow"}, {"ruleId", "r"}, {"policyDigest", "sha256:11"}});
  whole.update({{"index", 12345},
                {"appendTime", "2026-11-29T17:26:18.500000Z"},
                {"previousLeafHash", Repeat("cd", 32)},
                {"type", "DECISION"},
                {"requestId", "r-1"},
                {"principal", e.principal},
                {"systemActor", "retention"},
                {"action", "artifact.get"},
                {"artifact", {{"name", "acme-ml/a"}, {"digest", "sha256:00"}}}});
  const std::string want =
      whole.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  PreparedLeaf leaf = PrepareLeafData(e);
  for (const std::string& members : leaf.members) EXPECT_FALSE(members.empty());
  EXPECT_EQ(FinishLeafData(leaf, 12345, t, Filled(0xcd)), want);
  EXPECT_EQ(EncodeLeafData(e, 12345, t, Filled(0xcd)), want);
}

TEST(AuditEntryTest, DecodeInvertsEncode) {
  // Decoding gives back the event, index, time and previous hash.
  AuditEvent e;
  e.type = "STAGE_CHANGE";
  e.request_id = "r-9";
  e.principal = {{"tenantId", "acme-ml"}};
  e.system_actor = "";
  e.action = "artifact.release";
  e.artifact_name = "acme-ml/m";
  e.artifact_version = "2.0.0-rc.1";
  e.artifact_digest = "sha256:" + std::string(64, 'f');
  e.effect = "allow";
  e.rule_id = "release-ok";
  e.policy_digest = "sha256:00";
  e.body = {{"decision", {{"effect", "allow"}, {"policyDigest", "sha256:00"},
                          {"ruleId", "release-ok"}, {"matchedRules", {"a", "b"}}}},
            {"stageChange", {{"from", "validating"}, {"to", "released"}}},
            {"details", {{"count", -3}, {"big", int64_t{1} << 60}}}};
  SystemTime t = At("2026-11-29T17:26:18.123456Z");
  std::string leaf = EncodeLeafData(e, 7, t, Filled(0x11));

  int64_t index = -1;
  SystemTime time;
  LeafHash previous{};
  auto decoded = DecodeLeafData(leaf, &index, &time, &previous);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(index, 7);
  EXPECT_EQ(time, t);
  EXPECT_EQ(previous, Filled(0x11));
  EXPECT_EQ(decoded->type, e.type);
  EXPECT_EQ(decoded->request_id, e.request_id);
  EXPECT_EQ(decoded->principal, e.principal);
  EXPECT_EQ(decoded->system_actor, e.system_actor);
  EXPECT_EQ(decoded->action, e.action);
  EXPECT_EQ(decoded->artifact_name, e.artifact_name);
  EXPECT_EQ(decoded->artifact_version, e.artifact_version);
  EXPECT_EQ(decoded->artifact_digest, e.artifact_digest);
  EXPECT_EQ(decoded->effect, e.effect);
  EXPECT_EQ(decoded->rule_id, e.rule_id);
  EXPECT_EQ(decoded->policy_digest, e.policy_digest);
  EXPECT_EQ(decoded->body, e.body);
  // Encoding the decoded event again gives the same bytes.
  EXPECT_EQ(EncodeLeafData(*decoded, index, time, previous), leaf);
  // Null outputs are allowed.
  EXPECT_TRUE(DecodeLeafData(leaf, nullptr, nullptr, nullptr).ok());
}

TEST(AuditEntryTest, DecodeRefusesMalformed) {
  // Not JSON, missing or mistyped required keys are INVALID_ARGUMENT.
  const std::string zeros(64, '0');
  for (const std::string& bad : {
           std::string("not json"),
           std::string("[]"),
           std::string("{\"appendTime\":\"2026-01-01T00:00:00.000000Z\",\"previousLeafHash\":\"" +
                       zeros + "\",\"type\":\"X\"}"),
           std::string("{\"index\":-1,\"appendTime\":\"2026-01-01T00:00:00.000000Z\","
                       "\"previousLeafHash\":\"" + zeros + "\",\"type\":\"X\"}"),
           std::string("{\"index\":1,\"appendTime\":\"yesterday\",\"previousLeafHash\":\"" +
                       zeros + "\",\"type\":\"X\"}"),
           std::string("{\"index\":1,\"appendTime\":\"2026-01-01T00:00:00.000000Z\","
                       "\"previousLeafHash\":\"00\",\"type\":\"X\"}"),
           std::string("{\"index\":1,\"appendTime\":\"2026-01-01T00:00:00.000000Z\","
                       "\"previousLeafHash\":\"" + zeros + "\"}"),
           std::string("{\"index\":1,\"appendTime\":\"2026-01-01T00:00:00.000000Z\","
                       "\"previousLeafHash\":\"" + zeros + "\",\"type\":\"X\",\"artifact\":1}"),
       }) {
    auto decoded = DecodeLeafData(bad, nullptr, nullptr, nullptr);
    ASSERT_FALSE(decoded.ok()) << bad;
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

#ifndef NDEBUG
TEST(AuditEntryDeathTest, ReservedBodyKeyIsAProgrammingError) {
  // A body key that collides with a field the encoding writes aborts debug builds.
  AuditEvent e;
  e.type = "X";
  e.body = {{"index", 5}};
  EXPECT_DEATH(EncodeLeafData(e, 0, SystemTime(), LeafHash{}), "");
}
#endif

}  // namespace
}  // namespace sov::registry
