// The SQLite store's schema as an ordered list of migrations: migration i (0-based) takes a
// database from user_version i to i + 1. Append new migrations; never edit a released one.
#pragma once

#include <span>
#include <string_view>

namespace sov::registry::internal {

// Returns every migration, oldest first; its size is the current schema version.
std::span<const std::string_view> SqliteMigrations();

}  // namespace sov::registry::internal
