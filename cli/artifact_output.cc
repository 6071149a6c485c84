#include "cli/artifact_output.h"

#include <map>

#include "cli/artifact_flags.h"
#include "cli/progress.h"
#include "cli/proto_interop.h"

namespace sov::cli {
namespace {

std::string OrDash(const std::string& text) { return text.empty() ? "-" : text; }

std::string Join(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out.empty() ? "(none)" : out;
}

std::string SizeText(int64_t bytes) {
  if (bytes < 0) return std::to_string(bytes) + " bytes";
  return FormatBytes(static_cast<uint64_t>(bytes)) + " (" + std::to_string(bytes) + " bytes)";
}

std::string WhoText(const v1::Principal& principal, const std::string& system_actor) {
  if (!principal.tenant_id().empty()) {
    std::string out = principal.tenant_id();
    if (!principal.credential().empty()) out += " (" + principal.credential() + ")";
    return out;
  }
  if (!system_actor.empty()) return "(" + system_actor + ")";
  return "";
}

std::string RuleText(const std::string& rule_id, const v1::SourceLocation& location) {
  if (rule_id.empty()) return "";
  std::string out = rule_id;
  if (!location.file().empty()) {
    out += " (" + location.file() + ":" + std::to_string(location.line());
    if (location.column() > 0) out += ":" + std::to_string(location.column());
    out += ")";
  }
  return out;
}

}  // namespace

std::string RefText(const v1::Artifact& artifact) {
  return artifact.version().empty() ? artifact.name() : artifact.name() + "@" + artifact.version();
}

std::string RefText(const v1::ArtifactRef& ref) {
  return ref.version().empty() ? ref.name() : ref.name() + "@" + ref.version();
}

std::string ShortDigest(const std::string& digest) {
  constexpr std::string_view kPrefix = "sha256:";
  if (digest.starts_with(kPrefix) && digest.size() > kPrefix.size() + 12) {
    return digest.substr(0, kPrefix.size() + 12);
  }
  return OrDash(digest);
}

std::string LocationText(const v1::StorageLocation& location) {
  if (location.id().empty()) return "-";
  if (location.jurisdiction().empty()) return location.id();
  return location.id() + " (" + location.jurisdiction() + ")";
}

KeyValues ArtifactSummary(const v1::Artifact& artifact) {
  return {
      {"artifact", RefText(artifact)},
      {"digest", artifact.digest()},
      {"size", SizeText(artifact.size_bytes())},
      {"kind", EnumFlagName(artifact.kind())},
      {"stage", EnumFlagName(artifact.stage())},
      {"location", LocationText(artifact.storage_location())},
  };
}

KeyValues ArtifactDetails(const v1::Artifact& a, const v1::DsseEnvelope* manifest) {
  KeyValues lines = ArtifactSummary(a);
  lines.emplace_back("media_type", a.media_type());
  if (!a.description().empty()) lines.emplace_back("description", a.description());
  lines.emplace_back("owner", a.owner_tenant());
  std::string classification = EnumFlagName(a.classification());
  if (a.declared_classification() != a.classification() &&
      a.declared_classification() != v1::CLASSIFICATION_UNSPECIFIED) {
    classification += " (declared " + EnumFlagName(a.declared_classification()) + ")";
  }
  lines.emplace_back("classification", classification);
  lines.emplace_back("purposes", Join(a.purposes()));
  if (a.lawful_basis() != v1::LAWFUL_BASIS_UNSPECIFIED) {
    lines.emplace_back("lawful_basis", EnumFlagName(a.lawful_basis()));
  }
  if (a.special_category_condition() != v1::SPECIAL_CATEGORY_CONDITION_UNSPECIFIED) {
    lines.emplace_back("special_category_condition", EnumFlagName(a.special_category_condition()));
  }
  if (a.has_retention_deadline()) {
    lines.emplace_back("retention", TimestampText(a.retention_deadline()) + " (" +
                                        EnumFlagName(a.retention_action()) + ")");
  } else {
    lines.emplace_back("retention", "none");
  }
  // The pusher's own limit on a line of its own: the retention line above is the effective
  // deadline, which is the policy's where that comes first.
  if (a.has_retain_until()) {
    lines.emplace_back("retain_until", TimestampText(a.retain_until()) + " (set at push)");
  }
  std::string created = TimestampText(a.create_time());
  if (std::string who = WhoText(a.created_by(), ""); !who.empty()) created += " by " + who;
  lines.emplace_back("created", created);
  if (a.has_update_time()) lines.emplace_back("updated", TimestampText(a.update_time()));
  lines.emplace_back("manifest_digest", OrDash(a.manifest_digest()));
  if (manifest != nullptr && !manifest->payload_type().empty()) {
    lines.emplace_back("manifest", manifest->payload_type() + ", " +
                                       std::to_string(manifest->signatures_size()) +
                                       " signature(s)");
  }

  // Labels in key order (a proto map has none of its own).
  std::map<std::string, std::string> labels(a.labels().begin(), a.labels().end());
  for (const auto& [key, value] : labels) lines.emplace_back("label", key + "=" + value);
  for (const v1::LineageRef& edge : a.lineage()) {
    std::string line = EnumFlagName(edge.relation()) + " " + RefText(edge.artifact());
    if (!edge.artifact().digest().empty()) line += " " + edge.artifact().digest();
    if (edge.kind() != v1::ARTIFACT_KIND_UNSPECIFIED) line += " (" + EnumFlagName(edge.kind()) + ")";
    lines.emplace_back("lineage", line);
  }
  for (const v1::SignatureInfo& sig : a.signatures()) {
    std::string line = sig.keyid() + " " + EnumFlagName(sig.role());
    if (!sig.signer().empty()) line += " " + sig.signer();
    line += ", key " + EnumFlagName(sig.key_state());
    if (sig.has_sign_time()) line += ", " + TimestampText(sig.sign_time());
    lines.emplace_back("signature", line);
  }
  if (a.has_release_status()) {
    const v1::ReleaseStatus& release = a.release_status();
    lines.emplace_back("release", release.requested() ? "requested" : "not requested");
    for (const v1::ReleaseCheck& check : release.checks()) {
      std::string line = EnumFlagName(check.state()) + " " + EnumFlagName(check.kind());
      if (!check.condition().empty()) line += ": " + check.condition();
      if (!check.detail().empty()) line += " (" + check.detail() + ")";
      lines.emplace_back("check", line);
    }
  }
  for (const v1::StageChange& change : a.history()) {
    std::string line = TimestampText(change.change_time()) + " " +
                       EnumFlagName(change.from_stage()) + " -> " +
                       EnumFlagName(change.to_stage());
    if (std::string who = WhoText(change.principal(), change.system_actor()); !who.empty()) {
      line += " by " + who;
    }
    if (!change.reason().empty()) line += ": " + change.reason();
    if (std::string rule = RuleText(change.rule_id(), change.rule_location()); !rule.empty()) {
      line += " [rule " + rule + "]";
    }
    lines.emplace_back("history", line);
  }
  for (const v1::LineageNotice& notice : a.lineage_notices()) {
    lines.emplace_back("notice", TimestampText(notice.notice_time()) + " " +
                                     RefText(notice.erased_ancestor()) + " was erased: " +
                                     EnumFlagName(notice.action()) + " [rule " +
                                     RuleText(notice.rule_id(), notice.rule_location()) + "]");
  }
  if (a.has_tombstone()) {
    const v1::Tombstone& t = a.tombstone();
    std::string line = "erased " + TimestampText(t.erase_time());
    if (std::string who = WhoText(t.erased_by(), t.system_actor()); !who.empty()) {
      line += " by " + who;
    }
    if (!t.reason().empty()) line += ": " + t.reason();
    if (!t.subject_request_id().empty()) line += " (request " + t.subject_request_id() + ")";
    line += ", audit entry " + std::to_string(t.audit_index());
    lines.emplace_back("tombstone", line);
  }
  return lines;
}

std::vector<std::string> ArtifactTableHeader() {
  return {"NAME", "VERSION", "KIND", "STAGE", "SIZE", "DIGEST", "LOCATION", "CREATED"};
}

std::vector<std::string> ArtifactTableRow(const v1::Artifact& a) {
  return {a.name(),
          a.version(),
          EnumFlagName(a.kind()),
          EnumFlagName(a.stage()),
          a.size_bytes() >= 0 ? FormatBytes(static_cast<uint64_t>(a.size_bytes())) : "-",
          ShortDigest(a.digest()),
          a.storage_location().id().empty() ? "-" : a.storage_location().id(),
          OrDash(TimestampText(a.create_time()))};
}

std::vector<std::string> AuditTableHeader() {
  return {"INDEX", "TIME", "TENANT", "ACTION", "EFFECT", "RULE", "RESOURCE"};
}

std::vector<std::string> AuditTableRow(const v1::AuditEntry& entry) {
  std::string tenant = entry.principal().tenant_id();
  if (tenant.empty()) tenant = entry.system_actor().empty() ? "-" : "(" + entry.system_actor() + ")";
  std::string effect;
  std::string rule = "-";
  if (entry.type() == v1::AUDIT_EVENT_TYPE_DECISION || entry.has_decision()) {
    effect = EnumFlagName(entry.decision().effect());
    if (!entry.decision().rule_id().empty()) {
      rule = entry.decision().rule_id();
    } else if (entry.decision().default_deny()) {
      rule = "default-deny";
    }
  } else {
    effect = EnumFlagName(entry.type());
  }
  std::string resource = entry.has_artifact() ? RefText(entry.artifact()) : "-";
  return {std::to_string(entry.index()), OrDash(TimestampText(entry.append_time())), tenant,
          OrDash(entry.action()), effect, rule, OrDash(resource)};
}

std::string AuditEntryLine(const v1::AuditEntry& entry) {
  std::string line;
  for (const std::string& cell : AuditTableRow(entry)) {
    if (!line.empty()) line += "  ";
    line += cell;
  }
  return line;
}

}  // namespace sov::cli
