// cuTensorMapEncodeTiled for the sm90 TMA kernels: a tensor map describes a global tensor and
// the box the copy engine moves per request; the kernel takes it as a __grid_constant__ argument.
#pragma once

#include <cuda.h>

#include <cstdint>

#include "runtime/driver.h"
#include "util/result.h"

namespace tpjit::runtime {

// A 2-D row-major tensor [rows, cols]: cols contiguous, rows `row_stride_bytes` apart.
struct TensorMap2d {
  CUtensorMapDataType dtype = CU_TENSOR_MAP_DATA_TYPE_UINT8;  // fp8 moves as bytes
  uint64_t rows = 0, cols = 0;
  uint64_t row_stride_bytes = 0;
  uint32_t box_rows = 0, box_cols = 0;  // the tile copied per request
  CUtensorMapSwizzle swizzle = CU_TENSOR_MAP_SWIZZLE_128B;
  CUtensorMapL2promotion l2_promotion = CU_TENSOR_MAP_L2_PROMOTION_L2_256B;
};

// Encodes `desc` over `base`. The copy engine's rules are checked first (16-byte aligned base
// and stride, box of 1..256 per dim, inner box within the swizzle span) so a bad shape gets a
// precise errc::kUnsupportedShape rather than the driver's bare CUDA_ERROR_INVALID_VALUE.
Result<CUtensorMap> encode_tensor_map_2d(const Driver& d, const void* base, const TensorMap2d& desc);

}  // namespace tpjit::runtime
