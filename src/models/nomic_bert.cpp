// NomicBert (nomic-embed-text-v1 / v1.5), mirroring transformers' (5.24)
// src/transformers/models/nomic_bert/modeling_nomic_bert.py on the encoder it shares with GTE
// (rotary_bert.hpp): SwiGLU (act(gate) ⊙ up, act = hidden_act, SiLU), no biases in the attention
// or the MLP, RoPE with θ = rope_parameters.rope_theta (1000 by default).
//
// Two config dialects, read field by field: transformers' (hidden_size, num_hidden_layers, ...,
// rope_parameters) and that of the published remote code (nomic-ai/nomic-bert-2048, GPT-2 names:
// n_embd, n_layer, n_head, n_inner, n_positions, layer_norm_epsilon, rotary_emb_base,
// activation_function "swiglu"); nomic-embed-text-v1.5's config.json carries both. The remote
// code's options that transformers' NomicBert does not implement (pre-norm, partial or interleaved
// rotary, xPos, dynamic NTK scaling, biases, MoE layers as in nomic-embed-text-v2-moe, an MLP
// without gate) are refused naming the field. Weights come under the remote code's names, as
// transformers saves them (its conversion_mapping.py: emb_ln, encoder.layers.N.attn.Wqkv, fc11 =
// up, fc12 = gate, fc2, norm1, norm2), or under transformers' own (save_original_format=False).
#include <string>

#include "io/json_file.hpp"
#include "models/architectures.hpp"
#include "models/rotary_bert.hpp"
#include "models/weights_util.hpp"

namespace hades {
namespace {

// The transformers field, else the remote code's name for it.
int64_t get_size(const JsonFields& f, std::string_view key, std::string_view remote_key) {
  if (f.has(key) || !f.has(remote_key)) return f.get_positive_int(key);
  return f.get_positive_int(remote_key);
}

std::string_view key_present(const JsonFields& f, std::string_view key,
                             std::string_view remote_key) {
  return f.has(key) || !f.has(remote_key) ? key : remote_key;
}

// The remote code's activation_function "swiglu" is SiLU-gated; transformers' hidden_act names the
// gate's activation directly and wins where both are given.
Activation gate_activation(const JsonFields& f) {
  if (f.has("hidden_act") || !f.has("activation_function")) {
    return parse_activation(f, "hidden_act", "silu");
  }
  require_implemented(f, "activation_function", "swiglu", "an MLP other than SwiGLU");
  return Activation::silu;
}

void refuse_remote_code_options(const JsonFields& f) {
  require_implemented(f, "prenorm", false, "LayerNorms before the sublayers");
  require_implemented(f, "parallel_block", false, "attention and MLP side by side");
  require_implemented(f, "causal", false, "causal attention");
  require_implemented(f, "scale_attn_weights", true, "attention scores not divided by √head_dim");
  require_implemented(f, "scale_attn_by_inverse_layer_idx", false, "scores divided by the layer");
  require_implemented(f, "rotary_emb_fraction", 1.0, "RoPE over part of each head");
  require_implemented(f, "rotary_emb_interleaved", false, "GPT-J's interleaved RoPE pairs");
  require_implemented(f, "rotary_emb_scale_base", nullptr, "xPos");
  require_implemented(f, "rotary_scaling_factor", nullptr, "dynamic NTK RoPE scaling");
  require_implemented(f, "qkv_proj_bias", false, "attention biases");
  require_implemented(f, "mlp_fc1_bias", false, "MLP biases");
  require_implemented(f, "mlp_fc2_bias", false, "MLP biases");
  require_implemented(f, "num_experts", 0, "mixture-of-experts layers");
  require_implemented(f, "moe_every_n_layers", 0, "mixture-of-experts layers");
}

RotaryBertConfig parse_config(const nlohmann::json& json, const std::string& source) {
  const JsonFields f(json, source);
  refuse_remote_code_options(f);
  RotaryBertConfig c;
  c.model_type = "nomic_bert";
  c.vocab_size = f.get_positive_int("vocab_size");
  c.hidden_size = get_size(f, "hidden_size", "n_embd");
  c.num_layers = get_size(f, "num_hidden_layers", "n_layer");
  c.num_heads = get_size(f, "num_attention_heads", "n_head");
  c.intermediate_size = get_size(f, "intermediate_size", "n_inner");
  c.type_vocab_size = f.find_non_negative_int("type_vocab_size").value_or(2);
  // n_positions is the remote code's limit (8192 for v1.5, past the 2048 trained positions that
  // max_position_embeddings gives); plain RoPE has no table to run out of.
  c.max_positions = f.find_positive_int("n_positions")
                        .value_or(f.find_positive_int("max_position_embeddings").value_or(2048));
  c.norm_eps =
      static_cast<float>(f.find_number("layer_norm_eps")
                             .value_or(f.find_number("layer_norm_epsilon").value_or(1e-12)));
  c.rope_theta = read_rope_theta(f, "rotary_emb_base", 1000.0);
  c.activation = gate_activation(f);
  check_rotary_bert_sizes(
      f, c,
      {key_present(f, "hidden_size", "n_embd"), key_present(f, "num_hidden_layers", "n_layer"),
       key_present(f, "num_attention_heads", "n_head"),
       key_present(f, "intermediate_size", "n_inner"),
       f.has("n_positions") ? "n_positions" : "max_position_embeddings"});
  return c;
}

RotaryBertNames tensor_names(const WeightStore& weights) {
  RotaryBertNames names;
  names.prefix =
      WeightLoader::detect_prefix(weights, "embeddings.word_embeddings.weight", {"nomic_bert."});
  if (weights.contains(names.prefix + "layers.0.self_attn.o_proj.weight")) {
    return transformers_tensor_names(names.prefix);
  }
  names.embedding_norm = "emb_ln";
  names.layer_prefix = "encoder.layers.";
  names.qkv = {"attn.Wqkv"};
  names.attention_output = "attn.out_proj";
  names.attention_norm = "norm1";
  names.gate_up = {"mlp.fc12", "mlp.fc11"};
  names.mlp_output = "mlp.fc2";
  names.mlp_norm = "norm2";
  return names;
}

}  // namespace

// NomicBertFor{Token,Sequence}Classification are BERT's heads (load_rotary_bert).
ModelParts load_nomic_bert(const ModelLoadContext& context) {
  return load_rotary_bert(context, parse_config(context.config, context.config_source),
                          tensor_names(context.weights));
}

}  // namespace hades
