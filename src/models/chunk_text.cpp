// The markup step reads a document the way BeautifulSoup's get_text() reports it with lxml: the
// text nodes in document order, without tags, comments, doctypes and processing instructions; in
// HTML without the contents of script, style and template (and ruby's rt/rp annotations), which
// BeautifulSoup keeps out of get_text(); CDATA sections dropped in HTML and kept in XML; entities
// decoded (HTML 4's named entities and numeric references in HTML, XML's five in XML). It is a
// scanner, not a tree builder: it does not repair malformed nesting, which get_text() does not
// need for its output order.
#include "models/chunk_text.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

#include "tokenizer/unicode.hpp"

namespace hades {
namespace {

struct NamedEntity {
  const char* name;
  char32_t code_point;
};

constexpr NamedEntity kHtmlEntities[] = {
#include "models/html_entities.inc"
};

constexpr NamedEntity kXmlEntities[] = {
    {"amp", U'&'}, {"apos", U'\''}, {"gt", U'>'}, {"lt", U'<'}, {"quot", U'"'}};

template <size_t N>
std::optional<char32_t> find_entity(const NamedEntity (&table)[N], const std::string& name) {
  const auto* it = std::lower_bound(std::begin(table), std::end(table), name,
                                    [](const NamedEntity& e, const std::string& n) {
                                      return std::strcmp(e.name, n.c_str()) < 0;
                                    });
  if (it != std::end(table) && name == it->name) return it->code_point;
  return std::nullopt;
}

// Python's str.isspace(), which re's \s and str.strip() use.
bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

bool starts_with_nocase(std::string_view text, size_t at, std::string_view prefix) {
  if (text.size() - at < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[at + i])) != prefix[i]) return false;
  }
  return true;
}

bool is_ascii_alpha(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0;
}

class MarkupScanner {
 public:
  MarkupScanner(std::string_view text, bool xml) : in_(text), xml_(xml) {}

  std::string run() {
    while (at_ < in_.size()) {
      if (in_[at_] == '<') {
        markup();
      } else if (in_[at_] == '&') {
        entity();
      } else {
        out_ += in_[at_++];
      }
    }
    return std::move(out_);
  }

 private:
  // Moves past the first `end` at or after the current position, or to the end of the input.
  void skip_past(std::string_view end) {
    const size_t found = in_.find(end, at_);
    at_ = found == std::string_view::npos ? in_.size() : found + end.size();
  }

  // Moves to the closing tag `</name` (any case) and past its '>'; returns where it began.
  size_t skip_element_body(const std::string& name) {
    const size_t begin = at_;
    while (at_ < in_.size() && !(in_[at_] == '<' && at_ + 1 < in_.size() && in_[at_ + 1] == '/' &&
                                 starts_with_nocase(in_, at_ + 2, name))) {
      ++at_;
    }
    const size_t end = at_;
    skip_past(">");
    return end - begin;
  }

  void markup() {
    if (in_.compare(at_, 4, "<!--") == 0) {
      skip_past("-->");
    } else if (in_.compare(at_, 9, "<![CDATA[") == 0) {
      const size_t begin = at_ + 9;
      const size_t end = std::min(in_.find("]]>", begin), in_.size());
      if (xml_) out_ += in_.substr(begin, end - begin);
      at_ = std::min(end + 3, in_.size());
    } else if ((at_ + 1 < in_.size() && (in_[at_ + 1] == '!' || in_[at_ + 1] == '?')) ||
               (at_ + 2 < in_.size() && in_[at_ + 1] == '/' && is_ascii_alpha(in_[at_ + 2]))) {
      skip_past(">");  // a declaration, a processing instruction or a closing tag
    } else if (at_ + 1 < in_.size() && is_ascii_alpha(in_[at_ + 1])) {
      open_tag();
    } else {
      out_ += in_[at_++];  // a '<' that starts no markup is text
    }
  }

  // Reads `<name attributes...>` (quoted attribute values may hold '>'), then the element's raw
  // contents where HTML gives the element some.
  void open_tag() {
    ++at_;
    std::string name;
    while (at_ < in_.size() && (std::isalnum(static_cast<unsigned char>(in_[at_])) != 0 ||
                                in_[at_] == '-' || in_[at_] == ':' || in_[at_] == '_')) {
      name += static_cast<char>(std::tolower(static_cast<unsigned char>(in_[at_++])));
    }
    while (at_ < in_.size() && in_[at_] != '>') {
      if (in_[at_++] != '=') continue;
      while (at_ < in_.size() && (in_[at_] == ' ' || in_[at_] == '\t' || in_[at_] == '\n')) ++at_;
      if (at_ < in_.size() && (in_[at_] == '"' || in_[at_] == '\'')) {
        const char quote = in_[at_++];
        skip_past(std::string_view(&quote, 1));
      }
    }
    if (at_ < in_.size()) ++at_;
    if (xml_ || (!in_.empty() && in_[at_ - 1] != '>')) return;
    if (name == "script" || name == "style" || name == "template" || name == "rt" || name == "rp") {
      skip_element_body(name);  // BeautifulSoup keeps these strings out of get_text()
    } else if (name == "textarea" || name == "title") {
      const size_t begin = at_;
      const size_t length = skip_element_body(name);
      out_ += MarkupScanner(in_.substr(begin, length), false).decode_only();
    }
  }

  // Text with entity references but no markup (HTML's RCDATA elements).
  std::string decode_only() {
    while (at_ < in_.size()) {
      if (in_[at_] == '&') {
        entity();
      } else {
        out_ += in_[at_++];
      }
    }
    return std::move(out_);
  }

  void entity() {
    size_t end = at_ + 1;
    std::optional<char32_t> code_point;
    if (end < in_.size() && in_[end] == '#') {
      code_point = numeric_reference(end);
    } else {
      std::string name;
      while (end < in_.size() && std::isalnum(static_cast<unsigned char>(in_[end])) != 0) {
        name += in_[end++];
      }
      code_point = xml_ ? find_entity(kXmlEntities, name) : find_entity(kHtmlEntities, name);
      if (!code_point && !xml_) {
        std::string lower = name;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        code_point = find_entity(kHtmlEntities, lower);
      }
      if (!code_point && xml_ && !name.empty() && end < in_.size() && in_[end] == ';') {
        at_ = end + 1;  // an entity XML does not define: the parser drops it
        return;
      }
    }
    if (!code_point) {
      out_ += in_[at_++];
      return;
    }
    if (end < in_.size() && in_[end] == ';') ++end;
    tok::append_utf8(out_, *code_point);
    at_ = end;
  }

  // `&#NNN` or `&#xHH` starting with `end` at the '#'; advances `end` past the digits.
  std::optional<char32_t> numeric_reference(size_t& end) {
    size_t i = end + 1;
    const bool hex = i < in_.size() && (in_[i] == 'x' || in_[i] == 'X');
    if (hex) ++i;
    uint64_t value = 0;
    const size_t digits_begin = i;
    while (i < in_.size() && (hex ? std::isxdigit(static_cast<unsigned char>(in_[i]))
                                  : std::isdigit(static_cast<unsigned char>(in_[i]))) != 0) {
      const auto c = static_cast<unsigned char>(in_[i++]);
      const uint64_t digit = std::isdigit(c) != 0 ? c - '0' : (std::tolower(c) - 'a' + 10);
      value = std::min<uint64_t>(value * (hex ? 16 : 10) + digit, 0x110000);
    }
    if (i == digits_begin) return std::nullopt;
    end = i;
    if (value == 0 || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return U'\uFFFD';
    return static_cast<char32_t>(value);
  }

  std::string_view in_;
  bool xml_;
  size_t at_ = 0;
  std::string out_;
};

// The tail of chonky's MarkupRemover: \n \r \t to spaces, re.sub(r"\s\s+", " "), strip().
std::string collapse_whitespace(std::string_view text) {
  std::u32string cps;
  for (size_t i = 0; i < text.size();) cps.push_back(tok::next_code_point(text, i));
  std::u32string out;
  for (size_t i = 0; i < cps.size();) {
    size_t run = i;
    while (run < cps.size() && is_python_space(cps[run])) ++run;
    if (run - i >= 2) {
      out.push_back(U' ');
      i = run;
      continue;
    }
    const char32_t c = cps[i++];
    out.push_back(c == U'\n' || c == U'\r' || c == U'\t' ? U' ' : c);
  }
  const auto first = std::find_if_not(out.begin(), out.end(), is_python_space);
  const auto last = std::find_if_not(out.rbegin(), out.rend(), is_python_space).base();
  std::string result;
  for (auto it = first; it < last; ++it) tok::append_utf8(result, *it);
  return result;
}

}  // namespace

std::optional<TextCleanup> parse_text_cleanup(std::string_view name) {
  for (const TextCleanup c :
       {TextCleanup::none, TextCleanup::text, TextCleanup::html, TextCleanup::xml}) {
    if (name == text_cleanup_name(c)) return c;
  }
  return std::nullopt;
}

const char* text_cleanup_name(TextCleanup cleanup) {
  switch (cleanup) {
    case TextCleanup::none: return "none";
    case TextCleanup::text: return "text";
    case TextCleanup::html: return "html";
    case TextCleanup::xml: return "xml";
  }
  return "none";
}

std::string clean_text(std::string_view text, TextCleanup cleanup) {
  switch (cleanup) {
    case TextCleanup::none: return std::string(text);
    case TextCleanup::text: return collapse_whitespace(text);
    case TextCleanup::html: return collapse_whitespace(MarkupScanner(text, false).run());
    case TextCleanup::xml: return collapse_whitespace(MarkupScanner(text, true).run());
  }
  return std::string(text);
}

int64_t snap_to_whitespace(std::u32string_view text, int64_t cut) {
  const auto n = static_cast<int64_t>(text.size());
  if (cut <= 0 || cut >= n) return std::clamp<int64_t>(cut, 0, n);
  const auto at = [&](int64_t i) { return text[static_cast<size_t>(i)]; };
  // A CJK ideograph is a word of its own (as BERT's BasicTokenizer has it) and punctuation stays
  // with the word before it: Chinese text has no spaces, and a multilingual chunker's cuts in it
  // must not all run on to the next space.
  const auto word_ends_before = [&](int64_t i) {
    return is_python_space(at(i)) || tok::is_chinese_char(at(i)) ||
           (tok::is_chinese_char(at(i - 1)) && !tok::is_punctuation(at(i)));
  };
  if (is_python_space(at(cut - 1)) || word_ends_before(cut)) return cut;
  while (cut < n && !word_ends_before(cut)) ++cut;
  return cut;
}

}  // namespace hades
