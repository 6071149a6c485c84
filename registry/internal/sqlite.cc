#include "registry/internal/sqlite.h"

#include <cassert>

#include <sqlite3.h>

namespace sov::registry::internal {
namespace {

// Dynamic queries (filters) make new statement texts; past this many cached ones, further
// statements are prepared per use instead.
constexpr size_t kMaxCachedStatements = 256;

std::string Shorten(std::string_view sql) {
  constexpr size_t kMax = 120;
  std::string out(sql.substr(0, kMax));
  for (char& c : out) {
    if (c == '\n') c = ' ';
  }
  if (sql.size() > kMax) out += "...";
  return out;
}

}  // namespace

int ExtendedErrorCode(sqlite3* db) { return sqlite3_extended_errcode(db); }

Status SqliteStatus(sqlite3* db, int rc, std::string_view call, std::string_view detail) {
  std::string message(call);
  if (!detail.empty()) message += "(" + Shorten(detail) + ")";
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  message += " (SQLite code " + std::to_string(rc) + ")";
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Unavailable(std::move(message));
    case SQLITE_FULL:
      return ResourceExhausted(std::move(message));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return DataLoss(std::move(message));
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return PermissionDenied(std::move(message));
    case SQLITE_CANTOPEN:
      return Unavailable(std::move(message));
    default:
      return Internal(std::move(message));
  }
}

Statement::Statement(Connection* connection, sqlite3_stmt* stmt, std::string sql, bool owned)
    : connection_(connection), stmt_(stmt), sql_(std::move(sql)), owned_(owned) {}

Statement::Statement(Statement&& other) noexcept
    : connection_(other.connection_),
      stmt_(other.stmt_),
      sql_(std::move(other.sql_)),
      owned_(other.owned_),
      bind_status_(std::move(other.bind_status_)) {
  other.stmt_ = nullptr;
}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  if (owned_) {
    sqlite3_finalize(stmt_);
    return;
  }
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  connection_->Return(stmt_, sql_);
}

void Statement::NoteBind(int rc, int i) {
  if (rc != SQLITE_OK && bind_status_.ok()) {
    bind_status_ = SqliteStatus(connection_->db(), rc, "sqlite3_bind #" + std::to_string(i), sql_);
  }
}

Statement& Statement::Bind(int i, int64_t value) {
  NoteBind(sqlite3_bind_int64(stmt_, i, value), i);
  return *this;
}

Statement& Statement::BindDouble(int i, double value) {
  NoteBind(sqlite3_bind_double(stmt_, i, value), i);
  return *this;
}

Statement& Statement::Bind(int i, std::string_view text) {
  NoteBind(sqlite3_bind_text64(stmt_, i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
           i);
  return *this;
}

Statement& Statement::BindBlob(int i, std::string_view bytes) {
  // A zero-length blob with a null pointer would bind NULL; keep it an empty blob.
  static const char kEmpty = 0;
  NoteBind(sqlite3_bind_blob64(stmt_, i, bytes.empty() ? &kEmpty : bytes.data(), bytes.size(),
                               SQLITE_TRANSIENT),
           i);
  return *this;
}

Statement& Statement::BindNull(int i) {
  NoteBind(sqlite3_bind_null(stmt_, i), i);
  return *this;
}

Statement& Statement::BindValue(int i, const SqlValue& value) {
  if (const auto* n = std::get_if<int64_t>(&value)) return Bind(i, *n);
  if (const auto* s = std::get_if<std::string>(&value)) return Bind(i, std::string_view(*s));
  return BindNull(i);
}

Statement& Statement::BindAll(const std::vector<SqlValue>& values) {
  for (size_t i = 0; i < values.size(); ++i) BindValue(static_cast<int>(i + 1), values[i]);
  return *this;
}

Result<bool> Statement::Step() {
  SOV_RETURN_IF_ERROR(bind_status_);
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(connection_->db(), rc, "sqlite3_step", sql_);
}

Status Statement::Run() {
  while (true) {
    SOV_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return OkStatus();
  }
}

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::Int64(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::Double(int column) const { return sqlite3_column_double(stmt_, column); }

std::string Statement::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (text == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

std::string Statement::Blob(int column) const {
  const void* blob = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (blob == nullptr) return std::string();
  return std::string(static_cast<const char*>(blob), static_cast<size_t>(size));
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, int flags,
                                                     const char* vfs) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, vfs);
  if (rc != SQLITE_OK) {
    Status st = SqliteStatus(db, rc, "sqlite3_open_v2", path);
    sqlite3_close_v2(db);
    return st;
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<Connection>(new Connection(db));
}

Connection::~Connection() {
  for (auto& [sql, cached] : cache_) {
    assert(!cached.in_use && "a Statement outlived its Connection");
    sqlite3_finalize(cached.stmt);
  }
  sqlite3_close_v2(db_);
}

Status Connection::Exec(std::string_view sql) {
  std::string text(sql);
  char* error = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    Status st = SqliteStatus(db_, rc, "sqlite3_exec", text);
    sqlite3_free(error);
    return st;
  }
  return OkStatus();
}

Result<Statement> Connection::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end() && !it->second.in_use) {
    it->second.in_use = true;
    return Statement(this, it->second.stmt, sql, /*owned=*/false);
  }
  bool cache = it == cache_.end() && cache_.size() < kMaxCachedStatements;
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                              cache ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteStatus(db_, rc, "sqlite3_prepare_v3", sql);
  }
  if (!cache) return Statement(this, stmt, sql, /*owned=*/true);
  cache_.emplace(sql, CachedStatement{stmt, true});
  return Statement(this, stmt, sql, /*owned=*/false);
}

void Connection::Return(sqlite3_stmt* stmt, const std::string& sql) {
  auto it = cache_.find(sql);
  assert(it != cache_.end() && it->second.stmt == stmt);
  if (it != cache_.end()) it->second.in_use = false;
}

Status Connection::Run(const std::string& sql) {
  SOV_ASSIGN_OR_RETURN(Statement st, Prepare(sql));
  return st.Run();
}

Result<int64_t> Connection::QueryInt(const std::string& sql) {
  SOV_ASSIGN_OR_RETURN(Statement st, Prepare(sql));
  SOV_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Internal("no row from " + sql);
  return st.Int64(0);
}

int64_t Connection::Changes() const { return sqlite3_changes64(db_); }

int64_t Connection::LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }

void Connection::SetBusyTimeout(int ms) { sqlite3_busy_timeout(db_, ms); }

bool Connection::InAutocommit() const { return sqlite3_get_autocommit(db_) != 0; }

}  // namespace sov::registry::internal
