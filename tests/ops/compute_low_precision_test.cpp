// Op parity of the CPU backend's int8 and bf16 linear layers against the float32 reference, within
// bounds derived from each format's rounding step (computed per element from the operands), so a
// wrong scale, zero point, bias or saturated product fails while honest rounding passes.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <random>
#include <vector>

#include "compute/backend.hpp"
#include "compute/cpu/int8_kernels.hpp"
#include "core/dtype.hpp"
#include "hades/error.hpp"

namespace hades {
namespace {

std::vector<float> random_vector(size_t n, uint32_t seed, float scale = 1.0f, float mean = 0.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(mean, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

struct LinearCase {
  int64_t rows, in, out;
  bool bias;
  Activation act;
  float x_mean = 0.0f;  // a shifted input makes the zero point matter
};

// The largest slope of each activation (GELU's is about 1.13), to carry a bound through it.
double slope(Activation act) {
  return act == Activation::gelu_erf || act == Activation::gelu_tanh ? 1.13 : 1.0;
}

// Bound on |x·w − x̂·ŵ| for one output: weights rounded to half a step of max|w[c]| / 63 (7-bit
// codes: the bound of CPUs without VNNI, the looser one), inputs to half a step of their row's
// range [min(x, 0), max(x, 0)] / 255.
std::vector<double> int8_bounds(const std::vector<float>& x, const std::vector<float>& w,
                                const LinearCase& c) {
  std::vector<double> bounds(static_cast<size_t>(c.rows * c.out));
  for (int64_t r = 0; r < c.rows; ++r) {
    const float* xr = x.data() + r * c.in;
    const double lo = std::min(0.0f, *std::min_element(xr, xr + c.in));
    const double hi = std::max(0.0f, *std::max_element(xr, xr + c.in));
    const double x_step = (hi - lo) / 255.0;
    for (int64_t o = 0; o < c.out; ++o) {
      const float* wo = w.data() + o * c.in;
      double w_max = 0.0;
      for (int64_t k = 0; k < c.in; ++k) w_max = std::max(w_max, std::fabs(double{wo[k]}));
      const double w_step = w_max / 63.0;
      double bound = 0.0;
      for (int64_t k = 0; k < c.in; ++k) {
        bound += std::fabs(xr[k]) * w_step / 2 + (std::fabs(wo[k]) + w_step / 2) * x_step / 2;
      }
      bounds[r * c.out + o] = bound;
    }
  }
  return bounds;
}

// bf16 keeps 8 significant bits: each operand within 2^-9 relative, so a product within ~2^-8.
std::vector<double> bf16_bounds(const std::vector<float>& x, const std::vector<float>& w,
                                const LinearCase& c) {
  std::vector<double> bounds(static_cast<size_t>(c.rows * c.out));
  for (int64_t r = 0; r < c.rows; ++r) {
    for (int64_t o = 0; o < c.out; ++o) {
      double sum = 0.0;
      for (int64_t k = 0; k < c.in; ++k) sum += std::fabs(x[r * c.in + k] * w[o * c.in + k]);
      bounds[r * c.out + o] = sum * std::ldexp(1.0, -8);
    }
  }
  return bounds;
}

void expect_within(const std::vector<float>& expected, const std::vector<float>& actual,
                   const std::vector<double>& bounds, double act_slope) {
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const double allowed = bounds[i] * act_slope + 1e-5 * (1.0 + std::fabs(expected[i]));
    ASSERT_LE(std::fabs(double{expected[i]} - actual[i]), allowed)
        << "at index " << i << ": expected " << expected[i] << ", got " << actual[i];
  }
}

const std::vector<LinearCase>& cases() {
  static const std::vector<LinearCase> all = {
      {1, 8, 4, true, Activation::none},
      {9, 384, 1152, true, Activation::none},
      {33, 384, 1536, true, Activation::gelu_erf},
      {17, 1536, 384, true, Activation::none, 0.5f},
      {5, 40, 24, false, Activation::gelu_tanh},
      {64, 96, 80, true, Activation::relu, -0.3f},
      {9, 24, 40, true, Activation::tanh},
      {700, 64, 48, true, Activation::gelu_erf, 1.0f},  // several row blocks, several threads
      {2, 32, 97, true, Activation::gelu_erf},          // int8: column slices of unequal widths
      {0, 16, 16, true, Activation::gelu_erf},
  };
  return all;
}

using Bounds = std::vector<double> (*)(const std::vector<float>&, const std::vector<float>&,
                                       const LinearCase&);

void check_linear(const Backend& backend, Bounds bounds_of) {
  const auto reference = make_reference_backend();
  uint32_t seed = 1;
  for (const LinearCase& c : cases()) {
    SCOPED_TRACE(testing::Message() << c.rows << "x" << c.in << "->" << c.out);
    const auto w = random_vector(static_cast<size_t>(c.in * c.out), seed++, 0.2f);
    const auto b =
        c.bias ? random_vector(static_cast<size_t>(c.out), seed++) : std::vector<float>{};
    const auto x = random_vector(static_cast<size_t>(c.rows * c.in), seed++, 1.0f, c.x_mean);
    const LinearWeights weights{w, b, c.in, c.out};
    std::vector<float> expected(static_cast<size_t>(c.rows * c.out));
    std::vector<float> actual(expected.size());
    reference->linear(*reference->pack_linear(weights), x.data(), c.rows, expected.data(), c.act);
    backend.linear(*backend.pack_linear(weights), x.data(), c.rows, actual.data(), c.act);
    expect_within(expected, actual, bounds_of(x, w, c), slope(c.act));
    // The residual form: y += x · Wᵀ + b.
    const auto residual = random_vector(expected.size(), seed++);
    auto expected_sum = residual;
    auto actual_sum = residual;
    reference->linear_add(*reference->pack_linear(weights), x.data(), c.rows, expected_sum.data());
    backend.linear_add(*backend.pack_linear(weights), x.data(), c.rows, actual_sum.data());
    expect_within(expected_sum, actual_sum, bounds_of(x, w, c), 1.0);
  }
}

TEST(LowPrecisionTest, Int8LinearIsWithinItsQuantizationStep) {
  const auto int8 = make_cpu_backend({.linear_precision = LinearPrecision::int8});
  check_linear(*int8, int8_bounds);
}

// Every input at the top of its range and every weight at the top of its: two u8 · s8 products
// summed in 16 bits would saturate (2 · 255 · 127 > 32767) without 7-bit weight codes.
TEST(LowPrecisionTest, Int8ProductsDoNotSaturate) {
  const int64_t rows = 3, in = 256, out = 16;
  const LinearCase c{rows, in, out, false, Activation::none};
  std::vector<float> w(static_cast<size_t>(in * out), 0.5f);
  std::vector<float> x(static_cast<size_t>(rows * in), 4.0f);
  const auto reference = make_reference_backend();
  const auto int8 = make_cpu_backend({.linear_precision = LinearPrecision::int8});
  std::vector<float> expected(static_cast<size_t>(rows * out)), actual(expected.size());
  reference->linear(*reference->pack_linear({w, {}, in, out}), x.data(), rows, expected.data(),
                    Activation::none);
  int8->linear(*int8->pack_linear({w, {}, in, out}), x.data(), rows, actual.data(),
               Activation::none);
  expect_within(expected, actual, int8_bounds(x, w, c), 1.0);
}

// The vectorised weight quantizer against the plain one it replaced: lround(w / scale) clamped,
// on random rows (every length around the vector widths) and on rows full of exact halves.
TEST(LowPrecisionTest, Int8WeightCodesAreRoundedAsLroundDoes) {
  const auto check = [](const std::vector<float>& row, int32_t code_max) {
    float max_abs = 0.0f;
    for (const float v : row) max_abs = std::max(max_abs, std::fabs(v));
    const float scale = max_abs > 0.0f ? max_abs / static_cast<float>(code_max) : 1.0f;
    std::vector<int8_t> codes(row.size());
    float actual_scale = 0.0f;
    const int32_t sum = cpu::quantize_weight_row(row.data(), static_cast<int64_t>(row.size()),
                                                 code_max, codes.data(), &actual_scale);
    EXPECT_EQ(actual_scale, scale);
    int32_t expected_sum = 0;
    for (size_t k = 0; k < row.size(); ++k) {
      const auto code =
          std::clamp(static_cast<int32_t>(std::lround(row[k] / scale)), -code_max, code_max);
      ASSERT_EQ(codes[k], code) << "element " << k << " of " << row.size() << ": " << row[k];
      expected_sum += code;
    }
    EXPECT_EQ(sum, expected_sum);
  };
  for (const int64_t length : {1, 7, 15, 16, 17, 31, 32, 33, 64, 100, 384, 1000}) {
    check(random_vector(static_cast<size_t>(length), static_cast<uint32_t>(length)), 127);
    check(random_vector(static_cast<size_t>(length), static_cast<uint32_t>(length) + 1), 63);
  }
  // max |w| = 127 makes the scale exactly 1: each w is its own code before rounding.
  std::vector<float> halves{127.0f,      -127.0f,      0.5f,  -0.5f,  1.5f,
                            -1.5f,       2.5f,         -2.5f, 126.5f, -126.5f,
                            0.49999997f, -0.49999997f, 0.0f,  -0.0f,  3.4999998f};
  for (int i = 0; i < 40; ++i) halves.push_back(static_cast<float>(i % 17) - 8.5f);
  check(halves, 127);
  check(std::vector<float>(33, 0.0f), 127);
  // A NaN weight (a corrupt file) gets code 0; the others keep theirs.
  std::vector<float> with_nan(20, 2.0f);
  with_nan[3] = std::nanf("");
  with_nan[0] = 127.0f;
  std::vector<int8_t> codes(with_nan.size());
  float scale = 0.0f;
  const int32_t sum = cpu::quantize_weight_row(with_nan.data(), 20, 127, codes.data(), &scale);
  EXPECT_EQ(scale, 1.0f);
  EXPECT_EQ(codes[3], 0);
  EXPECT_EQ(codes[5], 2);
  EXPECT_EQ(sum, 127 + 18 * 2);
}

TEST(LowPrecisionTest, Int8WeightsHoldAQuarterOfTheBytes) {
  const auto w = random_vector(384 * 1536, 3);
  const LinearWeights weights{w, {}, 384, 1536};
  const auto fp32 = make_cpu_backend()->pack_linear(weights);
  const auto int8 =
      make_cpu_backend({.linear_precision = LinearPrecision::int8})->pack_linear(weights);
  EXPECT_GE(fp32->held_bytes(), 384u * 1536u * 4u);
  EXPECT_LT(int8->held_bytes(), fp32->held_bytes() / 3);
}

TEST(LowPrecisionTest, Bf16LinearIsWithinItsRoundingStep) {
  // oneDNN 2.6 has no bf16 matmul at all for CPUs without AVX-512 (not even a reference one).
  if (!cpu_precision_unavailable(LinearPrecision::bf16).empty()) GTEST_SKIP() << "no native bf16";
  const auto bf16 = make_cpu_backend({.linear_precision = LinearPrecision::bf16});
  check_linear(*bf16, bf16_bounds);
}

float round_through_bf16(float x) {
  return std::bit_cast<float>(static_cast<uint32_t>(f32_to_bf16(x)) << 16);
}

// bf16 attention rounds q, k, v and the softmax's weights to bf16. Against the reference run on q,
// k, v already rounded, what is left is the weights' rounding: each output moves by at most
// 2^-9 (half a bf16 step, relative) of the largest |v| its row sees, plus float32 noise.
TEST(LowPrecisionTest, Bf16AttentionIsWithinItsRoundingStep) {
  if (!cpu_precision_unavailable(LinearPrecision::bf16).empty()) GTEST_SKIP() << "no native bf16";
  struct Case {
    std::vector<int32_t> cu;
    int64_t heads, head_dim, window;
  };
  const std::vector<Case> cases = {
      {{0, 1}, 1, 16, 0},         {{0, 5, 6, 40}, 12, 32, 0},
      {{0, 3, 80, 81}, 2, 64, 0}, {{0, 70, 71, 200}, 4, 16, 16},
      {{0, 33}, 3, 48, 5},        {{0, 0, 7}, 2, 32, 0},
      {{0, 300}, 2, 32, 0},  // several blocks of query rows
      {{0, 9}, 2, 20, 0},    // a head width the bf16 kernel does not take: float32
  };
  const auto reference = make_reference_backend();
  const auto bf16 = make_cpu_backend({.linear_precision = LinearPrecision::bf16});
  uint32_t seed = 200;
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << c.cu.back() << " tokens, head_dim " << c.head_dim);
    const int64_t tokens = c.cu.back();
    const int64_t hidden = c.heads * c.head_dim;
    auto qkv = random_vector(static_cast<size_t>(tokens * 3 * hidden), seed++);
    for (float& x : qkv) x = round_through_bf16(x);
    const AttentionParams params{c.cu, c.heads, c.head_dim,
                                 1.0f / std::sqrt(static_cast<float>(c.head_dim)), c.window};
    std::vector<float> expected(static_cast<size_t>(tokens * hidden));
    std::vector<float> actual(expected.size(), NAN);
    reference->attention(qkv.data(), params, expected.data());
    bf16->attention(qkv.data(), params, actual.data());
    float largest_v = 0.0f;
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t i = 0; i < hidden; ++i) {
        largest_v = std::max(largest_v,
                             std::fabs(qkv[static_cast<size_t>(t * 3 * hidden + 2 * hidden + i)]));
      }
    }
    const double bound = largest_v / 512.0 + 1e-5;
    for (size_t i = 0; i < expected.size(); ++i) {
      ASSERT_LE(std::fabs(double{expected[i]} - actual[i]), bound) << "element " << i;
    }
  }
}

TEST(LowPrecisionTest, Bf16WithoutNativeSupportIsRefusedNamingTheCpu) {
  const std::string lack = cpu_precision_unavailable(LinearPrecision::bf16);
  if (lack.empty()) GTEST_SKIP() << "this CPU has native bf16";
  EXPECT_NE(lack.find("AVX512-BF16"), std::string::npos) << lack;
  try {
    make_cpu_backend({.linear_precision = LinearPrecision::bf16});
    FAIL() << "bf16 was accepted on a CPU without it";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_EQ(std::string(e.what()), lack);
  }
  EXPECT_TRUE(cpu_precision_unavailable(LinearPrecision::int8).empty());
}

}  // namespace
}  // namespace hades
