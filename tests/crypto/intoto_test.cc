// Shows in-toto Statement v1 JSON (canonical, strictly parsed) signed and verified through DSSE.
#include "crypto/intoto.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace sov::crypto {
namespace {

using ::testing::HasSubstr;

constexpr char kPredicateType[] = "https://sovereign.dev/manifest/v1";
// SHA-256 of "hello world".
constexpr char kHelloWorldSha256[] =
    "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";

Statement SampleStatement() {
  Statement statement;
  statement.subject.push_back(SubjectFor("models/acme/1.0.0", Sha256Of("hello world")));
  statement.predicate_type = kPredicateType;
  statement.predicate = {{"stage", "released"}, {"size", 11}, {"lineage", {"ds@1", "ds@2"}}};
  return statement;
}

// SubjectFor names the subject with its lower-case sha256 hex.
TEST(InTotoTest, SubjectForUsesSha256Hex) {
  ResourceDescriptor subject = SubjectFor("a.bin", Sha256Of("hello world"));
  EXPECT_EQ(subject.name, "a.bin");
  ASSERT_EQ(subject.digest.size(), 1u);
  EXPECT_EQ(subject.digest.at("sha256"), kHelloWorldSha256);
}

// ToJson writes Statement v1 exactly: sorted keys, no whitespace, "_type" set.
TEST(InTotoTest, ToJsonIsCanonicalStatementV1) {
  EXPECT_EQ(SampleStatement().ToJson(),
            std::string(R"({"_type":"https://in-toto.io/Statement/v1",)") +
                R"("predicate":{"lineage":["ds@1","ds@2"],"size":11,"stage":"released"},)" +
                R"("predicateType":"https://sovereign.dev/manifest/v1",)" +
                R"("subject":[{"digest":{"sha256":")" + kHelloWorldSha256 +
                R"("},"name":"models/acme/1.0.0"}]})");
}

// The text depends only on the value: predicate keys inserted in any order give the same JSON.
TEST(InTotoTest, ToJsonIsDeterministic) {
  Statement a = SampleStatement();
  Statement b = SampleStatement();
  b.predicate = nlohmann::json::object();
  b.predicate["stage"] = "released";
  b.predicate["lineage"] = {"ds@1", "ds@2"};
  b.predicate["size"] = 11;
  EXPECT_EQ(a.ToJson(), b.ToJson());
}

// FromJson(ToJson(s)) gives back s, with several subjects and digest algorithms.
TEST(InTotoTest, RoundTrip) {
  Statement statement = SampleStatement();
  statement.subject.push_back(
      {"datasets/eu/2.1.0", {{"sha256", std::string(64, 'a')}, {"sha512", "beef"}}});
  auto parsed = Statement::FromJson(statement.ToJson());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->subject.size(), 2u);
  EXPECT_EQ(parsed->subject[0].name, "models/acme/1.0.0");
  EXPECT_EQ(parsed->subject[0].digest, statement.subject[0].digest);
  EXPECT_EQ(parsed->subject[1].digest, statement.subject[1].digest);
  EXPECT_EQ(parsed->predicate_type, kPredicateType);
  EXPECT_EQ(parsed->predicate, statement.predicate);
  EXPECT_EQ(parsed->ToJson(), statement.ToJson());
}

// A statement from another producer, with whitespace and no predicate, parses.
TEST(InTotoTest, ParsesForeignStatement) {
  auto parsed = Statement::FromJson(R"({
    "_type": "https://in-toto.io/Statement/v1",
    "subject": [{"name": "x", "digest": {"sha256": "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"}}],
    "predicateType": "https://slsa.dev/provenance/v1"
  })");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->predicate_type, "https://slsa.dev/provenance/v1");
  EXPECT_TRUE(parsed->predicate.is_object());
  EXPECT_TRUE(parsed->predicate.empty());
}

// Malformed statements are INVALID_ARGUMENT naming what is wrong.
TEST(InTotoTest, FromJsonRejectsMalformedStatements) {
  const std::string digest = std::string(R"({"sha256":")") + kHelloWorldSha256 + "\"}";
  const std::string subject = R"([{"name":"x","digest":)" + digest + "}]";
  auto statement = [&](const std::string& type, const std::string& subj, const std::string& pt) {
    std::string out = "{";
    if (!type.empty()) out += R"("_type":)" + type + ",";
    if (!subj.empty()) out += R"("subject":)" + subj + ",";
    if (!pt.empty()) out += R"("predicateType":)" + pt + ",";
    out += R"("predicate":{}})";
    return out;
  };
  const std::string type = R"("https://in-toto.io/Statement/v1")";
  const std::string pt = R"("https://p/v1")";
  struct Case {
    std::string json;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"not json", "not valid JSON"},
      {"[1]", "not a JSON object"},
      {statement("", subject, pt), "_type is missing"},
      {statement(R"("https://in-toto.io/Statement/v0.1")", subject, pt), "_type is not"},
      {statement("1", subject, pt), "_type is not"},
      {statement(type, "", pt), "subject is missing"},
      {statement(type, "[]", pt), "subject is not a non-empty array"},
      {statement(type, "{}", pt), "subject is not a non-empty array"},
      {statement(type, "[7]", pt), "subject[0] is not an object"},
      {statement(type, R"([{"name":"x"}])", pt), "subject[0].digest is missing"},
      {statement(type, R"([{"name":"x","digest":{}}])", pt), "subject[0].digest is not a non-empty object"},
      {statement(type, subject.substr(0, subject.size() - 1) + R"(,{"name":"y","digest":{"sha256":""}}])", pt),
       "subject[1].digest.sha256 is not a non-empty string"},
      {statement(type, R"([{"name":"x","digest":{"sha256":"ABCD"}}])", pt),
       "subject[0].digest.sha256 is not 64 lower-case hex digits"},
      {statement(type, R"([{"name":1,"digest":{"sha256":"ab"}}])", pt), "subject[0].name is not a string"},
      {statement(type, subject, ""), "predicateType is missing"},
      {statement(type, subject, R"("")"), "predicateType is not a non-empty string"},
      {R"({"_type":"https://in-toto.io/Statement/v1","subject":)" + subject +
           R"(,"predicateType":"p","predicate":[1]})",
       "predicate is not an object"},
  };
  for (const Case& c : cases) {
    auto parsed = Statement::FromJson(c.json);
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << c.json;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.message)) << c.json;
  }
  // The well-formed base case parses, so each case above fails for its own reason.
  EXPECT_TRUE(Statement::FromJson(statement(type, subject, pt)).ok());
}

// A signed statement verifies with the registry's key and carries the in-toto payload type.
TEST(InTotoTest, SignAndVerify) {
  Ed25519PrivateKey key = Ed25519PrivateKey::Generate();
  Statement statement = SampleStatement();
  DsseEnvelope envelope = SignStatement(statement, key);
  EXPECT_EQ(envelope.payload_type, "application/vnd.in-toto+json");
  EXPECT_EQ(envelope.payload, statement.ToJson());
  EXPECT_EQ(envelope.signatures[0].keyid, key.public_key().KeyId());

  auto parsed_envelope = DsseEnvelope::FromJson(envelope.ToJson());
  ASSERT_TRUE(parsed_envelope.ok());
  auto verified = VerifyStatement(*parsed_envelope, {key.public_key()});
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_EQ(verified->ToJson(), statement.ToJson());
}

// VerifyStatement refuses untrusted signers, thresholds not met and tampered statements.
TEST(InTotoTest, VerifyRefusesBadSignatures) {
  Ed25519PrivateKey key = Ed25519PrivateKey::Generate();
  Ed25519PrivateKey other = Ed25519PrivateKey::Generate();
  DsseEnvelope envelope = SignStatement(SampleStatement(), key);
  EXPECT_EQ(VerifyStatement(envelope, {other.public_key()}).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(VerifyStatement(envelope, {key.public_key(), other.public_key()}, 2).status().code(),
            StatusCode::kPermissionDenied);
  AddDsseSignature(envelope, other);
  EXPECT_TRUE(VerifyStatement(envelope, {key.public_key(), other.public_key()}, 2).ok());

  DsseEnvelope tampered = envelope;
  tampered.payload.replace(tampered.payload.find("released"), 8, "revoked!");
  EXPECT_EQ(VerifyStatement(tampered, {key.public_key()}).status().code(),
            StatusCode::kPermissionDenied);
}

// A validly signed envelope of another payload type is not a statement.
TEST(InTotoTest, VerifyRefusesOtherPayloadType) {
  Ed25519PrivateKey key = Ed25519PrivateKey::Generate();
  DsseEnvelope envelope = SignDsse("application/json", SampleStatement().ToJson(), key);
  auto verified = VerifyStatement(envelope, {key.public_key()});
  EXPECT_EQ(verified.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(verified.status().message(), HasSubstr("payloadType"));
}

// A validly signed in-toto envelope whose payload is not a statement is INVALID_ARGUMENT.
TEST(InTotoTest, VerifyRefusesSignedGarbage) {
  Ed25519PrivateKey key = Ed25519PrivateKey::Generate();
  DsseEnvelope envelope = SignDsse(kInTotoPayloadType, R"({"_type":"nope"})", key);
  auto verified = VerifyStatement(envelope, {key.public_key()});
  EXPECT_EQ(verified.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(verified.status().message(), HasSubstr("_type"));
}

// A null predicate is omitted rather than written as null, so the text still parses.
TEST(InTotoTest, NullPredicateIsOmitted) {
  Statement statement = SampleStatement();
  statement.predicate = nullptr;
  std::string json = statement.ToJson();
  EXPECT_EQ(json.find("\"predicate\":"), std::string::npos);
  EXPECT_TRUE(Statement::FromJson(json).ok());
}

}  // namespace
}  // namespace sov::crypto
