#include "compute/cpu/int8_kernels.hpp"

#include <cmath>

#include "compute/cpu/vector_math.hpp"

namespace hades::cpu {

HADES_MULTIVERSION
void quantize_rows_u8(const float* x, int64_t rows, int64_t cols, uint8_t* q, float* scales,
                      int32_t* zero_points) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * cols;
    uint8_t* out = q + r * cols;
    float lo = 0.0f;
    float hi = 0.0f;
#pragma omp simd reduction(min : lo) reduction(max : hi)
    for (int64_t i = 0; i < cols; ++i) {
      lo = in[i] < lo ? in[i] : lo;
      hi = in[i] > hi ? in[i] : hi;
    }
    const float range = hi - lo;
    const float scale = range > 0.0f ? range / static_cast<float>(kInputCodeMax) : 1.0f;
    const float inv = 1.0f / scale;
    // lo <= 0 <= hi, so the zero point lies in [0, 255]; the value is not negative, so truncating
    // it plus one half rounds it to nearest.
    const auto zero =
        static_cast<int32_t>(-lo * inv + 0.5f);  // NOLINT(bugprone-incorrect-roundings)
    const auto zero_f = static_cast<float>(zero);
    for (int64_t i = 0; i < cols; ++i) {
      float v = in[i] * inv + zero_f;
      v = v > 0.0f ? v : 0.0f;
      v = v < static_cast<float>(kInputCodeMax) ? v : static_cast<float>(kInputCodeMax);
      out[i] = static_cast<uint8_t>(
          static_cast<int32_t>(v + 0.5f));  // NOLINT(bugprone-incorrect-roundings): v >= 0
    }
    scales[r] = scale;
    zero_points[r] = zero;
  }
}

HADES_MULTIVERSION
int32_t quantize_weight_row(const float* w, int64_t count, int32_t code_max, int8_t* codes,
                            float* scale) {
  float max_abs = 0.0f;
#pragma omp simd reduction(max : max_abs)
  for (int64_t k = 0; k < count; ++k) {
    const float a = std::fabs(w[k]);
    max_abs = a > max_abs ? a : max_abs;
  }
  const auto limit = static_cast<float>(code_max);
  const float s = max_abs > 0.0f ? max_abs / limit : 1.0f;
  int32_t sum = 0;
  // Rounding by parts, because lround is a library call per element: v − trunc(v) is exact, and
  // clamping before rounding gives what clamping after does, the bounds being whole numbers.
#pragma omp simd reduction(+ : sum)
  for (int64_t k = 0; k < count; ++k) {
    float v = w[k] / s;
    v = v == v ? v : 0.0f;  // a NaN weight gets code 0 (converting NaN to an integer is undefined)
    v = v < -limit ? -limit : (v > limit ? limit : v);
    const float whole = std::trunc(v);
    const float part = v - whole;
    const float rounded = whole + (part >= 0.5f ? 1.0f : (part <= -0.5f ? -1.0f : 0.0f));
    const auto code = static_cast<int32_t>(rounded);
    codes[k] = static_cast<int8_t>(code);
    sum += code;
  }
  *scale = s;
  return sum;
}

HADES_MULTIVERSION
void dequantize_rows(const int32_t* acc, int64_t rows, const float* scales,
                     const int32_t* zero_points, const Int8Epilogue& e, float* y) {
  const int64_t n = e.cols;
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t* a = acc + r * n;
    float* out = y + r * (e.y_stride > 0 ? e.y_stride : n);
    const int32_t zero = zero_points[r];
    const float scale = scales[r];
    if (e.accumulate) {
      for (int64_t c = 0; c < n; ++c) {
        out[c] +=
            static_cast<float>(a[c] - zero * e.weight_sums[c]) * (scale * e.weight_scales[c]) +
            e.bias[c];
      }
      continue;
    }
    for (int64_t c = 0; c < n; ++c) {
      out[c] = static_cast<float>(a[c] - zero * e.weight_sums[c]) * (scale * e.weight_scales[c]) +
               e.bias[c];
    }
    activate_row(out, n, e.act);
  }
}

}  // namespace hades::cpu
