// Shows that a real sovd keeps tenants apart: partner-us (and compliance, where the policy does
// not let it see) can neither read, list, sign, release, revoke nor touch the uploads of
// acme-ml's unreleased artifacts, and cannot even learn that they exist: every answer equals the
// answer for a name that does not exist.
#include <functional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/dsse.h"
#include "tests/integration/registry_client.h"

namespace sov {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using sov::testing::Describe;
using sov::testing::MakeSpec;
using sov::testing::RegistryClient;
using sov::testing::ReplaceAll;

constexpr char kData[] = "acme-ml/secret/data";
constexpr char kModel[] = "acme-ml/secret/model";
constexpr char kAbsent[] = "acme-ml/secret/nothing";
constexpr char kVersion[] = "1.0.0";
constexpr char kAbsentVersion[] = "9.9.9";
constexpr char kOpenVersion[] = "2.0.0";   // held by an open upload
constexpr char kFreeVersion[] = "3.0.0";   // never used

// `hidden` (the answer about an existing artifact) must equal `absent` (the same call about one
// that does not exist) once the references are swapped: same code, message and details.
void ExpectIndistinguishable(const std::string& what, const grpc::Status& hidden,
                             const grpc::Status& absent, const std::string& hidden_text,
                             const std::string& absent_text) {
  EXPECT_EQ(hidden.error_code(), absent.error_code())
      << what << ": existing -> " << Describe(hidden) << " | absent -> " << Describe(absent);
  EXPECT_EQ(ReplaceAll(hidden.error_message(), hidden_text, absent_text), absent.error_message())
      << what;
  EXPECT_EQ(ReplaceAll(hidden.error_details(), hidden_text, absent_text), absent.error_details())
      << what;
}

class RegistryIsolationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(gateway_.Start(&error)) << error;
    acme_ = gateway_.Client("acme-ml");
    partner_ = gateway_.Client("partner-us");
    compliance_ = gateway_.Client("compliance");

    data_bytes_ = sov::testing::RandomBytes(64 * 1024, 1);
    v1::PushResponse pushed;
    grpc::Status status = acme_->Push(
        MakeSpec(v1::ARTIFACT_KIND_DATASET, kData, kVersion, v1::CLASSIFICATION_INTERNAL),
        data_bytes_, &pushed);
    ASSERT_TRUE(status.ok()) << Describe(status);
    ASSERT_EQ(pushed.artifact().stage(), v1::STAGE_PENDING);

    v1::ArtifactSpec model =
        MakeSpec(v1::ARTIFACT_KIND_MODEL, kModel, kVersion, v1::CLASSIFICATION_INTERNAL);
    sov::testing::AddLineage(model, kData, kVersion);
    status = acme_->Push(model, sov::testing::RandomBytes(32 * 1024, 2), &pushed);
    ASSERT_TRUE(status.ok()) << Describe(status);
    ASSERT_NE(pushed.artifact().stage(), v1::STAGE_RELEASED);

    // An upload left open with some bytes in it.
    v1::Upload upload;
    const std::string open_bytes = sov::testing::RandomBytes(2 << 20, 3);
    status = acme_->CreateUpload(
        MakeSpec(v1::ARTIFACT_KIND_DATASET, kData, kOpenVersion, v1::CLASSIFICATION_INTERNAL),
        static_cast<int64_t>(open_bytes.size() * 2), &upload);
    ASSERT_TRUE(status.ok()) << Describe(status);
    v1::PushResponse paused;
    sov::testing::PushOptions no_commit;
    no_commit.commit = false;
    status = acme_->PushBytes(upload.upload_id(), 0, open_bytes, no_commit, &paused);
    ASSERT_TRUE(status.ok()) << Describe(status);
    open_upload_ = paused.upload();
    ASSERT_EQ(open_upload_.state(), v1::UPLOAD_STATE_OPEN);
    // An id of the same shape that names no upload.
    absent_upload_id_ = open_upload_.upload_id();
    char& last = absent_upload_id_.back();
    last = last == 'A' ? 'B' : 'A';
  }

  void TearDown() override {
    acme_.reset();
    partner_.reset();
    compliance_.reset();
    EXPECT_TRUE(gateway_.Stop()) << gateway_.sovd()->Stderr();
  }

  // Runs `call` as `client` on the existing kData/kModel and on absent references and checks
  // that the answers are the same NOT_FOUND.
  void ExpectHidden(RegistryClient& client, const std::string& what,
                    const std::function<grpc::Status(RegistryClient&, const std::string&,
                                                     const std::string&)>& call) {
    for (const std::string existing : {kData, kModel}) {
      const grpc::Status hidden = call(client, existing, kVersion);
      EXPECT_EQ(hidden.error_code(), grpc::StatusCode::NOT_FOUND)
          << client.tenant() << " " << what << " " << existing << ": " << Describe(hidden);
      EXPECT_THAT(hidden.error_message(), Not(HasSubstr("denied")));
      ExpectIndistinguishable(client.tenant() + " " + what + " (absent name)", hidden,
                              call(client, kAbsent, kVersion), existing, kAbsent);
      ExpectIndistinguishable(client.tenant() + " " + what + " (absent version)", hidden,
                              call(client, existing, kAbsentVersion), kVersion, kAbsentVersion);
    }
  }

  sov::testing::DevGateway gateway_;
  std::unique_ptr<RegistryClient> acme_;
  std::unique_ptr<RegistryClient> partner_;
  std::unique_ptr<RegistryClient> compliance_;
  std::string data_bytes_;
  v1::Upload open_upload_;
  std::string absent_upload_id_;
};

TEST_F(RegistryIsolationTest, OwnerSeesGetsListsAndFetchesItsOwn) {
  // The positive path: acme-ml reads both artifacts, lists them, fetches the bytes, sees its
  // open upload.
  v1::GetArtifactResponse got;
  grpc::Status status = acme_->Get(kData, kVersion, &got);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(got.artifact().owner_tenant(), "acme-ml");
  EXPECT_EQ(got.artifact().digest(), sov::testing::DigestOf(data_bytes_));
  status = acme_->Get(kModel, kVersion, &got);
  EXPECT_TRUE(status.ok()) << Describe(status);

  sov::testing::FetchResult fetched = acme_->Fetch(kData, kVersion);
  ASSERT_TRUE(fetched.status.ok()) << Describe(fetched.status);
  EXPECT_EQ(fetched.bytes, data_bytes_);

  v1::ListArtifactsRequest list;
  list.set_name_prefix("acme-ml/");
  v1::ListArtifactsResponse listed;
  status = acme_->List(list, &listed);
  ASSERT_TRUE(status.ok()) << Describe(status);
  std::vector<std::string> names;
  for (const auto& a : listed.artifacts()) names.push_back(a.name() + "@" + a.version());
  EXPECT_EQ(names, (std::vector<std::string>{std::string(kData) + "@1.0.0",
                                             std::string(kModel) + "@1.0.0"}));

  // Page by page, one at a time, the same two.
  names.clear();
  list.set_page_size(1);
  for (int page = 0; page < 5; ++page) {
    listed.Clear();
    status = acme_->List(list, &listed);
    ASSERT_TRUE(status.ok()) << Describe(status);
    for (const auto& a : listed.artifacts()) names.push_back(a.name() + "@" + a.version());
    if (listed.next_page_token().empty()) break;
    list.set_page_token(listed.next_page_token());
    // The token is sealed to these filters: with another prefix, or edited, it is refused.
    v1::ListArtifactsRequest other = list;
    other.set_name_prefix("acme-ml/fraud");
    v1::ListArtifactsResponse ignored;
    EXPECT_EQ(acme_->List(other, &ignored).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    other = list;
    Result<std::string> bytes = crypto::Base64Decode(listed.next_page_token());
    ASSERT_TRUE(bytes.ok());
    other.set_page_token(crypto::Base64UrlEncode(*bytes + "x"));  // a later start, chosen
    EXPECT_EQ(acme_->List(other, &ignored).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  EXPECT_EQ(names, (std::vector<std::string>{std::string(kData) + "@1.0.0",
                                             std::string(kModel) + "@1.0.0"}));

  v1::Upload upload;
  status = acme_->GetUpload(open_upload_.upload_id(), &upload);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(upload.state(), v1::UPLOAD_STATE_OPEN);
  EXPECT_EQ(upload.committed_offset(), open_upload_.committed_offset());
}

TEST_F(RegistryIsolationTest, ArtifactCallsAnswerAsIfTheArtifactDidNotExist) {
  // GetArtifact, Fetch, Sign, Release, Revoke and GetLineage by partner-us: the same NOT_FOUND,
  // message and details as for an absent name or version in acme-ml's namespace.
  using Call = std::function<grpc::Status(RegistryClient&, const std::string&,
                                          const std::string&)>;
  const std::vector<std::pair<std::string, Call>> calls = {
      {"GetArtifact",
       [](RegistryClient& c, const std::string& n, const std::string& v) {
         v1::GetArtifactResponse r;
         return c.Get(n, v, &r);
       }},
      {"GetArtifact(latest)",
       [](RegistryClient& c, const std::string& n, const std::string&) {
         v1::GetArtifactResponse r;
         return c.Get(n, "", &r);
       }},
      {"GetArtifact(wrong digest pin)",
       [](RegistryClient& c, const std::string& n, const std::string& v) {
         grpc::ClientContext context;
         context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
         v1::GetArtifactRequest request;
         request.mutable_artifact()->set_name(n);
         request.mutable_artifact()->set_version(v);
         request.mutable_artifact()->set_digest("sha256:" + std::string(64, '0'));
         v1::GetArtifactResponse r;
         return c.registry().GetArtifact(&context, request, &r);
       }},
      {"Fetch", [](RegistryClient& c, const std::string& n,
                   const std::string& v) { return c.Fetch(n, v).status; }},
      {"Fetch(latest)", [](RegistryClient& c, const std::string& n,
                           const std::string&) { return c.Fetch(n, "").status; }},
      {"Fetch(range)", [](RegistryClient& c, const std::string& n,
                          const std::string& v) { return c.Fetch(n, v, 10, 10).status; }},
      {"Sign",
       [](RegistryClient& c, const std::string& n, const std::string& v) {
         v1::SignRequest request;
         request.mutable_artifact()->set_name(n);
         request.mutable_artifact()->set_version(v);
         v1::DsseSignature* sig = request.add_signatures();
         sig->set_keyid("sha256:" + std::string(64, 'a'));
         sig->set_sig(std::string(64, '\x01'));
         return c.Sign(request);
       }},
      {"Release", [](RegistryClient& c, const std::string& n,
                     const std::string& v) { return c.Release(n, v, nullptr, "ship it"); }},
      {"Revoke", [](RegistryClient& c, const std::string& n,
                    const std::string& v) { return c.Revoke(n, v, "withdrawn"); }},
  };
  for (const auto& [what, call] : calls) ExpectHidden(*partner_, what, call);

  // GetLineage: whatever it answers (it may not be served yet), the same for both.
  v1::GetLineageResponse lineage;
  const grpc::Status hidden = partner_->GetLineage(kData, kVersion, &lineage);
  EXPECT_NE(hidden.error_code(), grpc::StatusCode::OK) << "lineage of a hidden artifact";
  v1::GetLineageResponse absent_lineage;
  ExpectIndistinguishable("GetLineage", hidden,
                          partner_->GetLineage(kAbsent, kVersion, &absent_lineage), kData,
                          kAbsent);

  // Nothing changed: acme-ml's artifacts are still PENDING, unsigned by anyone else.
  v1::GetArtifactResponse got;
  ASSERT_TRUE(acme_->Get(kData, kVersion, &got).ok());
  EXPECT_EQ(got.artifact().stage(), v1::STAGE_PENDING);
  EXPECT_EQ(got.artifact().signatures_size(), 1);
}

TEST_F(RegistryIsolationTest, ListingRevealsNothingOfAnotherTenant) {
  // ListArtifacts by partner-us, whatever the filter or page size, shows none of acme-ml's
  // artifacts, and its page tokens do not reveal that any are there.
  std::vector<v1::ListArtifactsRequest> requests(7);
  requests[0].set_name_prefix("acme-ml/");
  requests[1].set_name(kData);
  requests[2].set_owner_tenant("acme-ml");
  // requests[3]: no filter at all.
  requests[4].set_name_prefix("acme-ml/");
  requests[4].set_page_size(1);
  requests[5].add_stages(v1::STAGE_PENDING);
  requests[5].add_stages(v1::STAGE_VALIDATING);
  requests[6].set_kind(v1::ARTIFACT_KIND_DATASET);
  requests[6].set_page_size(1);
  for (size_t i = 0; i < requests.size(); ++i) {
    v1::ListArtifactsResponse response;
    grpc::Status status = partner_->List(requests[i], &response);
    ASSERT_TRUE(status.ok()) << i << ": " << Describe(status);
    EXPECT_EQ(response.artifacts_size(), 0)
        << "request " << i << " shows " << response.artifacts(0).name();
    std::string decoded;
    if (!response.next_page_token().empty()) {
      Result<std::string> text = crypto::Base64Decode(response.next_page_token());
      if (text.ok()) decoded = *text;
    }
    EXPECT_EQ(response.next_page_token(), "")
        << "request " << i << " (" << requests[i].ShortDebugString()
        << "): an empty page with a next_page_token tells partner-us that hidden artifacts "
           "exist; the token decodes to '"
        << decoded << "'";
  }
  // compliance may list acme-ml's artifacts (compliance-oversight), acme-ml too.
  v1::ListArtifactsResponse response;
  ASSERT_TRUE(compliance_->List(requests[0], &response).ok());
  EXPECT_EQ(response.artifacts_size(), 2);
}

TEST_F(RegistryIsolationTest, UploadsOfAnotherTenantAreNotFound) {
  // GetUpload, CancelUpload and Push with acme-ml's upload id, by partner-us and by compliance:
  // NOT_FOUND exactly as for an id that names no upload; the upload stays open and untouched.
  const std::string id = open_upload_.upload_id();
  for (RegistryClient* client : {partner_.get(), compliance_.get()}) {
    v1::Upload ignored;
    grpc::Status hidden = client->GetUpload(id, &ignored);
    EXPECT_EQ(hidden.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(hidden);
    ExpectIndistinguishable(client->tenant() + " GetUpload", hidden,
                            client->GetUpload(absent_upload_id_, &ignored), id,
                            absent_upload_id_);

    hidden = client->CancelUpload(id, &ignored);
    EXPECT_EQ(hidden.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(hidden);
    ExpectIndistinguishable(client->tenant() + " CancelUpload", hidden,
                            client->CancelUpload(absent_upload_id_, &ignored), id,
                            absent_upload_id_);

    sov::testing::PushOptions options;
    options.digest = "sha256:" + std::string(64, '0');
    const std::string bytes(1000, 'x');
    v1::PushResponse pushed;
    hidden = client->PushBytes(id, open_upload_.committed_offset(), bytes, options, &pushed);
    EXPECT_EQ(hidden.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(hidden);
    ExpectIndistinguishable(client->tenant() + " Push", hidden,
                            client->PushBytes(absent_upload_id_, open_upload_.committed_offset(),
                                              bytes, options, &pushed),
                            id, absent_upload_id_);
  }
  v1::Upload upload;
  grpc::Status status = acme_->GetUpload(id, &upload);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(upload.state(), v1::UPLOAD_STATE_OPEN);
  EXPECT_EQ(upload.committed_offset(), open_upload_.committed_offset());
}

TEST_F(RegistryIsolationTest, PushIntoAnotherNamespaceRevealsNothing) {
  // CreateUpload under "acme-ml/..." by partner-us or compliance is refused with the same answer
  // whether the version is taken, held by an open upload, or free; a lineage reference to a
  // hidden artifact answers like one to an absent artifact.
  for (RegistryClient* client : {partner_.get(), compliance_.get()}) {
    auto create = [&](const std::string& name, const std::string& version) {
      v1::Upload ignored;
      return client->CreateUpload(
          MakeSpec(v1::ARTIFACT_KIND_DATASET, name, version, v1::CLASSIFICATION_INTERNAL), 10,
          &ignored);
    };
    const grpc::Status taken = create(kData, kVersion);
    EXPECT_FALSE(taken.ok());
    EXPECT_NE(taken.error_code(), grpc::StatusCode::ALREADY_EXISTS) << Describe(taken);
    ExpectIndistinguishable(client->tenant() + " CreateUpload(open upload)",
                            create(kData, kOpenVersion), taken, kOpenVersion, kVersion);
    ExpectIndistinguishable(client->tenant() + " CreateUpload(free version)",
                            create(kData, kFreeVersion), taken, kFreeVersion, kVersion);
    ExpectIndistinguishable(client->tenant() + " CreateUpload(absent name)", taken,
                            create(kAbsent, kVersion), kData, kAbsent);
  }

  auto lineage = [&](const std::string& parent) {
    v1::ArtifactSpec spec = MakeSpec(v1::ARTIFACT_KIND_MODEL, "partner-us/fraud/model", kVersion,
                                     v1::CLASSIFICATION_INTERNAL);
    sov::testing::AddLineage(spec, parent, kVersion);
    v1::Upload ignored;
    return partner_->CreateUpload(spec, 10, &ignored);
  };
  const grpc::Status hidden = lineage(kData);
  EXPECT_EQ(hidden.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(hidden);
  ExpectIndistinguishable("partner-us CreateUpload(lineage)", hidden, lineage(kAbsent), kData,
                          kAbsent);
}

TEST_F(RegistryIsolationTest, ComplianceSeesButCannotFetchOrSign) {
  // The policy lets compliance see every artifact (compliance-oversight) but not fetch its bytes
  // or sign it: PERMISSION_DENIED naming the decision, and no byte is sent.
  v1::GetArtifactResponse got;
  grpc::Status status = compliance_->Get(kData, kVersion, &got);
  EXPECT_TRUE(status.ok()) << Describe(status);

  sov::testing::FetchResult fetched = compliance_->Fetch(kData, kVersion);
  EXPECT_EQ(fetched.status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << Describe(fetched.status);
  EXPECT_EQ(fetched.bytes, "");
  EXPECT_THAT(fetched.status.error_message(), HasSubstr("artifact.fetch"));

  v1::SignRequest sign;
  sign.mutable_artifact()->set_name(kData);
  sign.mutable_artifact()->set_version(kVersion);
  v1::DsseSignature* sig = sign.add_signatures();
  sig->set_keyid("sha256:" + std::string(64, 'a'));
  sig->set_sig(std::string(64, '\x01'));
  status = compliance_->Sign(sign);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Describe(status);
  EXPECT_THAT(status.error_message(), HasSubstr("artifact.sign"));

  // And partner-us cannot read acme-ml's quota either.
  v1::GetQuotaResponse quota;
  status = partner_->GetQuota("acme-ml", &quota);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Describe(status);
  EXPECT_EQ(quota.used_bytes(), 0);
}

}  // namespace
}  // namespace sov
