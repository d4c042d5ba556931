// Vectorised CPU kernels of the CPU backend. Each is compiled for AVX-512, AVX2 with FMA and
// baseline x86-64 and picks the best at run time (GCC function multi-versioning).
#pragma once

#include <cstdint>

#include "compute/backend.hpp"

namespace hades::cpu {

// row[0, dim) = LayerNorm(row + residual); residual may be null.
void add_layer_norm_row(float* row, const float* residual, int64_t dim, const LayerNormParams& p);

// out[0, dim) = RMSNorm(x[0, dim)); out may be x.
void rms_norm_row(const float* x, int64_t dim, const RmsNormParams& p, float* out);

// One (sequence, head) of ragged attention; see Backend::attention for the layouts.
void attention_head(const float* qkv, const AttentionParams& p, int64_t sequence, int64_t head,
                    float* out);

// attention_head on AVX-512 (avx512_kernels.cpp), without sgemm calls: with bfloat16 products from
// qkv rounded to bf16 (the layout of Backend::attention, 16-bit elements), or with float32
// multiply-adds. Only for full or windowed (not causal) multi-head attention (num_kv_heads 0 or
// num_heads), and where attention_avx512_supported(head_dim): AVX-512 with AVX512-BF16 (the
// file is compiled for it), and head_dim a multiple of 16 up to 256.
void attention_head_bf16(const uint16_t* qkv, const AttentionParams& p, int64_t sequence,
                         int64_t head, float* out);
void attention_head_f32(const float* qkv, const AttentionParams& p, int64_t sequence, int64_t head,
                        float* out);
bool attention_avx512_supported(int64_t head_dim);

// y[i] = GELU(y[i]) (erf form) with AVX-512, within about 2e-7 like activate(): the GELU between
// the bf16 feed-forward's matmuls, on CPUs with AVX512-BF16.
void gelu_erf_bf16(float* y, int64_t count);
// The qkv rounded to bf16 for attention_head_bf16 (with the AVX512-BF16 conversion).
void round_qkv_bf16(const float* qkv, int64_t count, uint16_t* out);

// y[i] = act(y[i]), i < count, within about 2e-7 of ops_common.hpp's apply_activation.
void activate(float* y, int64_t count, Activation act);

// out[i] = act(x[i]) · x[width + i], i < width: one row of a gated linear unit (ModernBERT's
// GeGLU: the input half, then the gate half), act within about 2e-7 of apply_activation.
void gated_activate_row(const float* x, int64_t width, Activation act, float* out);

// out[i] = x[i] rounded to bfloat16 bits (nearest even), i < count: a bf16 matmul's input.
void round_to_bf16(const float* x, int64_t count, uint16_t* out);

// Applies one token's rotary embedding to `heads` consecutive heads (its q heads, then its k
// heads: heads · head_dim floats from `token`), given the cos and sin of each pair at the token's
// position.
void rotate_token(float* token, int64_t heads, int64_t head_dim, const float* cos,
                  const float* sin);

}  // namespace hades::cpu
