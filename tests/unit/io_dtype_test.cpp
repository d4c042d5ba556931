// DType names and sizes, and the 16-bit float conversions: exhaustive over all 65,536 inputs.
#include "core/dtype.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

namespace hades {
namespace {

std::uint32_t bits_of(float value) {
  return std::bit_cast<std::uint32_t>(value);
}

// The value of binary16 `half` computed from the definition, independently of f16_to_f32.
float reference_f16(std::uint16_t half) {
  const int exponent = (half >> 10) & 0x1f;
  const int mantissa = half & 0x3ff;
  const float sign = (half & 0x8000) != 0 ? -1.0f : 1.0f;
  if (exponent == 0) return sign * std::ldexp(static_cast<float>(mantissa), -24);
  if (exponent == 31) return mantissa == 0 ? sign * std::numeric_limits<float>::infinity() : NAN;
  return sign * std::ldexp(static_cast<float>(1024 + mantissa), exponent - 25);
}

TEST(DType, NamesRoundTripAndAreCaseSensitive) {
  for (const DType dtype : kAllDTypes) {
    EXPECT_EQ(parse_dtype(dtype_name(dtype)), dtype) << dtype_name(dtype);
  }
  EXPECT_EQ(std::size(kAllDTypes), 22u);
  EXPECT_EQ(parse_dtype("F32"), DType::f32);
  EXPECT_EQ(parse_dtype("BOOL"), DType::boolean);
  EXPECT_EQ(parse_dtype("F8_E4M3"), DType::f8_e4m3);
  EXPECT_FALSE(parse_dtype("f32"));
  EXPECT_FALSE(parse_dtype("F17"));
  EXPECT_FALSE(parse_dtype(""));
  EXPECT_FALSE(parse_dtype(std::string_view("F32\0", 4)));
}

TEST(DType, BitsAndBytes) {
  EXPECT_EQ(dtype_bits(DType::f4), 4);
  EXPECT_EQ(dtype_bits(DType::f6_e3m2), 6);
  EXPECT_EQ(dtype_size(DType::f4), 0u);  // packed: no per-element byte size
  EXPECT_EQ(dtype_size(DType::boolean), 1u);
  EXPECT_EQ(dtype_size(DType::f8_e5m2), 1u);
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
  EXPECT_EQ(dtype_size(DType::f32), 4u);
  EXPECT_EQ(dtype_size(DType::c64), 8u);
  EXPECT_EQ(dtype_size(DType::u64), 8u);
  EXPECT_TRUE(is_loadable_float(DType::f16));
  EXPECT_FALSE(is_loadable_float(DType::f64));
  EXPECT_FALSE(is_loadable_float(DType::i64));
}

TEST(DType, ConversionsAreConstexpr) {
  static_assert(f16_to_f32(0x3c00) == 1.0f);
  static_assert(bf16_to_f32(0x3f80) == 1.0f);
  static_assert(f32_to_f16(1.0f) == 0x3c00);
  static_assert(f32_to_bf16(1.0f) == 0x3f80);
}

TEST(DType, F16ToF32IsExactForAllInputs) {
  for (std::uint32_t i = 0; i <= 0xffff; ++i) {
    const auto half = static_cast<std::uint16_t>(i);
    const float converted = f16_to_f32(half);
    if (((half >> 10) & 0x1f) == 0x1f && (half & 0x3ff) != 0) {
      // NaN: exponent all ones, sign and payload carried over bit for bit.
      const std::uint32_t expected =
          (static_cast<std::uint32_t>(half & 0x8000) << 16) | 0x7f800000u | ((half & 0x3ffu) << 13);
      ASSERT_EQ(bits_of(converted), expected) << std::hex << i;
    } else {
      ASSERT_EQ(bits_of(converted), bits_of(reference_f16(half))) << std::hex << i;
    }
  }
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));     // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x03ff), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(f16_to_f32(0x0400), std::ldexp(1.0f, -14));     // smallest normal
  EXPECT_TRUE(std::signbit(f16_to_f32(0x8000)));
  EXPECT_EQ(f16_to_f32(0x8000), 0.0f);
  EXPECT_EQ(f16_to_f32(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7e00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7c01)));  // signalling NaN stays NaN
}

TEST(DType, Bf16ToF32IsExactForAllInputs) {
  for (std::uint32_t i = 0; i <= 0xffff; ++i) {
    ASSERT_EQ(bits_of(bf16_to_f32(static_cast<std::uint16_t>(i))), i << 16) << std::hex << i;
  }
  EXPECT_EQ(bf16_to_f32(0x0001), std::ldexp(1.0f, -133));  // subnormal
  EXPECT_EQ(bf16_to_f32(0xff80), -std::numeric_limits<float>::infinity());
}

TEST(DType, F32ToF16RoundTripsEveryHalf) {
  for (std::uint32_t i = 0; i <= 0xffff; ++i) {
    const auto half = static_cast<std::uint16_t>(i);
    const float value = f16_to_f32(half);
    if (std::isnan(value)) {
      const std::uint16_t back = f32_to_f16(value);
      ASSERT_EQ(back & 0x7c00, 0x7c00) << std::hex << i;
      ASSERT_NE(back & 0x3ff, 0) << std::hex << i;
    } else {
      ASSERT_EQ(f32_to_f16(value), half) << std::hex << i;
    }
  }
}

TEST(DType, F32ToF16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie → even (down)
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie → even (up)
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // the midpoint to 2^16 rounds to infinity
  EXPECT_EQ(f32_to_f16(-1e10f), 0xfc00);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);      // half the smallest subnormal: even
  EXPECT_EQ(f32_to_f16(3 * std::ldexp(1.0f, -26)), 0x0001);  // 0.75 of it rounds up
  EXPECT_EQ(f32_to_f16(3 * std::ldexp(1.0f, -25)), 0x0002);  // 1.5 → 2 (even)
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);

  // Against a brute-force nearest-value search on random floats in the binary16 range.
  std::mt19937 random(7);
  std::uniform_real_distribution<float> magnitude(-17.0f, 16.0f);
  for (int i = 0; i < 100000; ++i) {
    const float value =
        std::ldexp(1.0f + magnitude(random) / 64.0f, static_cast<int>(magnitude(random)));
    const std::uint16_t half = f32_to_f16(value);
    if (half == 0x7c00) {  // overflow: correct exactly when value is at or past the midpoint
      ASSERT_GE(value, 65520.0f);
      continue;
    }
    const double error = std::abs(static_cast<double>(f16_to_f32(half)) - value);
    for (const int step : {-1, 1}) {
      const auto neighbour = static_cast<std::uint16_t>(half + step);
      if ((neighbour & 0x7c00) == 0x7c00) continue;
      const double other = std::abs(static_cast<double>(f16_to_f32(neighbour)) - value);
      ASSERT_TRUE(error < other || (error == other && (half & 1) == 0)) << value;
    }
  }
}

TEST(DType, F32ToBf16RoundsToNearestEven) {
  for (std::uint32_t i = 0; i <= 0xffff; ++i) {
    const auto bf16 = static_cast<std::uint16_t>(i);
    const float value = bf16_to_f32(bf16);
    if (!std::isnan(value)) {
      ASSERT_EQ(f32_to_bf16(value), bf16) << std::hex << i;
    }
  }
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie → even (down)
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie → even (up)
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808001u)), 0x3f81);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::bit_cast<float>(0x7f800001u)))));
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x7f7fffffu)), 0x7f80);  // FLT_MAX rounds to inf
}

}  // namespace
}  // namespace hades
