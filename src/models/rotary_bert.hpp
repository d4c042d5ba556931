// The encoder that transformers builds NomicBert and GTE from (both inherit JinaEmbeddingsV3's
// embeddings and layers: models/nomic_bert/modeling_nomic_bert.py, models/gte/modeling_gte.py):
//   h = LayerNorm(word_embeddings[id] + token_type_embeddings[type])    (no position embeddings)
//   per layer: h = post_attention_layernorm(h + o_proj(attention(RoPE(q, k), v)))
//              h = post_mlp_layernorm(h + down_proj(act(gate_proj(h)) ⊙ up_proj(h)))
// RoPE is GPT-NeoX's (pairs i and i + head_dim / 2) over the whole head, positions from 0 in
// every sequence. The architecture files (nomic_bert.cpp, gte.cpp) read their config dialects
// into RotaryBertConfig and name their tensors with RotaryBertNames.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "compute/backend.hpp"
#include "io/json_file.hpp"
#include "io/weights.hpp"
#include "models/architectures.hpp"
#include "models/encoder.hpp"

namespace hades {

struct RotaryBertConfig {
  std::string model_type;  // config.json's, as the model list shows it
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t intermediate_size = 0;
  int64_t type_vocab_size = 0;  // 0: no token type embeddings (gte-base-en-v1.5)
  int64_t max_positions = 0;
  float norm_eps = 1e-12f;
  float rope_theta = 10000.0f;
  Activation activation = Activation::silu;  // of the gate
  bool attention_bias = false;               // q, k, v and o projections
  bool mlp_output_bias = false;              // down_proj
};

// Where a checkpoint keeps each tensor, relative to `prefix`; a layer's are under
// layer_prefix + index + ".". One name in `qkv` is a fused [3 · hidden, hidden] projection,
// three are q, k and v apart. Two names in `gate_up` are gate and up apart; one is a fused
// [2 · intermediate, hidden] projection whose halves are up then gate.
struct RotaryBertNames {
  std::string prefix;
  std::string embedding_norm;
  std::string layer_prefix;
  std::vector<std::string> qkv;
  std::string attention_output;
  std::string attention_norm;
  std::vector<std::string> gate_up;
  std::string mlp_output;
  std::string mlp_norm;
};

// RoPE's θ as transformers 5 reads it: rope_parameters.rope_theta (or the older rope_scaling's),
// else rope_theta, else the remote code's `legacy_key` (when not empty), else `default_theta`.
// A RoPE variant other than the default (scaling, NTK) is refused naming the field: the encoder
// implements plain RoPE only.
float read_rope_theta(const JsonFields& config, std::string_view legacy_key, double default_theta);

// A remote-code option of which hades implements one value (or only its absence, when
// `implemented` is null): any other value is refused naming the field and what it would change.
void require_implemented(const JsonFields& config, std::string_view key,
                         const nlohmann::json& implemented, std::string_view meaning);

// Refuses sizes that do not make a model (hidden_size not a multiple of the heads, an odd head
// size, a head_dim that differs) or are absurd, naming the fields as the config spells them.
struct RotaryBertSizeKeys {
  std::string_view hidden_size;
  std::string_view num_layers;
  std::string_view num_heads;
  std::string_view intermediate_size;
  std::string_view max_positions;
};
void check_rotary_bert_sizes(const JsonFields& config, const RotaryBertConfig& c,
                             const RotaryBertSizeKeys& keys);

// transformers' own tensor names (save_pretrained with save_original_format=False), the same for
// both families: layers.N.self_attn.{q,k,v,o}_proj, mlp.{gate,up,down}_proj, post_*_layernorm.
RotaryBertNames transformers_tensor_names(std::string prefix);

// The encoder and, for a *ForTokenClassification or *ForSequenceClassification, BERT's head: the
// pooler (tanh of a dense layer on the first token, PREFIX + "pooler.dense") and the classifier for
// sequences, the classifier alone for tokens.
ModelParts load_rotary_bert(const ModelLoadContext& context, const RotaryBertConfig& config,
                            const RotaryBertNames& names);

}  // namespace hades
