// WordPiece, as in Hugging Face tokenizers/src/models/wordpiece/mod.rs: greedy longest match from
// the start of the word, continuation pieces carry the prefix ("##"), and a word that cannot be
// covered, or is longer than max_input_chars_per_word characters, becomes the unknown token.
#include <algorithm>
#include <cstdio>
#include <unordered_map>

#include "tokenizer/bpe_components.hpp"
#include "tokenizer/model.hpp"
#include "tokenizer/sentencepiece.hpp"

namespace hades::tok {
namespace {

class WordPiece final : public Model {
 public:
  WordPiece(Vocab vocab, std::string unk_token, std::string prefix, size_t max_input_chars)
      : vocab_(std::move(vocab)),
        unk_token_(std::move(unk_token)),
        prefix_(std::move(prefix)),
        max_input_chars_(max_input_chars) {
    for (const auto& [token, id] : vocab_) {
      by_id_.try_emplace(id, token);
      max_word_bytes_ = std::max(max_word_bytes_, token.size());
      // Continuation pieces are looked up without their prefix: no string building per probe.
      if (token.size() >= prefix_.size() && token.compare(0, prefix_.size(), prefix_) == 0) {
        std::string rest = token.substr(prefix_.size());
        max_continuation_bytes_ = std::max(max_continuation_bytes_, rest.size());
        continuation_.emplace(std::move(rest), id);
      }
    }
  }

  void tokenize(std::string_view word, std::vector<Token>& out) const override {
    if (count_code_points(word) > max_input_chars_) {
      out.push_back(unknown(word.size()));
      return;
    }
    const size_t first = out.size();
    size_t start = 0;
    while (start < word.size()) {
      const Vocab& table = start == 0 ? vocab_ : continuation_;
      const size_t longest = start == 0 ? max_word_bytes_ : max_continuation_bytes_;
      size_t end = word.size();
      // Pieces longer than any vocabulary entry cannot match; step back on character bounds.
      while (end > start && end - start > longest) end = char_start_before(word, end);
      std::optional<int32_t> id;
      while (start < end) {
        const auto it = table.find(word.substr(start, end - start));
        if (it != table.end()) {
          id = it->second;
          break;
        }
        end = char_start_before(word, end);
      }
      if (!id) {
        out.resize(first);
        out.push_back(unknown(word.size()));
        return;
      }
      std::string value = start == 0 ? std::string() : prefix_;
      value.append(word.substr(start, end - start));
      out.push_back({*id, std::move(value), {start, end}});
      start = end;
    }
  }

  std::optional<int32_t> token_to_id(std::string_view token) const override {
    const auto it = vocab_.find(token);
    if (it == vocab_.end()) return std::nullopt;
    return it->second;
  }

  std::optional<std::string> id_to_token(int32_t id) const override {
    const auto it = by_id_.find(id);
    if (it == by_id_.end()) return std::nullopt;
    return it->second;
  }

  size_t vocab_size() const override { return vocab_.size(); }

 private:
  static size_t char_start_before(std::string_view text, size_t end) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0u) == 0x80u) --start;
    return start;
  }

  Token unknown(size_t word_bytes) const {
    const auto it = vocab_.find(unk_token_);
    if (it == vocab_.end()) {
      throw Error(ErrorCode::invalid_model, "WordPiece: the unknown token '" + unk_token_ +
                                                "' is missing from the vocabulary");
    }
    return {it->second, unk_token_, {0, word_bytes}};
  }

  Vocab vocab_;
  Vocab continuation_;
  std::unordered_map<int32_t, std::string> by_id_;
  std::string unk_token_;
  std::string prefix_;
  size_t max_input_chars_;
  size_t max_word_bytes_ = 0;
  size_t max_continuation_bytes_ = 0;
};

// The id of one vocabulary entry; the entry's path is built only for an error.
int32_t vocab_id(const std::string& token, const Json& id, const JsonPath& at) {
  if (id.is_number_unsigned() && id.get<uint64_t>() <= INT32_MAX) {
    return static_cast<int32_t>(id.get<uint64_t>());
  }
  return static_cast<int32_t>(as_uint(id, at / token, INT32_MAX));
}

}  // namespace

Vocab parse_vocab(const Json& value, const VocabEntries* entries, const JsonPath& at) {
  Vocab vocab;
  if (entries != nullptr) {
    vocab.reserve(entries->size());
    for (const auto& [token, id] : *entries) vocab.insert_or_assign(token, vocab_id(token, id, at));
    return vocab;
  }
  if (!value.is_object()) at.fail(std::string("expected an object, found ") + value.type_name());
  vocab.reserve(value.size());
  for (const auto& [token, id] : value.items()) vocab[token] = vocab_id(token, id, at);
  return vocab;
}

std::array<int32_t, 256> byte_token_ids(const Vocab& vocab) {
  std::array<int32_t, 256> ids{};
  for (unsigned b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    const auto it = vocab.find(std::string_view(name));
    ids[b] = it == vocab.end() ? -1 : it->second;
  }
  return ids;
}

std::unique_ptr<Model> parse_model(const Json& value, const VocabEntries* vocab_entries,
                                   const JsonPath& at) {
  require_object(value, at);
  // "type" is optional in old files (HF accepts a WordPiece without it).
  std::string type = "WordPiece";
  if (value.contains("type")) type = get_string(value, at, "type");
  if (type == "BPE") return parse_bpe(value, vocab_entries, at);
  if (type == "Unigram") return parse_unigram(value, at);
  if (type == "WordLevel") {
    (at / "type").fail("model '" + type + "' is not supported yet", ErrorCode::unsupported);
  }
  if (type != "WordPiece") (at / "type").fail("unknown model '" + type + "'");
  Vocab vocab = parse_vocab(require(value, at, "vocab"), vocab_entries, at / "vocab");
  return std::make_unique<WordPiece>(
      std::move(vocab), get_string(value, at, "unk_token"),
      get_string(value, at, "continuing_subword_prefix"),
      static_cast<size_t>(get_uint(value, at, "max_input_chars_per_word", UINT64_MAX)));
}

}  // namespace hades::tok
