// The model step of a tokenizer.json pipeline ("model": {"type": ...}): pre-tokenized words to
// tokens: WordPiece (wordpiece.cpp) and BPE (bpe.cpp); Unigram would slot in behind the same
// interface.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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

std::unique_ptr<Model> parse_model(const Json& value, const JsonPath& at);

}  // namespace hades::tok
