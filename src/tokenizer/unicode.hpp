// Unicode character classes and UTF-8 helpers, exactly as Hugging Face `tokenizers` sees them.
//
// Everything comes from utf8proc, except the code points listed in unicode_compat_table.inc: there
// the data compiled into `tokenizers` (older Unicode versions, Rust's std) differs from utf8proc's,
// and we follow `tokenizers`, because parity with it is the point of this layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hades::tok {

// Decodes the code point that starts at byte `i` of valid UTF-8 and advances `i` past it.
char32_t next_code_point(std::string_view text, size_t& i);

// The code point that ends just before byte `end` of valid UTF-8 and its first byte.
char32_t prev_code_point(std::string_view text, size_t end, size_t& start);

size_t utf8_length(char32_t c);
void append_utf8(std::string& out, char32_t c);

// The byte offset of the first invalid sequence, or nullopt when `text` is valid UTF-8.
std::optional<size_t> find_invalid_utf8(std::string_view text);

size_t count_code_points(std::string_view text);

// The end of the extended grapheme cluster that starts at byte `start` of valid UTF-8 (the
// clusters of the unicode-segmentation crate inside `tokenizers`, through utf8proc's rules).
size_t next_grapheme_end(std::string_view text, size_t start);

bool is_whitespace(char32_t c);       // White_Space (Rust char::is_whitespace)
bool is_other(char32_t c);            // Cc | Cf | Co (unicode_categories is_other)
bool is_punctuation(char32_t c);      // ASCII punctuation or P* (BERT's is_punc)
bool is_mark_nonspacing(char32_t c);  // Mn
bool is_combining_mark(char32_t c);   // Mn | Mc | Me (StripAccents)
bool is_word_char(char32_t c);        // regex \w
bool is_numeric(char32_t c);          // Nd | Nl | No (Rust char::is_numeric)
bool is_chinese_char(char32_t c);     // the CJK blocks of BERT's _is_chinese_char

// Full lowercase mapping of one character (Rust char::to_lowercase): writes 1 or 2 code points.
int to_lowercase(char32_t c, char32_t out[2]);

int combining_class(char32_t c);

// Appends the full canonical (or compatibility) decomposition of `c`, or `c` itself. Returns the
// number written; `out` must hold kMaxDecomposition code points.
inline constexpr int kMaxDecomposition = 32;
int decompose(char32_t c, bool compat, char32_t* out);

// The primary composite of a starter and a following character, if any.
std::optional<char32_t> compose(char32_t first, char32_t second);

}  // namespace hades::tok
