// DistilBERT, mirroring transformers' src/transformers/models/distilbert/modeling_distilbert.py:
// BERT's post-norm encoder (bert.cpp) without token types, under its own tensor names;
// LayerNorm eps is fixed at 1e-12. Heads:
//   DistilBertForTokenClassification:    classifier on every token
//   DistilBertForSequenceClassification: first token → pre_classifier → ReLU → classifier
//   DistilBertForMaskedLM:               vocab_transform → activation → vocab_layer_norm →
//                                        vocab_projector (masked_lm.hpp)
#include "hades/error.hpp"
#include "io/json_file.hpp"
#include "models/architectures.hpp"
#include "models/bert_family.hpp"
#include "models/weights_util.hpp"

namespace hades {
namespace {

BertConfig parse_config(const nlohmann::json& json, const std::string& source) {
  BertConfig c = read_bert_config(JsonFields(json, source), {.hidden_size = "dim",
                                                             .num_layers = "n_layers",
                                                             .num_heads = "n_heads",
                                                             .intermediate_size = "hidden_dim",
                                                             .activation = "activation"});
  c.type_vocab_size = 0;
  c.layer_norm_eps = 1e-12f;
  return c;
}

BertTensorNames distilbert_names(const WeightStore& weights) {
  BertTensorNames n;
  n.architecture = "distilbert";
  n.prefix =
      WeightLoader::detect_prefix(weights, "embeddings.word_embeddings.weight", {"distilbert."});
  n.layer = "transformer.layer.";
  n.query = "attention.q_lin";
  n.key = "attention.k_lin";
  n.value = "attention.v_lin";
  n.attention_output = "attention.out_lin";
  n.attention_norm = "sa_layer_norm";
  n.intermediate = "ffn.lin1";
  n.output = "ffn.lin2";
  n.output_norm = "output_layer_norm";
  n.pooler = "";
  return n;
}

}  // namespace

ModelParts load_distilbert(const ModelLoadContext& context) {
  const BertConfig config = parse_config(context.config, context.config_source);
  ModelParts parts;
  const BertTensorNames names = distilbert_names(context.weights);
  parts.encoder = make_bert_style_encoder(config, names, context.weights, context.backend);
  if (context.task == ModelTask::masked_lm) {
    // DistilBertForMaskedLM: vocab_transform → activation → vocab_layer_norm → vocab_projector.
    parts.masked_lm = load_masked_lm_head(context.weights, context.backend,
                                          {.transform = "vocab_transform",
                                           .norm = "vocab_layer_norm",
                                           .decoder_weight = "vocab_projector.weight",
                                           .tied_weight = names.prefix + names.word_embeddings,
                                           .bias_names = {"vocab_projector.bias"}},
                                          masked_lm_shape(config, context));
  }
  if (is_classification(context.task)) {
    WeightLoader w(context.weights, context.backend, "");
    const int64_t h = config.hidden_size;
    HeadSpec spec;
    if (context.task == ModelTask::sequence_classification) {
      spec.pooling = HeadPooling::first_token;
      spec.dense = w.linear("pre_classifier", h, h);
      spec.dense_activation = Activation::relu;
    }
    spec.classifier = w.linear("classifier", h, context.num_labels);
    parts.head = std::make_unique<ClassificationHead>(std::move(spec), context.backend, h);
  }
  return parts;
}

}  // namespace hades
