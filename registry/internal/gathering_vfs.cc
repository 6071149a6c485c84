#include "registry/internal/gathering_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace sov::registry::internal {
namespace {

// Writes beyond this many gathered bytes go out at once; a group commit's frames fit.
constexpr int kGatherBytes = 4 << 20;
// The unix VFS writes at most 128 KiB - 1 bytes per call (it masks longer lengths), so gathered
// bytes go out in pieces of this size.
constexpr int kPieceBytes = 124 << 10;

// SQLite allocates szOsFile bytes per open file: this header, then the wrapped file.
struct GatheringFile {
  sqlite3_file base;
  sqlite3_file* real;
  bool gather;            // a WAL file
  char* bytes;            // gathered, not yet written; malloc'd on first use
  int size;               // gathered byte count
  sqlite3_int64 offset;   // file offset of bytes[0]
  int failed;             // a write that failed where it could not be reported yet
  GatheringFile* wal;     // of a database file: its open WAL file, if any
  GatheringFile* db;      // of a WAL file: its database file
};

GatheringFile* Of(sqlite3_file* f) { return reinterpret_cast<GatheringFile*>(f); }
const sqlite3_io_methods& Real(GatheringFile* f) { return *f->real->pMethods; }

// Writes what is gathered. SQLITE_OK, or the wrapped file's error for the write, or one that
// an earlier flush could not report (reported once; the gathered bytes are then dropped, and
// SQLite, seeing its transaction fail, writes those frames again).
int Flush(GatheringFile* f) {
  int rc = f->failed;
  f->failed = SQLITE_OK;
  for (int done = 0; rc == SQLITE_OK && done < f->size; done += kPieceBytes) {
    const int piece = std::min(kPieceBytes, f->size - done);
    rc = Real(f).xWrite(f->real, f->bytes + done, piece, f->offset + done);
  }
  f->size = 0;
  return rc;
}

// SQLite publishes WAL frames through the database file's shared memory (a barrier, then the
// wal-index header): the WAL's gathered frames must be written first.
void FlushWal(GatheringFile* db) {
  if (db->wal == nullptr) return;
  if (int rc = Flush(db->wal); rc != SQLITE_OK) db->wal->failed = rc;  // for its next call
}

int Close(sqlite3_file* file) {
  GatheringFile* f = Of(file);
  int flushed = Flush(f);
  if (f->db != nullptr) f->db->wal = nullptr;
  if (f->wal != nullptr) f->wal->db = nullptr;
  int rc = Real(f).xClose(f->real);
  std::free(f->bytes);
  f->bytes = nullptr;
  return flushed != SQLITE_OK ? flushed : rc;
}

int Read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  GatheringFile* f = Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f).xRead(f->real, out, amount, offset);
}

int Write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  GatheringFile* f = Of(file);
  if (!f->gather) return Real(f).xWrite(f->real, data, amount, offset);
  if (f->size > 0 && (offset != f->offset + f->size || f->size + amount > kGatherBytes)) {
    if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  }
  if (amount > kPieceBytes) return Real(f).xWrite(f->real, data, amount, offset);
  if (f->bytes == nullptr) {
    f->bytes = static_cast<char*>(std::malloc(kGatherBytes));
    if (f->bytes == nullptr) return SQLITE_NOMEM;
  }
  if (f->size == 0) f->offset = offset;
  std::memcpy(f->bytes + f->size, data, static_cast<size_t>(amount));
  f->size += amount;
  return SQLITE_OK;
}

int Truncate(sqlite3_file* file, sqlite3_int64 size) {
  GatheringFile* f = Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f).xTruncate(f->real, size);
}

int Sync(sqlite3_file* file, int flags) {
  GatheringFile* f = Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f).xSync(f->real, flags);
}

int FileSize(sqlite3_file* file, sqlite3_int64* size) {
  GatheringFile* f = Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f).xFileSize(f->real, size);
}

int Lock(sqlite3_file* file, int level) {
  GatheringFile* f = Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f).xLock(f->real, level);
}

int Unlock(sqlite3_file* file, int level) {
  GatheringFile* f = Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f).xUnlock(f->real, level);
}

int CheckReservedLock(sqlite3_file* file, int* out) {
  GatheringFile* f = Of(file);
  return Real(f).xCheckReservedLock(f->real, out);
}

int FileControl(sqlite3_file* file, int op, void* arg) {
  GatheringFile* f = Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f).xFileControl(f->real, op, arg);
}

int SectorSize(sqlite3_file* file) {
  GatheringFile* f = Of(file);
  return Real(f).xSectorSize(f->real);
}

int DeviceCharacteristics(sqlite3_file* file) {
  GatheringFile* f = Of(file);
  return Real(f).xDeviceCharacteristics(f->real);
}

int ShmMap(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  GatheringFile* f = Of(file);
  return Real(f).xShmMap(f->real, region, size, extend, out);
}

int ShmLock(sqlite3_file* file, int offset, int n, int flags) {
  GatheringFile* f = Of(file);
  FlushWal(f);
  return Real(f).xShmLock(f->real, offset, n, flags);
}

void ShmBarrier(sqlite3_file* file) {
  GatheringFile* f = Of(file);
  FlushWal(f);
  Real(f).xShmBarrier(f->real);
}

int ShmUnmap(sqlite3_file* file, int delete_flag) {
  GatheringFile* f = Of(file);
  return Real(f).xShmUnmap(f->real, delete_flag);
}

int Fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  GatheringFile* f = Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return Real(f).xFetch(f->real, offset, amount, out);
}

int Unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  GatheringFile* f = Of(file);
  return Real(f).xUnfetch(f->real, offset, page);
}

// In sqlite3_io_methods order, version 3 (shared memory and memory-mapped reads).
constexpr sqlite3_io_methods kMethods = {
    3,          Close,         Read,       Write,      Truncate,          Sync,
    FileSize,   Lock,          Unlock,     CheckReservedLock,             FileControl,
    SectorSize, DeviceCharacteristics,     ShmMap,     ShmLock,           ShmBarrier,
    ShmUnmap,   Fetch,         Unfetch,
};

sqlite3_vfs* Wrapped(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }

int Open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  GatheringFile* f = Of(file);
  std::memset(f, 0, sizeof *f);
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  int rc = Wrapped(vfs)->xOpen(Wrapped(vfs), name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    // SQLite closes only files whose methods are set, and ours are not yet.
    if (f->real->pMethods != nullptr) f->real->pMethods->xClose(f->real);
    return rc;
  }
  if (f->real->pMethods == nullptr) return SQLITE_CANTOPEN;
  if (f->real->pMethods->iVersion < kMethods.iVersion) {
    // Every method above forwards; a file without them cannot be wrapped.
    f->real->pMethods->xClose(f->real);
    return SQLITE_CANTOPEN;
  }
  f->base.pMethods = &kMethods;
  if ((flags & SQLITE_OPEN_WAL) != 0) {
    // Gathering is safe only when the database's barrier can write the frames (FlushWal).
    sqlite3_file* db = sqlite3_database_file_object(name);
    if (db != nullptr && db->pMethods == &kMethods) {
      f->gather = true;
      f->db = Of(db);
      f->db->wal = f;
    }
  }
  return SQLITE_OK;
}

int Delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return Wrapped(vfs)->xDelete(Wrapped(vfs), name, sync_dir);
}
int Access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return Wrapped(vfs)->xAccess(Wrapped(vfs), name, flags, out);
}
int FullPathname(sqlite3_vfs* vfs, const char* name, int size, char* out) {
  return Wrapped(vfs)->xFullPathname(Wrapped(vfs), name, size, out);
}
void* DlOpen(sqlite3_vfs* vfs, const char* name) {
  return Wrapped(vfs)->xDlOpen(Wrapped(vfs), name);
}
void DlError(sqlite3_vfs* vfs, int size, char* out) {
  Wrapped(vfs)->xDlError(Wrapped(vfs), size, out);
}
void (*DlSym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  return Wrapped(vfs)->xDlSym(Wrapped(vfs), handle, symbol);
}
void DlClose(sqlite3_vfs* vfs, void* handle) { Wrapped(vfs)->xDlClose(Wrapped(vfs), handle); }
int Randomness(sqlite3_vfs* vfs, int size, char* out) {
  return Wrapped(vfs)->xRandomness(Wrapped(vfs), size, out);
}
int Sleep(sqlite3_vfs* vfs, int micros) { return Wrapped(vfs)->xSleep(Wrapped(vfs), micros); }
int CurrentTime(sqlite3_vfs* vfs, double* out) {
  return Wrapped(vfs)->xCurrentTime(Wrapped(vfs), out);
}
int GetLastError(sqlite3_vfs* vfs, int size, char* out) {
  return Wrapped(vfs)->xGetLastError(Wrapped(vfs), size, out);
}
int CurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return Wrapped(vfs)->xCurrentTimeInt64(Wrapped(vfs), out);
}

}  // namespace

const char* GatheringVfsName() {
  static const char* const name = [] {
    sqlite3_vfs* wrapped = sqlite3_vfs_find(nullptr);
    // Version 2: the system-call hooks of version 3 are for SQLite's own tests.
    static sqlite3_vfs vfs = {
        2,
        static_cast<int>(sizeof(GatheringFile)) + wrapped->szOsFile,
        wrapped->mxPathname,
        nullptr,
        "sov-gathering",
        wrapped,
        Open,
        Delete,
        Access,
        FullPathname,
        DlOpen,
        DlError,
        DlSym,
        DlClose,
        Randomness,
        Sleep,
        CurrentTime,
        GetLastError,
        CurrentTimeInt64,
        nullptr,
        nullptr,
        nullptr,
    };
    sqlite3_vfs_register(&vfs, /*makeDflt=*/0);
    return vfs.zName;
  }();
  return name;
}

}  // namespace sov::registry::internal
