#include "ipc/json.h"

#include <gtest/gtest.h>

namespace tpjit::ipc {
namespace {

TEST(Json, ParsesAnObject) {
  auto j = parse_json(R"({"id": 1, "type": "hello", "body": {"x": [1, 2, {"y": null}]}})");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["body"]["x"][2]["y"], nullptr);
}

TEST(Json, DepthBombIsRefusedBeforeParsing) {
  // A million brackets: nlohmann would build a million nested values; the scan stops at 65.
  std::string bomb(1000000, '[');
  auto j = parse_json(bomb);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.error().code, errc::kLimitExceeded);
  EXPECT_NE(j.error().message.find("64"), std::string::npos);
  EXPECT_NE(j.error().message.find("byte 64"), std::string::npos) << j.error().message;
}

TEST(Json, DepthLimitIsExact) {
  auto nest = [](int depth) {
    std::string s;
    for (int i = 0; i < depth; ++i) s += (i % 2 ? "[" : "{\"k\":");
    s += "1";
    for (int i = depth - 1; i >= 0; --i) s += (i % 2 ? "]" : "}");
    return s;
  };
  EXPECT_TRUE(parse_json(nest(64)).ok());
  auto deep = parse_json(nest(65));
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.error().code, errc::kLimitExceeded);
  EXPECT_TRUE(parse_json(nest(3), 3).ok());
  EXPECT_FALSE(parse_json(nest(4), 3).ok());
}

TEST(Json, BracketsInsideStringsDoNotCount) {
  std::string text = "{\"s\": \"" + std::string(500, '[') + "\\\"" + std::string(500, '{') + "\"}";
  auto j = parse_json(text);
  ASSERT_TRUE(j.ok()) << j.error().message;
  EXPECT_EQ((*j)["s"].get<std::string>().size(), 1001u);
}

TEST(Json, EscapedBackslashEndsTheStringCorrectly) {
  // "\\" is a complete string; the brackets after it are structure and count.
  std::string text = "[\"\\\\\"" + std::string(70, '[');
  auto j = parse_json(text);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.error().code, errc::kLimitExceeded);
}

TEST(Json, SyntaxErrorsAreBadJsonWithAPosition) {
  for (std::string bad : {"", "{", "{\"a\":}", "[1,2,,3]", "tru", "{\"a\":1} x", "\xff\xfe"}) {
    auto j = parse_json(bad);
    ASSERT_FALSE(j.ok()) << bad;
    EXPECT_EQ(j.error().code, errc::kBadJson) << bad;
    EXPECT_EQ(j.error().where, "json");
    EXPECT_EQ(j.error().message.find("[json.exception"), std::string::npos) << j.error().message;
  }
  auto j = parse_json("{\n\"a\": nope}");
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.error().message.find("line 2"), std::string::npos) << j.error().message;
}

TEST(Json, InvalidUtf8InAStringIsBadJson) {
  auto j = parse_json("{\"a\": \"\xc3\x28\"}");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.error().code, errc::kBadJson);
}

TEST(Json, DumpNeverThrowsOnInvalidUtf8) {
  nlohmann::json j = {{"s", std::string("ok\xff")}};
  std::string text;
  ASSERT_NO_THROW(text = dump_json(j));
  EXPECT_NE(text.find("\xef\xbf\xbd"), std::string::npos);  // U+FFFD
}

}  // namespace
}  // namespace tpjit::ipc
