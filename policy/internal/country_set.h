// CountrySet: a set of ISO 3166-1 alpha-2 country codes as a bitset over the 676 two-letter
// codes, plus "anywhere" for "*", so that residency checks cost one bit test per decision.
// Internal to the policy engine. A value type; const methods are thread-safe.
#pragma once

#include <bitset>
#include <string>
#include <string_view>
#include <vector>

namespace sov::policy::internal {

// Returns the index (0..675) of a two-upper-case-letter code, or -1.
inline int CountryIndex(std::string_view code) {
  if (code.size() != 2) return -1;
  const char a = code[0], b = code[1];
  if (a < 'A' || a > 'Z' || b < 'A' || b > 'Z') return -1;
  return (a - 'A') * 26 + (b - 'A');
}

// Returns whether `code` is an officially assigned ISO 3166-1 alpha-2 code.
bool IsIsoCountryCode(std::string_view code);

struct CountrySet {
  std::bitset<676> codes;
  bool anywhere = false;

  bool Contains(std::string_view code) const {
    if (anywhere) return true;
    const int i = CountryIndex(code);
    return i >= 0 && codes.test(static_cast<size_t>(i));
  }
  void Add(std::string_view code) {
    const int i = CountryIndex(code);
    if (i >= 0) codes.set(static_cast<size_t>(i));
  }
  void Merge(const CountrySet& other) {
    codes |= other.codes;
    anywhere = anywhere || other.anywhere;
  }
  // Returns the codes in alphabetical order.
  std::vector<std::string> List() const;
};

}  // namespace sov::policy::internal
