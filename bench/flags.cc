#include "bench/flags.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>

namespace tpjit::bench {
namespace {

// The non-empty parts of s between separators ("a,,b" is a, b).
std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    const size_t end = std::min(s.find(sep, pos), s.size());
    if (end > pos) out.push_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

// The whole of s as an integer >= min; nothing for trailing text, overflow or a smaller value.
template <class T>
std::optional<T> parse_int(const std::string& s, T min) {
  T v{};
  const char* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || ptr != end || v < min) return std::nullopt;
  return v;
}

template <class T>
Flag list_flag(std::string name, std::vector<T>* out, T min) {
  std::string expects = "a comma-separated list of integers >= " + std::to_string(min);
  return {std::move(name), std::move(expects), [out, min](const std::string& value) {
            std::vector<T> got;
            for (const std::string& part : split(value, ',')) {
              const std::optional<T> v = parse_int(part, min);
              if (!v) return false;
              got.push_back(*v);
            }
            if (got.empty()) return false;
            *out = std::move(got);
            return true;
          }};
}

}  // namespace

Flag int_flag(std::string name, int* out, int min) {
  return {std::move(name), "an integer >= " + std::to_string(min),
          [out, min](const std::string& value) {
            const std::optional<int> v = parse_int(value, min);
            if (v) *out = *v;
            return v.has_value();
          }};
}

Flag int_list_flag(std::string name, std::vector<int>* out, int min) {
  return list_flag(std::move(name), out, min);
}

Flag int64_list_flag(std::string name, std::vector<int64_t>* out, int64_t min) {
  return list_flag(std::move(name), out, min);
}

Flag text_flag(std::string name, std::string* out) {
  return {std::move(name), "a value", [out](const std::string& value) {
            *out = value;
            return true;
          }};
}

Flag name_list_flag(std::string name, std::vector<std::string>* out,
                    std::vector<std::string> allowed) {
  std::string expects = "a comma-separated list of names";
  for (size_t i = 0; i < allowed.size(); ++i)
    expects += (i == 0 ? " from " : ",") + allowed[i];
  return {std::move(name), std::move(expects),
          [out, allowed = std::move(allowed)](const std::string& value) {
            std::vector<std::string> got = split(value, ',');
            for (const std::string& n : got)
              if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), n) == allowed.end())
                return false;
            if (got.empty()) return false;
            *out = std::move(got);
            return true;
          }};
}

Flag shapes_flag(std::string name, std::vector<GemmShape>* out) {
  return {std::move(name), "shapes MxNxK,... of positive integers",
          [out](const std::string& value) {
            std::vector<GemmShape> got;
            for (const std::string& shape : split(value, ',')) {
              const std::vector<std::string> d = split(shape, 'x');
              if (d.size() != 3) return false;
              const std::optional<int64_t> m = parse_int<int64_t>(d[0], 1),
                                           n = parse_int<int64_t>(d[1], 1),
                                           k = parse_int<int64_t>(d[2], 1);
              if (!m || !n || !k) return false;
              got.push_back({*m, *n, *k, ""});
            }
            if (got.empty()) return false;
            out->insert(out->end(), got.begin(), got.end());
            return true;
          }};
}

Flag switch_flag(std::string name, bool* out) {
  return {std::move(name), "", [out](const std::string&) {
            *out = true;
            return true;
          }};
}

Status parse_flags(int argc, char** argv, int first, const std::vector<Flag>& flags) {
  for (int i = first; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto flag = std::find_if(flags.begin(), flags.end(),
                                   [&](const Flag& f) { return f.name == arg; });
    if (flag == flags.end())
      return make_error(errc::kBadRequest, "unknown argument \"" + arg + "\"", arg);
    if (flag->expects.empty()) {
      flag->set("");
      continue;
    }
    if (i + 1 >= argc)
      return make_error(errc::kBadRequest, arg + " needs a value: " + flag->expects, arg);
    const std::string value = argv[++i];
    if (!flag->set(value))
      return make_error(errc::kBadRequest,
                        arg + " expects " + flag->expects + ", got \"" + value + "\"", arg);
  }
  return ok_status();
}

}  // namespace tpjit::bench
