// Bad input, found by mutation: every recorded graph (tests/data/graphs/) is damaged a few
// thousand ways, structurally (a value of another type or an edge value put anywhere, a key or
// an element removed, an element repeated) and as bytes (flipped, cut, inserted), and each
// result goes through what a compile request does before NVRTC: JSON, request, graph, bind,
// match, the kernel specs and their CUDA source. Every step must answer with a value or an
// error that says what and where; none may throw (a CheckError is a broken invariant, a bug)
// or crash. CI runs this under ASan/UBSan too. The seeds are fixed: a failure names the graph,
// the seed and the mutations, so it replays.
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

#include "codegen/codegen.h"
#include "daemon/plan.h"
#include "fusion/match.h"
#include "ipc/json.h"
#include "tests/util/recorded_graphs.h"

namespace tpjit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kDir = TPJIT_RECORDED_GRAPHS_DIR;
constexpr int kStructural = 400;  // mutants per graph and kind; about 30 graphs
constexpr int kBytewise = 150;

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Multi-byte UTF-8 long enough that an error message quoting it shortens it.
std::string long_text() {
  std::string t;
  for (int i = 0; i < 70; ++i) t += "\xc3\xa9\xf0\x9f\x99\x82";  // e-acute, a 4-byte emoji
  return t;
}

// Values that sit on the edges a parser, a dim expression or a shape check gets wrong.
json edge_value(std::mt19937_64& rng) {
  static const std::vector<json> values = {
      0, -1, 1, 2, 3, 7, 4097, int64_t{1} << 31, int64_t{1} << 40, INT64_MAX, INT64_MIN, 1.5, -0.0,
      1e300, "", "M", "M/0", "M/3", "M*M*M*M*M*M*M*M", "M-M", "-M", "(M", "M/2/2/2/2/2/2/2/2",
      "9223372036854775807*M", "float8_e5m2", "bfloat16", "float64", "int8", "col_major",
      "row_major", "tp", "all_gather", "reduce_scatter", "scaled_mm", long_text(), nullptr, true,
      false, json::array(), json::object(), json::array({0}), json::array({"M", "M"}),
      json::array({INT64_MAX, INT64_MAX}), json::array({-1, 4096}), json::object({{"a", 1}})};
  return values[rng() % values.size()];
}

// The JSON pointers of every value in doc.
void collect(const json& doc, const json::json_pointer& at, std::vector<json::json_pointer>& out) {
  out.push_back(at);
  if (doc.is_object())
    for (auto it = doc.begin(); it != doc.end(); ++it) collect(*it, at / it.key(), out);
  else if (doc.is_array())
    for (size_t i = 0; i < doc.size(); ++i) collect(doc[i], at / i, out);
}

// One structural mutation of doc; what it did, for the failure message.
std::string mutate(json& doc, std::mt19937_64& rng) {
  std::vector<json::json_pointer> at;
  collect(doc, json::json_pointer(), at);
  const json::json_pointer p = at[rng() % at.size()];
  json& v = doc[p];
  switch (rng() % 4) {
    case 0: {
      v = edge_value(rng);
      return "set " + p.to_string() + " = " + v.dump();
    }
    case 1:
      if (p.empty()) return "nothing";
      if (json& parent = doc[p.parent_pointer()]; parent.is_object()) {
        parent.erase(p.back());
      } else {
        parent.erase(parent.begin() + std::stoll(p.back()));
      }
      return "remove " + p.to_string();
    case 2:
      if (!v.is_array() || v.empty()) return "nothing";
      v.push_back(v[rng() % v.size()]);
      return "repeat an element of " + p.to_string();
    default:
      if (!v.is_array() || v.size() < 2) return "nothing";
      std::swap(v[rng() % v.size()], v[rng() % v.size()]);
      return "swap two elements of " + p.to_string();
  }
}

std::string mutate_bytes(std::string text, std::mt19937_64& rng) {
  const int edits = 1 + int(rng() % 4);
  for (int e = 0; e < edits && !text.empty(); ++e) {
    const size_t i = rng() % text.size();
    switch (rng() % 3) {
      case 0: text[i] = static_cast<char>(text[i] ^ (1 << (rng() % 8))); break;
      case 1: text.resize(i); break;
      default: text.insert(i, 1, "{}[]\",:0-9eM/ \\"[rng() % 16]); break;
    }
  }
  return text;
}

// An error must say what, and must survive the trip into the reply as the daemon writes it
// (ipc::dump_json replaces bytes that are not UTF-8, such as a parse error's quote of them).
void expect_error_says_what(const Error& e, const std::string& step) {
  EXPECT_FALSE(e.message.empty()) << step << " failed without a message";
  EXPECT_FALSE(ipc::dump_json(json({{"message", e.message}, {"where", e.where}}), -1).empty());
}

// What the compile service does with a request body before NVRTC. An exception escapes to
// the caller, which fails the test with the mutation that caused it.
void plan_without_nvrtc(const json& body) {
  Result<CompileRequest> request = parse_compile_request(body);
  if (!request) return expect_error_says_what(request.error(), "parse_compile_request");
  for (int64_t m : request->m) {
    graph::Bindings bindings = request->symbols;
    bindings[kTokenSymbol] = m;
    Result<graph::BoundGraph> bound = graph::bind(request->graph, bindings);
    if (!bound) {
      expect_error_says_what(bound.error(), "bind");
      continue;
    }
    fusion::MatchResult match = fusion::match(*bound);
    for (const fusion::Region& region : match.regions) {
      if (!region.fused) continue;
      for (const fusion::GemmInfo& gemm : region.gemms)
        for (codegen::Arch arch : request->archs) {
          Result<codegen::GemmSpec> spec = codegen::make_gemm_spec(gemm, gemm.m, arch);
          if (!spec) {
            expect_error_says_what(spec.error(), "make_gemm_spec");
            continue;
          }
          EXPECT_TRUE(codegen::check_spec(*spec).ok()) << "make_gemm_spec gave a spec check_spec refuses";
          EXPECT_FALSE(codegen::generate(*spec).source.empty());
        }
    }
  }
}

json request_body(json graph, std::mt19937_64& rng) {
  static const std::vector<int64_t> ms = {1, 2, 3, 16, 17, 128, 2048, 16384, int64_t{1} << 40};
  json m = json::array({ms[rng() % ms.size()]});
  if (rng() % 2) m.push_back(ms[rng() % ms.size()]);
  return {{"graph", std::move(graph)}, {"m", m}, {"archs", json::array({"sm_90a", "sm_100a"})}};
}

class Mutated : public ::testing::TestWithParam<fs::path> {};

TEST_P(Mutated, GraphsGetAnErrorOrAPlanNeverAThrowOrACrash) {
  const std::string text = read_text(GetParam());
  const json original = json::parse(text);
  const std::string name = GetParam().filename().string();
  for (int seed = 0; seed < kStructural; ++seed) {
    std::mt19937_64 rng(seed);
    json doc = original;
    std::string what;
    const int mutations = 1 + int(rng() % 3);
    for (int i = 0; i < mutations; ++i) what += mutate(doc, rng) + "; ";
    try {
      plan_without_nvrtc(request_body(doc, rng));
    } catch (const std::exception& e) {
      ADD_FAILURE() << name << " seed " << seed << " (" << what << "): threw " << e.what();
    }
  }
  for (int seed = 0; seed < kBytewise; ++seed) {
    std::mt19937_64 rng(1000 + seed);
    const std::string bytes = mutate_bytes(text, rng);
    try {
      Result<json> doc = ipc::parse_json(bytes);
      if (!doc) {
        expect_error_says_what(doc.error(), "parse_json");
        continue;
      }
      plan_without_nvrtc(request_body(*doc, rng));
    } catch (const std::exception& e) {
      ADD_FAILURE() << name << " byte seed " << seed << ": threw " << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Recorded, Mutated, ::testing::ValuesIn(tpjit::testing::recorded_graph_files(kDir)),
                         [](const auto& info) {
                           std::string n = info.param.stem().string();
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
}  // namespace tpjit
