#include "tokenizer/pre_tokenizers.hpp"

#include "tokenizer/bpe_components.hpp"
#include "tokenizer/sentencepiece.hpp"

namespace hades::tok {
namespace {

class BertPreTokenizer final : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedString& text) const override {
    text.split(
        [](NormalizedString&& s) { return s.split_on(is_whitespace, SplitBehavior::removed); });
    text.split(
        [](NormalizedString&& s) { return s.split_on(is_punctuation, SplitBehavior::isolated); });
  }
};

// The matches of `\w+|[^\w\s]+` (what HF's Whitespace pre-tokenizer keeps), written as a scan.
std::vector<PatternMatch> whitespace_gaps(std::string_view text) {
  std::vector<PatternMatch> matches;
  if (text.empty()) {
    matches.push_back({0, 0, true});
    return matches;
  }
  size_t prev = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t start = i;
    size_t next = i;
    const char32_t c = next_code_point(text, next);
    if (is_whitespace(c)) {
      i = next;
      continue;
    }
    const bool word = is_word_char(c);
    i = next;
    while (i < text.size()) {
      size_t after = i;
      const char32_t d = next_code_point(text, after);
      if (word ? !is_word_char(d) : (is_word_char(d) || is_whitespace(d))) break;
      i = after;
    }
    // Inverted: the words are kept (false), the gaps between them are removed (true).
    if (prev != start) matches.push_back({prev, start, true});
    matches.push_back({start, i, false});
    prev = i;
  }
  if (prev != text.size()) matches.push_back({prev, text.size(), true});
  return matches;
}

class WhitespacePreTokenizer final : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedString& text) const override {
    text.split([](NormalizedString&& s) {
      const auto matches = whitespace_gaps(s.get());
      return s.split(matches, SplitBehavior::removed);
    });
  }
};

class WhitespaceSplitPreTokenizer final : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedString& text) const override {
    text.split(
        [](NormalizedString&& s) { return s.split_on(is_whitespace, SplitBehavior::removed); });
  }
};

class PunctuationPreTokenizer final : public PreTokenizer {
 public:
  explicit PunctuationPreTokenizer(SplitBehavior behavior) : behavior_(behavior) {}
  void pre_tokenize(PreTokenizedString& text) const override {
    text.split([this](NormalizedString&& s) { return s.split_on(is_punctuation, behavior_); });
  }

 private:
  SplitBehavior behavior_;
};

class DigitsPreTokenizer final : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual_digits)
      : behavior_(individual_digits ? SplitBehavior::isolated : SplitBehavior::contiguous) {}
  void pre_tokenize(PreTokenizedString& text) const override {
    text.split([this](NormalizedString&& s) { return s.split_on(is_numeric, behavior_); });
  }

 private:
  SplitBehavior behavior_;
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  void pre_tokenize(PreTokenizedString& text) const override {
    for (const auto& step : steps_) step->pre_tokenize(text);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

std::unique_ptr<PreTokenizer> parse_sequence(const Json& value, const JsonPath& at) {
  const JsonPath list_at = at / "pretokenizers";
  const Json& list = require_array(require(value, at, "pretokenizers"), list_at);
  std::vector<std::unique_ptr<PreTokenizer>> steps;
  for (size_t i = 0; i < list.size(); ++i) {
    steps.push_back(parse_pre_tokenizer(list[i], list_at[i]));
  }
  return std::make_unique<SequencePreTokenizer>(std::move(steps));
}

}  // namespace

SplitBehavior parse_split_behavior(const Json& value, const JsonPath& at) {
  const std::string name = as_string(value, at);
  if (name == "Removed") return SplitBehavior::removed;
  if (name == "Isolated") return SplitBehavior::isolated;
  if (name == "MergedWithPrevious") return SplitBehavior::merged_with_previous;
  if (name == "MergedWithNext") return SplitBehavior::merged_with_next;
  if (name == "Contiguous") return SplitBehavior::contiguous;
  at.fail("unknown split behavior '" + name + "'");
}

std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const Json& value, const JsonPath& at) {
  const std::string type = get_type(value, at);
  if (type == "BertPreTokenizer") return std::make_unique<BertPreTokenizer>();
  if (type == "Whitespace") return std::make_unique<WhitespacePreTokenizer>();
  if (type == "WhitespaceSplit") return std::make_unique<WhitespaceSplitPreTokenizer>();
  if (type == "Punctuation") {
    SplitBehavior behavior = SplitBehavior::isolated;
    if (const Json* b = find_optional(value, "behavior"))
      behavior = parse_split_behavior(*b, at / "behavior");
    return std::make_unique<PunctuationPreTokenizer>(behavior);
  }
  if (type == "Digits") {
    return std::make_unique<DigitsPreTokenizer>(get_bool(value, at, "individual_digits"));
  }
  if (type == "Sequence") return parse_sequence(value, at);
  if (type == "ByteLevel") return parse_byte_level_pre_tokenizer(value, at);
  if (type == "Split") return parse_split_pre_tokenizer(value, at);
  if (type == "Metaspace") return parse_metaspace_pre_tokenizer(value, at);
  if (type == "CharDelimiterSplit" || type == "UnicodeScripts" || type == "FixedLength") {
    (at / "type").fail("pre-tokenizer '" + type + "' is not supported yet", ErrorCode::unsupported);
  }
  (at / "type").fail("unknown pre-tokenizer '" + type + "'");
}

}  // namespace hades::tok
