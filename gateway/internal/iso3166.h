// The officially assigned ISO 3166-1 alpha-2 country codes, used to check the jurisdictions
// named in sovd's config and tenants files. Pure function; thread-safe.
#pragma once

#include <string_view>

namespace sov::gateway::internal {

// Returns true when `code` is an officially assigned ISO 3166-1 alpha-2 code ("DE", "US"),
// upper case as the standard writes it.
bool IsIso3166Alpha2(std::string_view code);

}  // namespace sov::gateway::internal
