// `sovctl keygen`, `sovctl sign-blob` and `sovctl verify-blob`: Ed25519 keys, DSSE envelopes of
// in-toto statements about local files, and their offline verification. None of them calls the
// gateway. (As in cosign, `sign` and `verify` act on registry artifacts, `*-blob` on files.)
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "cli/commands.h"
#include "cli/signed_file.h"
#include "common/file.h"
#include "crypto/dsse.h"
#include "crypto/ed25519.h"
#include "crypto/intoto.h"

namespace sov::cli {
namespace {

nlohmann::ordered_json SubjectsJson(const std::vector<crypto::ResourceDescriptor>& subjects) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const crypto::ResourceDescriptor& subject : subjects) {
    out.push_back({{"name", subject.name}, {"digest", subject.digest}});
  }
  return out;
}

// "name sha256:<hex>" for text output.
std::string SubjectText(const crypto::ResourceDescriptor& subject) {
  std::string out = subject.name;
  for (const auto& [algorithm, hex] : subject.digest) out += " " + algorithm + ":" + hex;
  return out;
}

// ---- keygen ----

struct KeygenOptions {
  std::string out;
};

int RunKeygen(const CommandLine& cli, const KeygenOptions& opts) {
  const std::string pub_path = opts.out + ".pub";
  std::error_code ec;
  // Checked first so that a refusal leaves nothing behind; the private key file itself is
  // created exclusively by WritePrivateKeyFile.
  if (std::filesystem::exists(opts.out, ec)) {
    return ReportLocalError(*cli.err, opts.out + " already exists; keygen never overwrites a key");
  }
  if (std::filesystem::exists(pub_path, ec)) {
    return ReportLocalError(*cli.err, pub_path + " already exists; keygen never overwrites a key");
  }
  crypto::Ed25519PrivateKey key = crypto::Ed25519PrivateKey::Generate();
  if (Status st = crypto::WritePrivateKeyFile(opts.out, key); !st.ok()) {
    return ReportLocalError(*cli.err, st.WithContext("cannot write private key " + opts.out));
  }
  if (Status st = crypto::WritePublicKeyFile(pub_path, key.public_key()); !st.ok()) {
    ::unlink(opts.out.c_str());  // a private key without its public half is of no use
    return ReportLocalError(*cli.err, st.WithContext("cannot write public key " + pub_path));
  }
  const std::string key_id = key.public_key().KeyId();
  if (cli.output == OutputFormat::kJson) {
    WriteJson(*cli.out, {{"private_key", opts.out}, {"public_key", pub_path}, {"key_id", key_id}});
  } else {
    *cli.out << FormatKeyValues({{"private_key", opts.out + " (mode 0600; keep it secret)"},
                                 {"public_key", pub_path},
                                 {"key_id", key_id}});
  }
  return kExitOk;
}

// ---- sign-blob ----

struct SignOptions {
  std::string key;
  std::string file;
  std::string envelope;
  std::string out;
};

// Prints the envelope, or writes it to --out and prints a summary.
int EmitEnvelope(const CommandLine& cli, const SignOptions& opts,
                 const crypto::DsseEnvelope& envelope, const crypto::Statement& statement,
                 const std::string& key_id) {
  const std::string json = envelope.ToJson() + "\n";
  if (opts.out.empty()) {
    *cli.out << json;
    return kExitOk;
  }
  if (Status st = WriteFileAtomic(opts.out, json, 0644); !st.ok()) {
    return ReportLocalError(*cli.err, st.WithContext("cannot write envelope " + opts.out));
  }
  if (cli.output == OutputFormat::kJson) {
    WriteJson(*cli.out, {{"envelope", opts.out},
                         {"key_id", key_id},
                         {"signatures", envelope.signatures.size()},
                         {"predicate_type", statement.predicate_type},
                         {"subjects", SubjectsJson(statement.subject)}});
  } else {
    KeyValues lines;
    for (const auto& subject : statement.subject) lines.emplace_back("subject", SubjectText(subject));
    lines.emplace_back("key_id", key_id);
    lines.emplace_back("signatures", std::to_string(envelope.signatures.size()));
    lines.emplace_back("envelope", opts.out);
    *cli.out << FormatKeyValues(lines);
  }
  return kExitOk;
}

int RunSign(const CommandLine& cli, const SignOptions& opts) {
  if (opts.file.empty() == opts.envelope.empty()) {
    return ReportUsageError(*cli.err, "sign-blob",
                            "give either FILE (a new envelope) or --envelope ENV (a further "
                            "signature), not both or neither");
  }
  Result<crypto::Ed25519PrivateKey> key = crypto::LoadPrivateKeyFile(opts.key);
  if (!key.ok()) return ReportLocalError(*cli.err, key.status().WithContext("signing key"));
  const std::string key_id = key->public_key().KeyId();

  if (!opts.file.empty()) {
    std::error_code ec;
    if (!opts.out.empty() && std::filesystem::equivalent(opts.file, opts.out, ec)) {
      return ReportLocalError(*cli.err, "-o " + opts.out + " is FILE itself; writing the "
                                        "envelope there would destroy the file being signed");
    }
    Result<FileFacts> facts = DescribeFile(opts.file);
    if (!facts.ok()) return ReportLocalError(*cli.err, facts.status());
    crypto::Statement statement = SignedFileStatement(*facts, std::chrono::system_clock::now());
    crypto::DsseEnvelope envelope = crypto::SignStatement(statement, *key);
    return EmitEnvelope(cli, opts, envelope, statement, key_id);
  }

  Result<std::string> text = ReadFile(opts.envelope);
  if (!text.ok()) return ReportLocalError(*cli.err, text.status());
  Result<crypto::DsseEnvelope> envelope = crypto::DsseEnvelope::FromJson(*text);
  if (!envelope.ok()) {
    return ReportLocalError(*cli.err, envelope.status().WithContext(opts.envelope));
  }
  // Only in-toto statements are co-signed: a signer should be able to see what they sign.
  if (envelope->payload_type != crypto::kInTotoPayloadType) {
    return ReportLocalError(*cli.err, opts.envelope + ": payload type is '" +
                                          envelope->payload_type + "', not '" +
                                          std::string(crypto::kInTotoPayloadType) + "'");
  }
  Result<crypto::Statement> statement = crypto::Statement::FromJson(envelope->payload);
  if (!statement.ok()) {
    return ReportLocalError(*cli.err, statement.status().WithContext(opts.envelope));
  }
  for (const crypto::DsseSignature& signature : envelope->signatures) {
    if (signature.keyid == key_id) {
      return ReportLocalError(*cli.err,
                              opts.envelope + " is already signed by key " + key_id);
    }
  }
  crypto::AddDsseSignature(*envelope, *key);
  return EmitEnvelope(cli, opts, *envelope, *statement, key_id);
}

// ---- verify-blob ----

struct VerifyOptions {
  std::vector<std::string> pubs;
  size_t threshold = 1;
  std::string envelope;
  std::string file;
};

int EmitVerification(const CommandLine& cli, const VerifyOptions& opts,
                     const VerificationReport& report) {
  if (cli.output == OutputFormat::kJson) {
    nlohmann::ordered_json doc = {{"verified", report.verified},
                          {"key_ids", report.key_ids},
                          {"subjects", SubjectsJson(report.subjects)},
                          {"error", nullptr},
                          {"threshold", opts.threshold}};
    if (!report.predicate_type.empty()) doc["predicate_type"] = report.predicate_type;
    if (!opts.file.empty()) {
      doc["file"] = {{"path", opts.file},
                     {"digest", report.file_digest.empty() ? nlohmann::ordered_json(nullptr)
                                                           : nlohmann::ordered_json(report.file_digest)},
                     {"matched_subject", report.matched_subject.empty()
                                             ? nlohmann::ordered_json(nullptr)
                                             : nlohmann::ordered_json(report.matched_subject)}};
    }
    if (!report.verified) doc["error"] = report.error;
    WriteJson(*cli.out, doc);
  } else if (report.verified) {
    KeyValues lines = {{"verified", "true"},
                       {"envelope", opts.envelope},
                       {"signatures", std::to_string(report.key_ids.size()) + " trusted, " +
                                          std::to_string(opts.threshold) + " required"}};
    for (const std::string& key_id : report.key_ids) lines.emplace_back("key_id", key_id);
    lines.emplace_back("predicate_type", report.predicate_type);
    for (const auto& subject : report.subjects) lines.emplace_back("subject", SubjectText(subject));
    if (!opts.file.empty()) {
      lines.emplace_back("file", opts.file + " " + report.file_digest + " matches subject " +
                                     report.matched_subject);
    }
    *cli.out << FormatKeyValues(lines);
  }
  if (!report.verified) return ReportLocalError(*cli.err, "verification failed: " + report.error);
  return kExitOk;
}

int RunVerify(const CommandLine& cli, const VerifyOptions& opts) {
  VerificationReport failure;
  std::vector<crypto::Ed25519PublicKey> trusted;
  for (const std::string& path : opts.pubs) {
    Result<crypto::Ed25519PublicKey> key = crypto::LoadPublicKeyFile(path);
    if (!key.ok()) {
      failure.error = key.status().WithContext("public key " + path).message();
      return EmitVerification(cli, opts, failure);
    }
    trusted.push_back(*key);
  }
  if (opts.threshold > trusted.size()) {
    failure.error = "threshold " + std::to_string(opts.threshold) + " is more than the " +
                    std::to_string(trusted.size()) + " public key(s) given with --pub";
    return EmitVerification(cli, opts, failure);
  }
  Result<std::string> text = ReadFile(opts.envelope);
  if (!text.ok()) {
    failure.error = text.status().message();
    return EmitVerification(cli, opts, failure);
  }
  std::optional<std::string> file;
  if (!opts.file.empty()) file = opts.file;
  return EmitVerification(cli, opts, VerifySignedFile(*text, trusted, opts.threshold, file));
}

}  // namespace

void AddSigningCommands(CLI::App& app, CommandLine& cli) {
  // Options live as long as the app (owned by the callbacks' shared state).
  auto keygen = std::make_shared<KeygenOptions>();
  CLI::App* keygen_cmd = app.add_subcommand(
      "keygen",
      "Create an Ed25519 signing key pair: FILE gets the private key (PEM PKCS#8, mode 0600) and "
      "FILE.pub the public key (PEM SubjectPublicKeyInfo). Existing files are never "
      "overwritten.");
  keygen_cmd->add_option("--out", keygen->out, "Private key file to create (public key: FILE.pub); required")
      ->required()
      ->option_text("FILE");
  keygen_cmd->footer(
      "Prints the files written and the key id (sha256:<hex> of the raw public key), which\n"
      "DSSE signatures carry. With --output json: {\"private_key\",\"public_key\",\"key_id\"}.\n"
      "\n"
      "Example:\n"
      "  sovctl keygen --out ~/.sovereign/publisher.key\n"
      "  # share ~/.sovereign/publisher.key.pub with whoever verifies your signatures");
  keygen_cmd->callback([&cli, keygen] { cli.run = [&cli, keygen] { return RunKeygen(cli, *keygen); }; });

  auto sign = std::make_shared<SignOptions>();
  CLI::App* sign_cmd = app.add_subcommand(
      "sign-blob",
      "Sign a local file: hash FILE (streamed), make an in-toto Statement v1 whose subject is FILE's "
      "name and sha256 digest, and sign it as a DSSE envelope. With --envelope, add your "
      "signature to an existing envelope instead (for multi-signature thresholds).");
  sign_cmd->add_option("--key", sign->key, "Ed25519 private key (PEM, mode 0600) from keygen; required")
      ->required()
      ->option_text("KEY");
  CLI::Option* file_opt =
      sign_cmd->add_option("FILE", sign->file, "File to sign");
  CLI::Option* envelope_opt =
      sign_cmd->add_option("--envelope", sign->envelope, "Existing envelope to add a signature to")
          ->option_text("ENV");
  file_opt->excludes(envelope_opt);
  sign_cmd->add_option("-o,--out", sign->out,
                       "Write the envelope to OUT (atomically, mode 0644; may be ENV itself) "
                       "instead of printing it")
      ->option_text("OUT");
  sign_cmd->footer(
      "Prints the envelope JSON {\"payload\",\"payloadType\",\"signatures\"}; with -o it writes\n"
      "the envelope and prints the subject, key id and signature count (as JSON with\n"
      "--output json). The statement's predicateType is\n"
      "https://sovereign.dev/attestations/signed-file/v1, its predicate\n"
      "{\"size\": <bytes>, \"signed_at\": \"<RFC 3339 UTC>\"}.\n"
      "\n"
      "To sign an artifact in the registry, use `sovctl sign`.\n"
      "\n"
      "Examples:\n"
      "  sovctl sign-blob --key publisher.key model.safetensors -o model.dsse.json\n"
      "  sovctl sign-blob --key reviewer.key --envelope model.dsse.json -o model.dsse.json");
  sign_cmd->callback([&cli, sign] { cli.run = [&cli, sign] { return RunSign(cli, *sign); }; });

  auto verify = std::make_shared<VerifyOptions>();
  CLI::App* verify_cmd = app.add_subcommand(
      "verify-blob",
      "Verify a DSSE envelope of an in-toto statement offline: at least N of the given public "
      "keys must have signed it; with FILE, FILE's sha256 must also equal a subject's digest.");
  verify_cmd->add_option("--pub", verify->pubs, "Trusted public key (PEM); required, repeat for several")
      ->required()
      ->allow_extra_args(false)
      ->option_text("PUB");
  verify_cmd->add_option("--threshold", verify->threshold,
                         "Distinct trusted keys that must have signed")
      ->check(PositiveNumber())
      ->option_text("N [1]");
  verify_cmd->add_option("ENVELOPE", verify->envelope, "Envelope file (from sovctl sign-blob)")
      ->required();
  verify_cmd->add_option("FILE", verify->file, "File the envelope should describe");
  verify_cmd->footer(
      "Exit 0 and prints what was verified (key ids, subjects, the file's match); exit 1 with\n"
      "`sovctl: error: verification failed: <reason>` on a bad or missing signature, too few\n"
      "signatures, or a digest mismatch. With --output json it prints\n"
      "{\"verified\",\"key_ids\",\"subjects\",\"threshold\",\"error\",...} in both cases.\n"
      "\n"
      "To verify an artifact in the registry, use `sovctl verify`.\n"
      "\n"
      "Examples:\n"
      "  sovctl verify-blob --pub publisher.key.pub model.dsse.json model.safetensors\n"
      "  sovctl verify-blob --pub publisher.key.pub --pub reviewer.key.pub --threshold 2 \\\n"
      "    model.dsse.json model.safetensors --output json");
  verify_cmd->callback([&cli, verify] { cli.run = [&cli, verify] { return RunVerify(cli, *verify); }; });
}

}  // namespace sov::cli
