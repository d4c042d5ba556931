// The CPU backend: oneDNN matmuls with weights re-laid out once into oneDNN's preferred format,
// and vectorised kernels for LayerNorm and ragged attention. All parallel work runs on the one
// OpenMP pool that oneDNN itself uses, so nothing is oversubscribed.
#include <omp.h>

#include <dnnl.hpp>

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <vector>

#include "compute/backend.hpp"
#include "compute/cpu/cpu_linear.hpp"
#include "compute/cpu/kernels.hpp"
#include "compute/cpu/small_gemm.hpp"
#include "compute/ops_common.hpp"
#include "core/dtype.hpp"
#include "core/paged_array.hpp"
#include "hades/error.hpp"

namespace hades {
namespace {

using dnnl::memory;

// Below this many elements an op runs on the calling thread: waking the pool costs more than the
// op, and on a busy machine a parallel region waits for a descheduled thread's time slice.
constexpr int64_t kMinParallelElements = 64 * 1024;
using Tag = dnnl::memory::format_tag;
using DataType = dnnl::memory::data_type;

dnnl::algorithm eltwise_algorithm(Activation act) {
  switch (act) {
    case Activation::gelu_erf: return dnnl::algorithm::eltwise_gelu_erf;
    case Activation::gelu_tanh: return dnnl::algorithm::eltwise_gelu_tanh;
    case Activation::relu: return dnnl::algorithm::eltwise_relu;
    case Activation::tanh: return dnnl::algorithm::eltwise_tanh;
    case Activation::none: break;
  }
  return dnnl::algorithm::undef;
}

// One matmul primitive per (layer, activation), created at load time with the row count left as
// a runtime dimension, so that any batch size reuses it without creating primitives per call.
// `type` is f32, or bf16 (weights and inputs bf16; accumulation, bias and output f32).
class CpuLinear final : public cpu::CpuPackedLinear {
 public:
  CpuLinear(const dnnl::engine& engine, const LinearWeights& w, DataType type)
      : CpuPackedLinear(w.in_features, w.out_features), engine_(engine), type_(type) {
    const memory::dims weight_dims{w.in_features, w.out_features};
    // nn.Linear stores [out, in] row-major, which is the K×N matrix in the "ba" layout.
    const memory::desc plain(weight_dims, DataType::f32, Tag::ba);
    const memory::desc any(weight_dims, type_, Tag::any);
    const auto probe = make_primitive_desc(any, Activation::none);
    packed_storage_ = PagedMemory(probe.weights_desc().get_size());
    packed_weights_ = memory(probe.weights_desc(), engine_, packed_storage_.data());
    memory source(plain, engine_, const_cast<float*>(w.weight.data()));
    {
      const OneThread load_scope;
      dnnl::stream stream(engine_);
      dnnl::reorder(source, packed_weights_).execute(stream, source, packed_weights_);
      stream.wait();
    }
    if (!w.bias.empty()) {
      bias_.assign(w.bias.begin(), w.bias.end());
    }
    // Where oneDNN keeps float32 weights as a plain K×N matrix (its choice on AVX2), a few rows
    // go through small_gemm, which reads that matrix in place.
    if (type_ == DataType::f32 && cpu::small_gemm_supported() &&
        packed_weights_.get_desc() == memory::desc(weight_dims, type_, Tag::ab)) {
      small_ = cpu::SmallGemmLayer{static_cast<const float*>(packed_storage_.data()),
                                   bias_.empty() ? nullptr : bias_.data(), w.in_features,
                                   w.out_features};
    }
    // oneDNN fixes a primitive's thread count when it is created, so each op exists twice: for
    // the calling thread's OpenMP team, and for one thread (what parallel_forward asks for).
    const int threads = omp_get_max_threads();
    for (const int team : {threads, 1}) {
      omp_set_num_threads(team);
      Primitives& set = team == 1 ? single_ : team_;
      for (Activation act : {Activation::none, Activation::gelu_erf, Activation::gelu_tanh,
                             Activation::relu, Activation::tanh}) {
        set.apply[static_cast<size_t>(act)] =
            dnnl::matmul(make_primitive_desc(packed_weights_.get_desc(), act));
      }
      set.accumulate =
          dnnl::matmul(make_primitive_desc(packed_weights_.get_desc(), Activation::none, true));
    }
    omp_set_num_threads(threads);
    set_held_bytes(packed_weights_.get_desc().get_size() + bias_.size() * sizeof(float));
  }

  // y += x · Wᵀ + b goes through the matmul's "sum" post-op: no temporary, one pass over y.
  void run(const float* x, int64_t rows, float* y, Activation act, bool accumulate) const override {
    if (small_.weights != nullptr && rows <= cpu::kSmallGemmMaxRows) {
      cpu::small_gemm(small_, x, rows, y, act, accumulate);
      return;
    }
    execute(accumulate ? current().accumulate : current().apply[static_cast<size_t>(act)], x, rows,
            y);
  }

 private:
  void execute(const dnnl::matmul& primitive, const float* x, int64_t rows, float* y) const {
    const memory::desc src_desc({rows, in_features()}, type_, Tag::ab);
    const memory src(
        src_desc, engine_,
        type_ == DataType::bf16 ? to_bf16(x, rows * in_features()) : const_cast<float*>(x));
    const memory dst(memory::desc({rows, out_features()}, DataType::f32, Tag::ab), engine_, y);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, packed_weights_}, {DNNL_ARG_DST, dst}};
    if (!bias_.empty()) {
      args.emplace(DNNL_ARG_BIAS, memory(bias_desc(), engine_, const_cast<float*>(bias_.data())));
    }
    dnnl::stream stream(engine_);
    primitive.execute(stream, args);
    stream.wait();
  }

  // The input rounded to bf16 in a buffer of the calling thread, reused by later calls.
  static void* to_bf16(const float* x, int64_t count) {
    thread_local std::vector<uint16_t> converted;
    if (converted.size() < static_cast<size_t>(count)) converted.resize(static_cast<size_t>(count));
    cpu::round_to_bf16(x, count, converted.data());
    return converted.data();
  }

  memory::desc bias_desc() const {
    return memory::desc({1, out_features()}, DataType::f32, Tag::ab);
  }

  dnnl::matmul::primitive_desc make_primitive_desc(const memory::desc& weights, Activation act,
                                                   bool accumulate = false) const {
    const memory::desc src({DNNL_RUNTIME_DIM_VAL, in_features()}, type_, Tag::ab);
    const memory::desc dst({DNNL_RUNTIME_DIM_VAL, out_features()}, DataType::f32, Tag::ab);
    dnnl::primitive_attr attr;
    dnnl::post_ops ops;
    if (accumulate) ops.append_sum(1.0f);
    if (act != Activation::none) ops.append_eltwise(1.0f, eltwise_algorithm(act), 0.0f, 0.0f);
    attr.set_post_ops(ops);
    const dnnl::matmul::desc desc = bias_.empty()
                                        ? dnnl::matmul::desc(src, weights, dst)
                                        : dnnl::matmul::desc(src, weights, bias_desc(), dst);
    return dnnl::matmul::primitive_desc(desc, attr, engine_);
  }

  struct Primitives {
    dnnl::matmul apply[5];    // one per Activation
    dnnl::matmul accumulate;  // y += x · Wᵀ + b
  };
  const Primitives& current() const { return omp_get_max_threads() == 1 ? single_ : team_; }

  dnnl::engine engine_;
  DataType type_;
  PagedMemory packed_storage_;  // what packed_weights_ points into
  memory packed_weights_;
  std::vector<float> bias_;
  Primitives team_;
  Primitives single_;
  cpu::SmallGemmLayer small_;  // weights null: every row count goes through oneDNN
};

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const CpuBackendOptions& options)
      : engine_(dnnl::engine::kind::cpu, 0), precision_(options.linear_precision) {}

  std::string_view name() const override { return "cpu"; }

  std::unique_ptr<PackedLinear> pack_linear(const LinearWeights& weights) const override {
    check_linear_weights(weights);
    switch (precision_) {
      case LinearPrecision::int8: return cpu::make_int8_linear(engine_, weights);
      case LinearPrecision::bf16:
        return std::make_unique<CpuLinear>(engine_, weights, DataType::bf16);
      case LinearPrecision::fp32: break;
    }
    return std::make_unique<CpuLinear>(engine_, weights, DataType::f32);
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

  void attention(const float* qkv, const AttentionParams& p, float* out) const override {
    check_attention_params(p);
    const int64_t batch = static_cast<int64_t>(p.cu_seqlens.size()) - 1;
    const int64_t tasks = batch * p.num_heads;
    const int64_t work = (p.cu_seqlens.back() + 1) * p.num_heads * p.head_dim;
#pragma omp parallel for schedule(dynamic, 1) if (work >= kMinParallelElements)
    for (int64_t t = 0; t < tasks; ++t) {
      cpu::attention_head(qkv, p, t / p.num_heads, t % p.num_heads, out);
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
#pragma omp parallel for schedule(static) if (tokens * p.num_heads * p.head_dim >= \
                                              kMinParallelElements)
    for (size_t b = 0; b < p.cu_seqlens.size() - 1; ++b) {
      for (int64_t t = p.cu_seqlens[b]; t < p.cu_seqlens[b + 1]; ++t) {
        const int64_t pos = t - p.cu_seqlens[b];
        cpu::rotate_token(qkv + t * 3 * p.num_heads * p.head_dim, p.num_heads, p.head_dim,
                          cos_table.data() + pos * half, sin_table.data() + pos * half);
      }
    }
  }

  void gated_activation(const float* x, int64_t rows, int64_t width, Activation act,
                        float* out) const override {
#pragma omp parallel for schedule(static) if (rows * width >= kMinParallelElements)
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < width; ++i) {
        out[r * width + i] =
            apply_activation(x[r * 2 * width + i], act) * x[r * 2 * width + width + i];
      }
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
