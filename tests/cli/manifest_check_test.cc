// Shows the checks `sovctl pull` and `sovctl verify` make of an artifact's manifest, publisher signatures, stage and local copy.
#include "cli/manifest_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/proto_interop.h"
#include "crypto/dsse.h"
#include "crypto/intoto.h"
#include "crypto/sha256.h"

namespace sov::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ManifestCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    digest_ = crypto::Sha256Of("the weights");
    artifact_.set_name("acme-ml/fraud/classifier");
    artifact_.set_version("1.4.0");
    artifact_.set_digest(digest_.ToString());
    artifact_.set_stage(v1::STAGE_RELEASED);
    manifest_ = Manifest(artifact_.name(), digest_, std::string(kManifestPredicateType));
    artifact_.set_manifest_digest(crypto::Sha256Of(manifest_.payload()).ToString());
  }

  v1::DsseEnvelope Manifest(const std::string& name, const crypto::Digest& digest,
                            const std::string& predicate_type) {
    crypto::Statement statement;
    statement.subject.push_back(crypto::SubjectFor(name, digest));
    statement.predicate_type = predicate_type;
    statement.predicate = {{"version", "1.4.0"}};
    return ToProtoEnvelope(crypto::SignStatement(statement, registry_));
  }

  std::vector<std::string> Names(const ManifestVerification& v) {
    std::vector<std::string> names;
    for (const ArtifactCheck& check : v.checks) names.push_back(check.name + (check.ok ? "" : "!"));
    return names;
  }

  crypto::Ed25519PrivateKey registry_ = crypto::Ed25519PrivateKey::Generate();
  crypto::Digest digest_;
  v1::Artifact artifact_;
  v1::DsseEnvelope manifest_;
};

// A registry-signed manifest about the record's name and digest passes every check.
TEST_F(ManifestCheckTest, GoodManifest) {
  ManifestVerification v = VerifyManifest(artifact_, manifest_, {registry_.public_key()});
  EXPECT_TRUE(v.ok()) << v.FirstFailure();
  EXPECT_THAT(Names(v), ElementsAre("registry signature", "statement", "subject", "manifest digest"));
  EXPECT_THAT(v.registry_key_ids, ElementsAre(registry_.public_key().KeyId()));
  EXPECT_EQ(v.FirstFailure(), "");
}

// A subject named name@version is the same artifact.
TEST_F(ManifestCheckTest, SubjectWithVersion) {
  manifest_ = Manifest("acme-ml/fraud/classifier@1.4.0", digest_, std::string(kManifestPredicateType));
  artifact_.clear_manifest_digest();
  EXPECT_TRUE(VerifyManifest(artifact_, manifest_, {registry_.public_key()}).ok());
}

// A manifest signed by another key stops at the signature: nothing else is believed.
TEST_F(ManifestCheckTest, WrongRegistryKey) {
  crypto::Ed25519PrivateKey other = crypto::Ed25519PrivateKey::Generate();
  ManifestVerification v = VerifyManifest(artifact_, manifest_, {other.public_key()});
  EXPECT_FALSE(v.ok());
  EXPECT_THAT(Names(v), ElementsAre("registry signature!"));
  EXPECT_THAT(v.FirstFailure(), HasSubstr("no trusted registry key signed the manifest"));
}

// A record whose digest is not the signed subject's fails the subject check.
TEST_F(ManifestCheckTest, RecordDigestDiffers) {
  artifact_.set_digest(crypto::Sha256Of("other bytes").ToString());
  ManifestVerification v = VerifyManifest(artifact_, manifest_, {registry_.public_key()});
  EXPECT_FALSE(v.ok());
  EXPECT_THAT(v.FirstFailure(), HasSubstr("subject: the record says sha256:"));
  EXPECT_THAT(v.FirstFailure(), HasSubstr("but the signed manifest says acme-ml/fraud/classifier sha256:"));
}

// The right digest under another name is refused too.
TEST_F(ManifestCheckTest, SubjectNameDiffers) {
  manifest_ = Manifest("acme-ml/other", digest_, std::string(kManifestPredicateType));
  artifact_.clear_manifest_digest();
  EXPECT_THAT(VerifyManifest(artifact_, manifest_, {registry_.public_key()}).FirstFailure(),
              HasSubstr("is not named acme-ml/fraud/classifier"));
}

// A registry-signed statement of another kind (an evaluation report) is not a manifest.
TEST_F(ManifestCheckTest, OtherPredicateType) {
  manifest_ = Manifest(artifact_.name(), digest_, "https://sovereign.dev/attestations/evaluation/v1");
  ManifestVerification v = VerifyManifest(artifact_, manifest_, {registry_.public_key()});
  EXPECT_THAT(v.FirstFailure(), HasSubstr("statement: predicate type is"));
}

// The record's manifest_digest must be the payload's digest.
TEST_F(ManifestCheckTest, ManifestDigestDiffers) {
  artifact_.set_manifest_digest(crypto::Sha256Of("x").ToString());
  EXPECT_THAT(VerifyManifest(artifact_, manifest_, {registry_.public_key()}).FirstFailure(),
              HasSubstr("manifest digest: the manifest payload has"));
}

// No manifest at all (an erased artifact) fails with a reason.
TEST_F(ManifestCheckTest, MissingManifest) {
  artifact_.set_stage(v1::STAGE_ERASED);
  EXPECT_THAT(VerifyManifest(artifact_, v1::DsseEnvelope(), {registry_.public_key()}).FirstFailure(),
              HasSubstr("sent no manifest for acme-ml/fraud/classifier@1.4.0 (it is erased)"));
}

class PublisherCheckTest : public ManifestCheckTest {
 protected:
  // Adds `key`'s signature to the manifest, and to the record's list when `listed`.
  void Sign(const crypto::Ed25519PrivateKey& key, bool listed = true) {
    v1::DsseSignature* sig = manifest_.add_signatures();
    sig->set_keyid(key.public_key().KeyId());
    sig->set_sig(key.Sign(crypto::Pae(manifest_.payload_type(), manifest_.payload())));
    if (listed) {
      v1::SignatureInfo* info = artifact_.add_signatures();
      info->set_keyid(key.public_key().KeyId());
      info->set_role(v1::SIGNER_ROLE_PUBLISHER);
      info->set_signer("acme-ml");
      info->set_key_state(v1::KEY_STATE_ACTIVE);
    }
  }
  void Know(const crypto::Ed25519PrivateKey& key, v1::KeyState state = v1::KEY_STATE_ACTIVE) {
    publishers_[key.public_key().KeyId()] = {key.public_key(), "acme-ml", state};
  }

  crypto::Ed25519PrivateKey alice_ = crypto::Ed25519PrivateKey::Generate();
  crypto::Ed25519PrivateKey bob_ = crypto::Ed25519PrivateKey::Generate();
  std::map<std::string, PublisherKey> publishers_;
};

// Valid signatures by known keys count toward the threshold.
TEST_F(PublisherCheckTest, CountsValidSignatures) {
  Sign(alice_);
  Sign(bob_);
  Know(alice_);
  Know(bob_);
  std::vector<std::string> ids;
  ArtifactCheck two = CheckPublisherSignatures(artifact_, manifest_, publishers_, 2, &ids);
  EXPECT_TRUE(two.ok) << two.detail;
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_THAT(two.detail, HasSubstr("2 valid"));
  EXPECT_FALSE(CheckPublisherSignatures(artifact_, manifest_, publishers_, 3).ok);
}

// A signature that does not verify fails the check whatever the threshold.
TEST_F(PublisherCheckTest, BadSignatureFails) {
  Sign(alice_);
  Know(alice_);
  std::string sig = manifest_.signatures(1).sig();
  sig[0] ^= 1;
  manifest_.mutable_signatures(1)->set_sig(sig);
  ArtifactCheck check = CheckPublisherSignatures(artifact_, manifest_, publishers_, 0);
  EXPECT_FALSE(check.ok);
  EXPECT_THAT(check.detail, HasSubstr("does not verify"));
}

// A revoked key's signature verifies but does not count.
TEST_F(PublisherCheckTest, RevokedKeyDoesNotCount) {
  Sign(alice_);
  Know(alice_, v1::KEY_STATE_REVOKED);
  ArtifactCheck check = CheckPublisherSignatures(artifact_, manifest_, publishers_, 1);
  EXPECT_FALSE(check.ok);
  EXPECT_THAT(check.detail, HasSubstr("is revoked and does not count"));
  EXPECT_TRUE(CheckPublisherSignatures(artifact_, manifest_, publishers_, 0).ok);
}

// A signature the record claims but the manifest lacks is a failure.
TEST_F(PublisherCheckTest, RecordClaimsMissingSignature) {
  Sign(alice_);
  manifest_.mutable_signatures()->RemoveLast();
  Know(alice_);
  ArtifactCheck check = CheckPublisherSignatures(artifact_, manifest_, publishers_, 0);
  EXPECT_FALSE(check.ok);
  EXPECT_THAT(check.detail, HasSubstr("the record lists a signature by"));
}

// Rejected, revoked and erased artifacts fail the stage check; pending ones pass with a note.
TEST(CheckStage, UsableStages) {
  v1::Artifact artifact;
  artifact.set_stage(v1::STAGE_RELEASED);
  EXPECT_TRUE(CheckStage(artifact).ok);
  artifact.set_stage(v1::STAGE_PENDING);
  EXPECT_TRUE(CheckStage(artifact).ok);
  EXPECT_THAT(CheckStage(artifact).detail, HasSubstr("not released yet"));
  artifact.set_stage(v1::STAGE_REVOKED);
  v1::StageChange* change = artifact.add_history();
  change->set_to_stage(v1::STAGE_REVOKED);
  change->set_reason("trained on withdrawn data");
  ArtifactCheck revoked = CheckStage(artifact);
  EXPECT_FALSE(revoked.ok);
  EXPECT_EQ(revoked.detail, "revoked: trained on withdrawn data (must not be used)");
}

// A local copy must have the record's digest.
TEST(CheckFileDigest, Compares) {
  v1::Artifact artifact;
  artifact.set_digest(crypto::Sha256Of("a").ToString());
  EXPECT_TRUE(CheckFileDigest(artifact, "m.bin", crypto::Sha256Of("a").ToString()).ok);
  ArtifactCheck bad = CheckFileDigest(artifact, "m.bin", crypto::Sha256Of("b").ToString());
  EXPECT_FALSE(bad.ok);
  EXPECT_THAT(bad.detail, HasSubstr("m.bin has sha256:"));
}

}  // namespace
}  // namespace sov::cli
