// The reference backend: the plainest correct loops, accumulating in double. It is the oracle
// that every other backend's ops are tested against (tests/ops), never the fast path.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "compute/backend.hpp"
#include "compute/ops_common.hpp"
#include "hades/error.hpp"

namespace hades {
namespace {

class ReferenceLinear final : public PackedLinear {
 public:
  explicit ReferenceLinear(const LinearWeights& w)
      : PackedLinear(w.in_features, w.out_features),
        weight_(w.weight.begin(), w.weight.end()),
        bias_(w.bias.begin(), w.bias.end()) {}

  std::vector<float> weight_;  // [out, in], as given
  std::vector<float> bias_;
};

void rms_norm_row(const float* x, int64_t dim, const RmsNormParams& p, float* out) {
  double sq = 0.0;
  for (int64_t i = 0; i < dim; ++i) sq += static_cast<double>(x[i]) * x[i];
  const double inv = 1.0 / std::sqrt(sq / static_cast<double>(dim) + p.eps);
  for (int64_t i = 0; i < dim; ++i) out[i] = static_cast<float>(x[i] * inv * p.gamma[i]);
}

class ReferenceBackend final : public Backend {
 public:
  std::string_view name() const override { return "reference"; }

  std::unique_ptr<PackedLinear> pack_linear(const LinearWeights& weights) const override {
    check_linear_weights(weights);
    return std::make_unique<ReferenceLinear>(weights);
  }

  void linear(const PackedLinear& layer, const float* x, int64_t rows, float* y,
              Activation act) const override {
    const auto& l = static_cast<const ReferenceLinear&>(layer);
    const int64_t in = l.in_features();
    const int64_t out = l.out_features();
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t o = 0; o < out; ++o) {
        double acc = l.bias_.empty() ? 0.0 : l.bias_[o];
        for (int64_t i = 0; i < in; ++i) {
          acc += static_cast<double>(x[r * in + i]) * l.weight_[o * in + i];
        }
        y[r * out + o] = apply_activation(static_cast<float>(acc), act);
      }
    }
  }

  void linear_add(const PackedLinear& layer, const float* x, int64_t rows,
                  float* y) const override {
    std::vector<float> product(static_cast<size_t>(rows * layer.out_features()));
    linear(layer, x, rows, product.data(), Activation::none);
    for (size_t i = 0; i < product.size(); ++i) y[i] += product[i];
  }

  void layer_norm(const float* x, int64_t rows, int64_t dim, const LayerNormParams& p,
                  float* out) const override {
    std::copy(x, x + rows * dim, out);
    add_layer_norm(out, nullptr, rows, dim, p);
  }

  void add_layer_norm(float* x, const float* residual, int64_t rows, int64_t dim,
                      const LayerNormParams& p) const override {
    for (int64_t r = 0; r < rows; ++r) {
      float* row = x + r * dim;
      if (residual != nullptr) {
        for (int64_t i = 0; i < dim; ++i) row[i] += residual[r * dim + i];
      }
      double mean = 0.0;
      for (int64_t i = 0; i < dim; ++i) mean += row[i];
      mean /= static_cast<double>(dim);
      double var = 0.0;
      for (int64_t i = 0; i < dim; ++i) var += (row[i] - mean) * (row[i] - mean);
      var /= static_cast<double>(dim);
      const double inv = 1.0 / std::sqrt(var + p.eps);
      for (int64_t i = 0; i < dim; ++i) {
        const double beta = p.beta.empty() ? 0.0 : p.beta[i];
        row[i] = static_cast<float>((row[i] - mean) * inv * p.gamma[i] + beta);
      }
    }
  }

  void rms_norm(const float* x, int64_t rows, int64_t dim, const RmsNormParams& p,
                float* out) const override {
    for (int64_t r = 0; r < rows; ++r) rms_norm_row(x + r * dim, dim, p, out + r * dim);
  }

  void head_rms_norm(float* qkv, const HeadNormParams& p) const override {
    check_head_norm_params(p);
    const int64_t kv_heads = kv_heads_of(p.num_heads, p.num_kv_heads);
    const int64_t stride = (p.num_heads + 2 * kv_heads) * p.head_dim;
    for (int64_t t = 0; t < p.tokens; ++t) {
      for (int64_t h = 0; h < p.num_heads + kv_heads; ++h) {
        float* head = qkv + t * stride + h * p.head_dim;
        rms_norm_row(head, p.head_dim, h < p.num_heads ? p.q : p.k, head);
      }
    }
  }

  void attention(const float* qkv, const AttentionParams& p, float* out) const override {
    check_attention_params(p);
    const int64_t kv_heads = kv_heads_of(p.num_heads, p.num_kv_heads);
    const int64_t hidden = p.num_heads * p.head_dim;
    const int64_t kv_width = kv_heads * p.head_dim;
    const int64_t stride = hidden + 2 * kv_width;
    for (size_t b = 0; b + 1 < p.cu_seqlens.size(); ++b) {
      const int64_t begin = p.cu_seqlens[b];
      const int64_t end = p.cu_seqlens[b + 1];
      const AttentionReach reach = attention_reach(p, end - begin);
      for (int64_t h = 0; h < p.num_heads; ++h) {
        const int64_t k_offset = hidden + h / (p.num_heads / kv_heads) * p.head_dim;
        for (int64_t i = begin; i < end; ++i) {
          const float* q = qkv + i * stride + h * p.head_dim;
          std::vector<double> scores;
          std::vector<int64_t> keys;
          for (int64_t j = begin; j < end; ++j) {
            if (j < i - reach.left || j > i + reach.right) continue;
            const float* k = qkv + j * stride + k_offset;
            double dot = 0.0;
            for (int64_t d = 0; d < p.head_dim; ++d) dot += static_cast<double>(q[d]) * k[d];
            scores.push_back(dot * p.scale);
            keys.push_back(j);
          }
          const double max = *std::max_element(scores.begin(), scores.end());
          double sum = 0.0;
          for (double& s : scores) sum += (s = std::exp(s - max));
          float* o = out + i * hidden + h * p.head_dim;
          for (int64_t d = 0; d < p.head_dim; ++d) {
            double acc = 0.0;
            for (size_t n = 0; n < keys.size(); ++n) {
              acc += scores[n] * qkv[keys[n] * stride + k_offset + kv_width + d];
            }
            o[d] = static_cast<float>(acc / sum);
          }
        }
      }
    }
  }

  void rotary(float* qkv, const RotaryParams& p) const override {
    check_rotary_params(p);
    const int64_t rotated = p.num_heads + kv_heads_of(p.num_heads, p.num_kv_heads);
    const int64_t stride = (rotated + kv_heads_of(p.num_heads, p.num_kv_heads)) * p.head_dim;
    const int64_t half = p.head_dim / 2;
    for (size_t b = 0; b + 1 < p.cu_seqlens.size(); ++b) {
      for (int64_t t = p.cu_seqlens[b]; t < p.cu_seqlens[b + 1]; ++t) {
        const auto position = static_cast<float>(t - p.cu_seqlens[b]);
        for (int64_t h = 0; h < rotated; ++h) {  // the q heads, then the k heads
          float* x = qkv + t * stride + h * p.head_dim;
          for (int64_t i = 0; i < half; ++i) {
            const double angle = position * rotary_inv_freq(i, p.head_dim, p.theta);
            const double x1 = x[i];
            const double x2 = x[i + half];
            x[i] = static_cast<float>(x1 * std::cos(angle) - x2 * std::sin(angle));
            x[i + half] = static_cast<float>(x2 * std::cos(angle) + x1 * std::sin(angle));
          }
        }
      }
    }
  }

  void gated_activation(const float* x, int64_t rows, int64_t width, Activation act,
                        float* out) const override {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < width; ++i) {
        out[r * width + i] =
            apply_activation(x[r * 2 * width + i], act) * x[r * 2 * width + width + i];
      }
    }
  }

  void embedding_lookup(const float* table, int64_t table_rows, int64_t dim,
                        std::span<const int32_t> ids, float* out, bool accumulate) const override {
    for (size_t r = 0; r < ids.size(); ++r) {
      check_embedding_id(ids[r], table_rows);
      const float* src = table + static_cast<int64_t>(ids[r]) * dim;
      float* dst = out + static_cast<int64_t>(r) * dim;
      for (int64_t i = 0; i < dim; ++i) dst[i] = accumulate ? dst[i] + src[i] : src[i];
    }
  }
};

}  // namespace

std::unique_ptr<Backend> make_reference_backend() {
  return std::make_unique<ReferenceBackend>();
}

}  // namespace hades
