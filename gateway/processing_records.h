// Records of processing activities (GDPR Art. 30): one record per dataset (and, when asked, per
// model) with its purposes, lawful basis, Art. 9 condition, classification, storage location and
// jurisdiction, retention, stage, and recipients. Recipients come from the audit log: the tenants
// whose `artifact.fetch` of the artifact was allowed (DECISION entries, effect allow), and the
// tenants that fetched a model derived from it, transitively through the lineage. A recipient's
// jurisdiction is the one the decision recorded (the tenants file's at the time of the fetch);
// outside the policy's EEA jurisdiction group it is a third-country transfer (Art. 44 ff.).
// Everything is read up front in two passes (every artifact in one query; every allowed fetch
// decision in batches), then the records are built and handed to the caller one at a time.
// GovernanceService::ExportProcessingRecords streams them. Thread-safe (no shared state).
#pragma once

#include <functional>
#include <string>

#include "common/status.h"
#include "gateway/tenants.h"
#include "policy/policy.h"
#include "registry/registry.h"
#include "sov/v1/governance.pb.h"

namespace sov::gateway {

struct ProcessingRecordsOptions {
  std::string owner_tenant;     // only this owner's artifacts; empty for all
  bool include_erased = false;  // also erased artifacts (from their records and tombstones)
  bool include_models = false;  // also one record per model
};

// The jurisdiction group that defines "inside the EEA": `EEA`, else `eea`, in the policy; when
// the policy defines neither, the 30 EEA states (the EU 27, Iceland, Liechtenstein, Norway) as
// of 2026. Returns whether `jurisdiction` (ISO 3166-1 alpha-2) is outside it; an empty
// (unknown) jurisdiction counts as outside.
bool IsThirdCountry(const policy::Policy& policy, const std::string& jurisdiction);

// Builds the records and calls `emit` with each, datasets and models by name, then push order.
// Stops at emit's first error and returns it; the store's error when reading fails.
Status BuildProcessingRecords(
    registry::Registry& registry, const policy::Policy& policy, const TenantDirectory& tenants,
    const ProcessingRecordsOptions& options,
    const std::function<Status(const sov::v1::ProcessingRecord&)>& emit);

}  // namespace sov::gateway
