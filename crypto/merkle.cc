#include "crypto/merkle.h"

#include <openssl/evp.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

#include "crypto/internal/evp.h"

namespace sov::crypto::merkle {
namespace {

constexpr uint8_t kLeafPrefix = 0x00;
constexpr uint8_t kNodePrefix = 0x01;
// Sizes FromFrontier accepts stay below this (int64 sizes, as stores keep them), so Append can
// never overflow the leaf count.
constexpr uint64_t kMaxResumedSize = uint64_t{1} << 63;

using internal::CheckEvp;
using internal::Sha256Md;

struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// Node hashes are 65-byte inputs, where a fresh EVP_MD_CTX per hash would cost more than the
// hashing; one context per thread is reused.
EVP_MD_CTX* ThreadMdCtx() {
  thread_local std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx;
  if (!ctx) {
    ctx.reset(EVP_MD_CTX_new());
    CheckEvp(ctx != nullptr ? 1 : 0, "EVP_MD_CTX_new");
  }
  return ctx.get();
}

// Returns SHA-256(prefix || data).
Hash PrefixedSha256(uint8_t prefix, const void* data, size_t len) {
  EVP_MD_CTX* ctx = ThreadMdCtx();
  CheckEvp(EVP_DigestInit_ex(ctx, Sha256Md(), nullptr), "EVP_DigestInit_ex");
  CheckEvp(EVP_DigestUpdate(ctx, &prefix, 1), "EVP_DigestUpdate");
  if (len > 0) CheckEvp(EVP_DigestUpdate(ctx, data, len), "EVP_DigestUpdate");
  Hash out;
  unsigned int out_len = 0;
  CheckEvp(EVP_DigestFinal_ex(ctx, out.data(), &out_len), "EVP_DigestFinal_ex");
  assert(out_len == out.size());
  return out;
}

// Returns the largest power of two strictly less than n (n >= 2): the RFC's split point k.
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

std::string Str(uint64_t v) { return std::to_string(v); }

}  // namespace

Hash LeafHash(std::string_view data) {
  return PrefixedSha256(kLeafPrefix, data.data(), data.size());
}

Hash NodeHash(const Hash& left, const Hash& right) {
  uint8_t both[64];
  std::memcpy(both, left.data(), 32);
  std::memcpy(both + 32, right.data(), 32);
  return PrefixedSha256(kNodePrefix, both, sizeof both);
}

Hash EmptyRoot() {
  static const Hash root = [] {
    Hash out;
    unsigned int out_len = 0;
    CheckEvp(EVP_Digest("", 0, out.data(), &out_len, Sha256Md(), nullptr), "EVP_Digest");
    return out;
  }();
  return root;
}

Hash RootFromLeaves(std::span<const Hash> leaf_hashes) {
  const size_t n = leaf_hashes.size();
  if (n == 0) return EmptyRoot();
  if (n == 1) return leaf_hashes[0];
  const size_t k = SplitPoint(n);
  return NodeHash(RootFromLeaves(leaf_hashes.first(k)), RootFromLeaves(leaf_hashes.subspan(k)));
}

// ---------------------------------------------------------------------------------------------
// CompactRange

Result<CompactRange> CompactRange::FromFrontier(uint64_t size, std::vector<Hash> frontier) {
  if (size >= kMaxResumedSize) {
    return InvalidArgument("merkle: tree size " + Str(size) + " is beyond 2^63 - 1 leaves");
  }
  const size_t expected = static_cast<size_t>(std::popcount(size));
  if (frontier.size() != expected) {
    return InvalidArgument("merkle: a tree of " + Str(size) + " leaves has " + Str(expected) +
                           " frontier hashes, got " + Str(frontier.size()));
  }
  CompactRange range;
  range.size_ = size;
  range.frontier_ = std::move(frontier);
  return range;
}

void CompactRange::Append(const Hash& leaf_hash, const std::function<void(const Node&)>& on_node) {
  // FromFrontier starts below 2^63, so only 2^63 appends could get here: no stored state can.
  assert(size_ < std::numeric_limits<uint64_t>::max() && "merkle tree full");
  Node node{0, size_, leaf_hash};
  if (on_node) on_node(node);
  // Each set low bit of the old size is a perfect subtree on the frontier that the new node
  // completes into one twice its size.
  while ((node.index & 1) != 0) {
    node.hash = NodeHash(frontier_.back(), node.hash);
    frontier_.pop_back();
    ++node.level;
    node.index >>= 1;
    if (on_node) on_node(node);
  }
  frontier_.push_back(node.hash);
  ++size_;
}

Hash CompactRange::Root() const {
  if (frontier_.empty()) return EmptyRoot();
  Hash root = frontier_.back();
  for (size_t i = frontier_.size() - 1; i-- > 0;) root = NodeHash(frontier_[i], root);
  return root;
}

// ---------------------------------------------------------------------------------------------
// Proofs from a NodeSource

Result<Hash> SubtreeHash(uint64_t begin, uint64_t end, const NodeSource& source) {
  if (begin > end || (begin == end && begin != 0)) {
    return InvalidArgument("merkle: empty or reversed leaf range [" + Str(begin) + ", " +
                           Str(end) + ")");
  }
  if (begin == end) return EmptyRoot();
  const uint64_t size = end - begin;
  // begin must be a multiple of bit_ceil(size); for size > 2^63 only begin 0 is.
  const bool aligned = begin == 0 || (size <= (uint64_t{1} << 63) &&
                                      begin % std::bit_ceil(size) == 0);
  if (!aligned) {
    return InvalidArgument("merkle: leaf range [" + Str(begin) + ", " + Str(end) +
                           ") is not a subtree of the RFC 9162 tree");
  }
  // The perfect subtrees are those of the set bits of size, largest first; they are fetched
  // smallest (rightmost) first so that the root folds up without a buffer.
  Hash hash{};
  bool have = false;
  for (int level = 0; level < 64; ++level) {
    if (((size >> level) & 1) == 0) continue;
    const uint64_t above_mask = ~((uint64_t{1} << level << 1) - 1);
    const uint64_t start = begin + (size & above_mask);
    SOV_ASSIGN_OR_RETURN(Hash node, source(level, start >> level));
    hash = have ? NodeHash(node, hash) : node;
    have = true;
  }
  return hash;
}

Result<std::vector<Hash>> InclusionProof(uint64_t leaf_index, uint64_t tree_size,
                                         const NodeSource& source) {
  if (leaf_index >= tree_size) {
    return InvalidArgument("merkle: leaf index " + Str(leaf_index) +
                           " is not in a tree of size " + Str(tree_size));
  }
  // PATH(m, D[n]) recurses into the half holding m and appends the other half's hash after the
  // recursion's result, so the hashes gathered top-down are the proof reversed.
  std::vector<Hash> path;
  uint64_t begin = 0;
  uint64_t end = tree_size;
  while (end - begin > 1) {
    const uint64_t k = SplitPoint(end - begin);
    if (leaf_index < begin + k) {
      SOV_ASSIGN_OR_RETURN(Hash right, SubtreeHash(begin + k, end, source));
      path.push_back(right);
      end = begin + k;
    } else {
      SOV_ASSIGN_OR_RETURN(Hash left, SubtreeHash(begin, begin + k, source));
      path.push_back(left);
      begin += k;
    }
  }
  std::reverse(path.begin(), path.end());
  return path;
}

Result<std::vector<Hash>> ConsistencyProof(uint64_t first_size, uint64_t second_size,
                                           const NodeSource& source) {
  if (first_size > second_size) {
    return InvalidArgument("merkle: no consistency proof from tree size " + Str(first_size) +
                           " to the smaller " + Str(second_size));
  }
  if (first_size == 0 || first_size == second_size) return std::vector<Hash>{};
  // SUBPROOF(m, D[begin:end], b), unrolled: `whole` is b, true while the range is still a prefix
  // of the first tree's root path (then the first tree's own root is not needed in the proof).
  std::vector<Hash> siblings;
  std::vector<Hash> proof;
  uint64_t begin = 0;
  uint64_t end = second_size;
  bool whole = true;
  while (first_size != end) {
    const uint64_t k = SplitPoint(end - begin);
    if (first_size - begin <= k) {
      SOV_ASSIGN_OR_RETURN(Hash right, SubtreeHash(begin + k, end, source));
      siblings.push_back(right);
      end = begin + k;
    } else {
      SOV_ASSIGN_OR_RETURN(Hash left, SubtreeHash(begin, begin + k, source));
      siblings.push_back(left);
      begin += k;
      whole = false;
    }
  }
  proof.reserve(siblings.size() + 1);
  if (!whole) {
    SOV_ASSIGN_OR_RETURN(Hash first_subtree, SubtreeHash(begin, end, source));
    proof.push_back(first_subtree);
  }
  proof.insert(proof.end(), siblings.rbegin(), siblings.rend());
  return proof;
}

// ---------------------------------------------------------------------------------------------
// Verification (RFC 9162 2.1.3.2 and 2.1.4.2, step by step)

Status VerifyInclusion(uint64_t leaf_index, uint64_t tree_size, const Hash& leaf_hash,
                       std::span<const Hash> proof, const Hash& root) {
  if (leaf_index >= tree_size) {
    return InvalidArgument("merkle: leaf index " + Str(leaf_index) +
                           " is not in a tree of size " + Str(tree_size));
  }
  const std::string what = "merkle: inclusion proof of leaf " + Str(leaf_index) +
                           " in tree size " + Str(tree_size);
  uint64_t fn = leaf_index;
  uint64_t sn = tree_size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) return DataLoss(what + " has more hashes than the path");
    if ((fn & 1) != 0 || fn == sn) {
      r = NodeHash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return DataLoss(what + " has fewer hashes than the path");
  if (r != root) return DataLoss(what + " does not lead to the expected root");
  return OkStatus();
}

Status VerifyConsistency(uint64_t first_size, uint64_t second_size, const Hash& first_root,
                         const Hash& second_root, std::span<const Hash> proof) {
  if (first_size > second_size) {
    return InvalidArgument("merkle: tree size " + Str(first_size) +
                           " cannot be a prefix of the smaller " + Str(second_size));
  }
  const std::string what = "merkle: consistency proof from tree size " + Str(first_size) +
                           " to " + Str(second_size);
  if (first_size == 0 || first_size == second_size) {
    if (!proof.empty()) return DataLoss(what + " must be empty");
    if (first_size == 0 && first_root != EmptyRoot()) {
      return DataLoss(what + ": the first root is not the empty tree's");
    }
    if (first_size == second_size && first_root != second_root) {
      return DataLoss(what + ": equal sizes with different roots");
    }
    return OkStatus();
  }
  if (proof.empty()) return DataLoss(what + " is empty");
  // Step 2: when first_size is a power of two, first_root is the implied first element.
  const bool prepend_root = std::has_single_bit(first_size);
  const Hash& seed = prepend_root ? first_root : proof[0];
  std::span<const Hash> rest = prepend_root ? proof : proof.subspan(1);
  uint64_t fn = first_size - 1;
  uint64_t sn = second_size - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = seed;
  Hash sr = seed;
  for (const Hash& c : rest) {
    if (sn == 0) return DataLoss(what + " has more hashes than needed");
    if ((fn & 1) != 0 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return DataLoss(what + " has fewer hashes than needed");
  if (fr != first_root) return DataLoss(what + " does not lead to the first root");
  if (sr != second_root) return DataLoss(what + " does not lead to the second root");
  return OkStatus();
}

}  // namespace sov::crypto::merkle
