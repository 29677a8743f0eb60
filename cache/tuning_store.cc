#include "cache/tuning_store.h"

#include <sys/stat.h>
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

int64_t tuning_m_bucket(int64_t rows) {
  int64_t b = kMinMBucket;
  while (b < rows && b < kMaxMBucket) b *= 2;
  return b;
}

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
  doc["checksum"] = checksum_of(doc);
  return doc;
}

Result<TuningRecord> tuning_record_from_json(const json& doc) {
  if (!doc.is_object()) return bad("not a JSON object");
  if (!is_string(doc, "checksum") || doc["checksum"].get<std::string>() != checksum_of(doc))
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
  const fs::path path = record_path(key);
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return std::nullopt;  // no record (or unreadable, which is also no record)
  std::string why;
  std::optional<TuningRecord> record;
  if (size > kMaxTuningRecordBytes) {
    why = std::to_string(size) + " bytes is over the cap of " +
          std::to_string(kMaxTuningRecordBytes);
  } else {
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
      why = "not JSON";
    } else if (Result<TuningRecord> r = tuning_record_from_json(doc); !r.ok()) {
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
      logger("cache")->warn("cannot remove corrupt tuning record: {}",
                            posix_error("unlink", path, err).message);
    }
    logger("cache")->warn("removed corrupt tuning record {}: {}", path.string(), why);
    return std::nullopt;
  }
  if (!card.empty() && record->card != card) return std::nullopt;
  return record;
}

Status TuningStore::store(const TuningRecord& record) const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec)
    return make_error(errc::kInternal,
                      "cannot create tuning directory " + dir_.string() + ": " + ec.message(),
                      dir_.string());
  TuningRecord r = record;
  if (r.tuned_at.empty()) r.tuned_at = utc_now();
  Result<AtomicFile> file = AtomicFile::create(record_path(r.key));
  if (!file.ok()) return file.error();
  if (Status st = file->write(tuning_record_to_json(r).dump(2) + "\n"); !st.ok()) return st;
  return file->commit();
}

}  // namespace tpjit::cache
