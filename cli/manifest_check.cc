#include "cli/manifest_check.h"

#include <algorithm>
#include <set>

#include "cli/artifact_flags.h"
#include "cli/proto_interop.h"
#include "crypto/dsse.h"
#include "crypto/sha256.h"

namespace sov::cli {
namespace {

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

std::string RefOf(const v1::Artifact& artifact) {
  return artifact.name() + "@" + artifact.version();
}

}  // namespace

bool ManifestVerification::ok() const {
  if (checks.empty()) return false;
  for (const ArtifactCheck& check : checks) {
    if (!check.ok) return false;
  }
  return true;
}

std::string ManifestVerification::FirstFailure() const {
  for (const ArtifactCheck& check : checks) {
    if (!check.ok) return check.name + ": " + check.detail;
  }
  return checks.empty() ? "no check ran" : "";
}

ManifestVerification VerifyManifest(const v1::Artifact& artifact, const v1::DsseEnvelope& manifest,
                                     const std::vector<crypto::Ed25519PublicKey>& registry_keys) {
  ManifestVerification out;
  if (manifest.payload().empty()) {
    out.checks.push_back({"registry signature", false,
                          "the gateway sent no manifest for " + RefOf(artifact) +
                              (artifact.stage() == v1::STAGE_ERASED ? " (it is erased)" : "")});
    return out;
  }
  std::vector<std::string> key_ids;
  Result<crypto::Statement> statement =
      crypto::VerifyStatement(ToCryptoEnvelope(manifest), registry_keys, 1, &key_ids);
  if (key_ids.empty()) {
    out.checks.push_back({"registry signature", false,
                          "no trusted registry key signed the manifest: " +
                              statement.status().message()});
    return out;
  }
  out.registry_key_ids = key_ids;
  out.checks.push_back({"registry signature", true, "signed by " + Join(key_ids)});
  if (!statement.ok()) {
    out.checks.push_back({"statement", false, statement.status().message()});
    return out;
  }
  if (statement->predicate_type != kManifestPredicateType) {
    out.checks.push_back({"statement", false,
                          "predicate type is '" + statement->predicate_type + "', not '" +
                              std::string(kManifestPredicateType) + "'"});
    return out;
  }
  out.checks.push_back({"statement", true, "in-toto Statement v1, " + statement->predicate_type});

  Result<crypto::Digest> record_digest = crypto::Digest::Parse(artifact.digest());
  if (!record_digest.ok()) {
    out.checks.push_back({"subject", false,
                          "the record's digest '" + artifact.digest() + "' is malformed"});
    return out;
  }
  const std::string hex = record_digest->Hex();
  bool digest_seen = false;
  bool matched = false;
  for (const crypto::ResourceDescriptor& subject : statement->subject) {
    auto it = subject.digest.find("sha256");
    if (it == subject.digest.end() || it->second != hex) continue;
    digest_seen = true;
    if (subject.name == artifact.name() || subject.name == RefOf(artifact)) matched = true;
  }
  if (matched) {
    out.checks.push_back({"subject", true, artifact.name() + " " + artifact.digest() +
                                               " is the record's name and digest"});
  } else if (digest_seen) {
    out.checks.push_back({"subject", false, "the signed subject with digest " + artifact.digest() +
                                                " is not named " + artifact.name()});
  } else {
    std::string signed_digests;
    for (const crypto::ResourceDescriptor& subject : statement->subject) {
      auto it = subject.digest.find("sha256");
      if (it == subject.digest.end()) continue;
      if (!signed_digests.empty()) signed_digests += ", ";
      signed_digests += subject.name + " sha256:" + it->second;
    }
    out.checks.push_back({"subject", false, "the record says " + artifact.digest() +
                                                " but the signed manifest says " + signed_digests});
  }
  out.statement = std::move(statement).value();

  if (!artifact.manifest_digest().empty()) {
    const std::string payload_digest = crypto::Sha256Of(manifest.payload()).ToString();
    if (payload_digest == artifact.manifest_digest()) {
      out.checks.push_back({"manifest digest", true, payload_digest + " is the record's"});
    } else {
      out.checks.push_back({"manifest digest", false,
                            "the manifest payload has " + payload_digest + ", the record says " +
                                artifact.manifest_digest()});
    }
  }
  return out;
}

ArtifactCheck CheckPublisherSignatures(const v1::Artifact& artifact,
                                       const v1::DsseEnvelope& manifest,
                                       const std::map<std::string, PublisherKey>& publishers,
                                       size_t threshold, std::vector<std::string>* valid_key_ids) {
  ArtifactCheck check{"publisher signatures", false, ""};
  const std::string pae = crypto::Pae(manifest.payload_type(), manifest.payload());
  std::vector<std::string> valid;  // counted: verified, key not revoked
  std::set<std::string> verified;  // verified, revoked or not
  std::vector<std::string> notes;
  std::string failure;
  for (const v1::DsseSignature& signature : manifest.signatures()) {
    if (signature.keyid().empty()) {
      // The spec allows an empty keyid: try every publisher key.
      for (const auto& [id, publisher] : publishers) {
        if (crypto::Ed25519Verify(publisher.key, pae, signature.sig())) {
          verified.insert(id);
          if (publisher.state != v1::KEY_STATE_REVOKED &&
              std::find(valid.begin(), valid.end(), id) == valid.end()) {
            valid.push_back(id);
          }
        }
      }
      continue;
    }
    auto it = publishers.find(signature.keyid());
    if (it == publishers.end()) continue;  // a registry key's, or one we cannot check
    const PublisherKey& publisher = it->second;
    if (!crypto::Ed25519Verify(publisher.key, pae, signature.sig())) {
      if (failure.empty()) {
        failure = "the signature by " + signature.keyid() + " (" + publisher.owner +
                  ") does not verify";
      }
      continue;
    }
    verified.insert(signature.keyid());
    if (publisher.state == v1::KEY_STATE_REVOKED) {
      notes.push_back(signature.keyid() + " (" + publisher.owner + ") is revoked and does not count");
    } else if (std::find(valid.begin(), valid.end(), signature.keyid()) == valid.end()) {
      valid.push_back(signature.keyid());
    }
  }
  // The record's own list must agree with the envelope for every key we can check.
  for (const v1::SignatureInfo& info : artifact.signatures()) {
    if (info.role() != v1::SIGNER_ROLE_PUBLISHER || info.key_state() == v1::KEY_STATE_REVOKED) {
      continue;
    }
    if (publishers.count(info.keyid()) == 0) continue;
    if (verified.count(info.keyid()) == 0 && failure.empty()) {
      failure = "the record lists a signature by " + info.keyid() + " (" + info.signer() +
                ") that the manifest does not carry or that does not verify";
    }
  }

  std::string counted;
  for (const std::string& id : valid) {
    if (!counted.empty()) counted += ", ";
    counted += id + " (" + publishers.at(id).owner + ")";
  }
  check.detail = std::to_string(valid.size()) + " valid" +
                 (counted.empty() ? "" : " (" + counted + ")") + ", " +
                 std::to_string(threshold) + " required";
  for (const std::string& note : notes) check.detail += "; " + note;
  if (!failure.empty()) {
    check.detail = failure + "; " + check.detail;
  } else {
    check.ok = valid.size() >= threshold;
  }
  if (valid_key_ids != nullptr) *valid_key_ids = valid;
  return check;
}

ArtifactCheck CheckStage(const v1::Artifact& artifact) {
  ArtifactCheck check{"stage", false, EnumFlagName(artifact.stage())};
  switch (artifact.stage()) {
    case v1::STAGE_RELEASED:
      check.ok = true;
      break;
    case v1::STAGE_PENDING:
    case v1::STAGE_VALIDATING:
      check.ok = true;
      check.detail += " (not released yet)";
      break;
    default: {
      // The latest transition says why it may no longer be used.
      for (auto it = artifact.history().rbegin(); it != artifact.history().rend(); ++it) {
        if (it->to_stage() == artifact.stage() && !it->reason().empty()) {
          check.detail += ": " + it->reason();
          break;
        }
      }
      check.detail += " (must not be used)";
      break;
    }
  }
  return check;
}

ArtifactCheck CheckFileDigest(const v1::Artifact& artifact, const std::string& path,
                              const std::string& file_digest) {
  if (file_digest == artifact.digest()) {
    return {"file", true, path + " has " + file_digest};
  }
  return {"file", false, path + " has " + file_digest + ", the artifact " + artifact.digest()};
}

}  // namespace sov::cli
