// Classification heads on top of an encoder's last hidden state, as transformers'
// *ForTokenClassification and *ForSequenceClassification build them. Every architecture's head is a
// sequence of the same steps, so one class serves them all:
//   pool (token classification: none; sequence classification: first token or mean)
//   → dense + activation (BERT's pooler: tanh; DistilBERT's pre_classifier: relu; ModernBERT's
//     head.dense: classifier_activation), optional
//   → LayerNorm (ModernBERT's head.norm), optional
//   → classifier (linear to the labels).
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "compute/backend.hpp"
#include "models/encoder.hpp"
#include "models/masked_lm.hpp"
#include "models/weights_util.hpp"

namespace hades {

// masked_lm: a *ForMaskedLM head, which a SparseEncoder folder asks for (never config.json alone:
// bert-base-uncased names BertForMaskedLM and is served as an embedding model).
enum class ModelTask { base, token_classification, sequence_classification, masked_lm };

constexpr bool is_classification(ModelTask task) {
  return task == ModelTask::token_classification || task == ModelTask::sequence_classification;
}

enum class HeadPooling { none, first_token, mean };

struct HeadSpec {
  HeadPooling pooling = HeadPooling::none;
  std::unique_ptr<PackedLinear> dense;  // optional
  Activation dense_activation = Activation::none;
  std::optional<NormWeights> norm;
  std::unique_ptr<PackedLinear> classifier;
};

class ClassificationHead {
 public:
  ClassificationHead(HeadSpec spec, const Backend& backend, int64_t hidden_size);

  int64_t num_labels() const { return spec_.classifier->out_features(); }
  // Token classification: [tokens, labels]; sequence classification: [sequences, labels].
  std::vector<float> logits(std::span<const float> hidden, const RaggedBatch& batch) const;

 private:
  HeadSpec spec_;
  const Backend& backend_;
  int64_t hidden_size_;
};

// What a model folder holds: the encoder, and the head its config names (if any).
struct ModelParts {
  std::unique_ptr<Encoder> encoder;
  std::unique_ptr<ClassificationHead> head;  // for the classification tasks
  std::unique_ptr<MaskedLmHead> masked_lm;   // for ModelTask::masked_lm
  ModelTask task = ModelTask::base;
  std::vector<std::string> labels;  // config.json's id2label, by id; empty for base models
};

}  // namespace hades
