// The pieces under byte-level BPE: Oniguruma patterns run by PCRE2 (matches as `tokenizers` 0.23.3
// reports them, checked with its Split pre-tokenizer), GPT-2's byte <-> character mapping and
// Rust's lossy UTF-8 decoding.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "hades/error.hpp"
#include "tokenizer/byte_level.hpp"
#include "tokenizer/regex.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/unicode.hpp"

namespace {

using hades::tok::JsonPath;
using hades::tok::PatternMatch;
using hades::tok::Regex;

const JsonPath kAt("test.json", "pattern");

// The matched pieces of `text`, as a Split with behaviour Isolated keeps only the matches.
std::vector<std::string> matched(std::string_view pattern, std::string_view text) {
  std::vector<std::string> out;
  for (const PatternMatch& m : Regex(pattern, kAt).find_matches(text)) {
    if (m.is_match) out.emplace_back(text.substr(m.start, m.end - m.start));
  }
  return out;
}

using Pieces = std::vector<std::string>;

TEST(TokenizerBpeRegex, OnigurumaSemantics) {
  EXPECT_EQ(matched("^a", "a\na"), (Pieces{"a", "a"}));  // ^ and $ at line boundaries
  EXPECT_EQ(matched("a$", "a\na"), (Pieces{"a", "a"}));
  EXPECT_EQ(matched(".", "a\nb"), (Pieces{"a", "b"}));
  EXPECT_EQ(matched("(?m).", "a\nb"), (Pieces{"a", "\n", "b"}));  // Oniguruma's m is dot-all
  EXPECT_EQ(matched("\\h", "ag f0 "), (Pieces{"a", "f", "0"}));   // \h: a hex digit
  EXPECT_EQ(matched("[\\H]+", "ag f0"), (Pieces{"g "}));
  EXPECT_EQ(matched("a{,2}", "aaa"), (Pieces{"aa", "a"}));
  EXPECT_EQ(matched("\\u0041", "xA"), (Pieces{"A"}));
  EXPECT_EQ(matched("\\v", "a\x0b\n"), (Pieces{"\x0b"}));
  EXPECT_EQ(matched("\\w+", "e\u0301x_1\u0663 z"), (Pieces{"e\u0301x_1\u0663", "z"}));
  EXPECT_EQ(matched("\\d+", "1\u0663x"), (Pieces{"1\u0663"}));
  EXPECT_EQ(matched("\\s", "\u180e\u0085 "), (Pieces{"\u0085", " "}));  // White_Space, not 180E
  EXPECT_EQ(matched("[^\\S\\n]+", "a \t\nb"), (Pieces{" \t"}));
  // Letters and digits that Unicode 15 and 16 added (PCRE2 10.42 knows Unicode 14).
  EXPECT_EQ(matched("\\p{L}+", "\u1c89\U00031350 1"), (Pieces{"\u1c89\U00031350"}));
  EXPECT_EQ(matched("[^\\s\\p{L}]+", "\u1c89!"), (Pieces{"!"}));
  EXPECT_EQ(matched("\\p{^L}+", "ab12"), (Pieces{"12"}));
}

TEST(TokenizerBpeRegex, EmptyMatchesAsOnigurumaIteratesThem) {
  const auto matches = Regex("x*", kAt).find_matches("ab");
  const std::vector<std::tuple<size_t, size_t, bool>> expected = {
      {0, 0, true}, {0, 1, false}, {1, 1, true}, {1, 2, false}, {2, 2, true}};
  ASSERT_EQ(matches.size(), expected.size());
  for (size_t i = 0; i < matches.size(); ++i) {
    EXPECT_EQ(std::tuple(matches[i].start, matches[i].end, matches[i].is_match), expected[i]);
  }
  EXPECT_EQ(Regex("x", kAt).find_matches("").size(), 1u);
  EXPECT_EQ(matched("(?=\\^)", "a^b^"), (Pieces{"", ""}));
}

TEST(TokenizerBpeRegex, LiteralPatternsAreEscaped) {
  const Regex literal = Regex::literal("a.b*(c)", kAt);
  const auto matches = literal.find_matches("xa.b*(c)axb");
  ASSERT_EQ(matches.size(), 3u);
  EXPECT_TRUE(matches[1].is_match);
  EXPECT_EQ(matches[1].start, 1u);
  EXPECT_EQ(matches[1].end, 8u);
  // Escaped letters that Oniguruma takes literally and PCRE2 would not.
  EXPECT_EQ(matched("\\Q\\j\\E", "xQjE"), (Pieces{"QjE"}));
  EXPECT_EQ(matched("\\k.", "k!"), (Pieces{"k!"}));
  EXPECT_EQ(matched("\\O", "\n"), (Pieces{"\n"}));
}

TEST(TokenizerBpeRegex, SyntaxWithoutPcre2Equivalent) {
  for (const char* pattern : {"[a-z&&[^c]]", "[a[bc]]", "(?s).", "\\u12", "\\y"}) {
    try {
      Regex(pattern, kAt);
      ADD_FAILURE() << "no error for " << pattern;
    } catch (const hades::Error& e) {
      EXPECT_EQ(e.code(), hades::ErrorCode::unsupported) << e.what();
      EXPECT_NE(std::string(e.what()).find("test.json: pattern: regex '"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW(Regex("(", kAt), hades::Error);
}

TEST(TokenizerBpeByteLevel, ByteMapping) {
  EXPECT_EQ(hades::tok::byte_to_char(' '), U'\u0120');
  EXPECT_EQ(hades::tok::byte_to_char('\n'), U'\u010a');
  EXPECT_EQ(hades::tok::byte_to_char('a'), U'a');
  EXPECT_EQ(hades::tok::byte_to_char(0xAD), U'\u0143');
  EXPECT_EQ(hades::tok::byte_to_char(0xE9), U'\u00e9');
  for (unsigned b = 0; b < 256; ++b) {
    EXPECT_EQ(hades::tok::char_to_byte(hades::tok::byte_to_char(static_cast<uint8_t>(b))), b);
  }
  EXPECT_EQ(hades::tok::char_to_byte(U' '), std::nullopt);
  EXPECT_EQ(hades::tok::char_to_byte(U'\u0144'), std::nullopt);
  EXPECT_EQ(hades::tok::char_to_byte(U'\u4e2d'), std::nullopt);
}

TEST(TokenizerBpeByteLevel, LossyUtf8AsRust) {
  using hades::tok::utf8_lossy;
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(utf8_lossy("h\xC3\xA9llo"), "h\xC3\xA9llo");
  EXPECT_EQ(utf8_lossy("\xF0\x9F\x98"), fffd);  // a truncated sequence: one replacement
  EXPECT_EQ(utf8_lossy("a\xC3("), "a" + fffd + "(");
  EXPECT_EQ(utf8_lossy("\xED\xA0\x80"), fffd + fffd + fffd);  // a surrogate: each byte
  EXPECT_EQ(utf8_lossy("\xC0\xAF"), fffd + fffd);
  EXPECT_EQ(utf8_lossy("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);
  EXPECT_EQ(utf8_lossy("\xE2\x82"), fffd);
}

// The ByteLevel normalizer, a Split on a String, BPE over byte characters and the ByteLevel
// post-processor's offset trimming, against `tokenizers` 0.23.3 on one input.
TEST(TokenizerBpeByteLevel, NormalizerSplitAndTrimmedOffsets) {
  std::vector<char32_t> alphabet;
  for (unsigned b = 0; b < 256; ++b) alphabet.push_back(hades::tok::byte_to_char(b));
  std::sort(alphabet.begin(), alphabet.end());
  nlohmann::json vocab = nlohmann::json::object();
  for (const char32_t c : alphabet) {
    std::string token;
    hades::tok::append_utf8(token, c);
    vocab[token] = vocab.size();
  }
  for (const char* token : {"h\u00c3", "h\u00c3\u00a9", "ll", "llo", "\u0120w", "\u0120w\u00f6",
                            "\u00c3\u00b6", "\u0120w\u00c3\u00b6"}) {
    vocab[token] = vocab.size();
  }
  const nlohmann::json merges = nlohmann::json::parse(
      R"([["h", "\u00c3"], ["h\u00c3", "\u00a9"], ["l", "l"], ["ll", "o"], ["\u0120", "w"],
          ["\u00c3", "\u00b6"], ["\u0120w", "\u00c3\u00b6"]])");
  const nlohmann::json file = {
      {"normalizer", {{"type", "ByteLevel"}}},
      {"pre_tokenizer",
       {{"type", "Split"},
        {"pattern", {{"String", "\u0120"}}},
        {"behavior", "MergedWithNext"},
        {"invert", false}}},
      {"post_processor",
       {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
  const auto tokenizer = hades::Tokenizer::from_json(file.dump(), "t.json");
  const auto e = tokenizer.encode("h\u00e9llo w\u00f6rld  \u4e2d");
  EXPECT_EQ(e.ids, (std::vector<int32_t>{257, 259, 263, 81, 75, 67, 220, 220, 160, 116, 255}));
  EXPECT_EQ(e.offsets, (std::vector<std::pair<int64_t, int64_t>>{{0, 2},
                                                                 {2, 5},
                                                                 {6, 8},
                                                                 {8, 9},
                                                                 {9, 10},
                                                                 {10, 11},
                                                                 {12, 12},
                                                                 {13, 13},
                                                                 {13, 14},
                                                                 {13, 14},
                                                                 {13, 14}}));
  EXPECT_EQ(tokenizer.decode(e.ids), "h\u00e9llo w\u00f6rld  \u4e2d");
}

}  // namespace
