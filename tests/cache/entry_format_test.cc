#include "cache/entry_format.h"

#include <gtest/gtest.h>

#include <cstring>

#include "tests/cache/cache_test_util.h"

namespace tpjit::cache {
namespace {
using namespace testing;

TEST(EntryFormat, RoundTrips) {
  auto payload = test_payload(1);
  auto bytes = encode_entry(test_key(1), test_info(1), payload);
  ASSERT_EQ(bytes.size(), 4 + 4 + 4 * 4 + 64 + test_info(1).kernel_name.size() +
                              std::strlen("nvrtc 13.0") + std::strlen("sm_90a") + 8 +
                              payload.size() + 32);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 4), "TPJC");
  Result<Entry> entry = decode_entry(bytes, test_key(1));
  ASSERT_TRUE(entry) << entry.error().message;
  EXPECT_EQ(entry->key, test_key(1));
  EXPECT_EQ(entry->info.kernel_name, "tpjit_gemm_1");
  EXPECT_EQ(entry->info.compiler_version, "nvrtc 13.0");
  EXPECT_EQ(entry->info.target, "sm_90a");
  EXPECT_EQ(entry->payload, payload);
}

TEST(EntryFormat, EmptyPayloadRoundTrips) {
  auto bytes = encode_entry(test_key(2), EntryInfo{}, {});
  Result<Entry> entry = decode_entry(bytes, test_key(2));
  ASSERT_TRUE(entry) << entry.error().message;
  EXPECT_TRUE(entry->payload.empty());
}

TEST(EntryFormat, EveryFlippedBitIsCaught) {
  auto bytes = encode_entry(test_key(3), test_info(3), test_payload(3, 40));
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto damaged = bytes;
      damaged[i] ^= uint8_t(1 << bit);
      Result<Entry> entry = decode_entry(damaged, test_key(3));
      ASSERT_FALSE(entry) << "byte " << i << " bit " << bit;
      EXPECT_EQ(entry.error().code, kCorruptEntry);
    }
  }
}

TEST(EntryFormat, EveryTruncationIsCaught) {
  auto bytes = encode_entry(test_key(4), test_info(4), test_payload(4, 40));
  for (size_t length = 0; length < bytes.size(); ++length) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + long(length));
    ASSERT_FALSE(decode_entry(cut, test_key(4))) << "length " << length;
  }
  auto longer = bytes;
  longer.push_back(0);
  EXPECT_FALSE(decode_entry(longer, test_key(4)));
}

TEST(EntryFormat, OtherKeyIsCaught) {
  auto bytes = encode_entry(test_key(5), test_info(5), test_payload(5));
  Result<Entry> entry = decode_entry(bytes, test_key(6));
  ASSERT_FALSE(entry);
  EXPECT_NE(entry.error().message.find("holds key " + test_key(5)), std::string::npos);
}

// A crafted file whose checksum is right but whose lengths lie must not be trusted.
std::vector<uint8_t> with_checksum(std::vector<uint8_t> body) {
  Sha256 hasher;
  hasher.update(std::span<const uint8_t>(body));
  auto digest = hasher.finish();
  body.insert(body.end(), digest.begin(), digest.end());
  return body;
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

TEST(EntryFormat, LyingLengthsWithValidChecksumAreCaught) {
  std::vector<uint8_t> header = {'T', 'P', 'J', 'C'};
  put_u32(header, kEntryFormatVersion);
  {
    auto body = header;
    put_u32(body, 0xffffffffu);  // key length far past the end
    EXPECT_FALSE(decode_entry(with_checksum(body), ""));
  }
  {
    auto body = header;
    for (int field = 0; field < 4; ++field) put_u32(body, 0);
    for (int i = 0; i < 8; ++i) body.push_back(0xff);  // payload size 2^64-1
    Result<Entry> entry = decode_entry(with_checksum(body), "");
    ASSERT_FALSE(entry);
    EXPECT_NE(entry.error().message.find("payload size"), std::string::npos);
  }
  {
    auto body = header;
    put_u32(body, kMaxFieldBytes + 1);  // over the field cap, though the bytes are there
    body.resize(body.size() + kMaxFieldBytes + 1, 'a');
    EXPECT_FALSE(decode_entry(with_checksum(body), std::string(kMaxFieldBytes + 1, 'a')));
  }
}

TEST(EntryFormat, OtherVersionIsCaught) {
  auto bytes = encode_entry(test_key(7), test_info(7), test_payload(7));
  bytes[4] = uint8_t(kEntryFormatVersion + 1);
  Result<Entry> entry = decode_entry(bytes, test_key(7));
  ASSERT_FALSE(entry);
  EXPECT_NE(entry.error().message.find("format version"), std::string::npos);
}

}  // namespace
}  // namespace tpjit::cache
