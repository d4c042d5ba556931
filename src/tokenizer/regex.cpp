#include "tokenizer/regex.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <optional>
#include <span>
#include <utility>

#include "hades/error.hpp"

namespace hades::tok {
namespace {

struct CodePointSpan {
  char32_t first;
  char32_t last;
};

struct PropertyExtras {
  std::string_view name;
  std::span<const CodePointSpan> spans;
};

#include "tokenizer/regex_unicode_table.inc"

// Oniguruma's \s: the White_Space property (PCRE2's \s also takes U+180E).
constexpr CodePointSpan kWhiteSpace[] = {
    {0x9, 0xD},       {0x20, 0x20},     {0x85, 0x85},     {0xA0, 0xA0},     {0x1680, 0x1680},
    {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}};
constexpr CodePointSpan kHexDigits[] = {{'0', '9'}, {'A', 'F'}, {'a', 'f'}};

// Backtracking budget of one search: Oniguruma in `tokenizers` gives up after 10M retries; PCRE2
// counts differently, and one million steps keep a catastrophic pattern to milliseconds.
constexpr uint32_t kMatchLimit = 1'000'000;
constexpr uint32_t kHeapLimitKiB = 64 * 1024;
constexpr PCRE2_SIZE kJitStackMax = PCRE2_SIZE{8} * 1024 * 1024;

void append_code_point(std::string& out, char32_t c) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "\\x{%X}", static_cast<unsigned>(c));
  out += buffer;
}

void append_spans(std::string& out, std::span<const CodePointSpan> spans) {
  for (const CodePointSpan& s : spans) {
    append_code_point(out, s.first);
    if (s.last != s.first) {
      out += '-';
      append_code_point(out, s.last);
    }
  }
}

// The class items of the code points outside `spans` (sorted, disjoint).
void append_complement(std::string& out, std::span<const CodePointSpan> spans) {
  char32_t next = 0;
  for (const CodePointSpan& s : spans) {
    if (s.first > next) append_spans(out, std::array{CodePointSpan{next, s.first - 1}});
    next = s.last + 1;
  }
  if (next <= 0x10FFFF) append_spans(out, std::array{CodePointSpan{next, 0x10FFFF}});
}

std::span<const CodePointSpan> extras_of(std::string_view property) {
  for (const PropertyExtras& p : kPropertyExtras) {
    if (p.name == property) return p.spans;
  }
  return {};
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// One pass over an Oniguruma pattern, writing the PCRE2 equivalent.
class Translator {
 public:
  Translator(std::string_view pattern, const JsonPath& at) : p_(pattern), at_(at) {}

  std::string run() {
    out_.reserve(p_.size() * 2);
    while (i_ < p_.size()) {
      if (in_class_) {
        class_char();
      } else {
        plain_char();
      }
    }
    return std::move(out_);
  }

 private:
  [[noreturn]] void unsupported(std::string_view what) const {
    at_.fail("regex '" + std::string(p_) + "': " + std::string(what) +
                 " (Oniguruma syntax that PCRE2 cannot express)",
             ErrorCode::unsupported);
  }

  bool at(size_t k, char c) const { return k < p_.size() && p_[k] == c; }

  void plain_char() {
    const char c = p_[i_];
    if (c == '\\') return escape(false);
    if (c == '[') return open_class();
    if (c == '(' && at(i_ + 1, '?')) return group_options();
    if (c == '{' && at(i_ + 1, ',')) return open_interval();
    out_ += c;
    ++i_;
  }

  void class_char() {
    const char c = p_[i_];
    if (c == '\\') return escape(true);
    if (c == '[') {
      if (!at(i_ + 1, ':')) unsupported("nested character class");
      const size_t end = p_.find(":]", i_ + 2);
      if (end == std::string_view::npos) unsupported("unterminated POSIX class");
      out_.append(p_.substr(i_, end + 2 - i_));
      i_ = end + 2;
      return;
    }
    if (c == '&' && at(i_ + 1, '&')) unsupported("character class intersection '&&'");
    if (c == ']') in_class_ = false;
    out_ += c;
    ++i_;
  }

  void open_class() {
    in_class_ = true;
    out_ += '[';
    ++i_;
    if (at(i_, '^')) {
      out_ += '^';
      ++i_;
    }
    if (at(i_, ']')) {  // a leading ']' is a literal in both dialects
      out_ += "\\]";
      ++i_;
    }
  }

  // `{,n}` is `{0,n}` in Oniguruma and a literal in PCRE2 10.42.
  void open_interval() {
    size_t k = i_ + 2;
    while (k < p_.size() && p_[k] >= '0' && p_[k] <= '9') ++k;
    if (k > i_ + 2 && at(k, '}')) {
      out_ += "{0,";
      i_ += 2;
      return;
    }
    out_ += '{';
    ++i_;
  }

  // `(?imx-imx)` and `(?imx-imx:...)`: Oniguruma's `m` is PCRE2's `s` (dot matches newline).
  void group_options() {
    size_t k = i_ + 2;
    std::string flags;
    while (k < p_.size() && (std::isalpha(static_cast<unsigned char>(p_[k])) || p_[k] == '-')) {
      const char f = p_[k];
      if (f == 'm') {
        flags += 's';
      } else if (f == 'i' || f == 'x' || f == '-') {
        flags += f;
      } else {
        unsupported(std::string("group option '") + f + "'");
      }
      ++k;
    }
    if (flags.empty() || !(at(k, ')') || at(k, ':'))) {
      out_ += "(?";
      i_ += 2;
      return;
    }
    out_ += "(?" + flags;
    i_ = k;
  }

  // The set written for a class escape: `items` inside brackets, negated when `negate`.
  void emit_set(bool in_class, bool negate, const std::string& items,
                std::span<const CodePointSpan> spans_for_complement) {
    if (!in_class) {
      out_ += negate ? "[^" : "[";
      out_ += items;
      out_ += ']';
    } else if (!negate) {
      out_ += items;
    } else {
      append_complement(out_, spans_for_complement);
    }
  }

  void escape(bool in_class) {
    if (i_ + 1 >= p_.size()) {
      out_ += '\\';
      ++i_;
      return;
    }
    const char c = p_[i_ + 1];
    i_ += 2;
    std::string items;
    switch (c) {
      case 's':
      case 'S':
        append_spans(items, kWhiteSpace);
        return emit_set(in_class, c == 'S', items, kWhiteSpace);
      case 'h':
      case 'H':
        append_spans(items, kHexDigits);
        return emit_set(in_class, c == 'H', items, kHexDigits);
      case 'd':
      case 'D': return property(in_class, c == 'D', "Nd");
      case 'w':
      case 'W':
        items = "\\p{L}\\p{M}\\p{Nd}\\p{Pc}";
        append_spans(items, extras_of("L"));
        append_spans(items, extras_of("M"));
        append_spans(items, extras_of("Nd"));
        append_spans(items, extras_of("word"));
        if (in_class && c == 'W') {
          out_ += "\\W";  // PCRE2's own non-word class: no exact complement of a property set
          return;
        }
        return emit_set(in_class, c == 'W', items, {});
      case 'v': out_ += "\\x{B}"; return;  // a vertical tab in Oniguruma, a class in PCRE2
      case 'O': out_ += in_class ? "\\x{0}-\\x{10FFFF}" : "(?s:.)"; return;  // any character
      case 'y':
      case 'Y': unsupported("text segment boundary '\\y' / '\\Y'");
      case 'g':
      case 'k':
        if (at(i_, '<') || at(i_, '\'')) break;  // a call / back reference in both dialects
        out_ += c;  // otherwise a plain letter, as other unknown escapes
        return;
      case 'u': return unicode_escape();
      case 'p':
      case 'P': return property_escape(in_class, c == 'P');
      default:
        // Oniguruma reads an escaped letter it does not know as the letter; PCRE2 refuses some
        // (\j, \i, ...) and gives others a meaning (\Q, \E, \L, \U, ...).
        if (std::string_view("QEjiIlLUTFqm").find(c) != std::string_view::npos) {
          out_ += c;
          return;
        }
        break;
    }
    out_ += '\\';
    out_ += c;
  }

  void unicode_escape() {
    if (i_ + 4 > p_.size() || !std::all_of(p_.begin() + static_cast<ptrdiff_t>(i_),
                                           p_.begin() + static_cast<ptrdiff_t>(i_ + 4), is_hex)) {
      unsupported("'\\u' needs four hex digits");
    }
    out_ += "\\x{" + std::string(p_.substr(i_, 4)) + "}";
    i_ += 4;
  }

  void property_escape(bool in_class, bool negate) {
    if (!at(i_, '{')) {  // \pL
      out_ += negate ? "\\P" : "\\p";
      return;
    }
    const size_t end = p_.find('}', i_);
    if (end == std::string_view::npos) unsupported("unterminated \\p{...}");
    std::string_view name = p_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    if (!name.empty() && name[0] == '^') {
      negate = !negate;
      name.remove_prefix(1);
    }
    property(in_class, negate, name);
  }

  // \p{name}, with the characters newer Unicode added to it where the table has them.
  void property(bool in_class, bool negate, std::string_view name) {
    const auto extras = extras_of(name);
    const std::string prop = std::string(negate ? "\\P{" : "\\p{") + std::string(name) + "}";
    if (extras.empty() || (in_class && negate)) {
      out_ += prop;  // inside a negated set the extras cannot be removed: PCRE2's data decides
      return;
    }
    std::string items = "\\p{" + std::string(name) + "}";
    append_spans(items, extras);
    if (in_class) {
      out_ += items;
    } else {
      out_ += negate ? "[^" : "[";
      out_ += items;
      out_ += ']';
    }
  }

  std::string_view p_;
  const JsonPath& at_;
  std::string out_;
  size_t i_ = 0;
  bool in_class_ = false;
};

struct JitStackDeleter {
  void operator()(pcre2_jit_stack* s) const { pcre2_jit_stack_free(s); }
};
struct MatchDataDeleter {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};

// Each thread matches with its own JIT stack and match data; the compiled pattern is shared.
pcre2_jit_stack* thread_jit_stack(void*) {
  thread_local std::unique_ptr<pcre2_jit_stack, JitStackDeleter> stack(
      pcre2_jit_stack_create(PCRE2_SIZE{32} * 1024, kJitStackMax, nullptr));
  return stack.get();
}

pcre2_match_data* thread_match_data() {
  thread_local std::unique_ptr<pcre2_match_data, MatchDataDeleter> data(
      pcre2_match_data_create(1, nullptr));
  return data.get();
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  if (pcre2_get_error_message(code, buffer, sizeof buffer) < 0)
    return "error " + std::to_string(code);
  return reinterpret_cast<const char*>(buffer);
}

size_t utf8_char_length(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

}  // namespace

struct Regex::Compiled {
  pcre2_code* code = nullptr;
  pcre2_match_context* context = nullptr;

  ~Compiled() {
    pcre2_match_context_free(context);
    pcre2_code_free(code);
  }
};

std::string translate_oniguruma(std::string_view pattern, const JsonPath& at) {
  return Translator(pattern, at).run();
}

std::string escape_regex(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 2);
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && !std::isalnum(u)) out += '\\';
    out += c;
  }
  return out;
}

Regex::Regex(std::string_view pattern, const JsonPath& at) : pattern_(pattern) {
  compile(translate_oniguruma(pattern, at), at);
}

Regex Regex::literal(std::string_view literal, const JsonPath& at) {
  Regex regex;
  regex.pattern_ = std::string(literal);
  regex.compile(escape_regex(literal), at);
  return regex;
}

Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;
Regex::~Regex() = default;

void Regex::compile(const std::string& translated, const JsonPath& at) {
  description_ = std::string(at.source()) + ": regex '" + pattern_ + "'";
  pcre2_compile_context* cc = pcre2_compile_context_create(nullptr);
  pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
  pcre2_set_bsr(cc, PCRE2_BSR_UNICODE);
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  // Oniguruma's defaults: Unicode classes, and ^ / $ at line boundaries.
  const uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE | PCRE2_NEVER_BACKSLASH_C;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()),
                                   translated.size(), options, &error, &error_offset, cc);
  pcre2_compile_context_free(cc);
  if (code == nullptr) {
    at.fail("regex '" + pattern_ + "' does not compile: " + pcre2_message(error) + " (at offset " +
            std::to_string(error_offset) + " of the pattern as given to PCRE2)");
  }
  compiled_ = std::make_unique<Compiled>();
  compiled_->code = code;
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // without JIT, the interpreter matches the same
  compiled_->context = pcre2_match_context_create(nullptr);
  pcre2_set_match_limit(compiled_->context, kMatchLimit);
  pcre2_set_depth_limit(compiled_->context, kMatchLimit);
  pcre2_set_heap_limit(compiled_->context, kHeapLimitKiB);
  pcre2_jit_stack_assign(compiled_->context, thread_jit_stack, nullptr);
}

void Regex::find_matches(std::string_view text, std::vector<PatternMatch>& out) const {
  out.clear();
  if (text.empty()) {
    out.push_back({0, 0, false});
    return;
  }
  pcre2_match_data* data = thread_match_data();
  const auto search = [&](size_t from) -> std::optional<std::pair<size_t, size_t>> {
    uint32_t no_jit = 0;
    for (;;) {
      const int rc =
          pcre2_match(compiled_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), from,
                      PCRE2_NO_UTF_CHECK | no_jit, data, compiled_->context);
      if (rc == PCRE2_ERROR_NOMATCH) return std::nullopt;
      if (rc == PCRE2_ERROR_JIT_STACKLIMIT && no_jit == 0) {
        no_jit = PCRE2_NO_JIT;  // the interpreter keeps its backtracking on the heap
        continue;
      }
      if (rc < 0) {
        throw Error(ErrorCode::input_invalid, description_ +
                                                  " cannot match this input: " + pcre2_message(rc) +
                                                  " (a pattern that backtracks catastrophically?)");
      }
      const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data);
      return std::pair<size_t, size_t>{ovector[0], std::max(ovector[0], ovector[1])};
    }
  };
  // Oniguruma's find_iter (rust-onig FindMatches): an empty match right where the previous match
  // ended is skipped by moving the search one character on.
  size_t last_end = 0;
  std::optional<size_t> last_match_end;
  size_t previous = 0;
  while (last_end <= text.size()) {
    const auto found = search(last_end);
    if (!found) break;
    const auto [start, end] = *found;
    if (start == end && last_match_end == end) {
      last_end +=
          last_end < text.size() ? utf8_char_length(static_cast<unsigned char>(text[last_end])) : 1;
      continue;
    }
    last_end = end;
    last_match_end = end;
    if (previous != start) out.push_back({previous, start, false});
    out.push_back({start, end, true});
    previous = end;
  }
  if (previous != text.size()) out.push_back({previous, text.size(), false});
}

}  // namespace hades::tok
