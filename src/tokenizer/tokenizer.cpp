#include "tokenizer/tokenizer.hpp"

#include <fstream>
#include <sstream>

#include "hades/error.hpp"
#include "tokenizer/added_vocabulary.hpp"
#include "tokenizer/decoders.hpp"
#include "tokenizer/encoding_ops.hpp"
#include "tokenizer/json_reader.hpp"
#include "tokenizer/model.hpp"
#include "tokenizer/normalizers.hpp"
#include "tokenizer/post_processors.hpp"
#include "tokenizer/pre_tokenizers.hpp"

namespace hades {
namespace tok {

struct Pipeline {
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<Model> model;
  std::unique_ptr<PostProcessor> post_processor;
  std::unique_ptr<Decoder> decoder;
  AddedVocabulary added;

  size_t added_special_tokens(bool is_pair) const {
    return post_processor ? post_processor->added_tokens(is_pair) : 0;
  }
};

namespace {

TruncationOptions parse_truncation(const Json& value, const JsonPath& at) {
  require_object(value, at);
  TruncationOptions options;
  options.max_length = get_uint(value, at, "max_length", UINT64_MAX);
  options.stride = get_uint(value, at, "stride", UINT64_MAX);
  const std::string strategy = get_string(value, at, "strategy");
  if (strategy == "LongestFirst") {
    options.strategy = TruncationStrategy::longest_first;
  } else if (strategy == "OnlyFirst") {
    options.strategy = TruncationStrategy::only_first;
  } else if (strategy == "OnlySecond") {
    options.strategy = TruncationStrategy::only_second;
  } else {
    (at / "strategy").fail("unknown truncation strategy '" + strategy + "'");
  }
  if (const Json* direction = find_optional(value, "direction")) {
    const std::string name = as_string(*direction, at / "direction");
    if (name != "Left" && name != "Right") {
      (at / "direction").fail("unknown truncation direction '" + name + "'");
    }
    options.direction = name == "Left" ? TruncationDirection::left : TruncationDirection::right;
  }
  return options;
}

PaddingOptions parse_padding(const Json& value, const JsonPath& at) {
  require_object(value, at);
  PaddingOptions options;
  const Json& strategy = require(value, at, "strategy");
  if (strategy.is_string() && strategy.get<std::string>() == "BatchLongest") {
    options.strategy = PaddingStrategy::batch_longest;
  } else if (strategy.is_object() && strategy.size() == 1 && strategy.contains("Fixed")) {
    options.strategy = PaddingStrategy::fixed;
    options.fixed_length = as_uint(strategy["Fixed"], at / "strategy" / "Fixed", UINT64_MAX);
  } else {
    (at / "strategy").fail("expected \"BatchLongest\" or {\"Fixed\": length}");
  }
  const std::string direction = get_string(value, at, "direction");
  if (direction != "Left" && direction != "Right") {
    (at / "direction").fail("unknown padding direction '" + direction + "'");
  }
  options.direction = direction == "Left" ? PaddingDirection::left : PaddingDirection::right;
  if (const Json* multiple = find_optional(value, "pad_to_multiple_of")) {
    options.pad_to_multiple_of = as_uint(*multiple, at / "pad_to_multiple_of", UINT64_MAX);
  }
  options.pad_id = static_cast<int32_t>(get_uint(value, at, "pad_id", INT32_MAX));
  options.pad_type_id = static_cast<int32_t>(get_uint(value, at, "pad_type_id", INT32_MAX));
  options.pad_token = get_string(value, at, "pad_token");
  return options;
}

std::vector<AddedToken> parse_added_tokens(const Json& value, const JsonPath& at) {
  require_array(value, at);
  std::vector<AddedToken> tokens;
  for (size_t i = 0; i < value.size(); ++i) {
    const JsonPath t_at = at[i];
    const Json& t = require_object(value[i], t_at);
    AddedToken token;
    get_uint(t, t_at, "id", INT32_MAX);  // checked, but HF derives the id (see add_tokens)
    token.content = get_string(t, t_at, "content");
    const auto flag = [&](std::string_view key, bool fallback) {
      const Json* v = find_optional(t, key);
      return v != nullptr ? as_bool(*v, t_at / key) : fallback;
    };
    token.special = flag("special", false);
    token.single_word = flag("single_word", false);
    token.lstrip = flag("lstrip", false);
    token.rstrip = flag("rstrip", false);
    token.normalized = flag("normalized", !token.special);
    tokens.push_back(std::move(token));
  }
  return tokens;
}

// Byte offsets of the original text to code point offsets, as HF BytesToCharOffsetConverter.
class CharOffsets {
 public:
  explicit CharOffsets(std::string_view text) : size_(text.size()) {
    if (count_code_points(text) == text.size()) return;  // ASCII: bytes are characters
    char_of_byte_.resize(text.size());
    size_t i = 0;
    uint32_t index = 0;
    while (i < text.size()) {
      const size_t start = i;
      next_code_point(text, i);
      std::fill(char_of_byte_.begin() + static_cast<ptrdiff_t>(start),
                char_of_byte_.begin() + static_cast<ptrdiff_t>(i), index++);
    }
  }

  std::pair<int64_t, int64_t> convert(size_t start, size_t end) const {
    const auto at = [&](size_t byte) -> std::optional<int64_t> {
      if (byte >= size_) return std::nullopt;
      return char_of_byte_.empty() ? static_cast<int64_t>(byte) : char_of_byte_[byte];
    };
    const auto s = at(start);
    if (!s) return {static_cast<int64_t>(start), static_cast<int64_t>(end)};
    if (const auto e = at(end)) return {*s, *e};
    const auto last = end >= 1 ? at(end - 1) : std::nullopt;
    return {*s, (last ? *last : *s + 1) + 1};
  }

 private:
  size_t size_;
  std::vector<uint32_t> char_of_byte_;
};

void check_utf8(std::string_view text) {
  if (const auto bad = find_invalid_utf8(text)) {
    throw Error(ErrorCode::input_invalid,
                "input text is not valid UTF-8 (byte " + std::to_string(*bad) + ")");
  }
}

// Encodes one sequence without special tokens: added tokens, normalizer, pre-tokenizer, model.
Encoding encode_sequence(const Pipeline& p, std::string_view text, int32_t type_id) {
  check_utf8(text);
  PreTokenizedString pre(text);
  p.added.extract_and_normalize(p.normalizer.get(), pre);
  if (p.pre_tokenizer) p.pre_tokenizer->pre_tokenize(pre);
  std::vector<Token> scratch;
  for (Split& split : pre.splits()) {
    if (split.tokens) continue;
    scratch.clear();
    p.model->tokenize(split.normalized.get(), scratch);
    split.tokens = std::move(scratch);
    scratch = {};
  }
  Encoding e;
  const CharOffsets chars(text);
  for (Split& split : pre.splits()) {
    const size_t shift = split.normalized.offsets_original().first;
    for (Token& token : *split.tokens) {
      auto [start, end] = token.offsets;
      if (auto r = split.normalized.normalized_to_original(start, end)) {
        start = shift + r->first;
        end = shift + r->second;
      }
      e.ids.push_back(token.id);
      e.tokens.push_back(std::move(token.value));
      e.offsets.push_back(chars.convert(start, end));
    }
  }
  e.type_ids.assign(e.ids.size(), type_id);
  e.special_tokens_mask.assign(e.ids.size(), 0);
  e.attention_mask.assign(e.ids.size(), 1);
  return e;
}

std::shared_ptr<const Pipeline> build_pipeline(const Json& root, const VocabEntries* vocab,
                                               const JsonPath& at,
                                               std::optional<TruncationOptions>& truncation,
                                               std::optional<PaddingOptions>& padding) {
  require_object(root, at);
  if (const Json* version = find_optional(root, "version")) {
    if (as_string(*version, at / "version") != "1.0") {
      (at / "version").fail("unknown tokenizer version '" + version->get<std::string>() + "'");
    }
  }
  auto p = std::make_shared<Pipeline>();
  if (const Json* v = find_optional(root, "normalizer"))
    p->normalizer = parse_normalizer(*v, at / "normalizer");
  if (const Json* v = find_optional(root, "pre_tokenizer")) {
    p->pre_tokenizer = parse_pre_tokenizer(*v, at / "pre_tokenizer");
  }
  if (const Json* v = find_optional(root, "post_processor")) {
    p->post_processor = parse_post_processor(*v, at / "post_processor");
  }
  if (const Json* v = find_optional(root, "decoder")) {
    p->decoder = parse_decoder(*v, at / "decoder");
  }
  const Json* model = find_optional(root, "model");
  if (model == nullptr) (at / "model").fail("missing field");
  p->model = parse_model(*model, vocab, at / "model");
  if (const Json* v = find_optional(root, "truncation"))
    truncation = parse_truncation(*v, at / "truncation");
  if (const Json* v = find_optional(root, "padding")) padding = parse_padding(*v, at / "padding");
  if (const Json* v = find_optional(root, "added_tokens")) {
    p->added.add_tokens(parse_added_tokens(*v, at / "added_tokens"), *p->model,
                        p->normalizer.get());
  }
  return p;
}

}  // namespace
}  // namespace tok

Tokenizer::Tokenizer(std::shared_ptr<const tok::Pipeline> pipeline)
    : pipeline_(std::move(pipeline)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::Tokenizer(const Tokenizer&) = default;
Tokenizer& Tokenizer::operator=(const Tokenizer&) = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_json(std::string_view json_text, std::string_view source_name) {
  const tok::TokenizerDocument doc = tok::read_tokenizer_json(json_text, source_name);
  std::optional<TruncationOptions> truncation;
  std::optional<PaddingOptions> padding;
  auto pipeline = tok::build_pipeline(doc.root, doc.vocab ? &*doc.vocab : nullptr,
                                      tok::JsonPath(source_name, ""), truncation, padding);
  Tokenizer tokenizer(std::move(pipeline));
  tokenizer.truncation_ = truncation;
  tokenizer.padding_ = std::move(padding);
  return tokenizer;
}

Tokenizer Tokenizer::from_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw Error(ErrorCode::not_found, path.string() + ": no such tokenizer file");
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (!in || !(text << in.rdbuf())) {
    throw Error(ErrorCode::io_error, path.string() + ": cannot read the tokenizer file");
  }
  return from_json(text.str(), path.string());
}

Encoding Tokenizer::post_process(Encoding first, std::optional<Encoding> second,
                                 bool add_special_tokens) const {
  if (truncation_) {
    TruncationOptions options = *truncation_;
    const size_t added = pipeline_->added_special_tokens(second.has_value());
    if (add_special_tokens && added > 0) {
      // HF subtracts in unsigned arithmetic: a max_length below the special tokens wraps around
      // and disables truncation.
      options.max_length = options.max_length >= added ? options.max_length - added : SIZE_MAX;
    }
    tok::truncate_encodings(first, second, options);
  }
  Encoding result = tok::post_process(pipeline_->post_processor.get(), std::move(first),
                                      std::move(second), add_special_tokens);
  if (padding_) tok::pad_encodings(std::span<Encoding>(&result, 1), *padding_);
  return result;
}

Encoding Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  return post_process(tok::encode_sequence(*pipeline_, text, 0), std::nullopt, add_special_tokens);
}

Encoding Tokenizer::encode_pair(std::string_view first, std::string_view second,
                                bool add_special_tokens) const {
  Encoding a = tok::encode_sequence(*pipeline_, first, 0);
  Encoding b = tok::encode_sequence(*pipeline_, second, 1);
  return post_process(std::move(a), std::move(b), add_special_tokens);
}

std::vector<Encoding> Tokenizer::encode_batch(const std::vector<std::string>& texts,
                                              bool add_special_tokens) const {
  std::vector<Encoding> encodings;
  encodings.reserve(texts.size());
  for (const std::string& text : texts) encodings.push_back(encode(text, add_special_tokens));
  if (padding_) tok::pad_encodings(encodings, *padding_);
  return encodings;
}

void Tokenizer::set_truncation(std::optional<TruncationOptions> options) {
  if (options) {
    const size_t added = pipeline_->added_special_tokens(false);
    // As HF with_truncation (unsigned arithmetic included).
    const size_t effective = options->max_length - added;
    if (effective < options->stride) {
      throw Error(ErrorCode::invalid_argument,
                  "truncation: stride " + std::to_string(options->stride) +
                      " is not less than the effective max length " + std::to_string(effective) +
                      " (max_length " + std::to_string(options->max_length) + " minus " +
                      std::to_string(added) + " special tokens)");
    }
  }
  truncation_ = options;
}

void Tokenizer::set_padding(std::optional<PaddingOptions> options) {
  padding_ = std::move(options);
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const int32_t id : ids) {
    auto token = pipeline_->added.id_to_token(id);
    if (!token) token = pipeline_->model->id_to_token(id);
    if (!token || (skip_special_tokens && pipeline_->added.is_special(*token))) continue;
    tokens.push_back(std::move(*token));
  }
  return tok::decode_tokens(pipeline_->decoder.get(), std::move(tokens));
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (auto id = pipeline_->added.token_to_id(token)) return id;
  return pipeline_->model->token_to_id(token);
}

std::string Tokenizer::id_to_token(int32_t id) const {
  if (auto token = pipeline_->added.id_to_token(id)) return *token;
  if (auto token = pipeline_->model->id_to_token(id)) return *token;
  throw Error(ErrorCode::invalid_argument,
              "token id " + std::to_string(id) + " is not in the vocabulary");
}

size_t Tokenizer::vocab_size() const {
  return pipeline_->model->vocab_size() + pipeline_->added.count_not_in(*pipeline_->model);
}

size_t Tokenizer::num_special_tokens_to_add(bool is_pair) const {
  return pipeline_->added_special_tokens(is_pair);
}

}  // namespace hades
