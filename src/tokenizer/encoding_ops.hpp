// Operations on Encoding shared by the pipeline steps, as in Hugging Face
// tokenizers/src/tokenizer/encoding.rs and utils/{truncation,padding}.rs.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "tokenizer/tokenizer.hpp"

namespace hades::tok {

// Appends `pair` to `self`, combining the overflowing windows of both as HF merge_with does.
void merge_with(Encoding& self, const Encoding& pair);
Encoding merge(const std::vector<Encoding>& encodings);

// Cuts `e` to `max_len` tokens; the rest goes to `e.overflowing` in windows that repeat `stride`
// tokens. Throws Error(invalid_argument) when stride >= max_len > 0.
void truncate(Encoding& e, size_t max_len, size_t stride, TruncationDirection direction);

// HF truncate_encodings: applies the strategy over one or two sequences.
void truncate_encodings(Encoding& first, std::optional<Encoding>& second,
                        const TruncationOptions& options);

void pad(Encoding& e, size_t target_length, const PaddingOptions& options);
void pad_encodings(std::span<Encoding> encodings, const PaddingOptions& options);

}  // namespace hades::tok
