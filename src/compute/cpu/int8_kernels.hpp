// The vectorised parts of the CPU backend's int8 linear layers (int8_linear.cpp): quantizing the
// input rows before the integer matmul, and the float32 epilogue after it. Each is compiled for
// AVX-512, AVX2 with FMA and baseline x86-64 and picks the best at run time, as kernels.cpp does.
#pragma once

#include <cstdint>

#include "compute/backend.hpp"

namespace hades::cpu {

// The largest code of the unsigned 8-bit input: x ≈ (q − zero_point) · scale, q in [0, 255].
constexpr int32_t kInputCodeMax = 255;

// Quantizes each row of x [rows, cols] asymmetrically to u8: its range [min(x, 0), max(x, 0)]
// maps onto [0, 255] (0 stays exact), rounding to nearest. Writes q [rows, cols] and each row's
// scale and zero point.
void quantize_rows_u8(const float* x, int64_t rows, int64_t cols, uint8_t* q, float* scales,
                      int32_t* zero_points);

// Quantizes one row of weights symmetrically: scale = max |w| / code_max (1 for a row of zeros),
// code = round(w / scale) with halves away from zero (as std::lround), within ±code_max; a NaN
// weight gets code 0. Writes the codes and the scale; returns the sum of the codes.
int32_t quantize_weight_row(const float* w, int64_t count, int32_t code_max, int8_t* codes,
                            float* scale);

// What the epilogue needs of the layer: per output column c, the sum over k of the quantized
// weights (to remove the input's zero point), the weight scale and the bias (never null).
struct Int8Epilogue {
  const int32_t* weight_sums = nullptr;
  const float* weight_scales = nullptr;
  const float* bias = nullptr;
  int64_t cols = 0;
  Activation act = Activation::none;
  bool accumulate = false;  // y += result (no activation) instead of y = act(result)
  int64_t y_stride = 0;     // between y's rows; 0: cols (a column slice of y sets the full width)
};

// y[r, c] (+)= act((acc[r, c] − zero_points[r] · weight_sums[c]) · scales[r] · weight_scales[c]
// + bias[c]) for the rows of one block; acc is the integer matmul's [rows, cols] result, y's rows
// are e.y_stride apart.
void dequantize_rows(const int32_t* acc, int64_t rows, const float* scales,
                     const int32_t* zero_points, const Int8Epilogue& e, float* y);

}  // namespace hades::cpu
