#include "graph/dim_expr.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <numeric>

namespace tpjit::graph {
namespace {

constexpr const char* kGrammarHint =
    "a dim is an integer or a product of integers and symbols joined by '*', optionally "
    "followed by '/INT' (e.g. \"M/2\" or \"B*S/4\")";

bool is_symbol_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_symbol_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A small cursor over the expression text.
class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool at_end() {
    skip_space();
    return pos_ >= text_.size();
  }
  char peek() {
    skip_space();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }
  void advance() { ++pos_; }
  std::string_view take_while(bool (*pred)(char)) {
    skip_space();
    size_t start = pos_;
    while (pos_ < text_.size() && pred(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

Error syntax_error(std::string_view text, const std::string& what) {
  return make_error(errc::kBadGraph,
                    "bad dim expression '" + std::string(text) + "': " + what + "; " + kGrammarHint);
}

Result<int64_t> parse_int(std::string_view text, std::string_view digits) {
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) {
    return syntax_error(text, "integer '" + std::string(digits) + "' does not fit in 63 bits");
  }
  return value;
}

std::string format_fraction(int64_t num, int64_t den) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", static_cast<double>(num) / static_cast<double>(den));
  return buf;
}

}  // namespace

DimExpr DimExpr::constant(int64_t value) {
  DimExpr e;
  e.terms.push_back(Term{value, {}});
  return e;
}

Result<DimExpr> DimExpr::parse(std::string_view text, const std::vector<std::string>& symbols) {
  Lexer lex(text);
  DimExpr e;
  if (lex.at_end()) return syntax_error(text, "it is empty");
  while (true) {
    char c = lex.peek();
    if (is_digit(c)) {
      auto v = parse_int(text, lex.take_while(is_digit));
      if (!v) return v.error();
      e.terms.push_back(Term{*v, {}});
    } else if (is_symbol_start(c)) {
      std::string name(lex.take_while(is_symbol_char));
      if (std::find(symbols.begin(), symbols.end(), name) == symbols.end()) {
        return make_error(errc::kBadGraph, "unknown symbol '" + name + "' in dim '" +
                                               std::string(text) +
                                               "'; list it in the graph's \"symbols\"");
      }
      e.terms.push_back(Term{1, std::move(name)});
    } else {
      return syntax_error(text, c == '\0' ? std::string("expected a term at the end")
                                          : std::string("unexpected '") + c + "'");
    }
    if (lex.at_end()) break;
    c = lex.peek();
    if (c == '*') {
      lex.advance();
      continue;
    }
    if (c == '/') {
      lex.advance();
      if (!is_digit(lex.peek())) return syntax_error(text, "expected an integer after '/'");
      auto d = parse_int(text, lex.take_while(is_digit));
      if (!d) return d.error();
      if (*d == 0) return syntax_error(text, "division by zero");
      e.divisor = *d;
      if (!lex.at_end()) {
        return syntax_error(text, std::string("unexpected '") + lex.peek() + "' after the divisor");
      }
      break;
    }
    return syntax_error(text, std::string("unexpected '") + c + "'");
  }
  if (e.is_constant()) {
    // A constant that does not divide can never be a valid dim: report it at parse time.
    auto v = e.eval({});
    if (!v) return v.error();
  }
  return e;
}

bool DimExpr::is_constant() const {
  return std::all_of(terms.begin(), terms.end(), [](const Term& t) { return t.symbol.empty(); });
}

std::string DimExpr::text() const {
  std::string out;
  for (size_t i = 0; i < terms.size(); ++i) {
    if (i) out += '*';
    out += terms[i].symbol.empty() ? std::to_string(terms[i].value) : terms[i].symbol;
  }
  if (divisor != 1) out += "/" + std::to_string(divisor);
  return out;
}

Result<int64_t> DimExpr::eval(const Bindings& bindings, std::string_view context) const {
  std::string where_text = context.empty() ? "" : " (" + std::string(context) + ")";
  int64_t product = 1;
  int64_t coefficient = 1;
  std::string symbol_product;  // e.g. "B*S", for the "must be a multiple of" hint
  std::string values;          // e.g. "B=2, S=1001"
  bool overflow = false;
  for (const Term& t : terms) {
    int64_t v = t.value;
    if (!t.symbol.empty()) {
      auto it = bindings.find(t.symbol);
      if (it == bindings.end()) {
        return make_error(errc::kBadRequest,
                          "no value for symbol '" + t.symbol + "' used by '" + text() + "'" +
                              where_text + "; bind every symbol the graph lists");
      }
      v = it->second;
      if (!symbol_product.empty()) symbol_product += '*';
      symbol_product += t.symbol;
      if (!values.empty()) values += ", ";
      values += t.symbol + "=" + std::to_string(v);
    } else {
      overflow |= __builtin_mul_overflow(coefficient, v, &coefficient);
    }
    overflow |= __builtin_mul_overflow(product, v, &product);
  }
  if (overflow) {
    return make_error(errc::kLimitExceeded, "'" + text() + "' overflows 64 bits" +
                                                (values.empty() ? "" : " with " + values) +
                                                where_text + "; use smaller values");
  }
  if (product % divisor != 0) {
    std::string msg = (values.empty() ? "" : values + " makes ") + "'" + text() + "' = " +
                      format_fraction(product, divisor) + where_text;
    if (symbol_product.empty()) {
      msg += "; a constant dim must be an integer";
    } else {
      int64_t need = divisor / std::gcd(coefficient == 0 ? divisor : coefficient, divisor);
      msg += "; " + symbol_product + " must be a multiple of " + std::to_string(need);
    }
    return make_error(errc::kNotDivisible, msg);
  }
  return product / divisor;
}

}  // namespace tpjit::graph
