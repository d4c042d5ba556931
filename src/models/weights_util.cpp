#include "models/weights_util.hpp"

#include <algorithm>
#include <array>
#include <map>

#include "hades/error.hpp"

namespace hades {

Activation parse_activation(const JsonFields& config, std::string_view key,
                            const std::string& default_name) {
  static const std::map<std::string, Activation, std::less<>> known = {
      {"gelu", Activation::gelu_erf},
      {"gelu_new", Activation::gelu_tanh},
      {"gelu_pytorch_tanh", Activation::gelu_tanh},
      {"relu", Activation::relu},
      {"silu", Activation::silu},
      {"swish", Activation::silu},
      {"tanh", Activation::tanh},
  };
  const std::string name = config.find_string(key).value_or(default_name);
  const auto it = known.find(name);
  if (it == known.end()) {
    config.fail(key, "activation '" + name +
                         "' is not supported; supported: gelu, gelu_new, gelu_pytorch_tanh, relu, "
                         "silu, swish, tanh");
  }
  return it->second;
}

void check_model_size(const JsonFields& config, std::initializer_list<ConfigSize> sizes) {
  // 2^24 bounds every dimension of every published encoder by far and keeps products of two
  // dimensions well inside int64.
  constexpr int64_t kMaxDimension = int64_t{1} << 24;
  for (const ConfigSize& size : sizes) {
    if (size.value > kMaxDimension) {
      config.fail(size.key, "is " + std::to_string(size.value) + ", more than the limit of " +
                                std::to_string(kMaxDimension) + " per dimension");
    }
  }
}

WeightLoader::WeightLoader(const WeightStore& weights, const Backend& backend, std::string prefix)
    : weights_(weights), backend_(backend), prefix_(std::move(prefix)) {}

bool WeightLoader::contains(const std::string& name) const {
  return weights_.contains(full(name));
}

std::unique_ptr<PackedLinear> WeightLoader::linear(const std::string& name, int64_t in, int64_t out,
                                                   bool bias_required) {
  const auto weight = weights_.load_f32<PagedArray<float>>(full(name + ".weight"), {out, in});
  std::vector<float> bias;
  if (bias_required || contains(name + ".bias")) {
    bias = weights_.load_f32(full(name + ".bias"), {out});
  }
  return pack(weight.span(), bias, in, out);
}

std::unique_ptr<PackedLinear> WeightLoader::linear_from(const std::string& weight,
                                                        const std::string& bias, int64_t in,
                                                        int64_t out) {
  const auto values = weights_.load_f32<PagedArray<float>>(full(weight), {out, in});
  return pack(values.span(), weights_.load_f32(full(bias), {out}), in, out);
}

std::unique_ptr<PackedLinear> WeightLoader::fused_linear(const std::vector<std::string>& names,
                                                         int64_t in, int64_t out_each) {
  std::vector<LinearPart> parts;
  parts.reserve(names.size());
  for (const std::string& name : names) parts.push_back({name, out_each});
  return fused_linear(parts, in, true);
}

std::unique_ptr<PackedLinear> WeightLoader::fused_linear(const std::vector<LinearPart>& parts,
                                                         int64_t in, bool bias) {
  // Every part is checked before the stacked array is allocated, so that a config with absurd
  // sizes fails on the tensors' shapes instead of asking for their product in memory.
  int64_t out = 0;
  for (const LinearPart& part : parts) {
    weights_.get_float(full(part.name + ".weight"), std::array<int64_t, 2>{part.out, in});
    out += part.out;
  }
  PagedArray<float> weight(static_cast<size_t>(out * in));
  std::vector<float> biases;
  size_t offset = 0;
  for (const LinearPart& part : parts) {
    const auto size = static_cast<size_t>(part.out * in);
    weights_.load_f32_into(full(part.name + ".weight"), std::array<int64_t, 2>{part.out, in},
                           weight.span().subspan(offset, size));
    offset += size;
    if (!bias) continue;
    const std::vector<float> b = weights_.load_f32(full(part.name + ".bias"), {part.out});
    biases.insert(biases.end(), b.begin(), b.end());
  }
  return pack(weight.span(), biases, in, out);
}

std::unique_ptr<PackedLinear> WeightLoader::swapped_halves_linear(const std::string& name,
                                                                  int64_t in, int64_t half) {
  auto weight = weights_.load_f32<PagedArray<float>>(full(name + ".weight"), {2 * half, in});
  std::vector<float> bias;
  if (contains(name + ".bias")) bias = weights_.load_f32(full(name + ".bias"), {2 * half});
  const std::span<float> rows = weight.span();
  std::rotate(rows.begin(), rows.begin() + half * in, rows.end());
  if (!bias.empty()) std::rotate(bias.begin(), bias.begin() + half, bias.end());
  return pack(weight.span(), bias, in, 2 * half);
}

// Counts what the packed layer holds (an int8 layer a quarter of its float32 weights).
std::unique_ptr<PackedLinear> WeightLoader::pack(std::span<const float> weight,
                                                 std::span<const float> bias, int64_t in,
                                                 int64_t out) {
  std::unique_ptr<PackedLinear> layer = backend_.pack_linear({weight, bias, in, out});
  bytes_loaded_ += layer->held_bytes();
  return layer;
}

NormWeights WeightLoader::layer_norm(const std::string& name, int64_t dim, float eps, bool bias) {
  NormWeights norm;
  norm.eps = eps;
  const bool old_names = !contains(name + ".weight") && contains(name + ".gamma");
  norm.gamma = load(name + (old_names ? ".gamma" : ".weight"), {dim});
  if (bias) norm.beta = load(name + (old_names ? ".beta" : ".bias"), {dim});
  return norm;
}

std::string WeightLoader::detect_prefix(const WeightStore& weights, const std::string& probe,
                                        std::initializer_list<const char*> candidates) {
  for (const char* prefix : candidates) {
    if (weights.contains(prefix + probe)) return prefix;
  }
  return "";
}

}  // namespace hades
