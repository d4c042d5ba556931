// Gemma-style BPE with byte fallback (mmBERT's tokenizer) on hostile files: a character whose
// "<0xNN>" tokens are missing becomes the unknown token, fused or not, or is dropped without one;
// byte tokens spelled otherwise are plain tokens to the model and bytes to the decoder, as in
// `tokenizers`; malformed fields and merges fail at load with the field named, and a missing
// unknown token fails when it is needed. The expected values are what `tokenizers` 0.23.3 gives
// for the same files.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/expect_error.hpp"
#include "tokenizer/tokenizer.hpp"

namespace {

using hades::ErrorCode;
using hades::test::expect_error;
using Json = nlohmann::json;
using Offsets = std::vector<std::pair<int64_t, int64_t>>;

// The layout of a converted Gemma tokenizer.json with mmBERT's template, over a vocabulary whose
// byte tokens are incomplete: <0xC3> <0xA9> (é), <0x97> <0xA5> but not <0xE6> (so no 日), a
// lowercase "<0xe6>" and a malformed "<0x1G>".
Json gemma_like() {
  return Json::parse(R"({
    "version": "1.0", "truncation": null, "padding": null,
    "added_tokens": [
      {"id": 0, "content": "<pad>", "single_word": false, "lstrip": false, "rstrip": false,
       "normalized": false, "special": true},
      {"id": 1, "content": "<eos>", "single_word": false, "lstrip": false, "rstrip": false,
       "normalized": false, "special": true},
      {"id": 2, "content": "<bos>", "single_word": false, "lstrip": false, "rstrip": false,
       "normalized": false, "special": true}],
    "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
    "pre_tokenizer": {"type": "Split", "pattern": {"String": " "},
                      "behavior": "MergedWithPrevious", "invert": false},
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}},
                 {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "<eos>", "type_id": 0}}],
      "pair": [{"SpecialToken": {"id": "<bos>", "type_id": 0}},
               {"Sequence": {"id": "A", "type_id": 0}},
               {"SpecialToken": {"id": "<eos>", "type_id": 0}},
               {"Sequence": {"id": "B", "type_id": 1}},
               {"SpecialToken": {"id": "<eos>", "type_id": 1}}],
      "special_tokens": {"<bos>": {"id": "<bos>", "ids": [2], "tokens": ["<bos>"]},
                         "<eos>": {"id": "<eos>", "ids": [1], "tokens": ["<eos>"]}}},
    "decoder": {"type": "Sequence", "decoders": [
      {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
      {"type": "ByteFallback"}, {"type": "Fuse"}]},
    "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>",
      "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": true,
      "byte_fallback": true, "ignore_merges": false,
      "vocab": {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<0xC3>": 4, "<0xA9>": 5,
                "<0xe6>": 6, "<0x1G>": 7, "h": 8, "i": 9, "\u2581": 10, "\u2581h": 11, "hi": 12,
                "\u2581hi": 13, "<0x97>": 14, "<0xA5>": 15},
      "merges": [["h", "i"], ["\u2581", "hi"], ["\u2581", "h"]]}
  })");
}

hades::Tokenizer load(const Json& j) {
  return hades::Tokenizer::from_json(j.dump(), "mmbert/tokenizer.json");
}

void expect_load_error(const Json& j, std::initializer_list<std::string_view> fragments) {
  expect_error([&] { load(j); }, ErrorCode::invalid_model, fragments);
}

TEST(ByteFallback, MissingByteTokensMakeTheCharacterUnknownAndFused) {
  const auto tokenizer = load(gemma_like());
  const auto e = tokenizer.encode("hi \u00e9 \u65e5\u672c hi");
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 12, 10, 4, 5, 10, 3, 13, 1}));
  EXPECT_EQ(e.tokens, (std::vector<std::string>{"<bos>", "hi", "\u2581", "<0xC3>", "<0xA9>",
                                                "\u2581", "<unk>", "\u2581hi", "<eos>"}));
  // Both byte tokens of é cover é; the fused <unk> covers both ideographs.
  EXPECT_EQ(e.offsets,
            (Offsets{{0, 0}, {0, 2}, {2, 3}, {3, 4}, {3, 4}, {4, 5}, {5, 7}, {7, 10}, {0, 0}}));
  EXPECT_EQ(tokenizer.decode(e.ids), "hi \u00e9 <unk> hi");
}

TEST(ByteFallback, OnlyTheUppercaseSpellingIsAByteTokenToTheModel) {
  Json j = gemma_like();
  j["model"]["vocab"]["<0xE6>"] = 16;
  const auto e = load(j).encode("\u00e9\u65e5\u672c");
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 4, 5, 16, 14, 15, 3, 1}));
  EXPECT_EQ(e.offsets, (Offsets{{0, 0}, {0, 1}, {0, 1}, {1, 2}, {1, 2}, {1, 2}, {2, 3}, {0, 0}}));
  EXPECT_EQ(load(j).decode(e.ids), "\u00e9\u65e5<unk>");
}

TEST(ByteFallback, TheDecoderReadsAnyHexSpellingAndReplacesBrokenBytes) {
  const auto tokenizer = load(gemma_like());
  // "<0xe6>" is byte E6 to the decoder, alone an invalid sequence; "<0x1G>" is no byte.
  EXPECT_EQ(tokenizer.decode({6, 7, 4, 5}), "\ufffd<0x1G>\u00e9");
  EXPECT_EQ(tokenizer.decode({4}), "\ufffd");
  EXPECT_EQ(tokenizer.decode({11, 6}), " h\ufffd");
}

TEST(ByteFallback, UnfusedOrAbsentUnknownTokens) {
  Json j = gemma_like();
  j["model"]["fuse_unk"] = false;
  auto e = load(j).encode("hi \u65e5\u672c");
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 12, 10, 3, 3, 1}));
  EXPECT_EQ(e.offsets, (Offsets{{0, 0}, {0, 2}, {2, 3}, {3, 4}, {4, 5}, {0, 0}}));
  j = gemma_like();
  j["model"]["unk_token"] = nullptr;  // without one, the character is dropped
  e = load(j).encode("hi \u65e5\u00e9");
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 12, 10, 4, 5, 1}));
  EXPECT_EQ(e.offsets, (Offsets{{0, 0}, {0, 2}, {2, 3}, {3, 4}, {3, 4}, {0, 0}}));
}

TEST(ByteFallback, AnUnknownTokenOutsideTheVocabularyFailsWhenNeeded) {
  Json j = gemma_like();
  j["model"]["unk_token"] = "<oops>";
  const auto tokenizer = load(j);
  EXPECT_EQ(tokenizer.encode("hi \u00e9").ids, (std::vector<int32_t>{2, 12, 10, 4, 5, 1}));
  expect_error([&] { tokenizer.encode("\u65e5"); }, ErrorCode::invalid_model,
               {"unknown token '<oops>'", "not in the vocabulary"});
}

TEST(ByteFallback, MalformedFieldsAndMergesNameTheField) {
  Json j = gemma_like();
  j["model"]["byte_fallback"] = "yes";
  expect_load_error(j, {"mmbert/tokenizer.json", "model.byte_fallback: expected a boolean"});
  j = gemma_like();
  j["model"]["fuse_unk"] = 1;
  expect_load_error(j, {"model.fuse_unk: expected a boolean"});
  j = gemma_like();
  j["model"]["ignore_merges"] = "no";
  expect_load_error(j, {"model.ignore_merges: expected a boolean"});
  j = gemma_like();
  j["model"]["ignore_merges"] = nullptr;  // as `tokenizers`: null is the default
  EXPECT_EQ(load(j).encode("hi").ids, (std::vector<int32_t>{2, 12, 1}));
  j = gemma_like();
  j["model"]["vocab"]["<0xC3>"] = "4";
  expect_load_error(j, {"model.vocab.<0xC3>: expected a non-negative"});
  j = gemma_like();
  j["model"]["vocab"].erase("\u2581hi");
  expect_load_error(j, {"model.merges[1]: ", "'\u2581hi' is not in the vocabulary"});
  j = gemma_like();
  j["model"]["merges"].push_back(Json::array({"<0xE6>", "<0x97>"}));
  expect_load_error(j, {"model.merges[3]: ", "'<0xE6>' is not in the vocabulary"});
  j = gemma_like();
  j["model"]["merges"][0] = Json::array({"h", "i", "x"});
  expect_load_error(j, {"model.merges[0]: ", "expected \"a b\" or [\"a\", \"b\"]"});
}

TEST(ByteFallback, MalformedGemmaPiecesNameTheField) {
  Json j = gemma_like();
  j["normalizer"]["pattern"] = Json::object();
  expect_load_error(j, {"normalizer.pattern"});
  j = gemma_like();
  j["normalizer"] = {{"type", "Prepend"}, {"prepend", 5}};
  expect_load_error(j, {"normalizer.prepend: expected a string"});
  j = gemma_like();
  j["pre_tokenizer"]["behavior"] = "Sideways";
  expect_load_error(j, {"pre_tokenizer.behavior", "Sideways"});
  j = gemma_like();
  j["decoder"]["decoders"][2] = {{"type", "Strip"}, {"content", " "}, {"start", -1}, {"stop", 0}};
  expect_load_error(j, {"decoder.decoders[2].start"});
}

}  // namespace
