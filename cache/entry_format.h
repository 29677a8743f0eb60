// The on-disk form of one cache entry: a cubin with what produced it and a checksum.
//
//   entry    := magic version key kernel_name compiler_version target payload_size payload checksum
//   magic    := "TPJC"                                   4 bytes
//   version  := u32 = kEntryFormatVersion
//   key, kernel_name, compiler_version, target := str
//   str      := u32 length, then length bytes            length <= kMaxFieldBytes
//   payload_size := u64                                  <= kMaxPayloadBytes
//   payload  := payload_size bytes (the cubin)
//   checksum := SHA-256 of every byte before it          32 bytes
//   u32, u64 := little-endian
// The file ends right after the checksum. A reader checks sizes against the bytes it has before
// it trusts them, so a corrupt length never drives an allocation or a read out of bounds.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace tpjit::cache {

inline constexpr std::string_view kEntryMagic = "TPJC";
inline constexpr uint32_t kEntryFormatVersion = 1;
inline constexpr uint32_t kMaxFieldBytes = 4096;
inline constexpr uint64_t kMaxPayloadBytes = uint64_t(256) << 20;  // cubins are a few MiB
inline constexpr uint64_t kEntryOverheadBytes = 4 + 4 + 4 * (4 + kMaxFieldBytes) + 8 + 32;
// No valid entry file is larger; checked against the file size before reading it.
inline constexpr uint64_t kMaxEntryBytes = kMaxPayloadBytes + kEntryOverheadBytes;
// Error code for an entry that fails to decode (never leaves the cache: it becomes a miss).
inline constexpr const char* kCorruptEntry = "corrupt_cache_entry";

// What produced a cubin; stored beside it for inspection (`tpjit cache ls` and the like).
struct EntryInfo {
  std::string kernel_name, compiler_version, target;
};

struct Entry {
  std::string key;
  EntryInfo info;
  std::vector<uint8_t> payload;
};

// The bytes of an entry file. Fields must fit their caps (checked by the caller: see store()).
std::vector<uint8_t> encode_entry(std::string_view key, const EntryInfo& info,
                                  std::span<const uint8_t> payload);

// Decodes and verifies an entry file; any defect, or a key other than expected_key, is an
// Error with code kCorruptEntry saying what is wrong.
Result<Entry> decode_entry(std::span<const uint8_t> bytes, std::string_view expected_key);

}  // namespace tpjit::cache
