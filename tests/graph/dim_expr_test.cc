#include "graph/dim_expr.h"

#include <gtest/gtest.h>

namespace tpjit::graph {
namespace {

const std::vector<std::string> kSymbols = {"M", "B", "S"};

DimExpr parse_ok(std::string_view text) {
  auto e = DimExpr::parse(text, kSymbols);
  EXPECT_TRUE(e.ok()) << text << ": " << (e.ok() ? "" : e.error().message);
  return e.ok() ? *e : DimExpr::constant(0);
}

TEST(GraphDimExpr, ParsesAndEvaluatesProducts) {
  Bindings b = {{"M", 2048}, {"B", 4}, {"S", 1024}};
  EXPECT_EQ(*parse_ok("M").eval(b), 2048);
  EXPECT_EQ(*parse_ok("M/2").eval(b), 1024);
  EXPECT_EQ(*parse_ok("2*M").eval(b), 4096);
  EXPECT_EQ(*parse_ok("B*S").eval(b), 4096);
  EXPECT_EQ(*parse_ok("B*S/4").eval(b), 1024);
  EXPECT_EQ(*parse_ok(" B * S / 4 ").eval(b), 1024);
  EXPECT_EQ(*parse_ok("8192").eval(b), 8192);
  EXPECT_EQ(*parse_ok("3*M/6").eval(b), 1024);
}

TEST(GraphDimExpr, TextIsCanonical) {
  EXPECT_EQ(parse_ok(" B * S / 4 ").text(), "B*S/4");
  EXPECT_EQ(parse_ok("M").text(), "M");
  EXPECT_EQ(DimExpr::constant(8192).text(), "8192");
  EXPECT_TRUE(parse_ok("16").is_constant());
  EXPECT_FALSE(parse_ok("M/2").is_constant());
}

TEST(GraphDimExpr, BadSyntaxIsBadGraph) {
  for (const char* text : {"", "M/", "M*", "*M", "M/0", "M+1", "M/2/2", "M/N2x", "(M)", "M/2*S", "-4",
                           "99999999999999999999"}) {
    auto e = DimExpr::parse(text, kSymbols);
    ASSERT_FALSE(e.ok()) << text;
    EXPECT_EQ(e.error().code, errc::kBadGraph) << text;
    EXPECT_NE(e.error().message.find("bad dim expression"), std::string::npos) << e.error().message;
  }
}

TEST(GraphDimExpr, UnknownSymbolIsNamed) {
  auto e = DimExpr::parse("N/2", kSymbols);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, errc::kBadGraph);
  EXPECT_NE(e.error().message.find("unknown symbol 'N'"), std::string::npos) << e.error().message;
  EXPECT_NE(e.error().message.find("\"symbols\""), std::string::npos);
}

TEST(GraphDimExpr, NonIntegralConstantIsNotDivisible) {
  auto e = DimExpr::parse("12/5", kSymbols);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, errc::kNotDivisible);
}

TEST(GraphDimExpr, NonIntegralValueSaysWhatAndHow) {
  auto v = parse_ok("M/2").eval({{"M", 1001}}, "tensor 'x_shard', dim 0");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, errc::kNotDivisible);
  EXPECT_EQ(v.error().message,
            "M=1001 makes 'M/2' = 500.5 (tensor 'x_shard', dim 0); M must be a multiple of 2");
  auto w = parse_ok("2*B*S/8").eval({{"B", 3}, {"S", 5}});
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("B*S must be a multiple of 4"), std::string::npos) << w.error().message;
}

TEST(GraphDimExpr, MissingBindingAndOverflow) {
  auto v = parse_ok("B*S").eval({{"B", 2}});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, errc::kBadRequest);
  auto o = parse_ok("B*S").eval({{"B", int64_t{1} << 40}, {"S", int64_t{1} << 40}});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().code, errc::kLimitExceeded);
}

}  // namespace
}  // namespace tpjit::graph
