// hades::DType — the element types of tensors, with the safetensors names and sizes, and exact
// conversions between the 16-bit float formats and float.
//
// The set and the spelling follow the safetensors format (huggingface/safetensors,
// safetensors/src/tensor.rs, `enum Dtype`, 0.6+): every dtype a valid file may name is listed, even
// those hades cannot compute with, so that a file is rejected for what it is ("F8_E4M3 is not
// supported here") rather than as malformed. Header-only: these functions sit in inner loops.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace hades {

enum class DType : std::uint8_t {
  boolean,      // BOOL, one byte per element
  f4,           // F4: OCP MX FP4 (E2M1), 4 bits, packed two per byte
  f6_e2m3,      // F6_E2M3: OCP MX FP6, 6 bits, packed
  f6_e3m2,      // F6_E3M2: OCP MX FP6, 6 bits, packed
  u8,           // U8
  i8,           // I8
  f8_e5m2,      // F8_E5M2
  f8_e4m3,      // F8_E4M3 (the "fn" variant: no infinities)
  f8_e8m0,      // F8_E8M0: OCP MX scale, exponent only
  f8_e4m3fnuz,  // F8_E4M3FNUZ
  f8_e5m2fnuz,  // F8_E5M2FNUZ
  i16,          // I16
  u16,          // U16
  f16,          // F16: IEEE 754 binary16
  bf16,         // BF16: bfloat16, the upper half of a float
  i32,          // I32
  u32,          // U32
  f32,          // F32
  c64,          // C64: complex of two F32
  f64,          // F64
  i64,          // I64
  u64,          // U64
};

inline constexpr DType kAllDTypes[] = {
    DType::boolean,     DType::f4,      DType::f6_e2m3, DType::f6_e3m2, DType::u8,
    DType::i8,          DType::f8_e5m2, DType::f8_e4m3, DType::f8_e8m0, DType::f8_e4m3fnuz,
    DType::f8_e5m2fnuz, DType::i16,     DType::u16,     DType::f16,     DType::bf16,
    DType::i32,         DType::u32,     DType::f32,     DType::c64,     DType::f64,
    DType::i64,         DType::u64,
};

// The name a safetensors header uses for the dtype ("F32", "BF16", "BOOL").
constexpr std::string_view dtype_name(DType dtype) noexcept {
  switch (dtype) {
    case DType::boolean: return "BOOL";
    case DType::f4: return "F4";
    case DType::f6_e2m3: return "F6_E2M3";
    case DType::f6_e3m2: return "F6_E3M2";
    case DType::u8: return "U8";
    case DType::i8: return "I8";
    case DType::f8_e5m2: return "F8_E5M2";
    case DType::f8_e4m3: return "F8_E4M3";
    case DType::f8_e8m0: return "F8_E8M0";
    case DType::f8_e4m3fnuz: return "F8_E4M3FNUZ";
    case DType::f8_e5m2fnuz: return "F8_E5M2FNUZ";
    case DType::i16: return "I16";
    case DType::u16: return "U16";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
    case DType::i32: return "I32";
    case DType::u32: return "U32";
    case DType::f32: return "F32";
    case DType::c64: return "C64";
    case DType::f64: return "F64";
    case DType::i64: return "I64";
    case DType::u64: return "U64";
  }
  return "?";
}

// The dtype a safetensors header names, or nullopt for a name the format does not define.
// Case-sensitive, as in the format: "f32" is not a dtype.
constexpr std::optional<DType> parse_dtype(std::string_view name) noexcept {
  for (DType dtype : kAllDTypes) {
    if (dtype_name(dtype) == name) return dtype;
  }
  return std::nullopt;
}

// Bits per element. Sizes of whole tensors must be computed in bits for the packed sub-byte types.
constexpr int dtype_bits(DType dtype) noexcept {
  switch (dtype) {
    case DType::f4: return 4;
    case DType::f6_e2m3:
    case DType::f6_e3m2: return 6;
    case DType::boolean:
    case DType::u8:
    case DType::i8:
    case DType::f8_e5m2:
    case DType::f8_e4m3:
    case DType::f8_e8m0:
    case DType::f8_e4m3fnuz:
    case DType::f8_e5m2fnuz: return 8;
    case DType::i16:
    case DType::u16:
    case DType::f16:
    case DType::bf16: return 16;
    case DType::i32:
    case DType::u32:
    case DType::f32: return 32;
    case DType::c64:
    case DType::f64:
    case DType::i64:
    case DType::u64: return 64;
  }
  return 0;
}

// Bytes per element; 0 for the packed sub-byte types (F4, F6_*), which have no per-element size.
constexpr std::size_t dtype_size(DType dtype) noexcept {
  const int bits = dtype_bits(dtype);
  return bits % 8 == 0 ? static_cast<std::size_t>(bits / 8) : 0;
}

// True for the three types hades converts to float when loading weights (F32, F16, BF16).
constexpr bool is_loadable_float(DType dtype) noexcept {
  return dtype == DType::f32 || dtype == DType::f16 || dtype == DType::bf16;
}

// IEEE binary16 bits → float, exact for every input: zeros, subnormals, normals, infinities, and
// NaNs with their payload (the quiet bit is not forced, so a signalling NaN stays signalling).
// Integer-only except for subnormals, whose value mantissa × 2^-24 is computed as an exact float
// product (a 10-bit integer and a power of two), so the result does not depend on FTZ/DAZ.
constexpr float f16_to_f32(std::uint16_t half) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(half & 0x8000u) << 16;
  const std::uint32_t exponent = (half >> 10) & 0x1fu;
  const std::uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0x1fu) {  // infinity or NaN: all-ones exponent, payload shifted into place
    return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  }
  if (exponent != 0) {  // normal: rebias the exponent from 15 to 127
    return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  }
  const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;  // zero or subnormal
  return std::bit_cast<float>(sign | std::bit_cast<std::uint32_t>(magnitude));
}

// bfloat16 bits → float: bfloat16 is the upper half of a float, so this is exact by construction.
constexpr float bf16_to_f32(std::uint16_t bf16) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bf16) << 16);
}

// float → bfloat16 bits, rounding to nearest even; NaNs stay NaN (quiet, sign kept).
constexpr std::uint16_t f32_to_bf16(float value) noexcept {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    return static_cast<std::uint16_t>((bits >> 16) | 0x40u);
  }
  const std::uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

// float → IEEE binary16 bits, rounding to nearest even; overflow gives infinity, NaNs stay NaN
// (quiet, upper payload bits kept). After F. Giesen's float_to_half_fast3_rtne.
constexpr std::uint16_t f32_to_f16(float value) noexcept {
  std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  bits &= 0x7fffffffu;
  if (bits >= 0x7f800000u) {  // infinity or NaN
    const std::uint32_t nan_payload = bits > 0x7f800000u ? 0x200u | ((bits >> 13) & 0x3ffu) : 0u;
    return static_cast<std::uint16_t>(sign | 0x7c00u | nan_payload);
  }
  if (bits >= 0x477ff000u) {  // at or above 65520, the midpoint between 65504 and 2^16
    return static_cast<std::uint16_t>(sign | 0x7c00u);
  }
  if (bits < 0x38800000u) {  // below 2^-14: the result is subnormal (or zero)
    // Adding 0.5 puts the value on a grid of 2^-24 (the ulp of 0.5), which is the binary16
    // subnormal grid; the float adder does the round-to-nearest-even.
    const float shifted = std::bit_cast<float>(bits) + 0.5f;
    return static_cast<std::uint16_t>(sign | (std::bit_cast<std::uint32_t>(shifted) - 0x3f000000u));
  }
  const std::uint32_t odd = (bits >> 13) & 1u;
  bits += 0xc8000fffu + odd;  // rebias the exponent by -112 and add the rounding bias
  return static_cast<std::uint16_t>(sign | (bits >> 13));
}

}  // namespace hades
