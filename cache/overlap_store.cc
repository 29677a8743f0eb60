#include "cache/overlap_store.h"

#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <fstream>
#include <iterator>

#include "util/atomic_file.h"
#include "util/log.h"
#include "util/sha256.h"

namespace tpjit::cache {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string checksum_of(json doc) {
  doc.erase("checksum");
  return sha256_hex(doc.dump());  // keys sorted, shortest round-trip numbers: canonical
}

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
              {"choice", r.fused ? "fused" : "unfused"},
              {"chunks", r.chunks},
              {"sm_reserve", r.sm_reserve},
              {"fused_us", r.fused_us},
              {"unfused_us", r.unfused_us},
              {"limit_us", r.limit_us}};
  doc["checksum"] = checksum_of(doc);
  return doc;
}

Result<OverlapRecord> overlap_record_from_json(const json& doc) {
  if (!doc.is_object()) return bad("not a JSON object");
  if (!is_string(doc, "checksum") || doc["checksum"].get<std::string>() != checksum_of(doc))
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
  if (choice != "fused" && choice != "unfused") return bad("choice must be fused or unfused");
  if (!is_string(doc, "card") || !is_string(doc, "measured_at") || !is_int(doc, "chunks", 1) ||
      !is_int(doc, "sm_reserve", 0) || !is_us(doc, "fused_us") || !is_us(doc, "unfused_us") ||
      !is_us(doc, "limit_us"))
    return bad("needs card, measured_at (strings), chunks >= 1, sm_reserve >= 0 (integers), "
               "fused_us, unfused_us, limit_us > 0");
  OverlapRecord r;
  r.key = {kind, kf["world_size"].get<int>(), kf["n"], kf["k"], kf["scale"], kf["m_bucket"]};
  r.card = doc["card"];
  r.measured_at = doc["measured_at"];
  r.fused = choice == "fused";
  r.chunks = doc["chunks"];
  r.sm_reserve = doc["sm_reserve"];
  r.fused_us = doc["fused_us"];
  r.unfused_us = doc["unfused_us"];
  r.limit_us = doc["limit_us"];
  return r;
}

std::optional<OverlapRecord> OverlapStore::lookup(const OverlapKey& key,
                                                  std::string_view card) const {
  const fs::path path = record_path(key);
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return std::nullopt;  // no record (or unreadable, which is also no record)
  std::string why;
  std::optional<OverlapRecord> record;
  if (size > kMaxOverlapRecordBytes) {
    why = std::to_string(size) + " bytes is over the cap of " +
          std::to_string(kMaxOverlapRecordBytes);
  } else {
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
      why = "not JSON";
    } else if (Result<OverlapRecord> r = overlap_record_from_json(doc); !r.ok()) {
      why = r.error().message;
    } else if (key_hash(r->key) != key_hash(key)) {
      why = "its key_fields do not hash to its file name";
    } else {
      record = std::move(*r);
    }
  }
  if (!record) {
    if (::unlink(path.c_str()) == -1 && errno != ENOENT) {
      int err = errno;
      logger("cache")->warn("cannot remove corrupt overlap record: {}",
                            posix_error("unlink", path, err).message);
    }
    logger("cache")->warn("removed corrupt overlap record {}: {}", path.string(), why);
    return std::nullopt;
  }
  if (!card.empty() && record->card != card) return std::nullopt;
  return record;
}

Status OverlapStore::store(const OverlapRecord& record) const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec)
    return make_error(errc::kInternal,
                      "cannot create overlap directory " + dir_.string() + ": " + ec.message(),
                      dir_.string());
  OverlapRecord r = record;
  if (r.measured_at.empty()) r.measured_at = utc_now();
  Result<AtomicFile> file = AtomicFile::create(record_path(r.key));
  if (!file.ok()) return file.error();
  if (Status st = file->write(overlap_record_to_json(r).dump(2) + "\n"); !st.ok()) return st;
  return file->commit();
}

}  // namespace tpjit::cache
