// Shows that the Merkle tree matches the RFC 6962 reference vectors (the certificate-transparency
// test leaves, roots and proofs), and, exhaustively up to 64 leaves and by sampling beyond, that
// CompactRange, SubtreeHash and both proofs agree with the RFC's recursion over the leaves, that
// every proof verifies, and that changed proofs, roots, sizes or indexes never do.
#include "crypto/merkle.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/hex.h"

namespace sov::crypto::merkle {
namespace {

Hash H(std::string_view hex) {
  auto bytes = HexDecode(hex);
  Hash h{};
  EXPECT_TRUE(bytes && bytes->size() == 32) << hex;
  if (bytes && bytes->size() == 32) std::copy(bytes->begin(), bytes->end(), h.begin());
  return h;
}

std::string Hex(const Hash& h) { return HexEncode(std::span<const uint8_t>(h)); }

// The RFC 6962 test leaves used by certificate-transparency and transparency-dev/merkle.
const std::vector<std::string>& ReferenceLeaves() {
  static const std::vector<std::string> leaves = {
      std::string(),
      std::string("\x00", 1),
      "\x10",
      "\x20\x21",
      "\x30\x31",
      "\x40\x41\x42\x43",
      "\x50\x51\x52\x53\x54\x55\x56\x57",
      "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
  };
  return leaves;
}

// Roots of the trees of the first 1..8 reference leaves.
const char* const kReferenceRoots[] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

std::vector<Hash> LeafHashes(uint64_t n) {
  std::vector<Hash> hashes;
  const auto& reference = ReferenceLeaves();
  for (uint64_t i = 0; i < n; ++i) {
    hashes.push_back(i < reference.size() ? LeafHash(reference[i])
                                          : LeafHash("leaf " + std::to_string(i)));
  }
  return hashes;
}

// A store of every perfect subtree, filled from CompactRange::Append's reports, that serves a
// tree of `limit` leaves: asking for a node outside it is a failure of the code under test.
class NodeStore {
 public:
  explicit NodeStore(const std::vector<Hash>& leaves) {
    for (const Hash& leaf : leaves) {
      range_.Append(leaf, [this](const Node& node) {
        auto [it, inserted] = nodes_.emplace(std::make_pair(node.level, node.index), node.hash);
        EXPECT_TRUE(inserted) << "reported twice: " << node.level << "/" << node.index;
      });
    }
  }

  NodeSource Source(uint64_t limit) const {
    return [this, limit](int level, uint64_t index) -> Result<Hash> {
      ++reads_;
      if (level < 0 || level > 63 || ((index + 1) << level) > limit) {
        ADD_FAILURE() << "asked for node " << level << "/" << index << " outside tree size "
                      << limit;
        return Internal("outside the tree");
      }
      auto it = nodes_.find({level, index});
      if (it == nodes_.end()) return NotFound("no node " + std::to_string(level));
      return it->second;
    };
  }

  const std::map<std::pair<int, uint64_t>, Hash>& nodes() const { return nodes_; }
  const CompactRange& range() const { return range_; }
  int reads() const { return reads_; }

 private:
  CompactRange range_;
  std::map<std::pair<int, uint64_t>, Hash> nodes_;
  mutable int reads_ = 0;
};

// RFC 9162 2.1.3.1 PATH(m, D[n]), written as the RFC's recursion over leaf hashes.
std::vector<Hash> ReferencePath(uint64_t m, std::span<const Hash> d) {
  if (d.size() <= 1) return {};
  uint64_t k = 1;
  while (k * 2 < d.size()) k *= 2;
  std::vector<Hash> path;
  if (m < k) {
    path = ReferencePath(m, d.first(k));
    path.push_back(RootFromLeaves(d.subspan(k)));
  } else {
    path = ReferencePath(m - k, d.subspan(k));
    path.push_back(RootFromLeaves(d.first(k)));
  }
  return path;
}

// RFC 9162 2.1.4.1 SUBPROOF(m, D[n], b).
std::vector<Hash> ReferenceSubproof(uint64_t m, std::span<const Hash> d, bool b) {
  if (m == d.size()) {
    if (b) return {};
    return {RootFromLeaves(d)};
  }
  uint64_t k = 1;
  while (k * 2 < d.size()) k *= 2;
  std::vector<Hash> proof;
  if (m <= k) {
    proof = ReferenceSubproof(m, d.first(k), b);
    proof.push_back(RootFromLeaves(d.subspan(k)));
  } else {
    proof = ReferenceSubproof(m - k, d.subspan(k), false);
    proof.push_back(RootFromLeaves(d.first(k)));
  }
  return proof;
}

TEST(MerkleTest, HashesAreDomainSeparatedSha256) {
  // Leaf = SHA-256(0x00 || d), node = SHA-256(0x01 || l || r), empty = SHA-256("").
  EXPECT_EQ(Hex(EmptyRoot()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Hex(LeafHash("")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(Hex(NodeHash(LeafHash(""), LeafHash(std::string("\x00", 1)))), kReferenceRoots[1]);
  EXPECT_EQ(RootFromLeaves({}), EmptyRoot());
  EXPECT_EQ(CompactRange().Root(), EmptyRoot());
}

TEST(MerkleTest, ReferenceRoots) {
  // The roots of the first 1..8 RFC 6962 test leaves, three ways.
  for (uint64_t n = 1; n <= 8; ++n) {
    SCOPED_TRACE(n);
    const std::vector<Hash> leaves = LeafHashes(n);
    EXPECT_EQ(Hex(RootFromLeaves(leaves)), kReferenceRoots[n - 1]);
    NodeStore store(leaves);
    EXPECT_EQ(Hex(store.range().Root()), kReferenceRoots[n - 1]);
    auto root = SubtreeHash(0, n, store.Source(n));
    ASSERT_TRUE(root.ok()) << root.status().ToString();
    EXPECT_EQ(Hex(*root), kReferenceRoots[n - 1]);
  }
}

TEST(MerkleTest, ReferenceInclusionProofs) {
  // Known audit paths (transparency-dev/merkle's vectors) are generated and verified.
  struct Vector {
    uint64_t index, size;
    std::vector<const char*> proof;
  };
  const std::vector<Vector> vectors = {
      {0, 1, {}},
      {0, 8,
       {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {5, 8,
       {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
      {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
      {1, 5,
       {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  };
  NodeStore store(LeafHashes(8));
  for (const Vector& v : vectors) {
    SCOPED_TRACE(std::to_string(v.index) + " in " + std::to_string(v.size));
    std::vector<Hash> expected;
    for (const char* hex : v.proof) expected.push_back(H(hex));
    auto proof = InclusionProof(v.index, v.size, store.Source(v.size));
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    EXPECT_EQ(*proof, expected);
    const Hash root = H(kReferenceRoots[v.size - 1]);
    const Hash leaf = LeafHash(ReferenceLeaves()[v.index]);
    Status status = VerifyInclusion(v.index, v.size, leaf, expected, root);
    EXPECT_TRUE(status.ok()) << status.ToString();
  }
}

TEST(MerkleTest, ReferenceConsistencyProofs) {
  // Known consistency proofs (transparency-dev/merkle's vectors) are generated and verified.
  struct Vector {
    uint64_t first, second;
    std::vector<const char*> proof;
  };
  const std::vector<Vector> vectors = {
      {1, 1, {}},
      {1, 8,
       {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {6, 8,
       {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
      {2, 5,
       {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
      {6, 7,
       {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  };
  NodeStore store(LeafHashes(8));
  for (const Vector& v : vectors) {
    SCOPED_TRACE(std::to_string(v.first) + " -> " + std::to_string(v.second));
    std::vector<Hash> expected;
    for (const char* hex : v.proof) expected.push_back(H(hex));
    auto proof = ConsistencyProof(v.first, v.second, store.Source(v.second));
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    EXPECT_EQ(*proof, expected);
    Status status = VerifyConsistency(v.first, v.second, H(kReferenceRoots[v.first - 1]),
                                      H(kReferenceRoots[v.second - 1]), expected);
    EXPECT_TRUE(status.ok()) << status.ToString();
  }
}

TEST(MerkleTest, CompactRangeReportsEveryPerfectSubtree) {
  // Append reports exactly the perfect subtrees of the tree, each with its RFC hash, and the
  // frontier resumes: a range rebuilt from (size, frontier) goes on to the same roots.
  const std::vector<Hash> leaves = LeafHashes(70);
  NodeStore store(leaves);
  std::set<std::pair<int, uint64_t>> expected;
  for (int level = 0; level < 7; ++level) {
    for (uint64_t i = 0; ((i + 1) << level) <= leaves.size(); ++i) expected.insert({level, i});
  }
  std::set<std::pair<int, uint64_t>> reported;
  for (const auto& [id, hash] : store.nodes()) {
    reported.insert(id);
    const auto [level, index] = id;
    EXPECT_EQ(hash, RootFromLeaves(std::span<const Hash>(leaves).subspan(index << level,
                                                                         uint64_t{1} << level)))
        << level << "/" << index;
  }
  EXPECT_EQ(reported, expected);

  CompactRange range;
  for (uint64_t n = 0; n <= leaves.size(); ++n) {
    EXPECT_EQ(range.size(), n);
    EXPECT_EQ(range.frontier().size(), static_cast<size_t>(std::popcount(n)));
    EXPECT_EQ(range.Root(), RootFromLeaves(std::span<const Hash>(leaves).first(n))) << n;
    auto resumed = CompactRange::FromFrontier(range.size(), range.frontier());
    ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
    for (uint64_t i = n; i < std::min<uint64_t>(n + 5, leaves.size()); ++i) {
      resumed->Append(leaves[i]);
    }
    EXPECT_EQ(resumed->Root(),
              RootFromLeaves(std::span<const Hash>(leaves).first(
                  std::min<uint64_t>(n + 5, leaves.size()))));
    if (n < leaves.size()) range.Append(leaves[n]);
  }
}

TEST(MerkleTest, FromFrontierRejectsInconsistentState) {
  // A frontier whose length does not match the size, or an absurd size, is INVALID_ARGUMENT.
  const Hash h = LeafHash("x");
  EXPECT_TRUE(CompactRange::FromFrontier(0, {}).ok());
  EXPECT_TRUE(CompactRange::FromFrontier(5, {h, h}).ok());
  EXPECT_EQ(CompactRange::FromFrontier(0, {h}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CompactRange::FromFrontier(5, {h}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CompactRange::FromFrontier(4, {h, h}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CompactRange::FromFrontier(uint64_t{1} << 63, {h}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(CompactRange::FromFrontier((uint64_t{1} << 63) - 1, std::vector<Hash>(63, h)).ok());
}

TEST(MerkleTest, SubtreeHashRefusesRangesOutsideTheRecursion) {
  // Only ranges the RFC recursion produces are accepted; source errors pass through as they are.
  NodeStore store(LeafHashes(16));
  const NodeSource source = store.Source(16);
  EXPECT_EQ(SubtreeHash(0, 0, source).value(), EmptyRoot());
  EXPECT_EQ(SubtreeHash(3, 3, source).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SubtreeHash(5, 4, source).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SubtreeHash(1, 3, source).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SubtreeHash(4, 9, source).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SubtreeHash(8, 11, source).value(),
            RootFromLeaves(std::span<const Hash>(LeafHashes(16)).subspan(8, 3)));
  EXPECT_EQ(SubtreeHash(1, 2, source).value(), LeafHashes(2)[1]);
  EXPECT_EQ(SubtreeHash((uint64_t{1} << 62) + 1, (uint64_t{1} << 62) + 3, source).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(SubtreeHash(1, (uint64_t{1} << 63) + 2, source).status().code(),
            StatusCode::kInvalidArgument);
  const NodeSource missing = [](int, uint64_t) -> Result<Hash> { return NotFound("gone"); };
  EXPECT_EQ(SubtreeHash(0, 5, missing).status(), NotFound("gone"));
  EXPECT_EQ(InclusionProof(1, 5, missing).status(), NotFound("gone"));
  EXPECT_EQ(ConsistencyProof(3, 5, missing).status(), NotFound("gone"));
}

// Asserts that the inclusion proof verifies and that every mutation of it fails.
void CheckInclusion(uint64_t m, uint64_t n, const std::vector<Hash>& leaves,
                    const std::vector<Hash>& proof, const Hash& root) {
  const Hash& leaf = leaves[m];
  Status status = VerifyInclusion(m, n, leaf, proof, root);
  ASSERT_TRUE(status.ok()) << m << " in " << n << ": " << status.ToString();
  auto fails = [&](uint64_t index, uint64_t size, const Hash& l, const std::vector<Hash>& p,
                   const Hash& r, const char* what) {
    Status s = VerifyInclusion(index, size, l, p, r);
    EXPECT_FALSE(s.ok()) << what << ": leaf " << m << " in " << n;
    EXPECT_TRUE(s.code() == StatusCode::kDataLoss || s.code() == StatusCode::kInvalidArgument)
        << s.ToString();
  };
  if (m > 0) fails(m - 1, n, leaf, proof, root, "index - 1");
  if (m + 1 < n) fails(m + 1, n, leaf, proof, root, "index + 1");
  if ((m ^ 2) < n && (m ^ 2) != m) fails(m ^ 2, n, leaf, proof, root, "index ^ 2");
  // Sizes whose paths have the same shape (3 and 4 for leaf 0) cannot be told apart by a proof:
  // the tree size is bound to the root by the signed checkpoint. Sizes with other path lengths:
  fails(m, n * 2, leaf, proof, root, "size * 2");
  if (n / 2 > m) fails(m, n / 2, leaf, proof, root, "size / 2");
  fails(m, n, LeafHash("wrong"), proof, root, "wrong leaf");
  fails(m, n, leaf, proof, EmptyRoot(), "empty root");
  fails(m, n, leaf, proof, LeafHash("some root"), "random root");
  std::vector<Hash> longer = proof;
  longer.push_back(root);
  fails(m, n, leaf, longer, root, "trailing root");
  std::vector<Hash> preceded = proof;
  preceded.insert(preceded.begin(), leaf);
  fails(m, n, leaf, preceded, root, "preceding leaf");
  if (!proof.empty()) {
    fails(m, n, leaf, std::vector<Hash>(proof.begin(), proof.end() - 1), root, "truncated");
    for (size_t i = 0; i < proof.size(); ++i) {
      std::vector<Hash> flipped = proof;
      flipped[i][i % 32] ^= 0x08;
      fails(m, n, leaf, flipped, root, "flipped bit");
    }
  }
  if (proof.size() > 1) {
    std::vector<Hash> swapped = proof;
    std::swap(swapped[0], swapped[1]);
    if (swapped != proof) fails(m, n, leaf, swapped, root, "swapped");
  }
}

// Asserts that the consistency proof verifies and that every mutation of it fails.
void CheckConsistency(uint64_t m, uint64_t n, const std::vector<Hash>& proof, const Hash& root1,
                      const Hash& root2) {
  Status status = VerifyConsistency(m, n, root1, root2, proof);
  ASSERT_TRUE(status.ok()) << m << " -> " << n << ": " << status.ToString();
  auto fails = [&](uint64_t size1, uint64_t size2, const Hash& r1, const Hash& r2,
                   const std::vector<Hash>& p, const char* what) {
    Status s = VerifyConsistency(size1, size2, r1, r2, p);
    EXPECT_FALSE(s.ok()) << what << ": " << m << " -> " << n;
    EXPECT_TRUE(s.code() == StatusCode::kDataLoss || s.code() == StatusCode::kInvalidArgument)
        << s.ToString();
  };
  const Hash other = LeafHash("wrong root");
  if (m == n) {
    fails(m, n, root1, other, proof, "different roots");
    fails(m, n, root1, root2, {root1}, "non-empty proof");
    return;
  }
  fails(m - 1, n, root1, root2, proof, "size1 - 1");
  fails(m + 1, n, root1, root2, proof, "size1 + 1");
  if ((m ^ 2) != 0 && (m ^ 2) <= n) fails(m ^ 2, n, root1, root2, proof, "size1 ^ 2");
  fails(m, n * 2, root1, root2, proof, "size2 * 2");  // not n + 1: see CheckInclusion
  if (n / 2 >= m) fails(m, n / 2, root1, root2, proof, "size2 / 2");
  fails(m, n, other, root2, proof, "wrong root1");
  fails(m, n, root1, other, proof, "wrong root2");
  fails(m, n, root2, root1, proof, "swapped roots");
  fails(m, n, root1, root2, {}, "empty proof");
  for (const Hash& extra : {root1, root2, proof.front()}) {
    std::vector<Hash> longer = proof;
    longer.push_back(extra);
    fails(m, n, root1, root2, longer, "trailing hash");
    std::vector<Hash> preceded = proof;
    preceded.insert(preceded.begin(), extra);
    fails(m, n, root1, root2, preceded, "preceding hash");
  }
  fails(m, n, root1, root2, std::vector<Hash>(proof.begin(), proof.end() - 1), "truncated");
  for (size_t i = 0; i < proof.size(); ++i) {
    std::vector<Hash> flipped = proof;
    flipped[i][31 - i % 32] ^= 0x10;
    fails(m, n, root1, root2, flipped, "flipped bit");
  }
}

// Returns 0, step, 2 step, ... below `end`, and end - 1 (all of [0, end) for step 1).
std::vector<uint64_t> Sample(uint64_t end, uint64_t step) {
  std::vector<uint64_t> values;
  for (uint64_t v = 0; v < end; v += step) values.push_back(v);
  if (values.back() != end - 1) values.push_back(end - 1);
  return values;
}

// Generates and checks the inclusion proofs of sampled leaves and the consistency proofs from
// sampled sizes of the tree of n leaves against the RFC recursion, verifies and mutates them.
void CheckTree(uint64_t n, const std::vector<Hash>& leaves, const NodeStore& store,
               const std::vector<Hash>& roots, uint64_t step) {
  const std::span<const Hash> d = std::span<const Hash>(leaves).first(n);
  const Hash& root = roots[n];
  auto subtree_root = SubtreeHash(0, n, store.Source(n));
  ASSERT_TRUE(subtree_root.ok());
  ASSERT_EQ(*subtree_root, root) << n;
  for (uint64_t m : Sample(n, step)) {
    auto proof = InclusionProof(m, n, store.Source(n));
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    ASSERT_EQ(*proof, ReferencePath(m, d)) << "leaf " << m << " in " << n;
    CheckInclusion(m, n, leaves, *proof, root);
  }
  for (uint64_t m0 : Sample(n, step)) {
    const uint64_t m = m0 + 1;  // 1..n
    auto proof = ConsistencyProof(m, n, store.Source(n));
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    const std::vector<Hash> expected = m == n ? std::vector<Hash>{} : ReferenceSubproof(m, d, true);
    ASSERT_EQ(*proof, expected) << m << " -> " << n;
    CheckConsistency(m, n, *proof, roots[m], root);
  }
}

TEST(MerkleTest, EveryProofUpTo64LeavesMatchesTheRfcAndVerifies) {
  // For every n <= 64, every leaf and every earlier size: proofs equal the RFC recursion's,
  // verify, and fail when mutated; the compact range's root is the RFC root.
  const std::vector<Hash> leaves = LeafHashes(64);
  NodeStore store(leaves);
  std::vector<Hash> roots;
  CompactRange range;
  for (uint64_t n = 0; n <= 64; ++n) {
    roots.push_back(RootFromLeaves(std::span<const Hash>(leaves).first(n)));
    ASSERT_EQ(range.Root(), roots.back()) << n;
    if (n < 64) range.Append(leaves[n]);
  }
  for (uint64_t n = 1; n <= 64; ++n) CheckTree(n, leaves, store, roots, 1);
}

TEST(MerkleTest, SampledProofsInLargerTrees) {
  // Around powers of two up to 4097 leaves, sampled leaves and sizes behave the same way, and a
  // proof reads O(log n) nodes.
  const uint64_t max = 4097;
  const std::vector<Hash> leaves = LeafHashes(max);
  NodeStore store(leaves);
  std::vector<Hash> roots;
  CompactRange range;
  for (uint64_t n = 0; n <= max; ++n) {
    roots.push_back(range.Root());
    if (n < max) range.Append(leaves[n]);
  }
  for (uint64_t n : {uint64_t{127}, uint64_t{128}, uint64_t{129}, uint64_t{1000},
                     uint64_t{1023}, uint64_t{1024}, uint64_t{1025}, uint64_t{4097}}) {
    SCOPED_TRACE(n);
    ASSERT_EQ(roots[n], RootFromLeaves(std::span<const Hash>(leaves).first(n)));
    CheckTree(n, leaves, store, roots, 37);
  }
  const int before = store.reads();
  ASSERT_TRUE(InclusionProof(2049, 4097, store.Source(4097)).ok());
  ASSERT_TRUE(ConsistencyProof(3001, 4097, store.Source(4097)).ok());
  EXPECT_LE(store.reads() - before, 2 * 2 * 13);
}

TEST(MerkleTest, VerifyRejectsImpossibleArguments) {
  // Out-of-range indexes and sizes are INVALID_ARGUMENT; the trivial consistency cases follow
  // the documented rules.
  const Hash leaf = LeafHash("a");
  EXPECT_EQ(VerifyInclusion(0, 0, leaf, {}, leaf).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyInclusion(1, 1, leaf, {}, leaf).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(VerifyInclusion(0, 1, leaf, {}, leaf).ok());
  EXPECT_EQ(VerifyInclusion(0, 1, leaf, {}, EmptyRoot()).code(), StatusCode::kDataLoss);
  EXPECT_EQ(InclusionProof(3, 3, [](int, uint64_t) -> Result<Hash> { return Hash{}; })
                .status()
                .code(),
            StatusCode::kInvalidArgument);

  const Hash root = LeafHash("root");
  EXPECT_EQ(VerifyConsistency(2, 1, root, root, {}).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(VerifyConsistency(0, 0, EmptyRoot(), EmptyRoot(), {}).ok());
  EXPECT_TRUE(VerifyConsistency(0, 5, EmptyRoot(), root, {}).ok());
  EXPECT_EQ(VerifyConsistency(0, 5, root, root, {}).code(), StatusCode::kDataLoss);
  EXPECT_EQ(VerifyConsistency(0, 5, EmptyRoot(), root, std::vector<Hash>{root}).code(),
            StatusCode::kDataLoss);
  EXPECT_TRUE(VerifyConsistency(3, 3, root, root, {}).ok());
  EXPECT_EQ(VerifyConsistency(3, 3, root, leaf, {}).code(), StatusCode::kDataLoss);
  EXPECT_EQ(VerifyConsistency(1, 2, root, leaf, {}).code(), StatusCode::kDataLoss);
  EXPECT_EQ(ConsistencyProof(5, 4, [](int, uint64_t) -> Result<Hash> { return Hash{}; })
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  auto none = ConsistencyProof(0, 4, [](int, uint64_t) -> Result<Hash> { return Hash{}; });
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  // A very long proof fails cleanly.
  EXPECT_EQ(VerifyInclusion(5, 100, leaf, std::vector<Hash>(200, root), root).code(),
            StatusCode::kDataLoss);
  EXPECT_EQ(VerifyConsistency(5, 100, root, root, std::vector<Hash>(200, root)).code(),
            StatusCode::kDataLoss);
}

}  // namespace
}  // namespace sov::crypto::merkle
