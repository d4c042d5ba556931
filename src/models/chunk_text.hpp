// Text steps around chunking that chonky leaves to its user, offered as options that are off by
// default (the faithful mode chunks the text exactly as given):
//  - clean_text: chonky's MarkupRemover, which its README asks users to run before the splitter.
//    MarkupRemover guesses the kind of input with magika and converts markdown too; here the
//    caller names the kind (text, html, xml) and markdown is not converted.
//  - snap_to_whitespace: chonky's model marks the first sub-token of a paragraph's last word, so a
//    cut can fall inside a word (before a trailing "." for instance); snapping moves such a cut to
//    the end of the word.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hades {

enum class TextCleanup {
  none,
  text,  // newlines and tabs to spaces, runs of whitespace to one space, stripped
  html,  // the text of an HTML document (as BeautifulSoup + lxml's get_text), then `text`
  xml,   // the text of an XML document (as BeautifulSoup's "xml" get_text), then `text`
};

std::optional<TextCleanup> parse_text_cleanup(std::string_view name);  // "none", "text", ...
const char* text_cleanup_name(TextCleanup cleanup);

// `text` must be valid UTF-8; so is the result.
std::string clean_text(std::string_view text, TextCleanup cleanup);

// A cut at code point `cut` of `text` that falls inside a word, moved forward to the word's end
// (or the end of the text). Words end at whitespace (Python's str.isspace()); a CJK ideograph (of
// BERT's _is_chinese_char) is a word of its own; punctuation belongs to the word before it.
int64_t snap_to_whitespace(std::u32string_view text, int64_t cut);

}  // namespace hades
