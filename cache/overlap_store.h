// OverlapStore: the planner's measured choice per fused region shape (DESIGN.md, "Execution
// (overlap)": the plan picks fused or unfused by measuring on first use, then remembers it).
// `tpjit-bench overlap --cache-dir DIR` writes the records; the compile service reads them
// into each fused region's "execution" (docs/planner.md).
//
// Layout: <cache_dir>/overlap/<key>.json, one record per file, written through AtomicFile;
// key = SHA-256 hex of the canonical dump of key_fields. As in TuningStore the card is not in
// the key (measuring on another card replaces the record) and a lookup may ask for one.
//
// Record grammar (JSON object, at most kMaxOverlapRecordBytes):
//   {"format": "tpjit.overlap/1",
//    "key_fields": {"kind": "all_gather_gemm" | "gemm_reduce_scatter", "world_size": int,
//                   "n": int, "k": int, "scale": str, "m_bucket": int},
//    "card": str, "measured_at": str (UTC, ISO 8601),
//    "choice": "fused" | "unfused" | "unfused_cublaslt", "chunks": int >= 1, "sm_reserve": int >= 0,
//    "fused_us": number > 0, "unfused_us": number > 0, "limit_us": number > 0,
//    "checksum": SHA-256 hex of the canonical dump of the object without "checksum"}
// n is the region's total GEMM columns per rank (q, k and v sharing one gather add up), k the
// GEMMs' K, m_bucket tuning_m_bucket(total tokens M). fused_us is the best fused
// configuration's time (its chunks and sm_reserve are the record's); unfused_us the best
// unfused one: our kernel's, or cuBLASLt's when the choice is "unfused_cublaslt" (the vendor
// GEMM beat both; runtime/overlap.h, "Vendor GEMM"). Policy for bad records: as TuningStore (a miss; the file is removed, a warning
// logged). No state in memory: thread-safe, shareable between processes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "util/result.h"

namespace tpjit::cache {

inline constexpr std::string_view kOverlapFormat = "tpjit.overlap/1";
inline constexpr uint64_t kMaxOverlapRecordBytes = 1 << 16;

struct OverlapKey {
  std::string kind;  // "all_gather_gemm" | "gemm_reduce_scatter"
  int world_size = 0;
  int64_t n = 0, k = 0;
  std::string scale;     // "tensor" | "row" | "block"
  int64_t m_bucket = 0;  // tuning_m_bucket(total tokens M)
  bool operator==(const OverlapKey&) const = default;
};

struct OverlapRecord {
  OverlapKey key;
  std::string card;         // device name, e.g. "NVIDIA H100 80GB HBM3"
  std::string measured_at;  // set by store() when empty
  bool fused = false;       // the choice
  bool cublaslt = false;    // unfused with cuBLASLt's GEMM (choice "unfused_cublaslt")
  int chunks = 1;           // of the best fused configuration
  int sm_reserve = 0;
  // How the bytes moved (runtime/overlap.h, "Transport"): "nccl", "ce" (copy engines, one
  // launch) or "ce_chunked" (a launch per sub-chunk); empty in records written before it.
  std::string transport;
  double fused_us = 0, unfused_us = 0, limit_us = 0;
};

class OverlapStore {
 public:
  // Records live in cache_dir/overlap, created by the first store().
  explicit OverlapStore(std::filesystem::path cache_dir);

  // The verified record for key, or nullopt. With a non-empty card, only that card's record.
  std::optional<OverlapRecord> lookup(const OverlapKey& key, std::string_view card = {}) const;
  // Writes the record atomically, replacing the one under the same key.
  Status store(const OverlapRecord& record) const;

  static nlohmann::json key_fields(const OverlapKey& key);
  static std::string key_hash(const OverlapKey& key);
  std::filesystem::path record_path(const OverlapKey& key) const;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

// The record as stored (checksum included), and back; parse checks the grammar above and
// returns kBadRequest saying what is wrong.
nlohmann::json overlap_record_to_json(const OverlapRecord& record);
Result<OverlapRecord> overlap_record_from_json(const nlohmann::json& doc);

}  // namespace tpjit::cache
