// TuningStore: the winners of GEMM autotuning on disk, so a shape is timed once per card and
// target and every later compile (the daemon, `tpjit-bench tune`) takes the measured tile.
//
// Layout: <cache_dir>/tuning/<key>.json, one record per file, written through AtomicFile.
// key = SHA-256 hex of the canonical JSON dump of key_fields (below). The card is not in the
// key: one record per (arch, variant, shape, m bucket); tuning on another card replaces it, and
// a lookup may ask for a card (a record of another card is then a miss) or take any (the
// newest, the only one kept). The daemon, which never opens a GPU, takes any.
//
// Record grammar (JSON object, at most kMaxTuningRecordBytes):
//   {"format": "tpjit.tuning/1",
//    "key_fields": {"arch": str, "variant": str, "n": int, "k": int, "scale": str,
//                   "out": str, "m_bucket": int},
//    "card": str, "tuned_at": str (UTC, ISO 8601), "tile": object, "ms": number,
//    "candidates": [{"tile": object, "ms": number}, ...],
//    "checksum": SHA-256 hex of the canonical dump of the object without "checksum"}
// Tiles are opaque objects here (codegen's tile_to_json writes and checks them).
// Policy, as in the cubin cache: a record that does not parse, has a bad checksum, another
// format, or key_fields that do not hash to its file name is a miss; the file is removed and a
// warning logged. Never an error for the user. No state in memory: thread-safe, and several
// processes may share the directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/result.h"

namespace tpjit::cache {

inline constexpr std::string_view kTuningFormat = "tpjit.tuning/1";
inline constexpr uint64_t kMaxTuningRecordBytes = 1 << 20;

// Rows per launch are rounded up to a power of two and clamped to [kMinMBucket, kMaxMBucket]:
// tiles change with the number of waves, which moves with log2(M), and a few buckets keep
// tuning cheap. Every M below 16 shares bucket 16, every M above 65536 bucket 65536.
inline constexpr int64_t kMinMBucket = 16;
inline constexpr int64_t kMaxMBucket = 65536;
// The bucket of `rows` rows per launch (rows < 1 counts as 1).
int64_t tuning_m_bucket(int64_t rows);

// What identifies a tuning: the target, the kernel family and the shape it was timed on.
struct TuningKey {
  std::string arch;     // "sm_90a"
  std::string variant;  // "sm90_wgmma"
  int64_t n = 0, k = 0;
  std::string scale;    // "tensor" | "row" | "block"
  std::string out;      // "bfloat16" | "float16" | "float32"
  int64_t m_bucket = 0; // tuning_m_bucket(rows per launch)
  bool operator==(const TuningKey&) const = default;
};

struct TunedCandidate {
  nlohmann::json tile;
  double ms = 0;
};

struct TuningRecord {
  TuningKey key;
  std::string card;      // device name, e.g. "NVIDIA H100 80GB HBM3"
  std::string tuned_at;  // set by store() when empty
  nlohmann::json tile;   // the winner
  double ms = 0;         // the winner's median time per launch
  std::vector<TunedCandidate> candidates;  // every candidate timed, winner included
};

class TuningStore {
 public:
  // Records live in cache_dir/tuning, created by the first store().
  explicit TuningStore(std::filesystem::path cache_dir);

  // The verified record for key, or nullopt. With a non-empty card, only that card's record.
  std::optional<TuningRecord> lookup(const TuningKey& key, std::string_view card = {}) const;
  // Writes the record atomically, replacing the one under the same key.
  Status store(const TuningRecord& record) const;

  // key_fields as JSON, its hash (the file name stem) and the file path.
  static nlohmann::json key_fields(const TuningKey& key);
  static std::string key_hash(const TuningKey& key);
  std::filesystem::path record_path(const TuningKey& key) const;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

// The record as stored (checksum included), and back; parse checks everything in the grammar
// above and returns kBadRequest saying what is wrong.
nlohmann::json tuning_record_to_json(const TuningRecord& record);
Result<TuningRecord> tuning_record_from_json(const nlohmann::json& doc);

}  // namespace tpjit::cache
