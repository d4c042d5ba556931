// The compute backend: the narrow op set that model code is written against.
//
// Layout conventions (written once here, used everywhere):
//  - Matrices are row-major float32. A batch of activations is [tokens, features]: the tokens of
//    all sequences of a ragged batch concatenated, sequence b owning rows
//    [cu_seqlens[b], cu_seqlens[b+1]). No padding rows exist anywhere.
//  - A linear layer's weight arrives as PyTorch's nn.Linear stores it: [out_features, in_features].
//    The backend re-lays it out once (pack_linear) in whatever form its matmul prefers.
//  - Attention reads a fused projection qkv of shape [tokens, (heads + 2 * kv_heads) * head_dim]
//    whose columns are the blocks [q | k | v], each block heads-major: column h * head_dim + d. The
//    q block has `heads` heads, k and v have `kv_heads` each (grouped-query attention: query head
//    h reads key/value head h / (heads / kv_heads)); kv_heads = heads for multi-head attention.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace hades {

// silu: x · sigmoid(x) (PyTorch's SiLU, the gate of SwiGLU).
enum class Activation { none, gelu_erf, gelu_tanh, relu, tanh, silu };

// The number format a backend keeps linear layers' weights in and runs their matmuls at. Every
// other op (norms, softmax, embeddings) and every activation between ops stay float32.
//  - fp32: float32 throughout.
//  - int8: weights quantized symmetrically per output channel at load; each matmul quantizes its
//    input per row (per token) at run time, multiplies in integers and dequantizes into float32.
//  - bf16: bfloat16 weights and inputs, float32 accumulation and output. Attention's two
//    products (q·k and the weighted sum of v) also run on bf16 operands, with float32 sums and a
//    float32 softmax, where the CPU backend's bf16 kernel takes the head width and the attention
//    is neither causal nor grouped-query (those stay float32).
enum class LinearPrecision { fp32, int8, bf16 };

// A linear layer (weight + optional bias) in a backend's own layout; opaque to model code.
class PackedLinear {
 public:
  PackedLinear(int64_t in_features, int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  virtual ~PackedLinear() = default;
  PackedLinear(const PackedLinear&) = delete;
  PackedLinear& operator=(const PackedLinear&) = delete;

  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  // Bytes the packed weight, bias and any scales occupy.
  uint64_t held_bytes() const { return held_bytes_; }

 protected:
  void set_held_bytes(uint64_t bytes) { held_bytes_ = bytes; }

 private:
  int64_t in_features_;
  int64_t out_features_;
  uint64_t held_bytes_ = static_cast<uint64_t>((in_features_ + 1) * out_features_) * sizeof(float);
};

struct LinearWeights {
  std::span<const float> weight;  // [out_features, in_features]
  std::span<const float> bias;    // [out_features], or empty for no bias
  int64_t in_features = 0;
  int64_t out_features = 0;
};

struct AttentionParams {
  std::span<const int32_t> cu_seqlens;  // batch + 1 cumulative sequence lengths, starting at 0
  int64_t num_heads = 0;
  int64_t head_dim = 0;
  float scale = 1.0f;  // applied to q·k before the softmax, usually 1/sqrt(head_dim)
  // Sliding-window attention: when > 0, token i attends only to tokens j with
  // |i - j| <= window / 2 inside its own sequence (ModernBERT's local layers). 0 = full attention.
  int64_t window = 0;
  // Key/value heads (grouped-query attention); 0 means num_heads. Must divide num_heads.
  int64_t num_kv_heads = 0;
  // Causal attention (decoders): token i attends only to tokens j <= i of its own sequence.
  bool causal = false;
};

struct RotaryParams {
  std::span<const int32_t> cu_seqlens;  // positions restart at 0 in every sequence
  int64_t num_heads = 0;
  int64_t head_dim = 0;  // even; pairs (i, i + head_dim / 2) rotate together
  float theta = 10000.0f;
  int64_t num_kv_heads = 0;  // the k block's heads, as in AttentionParams; 0 means num_heads
};

struct LayerNormParams {
  std::span<const float> gamma;  // [dim]
  std::span<const float> beta;   // [dim], or empty for a LayerNorm without bias
  float eps = 1e-12f;
};

struct RmsNormParams {
  std::span<const float> gamma;  // [dim]
  float eps = 1e-6f;
};

// RMSNorm of every head of the q and k blocks of a fused qkv (layout as for attention), each
// head over its head_dim values: Qwen3's q_norm and k_norm.
struct HeadNormParams {
  int64_t tokens = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;  // 0 means num_heads
  int64_t head_dim = 0;
  RmsNormParams q;  // gamma [head_dim], shared by the q heads
  RmsNormParams k;  // gamma [head_dim], shared by the k heads
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view name() const = 0;

  // Re-lays out a linear layer once, at load time.
  virtual std::unique_ptr<PackedLinear> pack_linear(const LinearWeights& weights) const = 0;

  // y[rows, out] = act(x[rows, in] · Wᵀ + b). x and y must not overlap.
  virtual void linear(const PackedLinear& layer, const float* x, int64_t rows, float* y,
                      Activation act) const = 0;

  // y[rows, out] += x[rows, in] · Wᵀ + b: a linear layer whose result is added to a residual.
  virtual void linear_add(const PackedLinear& layer, const float* x, int64_t rows,
                          float* y) const = 0;

  // out[rows, dim] = LayerNorm(x), leaving x as it is (pre-norm architectures keep the residual).
  virtual void layer_norm(const float* x, int64_t rows, int64_t dim, const LayerNormParams& params,
                          float* out) const = 0;

  // x[rows, dim] = LayerNorm(x + residual) in place; residual may be null (plain LayerNorm).
  virtual void add_layer_norm(float* x, const float* residual, int64_t rows, int64_t dim,
                              const LayerNormParams& params) const = 0;

  // out[rows, dim] = x / sqrt(mean(x²) + eps) · gamma (RMSNorm, in float32 as transformers'
  // LlamaRMSNorm and its copies compute it); out may be x.
  virtual void rms_norm(const float* x, int64_t rows, int64_t dim, const RmsNormParams& params,
                        float* out) const = 0;

  // RMSNorm in place over each q and k head of a fused qkv (see HeadNormParams).
  virtual void head_rms_norm(float* qkv, const HeadNormParams& params) const = 0;

  // out[tokens, heads * head_dim] = softmax(scale · q kᵀ) v, per sequence and head.
  virtual void attention(const float* qkv, const AttentionParams& params, float* out) const = 0;

  // Rotary position embeddings (RoPE) applied in place to the q and k heads of a fused qkv,
  // in transformers' rotate-half convention: for pair (x1, x2) = (x[i], x[i + head_dim/2]) at
  // position p, angle a = p · inv_freq[i], inv_freq[i] = 1 / theta^(2i / head_dim) (both float32),
  // x1' = x1 cos a − x2 sin a, x2' = x2 cos a + x1 sin a.
  virtual void rotary(float* qkv, const RotaryParams& params) const = 0;

  // Gated linear unit: out[r, i] = act(x[r, i]) · x[r, width + i] for x [rows, 2 · width]
  // (GeGLU when act is GELU).
  virtual void gated_activation(const float* x, int64_t rows, int64_t width, Activation act,
                                float* out) const = 0;

  // out[i, :] (+)= table[ids[i], :] for a [rows, dim] table; ids are checked against rows.
  virtual void embedding_lookup(const float* table, int64_t table_rows, int64_t dim,
                                std::span<const int32_t> ids, float* out,
                                bool accumulate) const = 0;
};

// The plain reference implementation: obviously correct loops, the oracle of the op tests.
std::unique_ptr<Backend> make_reference_backend();

struct CpuBackendOptions {
  // The precision pack_linear packs every linear layer in.
  LinearPrecision linear_precision = LinearPrecision::fp32;
};

// The CPU backend: oneDNN matmuls with weights in oneDNN's preferred layout, vectorised kernels.
// A precision this CPU cannot run natively (cpu_precision_unavailable) is refused with
// invalid_argument naming what the CPU lacks.
std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options = {});

// Empty when this CPU runs `precision` natively; else why not (bf16 needs AVX512-BF16 or AMX:
// oneDNN 2.6 has no bf16 matmul below AVX-512, and only slow ones without AVX512-BF16).
std::string cpu_precision_unavailable(LinearPrecision precision);

// "fp32", "int8", "bf16".
std::string_view linear_precision_name(LinearPrecision precision);

}  // namespace hades
