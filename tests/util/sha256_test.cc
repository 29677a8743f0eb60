#include "util/sha256.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace tpjit {
namespace {

// NIST FIPS 180-4 example vectors (csrc.nist.gov, "SHA256.pdf" and "SHA2_Additional.pdf").
TEST(Sha256, NistVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                       "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Lengths around the padding boundaries (55/56 bytes left in a block), from Python's hashlib.
TEST(Sha256, PaddingBoundaries) {
  const std::pair<size_t, const char*> cases[] = {
      {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
      {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
      {57, "f13b2d724659eb3bf47f2dd6af1accc87b81f09f59f2b75e5c0bed6589dfe8c6"},
      {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
      {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
      {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
      {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
      {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
      {127, "c57e9278af78fa3cab38667bef4ce29d783787a2f731d4e12200270f0c32320a"},
      {128, "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e"},
  };
  for (const auto& [length, hex] : cases) {
    EXPECT_EQ(sha256_hex(std::string(length, 'a')), hex) << "length " << length;
  }
}

// Any split of a message into update() calls gives the one-shot digest.
TEST(Sha256, IncrementalEqualsOneShot) {
  std::mt19937 rng(7);
  std::string message(300, '\0');
  for (char& c : message) c = char(rng());
  for (size_t length : {0, 1, 55, 56, 63, 64, 65, 127, 128, 129, 300}) {
    std::string_view m(message.data(), length);
    std::string expected = sha256_hex(m);
    for (size_t cut1 = 0; cut1 <= length; ++cut1) {
      size_t cut2 = cut1 + (length - cut1) / 2;
      Sha256 hasher;
      hasher.update(m.substr(0, cut1));
      hasher.update(m.substr(cut1, cut2 - cut1));
      hasher.update(m.substr(cut2));
      ASSERT_EQ(to_hex(hasher.finish()), expected) << "length " << length << " cut " << cut1;
    }
    Sha256 bytewise;
    for (char c : m) bytewise.update(std::string_view(&c, 1));
    EXPECT_EQ(to_hex(bytewise.finish()), expected) << "length " << length;
  }
}

TEST(Sha256, FinishResetsForReuse) {
  Sha256 hasher;
  hasher.update("ignored");
  (void)hasher.finish();
  hasher.update("abc");
  EXPECT_EQ(to_hex(hasher.finish()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, ByteSpanOverloadMatches) {
  const uint8_t bytes[] = {'a', 'b', 'c'};
  Sha256 hasher;
  hasher.update(std::span<const uint8_t>(bytes));
  EXPECT_EQ(to_hex(hasher.finish()), sha256_hex("abc"));
}

}  // namespace
}  // namespace tpjit
