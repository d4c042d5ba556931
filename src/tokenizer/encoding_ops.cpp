#include "tokenizer/encoding_ops.hpp"

#include <algorithm>

#include "hades/error.hpp"

namespace hades::tok {
namespace {

void append(Encoding& self, const Encoding& pair) {
  const auto extend = [](auto& to, const auto& from) {
    to.insert(to.end(), from.begin(), from.end());
  };
  extend(self.ids, pair.ids);
  extend(self.type_ids, pair.type_ids);
  extend(self.tokens, pair.tokens);
  extend(self.offsets, pair.offsets);
  extend(self.special_tokens_mask, pair.special_tokens_mask);
  extend(self.attention_mask, pair.attention_mask);
}

Encoding range_of(const Encoding& e, size_t start, size_t stop) {
  Encoding part;
  const auto copy = [&](auto& to, const auto& from) {
    to.assign(from.begin() + static_cast<ptrdiff_t>(start),
              from.begin() + static_cast<ptrdiff_t>(stop));
  };
  copy(part.ids, e.ids);
  copy(part.type_ids, e.type_ids);
  copy(part.tokens, e.tokens);
  copy(part.offsets, e.offsets);
  copy(part.special_tokens_mask, e.special_tokens_mask);
  copy(part.attention_mask, e.attention_mask);
  return part;
}

}  // namespace

void merge_with(Encoding& self, const Encoding& pair) {
  std::vector<Encoding> overflowing;
  for (const Encoding& self_o : self.overflowing) {
    Encoding merged = self_o;
    merge_with(merged, pair);
    overflowing.push_back(std::move(merged));
    for (const Encoding& other_o : pair.overflowing) {
      Encoding both = self_o;
      merge_with(both, other_o);
      overflowing.push_back(std::move(both));
    }
  }
  for (const Encoding& other_o : pair.overflowing) {
    Encoding merged = self;
    merge_with(merged, other_o);
    overflowing.push_back(std::move(merged));
  }
  append(self, pair);
  self.overflowing = std::move(overflowing);
}

Encoding merge(const std::vector<Encoding>& encodings) {
  Encoding result;
  for (const Encoding& e : encodings) merge_with(result, e);
  return result;
}

void truncate(Encoding& e, size_t max_len, size_t stride, TruncationDirection direction) {
  const size_t length = e.ids.size();
  if (max_len >= length) return;
  if (max_len == 0) {
    Encoding whole = std::move(e);
    e = Encoding{};
    e.overflowing.push_back(std::move(whole));
    return;
  }
  if (stride >= max_len) {
    throw Error(ErrorCode::invalid_argument,
                "truncation: stride " + std::to_string(stride) + " must be less than the " +
                    std::to_string(max_len) + " tokens left for the sequence");
  }
  const size_t step = max_len - stride;
  std::vector<std::pair<size_t, size_t>> parts;
  if (direction == TruncationDirection::right) {
    for (size_t start = 0; start < length; start += step) {
      const size_t stop = std::min(start + max_len, length);
      parts.emplace_back(start, stop);
      if (stop == length) break;
    }
  } else {
    // HF walks window ends down from the last token: (0..len).rev().step_by(step).
    for (size_t k = 0; k < length; k += step) {
      const size_t stop = length - k;
      const size_t start = stop > max_len ? stop - max_len : 0;
      if (start >= stop) break;
      parts.emplace_back(start, stop);
      if (start == 0) break;
    }
  }
  Encoding result = range_of(e, parts[0].first, parts[0].second);
  for (size_t k = 1; k < parts.size(); ++k) {
    result.overflowing.push_back(range_of(e, parts[k].first, parts[k].second));
  }
  e = std::move(result);
}

void truncate_encodings(Encoding& first, std::optional<Encoding>& second,
                        const TruncationOptions& options) {
  if (options.max_length == 0) {
    truncate(first, 0, options.stride, options.direction);
    if (second) truncate(*second, 0, options.stride, options.direction);
    return;
  }
  const size_t total = first.size() + (second ? second->size() : 0);
  if (total <= options.max_length) return;
  const size_t to_remove = total - options.max_length;
  if (options.strategy == TruncationStrategy::longest_first) {
    if (!second) {
      truncate(first, total - to_remove, options.stride, options.direction);
      return;
    }
    size_t n1 = first.size();
    size_t n2 = second->size();
    const bool swap = n1 > n2;
    if (swap) std::swap(n1, n2);
    n2 = n1 > options.max_length ? n1 : std::max(n1, options.max_length - n1);
    if (n1 + n2 > options.max_length) {
      n1 = options.max_length / 2;
      n2 = n1 + options.max_length % 2;
    }
    if (swap) std::swap(n1, n2);
    truncate(first, n1, options.stride, options.direction);
    truncate(*second, n2, options.stride, options.direction);
    return;
  }
  Encoding* target = &first;
  if (options.strategy == TruncationStrategy::only_second) {
    if (!second) {
      throw Error(ErrorCode::invalid_argument,
                  "truncation: strategy only_second needs a second sequence");
    }
    target = &*second;
  }
  if (target->size() <= to_remove) {
    throw Error(ErrorCode::invalid_argument,
                "truncation: the sequence to truncate is too short to respect max_length " +
                    std::to_string(options.max_length));
  }
  truncate(*target, target->size() - to_remove, options.stride, options.direction);
}

void pad(Encoding& e, size_t target_length, const PaddingOptions& options) {
  for (Encoding& o : e.overflowing) pad(o, target_length, options);
  if (e.ids.size() >= target_length) return;
  const size_t n = target_length - e.ids.size();
  const bool left = options.direction == PaddingDirection::left;
  const auto fill = [&](auto& v, const auto& value) {
    v.insert(left ? v.begin() : v.end(), n, value);
  };
  fill(e.ids, options.pad_id);
  fill(e.type_ids, options.pad_type_id);
  fill(e.tokens, options.pad_token);
  fill(e.attention_mask, 0);
  fill(e.special_tokens_mask, 1);
  fill(e.offsets, std::pair<int64_t, int64_t>{0, 0});
}

void pad_encodings(std::span<Encoding> encodings, const PaddingOptions& options) {
  if (encodings.empty()) return;
  size_t length = options.fixed_length;
  if (options.strategy == PaddingStrategy::batch_longest) {
    length = 0;
    for (const Encoding& e : encodings) length = std::max(length, e.ids.size());
  }
  if (options.pad_to_multiple_of && *options.pad_to_multiple_of > 0 &&
      length % *options.pad_to_multiple_of > 0) {
    length += *options.pad_to_multiple_of - length % *options.pad_to_multiple_of;
  }
  for (Encoding& e : encodings) pad(e, length, options);
}

}  // namespace hades::tok
