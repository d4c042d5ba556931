#include "tokenizer/unicode.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <iterator>
#include <span>

namespace hades::tok {
namespace {

struct CodePointRange {
  char32_t first;
  char32_t last;
  bool value;
};

struct LowercaseOverride {
  char32_t code_point;
  char32_t first;
  char32_t second;
};

#include "tokenizer/grapheme_table.inc"
#include "tokenizer/unicode_compat_table.inc"

// The value that `tokenizers` uses for `c` where it disagrees with utf8proc.
std::optional<bool> find_override(std::span<const CodePointRange> table, char32_t c) {
  auto it =
      std::upper_bound(table.begin(), table.end(), c,
                       [](char32_t value, const CodePointRange& r) { return value < r.first; });
  if (it == table.begin()) return std::nullopt;
  --it;
  if (c > it->last) return std::nullopt;
  return it->value;
}

utf8proc_category_t category(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

bool with_override(std::span<const CodePointRange> table, char32_t c, bool base) {
  if (auto value = find_override(table, c)) return *value;
  return base;
}

bool is_category_punctuation(utf8proc_category_t cat) {
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

constexpr char32_t kHangulSBase = 0xAC00;
constexpr char32_t kHangulLBase = 0x1100;
constexpr char32_t kHangulVBase = 0x1161;
constexpr char32_t kHangulTBase = 0x11A7;
constexpr char32_t kHangulLCount = 19;
constexpr char32_t kHangulVCount = 21;
constexpr char32_t kHangulTCount = 28;
constexpr char32_t kHangulSCount = kHangulLCount * kHangulVCount * kHangulTCount;

// Hangul composition is algorithmic (Unicode 3.12); done here so that the rules match the Rust
// crate exactly (a trailing consonant must be strictly after T_BASE).
std::optional<char32_t> compose_hangul(char32_t a, char32_t b) {
  if (a >= kHangulLBase && a < kHangulLBase + kHangulLCount && b >= kHangulVBase &&
      b < kHangulVBase + kHangulVCount) {
    return kHangulSBase + ((a - kHangulLBase) * kHangulVCount + (b - kHangulVBase)) * kHangulTCount;
  }
  if (a >= kHangulSBase && a < kHangulSBase + kHangulSCount &&
      (a - kHangulSBase) % kHangulTCount == 0 && b > kHangulTBase &&
      b < kHangulTBase + kHangulTCount) {
    return a + (b - kHangulTBase);
  }
  return std::nullopt;
}

}  // namespace

char32_t next_code_point(std::string_view text, size_t& i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) {
    ++i;
    return lead;
  }
  if (lead < 0xE0) {
    const char32_t c = ((lead & 0x1Fu) << 6) | (byte(i + 1) & 0x3Fu);
    i += 2;
    return c;
  }
  if (lead < 0xF0) {
    const char32_t c =
        ((lead & 0x0Fu) << 12) | ((byte(i + 1) & 0x3Fu) << 6) | (byte(i + 2) & 0x3Fu);
    i += 3;
    return c;
  }
  const char32_t c = ((lead & 0x07u) << 18) | ((byte(i + 1) & 0x3Fu) << 12) |
                     ((byte(i + 2) & 0x3Fu) << 6) | (byte(i + 3) & 0x3Fu);
  i += 4;
  return c;
}

char32_t prev_code_point(std::string_view text, size_t end, size_t& start) {
  start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0u) == 0x80u) --start;
  size_t i = start;
  return next_code_point(text, i);
}

size_t utf8_length(char32_t c) {
  return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::optional<size_t> find_invalid_utf8(std::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const auto cont = [&](size_t k) { return k < n && (byte(k) & 0xC0u) == 0x80u; };
  while (i < n) {
    const unsigned char lead = byte(i);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte (no overlongs, surrogates)
    if (lead >= 0xC2 && lead <= 0xDF) {
      len = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      len = 3;
      if (lead == 0xE0) lo = 0xA0;
      if (lead == 0xED) hi = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      len = 4;
      if (lead == 0xF0) lo = 0x90;
      if (lead == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + 1 >= n || byte(i + 1) < lo || byte(i + 1) > hi) return i;
    for (size_t k = 2; k < len; ++k) {
      if (!cont(i + k)) return i;
    }
    i += len;
  }
  return std::nullopt;
}

size_t count_code_points(std::string_view text) {
  size_t count = 0;
  for (char ch : text) count += (static_cast<unsigned char>(ch) & 0xC0u) != 0x80u;
  return count;
}

size_t next_grapheme_end(std::string_view text, size_t start) {
  size_t i = start;
  auto previous = static_cast<utf8proc_int32_t>(next_code_point(text, i));
  utf8proc_int32_t state = 0;
  while (i < text.size()) {
    size_t after = i;
    const auto c = static_cast<utf8proc_int32_t>(next_code_point(text, after));
    const utf8proc_int32_t before = state;
    if (utf8proc_grapheme_break_stateful(previous, c, &state)) {
      // Marks newer than utf8proc's data extend the cluster wherever a known mark (U+0300) would.
      utf8proc_int32_t probe = before;
      if (!find_override(kGraphemeExtendOverrides, static_cast<char32_t>(c)).value_or(false) ||
          utf8proc_grapheme_break_stateful(previous, 0x300, &probe)) {
        break;
      }
      state = probe;
    }
    previous = c;
    i = after;
  }
  return i;
}

bool is_whitespace(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  if (c == 0x85) return true;
  const auto cat = category(c);
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

bool is_other(char32_t c) {
  if (c < 0x80) return c < 0x20 || c == 0x7F;
  const auto cat = category(c);
  return with_override(
      kOtherOverrides, c,
      cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CO);
}

bool is_punctuation(char32_t c) {
  if (c < 0x80)
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
           (c >= 0x7B && c <= 0x7E);
  return with_override(kPunctuationOverrides, c, is_category_punctuation(category(c)));
}

bool is_mark_nonspacing(char32_t c) {
  if (c < 0x300) return false;
  return with_override(kMarkNonspacingOverrides, c, category(c) == UTF8PROC_CATEGORY_MN);
}

bool is_combining_mark(char32_t c) {
  if (c < 0x300) return false;
  const auto cat = category(c);
  return with_override(
      kCombiningMarkOverrides, c,
      cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC || cat == UTF8PROC_CATEGORY_ME);
}

bool is_word_char(char32_t c) {
  if (c < 0x80) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  }
  const auto cat = category(c);
  const bool base = (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_ME) ||
                    cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL ||
                    cat == UTF8PROC_CATEGORY_PC || c == 0x200C || c == 0x200D;
  return with_override(kWordOverrides, c, base);
}

bool is_numeric(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  const auto cat = category(c);
  return with_override(
      kNumericOverrides, c,
      cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO);
}

bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

int to_lowercase(char32_t c, char32_t out[2]) {
  if (c < 0x80) {
    out[0] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
    return 1;
  }
  const auto* it = std::lower_bound(
      std::begin(kLowercaseOverrides), std::end(kLowercaseOverrides), c,
      [](const LowercaseOverride& o, char32_t value) { return o.code_point < value; });
  if (it != std::end(kLowercaseOverrides) && it->code_point == c) {
    out[0] = it->first;
    out[1] = it->second;
    return it->second == 0 ? 1 : 2;
  }
  out[0] = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
  return 1;
}

int combining_class(char32_t c) {
  if (c < 0x300) return 0;
  const int ccc = utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class;
  if (ccc != 0 && find_override(kCombiningClassZero, c)) return 0;
  return ccc;
}

int decompose(char32_t c, bool compat, char32_t* out) {
  if (c < 0xA0 || (compat ? find_override(kNoCompatDecomposition, c)
                          : find_override(kNoCanonicalDecomposition, c))) {
    out[0] = c;
    return 1;
  }
  utf8proc_int32_t buffer[kMaxDecomposition];
  int boundclass = UTF8PROC_BOUNDCLASS_START;
  const auto options =
      static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0));
  const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buffer,
                                                     kMaxDecomposition, options, &boundclass);
  if (n <= 0 || n > kMaxDecomposition) {
    out[0] = c;
    return 1;
  }
  for (utf8proc_ssize_t k = 0; k < n; ++k) out[k] = static_cast<char32_t>(buffer[k]);
  return static_cast<int>(n);
}

std::optional<char32_t> compose(char32_t first, char32_t second) {
  if (auto hangul = compose_hangul(first, second)) return hangul;
  // Every second character of a primary composite is at or above U+0300 and is neither a
  // Hangul syllable nor a CJK ideograph; this keeps plain text off the slow path.
  if (second < 0x300 || (second >= 0x4E00 && second <= 0x9FFF) ||
      (second >= kHangulSBase && second < kHangulSBase + kHangulSCount)) {
    return std::nullopt;
  }
  utf8proc_int32_t buffer[2] = {static_cast<utf8proc_int32_t>(first),
                                static_cast<utf8proc_int32_t>(second)};
  const auto options = static_cast<utf8proc_option_t>(UTF8PROC_COMPOSE | UTF8PROC_STABLE);
  if (utf8proc_normalize_utf32(buffer, 2, options) != 1) return std::nullopt;
  const auto composite = static_cast<char32_t>(buffer[0]);
  // A composite that the older tables of `tokenizers` do not know cannot be formed either.
  if (find_override(kNoCanonicalDecomposition, composite)) return std::nullopt;
  return composite;
}

}  // namespace hades::tok
