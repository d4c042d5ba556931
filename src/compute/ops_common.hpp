// Checks and scalar math shared by every backend, so that all backends agree on what is valid
// input and on the exact definition of each activation.
#pragma once

#include <cmath>
#include <string>

#include "compute/backend.hpp"
#include "hades/error.hpp"

namespace hades {

inline void check_linear_weights(const LinearWeights& w) {
  if (w.in_features <= 0 || w.out_features <= 0 ||
      w.weight.size() != static_cast<size_t>(w.in_features * w.out_features) ||
      (!w.bias.empty() && w.bias.size() != static_cast<size_t>(w.out_features))) {
    throw Error(ErrorCode::internal, "pack_linear: weight/bias sizes do not match [" +
                                         std::to_string(w.out_features) + ", " +
                                         std::to_string(w.in_features) + "]");
  }
}

// The key/value heads of a grouped-query layout (AttentionParams::num_kv_heads); 0 means heads.
inline int64_t kv_heads_of(int64_t num_heads, int64_t num_kv_heads) {
  return num_kv_heads > 0 ? num_kv_heads : num_heads;
}

inline bool valid_kv_heads(int64_t num_heads, int64_t num_kv_heads) {
  return num_kv_heads >= 0 && num_heads % kv_heads_of(num_heads, num_kv_heads) == 0;
}

// How far a query sees in a sequence of `length` tokens: keys j with i - left <= j <= i + right.
struct AttentionReach {
  int64_t left = 0;
  int64_t right = 0;
};

inline AttentionReach attention_reach(const AttentionParams& p, int64_t length) {
  const int64_t half = p.window > 0 ? p.window / 2 : length;
  return {half, p.causal ? 0 : half};
}

inline void check_attention_params(const AttentionParams& p) {
  if (p.num_heads <= 0 || p.head_dim <= 0 || p.cu_seqlens.empty() || p.cu_seqlens[0] != 0 ||
      !valid_kv_heads(p.num_heads, p.num_kv_heads)) {
    throw Error(ErrorCode::internal, "attention: invalid heads, kv heads, head_dim or cu_seqlens");
  }
  for (size_t b = 1; b < p.cu_seqlens.size(); ++b) {
    if (p.cu_seqlens[b] < p.cu_seqlens[b - 1]) {
      throw Error(ErrorCode::internal, "attention: cu_seqlens must not decrease");
    }
  }
}

inline void check_embedding_id(int32_t id, int64_t table_rows) {
  if (id < 0 || id >= table_rows) {
    throw Error(ErrorCode::input_invalid, "token id " + std::to_string(id) +
                                              " is outside the embedding table of " +
                                              std::to_string(table_rows) + " rows");
  }
}

inline void check_rotary_params(const RotaryParams& p) {
  if (p.num_heads <= 0 || p.head_dim <= 0 || p.head_dim % 2 != 0 || p.cu_seqlens.empty() ||
      !valid_kv_heads(p.num_heads, p.num_kv_heads)) {
    throw Error(ErrorCode::internal,
                "rotary: invalid heads, kv heads, head_dim (must be even) or cu_seqlens");
  }
}

inline void check_head_norm_params(const HeadNormParams& p) {
  if (p.tokens < 0 || p.num_heads <= 0 || p.head_dim <= 0 ||
      !valid_kv_heads(p.num_heads, p.num_kv_heads) ||
      p.q.gamma.size() != static_cast<size_t>(p.head_dim) ||
      p.k.gamma.size() != static_cast<size_t>(p.head_dim)) {
    throw Error(ErrorCode::internal, "head_rms_norm: invalid heads, head_dim or gammas");
  }
}

// RoPE's inverse frequency of pair i, in float32 as transformers computes it.
inline float rotary_inv_freq(int64_t i, int64_t head_dim, float theta) {
  const float exponent = static_cast<float>(2 * i) / static_cast<float>(head_dim);
  return 1.0f / std::pow(theta, exponent);
}

// The activations as PyTorch defines them: "gelu" is the exact erf form, "gelu_new" and
// "gelu_pytorch_tanh" the tanh approximation.
inline float apply_activation(float x, Activation act) {
  switch (act) {
    case Activation::none: return x;
    case Activation::relu: return x > 0.0f ? x : 0.0f;
    case Activation::tanh: return std::tanh(x);
    case Activation::gelu_erf:
      return static_cast<float>(0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))));
    case Activation::silu: return static_cast<float>(x / (1.0 + std::exp(-static_cast<double>(x))));
    case Activation::gelu_tanh: {
      const double k = std::sqrt(2.0 / M_PI);
      return static_cast<float>(0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x))));
    }
  }
  return x;
}

}  // namespace hades
