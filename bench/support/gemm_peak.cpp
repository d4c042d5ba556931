#include "support/gemm_peak.hpp"

#include <chrono>
#include <dnnl.hpp>
#include <string>
#include <vector>

namespace hades::bench {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using DataType = memory::data_type;

// The data types of one precision's matmul: fp32 and bf16 write f32, int8 multiplies u8
// activations by s8 weights into s32 as hades's int8 linear layers do.
struct Types {
  DataType src, weights, dst;
};

// GFLOP/s of one matmul shape, repeated for at least half a second after a warm-up.
double measure(const dnnl::engine& engine, int64_t m, int64_t k, int64_t n, Types types) {
  const memory::desc src_desc({m, k}, types.src, Tag::ab);
  const memory::desc weights_any({k, n}, types.weights, Tag::any);
  const memory::desc dst_desc({m, n}, types.dst, Tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_desc, weights_any, dst_desc),
                                        engine);
  memory src(src_desc, engine), weights(pd.weights_desc(), engine), dst(dst_desc, engine);
  // Values do not change the speed of a GEMM, but NaNs from uninitialised memory could.
  std::vector<uint8_t> zeros(src_desc.get_size(), 0);
  std::copy(zeros.begin(), zeros.end(), static_cast<uint8_t*>(src.get_data_handle()));
  std::fill_n(static_cast<uint8_t*>(weights.get_data_handle()), pd.weights_desc().get_size(), 0);
  const dnnl::matmul matmul(pd);
  dnnl::stream stream(engine);
  const auto run = [&] {
    matmul.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}});
    stream.wait();
  };
  for (int i = 0; i < 3; ++i) run();
  const auto start = std::chrono::steady_clock::now();
  int64_t iterations = 0;
  double seconds = 0;
  while (seconds < 0.5) {
    run();
    ++iterations;
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return 2.0 * static_cast<double>(m * k * n * iterations) / seconds / 1e9;
}

nlohmann::json measure_all(const dnnl::engine& engine, int64_t rows, Types types) {
  nlohmann::json shapes = nlohmann::json::array();
  double peak = 0;
  for (const auto& [k, n] : std::vector<std::pair<int64_t, int64_t>>{
           {384, 1152}, {384, 384}, {384, 1536}, {1536, 384}}) {
    const double gflops = measure(engine, rows, k, n, types);
    peak = std::max(peak, gflops);
    shapes.push_back({{"m", rows}, {"k", k}, {"n", n}, {"gflops", gflops}});
  }
  return {{"shapes", shapes}, {"peak_gflops", peak}};
}

std::string isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "other (" + std::to_string(static_cast<int>(isa)) + ")";
  }
}

bool has_native_bf16(dnnl::cpu_isa isa) {
  return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
}

}  // namespace

nlohmann::json gemm_peak(int64_t rows) {
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  nlohmann::json out = {
      {"isa", isa_name(isa)},
      {"fp32", measure_all(engine, rows, {DataType::f32, DataType::f32, DataType::f32})}};
  out["bf16"] = has_native_bf16(isa)
                    ? measure_all(engine, rows, {DataType::bf16, DataType::bf16, DataType::f32})
                    : nlohmann::json();
  // oneDNN has an int8 matmul on every x86 ISA hades runs on (VNNI where the CPU has it).
  out["int8"] = measure_all(engine, rows, {DataType::u8, DataType::s8, DataType::s32});
  return out;
}

}  // namespace hades::bench
