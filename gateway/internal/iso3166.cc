#include "gateway/internal/iso3166.h"

namespace sov::gateway::internal {
namespace {

// The 249 officially assigned codes (ISO 3166-1, as published by the ISO 3166 Maintenance
// Agency), two letters each, in order.
constexpr std::string_view kAssigned =
    "ADAEAFAGAIALAMAOAQARASATAUAWAXAZ"
    "BABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZ"
    "CACCCDCFCGCHCICKCLCMCNCOCRCUCVCWCXCYCZ"
    "DEDJDKDMDODZ"
    "ECEEEGEHERESET"
    "FIFJFKFMFOFR"
    "GAGBGDGEGFGGGHGIGLGMGNGPGQGRGSGTGUGWGY"
    "HKHMHNHRHTHU"
    "IDIEILIMINIOIQIRISIT"
    "JEJMJOJP"
    "KEKGKHKIKMKNKPKRKWKYKZ"
    "LALBLCLILKLRLSLTLULVLY"
    "MAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZ"
    "NANCNENFNGNINLNONPNRNUNZ"
    "OM"
    "PAPEPFPGPHPKPLPMPNPRPSPTPWPY"
    "QA"
    "RERORSRURW"
    "SASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZ"
    "TCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZ"
    "UAUGUMUSUYUZ"
    "VAVCVEVGVIVNVU"
    "WFWS"
    "YEYT"
    "ZAZMZW";
static_assert(kAssigned.size() == 2 * 249);

}  // namespace

bool IsIso3166Alpha2(std::string_view code) {
  if (code.size() != 2) return false;
  for (size_t i = 0; i < kAssigned.size(); i += 2) {
    if (kAssigned.substr(i, 2) == code) return true;
  }
  return false;
}

}  // namespace sov::gateway::internal
