#include "ipc/frame.h"

#include <gtest/gtest.h>

#include "ipc/codes.h"

namespace tpjit::ipc {
namespace {

std::string header(uint32_t length, const char* magic = "TPJF") {
  std::string h(magic, 4);
  for (int shift : {24, 16, 8, 0}) h += static_cast<char>((length >> shift) & 0xff);
  return h;
}

TEST(Frame, EncodeLayoutIsMagicThenBigEndianLength) {
  std::string payload(0x010203, 'x');
  std::string frame = encode_frame(payload);
  ASSERT_EQ(frame.size(), 8 + payload.size());
  EXPECT_EQ(frame.substr(0, 8), std::string("TPJF\x00\x01\x02\x03", 8));
}

TEST(Frame, RoundTrip) {
  FrameDecoder decoder;
  decoder.feed(encode_frame("{\"a\":1}"));
  auto frame = decoder.next();
  ASSERT_TRUE(frame.ok());
  ASSERT_TRUE(frame->has_value());
  EXPECT_EQ(**frame, "{\"a\":1}");
  auto after = decoder.next();
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->has_value());
  EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(Frame, TruncatedAtEveryLengthNeedsMore) {
  const std::string frame = encode_frame("{\"id\":1,\"type\":\"hello\"}");
  for (size_t cut = 0; cut < frame.size(); ++cut) {
    FrameDecoder decoder;
    decoder.feed(frame.substr(0, cut));
    auto r = decoder.next();
    ASSERT_TRUE(r.ok()) << "cut " << cut << ": " << r.error().message;
    EXPECT_FALSE(r->has_value()) << "cut " << cut;
    EXPECT_EQ(decoder.buffered(), cut);
    // The rest arrives: exactly one frame comes out.
    decoder.feed(frame.substr(cut));
    auto whole = decoder.next();
    ASSERT_TRUE(whole.ok());
    ASSERT_TRUE(whole->has_value()) << "cut " << cut;
    EXPECT_EQ(**whole, "{\"id\":1,\"type\":\"hello\"}");
  }
}

TEST(Frame, SplitAcrossReadsOneByteAtATime) {
  const std::string stream = encode_frame("first") + encode_frame("second") + encode_frame("third");
  FrameDecoder decoder;
  std::vector<std::string> got;
  for (char c : stream) {
    decoder.feed(&c, 1);
    for (;;) {
      auto r = decoder.next();
      ASSERT_TRUE(r.ok());
      if (!r->has_value()) break;
      got.push_back(**r);
    }
  }
  EXPECT_EQ(got, (std::vector<std::string>{"first", "second", "third"}));
}

TEST(Frame, SeveralFramesInOneBuffer) {
  FrameDecoder decoder;
  decoder.feed(encode_frame("a") + encode_frame("bb") + encode_frame("ccc") + header(10).substr(0, 6));
  for (std::string expected : {"a", "bb", "ccc"}) {
    auto r = decoder.next();
    ASSERT_TRUE(r.ok() && r->has_value());
    EXPECT_EQ(**r, expected);
  }
  auto partial = decoder.next();
  ASSERT_TRUE(partial.ok());
  EXPECT_FALSE(partial->has_value());
  EXPECT_EQ(decoder.buffered(), 6u);
}

TEST(Frame, OversizeHeaderRefusedBeforeThePayloadArrives) {
  FrameDecoder decoder(1024);
  decoder.feed(header(0xffffffffu));  // claims 4 GiB; nothing else sent
  auto r = decoder.next();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, errc::kFrameTooLarge);
  EXPECT_EQ(r.error().where, "frame.length");
  EXPECT_NE(r.error().message.find("1024"), std::string::npos);
  // Only the 8 header bytes are held: no allocation sized by the claim.
  EXPECT_EQ(decoder.buffered(), 8u);
}

TEST(Frame, CapIsInclusive) {
  FrameDecoder decoder(5);
  decoder.feed(encode_frame("12345"));
  auto ok = decoder.next();
  ASSERT_TRUE(ok.ok() && ok->has_value());
  decoder.feed(encode_frame("123456"));
  auto too_big = decoder.next();
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error().code, errc::kFrameTooLarge);
}

TEST(Frame, BadMagicFailsOnTheFirstWrongByte) {
  FrameDecoder decoder;
  decoder.feed("G", 1);  // "GET / HTTP/1.1" and the like fail at once
  auto r = decoder.next();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, errc::kBadFrame);
  EXPECT_EQ(r.error().where, "frame.magic");
}

TEST(Frame, GarbageBytesAreBadFrameAndTheErrorSticks) {
  FrameDecoder decoder;
  decoder.feed(std::string("\x00\xff\x13\x37garbage", 11));
  auto r = decoder.next();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, errc::kBadFrame);
  EXPECT_NE(r.error().message.find("\\x00\\xff"), std::string::npos) << r.error().message;
  // A good frame afterwards cannot resync the stream.
  decoder.feed(encode_frame("{}"));
  auto again = decoder.next();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, errc::kBadFrame);
}

TEST(Frame, BadMagicAfterAGoodFrame) {
  FrameDecoder decoder;
  decoder.feed(encode_frame("ok") + "TPJX" + std::string(4, '\0'));
  auto first = decoder.next();
  ASSERT_TRUE(first.ok() && first->has_value());
  auto second = decoder.next();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, errc::kBadFrame);
}

TEST(Frame, EmptyPayloadIsBadFrame) {
  FrameDecoder decoder;
  decoder.feed(header(0));
  auto r = decoder.next();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, errc::kBadFrame);
  EXPECT_EQ(r.error().where, "frame.length");
}

TEST(Frame, LongStreamKeepsTheBufferSmall) {
  FrameDecoder decoder;
  const std::string frame = encode_frame(std::string(1000, 'p'));
  for (int i = 0; i < 10000; ++i) {
    decoder.feed(frame);
    auto r = decoder.next();
    ASSERT_TRUE(r.ok() && r->has_value());
  }
  EXPECT_EQ(decoder.buffered(), 0u);
}

}  // namespace
}  // namespace tpjit::ipc
