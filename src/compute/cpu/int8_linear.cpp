// int8 linear layers with dynamic quantization.
//
// At load, each output channel's weights are quantized symmetrically to s8 (w ≈ code · scale[c]).
// At run time, each input row (token) is quantized asymmetrically to u8 (x ≈ (q − zero[r]) ·
// scale[r]); oneDNN multiplies u8 × s8 into s32, and the epilogue turns that back into float32:
//   y[r, c] = (acc[r, c] − zero[r] · Σ_k code[c, k]) · scale[r] · scale[c] + bias[c],
// then the activation, or the residual add. u8 × s8 is what oneDNN 2.6's gemm runs fast on AVX2
// (gemm:jit); s8 × s8 it runs several times slower there.
//
// Without VNNI, oneDNN's int8 gemm multiplies with vpmaddubsw, which adds two u8 · s8 products
// into a saturating s16: 2 · 255 · 127 overflows it. Weights therefore use 7 bits (|code| <= 63,
// 2 · 255 · 63 = 32130 fits) unless the CPU has VNNI, whose vpdpbusd adds into s32.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "compute/cpu/cpu_linear.hpp"
#include "compute/cpu/int8_kernels.hpp"
#include "core/paged_array.hpp"

namespace hades::cpu {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using DataType = memory::data_type;

// Rows per block: a block's u8 input and s32 result (MiniLM's widest, 1536 columns: 1.9 MB) stay
// near the core's L2 between the quantization, the matmul and the epilogue.
constexpr int64_t kRowBlock = 256;
// Fewer rows than this per thread run on the calling thread alone.
constexpr int64_t kMinRowsPerThread = 32;

int32_t weight_code_max() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx2_vnni:
    case dnnl::cpu_isa::avx512_core_vnni:
    case dnnl::cpu_isa::avx512_core_bf16:
    case dnnl::cpu_isa::avx512_core_amx: return 127;
    default: return 63;
  }
}

// Reused per calling thread: no allocation per op once grown.
struct Scratch {
  std::vector<uint8_t> input;
  std::vector<int32_t> acc;
  std::vector<float> scales;
  std::vector<int32_t> zero_points;

  void reserve(int64_t rows, int64_t in, int64_t out) {
    auto grow = [](auto& v, int64_t n) {
      if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
    };
    grow(input, rows * in);
    grow(acc, rows * out);
    grow(scales, rows);
    grow(zero_points, rows);
  }
};

// The weights are cut into column slices, one per thread of the loading thread's team, each with
// its own one-thread primitive and packed codes (together the size of the whole matrix). A large
// batch spreads row blocks over the team, each block running every slice; a short one (a query's
// few rows) runs the slices side by side, one per thread: otherwise one thread streamed the whole
// weight matrix through oneDNN's re-layout while the other idled.
class Int8Linear final : public CpuPackedLinear {
 public:
  Int8Linear(dnnl::engine engine, const LinearWeights& w)
      : CpuPackedLinear(w.in_features, w.out_features), engine_(std::move(engine)) {
    const PagedArray<int8_t> codes = quantize_weights(w);
    bias_.assign(static_cast<size_t>(w.out_features), 0.0f);
    std::copy(w.bias.begin(), w.bias.end(), bias_.begin());
    const int64_t count = std::clamp<int64_t>(omp_get_max_threads(), 1, w.out_features / 64 + 1);
    const int64_t width = (w.out_features + count - 1) / count;
    uint64_t held = 0;
    for (int64_t first = 0; first < w.out_features; first += width) {
      slices_.push_back(make_slice(codes, first, std::min(width, w.out_features - first)));
      held += slices_.back().packed.get_desc().get_size();
    }
    set_held_bytes(held + bias_.size() * sizeof(float) + weight_scales_.size() * sizeof(float) +
                   weight_sums_.size() * sizeof(int32_t));
  }

  void run(const float* x, int64_t rows, float* y, Activation act, bool accumulate) const override {
    const Int8Epilogue epilogue{
        weight_sums_.data(), weight_scales_.data(), bias_.data(), out_features(), act, accumulate};
    const int64_t threads = omp_get_max_threads();
    int64_t blocks = (rows + kRowBlock - 1) / kRowBlock;
    if (threads > 1 && blocks < threads && rows >= threads * kMinRowsPerThread) blocks = threads;
    if (blocks == 1) {
      // The primitives were made for one thread; run in a larger team (not inside a parallel
      // region), oneDNN 2.6 splits a short block's weight re-layout across it, which made a
      // short text slower. The slices get the team's threads instead.
      const OneThread scope;
      run_block(x, rows, y, epilogue, threads > 1 && slices_.size() > 1);
      return;
    }
    const int64_t block_rows = (rows + blocks - 1) / blocks;
    const int64_t in = in_features();
    const int64_t out = out_features();
#pragma omp parallel for schedule(dynamic, 1) if (threads > 1)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t first = b * block_rows;
      const int64_t count = std::min(rows, first + block_rows) - first;
      if (count > 0) run_block(x + first * in, count, y + first * out, epilogue, false);
    }
  }

 private:
  struct Slice {
    int64_t first = 0;  // its first output column
    int64_t width = 0;
    dnnl::matmul matmul;
    PagedMemory storage;  // what `packed` points into
    memory packed;
  };

  // Columns [first, first + width) of the layer: rows of the [out, in] codes, so contiguous.
  Slice make_slice(const PagedArray<int8_t>& codes, int64_t first, int64_t width) const {
    const int64_t in = in_features();
    const memory::desc src({DNNL_RUNTIME_DIM_VAL, in}, DataType::u8, Tag::ab);
    const memory::desc any({in, width}, DataType::s8, Tag::any);
    const memory::desc dst({DNNL_RUNTIME_DIM_VAL, width}, DataType::s32, Tag::ab);
    const OneThread one_thread;  // each slice runs on one thread, whichever calls it
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, any, dst), engine_);
    PagedMemory storage(pd.weights_desc().get_size());
    memory packed(pd.weights_desc(), engine_, storage.data());
    Slice slice{first, width, dnnl::matmul(pd), std::move(storage), std::move(packed)};
    // [out, in] row-major is the K×N matrix in the "ba" layout.
    memory source({{in, width}, DataType::s8, Tag::ba}, engine_,
                  const_cast<int8_t*>(codes.data() + first * in));
    dnnl::stream stream(engine_);
    dnnl::reorder(source, slice.packed).execute(stream, source, slice.packed);
    stream.wait();
    return slice;
  }

  // Symmetric per output channel: code = round(w / scale[c]), scale[c] = max |w[c, :]| / max code.
  PagedArray<int8_t> quantize_weights(const LinearWeights& w) {
    const int32_t code_max = weight_code_max();
    PagedArray<int8_t> codes(w.weight.size());
    weight_scales_.resize(static_cast<size_t>(w.out_features));
    weight_sums_.resize(static_cast<size_t>(w.out_features));
    for (int64_t c = 0; c < w.out_features; ++c) {
      weight_sums_[c] =
          quantize_weight_row(w.weight.data() + c * w.in_features, w.in_features, code_max,
                              codes.data() + c * w.in_features, &weight_scales_[c]);
    }
    return codes;
  }

  // One block of rows, quantized once by the calling thread, then every slice: one after the
  // other on this thread, or, for a short batch alone in the call, one slice per thread.
  void run_block(const float* x, int64_t rows, float* y, const Int8Epilogue& epilogue,
                 bool slices_side_by_side) const {
    thread_local Scratch scratch;
    scratch.reserve(rows, in_features(), out_features());
    quantize_rows_u8(x, rows, in_features(), scratch.input.data(), scratch.scales.data(),
                     scratch.zero_points.data());
    // By pointer: inside the parallel region `scratch` would name each thread's own. Each slice's
    // result goes to its own part of acc.
    const uint8_t* input = scratch.input.data();
    const float* scales = scratch.scales.data();
    const int32_t* zero_points = scratch.zero_points.data();
    int32_t* acc = scratch.acc.data();
    const auto count = static_cast<int64_t>(slices_.size());
#pragma omp parallel for schedule(static, 1) num_threads(slices_side_by_side ? count : 1)
    for (int64_t i = 0; i < count; ++i) {
      const Slice& slice = slices_[static_cast<size_t>(i)];
      run_slice(slice, input, rows, scales, zero_points, acc + slice.first * rows, epilogue, y);
    }
  }

  // acc: room for [rows, slice.width]; y: the layer's [rows, out] output.
  void run_slice(const Slice& slice, const uint8_t* input, int64_t rows, const float* scales,
                 const int32_t* zero_points, int32_t* acc, const Int8Epilogue& epilogue,
                 float* y) const {
    const memory src({{rows, in_features()}, DataType::u8, Tag::ab}, engine_,
                     const_cast<uint8_t*>(input));
    const memory dst({{rows, slice.width}, DataType::s32, Tag::ab}, engine_, acc);
    dnnl::stream stream(engine_);
    slice.matmul.execute(
        stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, slice.packed}, {DNNL_ARG_DST, dst}});
    stream.wait();
    Int8Epilogue part = epilogue;
    part.weight_sums += slice.first;
    part.weight_scales += slice.first;
    part.bias += slice.first;
    part.cols = slice.width;
    part.y_stride = epilogue.cols;
    dequantize_rows(acc, rows, scales, zero_points, part, y + slice.first);
  }

  dnnl::engine engine_;
  std::vector<Slice> slices_;
  std::vector<float> bias_;           // zeros when the layer has none
  std::vector<float> weight_scales_;  // [out]
  std::vector<int32_t> weight_sums_;  // [out]: Σ_k code[c, k]
};

}  // namespace

std::unique_ptr<CpuPackedLinear> make_int8_linear(const dnnl::engine& engine,
                                                  const LinearWeights& weights) {
  return std::make_unique<Int8Linear>(engine, weights);
}

}  // namespace hades::cpu
