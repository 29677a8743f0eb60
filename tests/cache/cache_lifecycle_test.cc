// Budget, eviction order, restart and the temp-file sweep.
#include <gtest/gtest.h>

#include "cache/cubin_cache.h"
#include "tests/cache/cache_test_util.h"
#include "tests/util/temp_dir.h"

namespace tpjit::cache {
namespace {
using namespace testing;
namespace fs = std::filesystem;

// Every test entry has the same size (same-length names, same payload size).
const uint64_t kEntrySize = encode_entry(test_key(1), test_info(1), test_payload(1)).size();

void store(CubinCache& cache, int i) {
  Status s = cache.store(test_key(i), test_info(i), test_payload(i));
  ASSERT_TRUE(s) << s.error().message;
}

bool present(const CubinCache& cache, int i) { return fs::exists(cache.entry_path(test_key(i))); }

TEST(CacheLifecycle, EvictsLeastRecentlyUsedWithinBudget) {
  tpjit::testing::TempDir dir;
  CubinCache cache(dir.path(), 3 * kEntrySize);
  store(cache, 1);
  store(cache, 2);
  store(cache, 3);
  ASSERT_TRUE(cache.lookup(test_key(1)));  // 2 is now the least recently used
  store(cache, 4);
  EXPECT_TRUE(present(cache, 1));
  EXPECT_FALSE(present(cache, 2));
  EXPECT_TRUE(present(cache, 3));
  EXPECT_TRUE(present(cache, 4));
  ASSERT_TRUE(cache.lookup(test_key(3)));  // order now 1, 4, 3
  store(cache, 5);
  EXPECT_FALSE(present(cache, 1));
  EXPECT_TRUE(present(cache, 3));
  EXPECT_TRUE(present(cache, 4));
  EXPECT_TRUE(present(cache, 5));
  CacheStats s = cache.stats();
  EXPECT_EQ(s.entries, 3u);
  EXPECT_EQ(s.bytes, 3 * kEntrySize);
  EXPECT_LE(s.bytes, s.budget_bytes);
  EXPECT_EQ(s.evictions, 2u);
  EXPECT_FALSE(cache.lookup(test_key(2)));
}

TEST(CacheLifecycle, EntryOverTheBudgetIsKeptAndEvictsTheRest) {
  tpjit::testing::TempDir dir;
  CubinCache cache(dir.path(), 2 * kEntrySize);
  store(cache, 1);
  store(cache, 2);
  ASSERT_TRUE(cache.store(test_key(3), test_info(3), test_payload(3, 4 * kEntrySize)));
  EXPECT_FALSE(present(cache, 1));
  EXPECT_FALSE(present(cache, 2));
  EXPECT_EQ(*cache.lookup(test_key(3)), test_payload(3, 4 * kEntrySize));
  EXPECT_EQ(cache.stats().entries, 1u);
  EXPECT_EQ(cache.stats().evictions, 2u);
}

TEST(CacheLifecycle, RestartSeesOldEntries) {
  tpjit::testing::TempDir dir;
  {
    CubinCache cache(dir.path(), 1 << 20);
    store(cache, 1);
    store(cache, 2);
  }
  CubinCache reopened(dir.path(), 1 << 20);
  EXPECT_EQ(reopened.stats().entries, 2u);
  EXPECT_EQ(reopened.stats().bytes, 2 * kEntrySize);
  EXPECT_EQ(*reopened.lookup(test_key(1)), test_payload(1));
  EXPECT_EQ(*reopened.lookup(test_key(2)), test_payload(2));
  int calls = 0;
  Result<Fetched> fetched = reopened.get_or_compile(test_key(2), test_info(2), [&] {
    ++calls;
    return Result<std::vector<uint8_t>>(std::vector<uint8_t>{});
  });
  ASSERT_TRUE(fetched);
  EXPECT_TRUE(fetched->hit);
  EXPECT_EQ(calls, 0);
}

// The use order survives a restart through mtimes; a hit refreshes the mtime.
TEST(CacheLifecycle, RestartKeepsUseOrderAndEvictsDownToTheBudget) {
  tpjit::testing::TempDir dir;
  {
    CubinCache cache(dir.path(), 1 << 20);
    for (int i = 1; i <= 4; ++i) store(cache, i);
    set_age(cache.entry_path(test_key(1)), 400);
    set_age(cache.entry_path(test_key(2)), 300);
    set_age(cache.entry_path(test_key(3)), 100);
    set_age(cache.entry_path(test_key(4)), 200);
    ASSERT_TRUE(cache.lookup(test_key(1)));  // now the newest on disk too
  }
  CubinCache reopened(dir.path(), 2 * kEntrySize);  // smaller budget: evicts 2, then 4
  EXPECT_EQ(reopened.stats().entries, 2u);
  EXPECT_EQ(reopened.stats().evictions, 2u);
  EXPECT_TRUE(present(reopened, 1));
  EXPECT_FALSE(present(reopened, 2));
  EXPECT_TRUE(present(reopened, 3));
  EXPECT_FALSE(present(reopened, 4));
  store(reopened, 5);  // 3 is older than 1
  EXPECT_TRUE(present(reopened, 1));
  EXPECT_FALSE(present(reopened, 3));
}

TEST(CacheLifecycle, StaleTempFilesAreSweptAtStart) {
  tpjit::testing::TempDir dir;
  std::string key = test_key(1);
  fs::path sub = dir.path() / key.substr(0, 2);
  fs::create_directories(sub);
  fs::path stale = sub / (key + ".cubin.tmp.aB3xYz");
  fs::path fresh = sub / (key + ".cubin.tmp.Qw7rTy");  // another process may be writing it
  fs::path other = sub / "notes.txt";                   // not ours: left alone
  for (const fs::path& p : {stale, fresh, other}) write_bytes(p, {1, 2, 3});
  set_age(stale, int(kStaleTempAge.count()) + 60);
  set_age(other, int(kStaleTempAge.count()) + 60);
  CubinCache cache(dir.path(), 1 << 20);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(fresh));
  EXPECT_TRUE(fs::exists(other));
  EXPECT_EQ(cache.stats().entries, 0u);
}

TEST(CacheLifecycle, ForeignFilesAreNotIndexed) {
  tpjit::testing::TempDir dir;
  fs::create_directories(dir.path() / "zz");
  write_bytes(dir.path() / "zz" / (test_key(1) + ".cubin"), {1});  // wrong fan-out folder
  write_bytes(dir.path() / "README", {1});
  CubinCache cache(dir.path(), 1 << 20);
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.stats().bytes, 0u);
}

TEST(CacheLifecycle, EntryRemovedBehindTheCacheIsAMissAndForgotten) {
  tpjit::testing::TempDir dir;
  CubinCache cache(dir.path(), 1 << 20);
  store(cache, 1);
  fs::remove(cache.entry_path(test_key(1)));
  EXPECT_FALSE(cache.lookup(test_key(1)));
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.stats().bytes, 0u);
  EXPECT_EQ(cache.stats().corrupt_removed, 0u);
}

TEST(CacheLifecycle, UnusableDirectoryThrowsAtConstruction) {
  tpjit::testing::TempDir dir;
  write_bytes(dir.path() / "file", {1});
  EXPECT_THROW(CubinCache(dir.path() / "file", 1 << 20), CheckError);
}

}  // namespace
}  // namespace tpjit::cache
