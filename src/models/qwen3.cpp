// Qwen3 (the decoder under Qwen3-Embedding), mirroring transformers'
// src/transformers/models/qwen3/modeling_qwen3.py (Qwen3Model):
//   h = embed_tokens[id]                                        (no position embeddings: RoPE)
//   per layer: x = input_layernorm(h)                                                  (RMSNorm)
//              q, k, v = q_proj x, k_proj x, v_proj x   (num_key_value_heads k/v heads, head_dim)
//              q, k = RoPE(q_norm(q)), RoPE(k_norm(k))               (RMSNorm per head, then RoPE)
//              h += o_proj · causal_attention(q, k, v)                  (grouped-query attention)
//              h += down_proj · (silu(gate_proj x') ⊙ up_proj x'), x' = post_attention_layernorm(h)
//   norm(h)
// q/k/v/o carry biases when attention_bias says so; the MLP has none. head_dim is its own field
// (Qwen3-0.6B: 16 heads of 128 over a hidden size of 1,024). RoPE's θ comes from rope_parameters
// (transformers 5) or rope_theta (the published configs). Sliding-window layers
// (use_sliding_window) are refused: no published Qwen3 embedder uses them.
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

struct Qwen3Config {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t intermediate_size = 0;
  int64_t max_positions = 0;
  float rms_norm_eps = 1e-6f;
  float rope_theta = 10000.0f;
  bool attention_bias = false;

  int64_t q_width() const { return num_heads * head_dim; }
  int64_t kv_width() const { return num_kv_heads * head_dim; }
  int64_t qkv_width() const { return q_width() + 2 * kv_width(); }
};

// rope_parameters.rope_theta (transformers 5) or rope_theta, checking the RoPE variant is plain.
float parse_rope_theta(const JsonFields& f) {
  if (const auto parameters = f.find_object("rope_parameters")) {
    const std::string type = parameters->find_string("rope_type").value_or("default");
    if (type != "default") {
      parameters->fail("rope_type",
                       "RoPE variant '" + type + "' is not supported; only 'default' is");
    }
    if (const auto theta = parameters->find_number("rope_theta")) return static_cast<float>(*theta);
  }
  if (const nlohmann::json* scaling = f.find("rope_scaling");
      scaling != nullptr && !scaling->is_null()) {
    f.fail("rope_scaling", "scaled RoPE is not supported");
  }
  const double theta = f.find_number("rope_theta").value_or(10000.0);
  if (!(theta > 1.0)) f.fail("rope_theta", "must be a number above 1");
  return static_cast<float>(theta);
}

// Every layer full attention: use_sliding_window off, layer_types (when given) all full.
void check_full_attention(const JsonFields& f, int64_t num_layers) {
  if (f.find_bool("use_sliding_window").value_or(false)) {
    f.fail("use_sliding_window", "sliding-window attention is not supported");
  }
  const nlohmann::json* types = f.find("layer_types");
  if (types == nullptr || types->is_null()) return;
  if (!types->is_array() || static_cast<int64_t>(types->size()) != num_layers) {
    f.fail("layer_types", "must list one type per layer (" + std::to_string(num_layers) + ")");
  }
  for (const nlohmann::json& type : *types) {
    if (type != "full_attention") f.fail("layer_types", "entries must be \"full_attention\"");
  }
}

Qwen3Config parse_config(const nlohmann::json& json, const std::string& source) {
  const JsonFields f(json, source);
  Qwen3Config c;
  c.vocab_size = f.get_positive_int("vocab_size");
  c.hidden_size = f.get_positive_int("hidden_size");
  c.num_layers = f.get_positive_int("num_hidden_layers");
  c.num_heads = f.get_positive_int("num_attention_heads");
  c.num_kv_heads = f.find_positive_int("num_key_value_heads").value_or(c.num_heads);
  c.head_dim = f.find_positive_int("head_dim").value_or(128);  // Qwen3Config's default
  c.intermediate_size = f.get_positive_int("intermediate_size");
  c.max_positions = f.find_positive_int("max_position_embeddings").value_or(32768);
  check_model_size(f, {{"vocab_size", c.vocab_size},
                       {"hidden_size", c.hidden_size},
                       {"num_hidden_layers", c.num_layers},
                       {"num_attention_heads", c.num_heads},
                       {"head_dim", c.head_dim},
                       {"num_attention_heads × head_dim", c.num_heads * c.head_dim},
                       {"intermediate_size", c.intermediate_size},
                       {"max_position_embeddings", c.max_positions}});
  c.rms_norm_eps = static_cast<float>(f.find_number("rms_norm_eps").value_or(1e-6));
  if (!(c.rms_norm_eps > 0.0f)) f.fail("rms_norm_eps", "must be a positive number");
  c.attention_bias = f.find_bool("attention_bias").value_or(false);
  c.rope_theta = parse_rope_theta(f);
  if (parse_activation(f, "hidden_act", "silu") != Activation::silu) {
    f.fail("hidden_act", "must be silu (SwiGLU)");
  }
  check_full_attention(f, c.num_layers);
  if (c.num_heads % c.num_kv_heads != 0) {
    f.fail("num_key_value_heads",
           "must divide num_attention_heads (" + std::to_string(c.num_heads) + ")");
  }
  if (c.head_dim % 2 != 0) f.fail("head_dim", "must be even (RoPE rotates pairs)");
  return c;
}

struct Qwen3Layer {
  std::vector<float> input_norm;
  std::unique_ptr<PackedLinear> qkv;  // [q | k | v] (Backend::attention's layout)
  std::vector<float> q_norm;
  std::vector<float> k_norm;
  std::unique_ptr<PackedLinear> attention_output;
  std::vector<float> post_attention_norm;
  std::unique_ptr<PackedLinear> gate_up;  // [gate | up], 2 · intermediate_size outputs
  std::unique_ptr<PackedLinear> down;
};

class Qwen3Model final : public Encoder {
 public:
  Qwen3Model(const Qwen3Config& config, const WeightStore& weights, const Backend& backend)
      : config_(config), backend_(backend) {
    WeightLoader w(weights, backend,
                   WeightLoader::detect_prefix(weights, "embed_tokens.weight", {"model."}));
    const int64_t h = config.hidden_size;
    embeddings_ = w.load<PagedArray<float>>("embed_tokens.weight", {config.vocab_size, h});
    for (int64_t i = 0; i < config.num_layers; ++i) {
      const std::string p = "layers." + std::to_string(i) + ".";
      Qwen3Layer layer;
      layer.input_norm = w.load(p + "input_layernorm.weight", {h});
      layer.qkv = w.fused_linear({{p + "self_attn.q_proj", config.q_width()},
                                  {p + "self_attn.k_proj", config.kv_width()},
                                  {p + "self_attn.v_proj", config.kv_width()}},
                                 h, config.attention_bias);
      layer.q_norm = w.load(p + "self_attn.q_norm.weight", {config.head_dim});
      layer.k_norm = w.load(p + "self_attn.k_norm.weight", {config.head_dim});
      layer.attention_output =
          w.linear(p + "self_attn.o_proj", config.q_width(), h, config.attention_bias);
      layer.post_attention_norm = w.load(p + "post_attention_layernorm.weight", {h});
      layer.gate_up = w.fused_linear({{p + "mlp.gate_proj", config.intermediate_size},
                                      {p + "mlp.up_proj", config.intermediate_size}},
                                     h, false);
      layer.down = w.linear(p + "mlp.down_proj", config.intermediate_size, h, false);
      layers_.push_back(std::move(layer));
    }
    final_norm_ = w.load("norm.weight", {h});
    weight_bytes_ = w.bytes_loaded();
  }

  std::string architecture() const override { return "qwen3"; }
  int64_t hidden_size() const override { return config_.hidden_size; }
  int64_t max_sequence_length() const override { return config_.max_positions; }
  bool has_pooler() const override { return false; }
  uint64_t weight_bytes() const override { return weight_bytes_; }

  EncoderOutput forward(const RaggedBatch& batch, bool with_pooler) const override {
    if (with_pooler) throw Error(ErrorCode::unsupported, "Qwen3 has no pooler");
    validate_ragged_batch(batch, config_.max_positions);
    const int64_t tokens = batch.tokens();
    const int64_t h = config_.hidden_size;
    EncoderOutput result;
    result.hidden.resize(static_cast<size_t>(tokens * h));
    backend_.embedding_lookup(embeddings_.data(), config_.vocab_size, h, batch.ids,
                              result.hidden.data(), false);
    const std::vector<SequenceGroup> groups = group_sequences(batch.cu_seqlens);
    Workspace ws(largest_group(groups), config_);
    for (const Qwen3Layer& layer : layers_) {
      for (const SequenceGroup& group : groups) {
        run_layer(layer, group, result.hidden.data() + group.first_token * h, ws);
      }
    }
    backend_.rms_norm(result.hidden.data(), tokens, h, norm(final_norm_), result.hidden.data());
    return result;
  }

 private:
  // Activation buffers for one group of sequences (see SequenceGroup), taken once per pass from
  // the scratch pool. The attention's qkv and context are dead when the MLP runs, so its gate/up
  // product and gated activations reuse their memory.
  struct Workspace {
    Workspace(int64_t tokens, const Qwen3Config& c)
        : shared(static_cast<size_t>(tokens * (attention_or_mlp(c) + c.hidden_size))),
          normed(shared.data() + tokens * attention_or_mlp(c)),
          qkv(shared.data()),
          context(shared.data() + tokens * c.qkv_width()),
          gate_up(shared.data()),
          gated(shared.data() + tokens * 2 * c.intermediate_size) {}
    static int64_t attention_or_mlp(const Qwen3Config& c) {
      return std::max(c.qkv_width() + c.q_width(), 3 * c.intermediate_size);
    }
    Scratch shared;
    float* normed;   // [tokens, hidden]: a sublayer's RMSNorm output
    float* qkv;      // [tokens, qkv_width]          } attention
    float* context;  // [tokens, heads · head_dim]   }
    float* gate_up;  // [tokens, 2 intermediate]     } MLP, over the two above
    float* gated;    // [tokens, intermediate]       }
  };

  RmsNormParams norm(const std::vector<float>& gamma) const {
    return {gamma, config_.rms_norm_eps};
  }

  // LAYER over GROUP, whose rows of the hidden state start at HIDDEN.
  void run_layer(const Qwen3Layer& layer, const SequenceGroup& group, float* hidden,
                 Workspace& ws) const {
    const Qwen3Config& c = config_;
    const int64_t tokens = group.tokens;
    backend_.rms_norm(hidden, tokens, c.hidden_size, norm(layer.input_norm), ws.normed);
    backend_.linear(*layer.qkv, ws.normed, tokens, ws.qkv, Activation::none);
    backend_.head_rms_norm(ws.qkv, {tokens, c.num_heads, c.num_kv_heads, c.head_dim,
                                    norm(layer.q_norm), norm(layer.k_norm)});
    RotaryParams rotary{group.cu_seqlens, c.num_heads, c.head_dim, c.rope_theta};
    rotary.num_kv_heads = c.num_kv_heads;
    backend_.rotary(ws.qkv, rotary);
    AttentionParams attention{group.cu_seqlens, c.num_heads, c.head_dim,
                              1.0f / std::sqrt(static_cast<float>(c.head_dim))};
    attention.num_kv_heads = c.num_kv_heads;
    attention.causal = true;
    backend_.attention(ws.qkv, attention, ws.context);
    backend_.linear_add(*layer.attention_output, ws.context, tokens, hidden);
    backend_.rms_norm(hidden, tokens, c.hidden_size, norm(layer.post_attention_norm), ws.normed);
    backend_.linear(*layer.gate_up, ws.normed, tokens, ws.gate_up, Activation::none);
    backend_.gated_activation(ws.gate_up, tokens, c.intermediate_size, Activation::silu, ws.gated);
    backend_.linear_add(*layer.down, ws.gated, tokens, hidden);
  }

  Qwen3Config config_;
  const Backend& backend_;
  PagedArray<float> embeddings_;
  std::vector<Qwen3Layer> layers_;
  std::vector<float> final_norm_;
  uint64_t weight_bytes_ = 0;
};

}  // namespace

// Qwen3Model only: the embedders are the bare decoder under sentence-transformers' pooling.
ModelParts load_qwen3(const ModelLoadContext& context) {
  if (context.task != ModelTask::base) {
    throw Error(ErrorCode::unsupported,
                context.config_source +
                    ": architectures: Qwen3 is supported as an embedder (Qwen3Model) only, "
                    "without a classification head");
  }
  const Qwen3Config config = parse_config(context.config, context.config_source);
  ModelParts parts;
  parts.encoder = std::make_unique<Qwen3Model>(config, context.weights, context.backend);
  return parts;
}

}  // namespace hades
