// The registry commands other than push and pull: `sovctl ls`, `show`, `sign`, `release`,
// `revoke` and `verify`. Each parses its arguments completely before it connects (a malformed
// name is a usage error that costs no call), makes its RegistryService calls, and prints text or
// proto3 JSON.
#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/artifact_flags.h"
#include "cli/artifact_output.h"
#include "cli/artifact_ref.h"
#include "cli/commands.h"
#include "cli/gateway_connection.h"
#include "cli/listing.h"
#include "cli/manifest_check.h"
#include "cli/progress.h"
#include "cli/proto_interop.h"
#include "cli/registry_calls.h"
#include "cli/registry_key.h"
#include "cli/signed_file.h"
#include "crypto/dsse.h"
#include "crypto/ed25519.h"
#include "crypto/intoto.h"
#include "sov/v1/registry.grpc.pb.h"

namespace sov::cli {
namespace {

using nlohmann::ordered_json;

constexpr size_t kMaxReasonLength = 1024;

v1::ArtifactRef ToRef(const ArtifactRefText& ref) {
  v1::ArtifactRef out;
  out.set_name(ref.name);
  out.set_version(ref.version);
  return out;
}

// Hashes a local file for --file, with a progress bar when stderr is a terminal.
Result<FileFacts> HashLocalFile(const CommandLine& cli, const std::string& path, bool no_progress) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  ProgressBar bar(ShouldShowProgress(cli.err, no_progress) && !ec ? cli.err : nullptr, "hashing",
                  ec ? 0 : size);
  return DescribeFile(path, [&bar](uint64_t done) { bar.Update(done); });
}

// ---- ls ----

struct LsOptions {
  std::string what;
  std::string kind;
  std::vector<std::string> stages;
  std::vector<std::string> labels;
  bool all = false;
  int page_size = 0;
};

int RunLs(const CommandLine& cli, const LsOptions& opts) {
  v1::ListArtifactsRequest request;
  // NAME lists that name and everything under NAME/; TENANT or PREFIX/ lists what is under it.
  std::string under;  // when set, keep only this name and names under it
  if (!opts.what.empty()) {
    std::string base = opts.what;
    const bool prefix_only = base.ends_with('/');
    if (prefix_only) base.pop_back();
    if (base.find('/') == std::string::npos) {
      if (Status st = CheckArtifactName(base + "/x"); !st.ok()) {
        return ReportUsageError(*cli.err, "ls", "'" + opts.what + "' is not a tenant or a name");
      }
      request.set_name_prefix(base + "/");
    } else {
      if (Status st = CheckArtifactName(base); !st.ok()) {
        return ReportUsageError(*cli.err, "ls", st.message());
      }
      request.set_name_prefix(prefix_only ? base + "/" : base);
      if (!prefix_only) under = base;
    }
  }
  if (!opts.kind.empty()) {
    Result<v1::ArtifactKind> kind = ParseEnumFlag<v1::ArtifactKind>("--kind", opts.kind);
    if (!kind.ok()) return ReportUsageError(*cli.err, "ls", kind.status().message());
    request.set_kind(*kind);
  }
  if (opts.all && !opts.stages.empty()) {
    return ReportUsageError(*cli.err, "ls", "--all and --stage exclude each other");
  }
  if (opts.all) {
    for (const std::string& name : EnumFlagNames<v1::Stage>()) {
      request.add_stages(*ParseEnumFlag<v1::Stage>("--stage", name));
    }
  }
  for (const std::string& text : opts.stages) {
    Result<v1::Stage> stage = ParseEnumFlag<v1::Stage>("--stage", text);
    if (!stage.ok()) return ReportUsageError(*cli.err, "ls", stage.status().message());
    request.add_stages(*stage);
  }
  Result<std::map<std::string, std::string>> labels = ParseLabels(opts.labels);
  if (!labels.ok()) return ReportUsageError(*cli.err, "ls", labels.status().message());
  for (const auto& [key, value] : *labels) (*request.mutable_labels())[key] = value;
  request.set_page_size(opts.page_size);

  Result<GatewayConnection> connection = OpenGatewayConnection(cli.connection, cli.env);
  if (!connection.ok()) return ReportLocalError(*cli.err, connection.status());
  auto stub = v1::RegistryService::NewStub(connection->channel());
  std::vector<v1::Artifact> artifacts;
  for (;;) {
    v1::ListArtifactsResponse response;
    Status st = CallGateway([&](grpc::ClientContext& context) {
      connection->PrepareCall(context);
      response.Clear();
      return stub->ListArtifacts(&context, request, &response);
    });
    if (!st.ok()) return ReportLocalError(*cli.err, st);
    for (const v1::Artifact& artifact : response.artifacts()) {
      if (!under.empty() && artifact.name() != under && !artifact.name().starts_with(under + "/")) {
        continue;
      }
      artifacts.push_back(artifact);
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }

  return PrintListing(cli, "artifacts", artifacts, "no artifacts found", ArtifactTableHeader(),
                      ArtifactTableRow);
}

// ---- show ----

struct ShowOptions {
  std::string ref;
};

int RunShow(const CommandLine& cli, const ShowOptions& opts) {
  Result<ArtifactRefText> ref = ParseArtifactRef(opts.ref, VersionRule::kOptional);
  if (!ref.ok()) return ReportUsageError(*cli.err, "show", ref.status().message());
  Result<GatewayConnection> connection = OpenGatewayConnection(cli.connection, cli.env);
  if (!connection.ok()) return ReportLocalError(*cli.err, connection.status());
  Result<v1::GetArtifactResponse> got = GetArtifact(*connection, ToRef(*ref));
  if (!got.ok()) return ReportLocalError(*cli.err, got.status());
  if (cli.output == OutputFormat::kJson) {
    WriteJson(*cli.out, ProtoToJson(*got));
  } else {
    *cli.out << FormatKeyValues(
        ArtifactDetails(got->artifact(), got->has_manifest() ? &got->manifest() : nullptr));
  }
  return kExitOk;
}

// ---- sign ----

struct SignOptions {
  std::string ref;
  std::string key;
  std::string file;
  bool no_progress = false;
};

int RunSign(const CommandLine& cli, const SignOptions& opts) {
  Result<ArtifactRefText> ref = ParseArtifactRef(opts.ref, VersionRule::kRequired);
  if (!ref.ok()) return ReportUsageError(*cli.err, "sign", ref.status().message());
  Result<crypto::Ed25519PrivateKey> key = crypto::LoadPrivateKeyFile(opts.key);
  if (!key.ok()) return ReportLocalError(*cli.err, key.status().WithContext("signing key"));
  const std::string key_id = key->public_key().KeyId();

  Result<GatewayConnection> connection = OpenGatewayConnection(cli.connection, cli.env);
  if (!connection.ok()) return ReportLocalError(*cli.err, connection.status());
  Result<v1::GetArtifactResponse> got = GetArtifact(*connection, ToRef(*ref));
  if (!got.ok()) return ReportLocalError(*cli.err, got.status());
  const v1::Artifact& artifact = got->artifact();
  const v1::DsseEnvelope& manifest = got->manifest();

  // A signer should see what they sign: the statement must be about the record's bytes (and,
  // with --file, about the signer's own copy of them).
  if (manifest.payload().empty()) {
    return ReportLocalError(*cli.err, RefText(artifact) + " has no manifest to sign (stage " +
                                          EnumFlagName(artifact.stage()) + ")");
  }
  if (manifest.payload_type() != crypto::kInTotoPayloadType) {
    return ReportLocalError(*cli.err, "the manifest of " + RefText(artifact) +
                                          " has payload type '" + manifest.payload_type() +
                                          "', not an in-toto statement; refusing to sign it");
  }
  Result<crypto::Statement> statement = crypto::Statement::FromJson(manifest.payload());
  if (!statement.ok()) {
    return ReportLocalError(*cli.err, statement.status().WithContext(
                                          "the manifest of " + RefText(artifact) + ", not signed"));
  }
  bool subject_matches = false;
  for (const crypto::ResourceDescriptor& subject : statement->subject) {
    auto it = subject.digest.find("sha256");
    if (it != subject.digest.end() && "sha256:" + it->second == artifact.digest()) {
      subject_matches = true;
    }
  }
  if (!subject_matches) {
    return ReportLocalError(*cli.err, "the manifest of " + RefText(artifact) +
                                          " is not about its digest " + artifact.digest() +
                                          "; refusing to sign it");
  }
  if (!opts.file.empty()) {
    Result<FileFacts> facts = HashLocalFile(cli, opts.file, opts.no_progress);
    if (!facts.ok()) return ReportLocalError(*cli.err, facts.status());
    if (facts->digest.ToString() != artifact.digest()) {
      return ReportLocalError(*cli.err, opts.file + " has " + facts->digest.ToString() + ", but " +
                                            RefText(artifact) + " has " + artifact.digest() +
                                            "; nothing was signed");
    }
  }

  v1::SignRequest request;
  *request.mutable_artifact() = ToRef(*ref);
  request.mutable_artifact()->set_version(artifact.version());
  request.mutable_artifact()->set_digest(artifact.digest());
  v1::DsseSignature* signature = request.add_signatures();
  signature->set_keyid(key_id);
  signature->set_sig(key->Sign(crypto::Pae(manifest.payload_type(), manifest.payload())));

  auto stub = v1::RegistryService::NewStub(connection->channel());
  v1::SignResponse response;
  Status st = CallGateway([&](grpc::ClientContext& context) {
    connection->PrepareCall(context);
    response.Clear();
    return stub->Sign(&context, request, &response);
  });
  if (!st.ok()) return ReportLocalError(*cli.err, st);

  if (cli.output == OutputFormat::kJson) {
    WriteJson(*cli.out, {{"key_id", key_id},
                         {"artifact", ProtoToJson(response.artifact())},
                         {"manifest", ProtoToJson(response.manifest())}});
  } else {
    KeyValues lines = ArtifactSummary(response.artifact());
    lines.emplace_back("signed_by", key_id);
    lines.emplace_back("signatures", std::to_string(response.manifest().signatures_size()));
    *cli.out << FormatKeyValues(lines);
  }
  return kExitOk;
}

// ---- release ----

struct ReleaseOptions {
  std::string ref;
  std::string reason;
};

int RunRelease(const CommandLine& cli, const ReleaseOptions& opts) {
  Result<ArtifactRefText> ref = ParseArtifactRef(opts.ref, VersionRule::kRequired);
  if (!ref.ok()) return ReportUsageError(*cli.err, "release", ref.status().message());
  if (opts.reason.size() > kMaxReasonLength) {
    return ReportUsageError(*cli.err, "release", "--reason is longer than 1024 characters");
  }
  Result<GatewayConnection> connection = OpenGatewayConnection(cli.connection, cli.env);
  if (!connection.ok()) return ReportLocalError(*cli.err, connection.status());
  auto stub = v1::RegistryService::NewStub(connection->channel());
  v1::ReleaseRequest request;
  *request.mutable_artifact() = ToRef(*ref);
  request.set_reason(opts.reason);
  v1::ReleaseResponse response;
  Status st = CallGateway([&](grpc::ClientContext& context) {
    connection->PrepareCall(context);
    response.Clear();
    return stub->Release(&context, request, &response);
  });
  if (!st.ok()) return ReportLocalError(*cli.err, st);

  const v1::Artifact& artifact = response.artifact();
  std::string failed;
  int waiting = 0;
  for (const v1::ReleaseCheck& check : artifact.release_status().checks()) {
    if (check.state() == v1::RELEASE_CHECK_STATE_FAILED && failed.empty()) {
      failed = EnumFlagName(check.kind()) + ": " + check.condition() +
               (check.detail().empty() ? "" : " (" + check.detail() + ")");
    }
    if (check.state() == v1::RELEASE_CHECK_STATE_WAITING) ++waiting;
  }
  const bool released = artifact.stage() == v1::STAGE_RELEASED;
  if (cli.output == OutputFormat::kJson) {
    WriteJson(*cli.out, ProtoToJson(response));
  } else {
    KeyValues lines = ArtifactSummary(artifact);
    std::string status = released          ? "released"
                         : !failed.empty() ? "cannot be released"
                                           : "requested; waiting for " + std::to_string(waiting) +
                                                 " check(s), then released by the gateway";
    lines.emplace_back("release", status);
    for (const v1::ReleaseCheck& check : artifact.release_status().checks()) {
      std::string line = EnumFlagName(check.state()) + " " + EnumFlagName(check.kind());
      if (!check.condition().empty()) line += ": " + check.condition();
      if (!check.detail().empty()) line += " (" + check.detail() + ")";
      lines.emplace_back("check", line);
    }
    *cli.out << FormatKeyValues(lines);
  }
  if (!released && !failed.empty()) {
    return ReportLocalError(*cli.err, RefText(artifact) + " cannot be released: " + failed);
  }
  return kExitOk;
}

// ---- revoke ----

struct RevokeOptions {
  std::string ref;
  std::string reason;
};

int RunRevoke(const CommandLine& cli, const RevokeOptions& opts) {
  Result<ArtifactRefText> ref = ParseArtifactRef(opts.ref, VersionRule::kRequired);
  if (!ref.ok()) return ReportUsageError(*cli.err, "revoke", ref.status().message());
  if (opts.reason.empty() || opts.reason.size() > kMaxReasonLength) {
    return ReportUsageError(*cli.err, "revoke", "--reason must be 1 to 1024 characters");
  }
  Result<GatewayConnection> connection = OpenGatewayConnection(cli.connection, cli.env);
  if (!connection.ok()) return ReportLocalError(*cli.err, connection.status());
  auto stub = v1::RegistryService::NewStub(connection->channel());
  v1::RevokeRequest request;
  *request.mutable_artifact() = ToRef(*ref);
  request.set_reason(opts.reason);
  v1::RevokeResponse response;
  Status st = CallGateway([&](grpc::ClientContext& context) {
    connection->PrepareCall(context);
    response.Clear();
    return stub->Revoke(&context, request, &response);
  });
  if (!st.ok()) return ReportLocalError(*cli.err, st);
  if (cli.output == OutputFormat::kJson) {
    WriteJson(*cli.out, ProtoToJson(response));
  } else {
    KeyValues lines = ArtifactSummary(response.artifact());
    // Revoking twice keeps the first reason; show the one recorded.
    std::string reason = opts.reason;
    for (const v1::StageChange& change : response.artifact().history()) {
      if (change.to_stage() == v1::STAGE_REVOKED && !change.reason().empty()) {
        reason = change.reason();
      }
    }
    lines.emplace_back("reason", reason);
    *cli.out << FormatKeyValues(lines);
  }
  return kExitOk;
}

// ---- verify ----

struct VerifyOptions {
  std::string ref;
  std::vector<std::string> registry_keys;
  bool trust_server_key = false;
  std::vector<std::string> pubs;
  size_t threshold = 0;
  std::string file;
  bool no_progress = false;
};

int RunVerify(const CommandLine& cli, const VerifyOptions& opts) {
  Result<ArtifactRefText> ref = ParseArtifactRef(opts.ref, VersionRule::kOptional);
  if (!ref.ok()) return ReportUsageError(*cli.err, "verify", ref.status().message());
  std::map<std::string, PublisherKey> publishers;
  for (const std::string& path : opts.pubs) {
    Result<crypto::Ed25519PublicKey> key = crypto::LoadPublicKeyFile(path);
    if (!key.ok()) return ReportLocalError(*cli.err, key.status().WithContext("public key " + path));
    publishers[key->KeyId()] = {*key, path, v1::KEY_STATE_ACTIVE};
  }

  Result<GatewayConnection> connection = OpenGatewayConnection(cli.connection, cli.env);
  if (!connection.ok()) return ReportLocalError(*cli.err, connection.status());
  Result<TrustedRegistryKeys> keys =
      ObtainRegistryKeys(opts.registry_keys, opts.trust_server_key, cli.connection, cli.env,
                         &*connection, *cli.err);
  if (!keys.ok()) return ReportLocalError(*cli.err, keys.status());
  Result<v1::GetArtifactResponse> got = GetArtifact(*connection, ToRef(*ref));
  if (!got.ok()) return ReportLocalError(*cli.err, got.status());
  const v1::Artifact& artifact = got->artifact();

  if (opts.pubs.empty()) {
    // Publisher keys as the gateway lists them: this checks that the signatures the record
    // claims are really in the manifest; pin keys with --pub to trust no one's word for them.
    Result<std::vector<v1::SigningKey>> listed =
        ListSigningKeys(*connection, v1::SIGNER_ROLE_PUBLISHER);
    if (!listed.ok()) return ReportLocalError(*cli.err, listed.status());
    for (const v1::SigningKey& listed_key : *listed) {
      Result<crypto::Ed25519PublicKey> key = PublicKeyOf(listed_key);
      if (!key.ok()) return ReportLocalError(*cli.err, key.status());
      publishers[listed_key.keyid()] = {*key, listed_key.owner(), listed_key.state()};
    }
  }

  ManifestVerification manifest = VerifyManifest(artifact, got->manifest(), keys->keys);
  std::vector<ArtifactCheck> checks = manifest.checks;
  std::vector<std::string> publisher_ids;
  checks.push_back(CheckPublisherSignatures(artifact, got->manifest(), publishers, opts.threshold,
                                            &publisher_ids));
  checks.push_back(CheckStage(artifact));
  if (!opts.file.empty()) {
    Result<FileFacts> facts = HashLocalFile(cli, opts.file, opts.no_progress);
    if (facts.ok()) {
      checks.push_back(CheckFileDigest(artifact, opts.file, facts->digest.ToString()));
    } else {
      checks.push_back({"file", false, facts.status().message()});
    }
  }

  std::string first_failure;
  for (const ArtifactCheck& check : checks) {
    if (!check.ok && first_failure.empty()) first_failure = check.name + ": " + check.detail;
  }
  if (cli.output == OutputFormat::kJson) {
    ordered_json list = ordered_json::array();
    for (const ArtifactCheck& check : checks) {
      list.push_back({{"check", check.name}, {"ok", check.ok}, {"detail", check.detail}});
    }
    WriteJson(*cli.out, {{"verified", first_failure.empty()},
                         {"artifact", RefText(artifact)},
                         {"digest", artifact.digest()},
                         {"checks", std::move(list)},
                         {"registry_key_ids", manifest.registry_key_ids},
                         {"publisher_key_ids", publisher_ids}});
  } else {
    size_t width = 0;
    for (const ArtifactCheck& check : checks) width = std::max(width, check.name.size());
    for (const ArtifactCheck& check : checks) {
      *cli.out << (check.ok ? "ok    " : "FAIL  ") << check.name
               << std::string(width - check.name.size() + 2, ' ') << check.detail << '\n';
    }
    if (first_failure.empty()) {
      *cli.out << "verified: " << RefText(artifact) << " " << artifact.digest() << '\n';
    }
  }
  if (!first_failure.empty()) {
    return ReportLocalError(*cli.err,
                            "verification of " + RefText(artifact) + " failed: " + first_failure);
  }
  return kExitOk;
}

constexpr const char* kRegistryKeyHelp =
    "The registry's public key (PEM) [env: SOV_REGISTRY_KEY; config: registry_key]; repeat for "
    "rotated keys";

}  // namespace

void AddRegistryCommands(CLI::App& app, CommandLine& cli) {
  // ls
  auto ls = std::make_shared<LsOptions>();
  CLI::App* ls_cmd = app.add_subcommand(
      "ls",
      "List the artifact versions you may see. All of them, those of a tenant, under a prefix, "
      "or of one name, filtered by kind, stage and labels; every page is followed.");
  ls_cmd->add_option("WHAT", ls->what,
                     "TENANT, PREFIX/ (names under it) or NAME (it and names under NAME/)");
  ls_cmd->add_option("--kind", ls->kind, "Only this kind")
      ->check(CLI::IsMember(EnumFlagNames<v1::ArtifactKind>()))
      ->option_text("dataset|model|report");
  ls_cmd->add_option("--stage", ls->stages, "Only these stages; repeatable [all but erased]")
      ->check(CLI::IsMember(EnumFlagNames<v1::Stage>()))
      ->allow_extra_args(false)
      ->option_text("pending|validating|released|rejected|revoked|erased");
  ls_cmd->add_option("--label", ls->labels, "Only artifacts with label KEY=VALUE; repeatable")
      ->allow_extra_args(false)
      ->option_text("KEY=VALUE");
  ls_cmd->add_flag("--all", ls->all, "Every stage, erased artifacts (tombstones) included");
  ls_cmd->add_option("--page-size", ls->page_size, "Artifacts per call (1 to 1000) [100]")
      ->check(CLI::Range(1, 1000))
      ->option_text("N");
  ls_cmd->footer(
      "Prints a table: NAME VERSION KIND STAGE SIZE DIGEST (first 12 hex digits) LOCATION\n"
      "CREATED, ordered by name, then by version, highest first. With --output json:\n"
      "{\"artifacts\": [<Artifact>...]} in proto3 JSON.\n"
      "\n"
      "Examples:\n"
      "  sovctl ls\n"
      "  sovctl ls acme-ml/fraud --kind model --stage released\n"
      "  sovctl ls acme-ml --label team=fraud --output json | jq -r '.artifacts[].name'");
  ls_cmd->callback([&cli, ls] { cli.run = [&cli, ls] { return RunLs(cli, *ls); }; });

  // show
  auto show = std::make_shared<ShowOptions>();
  CLI::App* show_cmd = app.add_subcommand(
      "show",
      "Show everything the registry records about an artifact version. Metadata, "
      "classification, lineage, signatures, release checks, stage history and manifest digest.");
  show_cmd->add_option("ARTIFACT", show->ref,
                       "NAME or NAME@VERSION (without a version: the highest released one)")
      ->required();
  show_cmd->footer(
      "Prints `key: value` lines; lineage, label, signature, check and history lines repeat.\n"
      "`retention:` is the effective deadline and its action; `retain_until:` (only when the\n"
      "pusher set one with push --retain-until) is the pusher's own limit, as asked.\n"
      "With --output json: {\"artifact\": <Artifact>, \"manifest\": <DsseEnvelope>} in proto3\n"
      "JSON (the manifest is the signed DSSE envelope: `jq .manifest` writes a file that\n"
      "`sovctl verify-blob` reads).\n"
      "\n"
      "Examples:\n"
      "  sovctl show acme-ml/fraud/classifier@1.4.0\n"
      "  sovctl show acme-ml/fraud/classifier --output json | jq .artifact.stage");
  show_cmd->callback([&cli, show] { cli.run = [&cli, show] { return RunShow(cli, *show); }; });

  // sign
  auto sign = std::make_shared<SignOptions>();
  CLI::App* sign_cmd = app.add_subcommand(
      "sign",
      "Sign an artifact's manifest as a publisher. sovctl fetches the manifest, checks that it "
      "is about the artifact's digest (and, with --file, your copy of the bytes), signs "
      "PAE(payloadType, payload) with your Ed25519 key and adds the signature. The signature "
      "that meets the policy's threshold may release the artifact.");
  sign_cmd->add_option("ARTIFACT", sign->ref, "NAME@VERSION")->required();
  sign_cmd->add_option("--key", sign->key,
                       "Your Ed25519 publisher key (PEM, mode 0600) from keygen; required")
      ->required()
      ->option_text("KEY");
  sign_cmd->add_option("--file", sign->file,
                       "Sign only if this local file has the artifact's digest")
      ->option_text("FILE");
  sign_cmd->add_flag("--no-progress", sign->no_progress, "No progress bar while hashing --file");
  sign_cmd->footer(
      "The key must be registered to your tenant in the gateway's tenants file. Prints the\n"
      "artifact, the key id that signed, the number of signatures and the stage. With --output\n"
      "json: {\"key_id\", \"artifact\": <Artifact>, \"manifest\": <DsseEnvelope>}.\n"
      "To sign a local file instead, use `sovctl sign-blob`. After `sign`, --key is the\n"
      "signing key, not the global mTLS --key.\n"
      "\n"
      "Example:\n"
      "  sovctl sign acme-ml/fraud/classifier@1.4.0 --key ~/.sovereign/publisher.key \\\n"
      "    --file model.safetensors");
  sign_cmd->callback([&cli, sign] { cli.run = [&cli, sign] { return RunSign(cli, *sign); }; });

  // release
  auto release = std::make_shared<ReleaseOptions>();
  CLI::App* release_cmd = app.add_subcommand(
      "release",
      "Ask for an artifact version to be released to tenants. The gateway checks validation, "
      "release gates, signatures and policy: when all are met it is released now; while some "
      "are waiting it is released as soon as the last one is met.");
  release_cmd->add_option("ARTIFACT", release->ref, "NAME@VERSION")->required();
  release_cmd->add_option("--reason", release->reason,
                          "Why, for the history and the audit log (at most 1024 characters)")
      ->option_text("TEXT");
  release_cmd->footer(
      "Prints the artifact, the release status (released, requested and waiting, or cannot be\n"
      "released) and every check as `check: STATE KIND: condition (detail)`. Exit 1 when a\n"
      "check failed (a gate, or the policy). With --output json: the ReleaseResponse\n"
      "{\"artifact\", \"decision\"} in proto3 JSON.\n"
      "\n"
      "Example:\n"
      "  sovctl release acme-ml/fraud/train@1.0.0 --reason \"reviewed by DPO, ticket 4711\"");
  release_cmd->callback(
      [&cli, release] { cli.run = [&cli, release] { return RunRelease(cli, *release); }; });

  // revoke
  auto revoke = std::make_shared<RevokeOptions>();
  CLI::App* revoke_cmd = app.add_subcommand(
      "revoke",
      "Withdraw a released artifact version: from the moment the command returns, no fetch of "
      "it succeeds. The reason is recorded in its history and the audit log and shown to "
      "tenants who try to fetch it.");
  revoke_cmd->add_option("ARTIFACT", revoke->ref, "NAME@VERSION")->required();
  revoke_cmd->add_option("--reason", revoke->reason, "Why (1 to 1024 characters); required")
      ->required()
      ->option_text("TEXT");
  revoke_cmd->footer(
      "Prints the artifact (stage revoked) and the recorded reason (revoking twice keeps the\n"
      "first). With --output json: the RevokeResponse {\"artifact\"} in proto3 JSON.\n"
      "\n"
      "Example:\n"
      "  sovctl revoke acme-ml/fraud/classifier@1.4.0 --reason \"trained on data withdrawn under Art. 17\"");
  revoke_cmd->callback(
      [&cli, revoke] { cli.run = [&cli, revoke] { return RunRevoke(cli, *revoke); }; });

  // verify
  auto verify = std::make_shared<VerifyOptions>();
  CLI::App* verify_cmd = app.add_subcommand(
      "verify",
      "Verify an artifact in the registry and print each check. Its manifest must be signed by "
      "the registry key and be an in-toto manifest statement about the record's name and "
      "digest; every publisher signature must verify and at least N publishers must have "
      "signed; the stage must allow use; with --file, a local copy must have the digest. Exit 0 "
      "only when all pass.");
  verify_cmd->add_option("ARTIFACT", verify->ref,
                         "NAME@VERSION (or NAME: the highest released version)")
      ->required();
  verify_cmd->add_option("--registry-key", verify->registry_keys, kRegistryKeyHelp)
      ->allow_extra_args(false)
      ->option_text("FILE");
  verify_cmd->add_flag("--trust-server-key", verify->trust_server_key,
                       "With no registry key configured, trust the one the gateway lists (warns)");
  verify_cmd->add_option("--pub", verify->pubs,
                         "Publisher public key (PEM) to check signatures with, instead of the "
                         "keys the gateway lists; repeatable")
      ->allow_extra_args(false)
      ->option_text("PUB");
  verify_cmd->add_option("--threshold", verify->threshold,
                         "Distinct publisher signatures required [0]")
      ->option_text("N");
  verify_cmd->add_option("--file", verify->file, "Local copy whose SHA-256 must be the digest")
      ->option_text("FILE");
  verify_cmd->add_flag("--no-progress", verify->no_progress, "No progress bar while hashing --file");
  verify_cmd->footer(
      "Prints one line per check (`ok` or `FAIL`, the check, what was found): registry\n"
      "signature, statement, subject, manifest digest, publisher signatures, stage (rejected,\n"
      "revoked and erased fail), file. Exit 1 with `sovctl: error: verification of\n"
      "NAME@VERSION failed: CHECK: DETAIL` when any fails. With --output json: {\"verified\",\n"
      "\"artifact\", \"digest\", \"checks\": [{\"check\", \"ok\", \"detail\"}], \"registry_key_ids\",\n"
      "\"publisher_key_ids\"}. To verify a local DSSE envelope, use `sovctl verify-blob`.\n"
      "\n"
      "Examples:\n"
      "  sovctl verify acme-ml/fraud/classifier@1.4.0 --registry-key registry.pub\n"
      "  sovctl verify acme-ml/fraud/classifier@1.4.0 --threshold 2 --file model.safetensors");
  verify_cmd->callback(
      [&cli, verify] { cli.run = [&cli, verify] { return RunVerify(cli, *verify); }; });
}

}  // namespace sov::cli
