// libFuzzer target: loads arbitrary bytes as a policy file and, when they load, decides a few
// requests and asks the registry's queries; shows that no input crashes, hangs or exhausts the
// stack of the YAML reader, the loader, the compiler or the engine, that a refused file always
// says why, and that an allow always names the rule that allowed it.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "policy/decision.h"
#include "policy/policy.h"

namespace {

using sov::policy::Artifact;
using sov::policy::DecisionRequest;

[[noreturn]] void Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_policy_loader: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

const DecisionRequest& FuzzRequest() {
  static const auto* request = [] {
    auto* r = new DecisionRequest();
    r->principal = {"acme-ml", {"ml-engineer", "dpo"}, {"fraud-detection", "credit-scoring"}, "DE"};
    Artifact& a = r->artifact;
    a.kind = "model";
    a.name = "credit-model";
    a.version = "1.2.0";
    a.owner_tenant = "acme-ml";
    a.classification = "internal";
    a.purposes = {"credit-scoring"};
    a.lawful_basis = "contract";
    a.stage = "validating";
    a.labels = {{"team", "risk"}};
    a.storage_location = "eu-de-1";
    a.storage_jurisdiction = "DE";
    a.lineage = {{"dataset", "loans", "2.1.0", "personal", {"credit-scoring"}}};
    a.created_at = sov::SystemTime(std::chrono::seconds(1690000000));
    a.size_bytes = 1 << 20;
    r->attributes = {{"purpose", "credit-scoring"}, {"target_jurisdiction", "FR"},
                     {"gates_passed", "true"}};
    r->now = sov::SystemTime(std::chrono::seconds(1700000000));
    return r;
  }();
  return *request;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto policy = sov::policy::Policy::Load(text, "fuzz.yaml");
  if (!policy.ok()) {
    if (policy.status().message().empty()) Fail("refused without a message", text);
    return 0;
  }
  DecisionRequest request = FuzzRequest();
  for (std::string_view action : {"artifact.fetch", "artifact.push", "artifact.release"}) {
    request.action = std::string(action);
    sov::policy::Decision decision = policy->Decide(request);
    if (decision.allowed() && decision.deciding_rule == nullptr) {
      Fail("allowed without a deciding rule", action);
    }
    (void)decision.reason();
  }
  const Artifact& artifact = request.artifact;
  (void)policy->StorageJurisdictions(policy->EffectiveClassification(artifact));
  (void)policy->TransferJurisdictions("personal");
  (void)policy->RetentionFor(artifact);
  sov::policy::GateEvidence evidence;
  evidence.eval = sov::policy::cel::Value::StringMap(std::map<std::string, sov::policy::cel::Value>{
      {"accuracy", sov::policy::cel::Value::Double(0.97)}});
  evidence.validation_datasets = {"credit-holdout@2.0.1"};
  evidence.valid_signers = {"acme-ml"};
  (void)policy->EvaluateGates(artifact, evidence);
  return 0;
}
