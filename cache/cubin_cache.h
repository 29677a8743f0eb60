// CubinCache: compiled kernels on disk, keyed by the SHA-256 of everything that went into them
// (codegen::cache_key), so a hit never needs a compile and a stale entry cannot be found.
//
// Layout: <dir>/<key[0:2]>/<key>.cubin, one entry per file in the format of entry_format.h,
// written through AtomicFile (temp file beside it, fsync, rename). The two-character fan-out
// keeps directories small. Files other than entries and temp files are left alone.
//
// Policy:
// - A corrupt entry (bad magic, version, key, size or checksum; truncated) is a miss: it is
//   removed, counted in corrupt_removed and logged once as a warning. Never an error for the user.
// - Size budget over the entry files' bytes, least-recently-used eviction after each store; the
//   entry just stored is never evicted (so one entry over the budget still stays). "Use" is a
//   store or a hit. Order lives in memory; a hit also sets the file's mtime to now, and the
//   constructor orders existing entries by mtime, so the order survives a restart.
// - Temp files older than kStaleTempAge are removed by the constructor. Only older ones: a
//   second process on the same directory (`tpjit warmup` beside the daemon) may be writing.
// - Single flight: concurrent get_or_compile calls for one key run one compile and all get its
//   result; failed compiles are returned to all of them and not cached; different keys compile
//   concurrently.
// All methods are thread-safe. Calls must have returned before the cache is destroyed.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/entry_format.h"
#include "util/result.h"

namespace tpjit::cache {

// hit: found on disk (also for a caller that waited on a lookup that hit). compile_ms: the compile
// time when this very call ran the compile, else 0 (callers that waited on another's compile
// get hit = false, compile_ms = 0, so a sum of compile_ms counts each compile once).
struct Fetched {
  std::vector<uint8_t> cubin;
  bool hit;
  double compile_ms;
};

// hits/misses count lookups (get_or_compile does one unless it waits on another call);
// compiles counts calls of a compile function, failed ones included.
struct CacheStats {
  uint64_t entries, bytes, budget_bytes, hits, misses, stores, evictions, corrupt_removed,
      compiles;
};

inline constexpr std::chrono::seconds kStaleTempAge{3600};

class CubinCache {
 public:
  // Creates dir, sweeps stale temp files, indexes existing entries and evicts down to the
  // budget. Throws CheckError if dir cannot be created or read (a configuration error).
  CubinCache(std::filesystem::path dir, uint64_t budget_bytes);
  CubinCache(const CubinCache&) = delete;
  CubinCache& operator=(const CubinCache&) = delete;

  // The verified cubin stored under key (64 lowercase hex digits), or nullopt.
  std::optional<std::vector<uint8_t>> lookup(const std::string& key);
  // Stores atomically, replacing any entry under key, then evicts down to the budget.
  Status store(const std::string& key, const EntryInfo&, std::span<const uint8_t> cubin);
  // Single flight: concurrent callers with the same key wait for one compile.
  // Failed compiles are returned, not cached. A failed store is logged; the cubin is returned.
  // A bad key is an error before any compile. An exception from compile reaches this caller;
  // callers waiting on it get an errc::kInternal error.
  Result<Fetched> get_or_compile(const std::string& key, const EntryInfo&,
                                 const std::function<Result<std::vector<uint8_t>>()>& compile);
  CacheStats stats() const;

  // Where key's entry lives, whether or not it exists (tests, `tpjit cache` tools).
  std::filesystem::path entry_path(const std::string& key) const;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  struct Indexed {
    uint64_t bytes;
    uint64_t last_use;  // tick; larger is more recent
  };

  void scan();
  void note_use_locked(const std::string& key, uint64_t bytes);
  void forget_locked(const std::string& key);
  void evict_locked(const std::string& keep);
  void remove_corrupt(const std::string& key, const std::string& why);
  // lookup, else compile and store: the work of the caller that leads a key's flight.
  Result<Fetched> lead_flight(const std::string& key, const EntryInfo&,
                              const std::function<Result<std::vector<uint8_t>>()>& compile);

  const std::filesystem::path dir_;
  const uint64_t budget_bytes_;

  mutable std::mutex mutex_;  // guards everything below
  std::unordered_map<std::string, Indexed> index_;
  std::map<uint64_t, std::string> by_use_;  // last_use -> key, oldest first
  uint64_t next_tick_ = 1;
  uint64_t bytes_ = 0;
  uint64_t hits_ = 0, misses_ = 0, stores_ = 0, evictions_ = 0, corrupt_removed_ = 0,
           compiles_ = 0;
  std::unordered_map<std::string, std::shared_future<Result<Fetched>>> flights_;
};

}  // namespace tpjit::cache
