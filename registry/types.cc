#include "registry/types.h"

#include <array>
#include <utility>

namespace sov::registry {
namespace {

constexpr std::array<std::pair<Kind, std::string_view>, 3> kKinds = {{
    {Kind::kDataset, "dataset"},
    {Kind::kModel, "model"},
    {Kind::kReport, "report"},
}};
constexpr std::array<std::pair<Stage, std::string_view>, 6> kStages = {{
    {Stage::kPending, "pending"},
    {Stage::kValidating, "validating"},
    {Stage::kReleased, "released"},
    {Stage::kRejected, "rejected"},
    {Stage::kRevoked, "revoked"},
    {Stage::kErased, "erased"},
}};
constexpr std::array<std::pair<UploadState, std::string_view>, 3> kUploadStates = {{
    {UploadState::kOpen, "open"},
    {UploadState::kCommitted, "committed"},
    {UploadState::kAborted, "aborted"},
}};
constexpr std::array<std::pair<JobState, std::string_view>, 5> kJobStates = {{
    {JobState::kQueued, "queued"},
    {JobState::kRunning, "running"},
    {JobState::kSucceeded, "succeeded"},
    {JobState::kFailed, "failed"},
    {JobState::kCancelled, "cancelled"},
}};

template <typename E, size_t N>
std::string_view NameOf(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "unknown";
}

template <typename E, size_t N>
Result<E> Parse(const std::array<std::pair<E, std::string_view>, N>& table,
                std::string_view what, std::string_view text) {
  std::string allowed;
  for (const auto& [v, name] : table) {
    if (name == text) return v;
    if (!allowed.empty()) allowed += ", ";
    allowed += name;
  }
  return InvalidArgument("unknown " + std::string(what) + " '" + std::string(text) +
                         "' (expected one of: " + allowed + ")");
}

}  // namespace

std::string_view KindName(Kind kind) { return NameOf(kKinds, kind); }
std::string_view StageName(Stage stage) { return NameOf(kStages, stage); }
std::string_view UploadStateName(UploadState state) { return NameOf(kUploadStates, state); }
std::string_view JobStateName(JobState state) { return NameOf(kJobStates, state); }

Result<Kind> ParseKind(std::string_view name) { return Parse(kKinds, "artifact kind", name); }
Result<Stage> ParseStage(std::string_view name) { return Parse(kStages, "stage", name); }
Result<UploadState> ParseUploadState(std::string_view name) {
  return Parse(kUploadStates, "upload state", name);
}
Result<JobState> ParseJobState(std::string_view name) {
  return Parse(kJobStates, "job state", name);
}

void SetChangeAuditIndex(ArtifactRecord& artifact, int64_t audit_index) {
  if (!artifact.history.empty() && artifact.history.back().audit_index < 0) {
    artifact.history.back().audit_index = audit_index;
  }
  if (artifact.tombstone.has_value() && artifact.tombstone->audit_index < 0) {
    artifact.tombstone->audit_index = audit_index;
  }
}

}  // namespace sov::registry
