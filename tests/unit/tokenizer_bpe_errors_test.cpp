// Byte-level BPE files that are malformed, or whose patterns misbehave: each must give an Error
// that names the file and the problem, and a catastrophic regex must fail fast instead of hanging.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>

#include "hades/error.hpp"
#include "tokenizer/tokenizer.hpp"

namespace {

using Json = nlohmann::json;

// A tiny valid byte-level BPE tokenizer.json; `tokenizers` 0.23.3 encodes "hello world hold" as
// [11, 15, 4, 0, 3, 16] with offsets (0,5) (6,11) (12,12) (12,13) (13,14) (14,16).
Json valid_bpe() {
  return Json::parse(R"({
    "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
    "normalizer": null,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
                      "use_regex": true},
    "post_processor": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
                       "use_regex": true},
    "decoder": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
                "use_regex": true},
    "model": {"type": "BPE", "dropout": null, "unk_token": null,
              "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": false,
              "byte_fallback": false, "ignore_merges": false,
              "vocab": {"h": 0, "e": 1, "l": 2, "o": 3, "\u0120": 4, "w": 5, "r": 6, "d": 7,
                        "he": 8, "ll": 9, "hell": 10, "hello": 11, "\u0120w": 12,
                        "\u0120wor": 13, "or": 14, "\u0120world": 15, "ld": 16},
              "merges": ["h e", "l l", "he ll", "hell o", "\u0120 w", "o r", "\u0120w or", "l d",
                         "\u0120wor ld"]}
  })");
}

hades::Tokenizer load(const Json& j) {
  return hades::Tokenizer::from_json(j.dump(), "my/tokenizer.json");
}

// Expects `fn` to throw an Error with `code` whose message contains every one of `parts`.
template <typename Fn>
void expect_error(Fn fn, hades::ErrorCode code, std::initializer_list<std::string_view> parts) {
  try {
    fn();
    FAIL() << "no error";
  } catch (const hades::Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    const std::string message = e.what();
    for (std::string_view part : parts) {
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
    }
  }
}

void expect_load_error(const Json& j, hades::ErrorCode code,
                       std::initializer_list<std::string_view> parts) {
  expect_error([&] { load(j); }, code, parts);
}

TEST(TokenizerBpeErrors, TheValidFixtureMatchesHuggingFace) {
  const auto tokenizer = load(valid_bpe());
  const auto e = tokenizer.encode("hello world hold");
  EXPECT_EQ(e.ids, (std::vector<int32_t>{11, 15, 4, 0, 3, 16}));
  EXPECT_EQ(e.offsets, (std::vector<std::pair<int64_t, int64_t>>{
                           {0, 5}, {6, 11}, {12, 12}, {12, 13}, {13, 14}, {14, 16}}));
  EXPECT_EQ(tokenizer.decode(e.ids), "hello world hold");
  Json arrays = valid_bpe();
  for (Json& m : arrays["model"]["merges"]) {
    const std::string line = m;
    m = Json::array({line.substr(0, line.find(' ')), line.substr(line.find(' ') + 1)});
  }
  EXPECT_EQ(load(arrays).encode("hello world hold").ids, e.ids);
}

TEST(TokenizerBpeErrors, MergesWithUnknownTokens) {
  Json j = valid_bpe();
  j["model"]["merges"][2] = "he zz";
  expect_load_error(
      j, hades::ErrorCode::invalid_model,
      {"my/tokenizer.json: model.merges[2]: ", "token 'zz' is not in the vocabulary"});
  j = valid_bpe();
  j["model"]["merges"][0] = "q e";
  expect_load_error(j, hades::ErrorCode::invalid_model,
                    {"model.merges[0]: ", "token 'q' is not in the vocabulary"});
  j = valid_bpe();
  j["model"]["merges"].push_back("e h");  // both known, "eh" is not
  expect_load_error(j, hades::ErrorCode::invalid_model,
                    {"model.merges[9]: ", "token 'eh' is not in the vocabulary"});
}

TEST(TokenizerBpeErrors, MalformedMerges) {
  Json j = valid_bpe();
  j["model"]["merges"][1] = "l l l";
  expect_load_error(j, hades::ErrorCode::invalid_model, {"model.merges[1]: ", "'l l l'"});
  j = valid_bpe();
  j["model"]["merges"][1] = "ll";
  expect_load_error(j, hades::ErrorCode::invalid_model, {"model.merges[1]: ", "expected \"a b\""});
  j = valid_bpe();
  j["model"]["merges"] = Json::array({Json::array({"h", "e"}), "l l"});
  expect_load_error(j, hades::ErrorCode::invalid_model, {"model.merges[1]: ", "mixes"});
  j = valid_bpe();
  j["model"]["merges"] = Json::array({Json::array({1, 2})});
  expect_load_error(j, hades::ErrorCode::invalid_model, {"model.merges[0][0]: expected a string"});
  j = valid_bpe();
  j["model"]["merges"] = "h e";
  expect_load_error(j, hades::ErrorCode::invalid_model, {"model.merges: expected an array"});
  j = valid_bpe();
  j["model"].erase("merges");
  expect_load_error(j, hades::ErrorCode::invalid_model, {"model.merges: missing field"});
  j = valid_bpe();
  j["model"]["continuing_subword_prefix"] = "####";
  expect_load_error(j, hades::ErrorCode::invalid_model,
                    {"model.merges[0]: ", "shorter than the continuing_subword_prefix"});
}

TEST(TokenizerBpeErrors, BadModelFields) {
  Json j = valid_bpe();
  j["model"]["dropout"] = 1.5;
  expect_load_error(j, hades::ErrorCode::invalid_model, {"model.dropout: ", "between 0 and 1"});
  j = valid_bpe();
  j["model"]["dropout"] = 0.1;  // ignored at inference
  EXPECT_EQ(load(j).encode("hello").ids, std::vector<int32_t>{11});
  j = valid_bpe();
  j["model"]["fuse_unk"] = "yes";
  expect_load_error(j, hades::ErrorCode::invalid_model, {"model.fuse_unk: expected a boolean"});
  j = valid_bpe();
  j["model"]["vocab"]["h"] = -3;
  expect_load_error(j, hades::ErrorCode::invalid_model, {"model.vocab.h: expected a non-negative"});
  j = valid_bpe();
  j["pre_tokenizer"]["use_regex"] = 1;
  expect_load_error(j, hades::ErrorCode::invalid_model,
                    {"pre_tokenizer.use_regex: expected a boolean"});
}

TEST(TokenizerBpeErrors, UnknownTokenMissingFromTheVocabularyFailsWhenNeeded) {
  Json j = valid_bpe();
  j["model"]["unk_token"] = "<unk>";
  const auto tokenizer = load(j);
  EXPECT_EQ(tokenizer.encode("hello").ids, std::vector<int32_t>{11});
  expect_error([&] { tokenizer.encode("hellz"); }, hades::ErrorCode::invalid_model,
               {"unknown token '<unk>'"});
  j["model"]["unk_token"] = nullptr;  // without one, unknown characters are dropped
  EXPECT_EQ(load(j).encode("hellz").ids, (std::vector<int32_t>{10}));
}

Json with_split(const std::string& regex, const std::string& behavior = "Isolated") {
  Json j = valid_bpe();
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"},
                           {"pattern", {{"Regex", regex}}},
                           {"behavior", behavior},
                           {"invert", false}},
                          j["pre_tokenizer"]}}};
  return j;
}

TEST(TokenizerBpeErrors, BadRegexes) {
  expect_load_error(with_split("(ab"), hades::ErrorCode::invalid_model,
                    {"my/tokenizer.json: pre_tokenizer.pretokenizers[0].pattern.Regex: ",
                     "regex '(ab' does not compile"});
  expect_load_error(with_split("[a-z&&[^c]]"), hades::ErrorCode::unsupported,
                    {"pattern.Regex: ", "intersection"});
  expect_load_error(with_split("(?s)."), hades::ErrorCode::unsupported,
                    {"pattern.Regex: ", "group option 's'"});
  expect_load_error(with_split("a", "Sideways"), hades::ErrorCode::invalid_model,
                    {"pretokenizers[0].behavior: unknown split behavior 'Sideways'"});
  Json j = with_split("a");
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"] = {{"Glob", "*"}};
  expect_load_error(j, hades::ErrorCode::invalid_model,
                    {"pretokenizers[0].pattern: expected {\"String\": ...} or {\"Regex\": ...}"});
  j = valid_bpe();
  j["normalizer"] = {{"type", "Replace"}, {"pattern", {{"Regex", "[z-a]"}}}, {"content", ""}};
  expect_load_error(j, hades::ErrorCode::invalid_model,
                    {"normalizer.pattern.Regex: ", "does not compile"});
}

// A pattern that backtracks exponentially must stop at PCRE2's match limit: an error for that
// input, quickly, and the tokenizer stays usable.
TEST(TokenizerBpeErrors, CatastrophicRegexFailsFastInsteadOfHanging) {
  const auto tokenizer = load(with_split("(a+)+$"));
  const std::string evil = std::string(40, 'a') + "!";
  const auto start = std::chrono::steady_clock::now();
  expect_error([&] { tokenizer.encode(evil); }, hades::ErrorCode::input_invalid,
               {"my/tokenizer.json: regex '(a+)+$'", "limit"});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 5.0);
  EXPECT_EQ(tokenizer.encode("hello").ids, std::vector<int32_t>{11});

  Json j = valid_bpe();
  j["normalizer"] = {{"type", "Replace"}, {"pattern", {{"Regex", "(x|xx)+$"}}}, {"content", "-"}};
  const auto replacing = load(j);
  expect_error([&] { replacing.encode(std::string(60, 'x') + "!"); },
               hades::ErrorCode::input_invalid, {"regex '(x|xx)+$'"});
}

TEST(TokenizerBpeErrors, Decoders) {
  Json j = valid_bpe();
  j["decoder"] = {{"type", "Telepathy"}};
  expect_load_error(j, hades::ErrorCode::invalid_model, {"decoder.type: unknown decoder"});
  j["decoder"] = {{"type", "CTC"}};
  const auto tokenizer = load(j);  // encoding works, decoding says why it cannot
  EXPECT_EQ(tokenizer.encode("hello").ids, std::vector<int32_t>{11});
  expect_error([&] { tokenizer.decode({11}); }, hades::ErrorCode::unsupported, {"decoder 'CTC'"});
  j.erase("decoder");
  EXPECT_EQ(load(j).decode({11, 15, 99}), "hello \u0120world");  // no decoder: joined by spaces
}

}  // namespace
