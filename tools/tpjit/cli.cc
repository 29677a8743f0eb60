#include "tools/tpjit/cli.h"

#include <charconv>
#include <cstdio>

namespace tpjit::cli {

int print_error(const Error& error) {
  if (error.where.empty()) {
    std::fprintf(stderr, "error [%s]: %s\n", error.code.c_str(), error.message.c_str());
  } else {
    std::fprintf(stderr, "error [%s] at %s: %s\n", error.code.c_str(), error.where.c_str(), error.message.c_str());
  }
  return kExitError;
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "tpjit: %s\nrun 'tpjit --help' for usage\n", message.c_str());
  return kExitUsage;
}

Result<client::Client> connect(const GlobalOptions& options) {
  client::ClientOptions client_options;
  client_options.receive_timeout = options.timeout;
  client_options.name = "tpjit-cli";
  return client::Client::connect(options.socket, client_options);
}

Result<std::vector<std::string>> parse_word_list(const std::string& option, const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t comma = text.find(',', start);
    std::string word = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (word.empty()) {
      return make_error(errc::kBadRequest, option + " takes a comma-separated list without empty items, got \"" +
                                               text + "\"", option);
    }
    out.push_back(word);
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

Result<std::vector<int64_t>> parse_int_list(const std::string& option, const std::string& text) {
  auto words = parse_word_list(option, text);
  if (!words) return words.error();
  std::vector<int64_t> out;
  for (const auto& w : *words) {
    int64_t value = 0;
    auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), value);
    if (ec != std::errc() || end != w.data() + w.size() || value <= 0) {
      return make_error(errc::kBadRequest, option + " takes positive integers, e.g. 128,2048; got \"" + w + "\"",
                        option);
    }
    out.push_back(value);
  }
  return out;
}

bool take_target_option(const std::vector<std::string>& args, size_t& i, TargetOptions& out,
                        std::string* error) {
  const std::string& a = args[i];
  if (a != "--m" && a != "--arch") return false;
  if (i + 1 >= args.size()) {
    *error = a + " needs a value";
    return true;
  }
  const std::string& value = args[++i];
  if (a == "--m") {
    auto list = parse_int_list(a, value);
    if (list) out.m = *list;
    else *error = list.error().message;
  } else {
    auto list = parse_word_list(a, value);
    if (list) out.archs = *list;
    else *error = list.error().message;
  }
  return true;
}

}  // namespace tpjit::cli
