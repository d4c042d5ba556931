// Branch-free scalar math written so that loops around it vectorise (libm's expf and erff do
// not). Inline: each is compiled into the multiversioned kernel that calls it. The files that use
// it are compiled with -fno-trapping-math and -ffp-contract=fast (see src/compute/CMakeLists.txt).
#pragma once

#include <bit>
#include <cstdint>

#include "compute/backend.hpp"

namespace hades::cpu {

// A kernel compiled for x86-64-v4 (AVX-512), x86-64-v3 (AVX2 with FMA) and baseline x86-64, the
// best picked at run time (GCC function multi-versioning). "avx2" alone would leave out FMA, and
// with it the fused multiply-adds that -ffp-contract=fast asks for.
#define HADES_MULTIVERSION \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

// e^x for x <= 0 within about 2 ulp (Cephes' expf: x = n ln2 + r, |r| <= ln2/2, a degree-6
// polynomial for e^r, 2^n put into the exponent bits), written without branches or calls so that
// the loop around it vectorises; libm's expf does not. Below -87 it returns 0.
__attribute__((always_inline)) inline float exp_nonpositive(float x) {
  x = x > -87.0f ? x : -87.0f;
  // Round to nearest by the 1.5 · 2^23 trick: the addition drops the fraction bits.
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * std::bit_cast<float>(static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23);
}

// tanh(x) = sign(x) · (1 − e^(−2|x|)) / (1 + e^(−2|x|)), from exp_nonpositive.
__attribute__((always_inline)) inline float tanh_approx(float x) {
  const float a = x < 0.0f ? -x : x;
  const float e = exp_nonpositive(-2.0f * a);
  const float t = (1.0f - e) / (1.0f + e);
  return x < 0.0f ? -t : t;
}

// erf(x) within 1.5e-7 absolute (Abramowitz & Stegun 7.1.26), odd in x.
__attribute__((always_inline)) inline float erf_approx(float x) {
  const float a = x < 0.0f ? -x : x;
  const float t = 1.0f / (1.0f + 0.3275911f * a);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  const float e = 1.0f - p * t * exp_nonpositive(-a * a);
  return x < 0.0f ? -e : e;
}

// The activations as ops_common.hpp's apply_activation defines them, in branch-free float32
// (within about 2e-7 of it) so that the loop over a row vectorises.
__attribute__((always_inline)) inline void activate_row(float* y, int64_t n, Activation act) {
  constexpr float kInvSqrt2 = 0.70710678118654752f;
  constexpr float kSqrt2OverPi = 0.79788456080286536f;
  switch (act) {
    case Activation::none: return;
    case Activation::relu:
      for (int64_t i = 0; i < n; ++i) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
      return;
    case Activation::tanh:
      for (int64_t i = 0; i < n; ++i) y[i] = tanh_approx(y[i]);
      return;
    case Activation::gelu_erf:
      for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * y[i] * (1.0f + erf_approx(y[i] * kInvSqrt2));
      return;
    case Activation::gelu_tanh:
      for (int64_t i = 0; i < n; ++i) {
        const float x = y[i];
        y[i] = 0.5f * x * (1.0f + tanh_approx(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
      }
      return;
    case Activation::silu:
      // sigmoid from e^(−|x|), which never overflows: 1 / (1 + e) for x ≥ 0, e / (1 + e) below.
      for (int64_t i = 0; i < n; ++i) {
        const float x = y[i];
        const float e = exp_nonpositive(x < 0.0f ? x : -x);
        y[i] = x * (x < 0.0f ? e : 1.0f) / (1.0f + e);
      }
      return;
  }
}

// The end of a linear layer's row in the few-row kernels (small_gemm, panel_gemm), as oneDNN
// applies it after the product: sums[0, n) plus bias (null: none), then act and stored into dst,
// or added into dst when `accumulate` (act is then none). sums is overwritten.
__attribute__((always_inline)) inline void finish_row(float* sums, const float* bias, int64_t n,
                                                      float* dst, Activation act, bool accumulate) {
  if (bias != nullptr) {
    for (int64_t j = 0; j < n; ++j) sums[j] += bias[j];
  }
  if (accumulate) {
    for (int64_t j = 0; j < n; ++j) dst[j] += sums[j];
    return;
  }
  activate_row(sums, n, act);
  for (int64_t j = 0; j < n; ++j) dst[j] = sums[j];
}

}  // namespace hades::cpu
