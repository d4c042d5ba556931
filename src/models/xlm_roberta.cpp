// RoBERTa and XLM-RoBERTa, mirroring transformers'
// src/transformers/models/roberta/modeling_roberta.py and
// models/xlm_roberta/modeling_xlm_roberta.py (*Model, *ForTokenClassification,
// *ForSequenceClassification, *ForMaskedLM), whose layers are the same code: the two model types
// differ only in their tokenizers (byte-level BPE for RoBERTa, Unigram for XLM-R). BERT's post-norm
// layers (bert.cpp) under "roberta.", with RoBERTa's positions (from pad_token_id + 1; a padding
// token at pad_token_id), so that a sequence holds at most max_position_embeddings - pad_token_id -
// 1 tokens. The sequence classification head has no pooler: dense + tanh on the first token, then
// out_proj.
#include <string>

#include "io/json_file.hpp"
#include "models/architectures.hpp"
#include "models/bert_family.hpp"
#include "models/weights_util.hpp"

namespace hades {
namespace {

BertConfig parse_config(const nlohmann::json& json, const std::string& source) {
  BertConfig config = parse_bert_config(json, source);
  const JsonFields f(json, source);
  // RobertaConfig's default, which transformers writes into every saved config.
  config.padding_idx = f.find_non_negative_int("pad_token_id").value_or(1);
  if (config.padding_idx + 1 >= config.max_positions) {
    f.fail("pad_token_id",
           "leaves no position: positions start at pad_token_id + 1 and "
           "max_position_embeddings is " +
               std::to_string(config.max_positions));
  }
  return config;
}

ModelParts load_roberta_layers(const ModelLoadContext& context, const std::string& architecture) {
  const BertConfig config = parse_config(context.config, context.config_source);
  BertTensorNames names;
  names.architecture = architecture;
  // Checkpoints of the heads keep the encoder under "roberta."; a bare XLMRobertaModel has none.
  names.prefix = WeightLoader::detect_prefix(context.weights, "embeddings.word_embeddings.weight",
                                             {"roberta."});
  ModelParts parts;
  parts.encoder = make_bert_style_encoder(config, names, context.weights, context.backend);
  if (context.task == ModelTask::masked_lm) {
    // XLMRobertaForMaskedLM: lm_head (XLMRobertaLMHead), whose activation is GELU whatever
    // hidden_act says, its decoder tied to the word embeddings.
    MaskedLmHeadShape shape = masked_lm_shape(config, context);
    shape.activation = Activation::gelu_erf;
    parts.masked_lm = load_masked_lm_head(context.weights, context.backend,
                                          {.transform = "lm_head.dense",
                                           .norm = "lm_head.layer_norm",
                                           .decoder_weight = "lm_head.decoder.weight",
                                           .tied_weight = names.prefix + names.word_embeddings,
                                           .bias_names = {"lm_head.bias", "lm_head.decoder.bias"}},
                                          shape);
  } else if (is_classification(context.task)) {
    // RobertaClassificationHead: no pooler, its own dense + tanh, then out_proj.
    parts.head =
        load_tanh_head(context, config.hidden_size, {"classifier.dense", "classifier.out_proj"});
  }
  return parts;
}

}  // namespace

ModelParts load_roberta(const ModelLoadContext& context) {
  return load_roberta_layers(context, "roberta");
}

ModelParts load_xlm_roberta(const ModelLoadContext& context) {
  return load_roberta_layers(context, "xlm-roberta");
}

}  // namespace hades
