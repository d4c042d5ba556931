#include "compute/cpu/int8_kernels.hpp"

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
    // lo <= 0 <= hi, so the zero point lies in [0, 255].
    const auto zero = static_cast<int32_t>(-lo * inv + 0.5f);
    const auto zero_f = static_cast<float>(zero);
    for (int64_t i = 0; i < cols; ++i) {
      float v = in[i] * inv + zero_f;
      v = v > 0.0f ? v : 0.0f;
      v = v < static_cast<float>(kInputCodeMax) ? v : static_cast<float>(kInputCodeMax);
      out[i] = static_cast<uint8_t>(static_cast<int32_t>(v + 0.5f));
    }
    scales[r] = scale;
    zero_points[r] = zero;
  }
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
