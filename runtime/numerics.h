// Exact host conversions for the GEMM data types: fp8 e4m3 (the "fn" flavour: no infinities,
// 0x7F/0xFF NaN, max 448), bf16 and fp16. Used to make inputs and to read outputs back; the
// decoders are exact, the encoders round to nearest even like the device's cvt.rn.
#pragma once

#include <cstdint>

namespace tpjit::runtime {

// The exact value of an e4m3fn byte (NaN for 0x7F and 0xFF).
float e4m3_to_float(uint8_t v);
// Nearest e4m3fn value, ties to even, saturating to +-448; NaN -> 0x7F.
uint8_t float_to_e4m3(float x);

float bf16_to_float(uint16_t v);
uint16_t float_to_bf16(float x);
float f16_to_float(uint16_t v);
uint16_t float_to_f16(float x);

inline constexpr float kE4m3Max = 448.0f;

}  // namespace tpjit::runtime
