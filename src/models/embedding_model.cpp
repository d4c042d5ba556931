// Mirrors sentence_transformers.SentenceTransformer.encode for a Transformer → Pooling →
// (Normalize) pipeline: texts are lower-cased when sentence_bert_config.json says so, tokenized
// with truncation at max_seq_length (longest_first), run as ragged batches, pooled and normalized.
#include "models/embedding_model.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <iterator>

#include "hades/error.hpp"
#include "io/folder_path.hpp"
#include "io/json_file.hpp"
#include "models/parallel_forward.hpp"
#include "models/pooling.hpp"
#include "models/registry.hpp"

namespace hades {
namespace {

// Python's str.lower() per code point (sentence-transformers' do_lower_case); the input is
// valid UTF-8 by then, as the tokenizer has checked it.
std::string lower_case(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  auto remaining = static_cast<utf8proc_ssize_t>(text.size());
  while (remaining > 0) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t used = utf8proc_iterate(bytes, remaining, &cp);
    if (used <= 0) throw Error(ErrorCode::input_invalid, "input text is not valid UTF-8");
    utf8proc_uint8_t encoded[4];
    const utf8proc_ssize_t n = utf8proc_encode_char(utf8proc_tolower(cp), encoded);
    out.append(reinterpret_cast<const char*>(encoded), static_cast<size_t>(n));
    bytes += used;
    remaining -= used;
  }
  return out;
}

// The truncation length when sentence_bert_config.json gives none: the tokenizer's
// model_max_length where it is a real bound, capped by the position embeddings.
int64_t default_max_length(const std::filesystem::path& dir, int64_t positions) {
  const auto path = dir / "tokenizer_config.json";
  // An error examining it (a symlink loop) is left for read_json_file to report.
  std::error_code error;
  if (!std::filesystem::exists(path, error) && !error) return positions;
  const nlohmann::json config = read_json_file(path);
  const auto it = config.find("model_max_length");
  if (it != config.end() && it->is_number_integer() && it->get<int64_t>() > 0) {
    return std::min(positions, it->get<int64_t>());
  }
  return positions;
}

// SpladePooling's embedding_dimension, when its config gives one, is the vocabulary's size.
void check_sparse_dimension(const SpladePoolingConfig& splade, int64_t vocab_size,
                            const std::filesystem::path& model_dir) {
  if (splade.embedding_dimension && *splade.embedding_dimension != vocab_size) {
    throw Error(ErrorCode::invalid_model, "the SpladePooling config's embedding_dimension is " +
                                              std::to_string(*splade.embedding_dimension) +
                                              ", but " + (model_dir / "config.json").string() +
                                              " has a vocabulary of " + std::to_string(vocab_size));
  }
}

}  // namespace

EmbeddingModel::EmbeddingModel(ModelParts parts, Tokenizer tokenizer)
    : encoder_(std::move(parts.encoder)),
      masked_lm_(std::move(parts.masked_lm)),
      tokenizer_(std::move(tokenizer)),
      truncating_tokenizer_(tokenizer_),
      left_truncating_tokenizer_(tokenizer_) {}

std::unique_ptr<EmbeddingModel> EmbeddingModel::load(const std::filesystem::path& dir,
                                                     const ModelLoadOptions& options) {
  require_model_folder(dir);
  const std::optional<SentenceTransformerConfig> st = read_sentence_transformer_config(dir);
  const std::filesystem::path model_dir = st ? st->transformer_dir : dir;
  const Backend& backend =
      options.backend != nullptr ? *options.backend : cpu_backend(options.precision);
  // A SparseEncoder's Transformer runs its masked-LM head; other folders load as their config
  // says (an architecture whose head hades cannot build is refused, even for embeddings).
  ModelParts parts = load_model_parts(
      model_dir, backend, st && st->splade ? std::optional(ModelTask::masked_lm) : std::nullopt);
  Tokenizer tokenizer = Tokenizer::from_file(model_dir / "tokenizer.json");
  // The file's own truncation and padding are for its training setup (MiniLM's says pad to 128);
  // sentence-transformers overrides both, and so do we.
  tokenizer.set_truncation(std::nullopt);
  tokenizer.set_padding(std::nullopt);
  std::unique_ptr<EmbeddingModel> model(new EmbeddingModel(std::move(parts), std::move(tokenizer)));
  const int64_t positions = model->encoder_->max_sequence_length();
  model->max_sequence_length_ =
      std::min(positions, st && st->max_seq_length ? *st->max_seq_length
                                                   : default_max_length(model_dir, positions));
  if (st && st->pooling) model->pooling_modes_ = st->pooling->modes;
  if (st && st->splade) {
    model->splade_ = *st->splade;
    model->max_active_dims_ = st->max_active_dims;
    check_sparse_dimension(*st->splade, model->masked_lm_->vocab_size(), model_dir);
  }
  model->normalize_ = st && st->normalize;
  model->lower_case_ = st && st->do_lower_case;
  if (st) {
    model->prompts_ = st->prompts;
    model->default_prompt_name_ = st->default_prompt_name;
    model->include_prompt_ = !st->pooling || st->pooling->include_prompt;
  }
  TruncationOptions truncation;
  truncation.max_length = static_cast<size_t>(model->max_sequence_length_);
  model->truncating_tokenizer_ = model->tokenizer_;
  model->truncating_tokenizer_.set_truncation(truncation);
  truncation.direction = TruncationDirection::left;
  model->left_truncating_tokenizer_ = model->tokenizer_;
  model->left_truncating_tokenizer_.set_truncation(truncation);
  return model;
}

std::string EmbeddingModel::prompt_for(const std::optional<std::string>& prompt,
                                       const std::optional<std::string>& prompt_name) const {
  std::string text;
  if (prompt) {
    text = *prompt;
  } else if (const std::optional<std::string> name =
                 prompt_name ? prompt_name : default_prompt_name_) {
    const auto it = prompts_.find(*name);
    if (it == prompts_.end()) {
      std::string known;
      for (const auto& [key, value] : prompts_) known += (known.empty() ? "" : ", ") + key;
      // input_invalid: a valid request that this model cannot take (another model has the name).
      throw Error(ErrorCode::input_invalid, "prompt_name '" + *name +
                                                "' names no prompt of this model (it has: " +
                                                (known.empty() ? "none" : known) + ")");
    }
    text = it->second;
  }
  if (!text.empty() && !include_prompt_) {
    throw Error(ErrorCode::unsupported,
                "this model's Pooling leaves prompt tokens out (include_prompt false), which "
                "hades does not support yet");
  }
  return text;
}

int64_t EmbeddingModel::dimension() const {
  if (sparse()) return masked_lm_->vocab_size();
  return encoder_->hidden_size() * static_cast<int64_t>(pooling_modes_.size());
}

std::vector<Encoding> EmbeddingModel::tokenize(std::span<const std::string> texts, bool truncate,
                                               TruncationDirection direction) const {
  const Tokenizer& tokenizer =
      !truncate ? tokenizer_
                : (direction == TruncationDirection::left ? left_truncating_tokenizer_
                                                          : truncating_tokenizer_);
  std::vector<Encoding> encodings;
  encodings.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    encodings.push_back(tokenizer.encode(lower_case_ ? lower_case(texts[i]) : texts[i]));
    if (!truncate && static_cast<int64_t>(encodings.back().size()) > max_sequence_length_) {
      throw Error(ErrorCode::input_invalid,
                  "input " + std::to_string(i) + " has " + std::to_string(encodings.back().size()) +
                      " tokens; the model accepts at most " + std::to_string(max_sequence_length_) +
                      " (set truncate to cut it)");
    }
  }
  return encodings;
}

void EmbeddingModel::require_sparse(bool sparse) const {
  if (sparse && !this->sparse()) {
    throw Error(ErrorCode::unsupported,
                "this is a dense embedding model; it gives no sparse embeddings (embed it)");
  }
  if (!sparse && this->sparse()) {
    throw Error(ErrorCode::unsupported,
                "this is a sparse (SPLADE) embedding model; it gives sparse embeddings only "
                "(embed-sparse)");
  }
}

Embeddings EmbeddingModel::embed(std::span<const std::string> texts,
                                 const EmbedOptions& options) const {
  require_sparse(false);
  const std::vector<Encoding> encodings =
      tokenize(texts, options.truncate, options.truncation_direction);
  const std::vector<PoolingMode> modes =
      options.pooling ? std::vector<PoolingMode>{*options.pooling} : pooling_modes_;
  Embeddings out;
  out.dimension = encoder_->hidden_size() * static_cast<int64_t>(modes.size());
  out.values.reserve(texts.size() * static_cast<size_t>(out.dimension));
  // Consecutive inputs go into one forward pass until the next would pass the token budget.
  size_t first = 0;
  int64_t group_tokens = 0;
  for (size_t i = 0; i <= encodings.size(); ++i) {
    const bool flush = i == encodings.size() ||
                       (i > first && group_tokens + static_cast<int64_t>(encodings[i].size()) >
                                         options.max_batch_tokens);
    if (flush && i > first) {
      embed_group(std::span(encodings).subspan(first, i - first), modes, out);
      first = i;
      group_tokens = 0;
    }
    if (i < encodings.size()) group_tokens += static_cast<int64_t>(encodings[i].size());
  }
  if (options.normalize.value_or(normalize_)) normalize_rows(out.values, out.dimension);
  return out;
}

void EmbeddingModel::embed_group(std::span<const Encoding> encodings,
                                 std::span<const PoolingMode> modes, Embeddings& out) const {
  std::vector<int32_t> ids, type_ids, cu_seqlens = {0};
  for (const Encoding& e : encodings) {
    ids.insert(ids.end(), e.ids.begin(), e.ids.end());
    type_ids.insert(type_ids.end(), e.type_ids.begin(), e.type_ids.end());
    cu_seqlens.push_back(static_cast<int32_t>(ids.size()));
  }
  const EncoderOutput result = forward_parallel(*encoder_, {ids, type_ids, cu_seqlens});
  const std::vector<float> pooled = pool(result.hidden, encoder_->hidden_size(), cu_seqlens, modes);
  out.values.insert(out.values.end(), pooled.begin(), pooled.end());
  out.tokens += static_cast<int64_t>(ids.size());
}

SparseEmbeddings EmbeddingModel::embed_sparse(std::span<const std::string> texts,
                                              const EmbedOptions& options) const {
  require_sparse(true);
  const std::vector<Encoding> encodings =
      tokenize(texts, options.truncate, options.truncation_direction);
  return embed_sparse(encodings, options.max_batch_tokens);
}

SparseEmbeddings EmbeddingModel::embed_sparse(std::span<const Encoding> encodings,
                                              int64_t max_batch_tokens) const {
  require_sparse(true);
  SparseEmbeddings out;
  out.dimension = masked_lm_->vocab_size();
  out.vectors.reserve(encodings.size());
  // Passes under the token budget, as embed() runs them; the logits of a pass are computed and
  // pooled a block of rows at a time (splade_pool), never held whole.
  for (size_t first = 0; first < encodings.size();) {
    std::vector<int32_t> ids, type_ids, cu_seqlens = {0};
    for (; first < encodings.size(); ++first) {
      const Encoding& e = encodings[first];
      const auto tokens = static_cast<int64_t>(ids.size() + e.ids.size());
      if (cu_seqlens.size() > 1 && tokens > max_batch_tokens) break;
      ids.insert(ids.end(), e.ids.begin(), e.ids.end());
      type_ids.insert(type_ids.end(), e.type_ids.begin(), e.type_ids.end());
      cu_seqlens.push_back(static_cast<int32_t>(ids.size()));
    }
    const EncoderOutput result = forward_parallel(*encoder_, {ids, type_ids, cu_seqlens});
    std::vector<SparseVector> vectors =
        splade_pool({*masked_lm_, splade_, max_active_dims_}, result.hidden, cu_seqlens);
    std::move(vectors.begin(), vectors.end(), std::back_inserter(out.vectors));
    out.tokens += static_cast<int64_t>(ids.size());
  }
  return out;
}

}  // namespace hades
