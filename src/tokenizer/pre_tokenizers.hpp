// Pre-tokenizers of tokenizer.json ("pre_tokenizer": {"type": ...}) and the PreTokenizedString
// they work on, as in Hugging Face tokenizers/src/pre_tokenizers/ and tokenizer/pre_tokenizer.rs.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/json_util.hpp"
#include "tokenizer/normalized_string.hpp"

namespace hades::tok {

// A token produced by a model or the added vocabulary; offsets are bytes of its split's
// normalized text.
struct Token {
  int32_t id;
  std::string value;
  ByteRange offsets;
};

// One piece of the input: its normalized text and, once tokenized (or matched as an added
// token), its tokens.
struct Split {
  NormalizedString normalized;
  std::optional<std::vector<Token>> tokens;
};

class PreTokenizedString {
 public:
  explicit PreTokenizedString(std::string_view original) {
    splits_.push_back({NormalizedString(original), std::nullopt});
  }

  // Replaces every split that has no tokens yet by what `fn(NormalizedString&&)` returns (a
  // vector of Split or of NormalizedString); empty pieces are dropped, as in HF.
  template <typename Fn>
  void split(Fn fn) {
    std::vector<Split> result;
    result.reserve(splits_.size());
    for (Split& current : splits_) {
      if (current.tokens) {
        result.push_back(std::move(current));
        continue;
      }
      for (auto& piece : fn(std::move(current.normalized))) {
        if constexpr (std::is_same_v<std::decay_t<decltype(piece)>, Split>) {
          if (!piece.normalized.empty()) result.push_back(std::move(piece));
        } else {
          if (!piece.empty()) result.push_back({std::move(piece), std::nullopt});
        }
      }
    }
    splits_ = std::move(result);
  }

  std::vector<Split>& splits() { return splits_; }
  const std::vector<Split>& splits() const { return splits_; }

 private:
  std::vector<Split> splits_;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void pre_tokenize(PreTokenizedString& text) const = 0;
};

std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const Json& value, const JsonPath& at);

// "Removed", "Isolated", ... (HF SplitDelimiterBehavior), as Split and Punctuation spell it.
SplitBehavior parse_split_behavior(const Json& value, const JsonPath& at);

}  // namespace hades::tok
