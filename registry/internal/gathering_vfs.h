// A SQLite VFS that wraps the default one and gathers consecutive writes to a WAL file into one
// system call. SQLite writes each WAL frame as two writes (a 24-byte header, then the page), so
// committing a group of n pages costs 2n pwrite calls; on this project's virtual machines a
// system call costs microseconds, and those calls were the largest part of the metadata store's
// writer thread. Gathered bytes are written before any other operation on the WAL file (read,
// sync, size, truncate, lock, close) and before any shared-memory lock or barrier on its
// database file, through which SQLite publishes the wal-index header: so SQLite never sees the
// difference, and a commit's frames reach the file before it is synced and before other
// connections can see them. A failed write is reported by the call that wrote it: the sync of
// the commit with synchronous=FULL, as the metadata store uses it (without a sync per commit,
// a write that fails at the barrier is reported by the WAL file's next call only). Database
// and journal files pass straight through.
// Used by the store's single write connection; readers open the same files with the default
// VFS. Registration is thread-safe; each file is used by one connection at a time, as SQLite's
// own files are.
#pragma once

namespace sov::registry::internal {

// Registers the VFS on first use (not as the default) and returns its name, for
// sqlite3_open_v2.
const char* GatheringVfsName();

}  // namespace sov::registry::internal
