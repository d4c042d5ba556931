#include "tokenizer/added_vocabulary.hpp"

#include <algorithm>

namespace hades::tok {

void AddedVocabulary::Matcher::build(std::vector<std::pair<std::string, int32_t>> patterns) {
  patterns_ = std::move(patterns);
  for (auto& list : by_first_byte_) list.clear();
  for (uint32_t k = 0; k < patterns_.size(); ++k) {
    by_first_byte_[static_cast<unsigned char>(patterns_[k].first[0])].push_back(k);
  }
  for (auto& list : by_first_byte_) {
    std::stable_sort(list.begin(), list.end(), [this](uint32_t a, uint32_t b) {
      return patterns_[a].first.size() > patterns_[b].first.size();
    });
  }
}

std::optional<std::tuple<size_t, size_t, int32_t>> AddedVocabulary::Matcher::find(
    std::string_view text, size_t from) const {
  for (size_t i = from; i < text.size(); ++i) {
    for (uint32_t k : by_first_byte_[static_cast<unsigned char>(text[i])]) {
      const std::string& pattern = patterns_[k].first;
      if (text.compare(i, pattern.size(), pattern) == 0) {
        return std::tuple{i, i + pattern.size(), patterns_[k].second};
      }
    }
  }
  return std::nullopt;
}

void AddedVocabulary::add_tokens(const std::vector<AddedToken>& tokens, const Model& model,
                                 const Normalizer* normalizer) {
  const auto model_size = static_cast<int32_t>(model.vocab_size());
  int32_t next_id = model_size;
  if (!by_id_.empty()) {
    int32_t max_id = 0;
    for (const auto& entry : by_id_) max_id = std::max(max_id, entry.first);
    next_id = (max_id >= model_size || model_size == 0) ? max_id + 1 : model_size;
  }
  for (const AddedToken& token : tokens) {
    if (token.content.empty()) continue;
    if (const auto known = by_content_.find(token.content); known != by_content_.end()) {
      const auto same = by_id_.find(known->second);
      if (same != by_id_.end() && same->second == token) continue;
    }
    int32_t id = 0;
    if (auto existing = token_to_id(token.content)) {
      id = *existing;
    } else if (auto in_model = model.token_to_id(token.content)) {
      id = *in_model;
    } else {
      id = next_id++;
    }
    if (token.normalized && normalizer != nullptr) {
      NormalizedString text(token.content);
      normalizer->normalize(text);
      if (text.get() != token.content) normalized_cache_[id] = text.get();
    }
    by_content_[token.content] = id;
    by_id_[id] = token;
  }
  refresh();
}

void AddedVocabulary::refresh() {
  std::vector<std::pair<std::string, int32_t>> raw;
  std::vector<std::pair<std::string, int32_t>> normalized;
  for (const auto& [id, token] : by_id_) {
    if (token.normalized) {
      const auto cached = normalized_cache_.find(id);
      normalized.emplace_back(cached != normalized_cache_.end() ? cached->second : token.content,
                              id);
    } else {
      raw.emplace_back(token.content, id);
    }
  }
  // An empty normalized form can never match.
  std::erase_if(normalized, [](const auto& p) { return p.first.empty(); });
  raw_matcher_.build(std::move(raw));
  normalized_matcher_.build(std::move(normalized));
}

std::optional<int32_t> AddedVocabulary::token_to_id(std::string_view content) const {
  const auto it = by_content_.find(std::string(content));
  if (it == by_content_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> AddedVocabulary::id_to_token(int32_t id) const {
  const auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  const auto cached = normalized_cache_.find(id);
  return cached != normalized_cache_.end() ? cached->second : it->second.content;
}

size_t AddedVocabulary::count_not_in(const Model& model) const {
  size_t count = 0;
  for (const auto& entry : by_content_) count += !model.token_to_id(entry.first).has_value();
  return count;
}

namespace {

bool ends_with_word(std::string_view text) {
  if (text.empty()) return false;
  size_t start = 0;
  return is_word_char(prev_code_point(text, text.size(), start));
}

bool starts_with_word(std::string_view text) {
  if (text.empty()) return false;
  size_t i = 0;
  return is_word_char(next_code_point(text, i));
}

// Start of the run of whitespace that ends `text`.
size_t trailing_space_start(std::string_view text) {
  size_t end = text.size();
  while (end > 0) {
    size_t start = 0;
    if (!is_whitespace(prev_code_point(text, end, start))) break;
    end = start;
  }
  return end;
}

// Length of the run of whitespace that starts `text`.
size_t leading_space_end(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    size_t next = i;
    if (!is_whitespace(next_code_point(text, next))) break;
    i = next;
  }
  return i;
}

}  // namespace

// HF AddedVocabulary::find_matches: is_match ranges carry an id in `ids` (in order).
std::vector<PatternMatch> AddedVocabulary::find_matches(std::string_view text,
                                                        const Matcher& matcher,
                                                        std::vector<int32_t>& ids) const {
  std::vector<PatternMatch> splits;
  if (text.empty()) {
    splits.push_back({0, 0, false});
    return splits;
  }
  size_t start_offset = 0;
  size_t search_from = 0;
  while (auto found = matcher.find(text, search_from)) {
    auto [start, stop, id] = *found;
    search_from = stop;
    const AddedToken& token = by_id_.at(id);
    if (token.single_word) {
      const bool start_space = start == 0 || !ends_with_word(text.substr(0, start));
      const bool stop_space = stop == text.size() || !starts_with_word(text.substr(stop));
      if (!start_space || !stop_space) continue;
    }
    if (token.lstrip) start = std::max(trailing_space_start(text.substr(0, start)), start_offset);
    if (token.rstrip) stop += leading_space_end(text.substr(stop));
    if (start_offset < start) splits.push_back({start_offset, start, false});
    splits.push_back({start, stop, true});
    ids.push_back(id);
    start_offset = stop;
  }
  if (start_offset != text.size()) splits.push_back({start_offset, text.size(), false});
  return splits;
}

std::vector<Split> AddedVocabulary::split_with_indices(NormalizedString&& text,
                                                       const Matcher& matcher) const {
  std::vector<Split> pieces;
  if (matcher.empty()) {
    pieces.push_back({text.slice(0, text.get().size()), std::nullopt});
    return pieces;
  }
  std::vector<int32_t> ids;
  const auto matches = find_matches(text.get(), matcher, ids);
  size_t next_id = 0;
  for (const auto& m : matches) {
    NormalizedString piece = text.slice(m.start, m.end);
    if (m.is_match) {
      std::string value = piece.get();
      const size_t len = value.size();
      std::vector<Token> tokens{Token{ids[next_id++], std::move(value), {0, len}}};
      pieces.push_back({std::move(piece), std::move(tokens)});
    } else {
      pieces.push_back({std::move(piece), std::nullopt});
    }
  }
  return pieces;
}

void AddedVocabulary::extract_and_normalize(const Normalizer* normalizer,
                                            PreTokenizedString& text) const {
  text.split(
      [this](NormalizedString&& s) { return split_with_indices(std::move(s), raw_matcher_); });
  text.split([this, normalizer](NormalizedString&& s) {
    if (normalizer != nullptr) normalizer->normalize(s);
    return split_with_indices(std::move(s), normalized_matcher_);
  });
}

}  // namespace hades::tok
