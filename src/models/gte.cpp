// GTE v1.5 (gte-base-en-v1.5, gte-large-en-v1.5, gte-multilingual-base), mirroring transformers'
// (5.24) src/transformers/models/gte/modeling_gte.py on the encoder it shares with NomicBert
// (rotary_bert.hpp): biases on q, k, v, o and down_proj, none on gate and up; the gate's activation
// is hidden_act (GELU in the published models, i.e. GeGLU); RoPE with θ =
// rope_parameters.rope_theta (160000 by default); token type embeddings only when type_vocab_size >
// 0.
//
// The published checkpoints say model_type "new" and name the remote code of Alibaba-NLP/new-impl
// (auto_map); transformers' own dialect says "gte". Both use BERT's field names; the remote code's
// options that transformers' GTE does not implement (RMSNorm, unpacked qkv, log-n attention
// scaling, positions other than RoPE) are refused naming the field, and so is a RoPE variant other
// than the default: transformers 5.24 has no implementation of the remote code's "ntk" scaling
// (gte-*-en-v1.5's rope_scaling), so there is no reference to check one against. Weights come
// under the remote code's names, as transformers saves them (its conversion_mapping.py:
// encoder.layer.N.attention.qkv_proj, mlp.up_gate_proj = [up | gate], attn_ln, mlp_ln; heads
// keep the encoder under "new."), or under transformers' own (save_original_format=False).
#include <string>

#include "io/json_file.hpp"
#include "models/architectures.hpp"
#include "models/rotary_bert.hpp"
#include "models/weights_util.hpp"

namespace hades {
namespace {

void refuse_remote_code_options(const JsonFields& f) {
  require_implemented(f, "position_embedding_type", "rope", "positions other than RoPE");
  require_implemented(f, "layer_norm_type", "layer_norm", "a norm other than LayerNorm");
  require_implemented(f, "pack_qkv", true, "q, k and v kept apart");
  require_implemented(f, "logn_attention_scale", false, "log-n attention scaling");
  require_implemented(f, "logn_attention_clip1", false, "log-n attention scaling");
}

RotaryBertConfig parse_config(const nlohmann::json& json, const std::string& source) {
  const JsonFields f(json, source);
  refuse_remote_code_options(f);
  RotaryBertConfig c;
  c.model_type = f.get_string("model_type");
  c.vocab_size = f.get_positive_int("vocab_size");
  c.hidden_size = f.get_positive_int("hidden_size");
  c.num_layers = f.get_positive_int("num_hidden_layers");
  c.num_heads = f.get_positive_int("num_attention_heads");
  c.intermediate_size = f.get_positive_int("intermediate_size");
  c.type_vocab_size = f.find_non_negative_int("type_vocab_size").value_or(1);
  c.max_positions = f.find_positive_int("max_position_embeddings").value_or(8192);
  c.norm_eps = static_cast<float>(f.find_number("layer_norm_eps").value_or(1e-12));
  c.rope_theta = read_rope_theta(f, "", 160000.0);
  c.activation = parse_activation(f, "hidden_act", "gelu");
  c.attention_bias = true;
  c.mlp_output_bias = true;
  check_rotary_bert_sizes(f, c,
                          {"hidden_size", "num_hidden_layers", "num_attention_heads",
                           "intermediate_size", "max_position_embeddings"});
  return c;
}

RotaryBertNames tensor_names(const WeightStore& weights) {
  RotaryBertNames names;
  names.prefix =
      WeightLoader::detect_prefix(weights, "embeddings.word_embeddings.weight", {"new.", "gte."});
  if (weights.contains(names.prefix + "layers.0.self_attn.o_proj.weight")) {
    return transformers_tensor_names(names.prefix);
  }
  names.embedding_norm = "embeddings.LayerNorm";
  names.mlp_output = "mlp.down_proj";
  names.layer_prefix = "encoder.layer.";
  names.qkv = {"attention.qkv_proj"};
  names.attention_output = "attention.o_proj";
  names.attention_norm = "attn_ln";
  names.gate_up = {"mlp.up_gate_proj"};
  names.mlp_norm = "mlp_ln";
  return names;
}

}  // namespace

// GteFor{Token,Sequence}Classification are BERT's heads (load_rotary_bert).
ModelParts load_gte(const ModelLoadContext& context) {
  return load_rotary_bert(context, parse_config(context.config, context.config_source),
                          tensor_names(context.weights));
}

}  // namespace hades
