#include "ipc/message.h"

#include <algorithm>

#include "ipc/codes.h"
#include "ipc/frame.h"
#include "ipc/json.h"

namespace tpjit::ipc {
namespace {

using nlohmann::json;

bool valid_id(const json& id) {
  if (id.is_number_integer()) return true;  // signed or unsigned, not float
  return id.is_string() && !id.get_ref<const std::string&>().empty() &&
         id.get_ref<const std::string&>().size() <= kMaxIdBytes;
}

std::string shorten(const std::string& s, size_t n = 64) {
  return s.size() <= n ? s : s.substr(0, n) + "...";
}

Error bad_reply(std::string message, std::string where) {
  return make_error(errc::kBadReply, "daemon sent an invalid reply: " + std::move(message),
                    std::move(where));
}

}  // namespace

Result<Request> parse_request(const json& message, const std::vector<std::string>& known_types) {
  if (!message.is_object()) {
    return make_error(errc::kBadRequest,
                      std::string("a request is a JSON object {\"id\", \"type\", \"body\"}, got ") +
                          message.type_name(),
                      "");
  }
  auto id = message.find("id");
  if (id == message.end()) {
    return make_error(errc::kBadRequest, "request has no \"id\"; add an integer or string id",
                      "id");
  }
  if (!valid_id(*id)) {
    return make_error(errc::kBadRequest,
                      "request id must be an integer or a string of 1.." +
                          std::to_string(kMaxIdBytes) + " bytes",
                      "id");
  }
  auto type = message.find("type");
  if (type == message.end() || !type->is_string()) {
    return make_error(errc::kBadRequest, "request needs a string \"type\", e.g. \"hello\"",
                      "type");
  }
  const auto& type_name = type->get_ref<const std::string&>();
  if (!known_types.empty() &&
      std::find(known_types.begin(), known_types.end(), type_name) == known_types.end()) {
    std::string list;
    for (const auto& t : known_types) list += (list.empty() ? "" : ", ") + t;
    return make_error(errc::kUnknownRequest,
                      "unknown request type \"" + shorten(type_name) + "\"; this daemon serves: " + list,
                      "type");
  }
  json body = json::object();
  if (auto b = message.find("body"); b != message.end()) {
    if (!b->is_object()) {
      return make_error(errc::kBadRequest,
                        std::string("request body must be a JSON object, got ") + b->type_name(),
                        "body");
    }
    body = *b;
  }
  return Request{*id, type_name, std::move(body)};
}

json request_id_of(const json& message) {
  if (!message.is_object()) return nullptr;
  auto id = message.find("id");
  return id != message.end() && valid_id(*id) ? *id : json(nullptr);
}

json make_request(const json& id, std::string_view type, json body) {
  return json{{"id", id}, {"type", type}, {"body", std::move(body)}};
}

json make_ok_reply(const json& id, json body) {
  return json{{"id", id}, {"ok", true}, {"body", std::move(body)}};
}

json make_error_reply(const json& id, const Error& error) {
  return json{{"id", id},
              {"ok", false},
              {"error", {{"code", error.code}, {"message", error.message}, {"where", error.where}}}};
}

std::string encode_message(const json& message) { return encode_frame(dump_json(message)); }

Result<Reply> parse_reply(const json& message) {
  if (!message.is_object()) return bad_reply("not a JSON object", "");
  auto id = message.find("id");
  if (id == message.end() || !(id->is_null() || valid_id(*id))) return bad_reply("bad id", "id");
  auto ok = message.find("ok");
  if (ok == message.end() || !ok->is_boolean()) return bad_reply("no boolean \"ok\"", "ok");
  if (ok->get<bool>()) {
    auto body = message.find("body");
    if (body == message.end() || !body->is_object()) return bad_reply("no object \"body\"", "body");
    return Reply{*id, *body};
  }
  auto err = message.find("error");
  if (err == message.end() || !err->is_object()) return bad_reply("no object \"error\"", "error");
  Error error;
  for (auto [key, field] : {std::pair{"code", &error.code}, std::pair{"message", &error.message},
                            std::pair{"where", &error.where}}) {
    auto it = err->find(key);
    if (it != err->end() && it->is_string()) {
      *field = it->get<std::string>();
    } else if (it != err->end() || std::string_view(key) != "where") {
      return bad_reply(std::string("error has no string \"") + key + "\"", std::string("error.") + key);
    }
  }
  return Reply{*id, std::move(error)};
}

}  // namespace tpjit::ipc
