// A thin RAII layer over the SQLite C API for the registry's SQLite store: a Connection owns one
// sqlite3 handle and caches its prepared statements; a Statement binds, steps and reads columns.
// Every SQLite failure becomes a Status naming the failed call and the statement. A Connection
// and its statements are used by one thread at a time (they are opened SQLITE_OPEN_NOMUTEX).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace sov::registry::internal {

// Returns the Status for SQLite result code `rc` from `call` (e.g. "sqlite3_step"), with the
// connection's error message when `db` is given. BUSY/LOCKED -> UNAVAILABLE, FULL ->
// RESOURCE_EXHAUSTED, CORRUPT/NOTADB -> DATA_LOSS, CANTOPEN/PERM/READONLY -> a matching code,
// anything else INTERNAL.
Status SqliteStatus(sqlite3* db, int rc, std::string_view call, std::string_view detail = {});

// A parameter value for dynamically built queries; nullptr_t binds NULL.
using SqlValue = std::variant<std::nullptr_t, int64_t, std::string>;

class Connection;

// A prepared statement borrowed from a Connection's cache (or owned when the cached one is
// busy). Reset and unbound when destroyed, so it is ready for the next user.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  // Binds parameter `i` (1-based). Text and blobs are copied (SQLITE_TRANSIENT).
  Statement& Bind(int i, int64_t value);
  Statement& BindDouble(int i, double value);
  Statement& Bind(int i, std::string_view text);
  Statement& BindBlob(int i, std::string_view bytes);
  Statement& BindNull(int i);
  Statement& BindValue(int i, const SqlValue& value);
  // Binds `values` to parameters 1..n.
  Statement& BindAll(const std::vector<SqlValue>& values);

  // Runs one step: true when a row is ready, false when done; the failing call's Status
  // otherwise (the first bind error, if any, is reported here).
  Result<bool> Step();
  // Steps to completion, for statements that return no rows.
  Status Run();

  bool IsNull(int column) const;
  int64_t Int64(int column) const;
  double Double(int column) const;
  std::string Text(int column) const;  // "" for NULL
  std::string Blob(int column) const;  // "" for NULL

  const std::string& sql() const { return sql_; }

 private:
  friend class Connection;
  Statement(Connection* connection, sqlite3_stmt* stmt, std::string sql, bool owned);
  void NoteBind(int rc, int i);

  Connection* connection_;
  sqlite3_stmt* stmt_;
  std::string sql_;
  bool owned_;  // finalize instead of returning to the cache
  Status bind_status_;
};

class Connection {
 public:
  // Opens `path` with sqlite3_open_v2 `flags` (SQLITE_OPEN_NOMUTEX is added) through the VFS
  // named `vfs` (null: the default).
  static Result<std::unique_ptr<Connection>> Open(const std::string& path, int flags,
                                                  const char* vfs = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs SQL text that may hold several statements and returns no rows.
  Status Exec(std::string_view sql);
  // Runs one statement that returns no rows (BEGIN, COMMIT, SAVEPOINT, ...), prepared once and
  // cached: Exec parses its text on every call.
  Status Run(const std::string& sql);
  // Returns the statement for `sql`, prepared once and cached.
  Result<Statement> Prepare(const std::string& sql);
  // Runs a statement that yields one integer (e.g. a PRAGMA or COUNT).
  Result<int64_t> QueryInt(const std::string& sql);

  sqlite3* db() const { return db_; }
  // Rows changed by the last INSERT/UPDATE/DELETE.
  int64_t Changes() const;
  // The rowid of the last INSERT.
  int64_t LastInsertRowid() const;
  // Sets the busy handler's timeout (sqlite3_busy_timeout).
  void SetBusyTimeout(int ms);
  // True when no transaction is open (SQLite may roll one back by itself after some errors).
  bool InAutocommit() const;

 private:
  friend class Statement;
  explicit Connection(sqlite3* db) : db_(db) {}
  void Return(sqlite3_stmt* stmt, const std::string& sql);

  struct CachedStatement {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  sqlite3* db_;
  std::map<std::string, CachedStatement, std::less<>> cache_;
};

// Returns the extended result code of the last failure on `db`.
int ExtendedErrorCode(sqlite3* db);

}  // namespace sov::registry::internal
