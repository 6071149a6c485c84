#include "cli/signed_file.h"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "crypto/dsse.h"

namespace sov::cli {
namespace {

Result<struct stat> StatFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    std::string message = "cannot stat " + path + ": " + std::strerror(err);
    if (err == ENOENT) return NotFound(std::move(message));
    if (err == EACCES) return PermissionDenied(std::move(message));
    return Internal(std::move(message));
  }
  return st;
}

bool SameVersion(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec && a.st_ino == b.st_ino;
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

Result<FileFacts> DescribeFile(const std::string& path,
                               const std::function<void(uint64_t done)>& on_progress) {
  SOV_ASSIGN_OR_RETURN(struct stat before, StatFile(path));
  if (!S_ISREG(before.st_mode)) return InvalidArgument(path + " is not a regular file");
  SOV_ASSIGN_OR_RETURN(const crypto::Digest digest, crypto::Sha256File(path, on_progress));
  SOV_ASSIGN_OR_RETURN(struct stat after, StatFile(path));
  // Size and digest must describe the same bytes; a file still being written would not.
  if (!SameVersion(before, after)) {
    return Aborted(path + " changed while it was being hashed; sign it once it is complete");
  }
  FileFacts facts;
  facts.name = std::filesystem::path(path).filename().string();
  facts.size = static_cast<uint64_t>(before.st_size);
  facts.digest = digest;
  return facts;
}

crypto::Statement SignedFileStatement(const FileFacts& file, SystemTime signed_at) {
  crypto::Statement statement;
  statement.subject.push_back(crypto::SubjectFor(file.name, file.digest));
  statement.predicate_type = std::string(kSignedFilePredicateType);
  statement.predicate = nlohmann::json{{"size", file.size},
                                       {"signed_at", FormatRfc3339(signed_at)}};
  return statement;
}

VerificationReport VerifySignedFile(std::string_view envelope_json,
                                    const std::vector<crypto::Ed25519PublicKey>& trusted,
                                    size_t threshold, const std::optional<std::string>& file) {
  VerificationReport report;
  Result<crypto::DsseEnvelope> envelope = crypto::DsseEnvelope::FromJson(envelope_json);
  if (!envelope.ok()) {
    report.error = "not a DSSE envelope: " + envelope.status().message();
    return report;
  }
  // One verification: the signatures (which fill key_ids), then the payload checks.
  std::vector<std::string> key_ids;
  Result<crypto::Statement> statement =
      crypto::VerifyStatement(*envelope, trusted, threshold, &key_ids);
  if (!statement.ok()) {
    report.error = (key_ids.empty() ? "signature check failed: " : "statement check failed: ") +
                   statement.status().message();
    return report;
  }
  report.key_ids = std::move(key_ids);
  report.subjects = statement->subject;
  report.predicate_type = statement->predicate_type;

  if (file) {
    Result<crypto::Digest> digest = crypto::Sha256File(*file);
    if (!digest.ok()) {
      report.error = digest.status().message();
      return report;
    }
    report.file_digest = digest->ToString();
    const std::string hex = digest->Hex();
    for (const crypto::ResourceDescriptor& subject : report.subjects) {
      auto it = subject.digest.find("sha256");
      if (it != subject.digest.end() && Lower(it->second) == hex) {
        report.matched_subject = subject.name;
        break;
      }
    }
    if (report.matched_subject.empty()) {
      report.error = "digest mismatch: " + *file + " has " + report.file_digest +
                     ", which matches no subject of the envelope";
      return report;
    }
  }
  report.verified = true;
  return report;
}

}  // namespace sov::cli
