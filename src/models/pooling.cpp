#include "models/pooling.hpp"

#include <algorithm>
#include <cmath>

namespace hades {
namespace {

// Pools tokens [begin, end) of `hidden` into out[0, dim) with one mode. Sums run in double so that
// long sequences keep float precision.
void pool_sequence(const float* hidden, int64_t dim, int64_t begin, int64_t end, PoolingMode mode,
                   float* out) {
  const int64_t length = end - begin;
  if (length == 0) {
    std::fill(out, out + dim, 0.0f);
    return;
  }
  switch (mode) {
    case PoolingMode::cls: std::copy_n(hidden + begin * dim, dim, out); return;
    case PoolingMode::last_token: std::copy_n(hidden + (end - 1) * dim, dim, out); return;
    case PoolingMode::max:
      std::copy_n(hidden + begin * dim, dim, out);
      for (int64_t t = begin + 1; t < end; ++t) {
        for (int64_t i = 0; i < dim; ++i) out[i] = std::max(out[i], hidden[t * dim + i]);
      }
      return;
    case PoolingMode::mean:
    case PoolingMode::mean_sqrt_len:
    case PoolingMode::weighted_mean: break;
  }
  std::vector<double> sum(static_cast<size_t>(dim), 0.0);
  double weight_total = 0.0;
  for (int64_t t = begin; t < end; ++t) {
    const double weight =
        mode == PoolingMode::weighted_mean ? static_cast<double>(t - begin + 1) : 1.0;
    weight_total += weight;
    for (int64_t i = 0; i < dim; ++i) sum[i] += weight * hidden[t * dim + i];
  }
  const double divisor =
      mode == PoolingMode::mean_sqrt_len ? std::sqrt(static_cast<double>(length)) : weight_total;
  for (int64_t i = 0; i < dim; ++i) out[i] = static_cast<float>(sum[i] / divisor);
}

}  // namespace

std::vector<float> pool(std::span<const float> hidden, int64_t dim,
                        std::span<const int32_t> cu_seqlens, std::span<const PoolingMode> modes) {
  const auto batch = static_cast<int64_t>(cu_seqlens.size()) - 1;
  const auto width = static_cast<int64_t>(modes.size()) * dim;
  std::vector<float> out(static_cast<size_t>(batch * width));
  for (int64_t b = 0; b < batch; ++b) {
    for (size_t m = 0; m < modes.size(); ++m) {
      pool_sequence(hidden.data(), dim, cu_seqlens[b], cu_seqlens[b + 1], modes[m],
                    out.data() + b * width + static_cast<int64_t>(m) * dim);
    }
  }
  return out;
}

void normalize_rows(std::span<float> rows, int64_t dim) {
  for (size_t start = 0; start + static_cast<size_t>(dim) <= rows.size(); start += dim) {
    double sq = 0.0;
    for (int64_t i = 0; i < dim; ++i) sq += static_cast<double>(rows[start + i]) * rows[start + i];
    const double scale = 1.0 / std::max(std::sqrt(sq), 1e-12);
    for (int64_t i = 0; i < dim; ++i) {
      rows[start + i] = static_cast<float>(rows[start + i] * scale);
    }
  }
}

}  // namespace hades
