#include "cache/cubin_cache.h"

#include <gtest/gtest.h>

#include "tests/cache/cache_test_util.h"
#include "tests/util/temp_dir.h"

namespace tpjit::cache {
namespace {
using namespace testing;
namespace fs = std::filesystem;

class CubinCacheTest : public ::testing::Test {
 protected:
  tpjit::testing::TempDir dir_;
};

Result<std::vector<uint8_t>> compile_ok(int seed, int* calls) {
  ++*calls;
  return test_payload(seed);
}

TEST_F(CubinCacheTest, StoreThenLookupHitsAndUnknownKeyMisses) {
  CubinCache cache(dir_.path(), 1 << 20);
  EXPECT_FALSE(cache.lookup(test_key(1)));
  ASSERT_TRUE(cache.store(test_key(1), test_info(1), test_payload(1)));
  EXPECT_TRUE(fs::exists(cache.entry_path(test_key(1))));
  EXPECT_EQ(cache.entry_path(test_key(1)).parent_path().filename(), test_key(1).substr(0, 2));
  auto found = cache.lookup(test_key(1));
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, test_payload(1));
  EXPECT_FALSE(cache.lookup(test_key(2)));
  CacheStats s = cache.stats();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.bytes, fs::file_size(cache.entry_path(test_key(1))));
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.stores, 1u);
  EXPECT_EQ(s.budget_bytes, 1u << 20);
}

TEST_F(CubinCacheTest, StoreReplacesAnEntry) {
  CubinCache cache(dir_.path(), 1 << 20);
  ASSERT_TRUE(cache.store(test_key(1), test_info(1), test_payload(1)));
  ASSERT_TRUE(cache.store(test_key(1), test_info(1), test_payload(2, 300)));
  EXPECT_EQ(*cache.lookup(test_key(1)), test_payload(2, 300));
  EXPECT_EQ(cache.stats().entries, 1u);
  EXPECT_EQ(cache.stats().bytes, fs::file_size(cache.entry_path(test_key(1))));
}

TEST_F(CubinCacheTest, BadKeysAreRefused) {
  CubinCache cache(dir_.path(), 1 << 20);
  for (std::string key : {std::string(""), std::string("../../etc/passwd"),
                          test_key(1).substr(1), "A" + test_key(1).substr(1)}) {
    Status stored = cache.store(key, test_info(1), test_payload(1));
    ASSERT_FALSE(stored) << key;
    EXPECT_EQ(stored.error().code, errc::kInternal);
    EXPECT_FALSE(cache.lookup(key));
    int calls = 0;
    EXPECT_FALSE(cache.get_or_compile(key, test_info(1), [&] { return compile_ok(1, &calls); }));
    EXPECT_EQ(calls, 0);
  }
  EXPECT_EQ(cache.stats().entries, 0u);
}

TEST_F(CubinCacheTest, OversizedFieldsAreRefused) {
  CubinCache cache(dir_.path(), 1 << 20);
  EntryInfo info = test_info(1);
  info.kernel_name.assign(kMaxFieldBytes + 1, 'k');
  Status stored = cache.store(test_key(1), info, test_payload(1));
  ASSERT_FALSE(stored);
  EXPECT_EQ(stored.error().code, errc::kLimitExceeded);
}

// Every byte of the file (header, payload, checksum), damaged one at a time: a miss, the file
// is gone, and the next get_or_compile stores a good entry again.
TEST_F(CubinCacheTest, FlippedByteAnywhereIsAMissAndTheEntryIsRebuilt) {
  CubinCache cache(dir_.path(), 1 << 20);
  const std::string key = test_key(1);
  ASSERT_TRUE(cache.store(key, test_info(1), test_payload(1, 64)));
  const fs::path path = cache.entry_path(key);
  const auto good = read_bytes(path);
  for (size_t i = 0; i < good.size(); ++i) {
    auto damaged = good;
    damaged[i] ^= 0x5a;
    write_bytes(path, damaged);
    ASSERT_FALSE(cache.lookup(key)) << "byte " << i;
    ASSERT_FALSE(fs::exists(path)) << "byte " << i;
    write_bytes(path, good);
  }
  EXPECT_EQ(cache.stats().corrupt_removed, good.size());

  auto damaged = good;
  damaged.back() ^= 1;
  write_bytes(path, damaged);
  int calls = 0;
  Result<Fetched> fetched =
      cache.get_or_compile(key, test_info(1), [&] { return compile_ok(1, &calls); });
  ASSERT_TRUE(fetched);
  EXPECT_FALSE(fetched->hit);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(read_bytes(path), encode_entry(key, test_info(1), test_payload(1)));
  EXPECT_TRUE(cache.lookup(key));
}

TEST_F(CubinCacheTest, EntryTruncatedAtEveryLengthIsAMiss) {
  CubinCache cache(dir_.path(), 1 << 20);
  const std::string key = test_key(1);
  ASSERT_TRUE(cache.store(key, test_info(1), test_payload(1, 64)));
  const fs::path path = cache.entry_path(key);
  const auto good = read_bytes(path);
  for (size_t length = 0; length < good.size(); ++length) {
    write_bytes(path, std::vector<uint8_t>(good.begin(), good.begin() + long(length)));
    ASSERT_FALSE(cache.lookup(key)) << "length " << length;
    ASSERT_FALSE(fs::exists(path)) << "length " << length;
  }
  EXPECT_EQ(cache.stats().corrupt_removed, good.size());
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.stats().bytes, 0u);
}

TEST_F(CubinCacheTest, EntryHoldingAnotherKeyIsAMiss) {
  CubinCache cache(dir_.path(), 1 << 20);
  ASSERT_TRUE(cache.store(test_key(1), test_info(1), test_payload(1)));
  fs::path wrong = cache.entry_path(test_key(2));
  fs::create_directories(wrong.parent_path());
  fs::copy_file(cache.entry_path(test_key(1)), wrong);
  EXPECT_FALSE(cache.lookup(test_key(2)));
  EXPECT_FALSE(fs::exists(wrong));
  EXPECT_EQ(cache.stats().corrupt_removed, 1u);
  EXPECT_TRUE(cache.lookup(test_key(1)));
}

// A size far over the cap is refused from the file size alone, before any allocation.
TEST_F(CubinCacheTest, HugeFileIsRemovedWithoutReadingIt) {
  CubinCache cache(dir_.path(), 1 << 20);
  fs::path path = cache.entry_path(test_key(1));
  fs::create_directories(path.parent_path());
  write_bytes(path, {'T', 'P', 'J', 'C'});
  fs::resize_file(path, kMaxEntryBytes + 1);  // sparse: no disk used
  EXPECT_FALSE(cache.lookup(test_key(1)));
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(cache.stats().corrupt_removed, 1u);
}

TEST_F(CubinCacheTest, FailedCompileIsReturnedAndNotCached) {
  CubinCache cache(dir_.path(), 1 << 20);
  int calls = 0;
  auto failing = [&]() -> Result<std::vector<uint8_t>> {
    ++calls;
    return make_error(errc::kCompileFailed, "nvrtc: error: expected ';'", "tpjit_gemm_1");
  };
  for (int attempt = 1; attempt <= 2; ++attempt) {
    Result<Fetched> fetched = cache.get_or_compile(test_key(1), test_info(1), failing);
    ASSERT_FALSE(fetched);
    EXPECT_EQ(fetched.error().code, errc::kCompileFailed);
    EXPECT_EQ(fetched.error().where, "tpjit_gemm_1");
    EXPECT_EQ(calls, attempt);  // not cached: the second call compiles again
  }
  EXPECT_FALSE(fs::exists(cache.entry_path(test_key(1))));
  EXPECT_EQ(cache.stats().stores, 0u);
  EXPECT_EQ(cache.stats().compiles, 2u);
}

TEST_F(CubinCacheTest, GetOrCompileCompilesOnceThenHits) {
  CubinCache cache(dir_.path(), 1 << 20);
  int calls = 0;
  auto compile = [&] { return compile_ok(1, &calls); };
  Result<Fetched> first = cache.get_or_compile(test_key(1), test_info(1), compile);
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->hit);
  EXPECT_GE(first->compile_ms, 0.0);
  EXPECT_EQ(first->cubin, test_payload(1));
  Result<Fetched> second = cache.get_or_compile(test_key(1), test_info(1), compile);
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->hit);
  EXPECT_EQ(second->compile_ms, 0.0);
  EXPECT_EQ(second->cubin, test_payload(1));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(cache.stats().compiles, 1u);
}

TEST_F(CubinCacheTest, ThrowingCompileReachesTheCallerAndClearsTheFlight) {
  CubinCache cache(dir_.path(), 1 << 20);
  auto throwing = []() -> Result<std::vector<uint8_t>> { throw std::runtime_error("boom"); };
  EXPECT_THROW((void)cache.get_or_compile(test_key(1), test_info(1), throwing),
               std::runtime_error);
  int calls = 0;
  Result<Fetched> fetched =
      cache.get_or_compile(test_key(1), test_info(1), [&] { return compile_ok(1, &calls); });
  ASSERT_TRUE(fetched);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace tpjit::cache
