#include "runtime/tensor_map.h"

#include <string>

namespace tpjit::runtime {
namespace {

int element_bytes(CUtensorMapDataType t) {
  switch (t) {
    case CU_TENSOR_MAP_DATA_TYPE_UINT8: return 1;
    case CU_TENSOR_MAP_DATA_TYPE_UINT16:
    case CU_TENSOR_MAP_DATA_TYPE_FLOAT16:
    case CU_TENSOR_MAP_DATA_TYPE_BFLOAT16: return 2;
    case CU_TENSOR_MAP_DATA_TYPE_UINT32:
    case CU_TENSOR_MAP_DATA_TYPE_INT32:
    case CU_TENSOR_MAP_DATA_TYPE_FLOAT32: return 4;
    default: return 0;
  }
}

uint32_t swizzle_span_bytes(CUtensorMapSwizzle s) {
  switch (s) {
    case CU_TENSOR_MAP_SWIZZLE_32B: return 32;
    case CU_TENSOR_MAP_SWIZZLE_64B: return 64;
    case CU_TENSOR_MAP_SWIZZLE_128B: return 128;
    default: return 0;  // no swizzle: no span limit
  }
}

Error bad(const std::string& what) {
  return make_error(errc::kUnsupportedShape, "tensor map: " + what, "runtime.tensor_map");
}

}  // namespace

Result<CUtensorMap> encode_tensor_map_2d(const Driver& d, const void* base, const TensorMap2d& t) {
  const int eb = element_bytes(t.dtype);
  if (eb == 0) return bad("unsupported element type " + std::to_string(t.dtype));
  if (reinterpret_cast<uintptr_t>(base) % 16 != 0) return bad("base address not 16-byte aligned");
  if (t.rows == 0 || t.cols == 0) return bad("empty tensor");
  if (t.row_stride_bytes % 16 != 0 || t.row_stride_bytes < t.cols * eb) {
    return bad("row stride " + std::to_string(t.row_stride_bytes) +
               " bytes must be a multiple of 16 and at least cols*element size");
  }
  if (t.box_rows == 0 || t.box_rows > 256 || t.box_cols == 0 || t.box_cols > 256) {
    return bad("box dims must be 1..256");
  }
  if ((t.box_cols * eb) % 16 != 0) return bad("inner box must be a multiple of 16 bytes");
  const uint32_t span = swizzle_span_bytes(t.swizzle);
  if (span != 0 && t.box_cols * eb > span) {
    return bad("inner box of " + std::to_string(t.box_cols * eb) +
               " bytes exceeds the swizzle span of " + std::to_string(span));
  }
  const cuuint64_t dims[2] = {t.cols, t.rows};
  const cuuint64_t strides[1] = {t.row_stride_bytes};
  const cuuint32_t box[2] = {t.box_cols, t.box_rows};
  const cuuint32_t elem_strides[2] = {1, 1};
  CUtensorMap map{};
  TPJIT_CU_RETURN(d, cuTensorMapEncodeTiled(&map, t.dtype, 2, const_cast<void*>(base), dims,
                                            strides, box, elem_strides,
                                            CU_TENSOR_MAP_INTERLEAVE_NONE, t.swizzle,
                                            t.l2_promotion, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE));
  return map;
}

}  // namespace tpjit::runtime
