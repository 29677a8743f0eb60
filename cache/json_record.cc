#include "cache/json_record.h"

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

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string record_checksum(json doc) {
  doc.erase("checksum");
  return sha256_hex(doc.dump());
}

bool record_checksum_ok(const json& doc) {
  return doc.contains("checksum") && doc["checksum"].is_string() &&
         doc["checksum"].get<std::string>() == record_checksum(doc);
}

std::optional<Result<json>> read_record_file(const fs::path& path, uint64_t max_bytes) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return std::nullopt;  // no record (or unreadable, which is also no record)
  if (size > max_bytes)
    return Result<json>(make_error(errc::kLimitExceeded,
                                   std::to_string(size) + " bytes is over the cap of " +
                                       std::to_string(max_bytes),
                                   path.string()));
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded())
    return Result<json>(make_error(errc::kBadJson, "not JSON", path.string()));
  return Result<json>(std::move(doc));
}

void remove_corrupt_record(const fs::path& path, std::string_view kind, const std::string& why) {
  if (::unlink(path.c_str()) == -1 && errno != ENOENT) {
    int err = errno;
    logger("cache")->warn("cannot remove corrupt {}: {}", kind,
                          posix_error("unlink", path, err).message);
  }
  logger("cache")->warn("removed corrupt {} {}: {}", kind, path.string(), why);
}

Status write_record_file(const fs::path& dir, const fs::path& path, const json& doc) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return make_error(errc::kInternal,
                      "cannot create directory " + dir.string() + ": " + ec.message(),
                      dir.string());
  Result<AtomicFile> file = AtomicFile::create(path);
  if (!file.ok()) return file.error();
  if (Status st = file->write(doc.dump(2) + "\n"); !st.ok()) return st;
  return file->commit();
}

}  // namespace tpjit::cache
