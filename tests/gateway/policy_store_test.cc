// Shows how sovd's policy in force is loaded and replaced: a bad file is refused with
// FILE:LINE:COL and the old policy stays, a good one is swapped in while holders of the old one
// keep it, and the file watcher notices in-place rewrites, renames and deletions.
#include "gateway/policy_store.h"

#include <chrono>
#include <filesystem>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/file.h"
#include "gateway/policy_watcher.h"
#include "tests/testing/temp_dir.h"

namespace sov::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kAllowPolicy[] = R"(version: 1
name: allow-whoami
rules:
  - id: everyone-whoami
    effect: allow
    actions: [identity.whoami]
    principals: {tenants: ["*"]}
    reason: Every tenant may ask who it is.
)";

// The same policy with a deny rule for acme-ml appended (line 10 holds its id).
std::string DenyPolicy() {
  return std::string(kAllowPolicy) +
         "  - id: suspend-acme-whoami\n"
         "    effect: deny\n"
         "    actions: [identity.whoami]\n"
         "    principals: {tenants: [acme-ml]}\n"
         "    reason: acme-ml is suspended.\n";
}

// An unknown effect on line 6, column 13.
constexpr char kBrokenPolicy[] = R"(version: 1
name: broken
rules:
  - id: everyone-whoami
    actions: [identity.whoami]
    effect: alow
    reason: typo.
)";

policy::Effect WhoAmIEffect(const policy::Policy& policy, const std::string& tenant) {
  policy::DecisionRequest request;
  request.action = "identity.whoami";
  request.principal.tenant_id = tenant;
  request.now = std::chrono::system_clock::now();
  return policy.Decide(request).effect;
}

class PolicyStoreTest : public ::testing::Test {
 protected:
  std::string path() const { return tmp_.Join("policy.yaml"); }
  sov::testing::TempDir tmp_;
};

TEST_F(PolicyStoreTest, LoadsAGoodFile) {
  // The policy is compiled once and its name and digest are those of the file.
  sov::testing::WriteTextFile(path(), kAllowPolicy);
  auto store = PolicyStore::Load(path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->Current()->name(), "allow-whoami");
  EXPECT_THAT((*store)->Current()->digest(), StartsWith("sha256:"));
  EXPECT_EQ(WhoAmIEffect(*(*store)->Current(), "acme-ml"), policy::Effect::kAllow);
}

TEST_F(PolicyStoreTest, BadFileAtLoadListsEveryErrorWithFileLineColumn) {
  // INVALID_ARGUMENT whose message is one "FILE:LINE:COL: error:" line per error.
  sov::testing::WriteTextFile(path(), kBrokenPolicy);
  auto store = PolicyStore::Load(path());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(store.status().message(), StartsWith(path() + ":6:13: error: "));
  EXPECT_THAT(store.status().message(), HasSubstr("alow"));
}

TEST_F(PolicyStoreTest, MissingFileAtLoadIsNotFound) {
  // A read failure keeps its own code, so that sovd reports it at the config key.
  auto store = PolicyStore::Load(path());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(store.status().message(), HasSubstr(path()));
}

TEST_F(PolicyStoreTest, ReloadSwapsAGoodFileAndOldHoldersKeepTheirs) {
  // A call that took the old policy still decides with it after the swap.
  sov::testing::WriteTextFile(path(), kAllowPolicy);
  auto store = PolicyStore::Load(path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::shared_ptr<const policy::Policy> before = (*store)->Current();
  sov::testing::WriteTextFile(path(), DenyPolicy());
  auto reloaded = (*store)->Reload("test");
  ASSERT_TRUE(reloaded.ok()) << reloaded.status().ToString();
  EXPECT_EQ(*reloaded, ReloadOutcome::kSwapped);
  EXPECT_NE((*store)->Current()->digest(), before->digest());
  EXPECT_EQ(WhoAmIEffect(*(*store)->Current(), "acme-ml"), policy::Effect::kDeny);
  EXPECT_EQ(WhoAmIEffect(*(*store)->Current(), "compliance"), policy::Effect::kAllow);
  EXPECT_EQ(WhoAmIEffect(*before, "acme-ml"), policy::Effect::kAllow);
}

TEST_F(PolicyStoreTest, ReloadOfABadFileKeepsThePolicyInForce) {
  // The error names FILE:LINE:COL; Current() is the very same policy as before.
  sov::testing::WriteTextFile(path(), kAllowPolicy);
  auto store = PolicyStore::Load(path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::shared_ptr<const policy::Policy> before = (*store)->Current();
  sov::testing::WriteTextFile(path(), kBrokenPolicy);
  auto reloaded = (*store)->Reload("test");
  ASSERT_FALSE(reloaded.ok());
  EXPECT_THAT(reloaded.status().message(), StartsWith(path() + ":6:13: error: "));
  EXPECT_EQ((*store)->Current(), before);
  // A deleted file is refused the same way.
  std::filesystem::remove(path());
  reloaded = (*store)->Reload("test");
  EXPECT_EQ(reloaded.status().code(), StatusCode::kNotFound);
  EXPECT_EQ((*store)->Current(), before);
}

TEST_F(PolicyStoreTest, ReloadOfTheSameBytesIsUnchanged) {
  // Touching or rewriting the file with the same content swaps nothing.
  sov::testing::WriteTextFile(path(), kAllowPolicy);
  auto store = PolicyStore::Load(path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::shared_ptr<const policy::Policy> before = (*store)->Current();
  ASSERT_TRUE(WriteFileAtomic(path(), kAllowPolicy, 0644).ok());
  auto reloaded = (*store)->Reload("test");
  ASSERT_TRUE(reloaded.ok());
  EXPECT_EQ(*reloaded, ReloadOutcome::kUnchanged);
  EXPECT_EQ((*store)->Current(), before);
}

TEST_F(PolicyStoreTest, SignatureSeesRewritesRenamesAndDeletion) {
  // Each way an editor or deployment changes the file changes its signature.
  sov::testing::WriteTextFile(path(), kAllowPolicy);
  FileSignature first = StatFileSignature(path());
  EXPECT_TRUE(first.exists);
  EXPECT_EQ(StatFileSignature(path()), first);
  ASSERT_TRUE(WriteFileAtomic(path(), kAllowPolicy, 0644).ok());  // same bytes, new inode
  FileSignature renamed = StatFileSignature(path());
  EXPECT_NE(renamed, first);
  sov::testing::WriteTextFile(path(), DenyPolicy());  // in place
  FileSignature rewritten = StatFileSignature(path());
  EXPECT_NE(rewritten, renamed);
  std::filesystem::remove(path());
  EXPECT_FALSE(StatFileSignature(path()).exists);
}

// Waits up to `timeout` for `done`.
template <typename Predicate>
bool WaitFor(Predicate done, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

TEST_F(PolicyStoreTest, WatcherReloadsOnRewriteAndRenameAndIgnoresBadFiles) {
  // In-place rewrite, then a broken file (refused, old kept), then a rename-replace.
  sov::testing::WriteTextFile(path(), kAllowPolicy);
  auto loaded = PolicyStore::Load(path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  PolicyStore& store = **loaded;
  PolicyFileWatcher watcher(store, std::chrono::milliseconds(20));

  sov::testing::WriteTextFile(path(), DenyPolicy());
  EXPECT_TRUE(WaitFor([&] {
    return WhoAmIEffect(*store.Current(), "acme-ml") == policy::Effect::kDeny;
  }));

  std::shared_ptr<const policy::Policy> deny = store.Current();
  sov::testing::WriteTextFile(path(), kBrokenPolicy);
  const FileSignature broken = StatFileSignature(path());
  EXPECT_TRUE(WaitFor([&] { return store.last_seen() == broken; }));  // tried, and refused
  EXPECT_EQ(store.Current(), deny);

  ASSERT_TRUE(WriteFileAtomic(path(), kAllowPolicy, 0644).ok());
  EXPECT_TRUE(WaitFor([&] {
    return WhoAmIEffect(*store.Current(), "acme-ml") == policy::Effect::kAllow;
  }));
  watcher.Stop();
  watcher.Stop();  // idempotent
}

}  // namespace
}  // namespace sov::gateway
