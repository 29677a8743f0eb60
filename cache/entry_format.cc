#include "cache/entry_format.h"

#include <cstring>
#include <utility>

#include "util/sha256.h"

namespace tpjit::cache {
namespace {

constexpr size_t kChecksumBytes = 32;

// Writes into a buffer sized up front. (Growing a vector byte by byte trips GCC 12's
// -Wstringop-overflow false positive, and one allocation is all it takes anyway.)
class Writer {
 public:
  explicit Writer(size_t size) : out_(size) {}
  void uint(uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out_[at_++] = uint8_t(value >> (8 * i));
  }
  void raw(const void* data, size_t n) {
    if (n > 0) std::memcpy(out_.data() + at_, data, n);
    at_ += n;
  }
  void str(std::string_view s) {
    uint(s.size(), 4);
    raw(s.data(), s.size());
  }
  std::vector<uint8_t> take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
  size_t at_ = 0;
};

Error corrupt(std::string what) {
  return make_error(kCorruptEntry, "corrupt cache entry: " + what +
                                       " (it is removed and recompiled on next use)");
}

// Reads fields front to back; every read checks the bytes left first.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  size_t left() const { return bytes_.size() - at_; }

  bool uint(int size, uint64_t* value) {
    if (left() < size_t(size)) return false;
    *value = 0;
    for (int i = 0; i < size; ++i) *value |= uint64_t(bytes_[at_ + i]) << (8 * i);
    at_ += size;
    return true;
  }
  bool str(std::string* value) {
    uint64_t length = 0;
    if (!uint(4, &length) || length > kMaxFieldBytes || length > left()) return false;
    value->assign(reinterpret_cast<const char*>(bytes_.data() + at_), length);
    at_ += length;
    return true;
  }
  std::span<const uint8_t> take(size_t n) {
    auto out = bytes_.subspan(at_, n);
    at_ += n;
    return out;
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t at_ = 0;
};

}  // namespace

std::vector<uint8_t> encode_entry(std::string_view key, const EntryInfo& info,
                                  std::span<const uint8_t> payload) {
  size_t size = kEntryMagic.size() + 4 + 4 * 4 + key.size() + info.kernel_name.size() +
                info.compiler_version.size() + info.target.size() + 8 + payload.size() +
                kChecksumBytes;
  Writer out(size);
  out.raw(kEntryMagic.data(), kEntryMagic.size());
  out.uint(kEntryFormatVersion, 4);
  out.str(key);
  out.str(info.kernel_name);
  out.str(info.compiler_version);
  out.str(info.target);
  out.uint(payload.size(), 8);
  out.raw(payload.data(), payload.size());
  std::vector<uint8_t> bytes = out.take();
  Sha256 hasher;
  hasher.update(std::span<const uint8_t>(bytes).first(size - kChecksumBytes));
  auto digest = hasher.finish();
  std::memcpy(bytes.data() + size - kChecksumBytes, digest.data(), kChecksumBytes);
  return bytes;
}

Result<Entry> decode_entry(std::span<const uint8_t> bytes, std::string_view expected_key) {
  if (bytes.size() < kEntryMagic.size() + 4 + kChecksumBytes) {
    return corrupt("only " + std::to_string(bytes.size()) + " bytes");
  }
  if (std::memcmp(bytes.data(), kEntryMagic.data(), kEntryMagic.size()) != 0) {
    return corrupt("bad magic");
  }
  uint64_t version = 0;
  for (int i = 0; i < 4; ++i) version |= uint64_t(bytes[kEntryMagic.size() + i]) << (8 * i);
  if (version != kEntryFormatVersion) {
    return corrupt("format version " + std::to_string(version) + ", expected " +
                   std::to_string(kEntryFormatVersion));
  }
  auto body = bytes.first(bytes.size() - kChecksumBytes);
  Sha256 hasher;
  hasher.update(body);
  auto digest = hasher.finish();
  if (std::memcmp(digest.data(), body.data() + body.size(), kChecksumBytes) != 0) {
    return corrupt("checksum mismatch");
  }
  // The checksum holds, but a crafted file could still lie in its lengths: check them all.
  Reader reader(body.subspan(kEntryMagic.size() + 4));
  Entry entry;
  uint64_t payload_size = 0;
  if (!reader.str(&entry.key) || !reader.str(&entry.info.kernel_name) ||
      !reader.str(&entry.info.compiler_version) || !reader.str(&entry.info.target) ||
      !reader.uint(8, &payload_size)) {
    return corrupt("header truncated or a field over " + std::to_string(kMaxFieldBytes) +
                   " bytes");
  }
  if (entry.key != expected_key) return corrupt("holds key " + entry.key.substr(0, 80));
  if (payload_size > kMaxPayloadBytes || payload_size != reader.left()) {
    return corrupt("payload size " + std::to_string(payload_size) + " but " +
                   std::to_string(reader.left()) + " bytes follow");
  }
  auto payload = reader.take(payload_size);
  entry.payload.assign(payload.begin(), payload.end());
  return entry;
}

}  // namespace tpjit::cache
