// get_or_compile under concurrency. Overlap is forced with rendezvous points inside the compile
// function, never with sleeps; a wait that would hang on a bug gives up after kGiveUp and fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "cache/cubin_cache.h"
#include "tests/cache/cache_test_util.h"
#include "tests/util/temp_dir.h"

namespace tpjit::cache {
namespace {
using namespace testing;

constexpr auto kGiveUp = std::chrono::seconds(20);

// A latch whose wait gives up, so a deadlock shows as a failure instead of a hung test.
class Rendezvous {
 public:
  explicit Rendezvous(int count) : left_(count) {}
  void arrive() {
    std::lock_guard lock(mutex_);
    if (--left_ <= 0) cv_.notify_all();
  }
  bool wait() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kGiveUp, [&] { return left_ <= 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int left_;
};

class SingleFlight : public ::testing::TestWithParam<int> {
 protected:
  tpjit::testing::TempDir dir_;
};

// Every thread has entered get_or_compile before the one compile returns. A thread that comes
// late (after the compile finished) finds the stored entry: still one compile either way.
TEST_P(SingleFlight, SameKeyCompilesOnce) {
  const int threads = GetParam();
  CubinCache cache(dir_.path(), 1 << 20);
  Rendezvous entered(threads);
  std::atomic<int> calls{0};
  std::atomic<bool> timed_out{false};
  auto compile = [&]() -> Result<std::vector<uint8_t>> {
    ++calls;
    if (!entered.wait()) timed_out = true;
    return test_payload(1);
  };
  std::vector<std::optional<Result<Fetched>>> results(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      entered.arrive();
      results[t].emplace(cache.get_or_compile(test_key(1), test_info(1), compile));
    });
  }
  for (auto& thread : pool) thread.join();
  ASSERT_FALSE(timed_out);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(cache.stats().compiles, 1u);
  EXPECT_EQ(cache.stats().stores, 1u);
  int reported_compile_time = 0;
  for (auto& result : results) {
    ASSERT_TRUE(*result) << result->error().message;
    EXPECT_EQ((*result)->cubin, test_payload(1));
    if ((*result)->compile_ms > 0) ++reported_compile_time;
  }
  EXPECT_LE(reported_compile_time, 1);  // only the caller that compiled reports its time
}

// A failure reaches every waiter and is not stored. Late threads (see above) compile again
// and fail the same way, so calls is at least 1; nothing is ever stored.
TEST_P(SingleFlight, FailedCompileReachesEveryWaiterAndIsNotCached) {
  const int threads = GetParam();
  CubinCache cache(dir_.path(), 1 << 20);
  Rendezvous entered(threads);
  std::atomic<int> calls{0};
  auto compile = [&]() -> Result<std::vector<uint8_t>> {
    ++calls;
    entered.wait();
    return make_error(errc::kCompileFailed, "ptxas: too many registers");
  };
  std::vector<std::optional<Result<Fetched>>> results(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      entered.arrive();
      results[t].emplace(cache.get_or_compile(test_key(1), test_info(1), compile));
    });
  }
  for (auto& thread : pool) thread.join();
  EXPECT_GE(calls, 1);
  for (auto& result : results) {
    ASSERT_FALSE(*result);
    EXPECT_EQ(result->error().code, errc::kCompileFailed);
    EXPECT_EQ(result->error().message, "ptxas: too many registers");
  }
  EXPECT_FALSE(std::filesystem::exists(cache.entry_path(test_key(1))));
  EXPECT_EQ(cache.stats().stores, 0u);
  int before = calls;
  EXPECT_FALSE(cache.get_or_compile(test_key(1), test_info(1), compile));
  EXPECT_EQ(calls, before + 1);
}

// A compile that throws: its caller gets the exception, every waiter an error; none hangs.
TEST_P(SingleFlight, ThrowingCompileReleasesEveryWaiter) {
  const int threads = GetParam();
  CubinCache cache(dir_.path(), 1 << 20);
  Rendezvous entered(threads);
  auto compile = [&]() -> Result<std::vector<uint8_t>> {
    entered.wait();
    throw std::runtime_error("compiler crashed");
  };
  std::atomic<int> thrown{0}, errors{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      entered.arrive();
      try {
        Result<Fetched> r = cache.get_or_compile(test_key(1), test_info(1), compile);
        if (!r && r.error().code == errc::kInternal &&
            r.error().message.find("compiler crashed") != std::string::npos) {
          ++errors;
        }
      } catch (const std::runtime_error&) {
        ++thrown;
      }
    });
  }
  for (auto& thread : pool) thread.join();
  EXPECT_GE(thrown, 1);
  EXPECT_EQ(thrown + errors, threads);
  EXPECT_EQ(cache.stats().stores, 0u);
}

INSTANTIATE_TEST_SUITE_P(Threads, SingleFlight, ::testing::Values(2, 8));

// Each compile waits for the other to start: if different keys were serialized, this would
// time out instead of passing.
TEST(SingleFlightKeys, DifferentKeysCompileConcurrently) {
  tpjit::testing::TempDir dir;
  CubinCache cache(dir.path(), 1 << 20);
  Rendezvous both_compiling(2);
  std::atomic<bool> timed_out{false};
  auto compile_for = [&](int i) {
    return [&, i]() -> Result<std::vector<uint8_t>> {
      both_compiling.arrive();
      if (!both_compiling.wait()) timed_out = true;
      return test_payload(i);
    };
  };
  std::optional<Result<Fetched>> a, b;
  std::thread ta([&] { a.emplace(cache.get_or_compile(test_key(1), test_info(1), compile_for(1))); });
  std::thread tb([&] { b.emplace(cache.get_or_compile(test_key(2), test_info(2), compile_for(2))); });
  ta.join();
  tb.join();
  EXPECT_FALSE(timed_out);
  ASSERT_TRUE(*a);
  ASSERT_TRUE(*b);
  EXPECT_EQ((*a)->cubin, test_payload(1));
  EXPECT_EQ((*b)->cubin, test_payload(2));
  EXPECT_EQ(cache.stats().compiles, 2u);
}

// Many threads, few keys, a budget of two entries: eviction races lookups, stores and
// compiles. Every answer must still be the right cubin for its key.
TEST(SingleFlightKeys, StressWithEvictionReturnsRightCubins) {
  tpjit::testing::TempDir dir;
  const uint64_t entry_size = encode_entry(test_key(0), test_info(0), test_payload(0)).size();
  CubinCache cache(dir.path(), 2 * entry_size);
  std::atomic<int> wrong{0}, failed{0};
  std::atomic<bool> done{false};
  std::atomic<uint64_t> most_bytes{0};
  // The index must never count more than the budget, not even between two stores: a lookup
  // that raced an eviction once re-indexed the file that eviction had just removed.
  std::thread watcher([&] {
    while (!done) most_bytes = std::max<uint64_t>(most_bytes, cache.stats().bytes);
  });
  std::vector<std::thread> pool;
  for (int t = 0; t < 8; ++t) {
    pool.emplace_back([&, t] {
      for (int iter = 0; iter < 200; ++iter) {
        int i = (t * 7 + iter * 13) % 4;
        auto fetched = cache.get_or_compile(test_key(i), test_info(i), [i] {
          return Result<std::vector<uint8_t>>(test_payload(i));
        });
        if (!fetched) {
          ++failed;
        } else if (fetched->cubin != test_payload(i)) {
          ++wrong;
        }
      }
    });
  }
  for (auto& thread : pool) thread.join();
  done = true;
  watcher.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(failed, 0);
  CacheStats s = cache.stats();
  EXPECT_LE(most_bytes, s.budget_bytes);
  EXPECT_LE(s.bytes, s.budget_bytes);
  EXPECT_LE(s.entries, 2u);
  EXPECT_EQ(s.corrupt_removed, 0u);
  EXPECT_EQ(s.misses, s.compiles);  // every miss led to exactly one compile
}

}  // namespace
}  // namespace tpjit::cache
