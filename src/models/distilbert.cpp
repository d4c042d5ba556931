// DistilBERT, mirroring transformers' src/transformers/models/distilbert/modeling_distilbert.py:
// BERT's post-norm encoder (bert.cpp) without token types, under its own tensor names;
// LayerNorm eps is fixed at 1e-12. Heads:
//   DistilBertForTokenClassification:    classifier on every token
//   DistilBertForSequenceClassification: first token → pre_classifier → ReLU → classifier
#include "hades/error.hpp"
#include "io/json_file.hpp"
#include "models/architectures.hpp"
#include "models/bert_family.hpp"
#include "models/weights_util.hpp"

namespace hades {
namespace {

BertConfig parse_config(const nlohmann::json& json, const std::string& source) {
  const JsonFields f(json, source);
  BertConfig c;
  c.vocab_size = f.get_positive_int("vocab_size");
  c.hidden_size = f.get_positive_int("dim");
  c.num_layers = f.get_positive_int("n_layers");
  c.num_heads = f.get_positive_int("n_heads");
  c.intermediate_size = f.get_positive_int("hidden_dim");
  c.max_positions = f.get_positive_int("max_position_embeddings");
  c.type_vocab_size = 0;
  c.layer_norm_eps = 1e-12f;
  c.activation = parse_activation(f, "activation", "gelu");
  if (c.hidden_size % c.num_heads != 0) {
    f.fail("dim", "must be a multiple of n_heads (" + std::to_string(c.num_heads) + ")");
  }
  check_model_size(f, {{"vocab_size", c.vocab_size},
                       {"dim", c.hidden_size},
                       {"n_layers", c.num_layers},
                       {"hidden_dim", c.intermediate_size},
                       {"max_position_embeddings", c.max_positions}});
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
  parts.encoder = make_bert_style_encoder(config, distilbert_names(context.weights),
                                          context.weights, context.backend);
  if (context.task != ModelTask::base) {
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
