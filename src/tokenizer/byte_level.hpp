// Byte-level BPE support (GPT-2 style), as in Hugging Face tokenizers/src/pre_tokenizers/
// byte_level.rs: every byte of the UTF-8 text is shown as one printable character (space -> 'Ġ',
// newline -> 'Ċ', ...) before the BPE model sees it, and decoding maps them back.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "tokenizer/json_util.hpp"
#include "tokenizer/normalized_string.hpp"
#include "tokenizer/tokenizer.hpp"

namespace hades::tok {

// GPT-2's bytes_to_unicode(): the character that stands for `byte`.
char32_t byte_to_char(uint8_t byte);
// The byte a character stands for, or nullopt for a character outside the 256 of the mapping.
std::optional<uint8_t> char_to_byte(char32_t c);

// Replaces every byte of `text` by its character (HF ByteLevel's transform); all characters made
// from one original character keep that character's alignment.
void byte_level_transform(NormalizedString& text);

// HF process_offsets: moves each token's offsets past the spaces ('Ġ' or whitespace) that start
// or end its text. Offsets are code points, as Encoding holds them.
void trim_byte_level_offsets(Encoding& encoding, bool add_prefix_space);

// Rust's String::from_utf8_lossy: each maximal invalid subsequence becomes U+FFFD.
std::string utf8_lossy(std::string_view bytes);

}  // namespace hades::tok
