#include "ipc/message.h"

#include <gtest/gtest.h>

#include "ipc/codes.h"
#include "ipc/frame.h"
#include "ipc/json.h"

namespace tpjit::ipc {
namespace {

using nlohmann::json;

const std::vector<std::string> kTypes = {"hello", "stats", "shutdown", "compile"};

TEST(Request, ValidEnvelope) {
  auto r = parse_request(json{{"id", 7}, {"type", "compile"}, {"body", {{"m", {128}}}}}, kTypes);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->id, 7);
  EXPECT_EQ(r->type, "compile");
  EXPECT_EQ(r->body["m"][0], 128);
}

TEST(Request, StringIdAndMissingBody) {
  auto r = parse_request(json{{"id", "req-1"}, {"type", "stats"}}, kTypes);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->id, "req-1");
  EXPECT_TRUE(r->body.is_object() && r->body.empty());
}

TEST(Request, EnvelopeErrorsSayWhere) {
  struct Case {
    json message;
    const char* code;
    const char* where;
  };
  const Case cases[] = {
      {json::array({1, 2}), errc::kBadRequest, ""},
      {json{{"type", "hello"}}, errc::kBadRequest, "id"},
      {json{{"id", 1.5}, {"type", "hello"}}, errc::kBadRequest, "id"},
      {json{{"id", true}, {"type", "hello"}}, errc::kBadRequest, "id"},
      {json{{"id", ""}, {"type", "hello"}}, errc::kBadRequest, "id"},
      {json{{"id", std::string(257, 'i')}, {"type", "hello"}}, errc::kBadRequest, "id"},
      {json{{"id", json::object()}, {"type", "hello"}}, errc::kBadRequest, "id"},
      {json{{"id", 1}}, errc::kBadRequest, "type"},
      {json{{"id", 1}, {"type", 5}}, errc::kBadRequest, "type"},
      {json{{"id", 1}, {"type", "frobnicate"}}, errc::kUnknownRequest, "type"},
      {json{{"id", 1}, {"type", "hello"}, {"body", json::array()}}, errc::kBadRequest, "body"},
      {json{{"id", 1}, {"type", "hello"}, {"body", nullptr}}, errc::kBadRequest, "body"},
  };
  for (const auto& c : cases) {
    auto r = parse_request(c.message, kTypes);
    ASSERT_FALSE(r.ok()) << c.message.dump();
    EXPECT_EQ(r.error().code, c.code) << c.message.dump();
    EXPECT_EQ(r.error().where, c.where) << c.message.dump();
    EXPECT_FALSE(r.error().message.empty());
  }
}

TEST(Request, UnknownTypeListsWhatIsServed) {
  auto r = parse_request(json{{"id", 1}, {"type", "frobnicate"}}, kTypes);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("hello, stats, shutdown, compile"), std::string::npos);
}

TEST(Request, AnyTypeWithoutAList) {
  EXPECT_TRUE(parse_request(json{{"id", 1}, {"type", "whatever"}}).ok());
}

TEST(Request, IdOfForErrorReplies) {
  EXPECT_EQ(request_id_of(json{{"id", 3}, {"type", 1}}), 3);
  EXPECT_EQ(request_id_of(json{{"id", "x"}}), "x");
  EXPECT_TRUE(request_id_of(json{{"id", 1.5}}).is_null());
  EXPECT_TRUE(request_id_of(json::array()).is_null());
}

TEST(Reply, OkRoundTrip) {
  json wire = make_ok_reply(9, {{"protocol", 1}});
  EXPECT_EQ(wire, json::parse(R"({"id":9,"ok":true,"body":{"protocol":1}})"));
  auto r = parse_reply(wire);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->id, 9);
  ASSERT_TRUE(r->result.ok());
  EXPECT_EQ((*r->result)["protocol"], 1);
}

TEST(Reply, ErrorRoundTrip) {
  json wire = make_error_reply(nullptr, make_error(errc::kBusy, "too many", ""));
  EXPECT_EQ(wire, json::parse(
                      R"({"id":null,"ok":false,"error":{"code":"busy","message":"too many","where":""}})"));
  auto r = parse_reply(wire);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->id.is_null());
  ASSERT_FALSE(r->result.ok());
  EXPECT_EQ(r->result.error().code, "busy");
  EXPECT_EQ(r->result.error().message, "too many");
}

TEST(Reply, MalformedRepliesAreBadReply) {
  for (const char* text : {R"([])", R"({"ok":true,"body":{}})", R"({"id":1,"body":{}})",
                           R"({"id":1,"ok":true})", R"({"id":1,"ok":false})",
                           R"({"id":1,"ok":false,"error":{"message":"m"}})", R"({"id":1.5,"ok":true,"body":{}})"}) {
    auto r = parse_reply(json::parse(text));
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code, errc::kBadReply) << text;
  }
}

TEST(Message, EncodeMessageIsOneFrame) {
  std::string frame = encode_message(make_request(1, "hello", {{"protocol", 1}}));
  FrameDecoder decoder;
  decoder.feed(frame);
  auto payload = decoder.next();
  ASSERT_TRUE(payload.ok() && payload->has_value());
  auto parsed = parse_json(**payload);
  ASSERT_TRUE(parsed.ok());
  auto request = parse_request(*parsed, kTypes);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->type, "hello");
}

}  // namespace
}  // namespace tpjit::ipc
