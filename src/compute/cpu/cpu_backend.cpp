// The CPU backend: oneDNN matmuls with weights re-laid out once into oneDNN's preferred format,
// and vectorised kernels for LayerNorm and ragged attention. All parallel work runs on the one
// OpenMP pool that oneDNN itself uses, so nothing is oversubscribed.
#include <omp.h>

#include <dnnl.hpp>

#include <algorithm>
#include <cmath>
#include <string_view>
#include <vector>

#include "compute/backend.hpp"
#include "compute/cpu/cpu_linear.hpp"
#include "compute/cpu/kernels.hpp"
#include "compute/ops_common.hpp"
#include "core/dtype.hpp"
#include "hades/error.hpp"

namespace hades {
namespace {

// The longest sequence whose float32 attention runs on the AVX-512 kernel (see attention()).
constexpr int64_t kMaxAvx512F32Keys = 64;

int64_t sequence_length(const AttentionParams& p, int64_t sequence) {
  return p.cu_seqlens[sequence + 1] - p.cu_seqlens[sequence];
}

// Below this many elements an op runs on the calling thread: waking the pool costs more than the
// op, and on a busy machine a parallel region waits for a descheduled thread's time slice. Above
// it the LayerNorms of a text of a few dozen tokens run on both threads, whose team is awake
// from the matmul before, which shortened such a text's latency.
constexpr int64_t kMinParallelElements = int64_t{8} * 1024;

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const CpuBackendOptions& options)
      : engine_(dnnl::engine::kind::cpu, 0), precision_(options.linear_precision) {}

  std::string_view name() const override { return "cpu"; }

  std::unique_ptr<PackedLinear> pack_linear(const LinearWeights& weights) const override {
    check_linear_weights(weights);
    switch (precision_) {
      case LinearPrecision::int8: return cpu::make_int8_linear(engine_, weights);
      case LinearPrecision::bf16: return cpu::make_bf16_linear(engine_, weights);
      case LinearPrecision::fp32: break;
    }
    return cpu::make_f32_linear(engine_, weights);
  }

  void linear(const PackedLinear& layer, const float* x, int64_t rows, float* y,
              Activation act) const override {
    if (rows == 0) return;
    static_cast<const cpu::CpuPackedLinear&>(layer).run(x, rows, y, act, false);
  }

  void linear_add(const PackedLinear& layer, const float* x, int64_t rows,
                  float* y) const override {
    if (rows == 0) return;
    static_cast<const cpu::CpuPackedLinear&>(layer).run(x, rows, y, Activation::none, true);
  }

  void layer_norm(const float* x, int64_t rows, int64_t dim, const LayerNormParams& p,
                  float* out) const override {
#pragma omp parallel for schedule(static) if (rows * dim >= kMinParallelElements)
    for (int64_t r = 0; r < rows; ++r) {
      std::copy(x + r * dim, x + (r + 1) * dim, out + r * dim);
      cpu::add_layer_norm_row(out + r * dim, nullptr, dim, p);
    }
  }

  void add_layer_norm(float* x, const float* residual, int64_t rows, int64_t dim,
                      const LayerNormParams& p) const override {
#pragma omp parallel for schedule(static) if (rows * dim >= kMinParallelElements)
    for (int64_t r = 0; r < rows; ++r) {
      cpu::add_layer_norm_row(x + r * dim, residual == nullptr ? nullptr : residual + r * dim, dim,
                              p);
    }
  }

  void rms_norm(const float* x, int64_t rows, int64_t dim, const RmsNormParams& p,
                float* out) const override {
#pragma omp parallel for schedule(static) if (rows * dim >= kMinParallelElements)
    for (int64_t r = 0; r < rows; ++r) cpu::rms_norm_row(x + r * dim, dim, p, out + r * dim);
  }

  void head_rms_norm(float* qkv, const HeadNormParams& p) const override {
    check_head_norm_params(p);
    const int64_t kv_heads = kv_heads_of(p.num_heads, p.num_kv_heads);
    const int64_t stride = (p.num_heads + 2 * kv_heads) * p.head_dim;
#pragma omp parallel for schedule(static) if (p.tokens * stride >= kMinParallelElements)
    for (int64_t t = 0; t < p.tokens; ++t) {
      for (int64_t h = 0; h < p.num_heads + kv_heads; ++h) {
        float* head = qkv + t * stride + h * p.head_dim;
        cpu::rms_norm_row(head, p.head_dim, h < p.num_heads ? p.q : p.k, head);
      }
    }
  }

  void attention(const float* qkv, const AttentionParams& p, float* out) const override {
    check_attention_params(p);
    const int64_t batch = static_cast<int64_t>(p.cu_seqlens.size()) - 1;
    const int64_t tasks = batch * p.num_heads;
    const int64_t work = (p.cu_seqlens.back() + 1) * p.num_heads * p.head_dim;
    // The AVX-512 kernels read the multi-head layout without a causal mask; causal or
    // grouped-query attention runs on the sgemm kernel (in float32, also at bf16).
    const bool avx512 = cpu::attention_avx512_supported(p.head_dim) && !p.causal &&
                        kv_heads_of(p.num_heads, p.num_kv_heads) == p.num_heads;
    // In bf16, attention's two products are bf16 too (avx512_kernels.cpp), from qkv rounded once.
    const uint16_t* rounded = nullptr;
    if (precision_ == LinearPrecision::bf16 && avx512) {
      thread_local std::vector<uint16_t> buffer;
      const auto count =
          static_cast<size_t>(int64_t{p.cu_seqlens.back()} * 3 * p.num_heads * p.head_dim);
      if (buffer.size() < count) buffer.resize(count);
      uint16_t* converted = buffer.data();  // the caller's: a pool thread's thread_local is its own
      constexpr int64_t kRows = 64;         // token rows per task
      const int64_t width = 3 * p.num_heads * p.head_dim;
      const int64_t tokens = p.cu_seqlens.back();
#pragma omp parallel for schedule(static) if (work >= kMinParallelElements)
      for (int64_t r = 0; r < tokens; r += kRows) {
        cpu::round_qkv_bf16(qkv + r * width, std::min(kRows, tokens - r) * width,
                            converted + r * width);
      }
      rounded = converted;
    }
    // In float32 the AVX-512 kernel takes sequences up to kMaxAvx512F32Keys long: 1.7x faster
    // than the sgemm calls at 16 tokens, even at 64, slower at 256 (it re-reads K per 8 rows).
#pragma omp parallel for schedule(dynamic, 1) if (work >= kMinParallelElements)
    for (int64_t t = 0; t < tasks; ++t) {
      if (rounded != nullptr) {
        cpu::attention_head_bf16(rounded, p, t / p.num_heads, t % p.num_heads, out);
      } else if (avx512 && sequence_length(p, t / p.num_heads) <= kMaxAvx512F32Keys) {
        cpu::attention_head_f32(qkv, p, t / p.num_heads, t % p.num_heads, out);
      } else {
        cpu::attention_head(qkv, p, t / p.num_heads, t % p.num_heads, out);
      }
    }
  }

  void rotary(float* qkv, const RotaryParams& p) const override {
    check_rotary_params(p);
    int64_t longest = 0;
    for (size_t b = 0; b + 1 < p.cu_seqlens.size(); ++b) {
      longest = std::max<int64_t>(longest, p.cu_seqlens[b + 1] - p.cu_seqlens[b]);
    }
    // cos and sin per (position, pair), computed once per call and shared by every head.
    const int64_t half = p.head_dim / 2;
    std::vector<float> cos_table(static_cast<size_t>(longest * half));
    std::vector<float> sin_table(cos_table.size());
    for (int64_t pos = 0; pos < longest; ++pos) {
      for (int64_t i = 0; i < half; ++i) {
        const float angle = static_cast<float>(pos) * rotary_inv_freq(i, p.head_dim, p.theta);
        cos_table[pos * half + i] = std::cos(angle);
        sin_table[pos * half + i] = std::sin(angle);
      }
    }
    const int64_t tokens = p.cu_seqlens.back();
    const int64_t kv_heads = kv_heads_of(p.num_heads, p.num_kv_heads);
    const int64_t stride = (p.num_heads + 2 * kv_heads) * p.head_dim;
#pragma omp parallel for schedule(static) if (tokens * stride >= kMinParallelElements)
    for (size_t b = 0; b < p.cu_seqlens.size() - 1; ++b) {
      for (int64_t t = p.cu_seqlens[b]; t < p.cu_seqlens[b + 1]; ++t) {
        const int64_t pos = t - p.cu_seqlens[b];
        cpu::rotate_token(qkv + t * stride, p.num_heads + kv_heads, p.head_dim,
                          cos_table.data() + pos * half, sin_table.data() + pos * half);
      }
    }
  }

  void gated_activation(const float* x, int64_t rows, int64_t width, Activation act,
                        float* out) const override {
#pragma omp parallel for schedule(static) if (rows * width >= kMinParallelElements)
    for (int64_t r = 0; r < rows; ++r) {
      cpu::gated_activate_row(x + r * 2 * width, width, act, out + r * width);
    }
  }

  void embedding_lookup(const float* table, int64_t table_rows, int64_t dim,
                        std::span<const int32_t> ids, float* out, bool accumulate) const override {
    for (int32_t id : ids) check_embedding_id(id, table_rows);
    const auto rows = static_cast<int64_t>(ids.size());
#pragma omp parallel for schedule(static) if (rows * dim >= kMinParallelElements)
    for (int64_t r = 0; r < rows; ++r) {
      const float* src = table + static_cast<int64_t>(ids[r]) * dim;
      float* dst = out + r * dim;
      if (accumulate) {
        for (int64_t i = 0; i < dim; ++i) dst[i] += src[i];
      } else {
        std::copy(src, src + dim, dst);
      }
    }
  }

 private:
  dnnl::engine engine_;
  LinearPrecision precision_;
};

bool has_native_bf16(dnnl::cpu_isa isa) {
  return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
}

std::string_view isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41: return "SSE4.1";
    case dnnl::cpu_isa::avx: return "AVX";
    case dnnl::cpu_isa::avx2: return "AVX2";
    case dnnl::cpu_isa::avx2_vnni: return "AVX2-VNNI";
    case dnnl::cpu_isa::avx512_core: return "AVX-512";
    case dnnl::cpu_isa::avx512_core_vnni: return "AVX-512 VNNI";
    case dnnl::cpu_isa::avx512_core_bf16: return "AVX512-BF16";
    case dnnl::cpu_isa::avx512_core_amx: return "AMX";
    default: return "an unrecognised instruction set";
  }
}

}  // namespace

std::string_view linear_precision_name(LinearPrecision precision) {
  switch (precision) {
    case LinearPrecision::int8: return "int8";
    case LinearPrecision::bf16: return "bf16";
    case LinearPrecision::fp32: break;
  }
  return "fp32";
}

std::string cpu_precision_unavailable(LinearPrecision precision) {
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  if (precision != LinearPrecision::bf16 || has_native_bf16(isa)) return "";
  return "bf16 needs a CPU with AVX512-BF16 or AMX; this CPU's best is " +
         std::string(isa_name(isa)) + " (oneDNN 2.6 has no bf16 matmul for it)";
}

std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options) {
  const std::string unavailable = cpu_precision_unavailable(options.linear_precision);
  if (!unavailable.empty()) throw Error(ErrorCode::invalid_argument, unavailable);
  return std::make_unique<CpuBackend>(options);
}

}  // namespace hades
