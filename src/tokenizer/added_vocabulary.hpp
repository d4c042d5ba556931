// Added tokens ("added_tokens" of tokenizer.json): found in the text before the model runs, as in
// Hugging Face tokenizers/src/tokenizer/added_vocabulary.rs. Tokens with normalized=false are
// matched on the raw text first; the remaining pieces are then normalized and searched for the
// tokens with normalized=true (in their normalized form).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "tokenizer/model.hpp"
#include "tokenizer/normalizers.hpp"
#include "tokenizer/pre_tokenizers.hpp"

namespace hades::tok {

struct AddedToken {
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
  bool operator==(const AddedToken&) const = default;
};

class AddedVocabulary {
 public:
  // HF AddedVocabulary::add_tokens: the id is the existing one of the content (added or model
  // vocabulary), else the next free id after the model's vocabulary.
  void add_tokens(const std::vector<AddedToken>& tokens, const Model& model,
                  const Normalizer* normalizer);

  std::optional<int32_t> token_to_id(std::string_view content) const;
  // The token's text (normalized form for normalized tokens), as HF simple_id_to_token.
  std::optional<std::string> id_to_token(int32_t id) const;
  // Whether `content` is the content of a special added token (HF is_special_token).
  bool is_special(std::string_view content) const {
    const auto it = by_content_.find(std::string(content));
    return it != by_content_.end() && by_id_.at(it->second).special;
  }
  size_t size() const { return by_content_.size(); }
  // How many added contents are not also in the model's vocabulary.
  size_t count_not_in(const Model& model) const;

  // Splits `text` around added tokens and normalizes the other pieces.
  void extract_and_normalize(const Normalizer* normalizer, PreTokenizedString& text) const;

 private:
  // Leftmost-longest search over a small set of patterns.
  class Matcher {
   public:
    void build(std::vector<std::pair<std::string, int32_t>> patterns);
    bool empty() const { return patterns_.empty(); }
    // The leftmost-longest match starting at or after `from`: {start, end, id}.
    std::optional<std::tuple<size_t, size_t, int32_t>> find(std::string_view text,
                                                            size_t from) const;

   private:
    std::vector<std::pair<std::string, int32_t>> patterns_;
    std::array<std::vector<uint32_t>, 256> by_first_byte_;  // longest first
  };

  std::vector<PatternMatch> find_matches(std::string_view text, const Matcher& matcher,
                                         std::vector<int32_t>& ids) const;
  std::vector<Split> split_with_indices(NormalizedString&& text, const Matcher& matcher) const;
  void refresh();

  std::unordered_map<std::string, int32_t> by_content_;
  std::unordered_map<int32_t, AddedToken> by_id_;
  std::unordered_map<int32_t, std::string> normalized_cache_;
  Matcher raw_matcher_;
  Matcher normalized_matcher_;
};

}  // namespace hades::tok
