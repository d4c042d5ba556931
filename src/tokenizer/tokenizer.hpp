// hades::Tokenizer — a native implementation of Hugging Face `tokenizer.json` pipelines.
//
// A Tokenizer is built from the file's JSON and runs, for each input text, the same steps as the
// Python `tokenizers` library, with results equal to it (ids, tokens, type ids, masks, offsets,
// overflowing windows): added tokens are matched first (non-normalized ones on the raw text,
// normalized ones after normalization), then the normalizer, the pre-tokenizer, the model
// (WordPiece, BPE or Unigram), truncation, the post-processor (special tokens), and padding.
//
// Offsets are in Unicode code points of the original input string, exactly as
// `encoding.offsets` in Python; for a pair, each sequence's offsets refer to its own string.
//
// Thread safety: a Tokenizer is immutable while encoding; any number of threads may call the
// const methods at once. The setters are not synchronized with concurrent encodes.
//
// Supported components: normalizers BertNormalizer, NFC, NFD, NFKC, NFKD, Lowercase,
// StripAccents, Strip, Replace (string or regex patterns), Prepend, ByteLevel, Precompiled
// (SentencePiece's charsmap), Sequence; pre-tokenizers BertPreTokenizer, Whitespace,
// WhitespaceSplit, Punctuation, Digits, ByteLevel, Split, Metaspace, Sequence; models WordPiece,
// BPE, Unigram; post-processors TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel,
// Sequence; decoders (for decode()) ByteLevel, WordPiece, BPEDecoder, ByteFallback, Fuse, Strip,
// Replace, Metaspace, Sequence. Anything else is an Error with
// ErrorCode::unsupported (a known Hugging Face component) or ErrorCode::invalid_model.
// Regex patterns run through PCRE2 with Oniguruma's meaning (see regex.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hades {

// The result of encoding one text (or one pair of texts).
struct Encoding {
  std::vector<int32_t> ids;
  std::vector<int32_t> type_ids;
  std::vector<int32_t> attention_mask;       // 1 for real tokens, 0 for padding
  std::vector<int32_t> special_tokens_mask;  // 1 for tokens added by the post-processor/padding
  std::vector<std::string> tokens;
  // [start, end) in code points of the original string the token came from; (0, 0) for special
  // tokens and padding.
  std::vector<std::pair<int64_t, int64_t>> offsets;
  // With truncation, the windows beyond the first (each with its own special tokens), in order.
  std::vector<Encoding> overflowing;

  size_t size() const { return ids.size(); }
};

enum class TruncationStrategy { longest_first, only_first, only_second };
enum class TruncationDirection { right, left };

struct TruncationOptions {
  size_t max_length = 512;  // including the special tokens the post-processor adds
  size_t stride = 0;        // tokens repeated between consecutive overflowing windows
  TruncationStrategy strategy = TruncationStrategy::longest_first;
  TruncationDirection direction = TruncationDirection::right;
};

enum class PaddingStrategy { batch_longest, fixed };
enum class PaddingDirection { right, left };

struct PaddingOptions {
  PaddingStrategy strategy = PaddingStrategy::batch_longest;
  size_t fixed_length = 0;  // the length for PaddingStrategy::fixed
  std::optional<size_t> pad_to_multiple_of;
  PaddingDirection direction = PaddingDirection::right;
  int32_t pad_id = 0;
  int32_t pad_type_id = 0;
  std::string pad_token = "[PAD]";
};

namespace tok {
struct Pipeline;
}

class Tokenizer {
 public:
  // Reads and parses a tokenizer.json. Throws Error: not_found / io_error when the file cannot
  // be read, invalid_model when it is malformed, unsupported for components not implemented.
  static Tokenizer from_file(const std::filesystem::path& path);
  // Parses tokenizer.json text; `source_name` names it in error messages.
  static Tokenizer from_json(std::string_view json_text, std::string_view source_name);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  Tokenizer(const Tokenizer&);
  Tokenizer& operator=(const Tokenizer&);
  ~Tokenizer();

  // Encodes one text; truncation and padding apply as configured. Throws Error(input_invalid)
  // for text that is not valid UTF-8, Error(invalid_argument) for truncation settings that
  // cannot be met (as Hugging Face does).
  Encoding encode(std::string_view text, bool add_special_tokens = true) const;
  Encoding encode_pair(std::string_view first, std::string_view second,
                       bool add_special_tokens = true) const;
  // Encodes each text and pads them together (PaddingStrategy::batch_longest pads to the
  // longest of the batch).
  std::vector<Encoding> encode_batch(const std::vector<std::string>& texts,
                                     bool add_special_tokens = true) const;

  // Replace the file's settings; nullopt disables. set_truncation throws Error(invalid_argument)
  // when the stride does not fit in max_length less the special tokens.
  void set_truncation(std::optional<TruncationOptions> options);
  void set_padding(std::optional<PaddingOptions> options);
  const std::optional<TruncationOptions>& truncation() const { return truncation_; }
  const std::optional<PaddingOptions>& padding() const { return padding_; }

  // The text of `ids` as HF Tokenizer::decode gives it: each id's token (unknown ids dropped,
  // special added tokens too when `skip_special_tokens`), through the file's decoder (tokens
  // joined by spaces without one). Throws Error(unsupported) for a decoder hades lacks.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = true) const;

  // Added tokens first, then the model's vocabulary.
  std::optional<int32_t> token_to_id(std::string_view token) const;
  // Throws Error(invalid_argument) for an id that names no token.
  std::string id_to_token(int32_t id) const;
  // The model's vocabulary plus the added tokens it does not contain.
  size_t vocab_size() const;
  // Special tokens added by the post-processor for one sequence (false) or a pair (true).
  size_t num_special_tokens_to_add(bool is_pair) const;

 private:
  explicit Tokenizer(std::shared_ptr<const tok::Pipeline> pipeline);
  Encoding post_process(Encoding first, std::optional<Encoding> second,
                        bool add_special_tokens) const;

  std::shared_ptr<const tok::Pipeline> pipeline_;
  std::optional<TruncationOptions> truncation_;
  std::optional<PaddingOptions> padding_;
};

}  // namespace hades
