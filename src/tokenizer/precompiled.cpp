// The Precompiled normalizer: SentencePiece's precompiled_charsmap, as the spm_precompiled crate
// reads it and tokenizers/src/normalizers/precompiled.rs applies it.
//
// The blob is [u32 little-endian: trie byte size][trie: u32 units][normalized strings]. The trie
// is a darts-clone double array over the bytes of a source string; a leaf's value is the byte
// offset of its replacement in the normalized strings, each ended by a NUL byte. Every access is
// bounds-checked: a hostile blob is an Error naming what is wrong, never a read outside it.
#include <cstring>

#include "tokenizer/sentencepiece.hpp"

namespace hades::tok {
namespace {

// Standard base64 with padding, as the base64 crate's STANDARD engine decodes it (padding
// required, no whitespace).
std::string decode_base64(std::string_view text, const JsonPath& at) {
  const auto sextet = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.size() % 4 != 0) at.fail("invalid base64: the length is not a multiple of 4");
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    size_t padding = 0;
    if (last && text[i + 3] == '=') padding = text[i + 2] == '=' ? 2 : 1;
    uint32_t group = 0;
    for (size_t k = 0; k < 4; ++k) {
      const int v = k >= 4 - padding ? 0 : sextet(text[i + k]);
      if (v < 0) at.fail("invalid base64: unexpected character at " + std::to_string(i + k));
      group = (group << 6) | static_cast<uint32_t>(v);
    }
    // The bits that padding drops must be zero (the crate refuses "trailing bits").
    if ((padding == 1 && (group & 0xFF) != 0) || (padding == 2 && (group & 0xFFFF) != 0)) {
      at.fail("invalid base64: non-zero trailing bits");
    }
    out.push_back(static_cast<char>(group >> 16));
    if (padding < 2) out.push_back(static_cast<char>((group >> 8) & 0xFF));
    if (padding < 1) out.push_back(static_cast<char>(group & 0xFF));
  }
  return out;
}

class CharsMap {
 public:
  CharsMap(std::string_view blob, const JsonPath& at) : where_(at.prefix()) {
    if (blob.size() < 4) at.fail("shorter than its 4-byte header");
    const uint32_t trie_bytes = read_u32(blob.data());
    const size_t units = trie_bytes / 4;
    if (units > (blob.size() - 4) / 4) {
      at.fail("the header announces a trie of " + std::to_string(trie_bytes) + " bytes, but " +
              std::to_string(blob.size() - 4) + " follow");
    }
    if (units == 0) at.fail("the trie is empty");
    units_.resize(units);
    for (size_t k = 0; k < units; ++k) units_[k] = read_u32(blob.data() + 4 + 4 * k);
    normalized_ = blob.substr(4 + 4 * units);
    if (const auto bad = find_invalid_utf8(normalized_)) {
      at.fail("the normalized strings are not valid UTF-8 (byte " + std::to_string(*bad) + ")");
    }
  }

  // spm_precompiled Precompiled::transform: the replacement of the shortest prefix of `key` that
  // the trie holds (a NUL byte ends the key).
  std::optional<std::string_view> transform(std::string_view key) const {
    size_t pos = offset(unit(0));
    for (const char ch : key) {
      const auto c = static_cast<uint8_t>(ch);
      if (c == 0) break;
      pos ^= c;
      const uint32_t u = unit(pos);
      if (label(u) != c) return std::nullopt;
      pos ^= offset(u);
      if ((u >> 8) & 1u) return replacement(unit(pos) & 0x7FFFFFFFu);
    }
    return std::nullopt;
  }

 private:
  static uint32_t read_u32(const char* p) {
    unsigned char b[4];
    std::memcpy(b, p, 4);
    return static_cast<uint32_t>(b[0]) | (static_cast<uint32_t>(b[1]) << 8) |
           (static_cast<uint32_t>(b[2]) << 16) | (static_cast<uint32_t>(b[3]) << 24);
  }
  static uint32_t label(uint32_t u) { return u & ((1u << 31) | 0xFFu); }
  static size_t offset(uint32_t u) {
    return static_cast<size_t>(u >> 10) << ((u & (1u << 9)) >> 6);
  }

  uint32_t unit(size_t pos) const {
    if (pos >= units_.size()) {
      fail("the trie points at unit " + std::to_string(pos) + " of " +
           std::to_string(units_.size()));
    }
    return units_[pos];
  }

  std::string_view replacement(size_t start) const {
    if (start > normalized_.size() ||
        (start < normalized_.size() &&
         (static_cast<unsigned char>(normalized_[start]) & 0xC0u) == 0x80u)) {
      fail("a replacement starts at byte " + std::to_string(start) +
           ", not at a character of the " + std::to_string(normalized_.size()) +
           "-byte normalized strings");
    }
    const size_t end = normalized_.find('\0', start);
    return std::string_view(normalized_)
        .substr(start, end == std::string::npos ? end : end - start);
  }

  [[noreturn]] void fail(const std::string& problem) const {
    throw Error(ErrorCode::invalid_model, where_ + problem);
  }

  std::string where_;  // "file: normalizer.precompiled_charsmap: "
  std::vector<uint32_t> units_;
  std::string normalized_;
};

// HF's replace(): the changes for `old_part` becoming `new_part`; the last changes of the whole
// list mark inserted characters, or the last one absorbs the removed ones.
void replace_part(std::vector<CharChange>& changes, std::string_view old_part,
                  std::string_view new_part) {
  const auto diff = static_cast<int64_t>(count_code_points(new_part)) -
                    static_cast<int64_t>(count_code_points(old_part));
  size_t i = 0;
  while (i < new_part.size()) changes.push_back({next_code_point(new_part, i), 0});
  if (diff > 0) {
    for (size_t k = 0; k < static_cast<size_t>(diff) && k < changes.size(); ++k) {
      changes[changes.size() - 1 - k].change = 1;
    }
  } else if (diff < 0 && !changes.empty()) {
    changes.back().change += static_cast<int32_t>(diff);
  }
}

class PrecompiledNormalizer final : public Normalizer {
 public:
  explicit PrecompiledNormalizer(CharsMap map) : map_(std::move(map)) {}

  // Per extended grapheme cluster: a cluster under 6 bytes is replaced whole by the replacement
  // of its shortest prefix in the trie, if any; otherwise each character by its own. (HF's
  // comment on this: it is what matches SentencePiece on XNLI.)
  void normalize(NormalizedString& text) const override {
    const std::string& s = text.get();
    std::vector<CharChange> changes;
    changes.reserve(s.size());
    bool modified = false;
    size_t start = 0;
    while (start < s.size()) {
      const size_t end = next_grapheme_end(s, start);
      const std::string_view grapheme(s.data() + start, end - start);
      start = end;
      if (grapheme.size() < 6) {
        if (const auto norm = map_.transform(grapheme)) {
          modified = true;
          replace_part(changes, grapheme, *norm);
          continue;
        }
      }
      size_t i = 0;
      while (i < grapheme.size()) {
        const size_t char_start = i;
        const char32_t c = next_code_point(grapheme, i);
        const std::string_view part = grapheme.substr(char_start, i - char_start);
        if (const auto norm = map_.transform(part)) {
          modified = true;
          replace_part(changes, part, *norm);
        } else {
          changes.push_back({c, 0});
        }
      }
    }
    if (modified) text.transform(changes, 0);
  }

 private:
  CharsMap map_;
};

}  // namespace

std::unique_ptr<Normalizer> make_precompiled(std::string_view charsmap, const JsonPath& at) {
  return std::make_unique<PrecompiledNormalizer>(CharsMap(charsmap, at));
}

std::unique_ptr<Normalizer> parse_precompiled(const Json& value, const JsonPath& at) {
  const JsonPath map_at = at / "precompiled_charsmap";
  const std::string blob = decode_base64(get_string(value, at, "precompiled_charsmap"), map_at);
  return make_precompiled(blob, map_at);
}

}  // namespace hades::tok
