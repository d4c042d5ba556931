#include "models/masked_lm.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "hades/error.hpp"

namespace hades {
namespace {

// Rows of logits computed at once: 64 rows of BERT's vocabulary are 7.8 MB, while a matmul of 64
// rows keeps the decoder's weights streaming at full width.
constexpr int64_t kLogitRows = 64;

// The largest MAX_ACTIVE_DIMS values of POOLED (all >= 0), as select_max_active_dims keeps them
// (by absolute value, which is the value here), then every non-zero one in index order.
SparseVector sparse_of(std::span<const float> pooled, std::optional<int64_t> max_active_dims) {
  std::vector<int32_t> active;
  for (size_t v = 0; v < pooled.size(); ++v) {
    if (pooled[v] != 0.0f) active.push_back(static_cast<int32_t>(v));
  }
  if (max_active_dims && static_cast<int64_t>(active.size()) > *max_active_dims) {
    const auto keep = active.begin() + *max_active_dims;
    std::nth_element(active.begin(), keep, active.end(),
                     [&](int32_t a, int32_t b) { return pooled[a] > pooled[b]; });
    active.erase(keep, active.end());
    std::sort(active.begin(), active.end());
  }
  SparseVector out;
  out.indices = std::move(active);
  out.values.reserve(out.indices.size());
  for (const int32_t v : out.indices) out.values.push_back(pooled[v]);
  return out;
}

// SpladePooling's activation of one logit: log1p(relu(x)), and log1p once more for log1p_relu.
float splade_activation(float logit, SpladeActivation activation) {
  if (logit <= 0.0f) return 0.0f;
  const float once = std::log1p(logit);
  return activation == SpladeActivation::log1p_relu ? std::log1p(once) : once;
}

}  // namespace

MaskedLmHead::MaskedLmHead(MaskedLmHeadSpec spec, const Backend& backend, int64_t hidden_size)
    : spec_(std::move(spec)), backend_(backend), hidden_size_(hidden_size) {
  if (!spec_.transform || !spec_.decoder) {
    throw Error(ErrorCode::internal, "a masked-LM head needs its transform and its decoder");
  }
}

void MaskedLmHead::logits(const float* hidden, int64_t rows, float* transformed,
                          float* logits) const {
  backend_.linear(*spec_.transform, hidden, rows, transformed, spec_.activation);
  backend_.add_layer_norm(transformed, nullptr, rows, hidden_size_, spec_.norm.params());
  backend_.linear(*spec_.decoder, transformed, rows, logits, Activation::none);
}

std::unique_ptr<MaskedLmHead> load_masked_lm_head(const WeightStore& weights,
                                                  const Backend& backend,
                                                  const MaskedLmHeadNames& names,
                                                  const MaskedLmHeadShape& shape) {
  WeightLoader w(weights, backend, "");
  const int64_t h = shape.hidden_size;
  MaskedLmHeadSpec spec;
  spec.transform = w.linear(names.transform, h, h);
  spec.activation = shape.activation;
  spec.norm = w.layer_norm(names.norm, h, shape.norm_eps);
  const bool stored = w.contains(names.decoder_weight);
  if (!stored && !shape.tied) {
    throw Error(ErrorCode::invalid_model,
                shape.config_source + ": tie_word_embeddings is false, but the weights hold no " +
                    names.decoder_weight + " (the masked-LM decoder)");
  }
  const auto bias = std::find_if(names.bias_names.begin(), names.bias_names.end(),
                                 [&](const std::string& name) { return w.contains(name); });
  // The first name is the one transformers writes; naming it says what is missing.
  const std::string& bias_name = bias == names.bias_names.end() ? names.bias_names.front() : *bias;
  spec.decoder = w.linear_from(stored ? names.decoder_weight : names.tied_weight, bias_name, h,
                               shape.vocab_size);
  return std::make_unique<MaskedLmHead>(std::move(spec), backend, h);
}

std::vector<SparseVector> splade_pool(const SparsePoolingRun& run, std::span<const float> hidden,
                                      std::span<const int32_t> cu_seqlens) {
  const int64_t h = run.head.hidden_size();
  const int64_t vocab = run.head.vocab_size();
  const int64_t tokens = cu_seqlens.back();
  const bool max = run.pooling.strategy == SpladeStrategy::max;
  std::vector<float> transformed(static_cast<size_t>(kLogitRows * h));
  std::vector<float> logits(static_cast<size_t>(kLogitRows * vocab));
  // Max pooling keeps the largest raw logit and applies the activation once at the end: the
  // activation is non-decreasing, so the max of the activations is the activation of the max.
  const float empty = max ? -std::numeric_limits<float>::infinity() : 0.0f;
  std::vector<float> pooled(static_cast<size_t>(vocab), empty);
  std::vector<SparseVector> out;
  out.reserve(cu_seqlens.size() - 1);
  size_t sequence = 0;
  // Ends the current sequence: its vector out, the accumulator reset.
  const auto finish = [&] {
    if (max) {
      for (float& v : pooled) v = splade_activation(v, run.pooling.activation);
    }
    out.push_back(sparse_of(pooled, run.max_active_dims));
    std::fill(pooled.begin(), pooled.end(), empty);
    ++sequence;
  };
  for (int64_t first = 0; first < tokens; first += kLogitRows) {
    const int64_t rows = std::min(kLogitRows, tokens - first);
    run.head.logits(hidden.data() + first * h, rows, transformed.data(), logits.data());
    for (int64_t r = 0; r < rows; ++r) {
      // The sequences that end before this token (an empty one ends where it starts) are done.
      while (cu_seqlens[sequence + 1] <= first + r) finish();
      const float* row = logits.data() + r * vocab;
      if (max) {
        for (int64_t v = 0; v < vocab; ++v) pooled[v] = std::max(pooled[v], row[v]);
      } else {
        for (int64_t v = 0; v < vocab; ++v) {
          pooled[v] += splade_activation(row[v], run.pooling.activation);
        }
      }
    }
  }
  while (out.size() + 1 < cu_seqlens.size()) finish();
  return out;
}

}  // namespace hades
