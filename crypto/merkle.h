// Merkle tree hashing and proofs of RFC 9162 (Certificate Transparency 2.0, the same tree as
// RFC 6962) for the audit log: leaf and node hashes, a compact range that appends leaves and
// yields the root and every completed subtree for a store to keep, proof generation from a store
// of perfect-subtree hashes, and proof verification. The metadata store keeps the audit tree
// with it, the audit log (registry/audit_log.h) serves proofs with it, and `sovctl audit verify`
// and clients check trees and proofs with it. All functions are pure or only call the
// NodeSource they are given; a CompactRange is a value used by one thread at a time.
//
// Nodes: the node at (level L, index i) is the perfect subtree over leaves [i * 2^L,
// (i + 1) * 2^L); level 0 holds the leaf hashes. In a tree of n leaves the root is the hash of
// the RFC's recursion, whose left parts are always such perfect, aligned subtrees.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sov::crypto::merkle {

using Hash = std::array<uint8_t, 32>;

// Returns SHA-256(0x00 || data), the hash of a leaf.
Hash LeafHash(std::string_view data);
// Returns SHA-256(0x01 || left || right), the hash of an interior node.
Hash NodeHash(const Hash& left, const Hash& right);
// Returns SHA-256(""), the root of the empty tree.
Hash EmptyRoot();

// Returns the root of the tree over `leaf_hashes`, by the RFC's recursion (the reference: O(n)).
Hash RootFromLeaves(std::span<const Hash> leaf_hashes);

// A perfect subtree: level, index (see above) and hash.
struct Node {
  int level = 0;
  uint64_t index = 0;
  Hash hash{};
};

// The right edge of a tree of size() leaves: the roots of its perfect subtrees, one per set bit
// of size(), largest (leftmost) first. That is all it takes to append and to compute the root,
// so a store persists (size(), frontier()) and resumes with FromFrontier.
class CompactRange {
 public:
  CompactRange() = default;  // the empty tree

  // Returns the range of a tree of `size` leaves with `frontier` as above; INVALID_ARGUMENT when
  // the number of hashes is not the number of set bits of `size`, or size is 2^63 or more.
  static Result<CompactRange> FromFrontier(uint64_t size, std::vector<Hash> frontier);

  uint64_t size() const { return size_; }
  const std::vector<Hash>& frontier() const { return frontier_; }

  // Appends a leaf (amortised O(1) hashes). Calls `on_node`, when given, with the leaf itself
  // (level 0) and then every perfect subtree the leaf completes, bottom up.
  void Append(const Hash& leaf_hash, const std::function<void(const Node&)>& on_node = nullptr);

  // Returns the root of the tree (EmptyRoot() for size 0) in O(log n) hashes.
  Hash Root() const;

 private:
  uint64_t size_ = 0;
  std::vector<Hash> frontier_;
};

// Returns the hash of the perfect subtree at (level, index), as CompactRange::Append reported
// it, or an error (NOT_FOUND when that subtree is not complete yet) that is passed on as is.
using NodeSource = std::function<Result<Hash>(int level, uint64_t index)>;

// Returns the hash of leaves [begin, end), asking `source` for one perfect subtree per set bit of
// end - begin. The range must be one that the RFC's recursion produces: begin a multiple of the
// smallest power of two >= end - begin (so [0, n) gives the root of tree size n; [0, 0) gives
// EmptyRoot()). INVALID_ARGUMENT for any other range.
Result<Hash> SubtreeHash(uint64_t begin, uint64_t end, const NodeSource& source);

// Returns the audit path of leaf `leaf_index` in the tree of `tree_size` leaves: RFC 9162
// 2.1.3.1 PATH(m, D[n]), nearest the leaf first. INVALID_ARGUMENT unless leaf_index < tree_size.
Result<std::vector<Hash>> InclusionProof(uint64_t leaf_index, uint64_t tree_size,
                                         const NodeSource& source);

// Returns the proof that the tree of `first_size` leaves is a prefix of the tree of `second_size`
// leaves: RFC 9162 2.1.4.1 PROOF(m, D[n]) (SUBPROOF order). Empty when first_size is 0 or equals
// second_size. INVALID_ARGUMENT when first_size > second_size.
Result<std::vector<Hash>> ConsistencyProof(uint64_t first_size, uint64_t second_size,
                                           const NodeSource& source);

// Checks an audit path by RFC 9162 2.1.3.2. OK when `leaf_hash` is leaf `leaf_index` of the tree
// with `root`; INVALID_ARGUMENT when leaf_index >= tree_size; DATA_LOSS when the proof has the
// wrong length or does not lead to `root`.
Status VerifyInclusion(uint64_t leaf_index, uint64_t tree_size, const Hash& leaf_hash,
                       std::span<const Hash> proof, const Hash& root);

// Checks a consistency proof by RFC 9162 2.1.4.2. OK when the tree of `first_size` leaves with
// `first_root` is a prefix of the tree of `second_size` leaves with `second_root`. For
// first_size 0 the proof must be empty and first_root EmptyRoot(); for equal sizes, the proof
// empty and the roots equal. INVALID_ARGUMENT when first_size > second_size; DATA_LOSS when the
// proof has the wrong length or does not lead to both roots.
Status VerifyConsistency(uint64_t first_size, uint64_t second_size, const Hash& first_root,
                         const Hash& second_root, std::span<const Hash> proof);

}  // namespace sov::crypto::merkle
