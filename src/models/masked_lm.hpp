// The masked-language-model heads of transformers' *ForMaskedLM classes, and SPLADE's sparse
// pooling over their logits, as sentence-transformers' SparseEncoder computes it
// (sentence_transformers/sparse_encoder/modules/splade_pooling.py). The head is the same steps
// for every architecture that has one:
//   transform: dense + activation + LayerNorm (BERT's cls.predictions.transform, DistilBERT's
//              vocab_transform + vocab_layer_norm, XLM-RoBERTa's lm_head)
//   decoder:   linear to the vocabulary, its weight tied to the word embeddings unless the
//              checkpoint stores its own, plus a bias.
// The logits are [tokens, vocab]: 30,522 floats per token for BERT's vocabulary, so they are never
// held for a whole batch. SPLADE pooling computes them a block of rows at a time and folds each
// block into its sequence's vector at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "compute/backend.hpp"
#include "io/sentence_transformers.hpp"
#include "models/weights_util.hpp"

namespace hades {

struct MaskedLmHeadSpec {
  std::unique_ptr<PackedLinear> transform;  // [hidden] → [hidden]
  Activation activation = Activation::gelu_erf;
  NormWeights norm;
  std::unique_ptr<PackedLinear> decoder;  // [hidden] → [vocab], with its bias
};

class MaskedLmHead {
 public:
  MaskedLmHead(MaskedLmHeadSpec spec, const Backend& backend, int64_t hidden_size);

  int64_t hidden_size() const { return hidden_size_; }
  int64_t vocab_size() const { return spec_.decoder->out_features(); }
  // LOGITS[rows, vocab] of HIDDEN[rows, hidden]; TRANSFORMED[rows, hidden] is working memory.
  void logits(const float* hidden, int64_t rows, float* transformed, float* logits) const;

 private:
  MaskedLmHeadSpec spec_;
  const Backend& backend_;
  int64_t hidden_size_;
};

// Where a checkpoint keeps its head: TRANSFORM and NORM are module names (".weight"/".bias"
// follow); the decoder's weight is DECODER_WEIGHT when stored, else TIED_WEIGHT (the word
// embeddings); its bias is the first of BIAS_NAMES that exists.
struct MaskedLmHeadNames {
  std::string transform;
  std::string norm;
  std::string decoder_weight;
  std::string tied_weight;
  std::vector<std::string> bias_names;
};

// What the architecture's config.json says of its head.
struct MaskedLmHeadShape {
  int64_t hidden_size = 0;
  int64_t vocab_size = 0;
  Activation activation = Activation::gelu_erf;
  float norm_eps = 1e-12f;
  bool tied = true;           // config.json's tie_word_embeddings
  std::string config_source;  // config.json's path, for messages
};

// The head under NAMES; an untied head without its decoder weight is invalid_model naming
// tie_word_embeddings.
std::unique_ptr<MaskedLmHead> load_masked_lm_head(const WeightStore& weights,
                                                  const Backend& backend,
                                                  const MaskedLmHeadNames& names,
                                                  const MaskedLmHeadShape& shape);

// Sparse vectors over the vocabulary: the non-zero entries of each row, indices ascending.
struct SparseVector {
  std::vector<int32_t> indices;
  std::vector<float> values;
};

// SpladePooling over the sequences of a ragged batch: per sequence, the max (or sum) over its
// tokens of log(1 + relu(logits)) (log1p_relu: log(1 + log(1 + relu(logits)))), then, with
// MAX_ACTIVE_DIMS, only its largest values (sentence-transformers' select_max_active_dims).
struct SparsePoolingRun {
  const MaskedLmHead& head;
  const SpladePoolingConfig& pooling;
  std::optional<int64_t> max_active_dims;
};
std::vector<SparseVector> splade_pool(const SparsePoolingRun& run, std::span<const float> hidden,
                                      std::span<const int32_t> cu_seqlens);

}  // namespace hades
