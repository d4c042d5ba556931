// Metaspace, as in Hugging Face tokenizers/src/pre_tokenizers/metaspace.rs: as a pre-tokenizer,
// spaces become the replacement character ("▁"), which is prepended to the split (always, only
// to the split at the start of the text, or never) and, with `split`, starts each word; as a
// decoder, the replacement character becomes a space again, and in the first token it is dropped
// unless the scheme is "never".
#include "tokenizer/sentencepiece.hpp"

namespace hades::tok {
namespace {

enum class PrependScheme { first, never, always };

struct MetaspaceOptions {
  char32_t replacement;
  std::string replacement_text;
  PrependScheme scheme;
  bool split;
};

class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  explicit MetaspacePreTokenizer(MetaspaceOptions options) : options_(std::move(options)) {}

  void pre_tokenize(PreTokenizedString& text) const override {
    text.split([this](NormalizedString&& s) {
      s.replace(" ", options_.replacement_text);
      if (needs_prefix(s)) s.prepend(options_.replacement_text);
      std::vector<NormalizedString> pieces;
      if (options_.split) {
        const char32_t r = options_.replacement;
        return s.split_on([r](char32_t c) { return c == r; }, SplitBehavior::merged_with_next);
      }
      pieces.push_back(std::move(s));
      return pieces;
    });
  }

 private:
  bool needs_prefix(const NormalizedString& s) const {
    if (options_.scheme == PrependScheme::never) return false;
    if (s.get().starts_with(options_.replacement_text)) return false;
    return options_.scheme == PrependScheme::always || s.offsets_original().first == 0;
  }

  MetaspaceOptions options_;
};

class MetaspaceDecoder final : public Decoder {
 public:
  explicit MetaspaceDecoder(MetaspaceOptions options) : options_(std::move(options)) {}

  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t t = 0; t < tokens.size(); ++t) {
      const bool drop = t == 0 && options_.scheme != PrependScheme::never;
      std::string out;
      size_t i = 0;
      while (i < tokens[t].size()) {
        const char32_t c = next_code_point(tokens[t], i);
        if (c != options_.replacement) {
          append_utf8(out, c);
        } else if (!drop) {
          out.push_back(' ');
        }
      }
      tokens[t] = std::move(out);
    }
  }

 private:
  MetaspaceOptions options_;
};

// HF's MetaspaceHelper: "prepend_scheme" defaults to always; the legacy "add_prefix_space":
// false requires "never".
MetaspaceOptions parse_options(const Json& value, const JsonPath& at) {
  MetaspaceOptions options;
  options.replacement_text = get_string(value, at, "replacement");
  if (count_code_points(options.replacement_text) != 1) {
    (at / "replacement").fail("expected one character");
  }
  size_t i = 0;
  options.replacement = next_code_point(options.replacement_text, i);
  options.scheme = PrependScheme::always;
  if (const Json* v = find_optional(value, "prepend_scheme")) {
    const std::string name = as_string(*v, at / "prepend_scheme");
    if (name == "first") {
      options.scheme = PrependScheme::first;
    } else if (name == "never") {
      options.scheme = PrependScheme::never;
    } else if (name != "always") {
      (at / "prepend_scheme")
          .fail("expected \"first\", \"always\" or \"never\", found '" + name + "'");
    }
  }
  if (const Json* v = find_optional(value, "add_prefix_space")) {
    if (!as_bool(*v, at / "add_prefix_space") && options.scheme != PrependScheme::never) {
      (at / "add_prefix_space").fail("false does not match the prepend_scheme");
    }
  }
  options.split = true;
  if (const Json* v = find_optional(value, "split")) options.split = as_bool(*v, at / "split");
  return options;
}

}  // namespace

std::unique_ptr<PreTokenizer> parse_metaspace_pre_tokenizer(const Json& value, const JsonPath& at) {
  return std::make_unique<MetaspacePreTokenizer>(parse_options(value, at));
}

std::unique_ptr<Decoder> parse_metaspace_decoder(const Json& value, const JsonPath& at) {
  return std::make_unique<MetaspaceDecoder>(parse_options(value, at));
}

}  // namespace hades::tok
