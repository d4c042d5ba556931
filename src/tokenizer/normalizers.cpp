#include "tokenizer/normalizers.hpp"

#include <vector>

#include "tokenizer/bpe_components.hpp"
#include "tokenizer/sentencepiece.hpp"

namespace hades::tok {
namespace {

// BERT's normalizer (tokenizers/src/normalizers/bert.rs).
class BertNormalizer final : public Normalizer {
 public:
  BertNormalizer(bool clean_text, bool handle_chinese_chars, bool strip_accents, bool lowercase)
      : clean_text_(clean_text),
        handle_chinese_chars_(handle_chinese_chars),
        strip_accents_(strip_accents),
        lowercase_(lowercase) {}

  void normalize(NormalizedString& text) const override {
    if (clean_text_) {
      text.filter([](char32_t c) {
        const bool control = c != '\t' && c != '\n' && c != '\r' && is_other(c);
        return !(c == 0 || c == 0xFFFD || control);
      });
      text.map([](char32_t c) { return is_whitespace(c) ? U' ' : c; });
    }
    if (handle_chinese_chars_) pad_chinese_chars(text);
    if (strip_accents_) {
      text.normalize(NormalizationForm::nfd);
      text.filter([](char32_t c) { return !is_mark_nonspacing(c); });
    }
    if (lowercase_) text.lowercase();
  }

 private:
  // Surrounds every CJK ideograph with spaces; both spaces share the ideograph's alignment.
  static void pad_chinese_chars(NormalizedString& text) {
    const std::string& s = text.get();
    std::vector<CharChange> changes;
    bool any = false;
    size_t i = 0;
    while (i < s.size()) {
      const char32_t c = next_code_point(s, i);
      if (is_chinese_char(c)) {
        any = true;
        changes.push_back({U' ', 0});
        changes.push_back({c, 1});
        changes.push_back({U' ', 1});
      } else {
        changes.push_back({c, 0});
      }
    }
    if (any) text.transform(changes, 0);
  }

  bool clean_text_;
  bool handle_chinese_chars_;
  bool strip_accents_;
  bool lowercase_;
};

class UnicodeNormalizer final : public Normalizer {
 public:
  explicit UnicodeNormalizer(NormalizationForm form) : form_(form) {}
  void normalize(NormalizedString& text) const override { text.normalize(form_); }

 private:
  NormalizationForm form_;
};

class LowercaseNormalizer final : public Normalizer {
 public:
  void normalize(NormalizedString& text) const override { text.lowercase(); }
};

// Removes combining marks (Mn, Mc, Me) without decomposing first, as HF's StripAccents does.
class StripAccentsNormalizer final : public Normalizer {
 public:
  void normalize(NormalizedString& text) const override {
    text.filter([](char32_t c) { return !is_combining_mark(c); });
  }
};

class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(NormalizedString& text) const override {
    // HF strips both sides in one pass, or each side on its own; the alignments agree.
    text.strip(left_, right_);
  }

 private:
  bool left_;
  bool right_;
};

class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(std::string pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(NormalizedString& text) const override { text.replace(pattern_, content_); }

 private:
  std::string pattern_;
  std::string content_;
};

class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  void normalize(NormalizedString& text) const override { text.prepend(prefix_); }

 private:
  std::string prefix_;
};

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps)
      : steps_(std::move(steps)) {}
  void normalize(NormalizedString& text) const override {
    for (const auto& step : steps_) step->normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

std::unique_ptr<Normalizer> parse_bert(const Json& value, const JsonPath& at) {
  const bool lowercase = get_bool(value, at, "lowercase");
  // strip_accents: null (or absent) follows `lowercase`, as in BERT's original code.
  bool strip_accents = lowercase;
  if (const Json* strip = find_optional(value, "strip_accents")) {
    strip_accents = as_bool(*strip, at / "strip_accents");
  }
  return std::make_unique<BertNormalizer>(get_bool(value, at, "clean_text"),
                                          get_bool(value, at, "handle_chinese_chars"),
                                          strip_accents, lowercase);
}

std::unique_ptr<Normalizer> parse_replace(const Json& value, const JsonPath& at) {
  const Json& pattern = require_object(require(value, at, "pattern"), at / "pattern");
  std::string content = get_string(value, at, "content");
  if (pattern.size() == 1 && pattern.contains("Regex")) {
    const JsonPath regex_at = at / "pattern" / "Regex";
    return make_regex_replace(as_string(pattern["Regex"], regex_at), std::move(content), regex_at);
  }
  std::string text = get_string(pattern, at / "pattern", "String");
  if (text.empty()) (at / "pattern" / "String").fail("empty pattern", ErrorCode::unsupported);
  return std::make_unique<ReplaceNormalizer>(std::move(text), std::move(content));
}

std::unique_ptr<Normalizer> parse_sequence(const Json& value, const JsonPath& at) {
  const JsonPath list_at = at / "normalizers";
  const Json& list = require_array(require(value, at, "normalizers"), list_at);
  std::vector<std::unique_ptr<Normalizer>> steps;
  for (size_t i = 0; i < list.size(); ++i) steps.push_back(parse_normalizer(list[i], list_at[i]));
  return std::make_unique<SequenceNormalizer>(std::move(steps));
}

}  // namespace

std::unique_ptr<Normalizer> parse_normalizer(const Json& value, const JsonPath& at) {
  const std::string type = get_type(value, at);
  if (type == "BertNormalizer") return parse_bert(value, at);
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(NormalizationForm::nfc);
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(NormalizationForm::nfd);
  if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(NormalizationForm::nfkc);
  if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(NormalizationForm::nfkd);
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (type == "StripAccents") return std::make_unique<StripAccentsNormalizer>();
  if (type == "Strip") {
    return std::make_unique<StripNormalizer>(get_bool(value, at, "strip_left"),
                                             get_bool(value, at, "strip_right"));
  }
  if (type == "Replace") return parse_replace(value, at);
  if (type == "Prepend")
    return std::make_unique<PrependNormalizer>(get_string(value, at, "prepend"));
  if (type == "Sequence") return parse_sequence(value, at);
  if (type == "ByteLevel") return make_byte_level_normalizer();
  if (type == "Precompiled") return parse_precompiled(value, at);
  if (type == "Nmt") {
    (at / "type").fail("normalizer '" + type + "' is not supported yet", ErrorCode::unsupported);
  }
  (at / "type").fail("unknown normalizer '" + type + "'");
}

}  // namespace hades::tok
