#include "gateway/audit_service.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/hex.h"
#include "gateway/audit_convert.h"

namespace sov::gateway {
namespace {

constexpr int32_t kDefaultPageSize = 100;
constexpr int32_t kMaxPageSize = 1000;
// Entries read from the store at a time by Export, Tail and the leaf-hash scan: bounded memory
// per call whatever the range.
constexpr int64_t kReadBatch = 1000;
// How often a Tail looks for new entries: the log offers no notification, and a fifth of a
// second is well under what a person watching a tail notices.
constexpr std::chrono::milliseconds kTailPollInterval{200};

std::string BytesOf(const registry::LeafHash& hash) {
  return std::string(reinterpret_cast<const char*>(hash.data()), hash.size());
}

std::string Count(int64_t n) { return std::to_string(n); }

Status ClientGone() { return Cancelled("the client cancelled the call"); }

}  // namespace

namespace internal {

bool SeesAllAuditEntries(const Principal& principal) {
  for (const std::string& role : principal.tenant.roles) {
    if (std::find(kAuditReaderRoles.begin(), kAuditReaderRoles.end(), role) !=
        kAuditReaderRoles.end()) {
      return true;
    }
  }
  return false;
}

bool RestrictAuditFilterToCaller(const Principal& principal, registry::AuditFilter& filter) {
  if (SeesAllAuditEntries(principal)) return true;
  if (!filter.tenant_id.empty() && filter.tenant_id != principal.tenant.id) return false;
  filter.tenant_id = principal.tenant.id;
  return true;
}

bool AuditEntryVisibleTo(const Principal& principal, const sov::v1::AuditEntry& entry) {
  if (SeesAllAuditEntries(principal)) return true;
  return entry.has_principal() && !principal.tenant.id.empty() &&
         entry.principal().tenant_id() == principal.tenant.id;
}

}  // namespace internal

AuditService::AuditService(std::shared_ptr<const CallGuard> guard,
                           std::shared_ptr<registry::AuditLog> audit)
    : guard_(std::move(guard)), audit_(std::move(audit)) {}

AuditService::~AuditService() { Stop(); }

void AuditService::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
}

bool AuditService::WaitForAppends() {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait_for(lock, kTailPollInterval, [this] { return stopping_; });
  return !stopping_;
}

Result<registry::CheckpointRecord> AuditService::LatestCheckpoint(int64_t at_least) {
  SOV_ASSIGN_OR_RETURN(std::optional<registry::CheckpointRecord> latest,
                       audit_->store().FindCheckpoint(0));
  if (latest.has_value() && latest->tree_size >= std::max<int64_t>(at_least, 1)) {
    return std::move(*latest);
  }
  // None yet, or the entry asked about is newer than the background signer's last tick: sign
  // now rather than make the caller wait for the next interval.
  return audit_->CheckpointNow();
}

Result<int64_t> AuditService::FindLeafByHash(const registry::LeafHash& leaf_hash) {
  registry::MetadataStore& store = audit_->store();
  SOV_ASSIGN_OR_RETURN(int64_t size, store.AuditSize());
  for (int64_t begin = 0; begin < size; begin += kReadBatch) {
    SOV_ASSIGN_OR_RETURN(std::vector<registry::AuditRecord> records,
                         store.ReadAudit(begin, std::min(size, begin + kReadBatch)));
    for (const registry::AuditRecord& record : records) {
      if (record.leaf_hash == leaf_hash) return record.index;
    }
  }
  return NotFound("no audit entry has leaf hash " +
                  HexEncode(std::span<const uint8_t>(leaf_hash)));
}

grpc::Status AuditService::Query(grpc::ServerContext* context,
                                 const sov::v1::QueryRequest* request,
                                 sov::v1::QueryResponse* response) {
  return guard_->Run(*context, kAuditQueryMethod, [&](GuardedCall& call) -> Status {
    int32_t page_size = request->page_size();
    if (page_size < 0 || page_size > kMaxPageSize) {
      return InvalidArgument("page_size must be 1 to " + Count(kMaxPageSize) +
                             " (0 means " + Count(kDefaultPageSize) + "), got " +
                             Count(page_size));
    }
    if (page_size == 0) page_size = kDefaultPageSize;
    SOV_ASSIGN_OR_RETURN(registry::AuditFilter filter, ToRegistryFilter(request->filter()));
    filter.descending = request->descending();
    if (!request->page_token().empty()) {
      SOV_ASSIGN_OR_RETURN(int64_t next,
                           DecodeAuditPageToken(request->page_token(), filter.descending));
      if (!filter.descending) {
        filter.start_index = std::max(filter.start_index, next);
      } else {
        // Newest first: the token is the highest index still to return.
        const int64_t bound =
            next == std::numeric_limits<int64_t>::max() ? next : next + 1;
        filter.end_index = filter.end_index == 0 ? bound : std::min(filter.end_index, bound);
      }
    }
    if (filter.end_index != 0 && filter.start_index >= filter.end_index) return OkStatus();
    if (!internal::RestrictAuditFilterToCaller(call.principal(), filter)) return OkStatus();

    // One entry more than the page tells whether there is a next page, and where it starts.
    filter.limit = static_cast<int64_t>(page_size) + 1;
    SOV_ASSIGN_OR_RETURN(std::vector<registry::AuditRecord> records,
                         audit_->store().QueryAudit(filter));
    const size_t shown = std::min(records.size(), static_cast<size_t>(page_size));
    for (size_t i = 0; i < shown; ++i) {
      sov::v1::AuditEntry entry = ToAuditEntry(records[i]);
      // The store already narrowed by tenant; this holds even if a store ignored that filter.
      if (!internal::AuditEntryVisibleTo(call.principal(), entry)) continue;
      *response->add_entries() = std::move(entry);
    }
    if (records.size() > static_cast<size_t>(page_size)) {
      response->set_next_page_token(
          EncodeAuditPageToken(records[static_cast<size_t>(page_size)].index, filter.descending));
    }
    return OkStatus();
  });
}

grpc::Status AuditService::GetCheckpoint(grpc::ServerContext* context,
                                         const sov::v1::GetCheckpointRequest* request,
                                         sov::v1::GetCheckpointResponse* response) {
  return guard_->Run(*context, kGetCheckpointMethod, [&](GuardedCall&) -> Status {
    const int64_t tree_size = request->tree_size();
    if (tree_size < 0) return InvalidArgument("tree_size must not be negative");
    registry::CheckpointRecord checkpoint;
    if (tree_size == 0) {
      SOV_ASSIGN_OR_RETURN(checkpoint, LatestCheckpoint(0));
    } else {
      SOV_ASSIGN_OR_RETURN(std::optional<registry::CheckpointRecord> found,
                           audit_->store().FindCheckpoint(tree_size));
      if (!found.has_value()) {
        return NotFound("no audit checkpoint was signed at tree size " + Count(tree_size) +
                        "; ask for the latest (tree_size 0), or prove against a size that has "
                        "one");
      }
      checkpoint = std::move(*found);
    }
    *response->mutable_checkpoint() = ToCheckpoint(checkpoint, audit_->origin());
    return OkStatus();
  });
}

grpc::Status AuditService::GetInclusionProof(grpc::ServerContext* context,
                                             const sov::v1::GetInclusionProofRequest* request,
                                             sov::v1::GetInclusionProofResponse* response) {
  return guard_->Run(*context, kGetInclusionProofMethod, [&](GuardedCall&) -> Status {
    if (request->tree_size() < 0) return InvalidArgument("tree_size must not be negative");
    registry::MetadataStore& store = audit_->store();

    int64_t leaf_index = 0;
    std::optional<registry::LeafHash> leaf_hash;
    switch (request->leaf_case()) {
      case sov::v1::GetInclusionProofRequest::kLeafIndex:
        leaf_index = request->leaf_index();
        if (leaf_index < 0) return InvalidArgument("leaf_index must not be negative");
        break;
      case sov::v1::GetInclusionProofRequest::kLeafHash: {
        const std::string& bytes = request->leaf_hash();
        if (bytes.size() != 32) {
          return InvalidArgument("leaf_hash must be 32 bytes (SHA-256), got " +
                                 Count(static_cast<int64_t>(bytes.size())));
        }
        registry::LeafHash hash{};
        std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(hash.data()));
        SOV_ASSIGN_OR_RETURN(leaf_index, FindLeafByHash(hash));
        leaf_hash = hash;
        break;
      }
      case sov::v1::GetInclusionProofRequest::LEAF_NOT_SET:
        return InvalidArgument("name the entry: set leaf_index or leaf_hash");
    }

    int64_t tree_size = request->tree_size();
    std::optional<registry::CheckpointRecord> checkpoint;
    if (tree_size == 0) {
      SOV_ASSIGN_OR_RETURN(int64_t size, store.AuditSize());
      if (leaf_index >= size) {
        return OutOfRange("leaf index " + Count(leaf_index) + " is beyond the audit log's " +
                          Count(size) + " entries");
      }
      SOV_ASSIGN_OR_RETURN(registry::CheckpointRecord latest, LatestCheckpoint(leaf_index + 1));
      if (leaf_index >= latest.tree_size) {
        return OutOfRange("leaf index " + Count(leaf_index) +
                          " is not in the latest checkpoint's tree of " +
                          Count(latest.tree_size) + " entries");
      }
      tree_size = latest.tree_size;
      checkpoint = std::move(latest);
    }
    // AuditLog checks the sizes: OUT_OF_RANGE for a tree beyond the log or a leaf beyond it.
    SOV_ASSIGN_OR_RETURN(std::vector<registry::LeafHash> path,
                         audit_->InclusionProof(leaf_index, tree_size));
    if (!checkpoint.has_value()) {
      SOV_ASSIGN_OR_RETURN(checkpoint, store.FindCheckpoint(tree_size));
    }
    if (!leaf_hash.has_value()) {
      SOV_ASSIGN_OR_RETURN(std::vector<registry::AuditRecord> leaf,
                           store.ReadAudit(leaf_index, leaf_index + 1));
      if (leaf.size() != 1 || leaf.front().index != leaf_index) {
        return DataLoss("the audit store has no entry " + Count(leaf_index) +
                        " inside a tree of " + Count(tree_size) + " entries");
      }
      leaf_hash = leaf.front().leaf_hash;
    }

    response->set_leaf_index(leaf_index);
    response->set_tree_size(tree_size);
    response->set_leaf_hash(BytesOf(*leaf_hash));
    for (const registry::LeafHash& node : path) response->add_audit_path(BytesOf(node));
    if (checkpoint.has_value()) {
      *response->mutable_checkpoint() = ToCheckpoint(*checkpoint, audit_->origin());
    }
    return OkStatus();
  });
}

grpc::Status AuditService::GetConsistencyProof(
    grpc::ServerContext* context, const sov::v1::GetConsistencyProofRequest* request,
    sov::v1::GetConsistencyProofResponse* response) {
  return guard_->Run(*context, kGetConsistencyProofMethod, [&](GuardedCall&) -> Status {
    const int64_t first = request->first_tree_size();
    int64_t second = request->second_tree_size();
    if (first <= 0) return InvalidArgument("first_tree_size must be at least 1");
    if (second < 0) return InvalidArgument("second_tree_size must not be negative");

    std::optional<registry::CheckpointRecord> checkpoint;
    if (second == 0) {
      // The latest checkpoint, or a fresh one when the caller already saw a larger tree.
      Result<registry::CheckpointRecord> latest = LatestCheckpoint(first);
      if (!latest.ok() && latest.status().code() != StatusCode::kNotFound) {
        return latest.status();
      }
      const int64_t latest_size = latest.ok() ? latest->tree_size : 0;
      if (first > latest_size) {
        return InvalidArgument("first_tree_size " + Count(first) +
                               " exceeds the latest checkpoint's tree size " +
                               Count(latest_size));
      }
      second = latest_size;
      checkpoint = std::move(*latest);
    } else if (first > second) {
      return InvalidArgument("first_tree_size " + Count(first) + " exceeds second_tree_size " +
                             Count(second));
    }
    // AuditLog checks second against the log: OUT_OF_RANGE beyond it.
    SOV_ASSIGN_OR_RETURN(std::vector<registry::LeafHash> proof,
                         audit_->ConsistencyProof(first, second));
    if (!checkpoint.has_value()) {
      SOV_ASSIGN_OR_RETURN(checkpoint, audit_->store().FindCheckpoint(second));
    }

    response->set_first_tree_size(first);
    response->set_second_tree_size(second);
    for (const registry::LeafHash& node : proof) response->add_proof(BytesOf(node));
    if (checkpoint.has_value()) {
      *response->mutable_checkpoint() = ToCheckpoint(*checkpoint, audit_->origin());
    }
    return OkStatus();
  });
}

grpc::Status AuditService::Export(grpc::ServerContext* context,
                                  const sov::v1::ExportRequest* request,
                                  grpc::ServerWriter<sov::v1::ExportResponse>* writer) {
  return guard_->Run(*context, kAuditExportMethod, [&](GuardedCall& call) -> Status {
    const int64_t start = request->start_index();
    int64_t end = request->end_index();
    if (start < 0) return InvalidArgument("start_index must not be negative");
    if (end < 0) return InvalidArgument("end_index must not be negative");
    SOV_RETURN_IF_ERROR(call.AppendAuditEventsNow(*audit_));
    registry::MetadataStore& store = audit_->store();
    SOV_ASSIGN_OR_RETURN(int64_t size, store.AuditSize());
    if (start > size) {
      return OutOfRange("start_index " + Count(start) + " is beyond the audit log's " +
                        Count(size) + " entries");
    }
    if (end == 0) {
      if (size == 0) return OkStatus();  // an empty log exports nothing, and has no checkpoint
      // Sign the current tree now, so that the export ends on a checkpoint that covers it.
      SOV_ASSIGN_OR_RETURN(registry::CheckpointRecord latest, audit_->CheckpointNow());
      end = latest.tree_size;
    } else if (end < start) {
      return InvalidArgument("end_index " + Count(end) + " is below start_index " +
                             Count(start));
    } else if (end > size) {
      return OutOfRange("end_index " + Count(end) + " is beyond the audit log's " + Count(size) +
                        " entries");
    }

    for (int64_t begin = start; begin < end; begin += kReadBatch) {
      if (context->IsCancelled()) return ClientGone();
      const int64_t batch_end = std::min(end, begin + kReadBatch);
      SOV_ASSIGN_OR_RETURN(std::vector<registry::AuditRecord> records,
                           store.ReadAudit(begin, batch_end));
      // Checkpoints with begin < tree_size <= batch_end: each completes at an entry of this batch.
      SOV_ASSIGN_OR_RETURN(std::vector<registry::CheckpointRecord> checkpoints,
                           store.ListCheckpoints(begin, batch_end));
      if (static_cast<int64_t>(records.size()) != batch_end - begin) {
        return DataLoss("the audit store returned " + Count(static_cast<int64_t>(records.size())) +
                        " entries for [" + Count(begin) + ", " + Count(batch_end) + ")");
      }
      auto next_checkpoint = checkpoints.begin();
      int64_t expected = begin;
      for (const registry::AuditRecord& record : records) {
        if (record.index != expected) {
          return DataLoss("the audit store returned entry " + Count(record.index) +
                          " where entry " + Count(expected) + " belongs");
        }
        ++expected;
        sov::v1::ExportResponse message;
        *message.mutable_entry() = ToAuditEntry(record);
        if (!writer->Write(message)) return ClientGone();
        while (next_checkpoint != checkpoints.end() &&
               next_checkpoint->tree_size <= record.index + 1) {
          if (next_checkpoint->tree_size == record.index + 1) {
            sov::v1::ExportResponse signed_head;
            *signed_head.mutable_checkpoint() = ToCheckpoint(*next_checkpoint, audit_->origin());
            if (!writer->Write(signed_head)) return ClientGone();
          }
          ++next_checkpoint;
        }
      }
    }
    return OkStatus();
  });
}

grpc::Status AuditService::Tail(grpc::ServerContext* context, const sov::v1::TailRequest* request,
                                grpc::ServerWriter<sov::v1::TailResponse>* writer) {
  return guard_->Run(*context, kAuditTailMethod, [&](GuardedCall& call) -> Status {
    SOV_ASSIGN_OR_RETURN(registry::AuditFilter filter, ToRegistryFilter(request->filter()));
    filter.end_index = 0;  // ignored by Tail
    filter.descending = false;
    filter.limit = kReadBatch;
    registry::MetadataStore& store = audit_->store();
    SOV_ASSIGN_OR_RETURN(int64_t size, store.AuditSize());
    int64_t next = filter.start_index;
    if (request->from_now()) {
      next = size;
    } else if (next > size) {
      return OutOfRange("start_index " + Count(next) + " is beyond the audit log's " +
                        Count(size) + " entries");
    }
    filter.start_index = next;
    SOV_RETURN_IF_ERROR(call.AppendAuditEventsNow(*audit_));
    // A caller whose filter names another tenant sees nothing, but its tail stays open like
    // any other: the answer must not tell which tenants exist.
    const bool visible = internal::RestrictAuditFilterToCaller(call.principal(), filter);

    while (true) {
      if (context->IsCancelled()) return ClientGone();
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) {
          return Unavailable("the gateway is shutting down; resume the tail at index " +
                             Count(next));
        }
      }
      SOV_ASSIGN_OR_RETURN(size, store.AuditSize());
      if (next >= size) {
        WaitForAppends();
        continue;
      }
      if (!visible) {
        next = size;
        continue;
      }
      registry::AuditFilter window = filter;
      window.start_index = next;
      window.end_index = size;
      SOV_ASSIGN_OR_RETURN(std::vector<registry::AuditRecord> records, store.QueryAudit(window));
      for (const registry::AuditRecord& record : records) {
        sov::v1::TailResponse message;
        *message.mutable_entry() = ToAuditEntry(record);
        if (!internal::AuditEntryVisibleTo(call.principal(), message.entry())) continue;
        if (!writer->Write(message)) return ClientGone();
      }
      // A full batch may leave matches before `size`: continue after its last entry.
      next = static_cast<int64_t>(records.size()) < window.limit ? size
                                                                 : records.back().index + 1;
    }
  });
}

}  // namespace sov::gateway
