// The in-process embedding API: a model folder in, sentence embeddings out, equal to
// `SentenceTransformer(folder).encode(texts)` for sentence-transformers folders.
//
//   auto model = hades::EmbeddingModel::load("/path/to/all-MiniLM-L6-v2");
//   hades::Embeddings e = model->embed({"first text", "second text"});
//   // e.values holds e.count() rows of e.dimension floats, row-major.
//
// A SparseEncoder folder (a masked-LM Transformer and SpladePooling) loads as a sparse model:
// embed_sparse() in place of embed(), equal to `SparseEncoder(folder).encode(texts)`.
//
// A loaded model is immutable: embed() and tokenize() may run from many threads at once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "compute/backend.hpp"
#include "io/sentence_transformers.hpp"
#include "models/encoder.hpp"
#include "models/heads.hpp"
#include "models/masked_lm.hpp"
#include "tokenizer/tokenizer.hpp"

namespace hades {

struct ModelLoadOptions {
  const Backend* backend = nullptr;  // null: the process-wide CPU backend at `precision`
  // The linear layers' number format (cpu_backend(precision)); with `backend` set, unused.
  LinearPrecision precision = LinearPrecision::fp32;
};

struct EmbedOptions {
  // Overrides the folder's pooling (a sentence-transformers Pooling module, else mean).
  std::optional<PoolingMode> pooling;
  // Overrides whether rows are L2-normalized (default: as the folder's Normalize module says).
  std::optional<bool> normalize;
  // true: inputs longer than max_sequence_length() are cut, as sentence-transformers does.
  // false: such an input is an input_invalid error naming it.
  bool truncate = true;
  TruncationDirection truncation_direction = TruncationDirection::right;  // the end cut
  // Upper bound on the tokens of one forward pass; inputs are grouped into passes under it.
  // 4096 keeps a pass's activations near the caches; four times that ran slower on one core and
  // doubled the peak memory.
  int64_t max_batch_tokens = 4096;
};

struct Embeddings {
  int64_t dimension = 0;
  std::vector<float> values;  // [count, dimension]
  int64_t tokens = 0;         // tokens computed, special tokens included

  int64_t count() const {
    return dimension == 0 ? 0 : static_cast<int64_t>(values.size()) / dimension;
  }
  std::span<const float> row(int64_t i) const {
    return {values.data() + i * dimension, static_cast<size_t>(dimension)};
  }
};

// One sparse vector over the vocabulary per input.
struct SparseEmbeddings {
  int64_t dimension = 0;  // the vocabulary size
  std::vector<SparseVector> vectors;
  int64_t tokens = 0;  // tokens computed, special tokens included
};

class EmbeddingModel {
 public:
  // Loads config.json, the safetensors weights, tokenizer.json and, where present, the
  // sentence-transformers configs of DIR. Errors name the file and the problem.
  static std::unique_ptr<EmbeddingModel> load(const std::filesystem::path& dir,
                                              const ModelLoadOptions& options = {});

  // Dense embeddings; unsupported on a sparse model.
  Embeddings embed(std::span<const std::string> texts, const EmbedOptions& options = {}) const;
  // SPLADE vectors of TEXTS (OPTIONS' truncation and token budget apply; its pooling and
  // normalize do not), or of ENCODINGS already made by tokenize(); unsupported on a dense model.
  SparseEmbeddings embed_sparse(std::span<const std::string> texts,
                                const EmbedOptions& options = {}) const;
  SparseEmbeddings embed_sparse(std::span<const Encoding> encodings,
                                int64_t max_batch_tokens) const;
  // Whether the model gives sparse vectors (a SparseEncoder folder) instead of dense ones.
  bool sparse() const { return masked_lm_ != nullptr; }

  // The encodings the model would compute (special tokens included), truncated or not; left
  // truncation keeps each input's last tokens (and its special tokens).
  std::vector<Encoding> tokenize(std::span<const std::string> texts, bool truncate = true,
                                 TruncationDirection direction = TruncationDirection::right) const;

  // Of embed()'s rows with the folder's own pooling; a sparse model's: its vocabulary size.
  int64_t dimension() const;
  int64_t max_sequence_length() const { return max_sequence_length_; }
  const std::vector<PoolingMode>& pooling_modes() const { return pooling_modes_; }
  bool normalizes() const { return normalize_; }
  // The text put before each input, as SentenceTransformer.encode picks it: PROMPT when given,
  // else the folder's prompt named PROMPT_NAME (invalid_argument naming the known ones when it
  // has none of that name), else its default prompt, else none. A prompt of a model whose
  // Pooling leaves prompt tokens out (include_prompt false) is unsupported for now.
  std::string prompt_for(const std::optional<std::string>& prompt,
                         const std::optional<std::string>& prompt_name) const;
  // The prompt names of config_sentence_transformers.json, and the one it applies by default.
  bool has_prompt(const std::string& name) const { return prompts_.count(name) != 0; }
  const std::optional<std::string>& default_prompt_name() const { return default_prompt_name_; }
  uint64_t weight_bytes() const { return encoder_->weight_bytes(); }
  const Encoder& encoder() const { return *encoder_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }

 private:
  EmbeddingModel(ModelParts parts, Tokenizer tokenizer);
  void embed_group(std::span<const Encoding> encodings, std::span<const PoolingMode> modes,
                   Embeddings& out) const;

  // Throws unsupported unless the model is sparse (SPARSE) or dense.
  void require_sparse(bool sparse) const;

  std::unique_ptr<Encoder> encoder_;
  std::unique_ptr<MaskedLmHead> masked_lm_;  // a sparse model's
  SpladePoolingConfig splade_;
  std::optional<int64_t> max_active_dims_;
  Tokenizer tokenizer_;
  Tokenizer truncating_tokenizer_;
  Tokenizer left_truncating_tokenizer_;  // keeps the last max_sequence_length tokens
  std::vector<PoolingMode> pooling_modes_ = {PoolingMode::mean};
  bool normalize_ = false;
  bool lower_case_ = false;
  std::map<std::string, std::string> prompts_;
  std::optional<std::string> default_prompt_name_;
  bool include_prompt_ = true;
  int64_t max_sequence_length_ = 0;
};

}  // namespace hades
