// sentence-transformers model folders: modules.json and the configs of the modules it lists.
//
// Mirrors sentence_transformers.SentenceTransformer._load_sbert_model and models/Pooling.py
// (https://github.com/UKPLab/sentence-transformers). A folder without modules.json is a plain
// transformers model, for which the caller picks its own pooling.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hades {

enum class PoolingMode { cls, max, mean, mean_sqrt_len, weighted_mean, last_token };

// The name sentence-transformers gives the mode ("cls", "max", "mean", "mean_sqrt_len_tokens",
// "weightedmean", "lasttoken").
std::string_view pooling_mode_name(PoolingMode mode) noexcept;

struct PoolingConfig {
  // The modes switched on, in the order sentence-transformers concatenates their outputs
  // (Pooling.forward: cls, max, mean, mean_sqrt_len, weighted mean, last token). Never empty.
  std::vector<PoolingMode> modes;
  // Whether the tokens of a prompt prefix take part in pooling (Pooling's include_prompt).
  bool include_prompt = true;
  std::optional<std::int64_t> word_embedding_dimension;
};

// sentence-transformers' SpladePooling (sparse_encoder/modules/splade_pooling.py): over the
// tokens, the max or the sum of log(1 + relu(logits)), or of log(1 + log(1 + relu(logits))).
enum class SpladeStrategy { max, sum };
enum class SpladeActivation { relu, log1p_relu };

struct SpladePoolingConfig {
  SpladeStrategy strategy = SpladeStrategy::max;
  SpladeActivation activation = SpladeActivation::relu;
  std::optional<std::int64_t> embedding_dimension;  // the vocabulary size, when the file says
};

struct SentenceTransformerConfig {
  // The folder of the Transformer module, where config.json, the weights and the tokenizer live:
  // the model folder itself for current models, a subfolder (e.g. "0_Transformer") for old ones.
  std::filesystem::path transformer_dir;
  // From sentence_bert_config.json: the truncation length, and whether input is lower-cased.
  std::optional<std::int64_t> max_seq_length;
  bool do_lower_case = false;
  // The Pooling module; nullopt when modules.json has none (the model outputs token embeddings).
  std::optional<PoolingConfig> pooling;
  // Whether a Normalize module follows: embeddings are scaled to unit L2 norm.
  bool normalize = false;
  // A SparseEncoder's SpladePooling over the masked-LM logits (an MLMTransformer, or a
  // Transformer of transformer_task "fill-mask"), in place of Pooling; and, from
  // config_sentence_transformers.json, how many of a vector's largest values it keeps.
  std::optional<SpladePoolingConfig> splade;
  bool masked_lm = false;  // the Transformer gives masked-LM logits (MLMTransformer, fill-mask)
  std::optional<std::int64_t> max_active_dims;
  // From config_sentence_transformers.json: named prompts prepended to inputs, which of them is
  // the default, and the similarity function the model was trained for ("cosine", "dot", ...).
  std::map<std::string, std::string> prompts;
  std::optional<std::string> default_prompt_name;
  std::optional<std::string> similarity_fn_name;
};

// Reads the sentence-transformers configuration of a model folder; nullopt when the folder has no
// modules.json. Throws Error invalid_model for malformed files (naming the file and the key), and
// unsupported for modules hades does not run (Dense, custom code, other module types).
// A SpladePooling without a masked-LM Transformer before it is invalid_model.
std::optional<SentenceTransformerConfig> read_sentence_transformer_config(
    const std::filesystem::path& model_dir);

// Reads a Pooling module's config.json. Throws Error not_found or invalid_model.
PoolingConfig read_pooling_config(const std::filesystem::path& config_path);

// Reads a SpladePooling module's config.json. Throws Error not_found or invalid_model.
SpladePoolingConfig read_splade_pooling_config(const std::filesystem::path& config_path);

}  // namespace hades
