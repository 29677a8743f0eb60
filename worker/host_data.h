// Host-side data of a run: inputs made from a seed or read from .npy files, outputs written
// as .npy, and the relative error between two outputs. No CUDA here.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "codegen/spec.h"
#include "util/result.h"

namespace tpjit::worker {

enum class HostKind { kFp8, kF32 };  // e4m3 bytes, or float32 scales

struct InputSpec {
  std::string name;  // the graph's tensor name: the file is <dir>/rank<R>/<name>.npy
  HostKind kind = HostKind::kFp8;
  uint64_t count = 0;  // elements
};

// Seeded inputs are a pure function of (seed, rank, name): the same on every run and machine.
// FP8 values are e4m3 roundings of uniform(-2, 2); scales uniform in [1/16, 3/16).
std::vector<uint8_t> seeded_input(const InputSpec& in, uint64_t seed, int rank);

// <dir>/rank<R>/<name>.npy, checked to hold in.count elements of the right dtype.
Result<std::vector<uint8_t>> npy_input(const InputSpec& in, const std::filesystem::path& dir,
                                       int rank);

// Writes <dir>/rank<R>/<name>.npy (directories made as needed) with the out dtype's descr.
Status write_output(const std::filesystem::path& dir, int rank, const std::string& name,
                    codegen::OutDtype dtype, const std::vector<int64_t>& shape,
                    const std::vector<uint8_t>& bytes);

// One output element (bf16, f16 or f32 bytes) as a double.
double decode_out(codegen::OutDtype dtype, const uint8_t* p);

// ||x - ref||_2 / ||ref||_2 over the decoded values (absolute norm when ref is all zero);
// NaN when either holds a NaN.
double relative_error(codegen::OutDtype dtype, const std::vector<uint8_t>& x,
                      const std::vector<uint8_t>& ref);

}  // namespace tpjit::worker
