#include "models/rotary_bert.hpp"

#include <algorithm>
#include <cmath>

#include "core/paged_array.hpp"
#include "core/scratch.hpp"
#include "hades/error.hpp"
#include "models/bert_family.hpp"
#include "models/weights_util.hpp"

namespace hades {
namespace {

struct RotaryBertLayer {
  std::unique_ptr<PackedLinear> qkv;  // [q | k | v], each [heads, head_dim]
  std::unique_ptr<PackedLinear> attention_output;
  NormWeights attention_norm;
  std::unique_ptr<PackedLinear> gate_up;  // [gate | up], as Backend::gated_activation reads it
  std::unique_ptr<PackedLinear> mlp_output;
  NormWeights mlp_norm;
};

std::unique_ptr<PackedLinear> load_qkv(WeightLoader& w, const RotaryBertNames& names,
                                       const std::string& layer, const RotaryBertConfig& c) {
  const int64_t h = c.hidden_size;
  if (names.qkv.size() == 1) return w.linear(layer + names.qkv[0], h, 3 * h, c.attention_bias);
  std::vector<WeightLoader::LinearPart> parts;
  for (const std::string& name : names.qkv) parts.push_back({layer + name, h});
  return w.fused_linear(parts, h, c.attention_bias);
}

std::unique_ptr<PackedLinear> load_gate_up(WeightLoader& w, const RotaryBertNames& names,
                                           const std::string& layer, const RotaryBertConfig& c) {
  const int64_t h = c.hidden_size;
  const int64_t inter = c.intermediate_size;
  if (names.gate_up.size() == 1) return w.swapped_halves_linear(layer + names.gate_up[0], h, inter);
  return w.fused_linear({{layer + names.gate_up[0], inter}, {layer + names.gate_up[1], inter}}, h,
                        false);
}

class RotaryBertModel final : public Encoder {
 public:
  RotaryBertModel(const RotaryBertConfig& config, const RotaryBertNames& names,
                  const WeightStore& weights, const Backend& backend)
      : config_(config), backend_(backend) {
    WeightLoader w(weights, backend, names.prefix);
    const int64_t h = config.hidden_size;
    word_embeddings_ =
        w.load<PagedArray<float>>("embeddings.word_embeddings.weight", {config.vocab_size, h});
    if (config.type_vocab_size > 0) {
      token_type_embeddings_ = w.load<PagedArray<float>>("embeddings.token_type_embeddings.weight",
                                                         {config.type_vocab_size, h});
    }
    embedding_norm_ = w.layer_norm(names.embedding_norm, h, config.norm_eps);
    for (int64_t i = 0; i < config.num_layers; ++i) {
      const std::string p = names.layer_prefix + std::to_string(i) + ".";
      RotaryBertLayer layer;
      layer.qkv = load_qkv(w, names, p, config);
      layer.attention_output = w.linear(p + names.attention_output, h, h, config.attention_bias);
      layer.attention_norm = w.layer_norm(p + names.attention_norm, h, config.norm_eps);
      layer.gate_up = load_gate_up(w, names, p, config);
      layer.mlp_output =
          w.linear(p + names.mlp_output, config.intermediate_size, h, config.mlp_output_bias);
      layer.mlp_norm = w.layer_norm(p + names.mlp_norm, h, config.norm_eps);
      layers_.push_back(std::move(layer));
    }
    weight_bytes_ = w.bytes_loaded();
  }

  std::string architecture() const override { return config_.model_type; }
  int64_t hidden_size() const override { return config_.hidden_size; }
  int64_t max_sequence_length() const override { return config_.max_positions; }
  bool has_pooler() const override { return false; }
  uint64_t weight_bytes() const override { return weight_bytes_; }

  EncoderOutput forward(const RaggedBatch& batch, bool with_pooler) const override {
    if (with_pooler) throw Error(ErrorCode::unsupported, config_.model_type + " has no pooler");
    validate_ragged_batch(batch, config_.max_positions);
    const int64_t h = config_.hidden_size;
    EncoderOutput result;
    result.hidden.resize(static_cast<size_t>(batch.tokens() * h));
    embed(batch, result.hidden.data());
    const std::vector<SequenceGroup> groups = group_sequences(batch.cu_seqlens);
    Workspace ws(largest_group(groups), config_);
    for (const RotaryBertLayer& layer : layers_) {
      for (const SequenceGroup& group : groups) {
        run_layer(layer, group, result.hidden.data() + group.first_token * h, ws);
      }
    }
    return result;
  }

 private:
  // Activation buffers for one group of sequences (see SequenceGroup), taken once per pass from
  // the scratch pool. The attention's qkv and context are dead when the MLP runs, so its
  // [gate | up] and gated activations reuse their memory.
  struct Workspace {
    Workspace(int64_t tokens, const RotaryBertConfig& c)
        : shared(static_cast<size_t>(tokens * (sublayer_width(c) + c.hidden_size))),
          qkv(shared.data()),
          context(shared.data() + tokens * 3 * c.hidden_size),
          gate_up(shared.data()),
          gated(shared.data() + tokens * 2 * c.intermediate_size),
          projected(shared.data() + tokens * sublayer_width(c)) {}
    static int64_t sublayer_width(const RotaryBertConfig& c) {
      return std::max(4 * c.hidden_size, 3 * c.intermediate_size);
    }
    Scratch shared;
    float* qkv;        // [tokens, 3 hidden]       } attention
    float* context;    // [tokens, hidden]         }
    float* gate_up;    // [tokens, 2 intermediate] } MLP, over the two above
    float* gated;      // [tokens, intermediate]   }
    float* projected;  // [tokens, hidden]: a sublayer's output before its residual LayerNorm
  };

  void embed(const RaggedBatch& batch, float* out) const {
    const int64_t h = config_.hidden_size;
    backend_.embedding_lookup(word_embeddings_.data(), config_.vocab_size, h, batch.ids, out,
                              false);
    if (config_.type_vocab_size > 0) {
      add_token_type_embeddings(backend_, token_type_embeddings_.data(), config_.type_vocab_size, h,
                                batch, out);
    }
    backend_.add_layer_norm(out, nullptr, batch.tokens(), h, embedding_norm_.params());
  }

  // LAYER over GROUP, whose rows of the hidden state start at HIDDEN.
  void run_layer(const RotaryBertLayer& layer, const SequenceGroup& group, float* hidden,
                 Workspace& ws) const {
    const int64_t tokens = group.tokens;
    const int64_t h = config_.hidden_size;
    const int64_t head_dim = h / config_.num_heads;
    backend_.linear(*layer.qkv, hidden, tokens, ws.qkv, Activation::none);
    backend_.rotary(ws.qkv, {group.cu_seqlens, config_.num_heads, head_dim, config_.rope_theta});
    const AttentionParams attention{group.cu_seqlens, config_.num_heads, head_dim,
                                    1.0f / std::sqrt(static_cast<float>(head_dim)), 0};
    backend_.attention(ws.qkv, attention, ws.context);
    backend_.linear(*layer.attention_output, ws.context, tokens, ws.projected, Activation::none);
    backend_.add_layer_norm(hidden, ws.projected, tokens, h, layer.attention_norm.params());
    backend_.linear(*layer.gate_up, hidden, tokens, ws.gate_up, Activation::none);
    backend_.gated_activation(ws.gate_up, tokens, config_.intermediate_size, config_.activation,
                              ws.gated);
    backend_.linear(*layer.mlp_output, ws.gated, tokens, ws.projected, Activation::none);
    backend_.add_layer_norm(hidden, ws.projected, tokens, h, layer.mlp_norm.params());
  }

  RotaryBertConfig config_;
  const Backend& backend_;
  PagedArray<float> word_embeddings_;
  PagedArray<float> token_type_embeddings_;
  NormWeights embedding_norm_;
  std::vector<RotaryBertLayer> layers_;
  uint64_t weight_bytes_ = 0;
};

// The RoPE parameters' own θ, after checking that the variant is the plain one.
std::optional<double> theta_of_parameters(const JsonFields& f, std::string_view key) {
  const std::optional<JsonFields> parameters = f.find_object(key);
  if (!parameters) return std::nullopt;
  // transformers 5 reads the older "type" where "rope_type" is absent.
  const std::string type = parameters->find_string("rope_type")
                               .value_or(parameters->find_string("type").value_or("default"));
  if (type != "default") {
    parameters->fail(parameters->has("rope_type") ? "rope_type" : "type",
                     "is '" + type + "'; only the default RoPE is supported");
  }
  return parameters->find_number("rope_theta");
}

}  // namespace

float read_rope_theta(const JsonFields& config, std::string_view legacy_key, double default_theta) {
  std::optional<double> theta = theta_of_parameters(config, "rope_parameters");
  if (const std::optional<double> scaling = theta_of_parameters(config, "rope_scaling")) {
    theta = theta.value_or(*scaling);
  }
  if (!theta) theta = config.find_number("rope_theta");
  if (!theta && !legacy_key.empty()) theta = config.find_number(legacy_key);
  const double value = theta.value_or(default_theta);
  if (!(value > 1.0) || !std::isfinite(value)) {
    config.fail("rope_theta", "must be a finite number above 1, got " + std::to_string(value));
  }
  return static_cast<float>(value);
}

void require_implemented(const JsonFields& config, std::string_view key,
                         const nlohmann::json& implemented, std::string_view meaning) {
  const nlohmann::json* value = config.find(key);
  if (value == nullptr || *value == implemented) return;
  const std::string allowed = implemented.is_null() ? "only null" : "only " + implemented.dump();
  config.fail(
      key, "is " + value->dump() + " (" + std::string(meaning) + "); " + allowed + " is supported");
}

void check_rotary_bert_sizes(const JsonFields& config, const RotaryBertConfig& c,
                             const RotaryBertSizeKeys& keys) {
  if (c.hidden_size % c.num_heads != 0 || (c.hidden_size / c.num_heads) % 2 != 0) {
    config.fail(keys.hidden_size, "must be a multiple of " + std::string(keys.num_heads) + " (" +
                                      std::to_string(c.num_heads) + ") with an even head size");
  }
  if (const std::optional<int64_t> head_dim = config.find_positive_int("head_dim")) {
    if (*head_dim != c.hidden_size / c.num_heads) {
      config.fail("head_dim", "must be " + std::string(keys.hidden_size) + " / " +
                                  std::string(keys.num_heads) + " (" +
                                  std::to_string(c.hidden_size / c.num_heads) + ")");
    }
  }
  check_model_size(config, {{"vocab_size", c.vocab_size},
                            {keys.hidden_size, c.hidden_size},
                            {keys.num_layers, c.num_layers},
                            {keys.intermediate_size, c.intermediate_size},
                            {"type_vocab_size", c.type_vocab_size},
                            {keys.max_positions, c.max_positions}});
}

RotaryBertNames transformers_tensor_names(std::string prefix) {
  RotaryBertNames names;
  names.prefix = std::move(prefix);
  names.embedding_norm = "embeddings.LayerNorm";
  names.layer_prefix = "layers.";
  names.qkv = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"};
  names.attention_output = "self_attn.o_proj";
  names.attention_norm = "post_attention_layernorm";
  names.gate_up = {"mlp.gate_proj", "mlp.up_proj"};
  names.mlp_output = "mlp.down_proj";
  names.mlp_norm = "post_mlp_layernorm";
  return names;
}

ModelParts load_rotary_bert(const ModelLoadContext& context, const RotaryBertConfig& config,
                            const RotaryBertNames& names) {
  ModelParts parts;
  parts.encoder =
      std::make_unique<RotaryBertModel>(config, names, context.weights, context.backend);
  if (context.task != ModelTask::base) {
    parts.head =
        load_tanh_head(context, config.hidden_size, {names.prefix + "pooler.dense", "classifier"});
  }
  return parts;
}

}  // namespace hades
