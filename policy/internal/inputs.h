// The CEL view of a decision's inputs: builds the `principal`, `artifact`, `request` and `now`
// values that conditions read, and a per-thread scratch Activation bound to them by reference
// so that a decision allocates only the values its conditions actually name. Internal to the
// policy engine; DecisionInputs is used by one thread at a time (the engine keeps one per
// thread).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "policy/cel/program.h"
#include "policy/cel/value.h"
#include "policy/decision.h"

namespace sov::policy::internal {

// The fields of `principal` and `artifact` that conditions may read, in the order of the bits
// that select them (bit i selects field i).
inline constexpr std::string_view kPrincipalFields[] = {"tenant_id", "roles", "purposes",
                                                       "jurisdiction"};
inline constexpr std::string_view kArtifactFields[] = {
    "kind",           "name",        "version",          "owner_tenant",
    "classification", "declared_classification",         "purposes",
    "lawful_basis",   "stage",       "labels",           "storage_location",
    "storage_jurisdiction",          "lineage",          "created_at",
    "size_bytes"};
inline constexpr uint32_t kAllFields = 0xFFFFFFFFu;

// Returns the bits of the fields of variable `variable` that CEL `source` may read: the
// fields it selects (`artifact.stage`), or kAllFields when it uses the variable in any other
// way (`artifact[k]`, passing it whole). A textual scan, so a safe over-approximation.
uint32_t FieldsUsed(std::string_view source, std::string_view variable,
                    std::span<const std::string_view> fields);

// Builds the CEL value of a principal or artifact with the fields selected by `fields`.
cel::Value PrincipalValue(const Principal& principal, uint32_t fields = kAllFields);
// `effective` is the classification rules see as artifact.classification.
cel::Value ArtifactValue(const Artifact& artifact, std::string_view effective,
                         uint32_t fields = kAllFields);
cel::Value AttributesValue(const std::map<std::string, std::string>& attributes);

class DecisionInputs {
 public:
  DecisionInputs();
  DecisionInputs(const DecisionInputs&) = delete;
  DecisionInputs& operator=(const DecisionInputs&) = delete;

  // Starts a decision over `request` (which must outlive the use of this object); only the
  // fields selected by the masks are built.
  void Reset(const DecisionRequest* request, std::string_view effective_classification,
             uint32_t principal_fields, uint32_t artifact_fields);
  // Builds the values named by `needs` (kNeeds* bits) that are not built yet; returns the
  // activation that binds all four names.
  const cel::Activation& Prepare(uint8_t needs);
  // Drops the values built (so that the thread does not keep them alive).
  void Clear();

 private:
  const DecisionRequest* request_ = nullptr;
  std::string_view effective_;
  uint32_t principal_fields_ = kAllFields;
  uint32_t artifact_fields_ = kAllFields;
  uint8_t built_ = 0;
  cel::Value principal_, artifact_, request_value_, now_;
  cel::Activation activation_;
};

}  // namespace sov::policy::internal
