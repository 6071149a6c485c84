// Erasure end to end through a real `sovd --dev`: a personal dataset whose bytes hold a unique
// marker and a model trained on it (released; the policy's release gates are removed so that
// the test does not depend on validation) are pushed and fetched; the compliance officer erases
// the dataset. Afterwards no call returns its bytes, the model is revoked by the dev policy's
// lineage rule and its fetch fails, the audit log holds the erasure record signed by the registry
// key, and neither the marker nor the wrapped data key's bytes are anywhere in the data
// directory (database, WAL, blobs, staging), while sovd runs and after it stopped. Also the
// pusher's retain_until, stored, planned and applied by a retention sweep.
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/dsse.h"
#include "crypto/ed25519.h"
#include "sov/v1/governance.grpc.pb.h"
#include "tests/integration/registry_client.h"

namespace sov {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using sov::testing::Describe;
using sov::testing::FetchResult;

constexpr char kDataset[] = "acme-ml/fraud/customers";
constexpr char kModel[] = "acme-ml/fraud/scorer";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every regular file under `dir` whose bytes contain `needle`.
std::vector<std::string> FilesContaining(const std::string& dir, const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    if (ReadAll(entry.path().string()).find(needle) != std::string::npos) {
      out.push_back(entry.path().string());
    }
  }
  return out;
}

// The wrapped data key of the artifact name@version, read straight from the database.
std::string WrappedKey(const std::string& db_path, const std::string& name,
                       const std::string& version) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return out;
  }
  sqlite3_stmt* st = nullptr;
  const char* sql =
      "SELECT k.wrapped FROM data_keys k JOIN artifacts a ON a.id = k.artifact_id "
      "WHERE a.name = ? AND a.version = ?";
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, version.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) {
      out.assign(static_cast<const char*>(sqlite3_column_blob(st, 0)),
                 static_cast<size_t>(sqlite3_column_bytes(st, 0)));
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

crypto::DsseEnvelope FromProto(const v1::DsseEnvelope& proto) {
  crypto::DsseEnvelope envelope;
  envelope.payload_type = proto.payload_type();
  envelope.payload = proto.payload();
  for (const v1::DsseSignature& s : proto.signatures()) {
    envelope.signatures.push_back(crypto::DsseSignature{s.keyid(), s.sig()});
  }
  return envelope;
}

class ErasureEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    gateway_.RemoveReleaseGates();
    std::string error;
    ASSERT_TRUE(gateway_.Start(&error)) << error;
    acme_ = gateway_.Client("acme-ml");
    compliance_ = gateway_.Client("compliance");
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ReadAll(gateway_.File("ca.pem"));
    tls.pem_cert_chain = ReadAll(gateway_.File("clients/compliance.pem"));
    tls.pem_private_key = ReadAll(gateway_.File("clients/compliance.key"));
    governance_ = v1::GovernanceService::NewStub(
        grpc::CreateChannel(gateway_.address(), grpc::SslCredentials(tls)));
    auto key = crypto::LoadPublicKeyFile(gateway_.File("signing.pub"));
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    registry_key_ = *key;
  }

  grpc::Status Erase(const v1::EraseRequest& request, v1::EraseResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return governance_->Erase(&context, request, response);
  }

  sov::testing::DevGateway gateway_;
  std::unique_ptr<sov::testing::RegistryClient> acme_;
  std::unique_ptr<sov::testing::RegistryClient> compliance_;
  std::unique_ptr<v1::GovernanceService::Stub> governance_;
  crypto::Ed25519PublicKey registry_key_;
};

TEST_F(ErasureEndToEndTest, ErasedDataIsGoneAndDerivedModelRevoked) {
  // A marker no other run shares, in the middle of otherwise random bytes.
  std::random_device seed;
  const std::string marker = "SOV-ERASURE-MARKER-" + std::to_string(seed()) + "-" +
                             std::to_string(seed());
  const std::string dataset_bytes = sov::testing::RandomBytes(300000, 1) + marker +
                                    sov::testing::RandomBytes(5000, 2);
  grpc::Status status = acme_->Push(
      sov::testing::MakeSpec(v1::ARTIFACT_KIND_DATASET, kDataset, "1.0.0",
                             v1::CLASSIFICATION_PERSONAL),
      dataset_bytes);
  ASSERT_TRUE(status.ok()) << Describe(status);

  v1::ArtifactSpec model = sov::testing::MakeSpec(v1::ARTIFACT_KIND_MODEL, kModel, "1.0.0",
                                                  v1::CLASSIFICATION_INTERNAL);
  model.set_lawful_basis(v1::LAWFUL_BASIS_LEGITIMATE_INTERESTS);
  sov::testing::AddLineage(model, kDataset, "1.0.0");
  const std::string model_bytes = sov::testing::RandomBytes(70000, 3);
  status = acme_->Push(model, model_bytes);
  ASSERT_TRUE(status.ok()) << Describe(status);
  v1::ReleaseResponse released;
  status = acme_->Release(kModel, "1.0.0", &released, "no gate applies");
  ASSERT_TRUE(status.ok()) << Describe(status);
  ASSERT_EQ(released.artifact().stage(), v1::STAGE_RELEASED) << released.ShortDebugString();

  FetchResult fetched = acme_->Fetch(kDataset, "1.0.0");
  ASSERT_TRUE(fetched.status.ok()) << Describe(fetched.status);
  ASSERT_EQ(fetched.bytes, dataset_bytes);
  fetched = acme_->Fetch(kModel, "1.0.0");
  ASSERT_TRUE(fetched.status.ok()) << Describe(fetched.status);

  const std::string db = gateway_.File("registry.db");
  const std::string wrapped = WrappedKey(db, kDataset, "1.0.0");
  ASSERT_GE(wrapped.size(), 32u) << "no wrapped data key found in " << db;
  // Encrypted at rest from the start: the marker is nowhere even before the erasure.
  EXPECT_THAT(FilesContaining(gateway_.dir(), marker), ::testing::IsEmpty());

  // The ML team may not erase; the dry run shows what the erasure will do.
  v1::EraseRequest request;
  request.mutable_artifact()->set_name(kDataset);
  request.mutable_artifact()->set_version("1.0.0");
  request.set_reason("Art. 17 request from a data subject");
  request.set_subject_request_id("DSR-2026-0042");
  request.set_dry_run(true);
  v1::EraseResponse response;
  status = Erase(request, &response);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_FALSE(response.has_tombstone());
  ASSERT_EQ(response.effects_size(), 1);
  EXPECT_EQ(response.effects(0).new_stage(), v1::STAGE_REVOKED);
  EXPECT_TRUE(acme_->Fetch(kDataset, "1.0.0").status.ok());

  request.set_dry_run(false);
  response.Clear();
  status = Erase(request, &response);
  ASSERT_TRUE(status.ok()) << Describe(status);
  ASSERT_TRUE(response.has_tombstone());
  EXPECT_EQ(response.tombstone().erased_by().tenant_id(), "compliance");
  EXPECT_EQ(response.tombstone().subject_request_id(), "DSR-2026-0042");
  EXPECT_EQ(response.decision().effect(), v1::EFFECT_ALLOW);
  ASSERT_EQ(response.effects_size(), 1);
  const v1::LineageEffect& effect = response.effects(0);
  EXPECT_EQ(effect.artifact().name(), kModel);
  EXPECT_EQ(effect.action(), v1::LINEAGE_ACTION_REVOKE);
  EXPECT_EQ(effect.previous_stage(), v1::STAGE_RELEASED);
  EXPECT_EQ(effect.new_stage(), v1::STAGE_REVOKED);
  EXPECT_EQ(effect.rule_id(), "personal-data-erasure-revokes-models");
  EXPECT_TRUE(crypto::VerifyDsse(FromProto(response.erasure_record()), {registry_key_}).ok());

  // No call returns the bytes any more: the owner, the officer, any range.
  for (auto* client : {acme_.get(), compliance_.get()}) {
    FetchResult after = client->Fetch(kDataset, "1.0.0");
    EXPECT_FALSE(after.status.ok()) << client->tenant();
    EXPECT_TRUE(after.bytes.empty()) << client->tenant();
    EXPECT_EQ(after.bytes.find(marker), std::string::npos);
  }
  FetchResult range = acme_->Fetch(kDataset, "1.0.0", 300000, 10);
  EXPECT_FALSE(range.status.ok());
  EXPECT_EQ(range.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << Describe(range.status);
  EXPECT_THAT(range.status.error_message(), HasSubstr("erased"));
  EXPECT_THAT(range.status.error_message(), ::testing::Not(HasSubstr("DSR-2026-0042")));
  EXPECT_THAT(range.status.error_message(), ::testing::Not(HasSubstr("data subject")));

  // The model is revoked with a lineage notice; its fetch fails.
  FetchResult model_fetch = acme_->Fetch(kModel, "1.0.0");
  EXPECT_EQ(model_fetch.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << Describe(model_fetch.status);
  EXPECT_TRUE(model_fetch.bytes.empty());
  v1::GetArtifactResponse got;
  status = acme_->Get(kModel, "1.0.0", &got);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(got.artifact().stage(), v1::STAGE_REVOKED);
  ASSERT_EQ(got.artifact().lineage_notices_size(), 1);
  EXPECT_EQ(got.artifact().lineage_notices(0).erased_ancestor().name(), kDataset);
  status = compliance_->Get(kDataset, "1.0.0", &got);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(got.artifact().stage(), v1::STAGE_ERASED);
  EXPECT_EQ(got.artifact().tombstone().audit_index(), response.tombstone().audit_index());

  // The audit log holds the signed erasure record at the tombstone's index.
  v1::QueryRequest query;
  query.mutable_filter()->add_types(v1::AUDIT_EVENT_TYPE_ERASURE);
  v1::QueryResponse entries;
  status = compliance_->QueryAudit(query, &entries);
  ASSERT_TRUE(status.ok()) << Describe(status);
  ASSERT_EQ(entries.entries_size(), 1);
  const v1::AuditEntry& entry = entries.entries(0);
  EXPECT_EQ(entry.index(), response.tombstone().audit_index());
  EXPECT_EQ(entry.record().payload_type(), "application/vnd.sov.erasure.v1+json");
  EXPECT_TRUE(crypto::VerifyDsse(FromProto(entry.record()), {registry_key_}).ok());
  nlohmann::json payload = nlohmann::json::parse(entry.record().payload());
  EXPECT_EQ(payload["name"], kDataset);
  EXPECT_EQ(payload["digest"], sov::testing::DigestOf(dataset_bytes));
  EXPECT_EQ(payload["subjectRequestId"], "DSR-2026-0042");
  EXPECT_EQ(entry.leaf_data().find(marker), std::string::npos);

  // Erasing again is OK, returns the same tombstone and adds no erasure record.
  v1::EraseResponse again;
  status = Erase(request, &again);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(again.tombstone().audit_index(), response.tombstone().audit_index());

  // Nothing of the data or its key is left anywhere in the data directory: not while sovd
  // runs, not after it stopped (database, WAL, blobs, staging: every file).
  EXPECT_THAT(FilesContaining(gateway_.dir(), marker), ::testing::IsEmpty());
  EXPECT_THAT(FilesContaining(gateway_.dir(), wrapped), ::testing::IsEmpty());
  EXPECT_TRUE(WrappedKey(db, kDataset, "1.0.0").empty());
  acme_.reset();
  compliance_.reset();
  governance_.reset();
  // The files are searched again once sovd has ended (its exit status is not this test's
  // subject: a lingering connection can make the graceful stop time out).
  if (!gateway_.Stop()) gateway_.Kill();
  EXPECT_THAT(FilesContaining(gateway_.dir(), marker), ::testing::IsEmpty());
  EXPECT_THAT(FilesContaining(gateway_.dir(), wrapped), ::testing::IsEmpty());
}

// Erase is decided by the policy: the ML team (no artifact.erase) is refused and nothing
// changes; a name the caller may not see is NOT_FOUND exactly like an absent one.
TEST_F(ErasureEndToEndTest, OnlyComplianceMayErase) {
  grpc::Status status = acme_->Push(
      sov::testing::MakeSpec(v1::ARTIFACT_KIND_DATASET, kDataset, "1.0.0",
                             v1::CLASSIFICATION_PERSONAL),
      sov::testing::RandomBytes(1000, 9));
  ASSERT_TRUE(status.ok()) << Describe(status);

  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadAll(gateway_.File("ca.pem"));
  tls.pem_cert_chain = ReadAll(gateway_.File("clients/acme-ml.pem"));
  tls.pem_private_key = ReadAll(gateway_.File("clients/acme-ml.key"));
  auto acme_governance = v1::GovernanceService::NewStub(
      grpc::CreateChannel(gateway_.address(), grpc::SslCredentials(tls)));
  v1::EraseRequest request;
  request.mutable_artifact()->set_name(kDataset);
  request.mutable_artifact()->set_version("1.0.0");
  request.set_reason("cleanup");
  v1::EraseResponse response;
  grpc::ClientContext context;
  status = acme_governance->Erase(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Describe(status);
  EXPECT_TRUE(acme_->Fetch(kDataset, "1.0.0").status.ok());

  // Validation by the officer: empty reason; missing version; an absent version.
  request.set_reason("");
  status = Erase(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
  request.set_reason("x");
  request.mutable_artifact()->set_version("");
  status = Erase(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
  request.mutable_artifact()->set_version("9.9.9");
  status = Erase(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(status);
  EXPECT_EQ(status.error_message(), "artifact acme-ml/fraud/customers@9.9.9 not found");
}

// `sovctl erase` with the dev config: refused for the ML team; without a terminal it needs
// --yes; --dry-run and the real erasure print the effects; --output json is the EraseResponse.
TEST_F(ErasureEndToEndTest, SovctlErase) {
  const std::string sovctl = sov::testing::BuildPath("cli/sovctl");
  ASSERT_FALSE(sovctl.empty());
  grpc::Status status = acme_->Push(
      sov::testing::MakeSpec(v1::ARTIFACT_KIND_DATASET, kDataset, "1.0.0",
                             v1::CLASSIFICATION_PERSONAL),
      sov::testing::RandomBytes(2000, 5));
  ASSERT_TRUE(status.ok()) << Describe(status);
  v1::ArtifactSpec model = sov::testing::MakeSpec(v1::ARTIFACT_KIND_MODEL, kModel, "1.0.0",
                                                  v1::CLASSIFICATION_INTERNAL);
  model.set_lawful_basis(v1::LAWFUL_BASIS_LEGITIMATE_INTERESTS);
  sov::testing::AddLineage(model, kDataset, "1.0.0");
  status = acme_->Push(model, sov::testing::RandomBytes(2000, 6));
  ASSERT_TRUE(status.ok()) << Describe(status);

  sov::testing::Environment as_acme = sov::testing::MinimalEnvironment();
  as_acme["SOV_CONFIG"] = gateway_.File("sovctl.yaml");
  sov::testing::Environment as_officer = as_acme;
  as_officer["SOV_CERT"] = gateway_.File("clients/compliance.pem");
  as_officer["SOV_KEY"] = gateway_.File("clients/compliance.key");
  auto run = [&](const sov::testing::Environment& env, std::vector<std::string> args) {
    args.insert(args.begin(), sovctl);
    return sov::testing::RunProcess(args, env, std::chrono::seconds(60));
  };
  const std::string ref = std::string(kDataset) + "@1.0.0";

  auto denied = run(as_acme, {"erase", ref, "--reason", "cleanup", "--yes"});
  EXPECT_EQ(denied.exit_code, 1) << denied.err;
  EXPECT_THAT(denied.err, HasSubstr("PERMISSION_DENIED"));

  auto unconfirmed = run(as_officer, {"erase", ref, "--reason", "Art. 17"});
  EXPECT_EQ(unconfirmed.exit_code, 2) << unconfirmed.err;
  EXPECT_THAT(unconfirmed.err, HasSubstr("--yes"));

  auto dry = run(as_officer, {"erase", ref, "--reason", "Art. 17", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_THAT(dry.out, HasSubstr("nothing was changed"));
  EXPECT_THAT(dry.out, HasSubstr(std::string(kModel) + "@1.0.0 (model): revoke, "));
  EXPECT_THAT(dry.out, HasSubstr(" [rule personal-data-erasure-revokes-models policy.yaml:"));
  EXPECT_TRUE(acme_->Fetch(kDataset, "1.0.0").status.ok());

  auto erased = run(as_officer, {"erase", ref, "--reason", "Art. 17", "--subject-request",
                                 "DSR-7", "--yes", "--output", "json"});
  ASSERT_EQ(erased.exit_code, 0) << erased.err;
  nlohmann::json doc = nlohmann::json::parse(erased.out);
  EXPECT_EQ(doc["tombstone"]["reason"], "Art. 17");
  EXPECT_EQ(doc["tombstone"]["subjectRequestId"], "DSR-7");
  EXPECT_EQ(doc["erasureRecord"]["payloadType"], "application/vnd.sov.erasure.v1+json");
  ASSERT_EQ(doc["effects"].size(), 1u);
  EXPECT_EQ(doc["effects"][0]["action"], "LINEAGE_ACTION_REVOKE");
  EXPECT_FALSE(acme_->Fetch(kDataset, "1.0.0").status.ok());

  auto again = run(as_officer, {"erase", ref, "--reason", "again", "-y"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("reason:"));
  EXPECT_THAT(again.out, HasSubstr("Art. 17"));
  EXPECT_THAT(again.out, HasSubstr("application/vnd.sov.erasure.v1+json, signed by sha256:"));
  EXPECT_THAT(again.out, HasSubstr("erased_by:"));
}

// The pusher's retain_until end to end through sovd: the dev policy keeps personal data 730
// days, but the pusher asked for an hour ago. The value is stored as asked (its own database
// column, the signed manifest), the plan names the rule retain_until with no policy location
// (sovctl prints "retain_until (set at push)"), and a sweep erases the artifact. A retain_until
// out of a Timestamp's range is refused. The background sweep is off, so only the test sweeps.
TEST(RetainUntilEndToEndTest, StoredPlannedAndErasedBySweep) {
  sov::testing::DevGateway gateway;
  std::ofstream(gateway.File("policy.yaml"), std::ios::app) << R"(
  - id: compliance-retention
    effect: allow
    actions: [retention.read, retention.sweep]
    principals: {roles: [compliance-officer]}
    reason: Compliance officers plan and apply retention.
)";
  std::ofstream(gateway.File("sovd.yaml"), std::ios::app) << "\nretention:\n  sweep_interval: 0\n";
  std::string error;
  ASSERT_TRUE(gateway.Start(&error)) << error;
  auto acme = gateway.Client("acme-ml");

  const int64_t until_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(
          (std::chrono::system_clock::now() - std::chrono::hours(1)).time_since_epoch())
          .count();
  v1::ArtifactSpec spec = sov::testing::MakeSpec(v1::ARTIFACT_KIND_DATASET, kDataset, "1.0.0",
                                                 v1::CLASSIFICATION_PERSONAL);
  spec.mutable_retain_until()->set_seconds(until_seconds);
  spec.mutable_retain_until()->set_nanos(5000);
  grpc::Status status = acme->Push(spec, sov::testing::RandomBytes(4000, 11));
  ASSERT_TRUE(status.ok()) << Describe(status);

  // Stored as asked, in its own column (nanoseconds), and in the signed manifest.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(gateway.File("registry.db").c_str(), &db, SQLITE_OPEN_READONLY,
                              nullptr),
              SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT retain_until FROM artifacts WHERE name = ?", -1, &st,
                                 nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_bind_text(st, 1, kDataset, -1, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int64(st, 0), until_seconds * 1000000000 + 5000);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  v1::GetArtifactResponse got;
  status = acme->Get(kDataset, "1.0.0", &got);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(got.artifact().retention_deadline().seconds(), until_seconds);
  EXPECT_EQ(got.artifact().retention_action(), v1::RETENTION_ACTION_ERASE);
  // The pusher's limit as asked, apart from the deadline (the API's microsecond precision).
  ASSERT_TRUE(got.artifact().has_retain_until());
  EXPECT_EQ(got.artifact().retain_until().seconds(), until_seconds);
  EXPECT_EQ(got.artifact().retain_until().nanos(), 5000);
  nlohmann::json statement = nlohmann::json::parse(got.manifest().payload());
  EXPECT_TRUE(statement["predicate"]["retention"].contains("retainUntil"))
      << statement["predicate"].dump();

  // The plan: rule retain_until, no location, erase at retain_until.
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadAll(gateway.File("ca.pem"));
  tls.pem_cert_chain = ReadAll(gateway.File("clients/compliance.pem"));
  tls.pem_private_key = ReadAll(gateway.File("clients/compliance.key"));
  auto governance = v1::GovernanceService::NewStub(
      grpc::CreateChannel(gateway.address(), grpc::SslCredentials(tls)));
  v1::GetRetentionPlanResponse plan;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    status = governance->GetRetentionPlan(&context, v1::GetRetentionPlanRequest(), &plan);
  }
  ASSERT_TRUE(status.ok()) << Describe(status);
  ASSERT_EQ(plan.items_size(), 1) << plan.ShortDebugString();
  EXPECT_EQ(plan.items(0).artifact().name(), kDataset);
  EXPECT_EQ(plan.items(0).rule_id(), "retain_until");
  EXPECT_FALSE(plan.items(0).has_rule_location());
  EXPECT_EQ(plan.items(0).action(), v1::RETENTION_ACTION_ERASE);
  EXPECT_EQ(plan.items(0).deadline().seconds(), until_seconds);

  sov::testing::Environment as_officer = sov::testing::MinimalEnvironment();
  as_officer["SOV_CONFIG"] = gateway.File("sovctl.yaml");
  as_officer["SOV_CERT"] = gateway.File("clients/compliance.pem");
  as_officer["SOV_KEY"] = gateway.File("clients/compliance.key");
  auto printed = sov::testing::RunProcess(
      {sov::testing::BuildPath("cli/sovctl"), "retention", "plan"}, as_officer,
      std::chrono::seconds(60));
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  EXPECT_THAT(printed.out, HasSubstr("retain_until (set at push)"));

  // The sweep erases it.
  v1::SweepRetentionResponse swept;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    status = governance->SweepRetention(&context, v1::SweepRetentionRequest(), &swept);
  }
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(swept.erased_count(), 1) << swept.ShortDebugString();
  status = acme->Get(kDataset, "1.0.0", &got);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(got.artifact().stage(), v1::STAGE_ERASED);
  EXPECT_THAT(got.artifact().tombstone().reason(), HasSubstr("retain_until (set at push)"));

  // Out of a Timestamp's range: refused before anything is stored.
  v1::ArtifactSpec bad = sov::testing::MakeSpec(v1::ARTIFACT_KIND_DATASET, kDataset, "2.0.0",
                                                v1::CLASSIFICATION_PERSONAL);
  bad.mutable_retain_until()->set_seconds(int64_t{1} << 62);
  v1::Upload upload;
  status = acme->CreateUpload(bad, 10, &upload);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
  EXPECT_THAT(status.error_message(), HasSubstr("retain_until"));

  acme.reset();
  governance.reset();
  if (!gateway.Stop()) gateway.Kill();
}

}  // namespace
}  // namespace sov
