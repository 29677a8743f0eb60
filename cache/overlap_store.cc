#include "cache/overlap_store.h"

#include "cache/json_record.h"
#include "util/sha256.h"

namespace tpjit::cache {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

Error bad(const std::string& what) {
  return make_error(errc::kBadRequest, "overlap record: " + what, "overlap");
}

bool is_string(const json& j, const char* f) { return j.contains(f) && j[f].is_string(); }
bool is_int(const json& j, const char* f, int64_t min) {
  return j.contains(f) && j[f].is_number_integer() && j[f].get<int64_t>() >= min;
}
bool is_us(const json& j, const char* f) {
  return j.contains(f) && j[f].is_number() && j[f].get<double>() > 0;
}

}  // namespace

json OverlapStore::key_fields(const OverlapKey& k) {
  return {{"kind", k.kind}, {"world_size", k.world_size}, {"n", k.n},
          {"k", k.k},       {"scale", k.scale},           {"m_bucket", k.m_bucket}};
}

std::string OverlapStore::key_hash(const OverlapKey& k) { return sha256_hex(key_fields(k).dump()); }

OverlapStore::OverlapStore(fs::path cache_dir) : dir_(std::move(cache_dir) / "overlap") {}

fs::path OverlapStore::record_path(const OverlapKey& k) const {
  return dir_ / (key_hash(k) + ".json");
}

json overlap_record_to_json(const OverlapRecord& r) {
  json doc = {{"format", kOverlapFormat},
              {"key_fields", OverlapStore::key_fields(r.key)},
              {"card", r.card},
              {"measured_at", r.measured_at},
              {"choice", r.fused ? "fused" : r.cublaslt ? "unfused_cublaslt" : "unfused"},
              {"chunks", r.chunks},
              {"sm_reserve", r.sm_reserve},
              {"fused_us", r.fused_us},
              {"unfused_us", r.unfused_us},
              {"limit_us", r.limit_us}};
  if (!r.transport.empty()) doc["transport"] = r.transport;
  doc["checksum"] = record_checksum(doc);
  return doc;
}

Result<OverlapRecord> overlap_record_from_json(const json& doc) {
  if (!doc.is_object()) return bad("not a JSON object");
  if (!record_checksum_ok(doc))
    return bad("checksum missing or wrong");
  if (doc.value("format", "") != kOverlapFormat)
    return bad("format is not " + std::string(kOverlapFormat));
  const json& kf = doc.value("key_fields", json());
  if (!kf.is_object() || !is_string(kf, "kind") || !is_int(kf, "world_size", 1) ||
      !is_int(kf, "n", 1) || !is_int(kf, "k", 1) || !is_string(kf, "scale") ||
      !is_int(kf, "m_bucket", 1))
    return bad("key_fields needs kind, scale (strings), world_size, n, k, m_bucket (integers >= 1)");
  const std::string kind = kf["kind"];
  if (kind != "all_gather_gemm" && kind != "gemm_reduce_scatter")
    return bad("kind must be all_gather_gemm or gemm_reduce_scatter, not '" + kind + "'");
  const std::string choice = doc.value("choice", "");
  if (choice != "fused" && choice != "unfused" && choice != "unfused_cublaslt")
    return bad("choice must be fused, unfused or unfused_cublaslt");
  if (!is_string(doc, "card") || !is_string(doc, "measured_at") || !is_int(doc, "chunks", 1) ||
      !is_int(doc, "sm_reserve", 0) || !is_us(doc, "fused_us") || !is_us(doc, "unfused_us") ||
      !is_us(doc, "limit_us"))
    return bad("needs card, measured_at (strings), chunks >= 1, sm_reserve >= 0 (integers), "
               "fused_us, unfused_us, limit_us > 0");
  const std::string transport = doc.value("transport", "");
  if (!transport.empty() && transport != "nccl" && transport != "ce" && transport != "ce_chunked")
    return bad("transport must be nccl, ce or ce_chunked, not '" + transport + "'");
  OverlapRecord r;
  r.transport = transport;
  r.key = {kind, kf["world_size"].get<int>(), kf["n"], kf["k"], kf["scale"], kf["m_bucket"]};
  r.card = doc["card"];
  r.measured_at = doc["measured_at"];
  r.fused = choice == "fused";
  r.cublaslt = choice == "unfused_cublaslt";
  r.chunks = doc["chunks"];
  r.sm_reserve = doc["sm_reserve"];
  r.fused_us = doc["fused_us"];
  r.unfused_us = doc["unfused_us"];
  r.limit_us = doc["limit_us"];
  return r;
}

std::optional<OverlapRecord> OverlapStore::lookup(const OverlapKey& key,
                                                  std::string_view card) const {
  std::optional<OverlapRecord> record = read_checked_record<OverlapRecord>(
      record_path(key), kMaxOverlapRecordBytes, "overlap record", overlap_record_from_json,
      [&](const OverlapRecord& r) { return key_hash(r.key) == key_hash(key); });
  if (!record) return std::nullopt;
  if (!card.empty() && record->card != card) return std::nullopt;
  return record;
}

Status OverlapStore::store(const OverlapRecord& record) const {
  OverlapRecord r = record;
  if (r.measured_at.empty()) r.measured_at = utc_now();
  return write_record_file(dir_, record_path(r.key), overlap_record_to_json(r));
}

}  // namespace tpjit::cache
