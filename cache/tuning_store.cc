#include "cache/tuning_store.h"

#include "cache/json_record.h"
#include "util/sha256.h"

namespace tpjit::cache {
namespace fs = std::filesystem;
using nlohmann::json;

int64_t tuning_m_bucket(int64_t rows) {
  int64_t b = kMinMBucket;
  while (b < rows && b < kMaxMBucket) b *= 2;
  return b;
}

namespace {

Error bad(const std::string& what) {
  return make_error(errc::kBadRequest, "tuning record: " + what, "tuning");
}

bool is_string(const json& j, const char* f) { return j.contains(f) && j[f].is_string(); }
bool is_int(const json& j, const char* f) { return j.contains(f) && j[f].is_number_integer(); }
bool is_ms(const json& j, const char* f) {
  return j.contains(f) && j[f].is_number() && j[f].get<double>() > 0;
}

}  // namespace

json TuningStore::key_fields(const TuningKey& k) {
  return {{"arch", k.arch}, {"variant", k.variant}, {"n", k.n},          {"k", k.k},
          {"scale", k.scale}, {"out", k.out},       {"m_bucket", k.m_bucket}};
}

std::string TuningStore::key_hash(const TuningKey& k) { return sha256_hex(key_fields(k).dump()); }

TuningStore::TuningStore(fs::path cache_dir) : dir_(std::move(cache_dir) / "tuning") {}

fs::path TuningStore::record_path(const TuningKey& k) const {
  return dir_ / (key_hash(k) + ".json");
}

json tuning_record_to_json(const TuningRecord& r) {
  json candidates = json::array();
  for (const auto& c : r.candidates) candidates.push_back({{"tile", c.tile}, {"ms", c.ms}});
  json doc = {{"format", kTuningFormat},
              {"key_fields", TuningStore::key_fields(r.key)},
              {"card", r.card},
              {"tuned_at", r.tuned_at},
              {"tile", r.tile},
              {"ms", r.ms},
              {"candidates", candidates}};
  doc["checksum"] = record_checksum(doc);
  return doc;
}

Result<TuningRecord> tuning_record_from_json(const json& doc) {
  if (!doc.is_object()) return bad("not a JSON object");
  if (!record_checksum_ok(doc))
    return bad("checksum missing or wrong");
  if (doc.value("format", "") != kTuningFormat)
    return bad("format is not " + std::string(kTuningFormat));
  const json& kf = doc.value("key_fields", json());
  if (!kf.is_object() || !is_string(kf, "arch") || !is_string(kf, "variant") ||
      !is_int(kf, "n") || !is_int(kf, "k") || !is_string(kf, "scale") || !is_string(kf, "out") ||
      !is_int(kf, "m_bucket"))
    return bad("key_fields needs arch, variant, scale, out (strings), n, k, m_bucket (integers)");
  if (!is_string(doc, "card") || !is_string(doc, "tuned_at") || !is_ms(doc, "ms") ||
      !doc.contains("tile") || !doc["tile"].is_object() || !doc.contains("candidates") ||
      !doc["candidates"].is_array())
    return bad("needs card, tuned_at (strings), ms > 0, tile (object), candidates (array)");
  TuningRecord r;
  r.key = {kf["arch"], kf["variant"], kf["n"], kf["k"], kf["scale"], kf["out"], kf["m_bucket"]};
  r.card = doc["card"];
  r.tuned_at = doc["tuned_at"];
  r.tile = doc["tile"];
  r.ms = doc["ms"];
  for (const json& c : doc["candidates"]) {
    if (!c.is_object() || !c.contains("tile") || !c["tile"].is_object() || !is_ms(c, "ms"))
      return bad("a candidate needs tile (object) and ms > 0");
    r.candidates.push_back({c["tile"], c["ms"].get<double>()});
  }
  return r;
}

std::optional<TuningRecord> TuningStore::lookup(const TuningKey& key,
                                                std::string_view card) const {
  std::optional<TuningRecord> record = read_checked_record<TuningRecord>(
      record_path(key), kMaxTuningRecordBytes, "tuning record", tuning_record_from_json,
      [&](const TuningRecord& r) { return key_hash(r.key) == key_hash(key); });
  if (!record) return std::nullopt;
  if (!card.empty() && record->card != card) return std::nullopt;
  return record;
}

Status TuningStore::store(const TuningRecord& record) const {
  TuningRecord r = record;
  if (r.tuned_at.empty()) r.tuned_at = utc_now();
  return write_record_file(dir_, record_path(r.key), tuning_record_to_json(r));
}

}  // namespace tpjit::cache
