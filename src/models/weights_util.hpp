// Shared helpers of the architecture files: reading config fields every architecture has, and
// loading named tensors with their expected shapes into the backend's layout.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "compute/backend.hpp"
#include "core/paged_array.hpp"
#include "io/json_file.hpp"
#include "io/weights.hpp"

namespace hades {

// A LayerNorm's parameters; beta is empty for LayerNorms without bias.
struct NormWeights {
  std::vector<float> gamma;
  std::vector<float> beta;
  float eps = 1e-12f;

  LayerNormParams params() const { return {gamma, beta, eps}; }
};

// Maps config.json's activation names to the backend's activations, as transformers' ACT2FN does.
Activation parse_activation(const JsonFields& config, std::string_view key,
                            const std::string& default_name);

// One size a config declares, with the key it came from (for the message).
struct ConfigSize {
  std::string_view key;
  int64_t value = 0;
};

// Refuses configs whose sizes are out of any sane range before anything is allocated for them,
// naming the key at fault.
void check_model_size(const JsonFields& config, std::initializer_list<ConfigSize> sizes);

// Loads tensors named relative to a prefix, checking each against its expected shape.
class WeightLoader {
 public:
  WeightLoader(const WeightStore& weights, const Backend& backend, std::string prefix);

  bool contains(const std::string& name) const;
  // ARRAY is a PagedArray<float> for a large tensor such as an embedding table (see PagedArray
  // for why).
  template <class Array = std::vector<float>>
  Array load(const std::string& name, std::initializer_list<int64_t> shape) {
    Array values = weights_.load_f32<Array>(full(name), shape);
    bytes_loaded_ += values.size() * sizeof(float);
    return values;
  }
  // "NAME.weight" and "NAME.bias" of [in] → [out] (nn.Linear); the bias is optional when
  // `bias_required` is false.
  std::unique_ptr<PackedLinear> linear(const std::string& name, int64_t in, int64_t out,
                                       bool bias_required = true);
  // A linear layer whose WEIGHT [out, in] and BIAS [out] have names of their own (a decoder
  // tied to the word embeddings).
  std::unique_ptr<PackedLinear> linear_from(const std::string& weight, const std::string& bias,
                                            int64_t in, int64_t out);
  // The prefix under which a checkpoint keeps its encoder: "" for a bare model, else the first of
  // `candidates` (e.g. "bert.") under which `probe` exists.
  static std::string detect_prefix(const WeightStore& weights, const std::string& probe,
                                   std::initializer_list<const char*> candidates);

  // Several linears over the same input, stacked along the output axis into one matmul; without
  // biases when `bias_required` is false and the first has none.
  std::unique_ptr<PackedLinear> fused_linear(const std::vector<std::string>& names, int64_t in,
                                             int64_t out_each);
  // The same with outputs of different widths (grouped-query q, k, v), with or without biases.
  struct LinearPart {
    std::string name;
    int64_t out = 0;
  };
  std::unique_ptr<PackedLinear> fused_linear(const std::vector<LinearPart>& parts, int64_t in,
                                             bool bias);
  // "NAME" of [in] → [2 · half] with its two halves of outputs swapped: GTE keeps [up | gate]
  // where Backend::gated_activation reads [gate | up]. The bias is optional.
  std::unique_ptr<PackedLinear> swapped_halves_linear(const std::string& name, int64_t in,
                                                      int64_t half);
  // "NAME.weight"/"NAME.bias", or the "gamma"/"beta" names of older checkpoints; without bias
  // when `bias` is false (ModernBERT's norm_bias).
  NormWeights layer_norm(const std::string& name, int64_t dim, float eps = 1e-12f,
                         bool bias = true);

  // Bytes of the tensors loaded and of the linear layers as packed.
  uint64_t bytes_loaded() const { return bytes_loaded_; }

 private:
  std::string full(const std::string& name) const { return prefix_ + name; }
  std::unique_ptr<PackedLinear> pack(std::span<const float> weight, std::span<const float> bias,
                                     int64_t in, int64_t out);

  const WeightStore& weights_;
  const Backend& backend_;
  std::string prefix_;
  uint64_t bytes_loaded_ = 0;
};

}  // namespace hades
