#include "compute/cpu/packed_matmul.hpp"

#include <omp.h>

#include <unordered_map>
#include <utility>

#include "compute/cpu/kernels.hpp"
#include "compute/threads.hpp"

namespace hades::cpu {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using DataType = memory::data_type;

dnnl::algorithm eltwise_algorithm(Activation act) {
  switch (act) {
    case Activation::gelu_erf: return dnnl::algorithm::eltwise_gelu_erf;
    case Activation::gelu_tanh: return dnnl::algorithm::eltwise_gelu_tanh;
    case Activation::relu: return dnnl::algorithm::eltwise_relu;
    case Activation::tanh: return dnnl::algorithm::eltwise_tanh;
    case Activation::silu: return dnnl::algorithm::eltwise_swish;  // x · sigmoid(alpha x), alpha 1
    case Activation::none: break;
  }
  return dnnl::algorithm::undef;
}

// A primitive's scratchpad belongs to the calling thread (scratchpad_mode::user): with the
// library's own, two threads running the same brgemm primitive at once share one buffer.
memory::desc scratchpad_desc(size_t bytes) {
  return memory::desc({static_cast<memory::dim>(bytes)}, DataType::u8, Tag::x);
}

void* thread_scratchpad(size_t bytes) {
  constexpr size_t kAlign = 64;
  thread_local std::vector<std::byte> buffer;
  if (buffer.size() < bytes + kAlign) buffer.resize(bytes + kAlign);
  auto address = reinterpret_cast<uintptr_t>(buffer.data());
  return reinterpret_cast<void*>((address + kAlign - 1) / kAlign * kAlign);
}

}  // namespace

size_t matmul_team_index() {
  return omp_get_max_threads() == 1 ? 0 : 1;
}

PackedMatmul::PackedMatmul(dnnl::engine engine, const LinearWeights& w, DataType type)
    : engine_(std::move(engine)),
      type_(type),
      in_features_(w.in_features),
      out_features_(w.out_features) {
  if (!w.bias.empty()) bias_.assign(w.bias.begin(), w.bias.end());
}

void PackedMatmul::pack_weights(const LinearWeights& w, const memory::desc& packed) {
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

memory::desc PackedMatmul::any_weights() const {
  return {{in_features_, out_features_}, type_, Tag::any};
}

dnnl::matmul::primitive_desc PackedMatmul::primitive_desc(memory::dim rows,
                                                          const memory::desc& weights,
                                                          MatmulVariant variant) const {
  const memory::desc src({rows, in_features_}, type_, Tag::ab);
  const memory::desc dst({rows, out_features_}, DataType::f32, Tag::ab);
  dnnl::primitive_attr attr;
  dnnl::post_ops ops;
  if (variant == MatmulVariant::accumulate) {
    ops.append_sum(1.0f);
  } else if (variant != MatmulVariant::plain) {
    const auto act = static_cast<Activation>(variant);
    ops.append_eltwise(1.0f, eltwise_algorithm(act), act == Activation::silu ? 1.0f : 0.0f, 0.0f);
  }
  attr.set_post_ops(ops);
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const dnnl::matmul::desc desc = bias_.empty()
                                      ? dnnl::matmul::desc(src, weights, dst)
                                      : dnnl::matmul::desc(src, weights, bias_desc(), dst);
  return {desc, attr, engine_};
}

MatmulOp PackedMatmul::make_op(memory::dim rows, MatmulVariant variant) const {
  const dnnl::matmul::primitive_desc pd = primitive_desc(rows, packed_weights_.get_desc(), variant);
  return MatmulOp{dnnl::matmul(pd), pd.scratchpad_desc().get_size()};
}

void PackedMatmul::execute(const MatmulOp& op, const void* x, int64_t rows, float* y) const {
  const memory src(memory::desc({rows, in_features_}, type_, Tag::ab), engine_,
                   const_cast<void*>(x));
  const memory dst(memory::desc({rows, out_features_}, DataType::f32, Tag::ab), engine_, y);
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

const void* PackedMatmul::input(const float* x, int64_t rows) const {
  if (type_ != DataType::bf16) return x;
  const int64_t count = rows * in_features_;
  thread_local std::vector<uint16_t> converted;
  if (converted.size() < static_cast<size_t>(count)) converted.resize(static_cast<size_t>(count));
  round_to_bf16(x, count, converted.data());
  return converted.data();
}

uint64_t PackedMatmul::held_bytes() const {
  return packed_weights_.get_desc().get_size() + bias_.size() * sizeof(float);
}

memory::desc PackedMatmul::bias_desc() const {
  return {{1, out_features_}, DataType::f32, Tag::ab};
}

// Panels of 64 columns, where the packed weights are in one of the two layouts panel_gemm reads:
// oneDNN's brgemm blocks (BA16a64b: each panel K rows of 64 floats) or the plain K×N matrix
// (where oneDNN keeps a matmul on gemm).
std::optional<PanelLayer> PackedMatmul::panel_layer() const {
  const memory::desc packed = packed_weights_.get_desc();
  const dnnl_memory_desc_t& d = packed.data;
  if (type_ != DataType::f32 || out_features_ % kPanelColumns != 0 || d.ndims != 2 ||
      d.format_kind != dnnl_blocked || d.offset0 != 0 || d.padded_dims[1] != out_features_) {
    return std::nullopt;
  }
  const dnnl_blocking_desc_t& b = d.format_desc.blocking;
  PanelLayer layer{static_cast<const float*>(packed_storage_.data()),
                   bias_.empty() ? nullptr : bias_.data(),
                   in_features_,
                   out_features_,
                   0,
                   0};
  if (b.inner_nblks == 0 && b.strides[0] == out_features_ && b.strides[1] == 1) {
    layer.panel_stride = kPanelColumns;
    layer.row_stride = out_features_;
    return layer;
  }
  constexpr int64_t kRowBlock = 16;
  if (b.inner_nblks == 2 && b.inner_blks[0] == kRowBlock && b.inner_idxs[0] == 0 &&
      b.inner_blks[1] == kPanelColumns && b.inner_idxs[1] == 1 &&
      b.strides[0] == kRowBlock * kPanelColumns &&
      b.strides[1] == d.padded_dims[0] * kPanelColumns) {
    layer.panel_stride = b.strides[1];
    layer.row_stride = kPanelColumns;
    return layer;
  }
  return std::nullopt;
}

// Where oneDNN keeps float32 weights as a plain K×N matrix (its choice on AVX2), small_gemm
// reads that matrix in place.
std::optional<SmallGemmLayer> PackedMatmul::small_gemm_layer() const {
  const memory::desc plain({in_features_, out_features_}, type_, Tag::ab);
  if (type_ != DataType::f32 || packed_weights_.get_desc() != plain) return std::nullopt;
  return SmallGemmLayer{static_cast<const float*>(packed_storage_.data()),
                        bias_.empty() ? nullptr : bias_.data(), in_features_, out_features_};
}

}  // namespace hades::cpu
