// The post-norm encoder of BERT (bert.cpp), shared by the architectures that keep its math under
// other tensor names (DistilBERT, distilbert.cpp) or other positions (XLM-RoBERTa,
// xlm_roberta.cpp).
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "compute/backend.hpp"
#include "io/json_file.hpp"
#include "io/weights.hpp"
#include "models/architectures.hpp"
#include "models/encoder.hpp"

namespace hades {

struct BertConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t intermediate_size = 0;
  int64_t max_positions = 0;
  int64_t type_vocab_size = 0;  // 0: no token type embeddings (DistilBERT)
  float layer_norm_eps = 1e-12f;
  Activation activation = Activation::gelu_erf;
  // RoBERTa's positions when >= 0 (transformers' create_position_ids_from_input_ids): the tokens
  // count from padding_idx + 1, and a token whose id is padding_idx sits at padding_idx.
  int64_t padding_idx = -1;
};

// The config.json keys of the fields BERT and DistilBERT share, under BERT's names by default.
struct BertConfigKeys {
  const char* hidden_size = "hidden_size";
  const char* num_layers = "num_hidden_layers";
  const char* num_heads = "num_attention_heads";
  const char* intermediate_size = "intermediate_size";
  const char* activation = "hidden_act";
};

// The sizes and activation of CONFIG under KEYS, checked (heads divide the hidden size, the model
// is not absurdly large); the family's other fields are left at their defaults.
BertConfig read_bert_config(const JsonFields& config, const BertConfigKeys& keys);

// BERT's config.json fields (bert.cpp).
BertConfig parse_bert_config(const nlohmann::json& json, const std::string& source);

// Where each tensor lives; BERT's names by default. Layer tensors are LAYER + i + "." + NAME.
struct BertTensorNames {
  std::string architecture = "bert";
  std::string prefix;  // the head checkpoints' encoder prefix ("bert.", "distilbert.")
  std::string word_embeddings = "embeddings.word_embeddings.weight";
  std::string position_embeddings = "embeddings.position_embeddings.weight";
  std::string token_type_embeddings = "embeddings.token_type_embeddings.weight";
  std::string embedding_norm = "embeddings.LayerNorm";
  std::string layer = "encoder.layer.";
  std::string query = "attention.self.query";
  std::string key = "attention.self.key";
  std::string value = "attention.self.value";
  std::string attention_output = "attention.output.dense";
  std::string attention_norm = "attention.output.LayerNorm";
  std::string intermediate = "intermediate.dense";
  std::string output = "output.dense";
  std::string output_norm = "output.LayerNorm";
  std::string pooler = "pooler.dense";  // empty: none
};

// The heads of BERT's family: *ForTokenClassification is "classifier" on every token;
// *ForSequenceClassification is SEQUENCE_DENSE + tanh on the first token, then
// SEQUENCE_CLASSIFIER.
struct TanhHeadNames {
  std::string sequence_dense;
  std::string sequence_classifier;
};
std::unique_ptr<ClassificationHead> load_tanh_head(const ModelLoadContext& context, int64_t hidden,
                                                   const TanhHeadNames& names);

// The masked-LM head's shape in CONFIG: the transform's activation and LayerNorm eps are the
// encoder's, the decoder tied unless config.json's tie_word_embeddings is false.
MaskedLmHeadShape masked_lm_shape(const BertConfig& config, const ModelLoadContext& context);

std::unique_ptr<Encoder> make_bert_style_encoder(const BertConfig& config,
                                                 const BertTensorNames& names,
                                                 const WeightStore& weights,
                                                 const Backend& backend);

}  // namespace hades
