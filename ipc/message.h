// Messages inside frames. Grammar (JSON):
//   request := {"id": ID, "type": STRING, "body": OBJECT}      body may be omitted: {}
//   reply   := {"id": ID|null, "ok": true,  "body": OBJECT}
//            | {"id": ID|null, "ok": false, "error": {"code": STRING, "message": STRING,
//                                                     "where": STRING}}
//   ID      := integer | string of 1..256 bytes
// A reply carries the id of its request, or null when the request's id could not be read
// (bad frame, bad JSON, refused connection). Replies may come in any order.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/result.h"

namespace tpjit::ipc {

inline constexpr int kProtocolVersion = 1;
inline constexpr size_t kMaxIdBytes = 256;

struct Request {
  nlohmann::json id;  // integer or string
  std::string type;
  nlohmann::json body;  // always an object
};

// Checks the envelope. With known_types non-empty, a type outside it is kUnknownRequest.
Result<Request> parse_request(const nlohmann::json& message,
                              const std::vector<std::string>& known_types = {});

// The request's id when it is a valid one, else null: what an error reply should carry.
nlohmann::json request_id_of(const nlohmann::json& message);

nlohmann::json make_request(const nlohmann::json& id, std::string_view type,
                            nlohmann::json body);
nlohmann::json make_ok_reply(const nlohmann::json& id, nlohmann::json body);
nlohmann::json make_error_reply(const nlohmann::json& id, const Error& error);

// One frame holding `message` serialized (never throws).
std::string encode_message(const nlohmann::json& message);

struct Reply {
  nlohmann::json id;    // null when the daemon could not tie it to a request
  Result<nlohmann::json> result = nlohmann::json::object();  // body, or the daemon's Error
};

// Checks a reply envelope; kBadReply if it is not one.
Result<Reply> parse_reply(const nlohmann::json& message);

}  // namespace tpjit::ipc
