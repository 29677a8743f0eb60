// Small JSON records kept beside the cubins (tuning winners, overlap plans): one file per key,
// written atomically, carrying "checksum" = sha256 of the document's canonical dump without
// that member. A record that is too large, not JSON, fails its store's own checks or sits
// under another key's file name is a miss, and the file is removed (like a corrupt cubin).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "util/result.h"

namespace tpjit::cache {

// The current time as "YYYY-MM-DDTHH:MM:SSZ".
std::string utc_now();

// sha256 hex of `doc` without its "checksum" member (nlohmann dumps keys sorted: canonical).
std::string record_checksum(nlohmann::json doc);

// True when `doc` has a "checksum" string equal to record_checksum(doc).
bool record_checksum_ok(const nlohmann::json& doc);

// The parsed file; nullopt when there is no file; an Error when it is over `max_bytes` or
// not JSON (the size is checked before reading).
std::optional<Result<nlohmann::json>> read_record_file(const std::filesystem::path& path,
                                                       uint64_t max_bytes);

// Removes an unusable record and logs why once ("kind" names it, e.g. "tuning record").
void remove_corrupt_record(const std::filesystem::path& path, std::string_view kind,
                           const std::string& why);

// Creates `dir` if needed and writes `doc` to `path` through an AtomicFile.
Status write_record_file(const std::filesystem::path& dir, const std::filesystem::path& path,
                         const nlohmann::json& doc);

// The record at `path`, read with `from_json` (Result<Record>(const json&)) and accepted only
// when `key_matches(record)`; anything unusable is removed and is a miss.
template <class Record, class FromJson, class KeyMatches>
std::optional<Record> read_checked_record(const std::filesystem::path& path, uint64_t max_bytes,
                                          std::string_view kind, FromJson from_json,
                                          KeyMatches key_matches) {
  std::optional<Result<nlohmann::json>> doc = read_record_file(path, max_bytes);
  if (!doc) return std::nullopt;
  std::string why;
  if (!doc->ok()) {
    why = doc->error().message;
  } else if (Result<Record> r = from_json(doc->value()); !r.ok()) {
    why = r.error().message;
  } else if (!key_matches(*r)) {
    why = "its key_fields do not hash to its file name";
  } else {
    return std::move(*r);
  }
  remove_corrupt_record(path, kind, why);
  return std::nullopt;
}

}  // namespace tpjit::cache
