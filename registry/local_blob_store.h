// LocalBlobStore: the BlobStore of one gateway, one directory per storage location. Each
// location directory holds `staging/<upload id>.part` (uploads being written) and
// `blobs/<first two characters of the blob id>/<blob id>.blob` (published blobs); both are
// created 0700 by Create. Appends are buffered (4 MiB) and large ones written straight through,
// Sync is flush + fdatasync, Publish is fsync + rename + fsync of both directories, Delete is an
// unlink without a directory fsync (BlobStore::Delete says why), and readers use pread. Upload
// and blob ids must be 1 to 128 characters of [A-Za-z0-9_-] (INVALID_ARGUMENT otherwise), so
// that no id can escape its directory. Thread-safe, as BlobStore says.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "registry/blob_store.h"

namespace sov::registry {

struct LocalBlobLocation {
  std::string name;       // e.g. "eu-de-1"
  std::string directory;  // absolute, or relative to the working directory
};

class LocalBlobStore final : public BlobStore {
 public:
  // Creates each location's staging/ and blobs/ directories when missing. INVALID_ARGUMENT for
  // an empty or duplicate location name; the failing call's error when a directory cannot be
  // created.
  static Result<std::unique_ptr<LocalBlobStore>> Create(std::vector<LocalBlobLocation> locations);

  std::vector<std::string> Locations() const override;
  Result<std::unique_ptr<BlobAppender>> OpenStaging(const std::string& location,
                                                    const std::string& upload_id,
                                                    uint64_t keep_bytes) override;
  Status Publish(const std::string& location, const std::string& upload_id,
                 const std::string& blob_id) override;
  Status DiscardStaging(const std::string& location, const std::string& upload_id) override;
  Result<std::unique_ptr<BlobReader>> Open(const std::string& location,
                                           const std::string& blob_id) override;
  Result<std::unique_ptr<BlobReader>> OpenStagingReader(const std::string& location,
                                                        const std::string& upload_id) override;
  Status Delete(const std::string& location, const std::string& blob_id) override;
  Result<std::vector<std::string>> ListStaging(const std::string& location) override;
  Result<std::vector<std::string>> ListBlobs(const std::string& location) override;
  Result<SystemTime> StagingWriteTime(const std::string& location,
                                      const std::string& upload_id) override;
  Result<SystemTime> BlobWriteTime(const std::string& location,
                                   const std::string& blob_id) override;

 private:
  explicit LocalBlobStore(std::vector<LocalBlobLocation> locations);
  // The directory of `location`; NOT_FOUND when it is not configured.
  Result<std::string> DirectoryOf(const std::string& location) const;

  std::vector<LocalBlobLocation> locations_;  // immutable after Open
};

}  // namespace sov::registry
