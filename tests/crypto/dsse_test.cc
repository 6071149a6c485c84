// Shows DSSE v1.0.0 envelopes (PAE, JSON, base64) and threshold verification over distinct trusted keys.
#include "crypto/dsse.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace sov::crypto {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr std::string_view kType = "application/vnd.sov.test+json";
constexpr std::string_view kPayload = R"({"hello":"world"})";

Ed25519PrivateKey KeyFromSeedByte(char byte) {
  auto key = Ed25519PrivateKey::FromSeed(std::string(32, byte));
  EXPECT_TRUE(key.ok());
  return *key;
}

// Rewrites standard base64 into the URL-safe alphabet without padding.
std::string UrlSafeUnpadded(std::string text) {
  for (char& c : text) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!text.empty() && text.back() == '=') text.pop_back();
  return text;
}

// PAE reproduces the DSSE v1.0.0 specification's example.
TEST(PaeTest, MatchesSpecificationVector) {
  EXPECT_EQ(Pae("http://example.com/HelloWorld", "hello world"),
            "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
}

// PAE counts bytes, not characters, and handles empty and binary fields.
TEST(PaeTest, CountsBytes) {
  EXPECT_EQ(Pae("", ""), "DSSEv1 0  0 ");
  EXPECT_EQ(Pae("t", "\xc3\xa9"), "DSSEv1 1 t 2 \xc3\xa9");
  EXPECT_EQ(Pae("t", std::string("a\0b", 3)), std::string("DSSEv1 1 t 3 a\0b", 16));
  EXPECT_EQ(Pae("t", std::string(1000, 'x')), "DSSEv1 1 t 1000 " + std::string(1000, 'x'));
}

// Base64Encode writes RFC 4648's test vectors in the standard padded alphabet.
TEST(Base64Test, EncodesRfc4648Vectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode("\xfb\xff"), "+/8=");
}

// Base64UrlEncode writes the same vectors in the URL-safe alphabet without padding, and
// Base64Decode reads every one back.
TEST(Base64Test, UrlEncodesRfc4648VectorsWithoutPadding) {
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("foob"), "Zm9vYg");
  EXPECT_EQ(Base64UrlEncode("fooba"), "Zm9vYmE");
  EXPECT_EQ(Base64UrlEncode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64UrlEncode("\xfb\xef\xbe"), "----");
  using namespace std::string_view_literals;
  for (std::string_view bytes :
       {""sv, "f"sv, "fo"sv, "foo"sv, "\xfb\xff"sv, "\x00\x01\xfe\xff\x80"sv}) {
    Result<std::string> back = Base64Decode(Base64UrlEncode(bytes));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, bytes);
  }
}

// Base64Decode accepts standard and URL-safe text, padded or not.
TEST(Base64Test, DecodesBothAlphabetsWithOrWithoutPadding) {
  for (std::string_view text : {"+/8=", "+/8", "-_8=", "-_8"}) {
    auto bytes = Base64Decode(text);
    ASSERT_TRUE(bytes.ok()) << text << ": " << bytes.status().ToString();
    EXPECT_EQ(*bytes, "\xfb\xff") << text;
  }
  EXPECT_EQ(*Base64Decode(""), "");
  EXPECT_EQ(*Base64Decode("Zg"), "f");
  EXPECT_EQ(*Base64Decode("Zg=="), "f");
  EXPECT_EQ(*Base64Decode("Zm9vYmFy"), "foobar");
}

// Every byte value survives an encode/decode round trip, at every length modulo 3.
TEST(Base64Test, RoundTripsAllBytes) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t n = 0; n <= all.size(); n += 37) {
    std::string bytes = all.substr(0, n) + all.substr(0, n % 3);
    auto decoded = Base64Decode(Base64Encode(bytes));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, bytes);
    auto url = Base64Decode(UrlSafeUnpadded(Base64Encode(bytes)));
    ASSERT_TRUE(url.ok());
    EXPECT_EQ(*url, bytes);
  }
}

// Base64Decode refuses foreign characters, whitespace, mixed alphabets and broken padding.
TEST(Base64Test, RejectsMalformedText) {
  for (std::string_view text :
       {"Zm9v!", "Zm 9v", "Zm9v\n", "+/-_", "Z", "Zm9vY", "Zg=", "Zg===", "=Zg=", "Z=g=",
        "Zm9v=", "Zh==", "Zm9=", "\xc3\xa9\xc3\xa9"}) {
    auto bytes = Base64Decode(text);
    EXPECT_EQ(bytes.status().code(), StatusCode::kInvalidArgument) << "accepted: " << text;
  }
}

// A signed envelope verifies, names its signer's key id, and survives its JSON form.
TEST(DsseTest, SignVerifyRoundTrip) {
  Ed25519PrivateKey key = Ed25519PrivateKey::Generate();
  DsseEnvelope envelope = SignDsse(kType, kPayload, key);
  ASSERT_EQ(envelope.signatures.size(), 1u);
  EXPECT_EQ(envelope.signatures[0].keyid, key.public_key().KeyId());
  EXPECT_EQ(envelope.signatures[0].sig.size(), 64u);
  EXPECT_TRUE(Ed25519Verify(key.public_key(), Pae(kType, kPayload), envelope.signatures[0].sig));

  auto parsed = DsseEnvelope::FromJson(envelope.ToJson());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->payload_type, kType);
  EXPECT_EQ(parsed->payload, kPayload);
  auto verified = VerifyDsse(*parsed, {key.public_key()});
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_THAT(*verified, ElementsAre(key.public_key().KeyId()));
}

// The JSON form has exactly the spec's fields, with standard padded base64.
TEST(DsseTest, JsonFormMatchesSpecification) {
  Ed25519PrivateKey key = KeyFromSeedByte('\x01');
  DsseEnvelope envelope = SignDsse(kType, "f", key);
  nlohmann::json json = nlohmann::json::parse(envelope.ToJson());
  EXPECT_EQ(json.size(), 3u);
  EXPECT_EQ(json["payload"], "Zg==");
  EXPECT_EQ(json["payloadType"], kType);
  ASSERT_EQ(json["signatures"].size(), 1u);
  EXPECT_EQ(json["signatures"][0]["keyid"], key.public_key().KeyId());
  EXPECT_EQ(json["signatures"][0]["sig"], Base64Encode(envelope.signatures[0].sig));
  // Ed25519 is deterministic: the same key and message give the same envelope text.
  EXPECT_EQ(SignDsse(kType, "f", key).ToJson(), envelope.ToJson());
}

// Envelopes written with URL-safe, unpadded base64 (as some tools do) parse and verify.
TEST(DsseTest, AcceptsUrlSafeUnpaddedBase64) {
  Ed25519PrivateKey key = Ed25519PrivateKey::Generate();
  // A payload whose base64 needs '+', '/' and padding, to exercise the alternatives.
  std::string payload = "\xfb\xff\xfe\x3e\x3f payload";
  DsseEnvelope envelope = SignDsse(kType, payload, key);
  nlohmann::json json = nlohmann::json::parse(envelope.ToJson());
  json["payload"] = UrlSafeUnpadded(json["payload"].get<std::string>());
  json["signatures"][0]["sig"] = UrlSafeUnpadded(json["signatures"][0]["sig"].get<std::string>());
  ASSERT_NE(json["payload"].get<std::string>().find_first_of("-_"), std::string::npos);

  auto parsed = DsseEnvelope::FromJson(json.dump());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->payload, payload);
  EXPECT_TRUE(VerifyDsse(*parsed, {key.public_key()}).ok());
}

// Changing the payload, the payload type or the signature makes verification fail.
TEST(DsseTest, TamperingIsDetected) {
  Ed25519PrivateKey key = Ed25519PrivateKey::Generate();
  const DsseEnvelope original = SignDsse(kType, kPayload, key);

  DsseEnvelope payload = original;
  payload.payload[2] ^= 1;
  DsseEnvelope type = original;
  type.payload_type = "application/vnd.in-toto+json";
  DsseEnvelope sig = original;
  sig.signatures[0].sig[10] ^= 0x40;
  DsseEnvelope truncated = original;
  truncated.signatures[0].sig.pop_back();

  for (const DsseEnvelope* e : {&payload, &type, &sig, &truncated}) {
    auto verified = VerifyDsse(*e, {key.public_key()});
    EXPECT_EQ(verified.status().code(), StatusCode::kPermissionDenied);
    EXPECT_THAT(verified.status().message(), HasSubstr("0 of 1"));
  }
}

// A signature by a key that is not trusted does not verify.
TEST(DsseTest, UntrustedKeyIsRefused) {
  Ed25519PrivateKey signer = Ed25519PrivateKey::Generate();
  Ed25519PrivateKey other = Ed25519PrivateKey::Generate();
  DsseEnvelope envelope = SignDsse(kType, kPayload, signer);
  EXPECT_EQ(VerifyDsse(envelope, {other.public_key()}).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(VerifyDsse(envelope, {}).status().code(), StatusCode::kPermissionDenied);
}

// Threshold 2 passes with two of three trusted keys and fails with one.
TEST(DsseTest, ThresholdTwoOfThree) {
  Ed25519PrivateKey a = KeyFromSeedByte('a');
  Ed25519PrivateKey b = KeyFromSeedByte('b');
  Ed25519PrivateKey c = KeyFromSeedByte('c');
  std::vector<Ed25519PublicKey> trusted = {a.public_key(), b.public_key(), c.public_key()};

  DsseEnvelope envelope = SignDsse(kType, kPayload, a);
  auto one = VerifyDsse(envelope, trusted, 2);
  EXPECT_EQ(one.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(one.status().message(), HasSubstr("1 of 2"));

  AddDsseSignature(envelope, c);
  auto two = VerifyDsse(envelope, trusted, 2);
  ASSERT_TRUE(two.ok()) << two.status().ToString();
  EXPECT_THAT(*two, UnorderedElementsAre(a.public_key().KeyId(), c.public_key().KeyId()));
  EXPECT_EQ(VerifyDsse(envelope, trusted, 3).status().code(), StatusCode::kPermissionDenied);

  // Both signatures survive the JSON form.
  auto parsed = DsseEnvelope::FromJson(envelope.ToJson());
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(VerifyDsse(*parsed, trusted, 2).ok());
}

// The same key signing twice, or listed twice as trusted, counts once.
TEST(DsseTest, DuplicateSignaturesCountOnce) {
  Ed25519PrivateKey a = KeyFromSeedByte('a');
  Ed25519PrivateKey b = KeyFromSeedByte('b');
  DsseEnvelope envelope = SignDsse(kType, kPayload, a);
  AddDsseSignature(envelope, a);
  ASSERT_EQ(envelope.signatures.size(), 2u);
  // A copy with an empty keyid must not count a second time either.
  envelope.signatures.push_back({"", envelope.signatures[0].sig});

  auto verified = VerifyDsse(envelope, {a.public_key(), b.public_key()}, 2);
  EXPECT_EQ(verified.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(verified.status().message(), HasSubstr("1 of 2"));
  EXPECT_EQ(VerifyDsse(envelope, {a.public_key(), a.public_key()}, 2).status().code(),
            StatusCode::kPermissionDenied);
  auto once = VerifyDsse(envelope, {a.public_key()});
  ASSERT_TRUE(once.ok());
  EXPECT_THAT(*once, ElementsAre(a.public_key().KeyId()));
}

// An empty keyid is tried against every trusted key; an unknown or mislabelled one is ignored.
TEST(DsseTest, KeyIdSelectsTheKey) {
  Ed25519PrivateKey a = KeyFromSeedByte('a');
  Ed25519PrivateKey b = KeyFromSeedByte('b');
  std::vector<Ed25519PublicKey> trusted = {b.public_key(), a.public_key()};

  DsseEnvelope anonymous = SignDsse(kType, kPayload, a);
  anonymous.signatures[0].keyid.clear();
  auto verified = VerifyDsse(anonymous, trusted);
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_THAT(*verified, ElementsAre(a.public_key().KeyId()));

  DsseEnvelope unknown = SignDsse(kType, kPayload, a);
  unknown.signatures[0].keyid = "sha256:0000";
  EXPECT_EQ(VerifyDsse(unknown, trusted).status().code(), StatusCode::kPermissionDenied);

  DsseEnvelope mislabelled = SignDsse(kType, kPayload, a);
  mislabelled.signatures[0].keyid = b.public_key().KeyId();
  EXPECT_EQ(VerifyDsse(mislabelled, trusted).status().code(), StatusCode::kPermissionDenied);
}

// A threshold of zero is a caller error, not a free pass.
TEST(DsseTest, ZeroThresholdIsInvalid) {
  Ed25519PrivateKey a = Ed25519PrivateKey::Generate();
  EXPECT_EQ(VerifyDsse(SignDsse(kType, kPayload, a), {a.public_key()}, 0).status().code(),
            StatusCode::kInvalidArgument);
}

// keyid may be absent in the JSON form; the signature is then tried against every trusted key.
TEST(DsseTest, KeyIdIsOptionalInJson) {
  Ed25519PrivateKey a = Ed25519PrivateKey::Generate();
  DsseEnvelope envelope = SignDsse(kType, kPayload, a);
  nlohmann::json json = nlohmann::json::parse(envelope.ToJson());
  json["signatures"][0].erase("keyid");
  auto parsed = DsseEnvelope::FromJson(json.dump());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->signatures[0].keyid, "");
  EXPECT_TRUE(VerifyDsse(*parsed, {a.public_key()}).ok());
}

// Malformed envelopes are INVALID_ARGUMENT with a message naming the field at fault.
TEST(DsseTest, MalformedJsonNamesTheField) {
  struct Case {
    std::string json;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"{", "not valid JSON"},
      {"", "not valid JSON"},
      {"[]", "not a JSON object"},
      {R"({"payloadType":"t","signatures":[]})", "payload is missing"},
      {R"({"payload":"Zg==","signatures":[]})", "payloadType is missing"},
      {R"({"payload":"Zg==","payloadType":"t"})", "signatures is missing"},
      {R"({"payload":7,"payloadType":"t","signatures":[]})", "payload is not a string"},
      {R"({"payload":"Zg==","payloadType":null,"signatures":[]})", "payloadType is not a string"},
      {R"({"payload":"Zg==","payloadType":"t","signatures":{}})", "signatures is not an array"},
      {R"({"payload":"Z!==","payloadType":"t","signatures":[]})", "payload: base64"},
      {R"({"payload":"Zg==","payloadType":"t","signatures":[7]})", "signatures[0] is not an object"},
      {R"({"payload":"Zg==","payloadType":"t","signatures":[{"keyid":"k"}]})",
       "signatures[0].sig is missing"},
      {R"({"payload":"Zg==","payloadType":"t","signatures":[{"sig":"Zg=="},{"sig":"*"}]})",
       "signatures[1].sig: base64"},
      {R"({"payload":"Zg==","payloadType":"t","signatures":[{"sig":"Zg==","keyid":3}]})",
       "signatures[0].keyid is not a string"},
  };
  for (const Case& c : cases) {
    auto parsed = DsseEnvelope::FromJson(c.json);
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << c.json;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.field)) << c.json;
  }
  // An envelope with no signatures parses; it simply cannot verify.
  auto unsigned_envelope =
      DsseEnvelope::FromJson(R"({"payload":"Zg==","payloadType":"t","signatures":[]})");
  ASSERT_TRUE(unsigned_envelope.ok());
  EXPECT_EQ(VerifyDsse(*unsigned_envelope, {Ed25519PrivateKey::Generate().public_key()})
                .status().code(),
            StatusCode::kPermissionDenied);
}

// Invalid UTF-8 in a payload type neither throws nor yields an envelope that verifies.
TEST(DsseTest, InvalidUtf8PayloadTypeDoesNotThrow) {
  Ed25519PrivateKey a = Ed25519PrivateKey::Generate();
  DsseEnvelope envelope = SignDsse("bad\xff", kPayload, a);
  std::string json = envelope.ToJson();
  auto parsed = DsseEnvelope::FromJson(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(VerifyDsse(*parsed, {a.public_key()}).status().code(), StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace sov::crypto
