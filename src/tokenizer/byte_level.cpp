#include "tokenizer/byte_level.hpp"

#include <array>
#include <vector>

#include "tokenizer/bpe_components.hpp"
#include "tokenizer/regex.hpp"
#include "tokenizer/unicode.hpp"

namespace hades::tok {
namespace {

// GPT-2's printable bytes stand for themselves; the other 68 take U+0100.. in byte order.
constexpr bool is_printable_byte(unsigned b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

constexpr std::array<char32_t, 256> make_byte_chars() {
  std::array<char32_t, 256> chars{};
  char32_t next = 0x100;
  for (unsigned b = 0; b < 256; ++b) chars[b] = is_printable_byte(b) ? b : next++;
  return chars;
}

constexpr auto kByteChars = make_byte_chars();
constexpr char32_t kSpaceChar = kByteChars[' '];  // 'Ġ'

// The GPT-2 split pattern of HF's ByteLevel (Oniguruma syntax; regex.cpp makes it PCRE2).
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

const Regex& gpt2_regex() {
  static const Regex regex(kGpt2Pattern, JsonPath("ByteLevel pre-tokenizer", "pattern"));
  return regex;
}

// Text of printable ASCII only maps to itself (a byte >= 0x80 is never a whole character).
bool is_identity_text(std::string_view text) {
  for (const char c : text) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {
    if (use_regex_) gpt2_regex();  // compile once, at load time
  }

  void pre_tokenize(PreTokenizedString& text) const override {
    text.split([this](NormalizedString&& s) {
      if (add_prefix_space_ && (s.get().empty() || s.get()[0] != ' ')) s.prepend(" ");
      std::vector<NormalizedString> pieces;
      if (!use_regex_) {
        pieces.push_back(std::move(s));
        return pieces;
      }
      thread_local std::vector<PatternMatch> matches;
      gpt2_regex().find_matches(s.get(), matches);
      return s.split(matches, SplitBehavior::isolated);
    });
    for (Split& split : text.splits()) {
      if (!split.tokens) byte_level_transform(split.normalized);
    }
  }

 private:
  bool add_prefix_space_;
  bool use_regex_;
};

class ByteLevelNormalizer final : public Normalizer {
 public:
  void normalize(NormalizedString& text) const override { byte_level_transform(text); }
};

bool flag(const Json& value, const JsonPath& at, std::string_view key, bool fallback) {
  const Json* v = find_optional(value, key);
  return v != nullptr ? as_bool(*v, at / key) : fallback;
}

bool is_space_char(char32_t c) {
  return c == kSpaceChar || is_whitespace(c);
}

}  // namespace

char32_t byte_to_char(uint8_t byte) {
  return kByteChars[byte];
}

std::optional<uint8_t> char_to_byte(char32_t c) {
  if (c < 0x100) {
    if (is_printable_byte(c)) return static_cast<uint8_t>(c);
    return std::nullopt;
  }
  if (c >= 0x100 + 68) return std::nullopt;
  static const std::array<uint8_t, 68> unprintable = [] {
    std::array<uint8_t, 68> bytes{};
    for (unsigned b = 0; b < 256; ++b) {
      if (!is_printable_byte(b)) bytes[kByteChars[b] - 0x100] = static_cast<uint8_t>(b);
    }
    return bytes;
  }();
  return unprintable[c - 0x100];
}

void byte_level_transform(NormalizedString& text) {
  const std::string& s = text.get();
  if (s.empty() || is_identity_text(s)) return;
  thread_local std::vector<CharChange> changes;
  changes.clear();
  size_t i = 0;
  while (i < s.size()) {
    const size_t start = i;
    next_code_point(s, i);
    for (size_t k = start; k < i; ++k) {
      // The first byte replaces the character, the others are inserted after it.
      changes.push_back({kByteChars[static_cast<unsigned char>(s[k])], k > start ? 1 : 0});
    }
  }
  text.transform(changes, 0);
}

void trim_byte_level_offsets(Encoding& encoding, bool add_prefix_space) {
  for (size_t i = 0; i < encoding.tokens.size(); ++i) {
    const std::string& token = encoding.tokens[i];
    size_t leading = 0;
    size_t pos = 0;
    while (pos < token.size() && is_space_char(next_code_point(token, pos))) ++leading;
    size_t trailing = 0;
    size_t end = token.size();
    while (end > 0) {
      size_t start = 0;
      if (!is_space_char(prev_code_point(token, end, start))) break;
      ++trailing;
      end = start;
    }
    if (leading == 0 && trailing == 0) continue;
    auto& [first, last] = encoding.offsets[i];
    if (leading > 0) {
      // A single space that add_prefix_space put before the first token is kept.
      const bool is_first = i == 0 || first == 0;
      if (is_first && add_prefix_space && leading == 1) leading = 0;
      first = std::min(first + static_cast<int64_t>(leading), last);
    }
    if (trailing > 0 && last >= static_cast<int64_t>(trailing)) {
      last = std::max(last - static_cast<int64_t>(trailing), first);
    }
  }
}

std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  while (i < bytes.size()) {
    const unsigned char lead = byte(i);
    size_t need = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (lead < 0x80) {
      out += static_cast<char>(lead);
      ++i;
      continue;
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
      need = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      need = 2;
      if (lead == 0xE0) lo = 0xA0;
      if (lead == 0xED) hi = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      need = 3;
      if (lead == 0xF0) lo = 0x90;
      if (lead == 0xF4) hi = 0x8F;
    }
    // The longest valid prefix of a sequence is replaced by one U+FFFD (maximal subpart).
    size_t k = 1;
    while (need > 0 && k <= need && i + k < bytes.size()) {
      const unsigned char b = byte(i + k);
      const bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
      if (!ok) break;
      ++k;
    }
    if (need > 0 && k == need + 1) {
      out.append(bytes.substr(i, k));
    } else {
      out += "\xEF\xBF\xBD";
    }
    i += k;
  }
  return out;
}

std::unique_ptr<PreTokenizer> parse_byte_level_pre_tokenizer(const Json& value,
                                                             const JsonPath& at) {
  return std::make_unique<ByteLevelPreTokenizer>(flag(value, at, "add_prefix_space", true),
                                                 flag(value, at, "use_regex", true));
}

std::unique_ptr<Normalizer> make_byte_level_normalizer() {
  return std::make_unique<ByteLevelNormalizer>();
}

}  // namespace hades::tok
