// ModernBERT, mirroring transformers' src/transformers/models/modernbert/modeling_modernbert.py:
//   h = LayerNorm(tok_embeddings[id])                       (no position embeddings: RoPE)
//   per layer i: h += Wo · attention(RoPE(Wqkv · attn_norm(h)))   (no attn_norm on layer 0)
//                h += Wo · (act(a) ⊙ g), [a | g] = Wi · mlp_norm(h)  (GeGLU)
//   final_norm(h)
// Layer i is global (full attention, global θ) or local (sliding window of total width
// local_attention, i.e. |i − j| ≤ local_attention / 2, local θ). Both config dialects are read:
// layer_types + rope_parameters (transformers 5), or global_attn_every_n_layers (layer i global
// when i % n == 0) + global_rope_theta / local_rope_theta. LayerNorms, Wqkv/Wo and Wi/Wo carry
// biases only when norm_bias, attention_bias and mlp_bias say so. mmBERT (jhu-clsp/mmBERT-*,
// chonky's multilingual chunker) is this architecture behind a Gemma tokenizer (BPE with byte
// fallback).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/scratch.hpp"
#include "hades/error.hpp"
#include "io/json_file.hpp"
#include "models/architectures.hpp"
#include "models/weights_util.hpp"

namespace hades {
namespace {

struct ModernBertConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t intermediate_size = 0;
  int64_t max_positions = 0;
  int64_t local_attention = 128;
  float norm_eps = 1e-5f;
  bool norm_bias = false;
  bool attention_bias = false;
  bool mlp_bias = false;
  bool classifier_bias = false;
  Activation activation = Activation::gelu_erf;
  Activation classifier_activation = Activation::gelu_erf;
  HeadPooling classifier_pooling = HeadPooling::first_token;
  std::vector<bool> global_layers;  // per layer: full attention?
  float global_theta = 160000.0f;
  float local_theta = 10000.0f;
};

// rope_parameters[type].rope_theta, checking that the RoPE variant is the plain one.
std::optional<float> rope_theta(const JsonFields& f, const std::string& layer_type) {
  const auto parameters = f.find_object("rope_parameters");
  if (!parameters) return std::nullopt;
  const auto entry = parameters->find_object(layer_type);
  if (!entry) return std::nullopt;
  const std::string type = entry->find_string("rope_type").value_or("default");
  if (type != "default") {
    entry->fail("rope_type", "RoPE variant '" + type + "' is not supported; only 'default' is");
  }
  const auto theta = entry->find_number("rope_theta");
  return theta ? std::optional<float>(static_cast<float>(*theta)) : std::nullopt;
}

std::vector<bool> global_layers(const JsonFields& f, int64_t num_layers) {
  std::vector<bool> global(static_cast<size_t>(num_layers));
  const nlohmann::json* types = f.find("layer_types");
  if (types != nullptr && !types->is_null()) {
    if (!types->is_array() || static_cast<int64_t>(types->size()) != num_layers) {
      f.fail("layer_types", "must list one type per layer (" + std::to_string(num_layers) + ")");
    }
    for (int64_t i = 0; i < num_layers; ++i) {
      const nlohmann::json& t = (*types)[static_cast<size_t>(i)];
      if (t != "full_attention" && t != "sliding_attention") {
        f.fail("layer_types", "entries must be \"full_attention\" or \"sliding_attention\"");
      }
      global[static_cast<size_t>(i)] = t == "full_attention";
    }
    return global;
  }
  const int64_t every = f.find_positive_int("global_attn_every_n_layers").value_or(3);
  for (int64_t i = 0; i < num_layers; ++i) global[static_cast<size_t>(i)] = i % every == 0;
  return global;
}

ModernBertConfig parse_config(const nlohmann::json& json, const std::string& source) {
  const JsonFields f(json, source);
  ModernBertConfig c;
  c.vocab_size = f.get_positive_int("vocab_size");
  c.hidden_size = f.get_positive_int("hidden_size");
  c.num_layers = f.get_positive_int("num_hidden_layers");
  c.num_heads = f.get_positive_int("num_attention_heads");
  c.intermediate_size = f.get_positive_int("intermediate_size");
  c.max_positions = f.find_positive_int("max_position_embeddings").value_or(8192);
  c.local_attention = f.find_positive_int("local_attention").value_or(128);
  c.norm_eps = static_cast<float>(f.find_number("norm_eps").value_or(1e-5));
  c.norm_bias = f.find_bool("norm_bias").value_or(false);
  c.attention_bias = f.find_bool("attention_bias").value_or(false);
  c.mlp_bias = f.find_bool("mlp_bias").value_or(false);
  c.classifier_bias = f.find_bool("classifier_bias").value_or(false);
  c.activation = parse_activation(f, "hidden_activation", "gelu");
  c.classifier_activation = parse_activation(f, "classifier_activation", "gelu");
  const std::string pooling = f.find_string("classifier_pooling").value_or("cls");
  if (pooling != "cls" && pooling != "mean") f.fail("classifier_pooling", "must be cls or mean");
  c.classifier_pooling = pooling == "cls" ? HeadPooling::first_token : HeadPooling::mean;
  c.global_layers = global_layers(f, c.num_layers);
  c.global_theta =
      rope_theta(f, "full_attention")
          .value_or(static_cast<float>(f.find_number("global_rope_theta").value_or(160000.0)));
  c.local_theta =
      rope_theta(f, "sliding_attention")
          .value_or(static_cast<float>(f.find_number("local_rope_theta").value_or(10000.0)));
  if (c.hidden_size % c.num_heads != 0 || (c.hidden_size / c.num_heads) % 2 != 0) {
    f.fail("hidden_size", "must be a multiple of num_attention_heads with an even head size");
  }
  check_model_size(f, {{"vocab_size", c.vocab_size},
                       {"hidden_size", c.hidden_size},
                       {"num_hidden_layers", c.num_layers},
                       {"intermediate_size", c.intermediate_size},
                       {"max_position_embeddings", c.max_positions},
                       {"local_attention", c.local_attention}});
  return c;
}

struct ModernBertLayer {
  std::optional<NormWeights> attention_norm;  // none on layer 0
  std::unique_ptr<PackedLinear> qkv;
  std::unique_ptr<PackedLinear> attention_output;
  NormWeights mlp_norm;
  std::unique_ptr<PackedLinear> mlp_in;  // [input | gate], 2 · intermediate_size outputs
  std::unique_ptr<PackedLinear> mlp_out;
  bool global = true;
};

class ModernBertModel final : public Encoder {
 public:
  ModernBertModel(const ModernBertConfig& config, const WeightStore& weights,
                  const Backend& backend)
      : config_(config), backend_(backend) {
    WeightLoader w(
        weights, backend,
        WeightLoader::detect_prefix(weights, "embeddings.tok_embeddings.weight", {"model."}));
    const int64_t h = config.hidden_size;
    const int64_t inter = config.intermediate_size;
    const bool nb = config.norm_bias;
    embeddings_ =
        w.load<PagedArray<float>>("embeddings.tok_embeddings.weight", {config.vocab_size, h});
    embedding_norm_ = w.layer_norm("embeddings.norm", h, config.norm_eps, nb);
    for (int64_t i = 0; i < config.num_layers; ++i) {
      const std::string p = "layers." + std::to_string(i) + ".";
      ModernBertLayer layer;
      if (i > 0) layer.attention_norm = w.layer_norm(p + "attn_norm", h, config.norm_eps, nb);
      layer.qkv = w.linear(p + "attn.Wqkv", h, 3 * h, config.attention_bias);
      layer.attention_output = w.linear(p + "attn.Wo", h, h, config.attention_bias);
      layer.mlp_norm = w.layer_norm(p + "mlp_norm", h, config.norm_eps, nb);
      layer.mlp_in = w.linear(p + "mlp.Wi", h, 2 * inter, config.mlp_bias);
      layer.mlp_out = w.linear(p + "mlp.Wo", inter, h, config.mlp_bias);
      layer.global = config.global_layers[static_cast<size_t>(i)];
      layers_.push_back(std::move(layer));
    }
    final_norm_ = w.layer_norm("final_norm", h, config.norm_eps, nb);
    weight_bytes_ = w.bytes_loaded();
  }

  std::string architecture() const override { return "modernbert"; }
  int64_t hidden_size() const override { return config_.hidden_size; }
  int64_t max_sequence_length() const override { return config_.max_positions; }
  bool has_pooler() const override { return false; }
  uint64_t weight_bytes() const override { return weight_bytes_; }

  EncoderOutput forward(const RaggedBatch& batch, bool with_pooler) const override {
    if (with_pooler) throw Error(ErrorCode::unsupported, "ModernBERT has no pooler");
    validate_ragged_batch(batch, config_.max_positions);
    const int64_t tokens = batch.tokens();
    const int64_t h = config_.hidden_size;
    EncoderOutput result;
    result.hidden.resize(static_cast<size_t>(tokens * h));
    backend_.embedding_lookup(embeddings_.data(), config_.vocab_size, h, batch.ids,
                              result.hidden.data(), false);
    backend_.add_layer_norm(result.hidden.data(), nullptr, tokens, h, embedding_norm_.params());
    const std::vector<SequenceGroup> groups = group_sequences(batch.cu_seqlens);
    Workspace ws(largest_group(groups), config_);
    for (const ModernBertLayer& layer : layers_) {
      for (const SequenceGroup& group : groups) {
        run_layer(layer, group, result.hidden.data() + group.first_token * h, ws);
      }
    }
    backend_.add_layer_norm(result.hidden.data(), nullptr, tokens, h, final_norm_.params());
    return result;
  }

 private:
  // Activation buffers for one group of sequences (see SequenceGroup), taken once per pass from
  // the scratch pool. The
  // attention's qkv and context are dead when the MLP runs, so its input and gated activations
  // reuse their memory.
  struct Workspace {
    Workspace(int64_t tokens, const ModernBertConfig& c)
        : shared(static_cast<size_t>(
              tokens * (std::max(4 * c.hidden_size, 3 * c.intermediate_size) + c.hidden_size))),
          normed(shared.data() + tokens * std::max(4 * c.hidden_size, 3 * c.intermediate_size)),
          qkv(shared.data()),
          context(shared.data() + tokens * 3 * c.hidden_size),
          mlp_in(shared.data()),
          gated(shared.data() + tokens * 2 * c.intermediate_size) {}
    Scratch shared;
    float* normed;   // [tokens, hidden]: a sublayer's LayerNorm input
    float* qkv;      // [tokens, 3 hidden]      } attention
    float* context;  // [tokens, hidden]        }
    float* mlp_in;   // [tokens, 2 intermediate] } MLP, over the two above
    float* gated;    // [tokens, intermediate]   }
  };

  // LAYER over GROUP, whose rows of the hidden state start at HIDDEN.
  void run_layer(const ModernBertLayer& layer, const SequenceGroup& group, float* hidden,
                 Workspace& ws) const {
    const int64_t tokens = group.tokens;
    const int64_t h = config_.hidden_size;
    const int64_t head_dim = h / config_.num_heads;
    const float* attention_input = hidden;
    if (layer.attention_norm) {
      backend_.layer_norm(hidden, tokens, h, layer.attention_norm->params(), ws.normed);
      attention_input = ws.normed;
    }
    backend_.linear(*layer.qkv, attention_input, tokens, ws.qkv, Activation::none);
    const float theta = layer.global ? config_.global_theta : config_.local_theta;
    backend_.rotary(ws.qkv, {group.cu_seqlens, config_.num_heads, head_dim, theta});
    const AttentionParams attention{group.cu_seqlens, config_.num_heads, head_dim,
                                    1.0f / std::sqrt(static_cast<float>(head_dim)),
                                    layer.global ? 0 : config_.local_attention};
    backend_.attention(ws.qkv, attention, ws.context);
    backend_.linear_add(*layer.attention_output, ws.context, tokens, hidden);
    backend_.layer_norm(hidden, tokens, h, layer.mlp_norm.params(), ws.normed);
    backend_.linear(*layer.mlp_in, ws.normed, tokens, ws.mlp_in, Activation::none);
    backend_.gated_activation(ws.mlp_in, tokens, config_.intermediate_size, config_.activation,
                              ws.gated);
    backend_.linear_add(*layer.mlp_out, ws.gated, tokens, hidden);
  }

  ModernBertConfig config_;
  const Backend& backend_;
  PagedArray<float> embeddings_;
  NormWeights embedding_norm_;
  std::vector<ModernBertLayer> layers_;
  NormWeights final_norm_;
  uint64_t weight_bytes_ = 0;
};

}  // namespace

// ModernBertFor{Token,Sequence}Classification: (pool: cls or mean) → head.dense →
// classifier_activation → head.norm → classifier.
ModelParts load_modernbert(const ModelLoadContext& context) {
  const ModernBertConfig config = parse_config(context.config, context.config_source);
  ModelParts parts;
  parts.encoder = std::make_unique<ModernBertModel>(config, context.weights, context.backend);
  if (is_classification(context.task)) {
    WeightLoader w(context.weights, context.backend, "");
    const int64_t h = config.hidden_size;
    HeadSpec spec;
    spec.pooling = context.task == ModelTask::sequence_classification ? config.classifier_pooling
                                                                      : HeadPooling::none;
    spec.dense = w.linear("head.dense", h, h, config.classifier_bias);
    spec.dense_activation = config.classifier_activation;
    spec.norm = w.layer_norm("head.norm", h, config.norm_eps, config.norm_bias);
    spec.classifier = w.linear("classifier", h, context.num_labels);
    parts.head = std::make_unique<ClassificationHead>(std::move(spec), context.backend, h);
  }
  return parts;
}

}  // namespace hades
