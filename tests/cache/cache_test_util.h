// Shared helpers for the cache tests: keys, payloads, raw file access.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cache/cubin_cache.h"
#include "util/sha256.h"

namespace tpjit::cache::testing {

inline std::string test_key(int i) { return sha256_hex("kernel " + std::to_string(i)); }

// Random bytes seeded by seed, so each key's payload is known and distinct.
inline std::vector<uint8_t> test_payload(int seed, size_t size = 200) {
  std::mt19937 rng(uint32_t(seed) * 2654435761u + 1);
  std::vector<uint8_t> out(size);
  for (auto& b : out) b = uint8_t(rng());
  return out;
}

inline EntryInfo test_info(int i) {
  return EntryInfo{"tpjit_gemm_" + std::to_string(i), "nvrtc 13.0", "sm_90a"};
}

inline std::vector<uint8_t> read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  return std::vector<uint8_t>(text.begin(), text.end());
}

inline void write_bytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

// Sets a file's mtime to now - age_s on the clock the cache reads (the file system's), so
// tests order entries explicitly instead of sleeping.
inline void set_age(const std::filesystem::path& path, int age_s) {
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = std::time(nullptr) - age_s;
  times[0].tv_nsec = times[1].tv_nsec = 0;
  if (::utimensat(AT_FDCWD, path.c_str(), times, 0) != 0) {
    throw std::runtime_error("utimensat " + path.string() + ": " + std::strerror(errno));
  }
}

}  // namespace tpjit::cache::testing
