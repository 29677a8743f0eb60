// The GEMM cases the GPU suite runs, for every codegen variant.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "codegen/spec.h"
#include "tests/gpu/reference.h"

namespace tpjit::gpu_test {

struct GemmCase {
  std::string label = {};  // test name: variant_shape_mode
  std::string variant = {};  // codegen variant
  int m_first = 1, m_last = 1;  // the rows run, one launch each, on one kernel
  int n = 0, k = 0;
  int64_t m_hint = 0;  // picks the tile
  RefScale scale = RefScale::kTensor;
  RefOut out = RefOut::kBF16;
  bool bias = false, accumulate = false;
  bool alias = false;       // C aliases D (at the row offset)
  int row_offset = 0;       // d_row_offset
  int ld_pad = 0;           // ldd = n + ld_pad; the pad columns must stay untouched
};

// gtest prints a case as its label (also what TestInfo::value_param() returns).
inline void PrintTo(const GemmCase& c, std::ostream* os) { *os << c.label; }

// Every case for every variant.
const std::vector<GemmCase>& all_cases();

// The arch of device 0 as codegen names it (sm_90a for 9.x, sm_100a for 10.x).
codegen::Arch device_arch();

// The spec of a case for `arch`; the variant's refusal (check_spec) if it cannot take it.
Result<codegen::GemmSpec> to_spec(const GemmCase& c, codegen::Arch arch);

}  // namespace tpjit::gpu_test
