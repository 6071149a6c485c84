// Shows that a database written through the gathering VFS reads back exactly, from the same
// connection inside a transaction (pages spilled to the WAL), from a default-VFS connection
// after each commit (also without a sync per commit, when only the wal-index barrier writes the
// gathered frames), and after checkpoints, truncation and reopening.
#include "registry/internal/gathering_vfs.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdio>
#include <string>

#include "tests/testing/temp_dir.h"

namespace sov::registry::internal {
namespace {

class Db {
 public:
  Db(const std::string& path, const char* vfs) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs),
              SQLITE_OK);
  }
  ~Db() { sqlite3_close(db_); }

  void Exec(const std::string& sql) {
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << sql << ": " << (error != nullptr ? error : "");
    sqlite3_free(error);
  }

  std::string Text(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

// Rows whose values say which row they are, so that a misplaced or torn write shows.
std::string InsertRows(int first, int count) {
  return "WITH RECURSIVE n(i) AS (SELECT " + std::to_string(first) + " UNION ALL SELECT i + 1 " +
         "FROM n WHERE i < " + std::to_string(first + count - 1) + ") INSERT INTO t SELECT i, " +
         "printf('%.2000c', char(65 + i % 26)) || i FROM n";
}

// "rows:filler bytes:rows that end in their own id".
const char* kCheck = "SELECT count(*) || ':' || sum(length(v) - length(id)) || ':' || "
                     "sum(substr(v, 2001) = CAST(id AS TEXT)) FROM t";

class GatheringVfsTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::string path_ = dir_.Join("g.db");
};

TEST_F(GatheringVfsTest, CommitsAreSeenByOtherConnections) {
  // Each commit is complete for a default-VFS reader right away, with and without a WAL sync
  // per commit, and the file reads back the same after closing.
  for (const char* sync : {"FULL", "OFF"}) {
    SCOPED_TRACE(sync);
    std::remove(path_.c_str());
    {
      Db writer(path_, GatheringVfsName());
      writer.Exec("PRAGMA journal_mode = WAL");
      writer.Exec(std::string("PRAGMA synchronous = ") + sync);
      writer.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
      Db reader(path_, nullptr);
      for (int i = 0; i < 20; ++i) {
        writer.Exec(InsertRows(i * 30, 30));
        const int rows = (i + 1) * 30;
        EXPECT_EQ(reader.Text(kCheck), std::to_string(rows) + ":" +
                                           std::to_string(rows * 2000) + ":" +
                                           std::to_string(rows))
            << "after commit " << i;
      }
    }
    Db again(path_, nullptr);
    EXPECT_EQ(again.Text("PRAGMA integrity_check"), "ok");
    EXPECT_EQ(again.Text("SELECT count(*) FROM t"), "600");
  }
}

TEST_F(GatheringVfsTest, SpilledPagesReadBackInsideATransaction) {
  // A transaction larger than the page cache writes pages to the WAL before it commits and
  // reads them back; checkpoints and truncation see every gathered byte.
  Db writer(path_, GatheringVfsName());
  writer.Exec("PRAGMA journal_mode = WAL");
  writer.Exec("PRAGMA cache_size = 10");
  writer.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  writer.Exec("BEGIN");
  writer.Exec(InsertRows(0, 2000));
  writer.Exec("UPDATE t SET v = v WHERE id % 7 = 0");
  EXPECT_EQ(writer.Text(kCheck), "2000:4000000:2000");
  writer.Exec("COMMIT");
  writer.Exec("PRAGMA wal_checkpoint(TRUNCATE)");
  writer.Exec(InsertRows(2000, 500));
  EXPECT_EQ(writer.Text("PRAGMA integrity_check"), "ok");
  Db reader(path_, nullptr);
  EXPECT_EQ(reader.Text(kCheck), "2500:5000000:2500");
}

}  // namespace
}  // namespace sov::registry::internal
