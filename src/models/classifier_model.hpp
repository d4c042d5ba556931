// The in-process classification API: a folder of a *ForSequenceClassification or
// *ForTokenClassification model in, labels and scores out, and the `chunk` operation of the
// chonky models (mirth/chonky: a token classifier that marks where paragraphs end).
//
//   auto model = hades::ClassifierModel::load("/path/to/chonky_distilbert_base_uncased_1");
//   hades::runtime::ChunkedText c = model->chunk(text);  // c.chunks[i].text, .start, .end
//
// Its value types are in hades::runtime under the names of their public twins (EntitySpan,
// ChunkedText, ...; include/hades/types.hpp), so that a file that sees both tells them apart.
//
// A loaded model is immutable: every method may run from many threads at once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "models/chunk_text.hpp"
#include "models/embedding_model.hpp"
#include "models/heads.hpp"
#include "tokenizer/tokenizer.hpp"

namespace hades {

namespace runtime {

struct ClassScore {
  std::string label;
  float score = 0;  // softmax probability
};

struct Classification {
  std::vector<float> logits;       // one per label
  std::vector<ClassScore> scores;  // every label, best first
};

struct EntitySpan {  // a run of adjacent tokens with the same predicted label (not "O")
  std::string label;
  float score = 0;    // mean probability of the run's tokens
  int64_t start = 0;  // code points into the text
  int64_t end = 0;
};

struct TextChunk {
  std::string text;
  int64_t start = 0;  // code points into the input
  int64_t end = 0;
  float separator_score = 0;  // score of the separator that ends it (0 for the tail)
};

struct ChunkedText {
  std::vector<TextChunk> chunks;  // their texts concatenated are the (cleaned) input exactly
  int64_t windows = 0;
  int64_t tokens = 0;
};

struct ChunkingOptions {
  // Window length in tokens, special tokens included (chonky: the tokenizer's model_max_length);
  // consecutive windows overlap by half of it, as chonky's ParagraphSplitter runs them.
  std::optional<int64_t> max_length;
  // chunk() only, both off by default (chonky chunks the text as given; see chunk_text.hpp):
  TextCleanup clean = TextCleanup::none;  // chonky's MarkupRemover first; spans index its result
  bool snap_to_whitespace = false;        // move cuts inside a word to the word's end
};

}  // namespace runtime

class ClassifierModel {
 public:
  static std::unique_ptr<ClassifierModel> load(const std::filesystem::path& dir,
                                               const ModelLoadOptions& options = {});

  ModelTask task() const { return parts_.task; }
  const std::vector<std::string>& labels() const { return parts_.labels; }
  int64_t default_window() const { return default_window_; }
  uint64_t weight_bytes() const { return parts_.encoder->weight_bytes(); }
  const Encoder& encoder() const { return *parts_.encoder; }
  const Tokenizer& tokenizer() const { return tokenizer_; }

  // Sequence classification of texts, or of (text, pair) pairs (cross-encoder reranking) when
  // `pairs` is given (same length as `texts`). Inputs longer than the model takes are cut.
  std::vector<runtime::Classification> classify(std::span<const std::string> texts,
                                                std::span<const std::string> pairs = {}) const;

  // Token classification: the non-"O" entities of each text (transformers' ner pipeline with
  // aggregation_strategy="simple", over windows like chunk()).
  std::vector<runtime::EntitySpan> token_classify(
      const std::string& text, const runtime::ChunkingOptions& options = {}) const;

  // chonky's ParagraphSplitter: the text cut after each separator entity.
  runtime::ChunkedText chunk(const std::string& text,
                             const runtime::ChunkingOptions& options = {}) const;

 private:
  ClassifierModel(ModelParts parts, Tokenizer tokenizer);
  std::vector<float> run_head(std::span<const Encoding> encodings) const;
  std::vector<runtime::EntitySpan> entities(const std::string& text,
                                            const runtime::ChunkingOptions& options,
                                            int64_t* windows, int64_t* tokens) const;

  ModelParts parts_;
  Tokenizer tokenizer_;
  int64_t default_window_ = 512;
};

}  // namespace hades
