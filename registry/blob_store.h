// BlobStore: where the registry keeps artifact bytes, already encrypted (crypto/chunked_aead.h);
// the store sees only ciphertext. Each storage location from the config is one namespace (for
// LocalBlobStore, one directory). An upload writes a private staging object that only grows,
// can be truncated back to its last durable point when an upload resumes, and becomes a blob
// by Publish, which is durable when it returns (fsync of the data, atomic rename, fsync of the
// directory). Blobs are immutable; Delete removes one (see there for its durability).
//
// Narrow on purpose, so that a shared object store can implement it for replicas.
// Implementations are thread-safe; a BlobAppender or BlobReader is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time.h"

namespace sov::registry {

class BlobAppender {
 public:
  virtual ~BlobAppender() = default;
  // Appends bytes (buffered; durable only after Sync).
  virtual Status Append(std::string_view bytes) = 0;
  // Makes everything appended so far durable.
  virtual Status Sync() = 0;
  // Bytes in the staging object, appended ones included.
  virtual uint64_t size() const = 0;
};

class BlobReader {
 public:
  virtual ~BlobReader() = default;
  // Reads exactly `length` bytes at `offset` into `out` (resized); DATA_LOSS when the blob is
  // shorter than that.
  virtual Status ReadAt(uint64_t offset, size_t length, std::string& out) = 0;
  virtual uint64_t size() const = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // The storage locations this store serves, as configured.
  virtual std::vector<std::string> Locations() const = 0;

  // Opens the staging object of `upload_id` in `location` for appending: creates it empty when
  // absent and `keep_bytes` is 0; otherwise truncates it to `keep_bytes` (the upload's durable
  // point) first. DATA_LOSS when it is absent or shorter than keep_bytes; NOT_FOUND for an
  // unknown location.
  virtual Result<std::unique_ptr<BlobAppender>> OpenStaging(const std::string& location,
                                                            const std::string& upload_id,
                                                            uint64_t keep_bytes) = 0;
  // Makes the staging object of `upload_id` the blob `blob_id`, durably. NOT_FOUND when there is
  // no staging object (OK when the blob exists because an earlier Publish completed: retries
  // are safe); ALREADY_EXISTS when another blob has that id (blobs are never replaced).
  virtual Status Publish(const std::string& location, const std::string& upload_id,
                         const std::string& blob_id) = 0;
  // Opens the staging object of `upload_id` for reading, e.g. to rebuild an upload's hash state
  // after a restart; NOT_FOUND when absent.
  virtual Result<std::unique_ptr<BlobReader>> OpenStagingReader(const std::string& location,
                                                                const std::string& upload_id) = 0;
  // Deletes a staging object; OK when absent.
  virtual Status DiscardStaging(const std::string& location, const std::string& upload_id) = 0;

  // Opens a blob for reading; NOT_FOUND when absent.
  virtual Result<std::unique_ptr<BlobReader>> Open(const std::string& location,
                                                   const std::string& blob_id) = 0;
  // Deletes a blob; OK when absent. Not durable by itself: a crash soon after may bring the blob
  // back. Every caller deletes blobs that Registry::Recover deletes again at the next start (an
  // unreferenced blob, or an erased artifact's, whose key is gone), so no fsync is spent here.
  virtual Status Delete(const std::string& location, const std::string& blob_id) = 0;

  // For startup cleanup: the upload ids with a staging object, and the ids of every blob.
  virtual Result<std::vector<std::string>> ListStaging(const std::string& location) = 0;
  virtual Result<std::vector<std::string>> ListBlobs(const std::string& location) = 0;
  // For startup cleanup: when a staging object, or a blob, was last written (a blob keeps the
  // time of its staging object's last write). NOT_FOUND when absent.
  virtual Result<SystemTime> StagingWriteTime(const std::string& location,
                                              const std::string& upload_id) = 0;
  virtual Result<SystemTime> BlobWriteTime(const std::string& location,
                                           const std::string& blob_id) = 0;
};

}  // namespace sov::registry
