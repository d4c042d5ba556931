// The Split pre-tokenizer (tokenizers/src/pre_tokenizers/split.rs) and the Replace normalizer with
// a regex pattern (normalizers/replace.rs), both matching through tokenizer/regex.hpp.
#include <vector>

#include "tokenizer/bpe_components.hpp"
#include "tokenizer/regex.hpp"

namespace hades::tok {
namespace {

// {"String": text} or {"Regex": pattern}, as HF's SplitPattern / ReplacePattern.
Regex parse_pattern(const Json& value, const JsonPath& at) {
  require_object(value, at);
  if (value.size() == 1 && value.contains("String")) {
    return Regex::literal(get_string(value, at, "String"), at / "String");
  }
  if (value.size() == 1 && value.contains("Regex")) {
    return Regex(get_string(value, at, "Regex"), at / "Regex");
  }
  at.fail("expected {\"String\": ...} or {\"Regex\": ...}");
}

class SplitPreTokenizer final : public PreTokenizer {
 public:
  SplitPreTokenizer(Regex regex, SplitBehavior behavior, bool invert)
      : regex_(std::move(regex)), behavior_(behavior), invert_(invert) {}

  void pre_tokenize(PreTokenizedString& text) const override {
    text.split([this](NormalizedString&& s) {
      thread_local std::vector<PatternMatch> matches;
      regex_.find_matches(s.get(), matches);
      if (invert_) {
        for (PatternMatch& m : matches) m.is_match = !m.is_match;
      }
      return s.split(matches, behavior_);
    });
  }

 private:
  Regex regex_;
  SplitBehavior behavior_;
  bool invert_;
};

// HF NormalizedString::replace with a regex: each match (empty ones too) becomes `content`, whose
// characters all take the alignment of the last byte of the match (or of the byte before an empty
// match).
class RegexReplaceNormalizer final : public Normalizer {
 public:
  RegexReplaceNormalizer(Regex regex, std::string content)
      : regex_(std::move(regex)), content_(std::move(content)) {
    size_t i = 0;
    while (i < content_.size()) changes_.push_back({next_code_point(content_, i), 1});
  }

  void normalize(NormalizedString& text) const override {
    thread_local std::vector<PatternMatch> matches;
    regex_.find_matches(text.get(), matches);
    // Last match first, so that the byte positions of the earlier ones stay valid.
    // Not std::views::reverse: clang 14 (the fuzz build, clang-tidy) cannot parse it in
    // libstdc++ 12. NOLINTNEXTLINE(modernize-loop-convert)
    for (auto it = matches.rbegin(); it != matches.rend(); ++it) {
      if (!it->is_match) continue;
      const std::string& s = text.get();
      size_t removed = 0;
      for (size_t i = it->start; i < it->end;) {
        next_code_point(s, i);
        ++removed;
      }
      text.transform_range({it->start, it->end}, changes_, removed);
    }
  }

 private:
  Regex regex_;
  std::string content_;
  std::vector<CharChange> changes_;
};

}  // namespace

std::unique_ptr<PreTokenizer> parse_split_pre_tokenizer(const Json& value, const JsonPath& at) {
  Regex regex = parse_pattern(require(value, at, "pattern"), at / "pattern");
  const SplitBehavior behavior =
      parse_split_behavior(require(value, at, "behavior"), at / "behavior");
  return std::make_unique<SplitPreTokenizer>(std::move(regex), behavior,
                                             get_bool(value, at, "invert"));
}

std::unique_ptr<Normalizer> make_regex_replace(const std::string& pattern, std::string content,
                                               const JsonPath& at) {
  return std::make_unique<RegexReplaceNormalizer>(Regex(pattern, at), std::move(content));
}

}  // namespace hades::tok
