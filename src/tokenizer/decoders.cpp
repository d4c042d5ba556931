#include "tokenizer/decoders.hpp"

#include "hades/error.hpp"
#include "tokenizer/byte_level.hpp"
#include "tokenizer/regex.hpp"
#include "tokenizer/sentencepiece.hpp"
#include "tokenizer/unicode.hpp"

namespace hades::tok {
namespace {

// Rust's str::replace: every non-overlapping occurrence, left to right (an empty pattern matches
// at every character boundary).
std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  if (from.empty()) {
    size_t i = 0;
    while (i < text.size()) {
      const size_t start = i;
      next_code_point(text, i);
      out.append(to);
      out.append(text.substr(start, i - start));
    }
    out.append(to);
    return out;
  }
  size_t last = 0;
  for (size_t pos = text.find(from); pos != std::string_view::npos; pos = text.find(from, last)) {
    out.append(text.substr(last, pos - last));
    out.append(to);
    last = pos + from.size();
  }
  out.append(text.substr(last));
  return out;
}

class ByteLevelDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const std::string& token : tokens) {
      const size_t mark = bytes.size();
      size_t i = 0;
      bool all = true;
      while (i < token.size() && all) {
        const auto b = char_to_byte(next_code_point(token, i));
        if (b) bytes.push_back(static_cast<char>(*b));
        all = b.has_value();
      }
      if (!all) {  // a token that is not byte-level text (an added token) stays as it is
        bytes.resize(mark);
        bytes += token;
      }
    }
    tokens.assign(1, utf8_lossy(bytes));
  }
};

class WordPieceDecoder final : public Decoder {
 public:
  WordPieceDecoder(std::string prefix, bool cleanup)
      : prefix_(std::move(prefix)), cleanup_(cleanup) {}

  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& token = tokens[i];
      if (i != 0) {
        if (token.starts_with(prefix_)) {
          token.erase(0, prefix_.size());
        } else {
          token.insert(0, 1, ' ');
        }
      }
      if (cleanup_) token = cleanup(token);
    }
  }

  static std::string cleanup(std::string text) {
    static constexpr std::pair<std::string_view, std::string_view> kRules[] = {
        {" .", "."},   {" ?", "?"},     {" !", "!"},    {" ,", ","},
        {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},  {" do not", " don't"},
        {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    for (const auto& [from, to] : kRules) text = replace_all(text, from, to);
    return text;
  }

 private:
  std::string prefix_;
  bool cleanup_;
};

class BpeDecoder final : public Decoder {
 public:
  explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      tokens[i] = replace_all(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ");
    }
  }

 private:
  std::string suffix_;
};

class ByteFallbackDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    const auto flush = [&] {
      if (pending.empty()) return;
      if (!find_invalid_utf8(pending)) {
        out.push_back(pending);
      } else {
        out.insert(out.end(), pending.size(), "\xEF\xBF\xBD");
      }
      pending.clear();
    };
    for (std::string& token : tokens) {
      if (const auto b = byte_of(token)) {
        pending.push_back(static_cast<char>(*b));
        continue;
      }
      flush();
      out.push_back(std::move(token));
    }
    flush();
    tokens = std::move(out);
  }

 private:
  // "<0xHH>" (Rust's u8::from_str_radix also takes "+H").
  static std::optional<uint8_t> byte_of(std::string_view token) {
    if (token.size() != 6 || !token.starts_with("<0x") || token[5] != '>') return std::nullopt;
    const auto digit = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int lo = digit(token[4]);
    const int hi = token[3] == '+' ? 0 : digit(token[3]);
    if (lo < 0 || hi < 0) return std::nullopt;
    return static_cast<uint8_t>(hi * 16 + lo);
  }
};

class FuseDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const std::string& t : tokens) all += t;
    tokens.clear();
    tokens.push_back(std::move(all));
  }
};

class StripDecoder final : public Decoder {
 public:
  StripDecoder(char32_t content, size_t start, size_t stop)
      : content_(content), start_(start), stop_(stop) {}

  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& token : tokens) {
      std::vector<size_t> bounds;  // byte offset of each character, then the end
      size_t i = 0;
      std::vector<char32_t> chars;
      while (i < token.size()) {
        bounds.push_back(i);
        chars.push_back(next_code_point(token, i));
      }
      bounds.push_back(token.size());
      size_t start_cut = 0;
      for (size_t k = 0; k < start_ && k < chars.size() && chars[k] == content_; ++k) {
        start_cut = k + 1;
      }
      size_t stop_cut = chars.size();
      for (size_t k = 0; k < stop_ && k < chars.size(); ++k) {
        const size_t index = chars.size() - k - 1;
        if (chars[index] != content_) break;
        stop_cut = index;
      }
      if (stop_cut < start_cut) stop_cut = start_cut;
      token = token.substr(bounds[start_cut], bounds[stop_cut] - bounds[start_cut]);
    }
  }

 private:
  char32_t content_;
  size_t start_;
  size_t stop_;
};

class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(Regex regex, std::string content)
      : regex_(std::move(regex)), content_(std::move(content)) {}

  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<PatternMatch> matches;
    for (std::string& token : tokens) {
      regex_.find_matches(token, matches);
      std::string out;
      for (const PatternMatch& m : matches) {
        out += m.is_match ? std::string_view(content_)
                          : std::string_view(token).substr(m.start, m.end - m.start);
      }
      token = std::move(out);
    }
  }

 private:
  Regex regex_;
  std::string content_;
};

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps)
      : steps_(std::move(steps)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& step : steps_) step->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

class UnsupportedDecoder final : public Decoder {
 public:
  explicit UnsupportedDecoder(std::string what) : what_(std::move(what)) {}
  void decode_chain(std::vector<std::string>&) const override {
    throw Error(ErrorCode::unsupported, what_ + " is not supported for decoding");
  }

 private:
  std::string what_;
};

std::string string_or(const Json& value, const JsonPath& at, std::string_view key,
                      std::string fallback) {
  const Json* v = find_optional(value, key);
  return v != nullptr ? as_string(*v, at / key) : std::move(fallback);
}

std::unique_ptr<Decoder> parse_replace(const Json& value, const JsonPath& at) {
  const JsonPath p_at = at / "pattern";
  const Json& pattern = require_object(require(value, at, "pattern"), p_at);
  std::string content = get_string(value, at, "content");
  if (pattern.size() == 1 && pattern.contains("String")) {
    return std::make_unique<ReplaceDecoder>(
        Regex::literal(get_string(pattern, p_at, "String"), p_at / "String"), std::move(content));
  }
  if (pattern.size() == 1 && pattern.contains("Regex")) {
    return std::make_unique<ReplaceDecoder>(
        Regex(get_string(pattern, p_at, "Regex"), p_at / "Regex"), std::move(content));
  }
  p_at.fail("expected {\"String\": ...} or {\"Regex\": ...}");
}

std::unique_ptr<Decoder> parse_strip(const Json& value, const JsonPath& at) {
  const std::string content = get_string(value, at, "content");
  if (count_code_points(content) != 1) (at / "content").fail("expected one character");
  size_t i = 0;
  return std::make_unique<StripDecoder>(next_code_point(content, i),
                                        get_uint(value, at, "start", UINT64_MAX),
                                        get_uint(value, at, "stop", UINT64_MAX));
}

}  // namespace

std::unique_ptr<Decoder> parse_decoder(const Json& value, const JsonPath& at) {
  const std::string type = get_type(value, at);
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "WordPiece") {
    const Json* cleanup = find_optional(value, "cleanup");
    return std::make_unique<WordPieceDecoder>(
        string_or(value, at, "prefix", "##"),
        cleanup == nullptr || as_bool(*cleanup, at / "cleanup"));
  }
  if (type == "BPEDecoder") {
    return std::make_unique<BpeDecoder>(string_or(value, at, "suffix", "</w>"));
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") return parse_strip(value, at);
  if (type == "Replace") return parse_replace(value, at);
  if (type == "Sequence") {
    const JsonPath list_at = at / "decoders";
    const Json& list = require_array(require(value, at, "decoders"), list_at);
    std::vector<std::unique_ptr<Decoder>> steps;
    for (size_t i = 0; i < list.size(); ++i) steps.push_back(parse_decoder(list[i], list_at[i]));
    return std::make_unique<SequenceDecoder>(std::move(steps));
  }
  if (type == "Metaspace") return parse_metaspace_decoder(value, at);
  if (type == "CTC") {
    return std::make_unique<UnsupportedDecoder>(std::string(at.source()) + ": decoder '" + type +
                                                "'");
  }
  (at / "type").fail("unknown decoder '" + type + "'");
}

std::string decode_tokens(const Decoder* decoder, std::vector<std::string> tokens) {
  std::string out;
  if (decoder == nullptr) {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) out += ' ';
      out += tokens[i];
    }
    return out;
  }
  decoder->decode_chain(tokens);
  for (const std::string& t : tokens) out += t;
  return out;
}

}  // namespace hades::tok
