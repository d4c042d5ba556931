// Regular expressions of tokenizer.json (Split and Replace patterns, the ByteLevel pre-tokenizer's
// GPT-2 pattern), run by PCRE2 with the meaning that Hugging Face `tokenizers` gives them.
//
// `tokenizers` compiles patterns with Oniguruma (Ruby syntax, Unicode 16 data). PCRE2 differs in
// syntax details and in its Unicode version, so a pattern is first rewritten (see regex.cpp):
// `\s`, `\d`, `\w`, `\h` and their negations get Oniguruma's classes, `\p{..}` general categories
// get the characters that newer Unicode added, `(?m)` becomes dot-all, `{,n}` becomes `{0,n}`,
// `^`/`$` match at line boundaries. What cannot be rewritten faithfully (class intersection `&&`,
// nested classes, `(?s)`) is an Error when the tokenizer loads.
//
// Matching is bounded: a pattern that backtracks catastrophically on some input stops at PCRE2's
// match limit and throws Error(input_invalid) instead of hanging the process.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/json_util.hpp"
#include "tokenizer/normalized_string.hpp"

namespace hades::tok {

class Regex {
 public:
  // Compiles an Oniguruma-syntax pattern; `at` names it in errors (invalid_model for a pattern
  // that does not compile, unsupported for syntax that PCRE2 cannot express).
  Regex(std::string_view pattern, const JsonPath& at);
  // A pattern matching `literal` exactly (Split / Replace {"String": ...}).
  static Regex literal(std::string_view literal, const JsonPath& at);

  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;
  ~Regex();

  // HF Pattern::find_matches for Oniguruma's find_iter: ranges covering all of `text`, in order,
  // matches flagged. Empty matches are reported as Oniguruma reports them. Throws
  // Error(input_invalid) when the match limit is hit.
  void find_matches(std::string_view text, std::vector<PatternMatch>& out) const;
  std::vector<PatternMatch> find_matches(std::string_view text) const {
    std::vector<PatternMatch> out;
    find_matches(text, out);
    return out;
  }

  const std::string& pattern() const { return pattern_; }

 private:
  struct Compiled;
  Regex() = default;
  void compile(const std::string& translated, const JsonPath& at);

  std::string pattern_;      // as written in the file
  std::string description_;  // "<file>: <json path>", for errors while matching
  std::unique_ptr<Compiled> compiled_;
};

// Rewrites an Oniguruma pattern into the PCRE2 pattern with the same meaning (exposed for tests).
// Fails through `at` for syntax that has no PCRE2 equivalent.
std::string translate_oniguruma(std::string_view pattern, const JsonPath& at);

// Escapes `text` so that PCRE2 matches it literally.
std::string escape_regex(std::string_view text);

}  // namespace hades::tok
