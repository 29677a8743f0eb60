// DimExpr: one dimension of a declared shape, an integer or a symbolic expression.
//
// Grammar (whitespace around tokens is ignored):
//   dim    := INT | expr
//   expr   := term ('*' term)* ('/' INT)?
//   term   := INT | SYMBOL
//   INT    := [0-9]+              (fits in 63 bits; the divisor must be > 0)
//   SYMBOL := [A-Za-z_][A-Za-z0-9_]*  and listed in the graph's "symbols"
// Examples: "M", "M/2", "2*M", "B*S", "B*S/4", "8192".
// Evaluation is exact: the product is taken in checked 64-bit integers and must divide by the
// divisor; "M/2" with M=1001 is an error (not_divisible), never a rounded 500.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace tpjit::graph {

using Bindings = std::map<std::string, int64_t>;  // symbol -> value

struct DimExpr {
  struct Term {
    int64_t value = 1;   // used when symbol is empty
    std::string symbol;  // empty for an integer term
  };
  std::vector<Term> terms;  // multiplied together; never empty
  int64_t divisor = 1;

  static DimExpr constant(int64_t value);
  // Parses `text`; every symbol must be in `symbols`. Errors are bad_graph (or not_divisible
  // for a constant such as "12/5"), with an empty `where` for the caller to fill in.
  static Result<DimExpr> parse(std::string_view text, const std::vector<std::string>& symbols);

  bool is_constant() const;
  std::string text() const;  // canonical text, e.g. "B*S/4"
  // The exact value under `bindings`. not_divisible if the division leaves a remainder,
  // limit_exceeded on 64-bit overflow, bad_request if a symbol has no value. `context` (e.g.
  // "tensor 'x', dim 0") is put into messages.
  Result<int64_t> eval(const Bindings& bindings, std::string_view context = {}) const;
};

}  // namespace tpjit::graph
