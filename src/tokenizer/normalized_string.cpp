#include "tokenizer/normalized_string.hpp"

#include <algorithm>

#include "tokenizer/unicode_normalization.hpp"

namespace hades::tok {

NormalizedString::NormalizedString(std::string_view original)
    : normalized_(original), original_len_(original.size()) {
  alignments_.resize(original.size());
  size_t i = 0;
  while (i < original.size()) {
    const size_t start = i;
    next_code_point(original, i);
    const Alignment a{static_cast<uint32_t>(start), static_cast<uint32_t>(i)};
    std::fill(alignments_.begin() + static_cast<ptrdiff_t>(start),
              alignments_.begin() + static_cast<ptrdiff_t>(i), a);
  }
}

std::optional<ByteRange> NormalizedString::normalized_to_original(size_t start, size_t end) const {
  // HF returns an empty target range unchanged, in the normalized referential.
  if (start == end) return ByteRange{start, end};
  if (start > end || end > alignments_.size()) return std::nullopt;
  return ByteRange{alignments_[start].start, alignments_[end - 1].end};
}

std::optional<ByteRange> NormalizedString::original_to_normalized(size_t start, size_t end) const {
  if (start == end) return ByteRange{start, end};
  if (start > end) return std::nullopt;
  if (original_len_ == 0 && start == 0 && end == 0) return ByteRange{0, normalized_.size()};
  std::optional<size_t> first;
  std::optional<size_t> last;
  for (size_t i = 0; i < alignments_.size() && end >= alignments_[i].end; ++i) {
    const Alignment a = alignments_[i];
    if (!first && start <= a.start && a.start != a.end) first = i;
    last = i + 1;
  }
  if (first && last) return ByteRange{*first, *last};
  if (first) return ByteRange{*first, *first};
  if (last) return ByteRange{*last, *last};
  return std::nullopt;
}

bool NormalizedString::is_identity(std::span<const CharChange> dest) const {
  size_t i = 0;
  for (const CharChange& change : dest) {
    if (change.change != 0 || i >= normalized_.size()) return false;
    if (next_code_point(normalized_, i) != change.c) return false;
  }
  return i == normalized_.size();
}

void NormalizedString::transform(std::span<const CharChange> dest, size_t initial_offset) {
  const auto range = original_to_normalized(0, original_len_);
  if (!range) return;
  transform_range(*range, dest, initial_offset);
}

void NormalizedString::transform_range(ByteRange range, std::span<const CharChange> dest,
                                       size_t initial_offset) {
  // Plain variables, not a structured binding: clang before 16 cannot capture bindings in lambdas.
  const size_t n_start = range.first;
  const size_t n_end = range.second;
  // `cursor` walks the replaced characters; `offset` is the byte position in the old string
  // whose alignment the next replacing character takes.
  size_t cursor = n_start;
  const auto skip_chars = [&](size_t count) {
    size_t bytes = 0;
    for (size_t k = 0; k < count && cursor < n_end; ++k) {
      const size_t before = cursor;
      next_code_point(normalized_, cursor);
      bytes += cursor - before;
    }
    return bytes;
  };
  size_t offset = n_start + skip_chars(initial_offset);
  std::string text;
  std::vector<Alignment> alignments;
  text.reserve(n_end - n_start);
  alignments.reserve(n_end - n_start);
  for (const CharChange& change : dest) {
    Alignment align{};
    if (change.change > 0) {
      if (offset >= 1) align = alignments_[std::min(offset, alignments_.size()) - 1];
    } else if (offset < alignments_.size()) {
      align = alignments_[offset];
    }
    if (change.change <= 0) offset += skip_chars(1);
    if (change.change < 0) offset += skip_chars(static_cast<size_t>(-change.change));
    const size_t before = text.size();
    append_utf8(text, change.c);
    alignments.insert(alignments.end(), text.size() - before, align);
  }
  alignments_.erase(alignments_.begin() + static_cast<ptrdiff_t>(n_start),
                    alignments_.begin() + static_cast<ptrdiff_t>(n_end));
  alignments_.insert(alignments_.begin() + static_cast<ptrdiff_t>(n_start), alignments.begin(),
                     alignments.end());
  normalized_.replace(n_start, n_end - n_start, text);
}

void NormalizedString::normalize(NormalizationForm form) {
  std::vector<CharChange> changes;
  normalize_with_changes(normalized_, form, changes);
  if (is_identity(changes)) return;
  transform(changes, 0);
}

void NormalizedString::lowercase() {
  std::vector<CharChange> changes;
  changes.reserve(normalized_.size());
  size_t i = 0;
  char32_t lower[2];
  while (i < normalized_.size()) {
    const int n = to_lowercase(next_code_point(normalized_, i), lower);
    for (int k = 0; k < n; ++k) changes.push_back({lower[k], k > 0 ? 1 : 0});
  }
  if (is_identity(changes)) return;
  transform(changes, 0);
}

void NormalizedString::replace(std::string_view pattern, std::string_view content) {
  if (pattern.empty() || normalized_.empty()) return;
  std::string text;
  std::vector<Alignment> alignments;
  size_t last_end = 0;
  size_t pos = normalized_.find(pattern);
  if (pos == std::string::npos) return;
  while (pos != std::string::npos) {
    const size_t end = pos + pattern.size();
    text.append(normalized_, last_end, pos - last_end);
    alignments.insert(alignments.end(), alignments_.begin() + static_cast<ptrdiff_t>(last_end),
                      alignments_.begin() + static_cast<ptrdiff_t>(pos));
    // Every inserted character takes the alignment of the last byte of the match.
    const Alignment align = alignments_[end - 1];
    size_t i = 0;
    while (i < content.size()) {
      const size_t before = text.size();
      append_utf8(text, next_code_point(content, i));
      alignments.insert(alignments.end(), text.size() - before, align);
    }
    last_end = end;
    pos = normalized_.find(pattern, end);
  }
  text.append(normalized_, last_end);
  alignments.insert(alignments.end(), alignments_.begin() + static_cast<ptrdiff_t>(last_end),
                    alignments_.end());
  normalized_ = std::move(text);
  alignments_ = std::move(alignments);
}

void NormalizedString::strip(bool left, bool right) {
  std::vector<char32_t> chars;
  size_t i = 0;
  while (i < normalized_.size()) chars.push_back(next_code_point(normalized_, i));
  const size_t count = chars.size();
  size_t leading = 0;
  if (left) {
    while (leading < count && is_whitespace(chars[leading])) ++leading;
  }
  size_t trailing = 0;
  if (right) {
    while (trailing < count && is_whitespace(chars[count - 1 - trailing])) ++trailing;
  }
  if (leading == 0 && trailing == 0) return;
  // HF compares the character index with the *byte* length here; for text with multi-byte
  // characters the negative change is never emitted, which does not change the result.
  const auto last_kept =
      static_cast<int64_t>(normalized_.size()) - static_cast<int64_t>(trailing) - 1;
  std::vector<CharChange> changes;
  for (size_t k = 0; k < count; ++k) {
    if (k < leading || k >= count - trailing) continue;
    const bool is_last = static_cast<int64_t>(k) == last_kept;
    changes.push_back({chars[k], is_last ? -static_cast<int32_t>(trailing) : 0});
  }
  transform(changes, leading);
}

void NormalizedString::prepend(std::string_view prefix) {
  if (normalized_.empty() || prefix.empty()) return;
  size_t first_end = 0;
  const char32_t first = next_code_point(normalized_, first_end);
  std::vector<CharChange> changes;
  size_t i = 0;
  while (i < prefix.size()) {
    changes.push_back({next_code_point(prefix, i), changes.empty() ? 0 : 1});
  }
  changes.push_back({first, 1});
  transform_range({0, first_end}, changes, 0);
}

NormalizedString NormalizedString::slice(size_t start, size_t end) const {
  NormalizedString piece;
  const ByteRange original = normalized_to_original(start, end).value_or(ByteRange{0, 0});
  piece.normalized_ = normalized_.substr(start, end - start);
  piece.alignments_.reserve(end - start);
  const auto shift = static_cast<uint32_t>(original.first);
  for (size_t k = start; k < end; ++k) {
    piece.alignments_.push_back({alignments_[k].start - shift, alignments_[k].end - shift});
  }
  piece.original_shift_ = original_shift_ + original.first;
  piece.original_len_ = original.second <= original_len_ && original.first <= original.second
                            ? original.second - original.first
                            : 0;
  return piece;
}

namespace {

// Turns pattern matches into the ranges to keep, per HF NormalizedString::split.
std::vector<PatternMatch> apply_behavior(std::span<const PatternMatch> matches,
                                         SplitBehavior behavior) {
  std::vector<PatternMatch> out;
  out.reserve(matches.size());
  switch (behavior) {
    case SplitBehavior::isolated:
      for (const auto& m : matches) out.push_back({m.start, m.end, false});
      break;
    case SplitBehavior::removed: out.assign(matches.begin(), matches.end()); break;
    case SplitBehavior::contiguous: {
      bool previous = false;
      for (const auto& m : matches) {
        if (m.is_match == previous && !out.empty()) {
          out.back().end = m.end;
        } else {
          out.push_back({m.start, m.end, false});
        }
        previous = m.is_match;
      }
      break;
    }
    case SplitBehavior::merged_with_previous: {
      bool previous = false;
      for (const auto& m : matches) {
        if (m.is_match && !previous && !out.empty()) {
          out.back().end = m.end;
        } else {
          out.push_back({m.start, m.end, false});
        }
        previous = m.is_match;
      }
      break;
    }
    case SplitBehavior::merged_with_next: {
      bool previous = false;
      // Not std::views::reverse: clang 14 (the fuzz build, clang-tidy) cannot parse it in
      // libstdc++ 12.
      // NOLINTNEXTLINE(modernize-loop-convert)
      for (auto it = matches.rbegin(); it != matches.rend(); ++it) {
        if (it->is_match && !previous && !out.empty()) {
          out.back().start = it->start;
        } else {
          out.push_back({it->start, it->end, false});
        }
        previous = it->is_match;
      }
      std::reverse(out.begin(), out.end());
      break;
    }
  }
  return out;
}

}  // namespace

std::vector<NormalizedString> NormalizedString::split(std::span<const PatternMatch> matches,
                                                      SplitBehavior behavior) const {
  std::vector<NormalizedString> pieces;
  for (const auto& m : apply_behavior(matches, behavior)) {
    if (!m.is_match) pieces.push_back(slice(m.start, m.end));
  }
  return pieces;
}

}  // namespace hades::tok
