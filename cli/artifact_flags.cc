#include "cli/artifact_flags.h"

#include <cctype>
#include <set>

#include <google/protobuf/descriptor.h>

#include "cli/artifact_ref.h"
#include "cli/proto_interop.h"

namespace sov::cli {
namespace internal {
namespace {

// The prefix every value of the enum shares: the UNSPECIFIED value's name without
// "UNSPECIFIED" (buf's STANDARD lint guarantees one).
std::string ValuePrefix(const google::protobuf::EnumDescriptor& descriptor) {
  const google::protobuf::EnumValueDescriptor* zero = descriptor.FindValueByNumber(0);
  if (zero == nullptr) return {};
  std::string name = zero->name();
  constexpr std::string_view kUnspecified = "UNSPECIFIED";
  if (name.size() >= kUnspecified.size() &&
      name.compare(name.size() - kUnspecified.size(), kUnspecified.size(), kUnspecified) == 0) {
    return name.substr(0, name.size() - kUnspecified.size());
  }
  return {};
}

std::string FlagNameOf(const google::protobuf::EnumValueDescriptor& value, const std::string& prefix) {
  std::string name = value.name();
  if (name.starts_with(prefix)) name.erase(0, prefix.size());
  for (char& c : name) {
    c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return name;
}

}  // namespace

std::vector<std::string> EnumFlagNames(const google::protobuf::EnumDescriptor& descriptor) {
  const std::string prefix = ValuePrefix(descriptor);
  std::vector<std::string> names;
  for (int i = 0; i < descriptor.value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor* value = descriptor.value(i);
    if (value->number() == 0) continue;
    names.push_back(FlagNameOf(*value, prefix));
  }
  return names;
}

std::string EnumFlagName(const google::protobuf::EnumDescriptor& descriptor, int value) {
  const google::protobuf::EnumValueDescriptor* found = descriptor.FindValueByNumber(value);
  if (found == nullptr) return "unknown(" + std::to_string(value) + ")";
  return FlagNameOf(*found, ValuePrefix(descriptor));
}

Result<int> ParseEnumFlag(const google::protobuf::EnumDescriptor& descriptor,
                          std::string_view what, std::string_view text) {
  const std::string prefix = ValuePrefix(descriptor);
  std::string choices;
  for (int i = 0; i < descriptor.value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor* value = descriptor.value(i);
    if (value->number() == 0) continue;
    std::string name = FlagNameOf(*value, prefix);
    if (name == text) return value->number();
    if (!choices.empty()) choices += ", ";
    choices += name;
  }
  return InvalidArgument(std::string(what) + " '" + std::string(text) + "' is not one of " +
                         choices);
}

}  // namespace internal

Result<v1::LineageRef> ParseLineageFlag(std::string_view flag, std::string_view text,
                                        v1::LineageRelation relation) {
  Result<ArtifactRefText> ref = ParseArtifactRef(text, VersionRule::kRequired);
  if (!ref.ok()) return ref.status().WithContext(flag);
  v1::LineageRef lineage;
  lineage.mutable_artifact()->set_name(ref->name);
  lineage.mutable_artifact()->set_version(ref->version);
  lineage.set_relation(relation);
  return lineage;
}

Result<v1::ArtifactSpec> BuildArtifactSpec(const PushFlags& flags,
                                           const std::optional<std::string>& tenant_hint) {
  v1::ArtifactSpec spec;
  if (flags.kind != "dataset" && flags.kind != "model") {
    return InvalidArgument("--kind '" + flags.kind +
                           "' is not one of dataset, model (reports are written by the gateway)");
  }
  SOV_ASSIGN_OR_RETURN(v1::ArtifactKind kind, ParseEnumFlag<v1::ArtifactKind>("--kind", flags.kind));
  spec.set_kind(kind);

  if (Status st = CheckArtifactName(flags.name, tenant_hint); !st.ok()) {
    return st.WithContext("--name");
  }
  spec.set_name(flags.name);
  if (Status st = CheckArtifactVersion(flags.version); !st.ok()) return st.WithContext("--version");
  spec.set_version(flags.version);

  const struct {
    const char* flag;
    const std::vector<std::string>* refs;
    v1::LineageRelation relation;
  } lineage_flags[] = {
      {"--trained-on", &flags.trained_on, v1::LINEAGE_RELATION_TRAINED_ON},
      {"--validated-on", &flags.validated_on, v1::LINEAGE_RELATION_VALIDATED_ON},
      {"--derived-from", &flags.derived_from, v1::LINEAGE_RELATION_DERIVED_FROM},
  };
  for (const auto& group : lineage_flags) {
    for (const std::string& text : *group.refs) {
      SOV_ASSIGN_OR_RETURN(v1::LineageRef lineage,
                           ParseLineageFlag(group.flag, text, group.relation));
      if (lineage.artifact().name() == flags.name && lineage.artifact().version() == flags.version) {
        return InvalidArgument(std::string(group.flag) + " " + text +
                               " names the artifact being pushed");
      }
      *spec.add_lineage() = std::move(lineage);
    }
  }

  if (!flags.classification.empty()) {
    SOV_ASSIGN_OR_RETURN(v1::Classification classification,
                         ParseEnumFlag<v1::Classification>("--classification", flags.classification));
    spec.set_classification(classification);
  }
  if (!flags.lawful_basis.empty()) {
    SOV_ASSIGN_OR_RETURN(v1::LawfulBasis basis,
                         ParseEnumFlag<v1::LawfulBasis>("--lawful-basis", flags.lawful_basis));
    spec.set_lawful_basis(basis);
  }
  if (!flags.special_category_condition.empty()) {
    SOV_ASSIGN_OR_RETURN(v1::SpecialCategoryCondition condition,
                         ParseEnumFlag<v1::SpecialCategoryCondition>(
                             "--special-category-condition", flags.special_category_condition));
    spec.set_special_category_condition(condition);
  }

  std::set<std::string> purposes;
  for (const std::string& purpose : flags.purposes) {
    if (purpose.empty()) return InvalidArgument("--purpose is empty");
    if (!purposes.insert(purpose).second) {
      return InvalidArgument("--purpose '" + purpose + "' is given twice");
    }
    spec.add_purposes(purpose);
  }

  Result<std::map<std::string, std::string>> labels = ParseLabels(flags.labels);
  if (!labels.ok()) return labels.status().WithContext("--label");
  for (const auto& [key, value] : *labels) (*spec.mutable_labels())[key] = value;

  if (flags.media_type.size() > 255) {
    return InvalidArgument("--media-type is longer than 255 characters");
  }
  spec.set_media_type(flags.media_type);
  spec.set_description(flags.description);
  spec.set_storage_location(flags.location);
  if (!flags.retain_until.empty()) {
    SOV_ASSIGN_OR_RETURN(*spec.mutable_retain_until(),
                         ParseTimeOrDurationFromNow("--retain-until", flags.retain_until));
  }
  return spec;
}

}  // namespace sov::cli
