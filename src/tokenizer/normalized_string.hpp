// NormalizedString: a piece of the input text as normalizers change it, with, for every byte of
// the normalized text, the range of original bytes it came from.
//
// This mirrors `NormalizedString` of Hugging Face tokenizers (tokenizers/src/tokenizer/
// normalizer.rs) operation for operation, including its quirks, because the offsets that
// `tokenizers` reports are defined by exactly these rules: an inserted character takes the
// alignment of the byte before it, a replaced one the alignment of the byte it replaces.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/unicode.hpp"

namespace hades::tok {

// A byte range of the original text, relative to the start of the NormalizedString's original.
struct Alignment {
  uint32_t start = 0;
  uint32_t end = 0;
  bool operator==(const Alignment&) const = default;
};

// One character of a transformation's output and how it relates to the input (HF semantics):
// 0 replaces the next input character, 1 is inserted, -N replaces the next character and drops
// the N after it.
struct CharChange {
  char32_t c;
  int32_t change;
};

// What to do with the matched delimiters when splitting (HF SplitDelimiterBehavior).
enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

// A byte range of the normalized text and whether the pattern matched it.
struct PatternMatch {
  size_t start;
  size_t end;
  bool is_match;
};

enum class NormalizationForm { nfd, nfkd, nfc, nfkc };

using ByteRange = std::pair<size_t, size_t>;

class NormalizedString {
 public:
  NormalizedString() = default;
  explicit NormalizedString(std::string_view original);

  const std::string& get() const { return normalized_; }
  bool empty() const { return normalized_.empty(); }
  // The original bytes this piece covers, as a range of the whole input text.
  ByteRange offsets_original() const { return {original_shift_, original_shift_ + original_len_}; }

  // A range of normalized bytes as a range of this piece's original bytes (HF convert_offsets
  // with Range::Normalized); nullopt where HF returns None.
  std::optional<ByteRange> normalized_to_original(size_t start, size_t end) const;

  // Applies `dest` over normalized bytes [start, end); `initial_offset` input characters at the
  // start of the range are dropped without output.
  void transform_range(ByteRange range, std::span<const CharChange> dest, size_t initial_offset);
  // Applies `dest` over the whole string (HF transform, i.e. Range::Original(..)).
  void transform(std::span<const CharChange> dest, size_t initial_offset);

  template <typename Keep>
  void filter(Keep keep);
  template <typename Map>
  void map(Map fn);

  void normalize(NormalizationForm form);
  void lowercase();
  // Replaces every non-overlapping occurrence of `pattern` (a plain, non-empty string).
  void replace(std::string_view pattern, std::string_view content);
  void strip(bool left, bool right);
  void prepend(std::string_view prefix);

  // The piece of normalized bytes [start, end), which must fall on character boundaries.
  NormalizedString slice(size_t start, size_t end) const;
  // Splits on `matches` (which cover the whole string in order) as HF NormalizedString::split.
  std::vector<NormalizedString> split(std::span<const PatternMatch> matches,
                                      SplitBehavior behavior) const;
  template <typename Pred>
  std::vector<NormalizedString> split_on(Pred is_delimiter, SplitBehavior behavior) const;

 private:
  std::optional<ByteRange> original_to_normalized(size_t start, size_t end) const;
  bool is_identity(std::span<const CharChange> dest) const;

  std::string normalized_;
  std::vector<Alignment> alignments_;  // one per byte of normalized_
  size_t original_shift_ = 0;
  size_t original_len_ = 0;
};

// Matches of a per-character predicate: every matching character alone, the runs between them
// as non-matches (HF's `impl Pattern for Fn(char) -> bool`).
template <typename Pred>
std::vector<PatternMatch> find_char_matches(std::string_view text, Pred pred) {
  std::vector<PatternMatch> matches;
  if (text.empty()) {
    matches.push_back({0, 0, false});
    return matches;
  }
  size_t last_offset = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t b = i;
    const char32_t c = next_code_point(text, i);
    if (pred(c)) {
      if (last_offset < b) matches.push_back({last_offset, b, false});
      matches.push_back({b, i, true});
      last_offset = i;
    }
  }
  if (text.size() > last_offset) matches.push_back({last_offset, text.size(), false});
  return matches;
}

template <typename Keep>
void NormalizedString::filter(Keep keep) {
  std::vector<CharChange> changes;
  changes.reserve(normalized_.size());
  int32_t removed = 0;
  size_t removed_start = 0;
  std::optional<char32_t> last;
  size_t i = 0;
  while (i < normalized_.size()) {
    const char32_t c = next_code_point(normalized_, i);
    if (keep(c)) {
      if (last) {
        changes.push_back({*last, -removed});
      } else {
        removed_start = static_cast<size_t>(removed);
      }
      last = c;
      removed = 0;
    } else {
      ++removed;
    }
  }
  if (last) changes.push_back({*last, -removed});
  if (is_identity(changes)) return;
  transform(changes, removed_start);
}

template <typename Map>
void NormalizedString::map(Map fn) {
  std::vector<CharChange> changes;
  changes.reserve(normalized_.size());
  size_t i = 0;
  while (i < normalized_.size()) changes.push_back({fn(next_code_point(normalized_, i)), 0});
  if (is_identity(changes)) return;
  transform(changes, 0);
}

template <typename Pred>
std::vector<NormalizedString> NormalizedString::split_on(Pred is_delimiter,
                                                         SplitBehavior behavior) const {
  const auto matches = find_char_matches(normalized_, is_delimiter);
  return split(matches, behavior);
}

}  // namespace hades::tok
