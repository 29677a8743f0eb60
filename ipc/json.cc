#include "ipc/json.h"

namespace tpjit::ipc {

Status check_json_depth(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character can't end the string
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) {
          return make_error(errc::kLimitExceeded,
                            "JSON nests deeper than " + std::to_string(max_depth) +
                                " levels (at byte " + std::to_string(i) +
                                "); flatten the message",
                            "json");
        }
        break;
      case ']':
      case '}':
        // Unbalanced closers are the parser's to report; don't go negative.
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return ok_status();
}

Result<nlohmann::json> parse_json(std::string_view text, int max_depth) {
  if (auto depth = check_json_depth(text, max_depth); !depth) return depth.error();
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann's text is "[json.exception.parse_error.101] parse error at line 1, column 5: ...";
    // keep what a person needs.
    std::string what = e.what();
    if (auto pos = what.find("] "); pos != std::string::npos) what.erase(0, pos + 2);
    return make_error(errc::kBadJson, "payload is not valid JSON: " + what, "json");
  } catch (const std::exception& e) {
    return make_error(errc::kBadJson, std::string("payload is not valid JSON: ") + e.what(), "json");
  }
}

std::string dump_json(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace tpjit::ipc
