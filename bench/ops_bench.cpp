// Micro-benchmarks of the CPU backend's hot ops at all-MiniLM-L6-v2's shapes (Google Benchmark):
// the four linear layers at 512, 64 and 9 token rows in fp32, int8 and bf16 (the last argument: 0
// fp32, 1 int8, 2 bf16, which is skipped on CPUs without it), the 24 linear layers of a whole pass
// with their weights coming from memory, ragged attention over 8 sequences of 16, 64 or 256
// tokens, and the residual LayerNorm.
// Items/s are token rows; the FLOP counters are GFLOP/s (int8: integer operations).
//
//   build/bench/hades_bench_ops [--benchmark_filter=Linear]
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "compute/backend.hpp"

namespace hades {
namespace {

constexpr int64_t kHidden = 384;
constexpr int64_t kHeads = 12;
constexpr int64_t kHeadDim = 32;

// The backend for `precision`, or null where this CPU cannot run it (bf16 without AVX512-BF16).
const Backend* cpu(LinearPrecision precision = LinearPrecision::fp32) {
  static const std::unique_ptr<Backend> fp32 = make_cpu_backend();
  static const std::unique_ptr<Backend> int8 =
      make_cpu_backend({.linear_precision = LinearPrecision::int8});
  static const std::unique_ptr<Backend> bf16 =
      cpu_precision_unavailable(LinearPrecision::bf16).empty()
          ? make_cpu_backend({.linear_precision = LinearPrecision::bf16})
          : nullptr;
  switch (precision) {
    case LinearPrecision::int8: return int8.get();
    case LinearPrecision::bf16: return bf16.get();
    case LinearPrecision::fp32: break;
  }
  return fp32.get();
}

// The precision a benchmark argument names: 0 fp32, 1 int8, 2 bf16.
LinearPrecision precision_arg(int64_t arg) {
  return arg == 1   ? LinearPrecision::int8
         : arg == 2 ? LinearPrecision::bf16
                    : LinearPrecision::fp32;
}

std::vector<float> random_values(size_t n, float scale = 0.1f) {
  std::mt19937 generator(7);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> out(n);
  for (float& v : out) v = normal(generator);
  return out;
}

// args: rows, in_features, out_features, precision (0 fp32, 1 int8, 2 bf16)
void Linear(benchmark::State& state) {
  const int64_t rows = state.range(0), in = state.range(1), out = state.range(2);
  const Backend* found = cpu(precision_arg(state.range(3)));
  if (found == nullptr) return state.SkipWithError("this CPU has no native bf16");
  const Backend& backend = *found;
  const std::vector<float> weight = random_values(static_cast<size_t>(in * out));
  const std::vector<float> bias = random_values(static_cast<size_t>(out));
  const auto layer = backend.pack_linear({weight, bias, in, out});
  const std::vector<float> x = random_values(static_cast<size_t>(rows * in), 1.0f);
  std::vector<float> y(static_cast<size_t>(rows * out));
  for (auto _ : state) backend.linear(*layer, x.data(), rows, y.data(), Activation::gelu_erf);
  state.SetItemsProcessed(state.iterations() * rows);
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * static_cast<double>(rows * in * out) * static_cast<double>(state.iterations()) / 1e9,
      benchmark::Counter::kIsRate);
}
BENCHMARK(Linear)
    ->ArgsProduct({{9, 64, 512}, {kHidden}, {3 * kHidden, kHidden, 4 * kHidden}, {0, 1, 2}})
    ->ArgsProduct({{9, 64, 512}, {4 * kHidden}, {kHidden}, {0, 1, 2}});

// The linear layers of all six layers in turn, as one short text's pass meets them: in fp32 their
// 42 MB are more than the caches hold, so each layer's weights come from memory (int8: 10.5 MB).
// args: rows, precision (0 fp32, 1 int8, 2 bf16)
void LinearStack(benchmark::State& state) {
  const int64_t rows = state.range(0);
  const Backend* found = cpu(precision_arg(state.range(1)));
  if (found == nullptr) return state.SkipWithError("this CPU has no native bf16");
  const Backend& backend = *found;
  struct Shape {
    int64_t in, out;
  };
  const Shape shapes[] = {
      {kHidden, 3 * kHidden}, {kHidden, kHidden}, {kHidden, 4 * kHidden}, {4 * kHidden, kHidden}};
  std::vector<std::unique_ptr<PackedLinear>> layers;
  double flops = 0;
  for (int layer = 0; layer < 6; ++layer) {
    for (const Shape& s : shapes) {
      const std::vector<float> weight = random_values(static_cast<size_t>(s.in * s.out));
      const std::vector<float> bias = random_values(static_cast<size_t>(s.out));
      layers.push_back(backend.pack_linear({weight, bias, s.in, s.out}));
      flops += 2.0 * static_cast<double>(rows * s.in * s.out);
    }
  }
  const std::vector<float> x = random_values(static_cast<size_t>(rows * 4 * kHidden), 1.0f);
  std::vector<float> y(static_cast<size_t>(rows * 4 * kHidden));
  for (auto _ : state) {
    for (const auto& layer : layers) {
      backend.linear(*layer, x.data(), rows, y.data(), Activation::none);
    }
  }
  state.SetItemsProcessed(state.iterations() * rows);
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(LinearStack)->ArgsProduct({{1, 4, 9, 16, 32, 64}, {0, 1, 2}})->UseRealTime();

// args: sequences, tokens per sequence, precision (0 fp32, 2 bf16: bf16 products)
void Attention(benchmark::State& state) {
  const int64_t sequences = state.range(0), length = state.range(1);
  const Backend* backend = cpu(precision_arg(state.range(2)));
  if (backend == nullptr) return state.SkipWithError("this CPU has no native bf16");
  std::vector<int32_t> cu = {0};
  for (int64_t s = 0; s < sequences; ++s) cu.push_back(static_cast<int32_t>((s + 1) * length));
  const int64_t tokens = sequences * length;
  const std::vector<float> qkv = random_values(static_cast<size_t>(tokens * 3 * kHidden), 1.0f);
  std::vector<float> out(static_cast<size_t>(tokens * kHidden));
  const AttentionParams params{cu, kHeads, kHeadDim, 0.17677669f, 0};
  for (auto _ : state) backend->attention(qkv.data(), params, out.data());
  state.SetItemsProcessed(state.iterations() * tokens);
  state.counters["GFLOP/s"] =
      benchmark::Counter(4.0 * static_cast<double>(sequences * length * length * kHidden) *
                             static_cast<double>(state.iterations()) / 1e9,
                         benchmark::Counter::kIsRate);
}
BENCHMARK(Attention)->ArgsProduct({{8}, {16, 64, 256}, {0, 2}});

void AddLayerNorm(benchmark::State& state) {
  const int64_t rows = state.range(0);
  const std::vector<float> gamma = random_values(kHidden), beta = random_values(kHidden);
  const std::vector<float> residual = random_values(static_cast<size_t>(rows * kHidden), 1.0f);
  std::vector<float> x = random_values(static_cast<size_t>(rows * kHidden), 1.0f);
  const LayerNormParams params{gamma, beta, 1e-12f};
  for (auto _ : state) cpu()->add_layer_norm(x.data(), residual.data(), rows, kHidden, params);
  state.SetItemsProcessed(state.iterations() * rows);
}
BENCHMARK(AddLayerNorm)->Arg(64)->Arg(512);

}  // namespace
}  // namespace hades

BENCHMARK_MAIN();
