#include "crypto/dsse.h"

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace sov::crypto {
namespace {

constexpr char kStandardAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr size_t kEd25519SignatureSize = 64;

// Maps a character to its 6-bit value in either alphabet: '+' and '-' are 62, '/' and '_' 63.
// kInvalid marks everything else, including '=' and whitespace.
constexpr uint8_t kInvalid = 0xff;
constexpr std::array<uint8_t, 256> MakeDecodeTable() {
  std::array<uint8_t, 256> table{};
  for (auto& v : table) v = kInvalid;
  for (uint8_t i = 0; i < 64; ++i) table[static_cast<uint8_t>(kStandardAlphabet[i])] = i;
  table[static_cast<uint8_t>('-')] = 62;
  table[static_cast<uint8_t>('_')] = 63;
  return table;
}
constexpr std::array<uint8_t, 256> kDecodeTable = MakeDecodeTable();

using Json = nlohmann::json;

// Returns the string member `name` of `object`, or INVALID_ARGUMENT naming `field`.
Result<std::string> StringMember(const Json& object, const char* name, const std::string& field,
                                 bool required) {
  auto it = object.find(name);
  if (it == object.end()) {
    if (required) return InvalidArgument("DSSE envelope: " + field + " is missing");
    return std::string();
  }
  if (!it->is_string()) return InvalidArgument("DSSE envelope: " + field + " is not a string");
  return it->get<std::string>();
}

Result<std::string> Base64Member(const Json& object, const char* name, const std::string& field) {
  SOV_ASSIGN_OR_RETURN(std::string text, StringMember(object, name, field, /*required=*/true));
  Result<std::string> bytes = Base64Decode(text);
  if (!bytes.ok()) {
    return InvalidArgument("DSSE envelope: " + field + ": " + bytes.status().message());
  }
  return std::move(bytes).value();
}

Result<DsseEnvelope> ParseEnvelope(std::string_view text) {
  // The non-throwing parse; the accessors below only run on values of the checked type.
  Json json = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return InvalidArgument("DSSE envelope: not valid JSON");
  if (!json.is_object()) return InvalidArgument("DSSE envelope: not a JSON object");

  DsseEnvelope envelope;
  SOV_ASSIGN_OR_RETURN(envelope.payload, Base64Member(json, "payload", "payload"));
  SOV_ASSIGN_OR_RETURN(envelope.payload_type,
                       StringMember(json, "payloadType", "payloadType", /*required=*/true));
  auto signatures = json.find("signatures");
  if (signatures == json.end()) return InvalidArgument("DSSE envelope: signatures is missing");
  if (!signatures->is_array()) return InvalidArgument("DSSE envelope: signatures is not an array");
  size_t index = 0;
  for (const Json& item : *signatures) {
    std::string field = "signatures[" + std::to_string(index++) + "]";
    if (!item.is_object()) return InvalidArgument("DSSE envelope: " + field + " is not an object");
    DsseSignature signature;
    SOV_ASSIGN_OR_RETURN(signature.sig, Base64Member(item, "sig", field + ".sig"));
    // The spec makes keyid optional; absent and empty mean the same.
    SOV_ASSIGN_OR_RETURN(signature.keyid,
                         StringMember(item, "keyid", field + ".keyid", /*required=*/false));
    envelope.signatures.push_back(std::move(signature));
  }
  return envelope;
}

}  // namespace

std::string Pae(std::string_view payload_type, std::string_view payload) {
  std::string out = "DSSEv1 ";
  out += std::to_string(payload_type.size());
  out += ' ';
  out += payload_type;
  out += ' ';
  out += std::to_string(payload.size());
  out += ' ';
  out += payload;
  return out;
}

namespace {

// Base64 of `bytes` in `alphabet` (64 characters), with '=' padding when `pad`.
std::string EncodeBase64(std::string_view bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += alphabet[v >> 6 & 63];
    out += alphabet[v & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = byte(i) << 16;
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    if (pad) out += "==";
  } else if (rest == 2) {
    uint32_t v = byte(i) << 16 | byte(i + 1) << 8;
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += alphabet[v >> 6 & 63];
    if (pad) out += '=';
  }
  return out;
}

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  return EncodeBase64(bytes, kStandardAlphabet, /*pad=*/true);
}

std::string Base64UrlEncode(std::string_view bytes) {
  return EncodeBase64(bytes, kUrlAlphabet, /*pad=*/false);
}

Result<std::string> Base64Decode(std::string_view text) {
  // Padding, when present, must complete the last quantum exactly.
  size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  std::string_view body = text.substr(0, text.size() - padding);
  if (padding > 0 && text.size() % 4 != 0) return InvalidArgument("base64 padding is misplaced");
  if (body.size() % 4 == 1) return InvalidArgument("base64 length is impossible");
  if (padding > 0 && (body.size() % 4) + padding != 4) {
    return InvalidArgument("base64 padding is misplaced");
  }

  bool standard = false;
  bool url_safe = false;
  std::string out;
  out.reserve(body.size() / 4 * 3 + 2);
  uint32_t bits = 0;
  int count = 0;
  for (size_t i = 0; i < body.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(body[i]);
    uint8_t v = kDecodeTable[c];
    if (v == kInvalid) {
      return InvalidArgument("base64 has an invalid character at offset " + std::to_string(i));
    }
    standard |= (c == '+' || c == '/');
    url_safe |= (c == '-' || c == '_');
    bits = bits << 6 | v;
    if (++count == 4) {
      out += static_cast<char>(bits >> 16 & 0xff);
      out += static_cast<char>(bits >> 8 & 0xff);
      out += static_cast<char>(bits & 0xff);
      bits = 0;
      count = 0;
    }
  }
  if (standard && url_safe) return InvalidArgument("base64 mixes the standard and URL-safe alphabets");
  // The bits after the last whole byte must be zero, so that each byte string has one encoding.
  if (count == 2) {
    if ((bits & 0xf) != 0) return InvalidArgument("base64 has non-zero trailing bits");
    out += static_cast<char>(bits >> 4 & 0xff);
  } else if (count == 3) {
    if ((bits & 0x3) != 0) return InvalidArgument("base64 has non-zero trailing bits");
    out += static_cast<char>(bits >> 10 & 0xff);
    out += static_cast<char>(bits >> 2 & 0xff);
  }
  return out;
}

std::string DsseEnvelope::ToJson() const {
  Json signatures_json = Json::array();
  for (const DsseSignature& signature : signatures) {
    signatures_json.push_back({{"keyid", signature.keyid}, {"sig", Base64Encode(signature.sig)}});
  }
  Json json = {{"payload", Base64Encode(payload)},
               {"payloadType", payload_type},
               {"signatures", std::move(signatures_json)}};
  // Base64 is ASCII; only payloadType and keyid can hold invalid UTF-8, and such an envelope
  // could not verify anyway, so replacing (U+FFFD) beats throwing.
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<DsseEnvelope> DsseEnvelope::FromJson(std::string_view json) {
  try {
    return ParseEnvelope(json);
  } catch (const nlohmann::json::exception& e) {
    // Not reachable with the checks above; kept so that no exception crosses the boundary.
    return InvalidArgument(std::string("DSSE envelope: ") + e.what());
  }
}

DsseEnvelope SignDsse(std::string_view payload_type, std::string_view payload,
                      const Ed25519PrivateKey& key) {
  DsseEnvelope envelope;
  envelope.payload_type = std::string(payload_type);
  envelope.payload = std::string(payload);
  AddDsseSignature(envelope, key);
  return envelope;
}

void AddDsseSignature(DsseEnvelope& envelope, const Ed25519PrivateKey& key) {
  envelope.signatures.push_back(
      {key.public_key().KeyId(), key.Sign(Pae(envelope.payload_type, envelope.payload))});
}

Result<std::vector<std::string>> VerifyDsse(const DsseEnvelope& envelope,
                                            const std::vector<Ed25519PublicKey>& trusted,
                                            size_t threshold) {
  if (threshold == 0) return InvalidArgument("DSSE threshold must be at least 1");

  // Key ids computed once; a key listed twice in `trusted` is one key.
  std::vector<std::pair<std::string, const Ed25519PublicKey*>> keys;
  std::set<std::string> seen_ids;
  for (const Ed25519PublicKey& key : trusted) {
    std::string id = key.KeyId();
    if (seen_ids.insert(id).second) keys.emplace_back(std::move(id), &key);
  }

  const std::string pae = Pae(envelope.payload_type, envelope.payload);
  std::vector<std::string> verified;
  std::set<std::string> verified_set;
  for (const DsseSignature& signature : envelope.signatures) {
    if (signature.sig.size() != kEd25519SignatureSize) continue;
    for (const auto& [id, key] : keys) {
      if (!signature.keyid.empty() && signature.keyid != id) continue;
      if (verified_set.count(id) != 0) continue;
      if (Ed25519Verify(*key, pae, signature.sig)) {
        verified_set.insert(id);
        verified.push_back(id);
      }
    }
  }
  if (verified.size() < threshold) {
    return PermissionDenied("DSSE envelope: " + std::to_string(verified.size()) + " of " +
                            std::to_string(threshold) +
                            " required trusted signatures verified (" +
                            std::to_string(envelope.signatures.size()) + " signatures, " +
                            std::to_string(keys.size()) + " trusted keys)");
  }
  return verified;
}

}  // namespace sov::crypto
