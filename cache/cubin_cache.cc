#include "cache/cubin_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <tuple>

#include "util/atomic_file.h"
#include "util/check.h"
#include "util/log.h"

namespace tpjit::cache {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kEntrySuffix = ".cubin";

bool is_key(std::string_view key) {
  return key.size() == 64 &&
         std::all_of(key.begin(), key.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Error bad_key(const std::string& key) {
  return make_error(errc::kInternal,
                    "cache key '" + key.substr(0, 80) + "' is not 64 lowercase hex digits "
                    "(keys come from codegen::cache_key)");
}

enum class ReadOutcome { kOk, kMissing, kTooLarge, kIoError };

// Reads a whole entry file; the size is checked against the cap before allocating.
ReadOutcome read_entry_file(const fs::path& path, std::vector<uint8_t>* bytes, std::string* why) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    int err = errno;
    if (err == ENOENT) return ReadOutcome::kMissing;
    *why = posix_error("open", path, err).message;
    return ReadOutcome::kIoError;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) == -1) {
    int err = errno;
    *why = posix_error("fstat", path, err).message;
    return ReadOutcome::kIoError;
  }
  if (uint64_t(st.st_size) > kMaxEntryBytes) {
    *why = "file of " + std::to_string(st.st_size) + " bytes is over the entry cap of " +
           std::to_string(kMaxEntryBytes);
    return ReadOutcome::kTooLarge;
  }
  bytes->resize(size_t(st.st_size));
  size_t got = 0;
  while (got < bytes->size()) {
    ssize_t n = ::read(fd.get(), bytes->data() + got, bytes->size() - got);
    if (n == -1 && errno == EINTR) continue;
    if (n == -1) {
      int err = errno;
      *why = posix_error("read", path, err).message;
      return ReadOutcome::kIoError;
    }
    if (n == 0) break;  // shrank under us: decode sees a truncated entry
    got += size_t(n);
  }
  bytes->resize(got);
  return ReadOutcome::kOk;
}

// The entries of a directory; a directory we cannot read is a configuration error.
std::vector<fs::path> list_dir(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) out.push_back(it->path());
  TPJIT_CHECK(!ec, "cannot read cache directory " + dir.string() + ": " + ec.message());
  return out;
}

}  // namespace

CubinCache::CubinCache(fs::path dir, uint64_t budget_bytes)
    : dir_(std::move(dir)), budget_bytes_(budget_bytes) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  TPJIT_CHECK(!ec && fs::is_directory(dir_),
              "cannot use cache directory " + dir_.string() + ": " + ec.message());
  scan();
}

fs::path CubinCache::entry_path(const std::string& key) const {
  return dir_ / key.substr(0, 2) / (key + std::string(kEntrySuffix));
}

void CubinCache::scan() {
  auto stale_before = fs::file_time_type::clock::now() - kStaleTempAge;
  std::vector<std::tuple<fs::file_time_type, std::string, uint64_t>> found;
  uint64_t swept = 0;
  std::error_code ec;
  for (const fs::path& sub : list_dir(dir_)) {
    std::string sub_name = sub.filename().string();
    if (sub_name.size() != 2 || !fs::is_directory(sub, ec)) continue;
    for (const fs::path& file : list_dir(sub)) {
      std::string name = file.filename().string();
      auto mtime = fs::last_write_time(file, ec);
      if (ec) continue;  // vanished while we looked
      if (is_atomic_temp_name(name)) {
        if (mtime < stale_before && fs::remove(file, ec)) ++swept;
        continue;
      }
      if (!name.ends_with(kEntrySuffix)) continue;
      std::string key = name.substr(0, name.size() - kEntrySuffix.size());
      if (!is_key(key) || key.compare(0, 2, sub_name) != 0) continue;
      uint64_t size = fs::file_size(file, ec);
      if (!ec) found.emplace_back(mtime, key, size);
    }
  }
  std::sort(found.begin(), found.end());  // oldest use first; ties by key, so deterministic
  std::lock_guard lock(mutex_);
  for (const auto& [mtime, key, size] : found) note_use_locked(key, size);
  evict_locked("");
  logger("cache")->info("cache {}: {} entries, {} bytes of {} budget, {} stale temp files removed",
                        dir_.string(), index_.size(), bytes_, budget_bytes_, swept);
}

void CubinCache::note_use_locked(const std::string& key, uint64_t bytes) {
  forget_locked(key);
  uint64_t tick = next_tick_++;
  index_[key] = Indexed{bytes, tick};
  by_use_[tick] = key;
  bytes_ += bytes;
}

void CubinCache::forget_locked(const std::string& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  bytes_ -= it->second.bytes;
  by_use_.erase(it->second.last_use);
  index_.erase(it);
}

void CubinCache::evict_locked(const std::string& keep) {
  auto it = by_use_.begin();
  while (bytes_ > budget_bytes_ && it != by_use_.end()) {
    if (it->second == keep) {
      ++it;
      continue;
    }
    std::string key = it->second;
    ++it;  // forget_locked erases the current node
    fs::path path = entry_path(key);
    if (::unlink(path.c_str()) == -1 && errno != ENOENT) {
      int err = errno;
      logger("cache")->warn("cannot evict: {}", posix_error("unlink", path, err).message);
    }
    forget_locked(key);
    ++evictions_;
  }
}

void CubinCache::remove_corrupt(const std::string& key, const std::string& why) {
  fs::path path = entry_path(key);
  std::lock_guard lock(mutex_);
  if (::unlink(path.c_str()) == -1 && errno != ENOENT) {
    int err = errno;
    logger("cache")->warn("cannot remove corrupt entry: {}",
                          posix_error("unlink", path, err).message);
  }
  forget_locked(key);
  ++corrupt_removed_;
  ++misses_;
  logger("cache")->warn("removed corrupt cache entry {}: {}", path.string(), why);
}

std::optional<std::vector<uint8_t>> CubinCache::lookup(const std::string& key) {
  if (!is_key(key)) {
    logger("cache")->warn("lookup: {}", bad_key(key).message);
    std::lock_guard lock(mutex_);
    ++misses_;
    return std::nullopt;
  }
  fs::path path = entry_path(key);
  std::vector<uint8_t> bytes;
  std::string why;
  switch (read_entry_file(path, &bytes, &why)) {
    case ReadOutcome::kOk:
      break;
    case ReadOutcome::kTooLarge:
      remove_corrupt(key, why);
      return std::nullopt;
    case ReadOutcome::kMissing: {
      std::lock_guard lock(mutex_);
      forget_locked(key);  // evicted or removed by hand
      ++misses_;
      return std::nullopt;
    }
    case ReadOutcome::kIoError: {
      // An unreadable file is not proof of corruption: leave it, report, miss.
      logger("cache")->warn("lookup: {}", why);
      std::lock_guard lock(mutex_);
      ++misses_;
      return std::nullopt;
    }
  }
  Result<Entry> entry = decode_entry(bytes, key);
  if (!entry) {
    remove_corrupt(key, entry.error().message);
    return std::nullopt;
  }
  std::lock_guard lock(mutex_);
  ++hits_;
  // The read ran outside the lock, so a store may have evicted this entry since. Index it only
  // if its file is still there (evictions unlink under this lock), or the index would count a
  // file that is gone and the cache would sit over its budget. The bytes we read are whole and
  // checked either way.
  struct stat st {};
  if (::stat(path.c_str(), &st) == -1) {
    forget_locked(key);
    return std::move(entry->payload);
  }
  note_use_locked(key, uint64_t(st.st_size));
  evict_locked(key);  // another process may have grown the directory
  // The mtime carries the use order across restarts; failing to set it only weakens that.
  if (::utimensat(AT_FDCWD, path.c_str(), nullptr, 0) == -1) {
    int err = errno;
    logger("cache")->debug("{}", posix_error("utimensat", path, err).message);
  }
  return std::move(entry->payload);
}

Status CubinCache::store(const std::string& key, const EntryInfo& info,
                         std::span<const uint8_t> cubin) {
  if (!is_key(key)) return bad_key(key);
  for (const std::string* field : {&info.kernel_name, &info.compiler_version, &info.target}) {
    if (field->size() > kMaxFieldBytes) {
      return make_error(errc::kLimitExceeded, "entry field '" + field->substr(0, 80) +
                                                  "...' is over " +
                                                  std::to_string(kMaxFieldBytes) + " bytes");
    }
  }
  if (cubin.size() > kMaxPayloadBytes) {
    return make_error(errc::kLimitExceeded, "cubin of " + std::to_string(cubin.size()) +
                                                " bytes is over the cache cap of " +
                                                std::to_string(kMaxPayloadBytes));
  }
  fs::path path = entry_path(key);
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) {
    return make_error(errc::kInternal, "cannot create " + path.parent_path().string() + ": " +
                                           ec.message(), path.string());
  }
  Result<AtomicFile> file = AtomicFile::create(path);
  if (!file) return file.error();
  if (Status s = file->write(std::span<const uint8_t>(encode_entry(key, info, cubin))); !s) {
    return s;
  }
  if (Status s = file->commit(); !s) return s;

  std::lock_guard lock(mutex_);
  ++stores_;
  // Size from the file itself, under the lock: if an eviction raced us and removed it, there is
  // nothing to index (a miss later), rather than an index entry for a file that is gone.
  struct stat st {};
  if (::stat(path.c_str(), &st) == -1) {
    forget_locked(key);
    return ok_status();
  }
  note_use_locked(key, uint64_t(st.st_size));
  evict_locked(key);
  return ok_status();
}

Result<Fetched> CubinCache::get_or_compile(
    const std::string& key, const EntryInfo& info,
    const std::function<Result<std::vector<uint8_t>>()>& compile) {
  if (!is_key(key)) return bad_key(key);
  std::promise<Result<Fetched>> promise;
  {
    std::unique_lock lock(mutex_);
    auto it = flights_.find(key);
    if (it != flights_.end()) {
      std::shared_future<Result<Fetched>> flight = it->second;
      lock.unlock();
      Result<Fetched> shared = flight.get();
      if (shared) shared->compile_ms = 0;  // counted once, by the caller that compiled
      return shared;
    }
    flights_.emplace(key, promise.get_future().share());
  }
  // We lead this key's flight and must finish it on every path, exceptions included, or its
  // waiters would wait forever and the key could never compile again.
  auto finish = [&](Result<Fetched> result) {
    {
      std::lock_guard lock(mutex_);
      flights_.erase(key);  // after the store: a caller arriving now finds the entry
    }
    promise.set_value(result);
    return result;
  };
  try {
    return finish(lead_flight(key, info, compile));
  } catch (const std::exception& e) {
    (void)finish(make_error(errc::kInternal, std::string("compile threw: ") + e.what()));
    throw;
  } catch (...) {
    (void)finish(make_error(errc::kInternal, "compile threw a non-standard exception"));
    throw;
  }
}

Result<Fetched> CubinCache::lead_flight(
    const std::string& key, const EntryInfo& info,
    const std::function<Result<std::vector<uint8_t>>()>& compile) {
  if (auto cubin = lookup(key)) return Fetched{std::move(*cubin), true, 0.0};
  {
    std::lock_guard lock(mutex_);
    ++compiles_;
  }
  auto start = std::chrono::steady_clock::now();
  Result<std::vector<uint8_t>> compiled = compile();
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                  .count();
  if (!compiled) return compiled.error();
  if (Status stored = store(key, info, compiled.value()); !stored) {
    logger("cache")->warn("compiled {} but could not cache it: {}", info.kernel_name,
                          stored.error().message);
  }
  return Fetched{std::move(compiled).value(), false, ms};
}

CacheStats CubinCache::stats() const {
  std::lock_guard lock(mutex_);
  return CacheStats{index_.size(), bytes_,     budget_bytes_,    hits_,    misses_,
                    stores_,       evictions_, corrupt_removed_, compiles_};
}

}  // namespace tpjit::cache
