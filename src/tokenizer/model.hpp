// The model step of a tokenizer.json pipeline ("model": {"type": ...}): pre-tokenized words to
// tokens: WordPiece (wordpiece.cpp), BPE (bpe.cpp) and Unigram (unigram.cpp).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/json_util.hpp"
#include "tokenizer/pre_tokenizers.hpp"

namespace hades::tok {

class Model {
 public:
  virtual ~Model() = default;
  // Appends the tokens of one pre-tokenized word; offsets are bytes of `word`.
  virtual void tokenize(std::string_view word, std::vector<Token>& out) const = 0;
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  virtual std::optional<std::string> id_to_token(int32_t id) const = 0;
  virtual size_t vocab_size() const = 0;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

using Vocab = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

// A model's "vocab" object as json_reader.hpp sets it aside: its entries in file order.
using VocabEntries = std::vector<std::pair<std::string, Json>>;

// "vocab": token → id, from ENTRIES when the reader set the object aside, else from VALUE.
Vocab parse_vocab(const Json& value, const VocabEntries* entries, const JsonPath& at);

// The ids of the byte tokens "<0x00>" .. "<0xFF>" (byte_fallback), -1 where one is missing.
std::array<int32_t, 256> byte_token_ids(const Vocab& vocab);

// VOCAB: the model's vocabulary when the reader set it aside (may be null).
std::unique_ptr<Model> parse_model(const Json& value, const VocabEntries* vocab,
                                   const JsonPath& at);

}  // namespace hades::tok
