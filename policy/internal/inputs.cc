#include "policy/internal/inputs.h"

#include <array>
#include <bit>
#include <cassert>
#include <cctype>

#include "policy/internal/compiled_policy.h"

namespace sov::policy::internal {

namespace {

bool IsIdentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

uint32_t FieldsUsed(std::string_view source, std::string_view variable,
                    std::span<const std::string_view> fields) {
  uint32_t used = 0;
  size_t pos = 0;
  while ((pos = source.find(variable, pos)) != std::string_view::npos) {
    const size_t end = pos + variable.size();
    const bool starts_word = pos == 0 || !IsIdentChar(source[pos - 1]);
    pos = end;
    if (!starts_word || (end < source.size() && IsIdentChar(source[end]))) continue;
    size_t i = end;
    while (i < source.size() && std::isspace(static_cast<unsigned char>(source[i]))) ++i;
    if (i >= source.size() || source[i] != '.') return kAllFields;
    ++i;
    while (i < source.size() && std::isspace(static_cast<unsigned char>(source[i]))) ++i;
    size_t j = i;
    while (j < source.size() && IsIdentChar(source[j])) ++j;
    const std::string_view field = source.substr(i, j - i);
    for (size_t f = 0; f < fields.size(); ++f) {
      if (fields[f] == field) used |= 1u << f;
    }
  }
  return used;
}

namespace {

// Field names as shared CEL strings, made once, so that building a value per decision copies a
// reference instead of allocating each name.
template <size_t N>
const std::array<cel::Value, N>& Keys(const std::string_view (&names)[N]) {
  static const std::array<cel::Value, N> keys = [&] {
    std::array<cel::Value, N> out;
    for (size_t i = 0; i < N; ++i) out[i] = cel::Value::String(std::string(names[i]));
    return out;
  }();
  return keys;
}

cel::Value MakeRecord(std::vector<cel::Value::Entry> entries) {
  // Keys are distinct strings by construction, so this cannot fail.
  Result<cel::Value> v = cel::Value::Map(std::move(entries));
  assert(v.ok());
  return v.ok() ? std::move(*v) : cel::Value();
}

constexpr std::string_view kLineageFields[] = {"kind", "name", "version", "classification", "purposes"};

}  // namespace

cel::Value PrincipalValue(const Principal& principal, uint32_t mask) {
  const auto& keys = Keys(kPrincipalFields);
  std::vector<cel::Value::Entry> fields;
  fields.reserve(4);
  if (mask & 1u) fields.emplace_back(keys[0], cel::Value::String(principal.tenant_id));
  if (mask & 2u) fields.emplace_back(keys[1], cel::Value::StringList(principal.roles));
  if (mask & 4u) fields.emplace_back(keys[2], cel::Value::StringList(principal.purposes));
  if (mask & 8u) fields.emplace_back(keys[3], cel::Value::String(principal.jurisdiction));
  return MakeRecord(std::move(fields));
}

cel::Value ArtifactValue(const Artifact& a, std::string_view effective, uint32_t mask) {
  const auto& keys = Keys(kArtifactFields);
  std::vector<cel::Value::Entry> fields;
  fields.reserve(std::popcount(mask & 0x7FFFu));
  const auto want = [&](int bit) { return (mask & (1u << bit)) != 0; };
  if (want(0)) fields.emplace_back(keys[0], cel::Value::String(a.kind));
  if (want(1)) fields.emplace_back(keys[1], cel::Value::String(a.name));
  if (want(2)) fields.emplace_back(keys[2], cel::Value::String(a.version));
  if (want(3)) fields.emplace_back(keys[3], cel::Value::String(a.owner_tenant));
  if (want(4)) fields.emplace_back(keys[4], cel::Value::String(std::string(effective)));
  if (want(5)) fields.emplace_back(keys[5], cel::Value::String(a.classification));
  if (want(6)) fields.emplace_back(keys[6], cel::Value::StringList(a.purposes));
  if (want(7)) fields.emplace_back(keys[7], cel::Value::String(a.lawful_basis));
  if (want(8)) fields.emplace_back(keys[8], cel::Value::String(a.stage));
  if (want(9)) fields.emplace_back(keys[9], cel::Value::StringMap(a.labels));
  if (want(10)) fields.emplace_back(keys[10], cel::Value::String(a.storage_location));
  if (want(11)) fields.emplace_back(keys[11], cel::Value::String(a.storage_jurisdiction));
  if (want(12)) {
    const auto& lineage_keys = Keys(kLineageFields);
    std::vector<cel::Value> lineage;
    lineage.reserve(a.lineage.size());
    for (const LineageEntry& e : a.lineage) {
      lineage.push_back(MakeRecord({{lineage_keys[0], cel::Value::String(e.kind)},
                                    {lineage_keys[1], cel::Value::String(e.name)},
                                    {lineage_keys[2], cel::Value::String(e.version)},
                                    {lineage_keys[3], cel::Value::String(e.classification)},
                                    {lineage_keys[4], cel::Value::StringList(e.purposes)}}));
    }
    fields.emplace_back(keys[12], cel::Value::List(std::move(lineage)));
  }
  if (want(13) && a.created_at) fields.emplace_back(keys[13], cel::Value::FromTime(*a.created_at));
  if (want(14)) fields.emplace_back(keys[14], cel::Value::Int(a.size_bytes));
  return MakeRecord(std::move(fields));
}

cel::Value AttributesValue(const std::map<std::string, std::string>& attributes) {
  return cel::Value::StringMap(attributes);
}

DecisionInputs::DecisionInputs() {
  activation_.BindRef("principal", &principal_);
  activation_.BindRef("artifact", &artifact_);
  activation_.BindRef("request", &request_value_);
  activation_.BindRef("now", &now_);
}

void DecisionInputs::Reset(const DecisionRequest* request, std::string_view effective_classification,
                           uint32_t principal_fields, uint32_t artifact_fields) {
  request_ = request;
  effective_ = effective_classification;
  principal_fields_ = principal_fields;
  artifact_fields_ = artifact_fields;
  built_ = 0;
}

const cel::Activation& DecisionInputs::Prepare(uint8_t needs) {
  const uint8_t missing = needs & ~built_;
  if (missing != 0) {
    if (missing & kNeedsPrincipal) principal_ = PrincipalValue(request_->principal, principal_fields_);
    if (missing & kNeedsArtifact) artifact_ = ArtifactValue(request_->artifact, effective_, artifact_fields_);
    if (missing & kNeedsRequest) request_value_ = AttributesValue(request_->attributes);
    if (missing & kNeedsNow) now_ = cel::Value::FromTime(request_->now);
    built_ |= missing;
  }
  return activation_;
}
void DecisionInputs::Clear() {
  if (built_ == 0) return;
  principal_ = cel::Value();
  artifact_ = cel::Value();
  request_value_ = cel::Value();
  now_ = cel::Value();
  built_ = 0;
}

}  // namespace sov::policy::internal
