// The CPU backend: oneDNN matmuls with weights re-laid out once into oneDNN's preferred format,
// and vectorised kernels for LayerNorm and ragged attention. All parallel work runs on the one
// OpenMP pool that oneDNN itself uses, so nothing is oversubscribed.
#include <omp.h>

#include <dnnl.hpp>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "compute/backend.hpp"
#include "compute/cpu/cpu_linear.hpp"
#include "compute/cpu/kernels.hpp"
#include "compute/cpu/panel_gemm.hpp"
#include "compute/cpu/small_gemm.hpp"
#include "compute/ops_common.hpp"
#include "core/dtype.hpp"
#include "core/paged_array.hpp"
#include "hades/error.hpp"

namespace hades {
namespace {

using dnnl::memory;

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

// Row counts up to this run as one matmul call; longer inputs are cut into chunks of it.
constexpr int64_t kMaxChunkRows = 512;
// Chunks are multiples of this many rows, plus one exact remainder below twice it.
constexpr int64_t kChunkStep = 32;

// The row counts a call of ROWS rows is cut into, first to last: at most 63 + 16 distinct sizes
// (1..63 and the multiples of 32 up to 512), whatever the batch. Each chunk keeps at least as
// many rows as a short text has, so none of them re-reads the weights for a row or two.
template <class Run>
void for_each_chunk(int64_t rows, Run run) {
  int64_t done = 0;
  while (done < rows) {
    const int64_t left = rows - done;
    int64_t n = left;
    if (left >= 2 * kChunkStep) {
      n = left % kChunkStep == 0 ? left : left / kChunkStep * kChunkStep - kChunkStep;
      n = std::min(n, kMaxChunkRows);
    }
    run(done, n);
    done += n;
  }
}

// In float32, a matmul that sums over more inputs than this stays on gemm: brgemm sums a long
// K in another order, which put MiniLM's feed-forward output (K = 1536) twice as far from
// sentence-transformers, past the parity test's bound.
constexpr int64_t kMaxFixedRowsF32Depth = 1024;

// A float32 or bfloat16 linear layer on oneDNN matmuls. `type` is f32, or bf16 (weights and
// inputs bf16; accumulation, bias and output f32).
//
// oneDNN 2.6 runs a matmul whose row count is a runtime dimension through its gemm
// implementation, which copies the input into its own layout on every call and applies bias and
// activation in a separate pass. A matmul created for a fixed row count runs through brgemm
// (on AVX-512), which does neither. Where brgemm is available, a primitive is therefore created
// per chunk size (see for_each_chunk) on first use, and kept; elsewhere (AVX2) one primitive
// with a runtime row count serves every call, created at load. Fixed row counts made short texts
// markedly faster, bf16 passes a little cheaper and float32 passes about as costly. In float32 on
// AVX-512, up to 64 rows go through panel_gemm instead, which reads the same packed weights and
// is faster still for them.
class CpuLinear final : public cpu::CpuPackedLinear {
 public:
  CpuLinear(dnnl::engine engine, const LinearWeights& w, DataType type)
      : CpuPackedLinear(w.in_features, w.out_features), engine_(std::move(engine)), type_(type) {
    if (!w.bias.empty()) bias_.assign(w.bias.begin(), w.bias.end());
    const memory::dims weight_dims{w.in_features, w.out_features};
    const memory::desc any(weight_dims, type_, Tag::any);
    const auto fixed = make_primitive_desc(kMaxChunkRows, any, Variant::plain);
    fixed_rows_ = std::string_view(fixed.impl_info_str()).starts_with("brg") &&
                  (type_ == DataType::bf16 || w.in_features <= kMaxFixedRowsF32Depth);
    pack_weights(
        w, fixed_rows_
               ? fixed.weights_desc()
               : make_primitive_desc(DNNL_RUNTIME_DIM_VAL, any, Variant::plain).weights_desc());
    // Where oneDNN keeps float32 weights as a plain K×N matrix (its choice on AVX2), a few rows
    // go through small_gemm, which reads that matrix in place.
    if (type_ == DataType::f32 && cpu::small_gemm_supported() &&
        packed_weights_.get_desc() == memory::desc(weight_dims, type_, Tag::ab)) {
      small_ = cpu::SmallGemmLayer{static_cast<const float*>(packed_storage_.data()),
                                   bias_.empty() ? nullptr : bias_.data(), w.in_features,
                                   w.out_features};
    }
    if (type_ == DataType::f32 && cpu::panel_gemm_supported()) {
      panel_ = panel_layout(packed_weights_.get_desc(), w);
    }
    if (!fixed_rows_) create_runtime_rows_primitives();
    set_held_bytes(packed_weights_.get_desc().get_size() + bias_.size() * sizeof(float));
  }

  // y += x · Wᵀ + b goes through the matmul's "sum" post-op: no temporary, one pass over y.
  void run(const float* x, int64_t rows, float* y, Activation act, bool accumulate) const override {
    if (panel_ && rows <= cpu::kPanelGemmMaxRows) {
      cpu::panel_gemm(*panel_, x, rows, y, act, accumulate);
      return;
    }
    if (small_.weights != nullptr && rows <= cpu::kSmallGemmMaxRows) {
      cpu::small_gemm(small_, x, rows, y, act, accumulate);
      return;
    }
    const Variant variant = accumulate ? Variant::accumulate : static_cast<Variant>(act);
    const void* src = type_ == DataType::bf16 ? to_bf16(x, rows * in_features()) : x;
    if (!fixed_rows_) {
      execute(runtime_[team_index()][static_cast<size_t>(variant)], src, rows, y);
      return;
    }
    const size_t element = type_ == DataType::bf16 ? sizeof(uint16_t) : sizeof(float);
    // In bf16, GELU runs as a pass of its own over each chunk just written (gelu_erf_bf16):
    // it costs less than oneDNN's post-op did (perf).
    const bool own_gelu =
        type_ == DataType::bf16 && (act == Activation::gelu_erf || act == Activation::gelu_tanh);
    for_each_chunk(rows, [&](int64_t first, int64_t n) {
      float* out = y + first * out_features();
      execute(fixed_primitive(n, own_gelu ? Variant::plain : variant),
              static_cast<const char*>(src) + first * in_features() * element, n, out);
      if (own_gelu && act == Activation::gelu_erf) {
        cpu::gelu_erf_bf16(out, n * out_features());
      } else if (own_gelu) {
        cpu::activate(out, n * out_features(), act);
      }
    });
  }

 private:
  // What a primitive does after the product: one of the activations, or adding into y.
  enum class Variant : uint8_t { plain, gelu_erf, gelu_tanh, relu, tanh, accumulate };
  static constexpr size_t kVariants = 6;

  struct Op {
    dnnl::matmul matmul;  // empty until created
    size_t scratchpad_bytes = 0;
  };
  static_assert(static_cast<int>(Activation::none) == 0 && static_cast<int>(Activation::tanh) == 4);

  void pack_weights(const LinearWeights& w, const memory::desc& packed) {
    // nn.Linear stores [out, in] row-major, which is the K×N matrix in the "ba" layout.
    const memory::desc plain({w.in_features, w.out_features}, DataType::f32, Tag::ba);
    packed_storage_ = PagedMemory(packed.get_size());
    packed_weights_ = memory(packed, engine_, packed_storage_.data());
    memory source(plain, engine_, const_cast<float*>(w.weight.data()));
    const OneThread load_scope;
    dnnl::stream stream(engine_);
    dnnl::reorder(source, packed_weights_).execute(stream, source, packed_weights_);
    stream.wait();
  }

  // The packed float32 weights as panels of 64 columns for panel_gemm, where they are in one of
  // the two layouts it reads: oneDNN's brgemm blocks (BA16a64b: each panel K rows of 64 floats)
  // or the plain K×N matrix (where oneDNN keeps a matmul on gemm).
  std::optional<cpu::PanelLayer> panel_layout(const memory::desc& packed,
                                              const LinearWeights& w) const {
    const dnnl_memory_desc_t& d = packed.data;
    if (w.out_features % cpu::kPanelColumns != 0 || d.ndims != 2 || d.format_kind != dnnl_blocked ||
        d.offset0 != 0 || d.padded_dims[1] != w.out_features) {
      return std::nullopt;
    }
    const dnnl_blocking_desc_t& b = d.format_desc.blocking;
    cpu::PanelLayer layer{static_cast<const float*>(packed_storage_.data()),
                          bias_.empty() ? nullptr : bias_.data(),
                          w.in_features,
                          w.out_features,
                          0,
                          0};
    if (b.inner_nblks == 0 && b.strides[0] == w.out_features && b.strides[1] == 1) {
      layer.panel_stride = cpu::kPanelColumns;
      layer.row_stride = w.out_features;
      return layer;
    }
    constexpr int64_t kRowBlock = 16;
    if (b.inner_nblks == 2 && b.inner_blks[0] == kRowBlock && b.inner_idxs[0] == 0 &&
        b.inner_blks[1] == cpu::kPanelColumns && b.inner_idxs[1] == 1 &&
        b.strides[0] == kRowBlock * cpu::kPanelColumns &&
        b.strides[1] == d.padded_dims[0] * cpu::kPanelColumns) {
      layer.panel_stride = b.strides[1];
      layer.row_stride = cpu::kPanelColumns;
      return layer;
    }
    return std::nullopt;
  }

  // oneDNN fixes a primitive's thread count when it is created, so each op exists twice: for
  // the calling thread's OpenMP team, and for one thread (what parallel_forward asks for).
  static size_t team_index() { return omp_get_max_threads() == 1 ? 0 : 1; }

  void create_runtime_rows_primitives() {
    const int threads = omp_get_max_threads();
    for (const int team : {1, threads}) {
      omp_set_num_threads(team);
      for (size_t v = 0; v < kVariants; ++v) {
        runtime_[team_index()][v] =
            make_op(DNNL_RUNTIME_DIM_VAL, packed_weights_.get_desc(), static_cast<Variant>(v));
      }
    }
    omp_set_num_threads(threads);
  }

  // The primitive for chunks of ROWS rows (a size for_each_chunk makes), created on first use.
  const Op& fixed_primitive(int64_t rows, Variant variant) const {
    const size_t size = rows < 2 * kChunkStep
                            ? static_cast<size_t>(rows)
                            : static_cast<size_t>(2 * kChunkStep + rows / kChunkStep);
    const std::lock_guard lock(fixed_mutex_);
    Op& slot = fixed_[size][static_cast<size_t>(variant)][team_index()];
    if (!slot.matmul) slot = make_op(rows, packed_weights_.get_desc(), variant);
    return slot;
  }

  Op make_op(memory::dim rows, const memory::desc& weights, Variant variant) const {
    const dnnl::matmul::primitive_desc pd = make_primitive_desc(rows, weights, variant);
    return Op{dnnl::matmul(pd), pd.scratchpad_desc().get_size()};
  }

  void execute(const Op& op, const void* x, int64_t rows, float* y) const {
    const memory src(memory::desc({rows, in_features()}, type_, Tag::ab), engine_,
                     const_cast<void*>(x));
    const memory dst(memory::desc({rows, out_features()}, DataType::f32, Tag::ab), engine_, y);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, packed_weights_}, {DNNL_ARG_DST, dst}};
    if (!bias_.empty()) {
      args.emplace(DNNL_ARG_BIAS, memory(bias_desc(), engine_, const_cast<float*>(bias_.data())));
    }
    if (op.scratchpad_bytes > 0) {
      args.emplace(DNNL_ARG_SCRATCHPAD, memory(scratchpad_desc(op.scratchpad_bytes), engine_,
                                               thread_scratchpad(op.scratchpad_bytes)));
    }
    dnnl::stream stream(engine_);
    op.matmul.execute(stream, args);
    stream.wait();
  }

  // A primitive's scratchpad belongs to the calling thread (scratchpad_mode::user): with the
  // library's own, two threads running the same brgemm primitive at once share one buffer.
  static memory::desc scratchpad_desc(size_t bytes) {
    return memory::desc({static_cast<memory::dim>(bytes)}, DataType::u8, Tag::x);
  }
  static void* thread_scratchpad(size_t bytes) {
    constexpr size_t kAlign = 64;
    thread_local std::vector<std::byte> buffer;
    if (buffer.size() < bytes + kAlign) buffer.resize(bytes + kAlign);
    auto address = reinterpret_cast<uintptr_t>(buffer.data());
    return reinterpret_cast<void*>((address + kAlign - 1) / kAlign * kAlign);
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

  dnnl::matmul::primitive_desc make_primitive_desc(memory::dim rows, const memory::desc& weights,
                                                   Variant variant) const {
    const memory::desc src({rows, in_features()}, type_, Tag::ab);
    const memory::desc dst({rows, out_features()}, DataType::f32, Tag::ab);
    dnnl::primitive_attr attr;
    dnnl::post_ops ops;
    if (variant == Variant::accumulate) {
      ops.append_sum(1.0f);
    } else if (variant != Variant::plain) {
      ops.append_eltwise(1.0f, eltwise_algorithm(static_cast<Activation>(variant)), 0.0f, 0.0f);
    }
    attr.set_post_ops(ops);
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const dnnl::matmul::desc desc = bias_.empty()
                                        ? dnnl::matmul::desc(src, weights, dst)
                                        : dnnl::matmul::desc(src, weights, bias_desc(), dst);
    return dnnl::matmul::primitive_desc(desc, attr, engine_);
  }

  dnnl::engine engine_;
  DataType type_;
  std::vector<float> bias_;
  bool fixed_rows_ = false;     // true: brgemm, a primitive per chunk size
  PagedMemory packed_storage_;  // what packed_weights_ points into
  memory packed_weights_;
  Op runtime_[2][kVariants];  // [single, team][variant], when !fixed_rows_
  // [chunk size][variant][single, team], when fixed_rows_: sizes 1..63, then 64 + rows / 32.
  mutable Op fixed_[2 * kChunkStep + kMaxChunkRows / kChunkStep + 1][kVariants][2];
  mutable std::mutex fixed_mutex_;
  std::optional<cpu::PanelLayer> panel_;  // float32 on AVX-512: a few rows go through panel_gemm
  cpu::SmallGemmLayer small_;             // weights null: every row count goes through oneDNN
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
    // In bf16, attention's two products are bf16 too (avx512_kernels.cpp), from qkv rounded once.
    const uint16_t* rounded = nullptr;
    if (precision_ == LinearPrecision::bf16 && cpu::attention_avx512_supported(p.head_dim)) {
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
    const bool avx512 = cpu::attention_avx512_supported(p.head_dim);
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
