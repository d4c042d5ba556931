// Malformed tokenizer.json files: each must give an Error that names the file and the problem.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

#include "hades/error.hpp"
#include "support/paths.hpp"
#include "tokenizer/tokenizer.hpp"

namespace {

using Json = nlohmann::json;

// A small, valid WordPiece tokenizer.json to break in each test.
Json valid_tokenizer() {
  return Json::parse(R"({
    "version": "1.0",
    "truncation": null,
    "padding": null,
    "added_tokens": [
      {"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false,
       "normalized": false, "special": true},
      {"id": 1, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false,
       "normalized": false, "special": true}
    ],
    "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                   "strip_accents": null, "lowercase": true},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
    "decoder": null,
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
              "max_input_chars_per_word": 100,
              "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "hello": 4, "world": 5,
                        "##s": 6, ",": 7}}
  })");
}

// Expects loading `json_text` to fail with `code` and a message containing every `parts`.
void expect_error(const std::string& json_text, hades::ErrorCode code,
                  std::initializer_list<std::string_view> parts) {
  try {
    hades::Tokenizer::from_json(json_text, "my/tokenizer.json");
    FAIL() << "no error for " << json_text.substr(0, 200);
  } catch (const hades::Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    const std::string message = e.what();
    EXPECT_NE(message.find("my/tokenizer.json: "), std::string::npos) << message;
    for (std::string_view part : parts) {
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
    }
  }
}

void expect_error(const Json& json, hades::ErrorCode code,
                  std::initializer_list<std::string_view> parts) {
  expect_error(json.dump(), code, parts);
}

TEST(TokenizerErrors, TheValidFixtureLoads) {
  const auto tokenizer = hades::Tokenizer::from_json(valid_tokenizer().dump(), "t.json");
  const auto e = tokenizer.encode("Hello, worlds");
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 4, 7, 5, 6, 3}));
}

TEST(TokenizerErrors, BrokenJson) {
  expect_error(std::string("{\"version\": \"1.0\", "), hades::ErrorCode::invalid_model,
               {"not valid JSON"});
  expect_error(std::string(""), hades::ErrorCode::invalid_model, {"not valid JSON"});
  expect_error(std::string("[1, 2]"), hades::ErrorCode::invalid_model, {"expected an object"});
}

TEST(TokenizerErrors, UnknownVersion) {
  Json j = valid_tokenizer();
  j["version"] = "2.0";
  expect_error(j, hades::ErrorCode::invalid_model,
               {"version: ", "unknown tokenizer version '2.0'"});
}

TEST(TokenizerErrors, UnknownTypes) {
  Json j = valid_tokenizer();
  j["normalizer"] = {{"type", "Foo"}};
  expect_error(j, hades::ErrorCode::invalid_model, {"normalizer.type: unknown normalizer 'Foo'"});
  j = valid_tokenizer();
  j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {{{"type", "Bar"}}}}};
  expect_error(j, hades::ErrorCode::invalid_model,
               {"pre_tokenizer.pretokenizers[0].type: unknown pre-tokenizer 'Bar'"});
  j = valid_tokenizer();
  j["post_processor"] = {{"type", "Baz"}};
  expect_error(j, hades::ErrorCode::invalid_model, {"post_processor.type: unknown post-processor"});
  j = valid_tokenizer();
  j["model"]["type"] = "Qux";
  expect_error(j, hades::ErrorCode::invalid_model, {"model.type: unknown model 'Qux'"});
  j = valid_tokenizer();
  j["normalizer"] = "BertNormalizer";
  expect_error(j, hades::ErrorCode::invalid_model, {"normalizer: expected an object"});
  j = valid_tokenizer();
  j["normalizer"] = {{"clean_text", true}};
  expect_error(j, hades::ErrorCode::invalid_model, {"normalizer.type: missing field"});
}

TEST(TokenizerErrors, KnownButUnsupportedComponents) {
  Json j = valid_tokenizer();
  j["model"] = {{"type", "WordLevel"}, {"vocab", Json::object()}};
  expect_error(j, hades::ErrorCode::unsupported, {"model.type: ", "'WordLevel' is not supported"});
  j = valid_tokenizer();
  j["pre_tokenizer"] = {{"type", "CharDelimiterSplit"}, {"delimiter", "_"}};
  expect_error(j, hades::ErrorCode::unsupported, {"pre_tokenizer.type: ", "'CharDelimiterSplit'"});
  j = valid_tokenizer();
  j["normalizer"] = {
      {"type", "Replace"}, {"pattern", {{"Regex", "[a-z&&[^c]]"}}}, {"content", " "}};
  expect_error(j, hades::ErrorCode::unsupported, {"normalizer.pattern.Regex: ", "intersection"});
  j = valid_tokenizer();
  j["normalizer"] = {{"type", "Nmt"}};
  expect_error(j, hades::ErrorCode::unsupported, {"normalizer.type: ", "'Nmt'"});
}

TEST(TokenizerErrors, MissingModelAndVocab) {
  Json j = valid_tokenizer();
  j.erase("model");
  expect_error(j, hades::ErrorCode::invalid_model, {"model: missing field"});
  j = valid_tokenizer();
  j["model"].erase("vocab");
  expect_error(j, hades::ErrorCode::invalid_model, {"model.vocab: missing field"});
  j = valid_tokenizer();
  j["model"].erase("unk_token");
  expect_error(j, hades::ErrorCode::invalid_model, {"model.unk_token: missing field"});
}

TEST(TokenizerErrors, WrongFieldTypes) {
  Json j = valid_tokenizer();
  j["model"]["vocab"]["hello"] = "four";
  expect_error(j, hades::ErrorCode::invalid_model,
               {"model.vocab.hello: expected a non-negative integer"});
  j = valid_tokenizer();
  j["model"]["vocab"] = Json::array({"a", "b"});
  expect_error(j, hades::ErrorCode::invalid_model, {"model.vocab: expected an object"});
  j = valid_tokenizer();
  j["model"]["max_input_chars_per_word"] = -1;
  expect_error(j, hades::ErrorCode::invalid_model, {"model.max_input_chars_per_word: "});
  j = valid_tokenizer();
  j["normalizer"]["lowercase"] = "yes";
  expect_error(j, hades::ErrorCode::invalid_model, {"normalizer.lowercase: expected a boolean"});
  j = valid_tokenizer();
  j["added_tokens"][1]["content"] = 5;
  expect_error(j, hades::ErrorCode::invalid_model, {"added_tokens[1].content: expected a string"});
  j = valid_tokenizer();
  j["truncation"] = {{"max_length", 8}, {"stride", 0}, {"strategy", "Sideways"}};
  expect_error(j, hades::ErrorCode::invalid_model,
               {"truncation.strategy: unknown truncation strategy"});
  j = valid_tokenizer();
  j["padding"] = {{"strategy", {{"Fixed", "long"}}},
                  {"direction", "Right"},
                  {"pad_id", 0},
                  {"pad_type_id", 0},
                  {"pad_token", "[PAD]"}};
  expect_error(j, hades::ErrorCode::invalid_model,
               {"padding.strategy.Fixed: expected a non-negative"});
  j = valid_tokenizer();
  j["post_processor"] = {{"type", "TemplateProcessing"},
                         {"single", {{{"SpecialToken", {{"id", "[CLS]"}, {"type_id", 0}}}}}},
                         {"pair", Json::array()},
                         {"special_tokens", Json::object()}};
  expect_error(j, hades::ErrorCode::invalid_model,
               {"post_processor.single[0]: special token '[CLS]' is not in special_tokens"});
}

TEST(TokenizerErrors, MissingUnknownTokenFailsWhenNeeded) {
  Json j = valid_tokenizer();
  j["model"]["unk_token"] = "<unk>";
  const auto tokenizer = hades::Tokenizer::from_json(j.dump(), "t.json");
  EXPECT_EQ(tokenizer.encode("hello", false).ids, std::vector<int32_t>{4});
  try {
    tokenizer.encode("zzz");
    FAIL() << "no error";
  } catch (const hades::Error& e) {
    EXPECT_EQ(e.code(), hades::ErrorCode::invalid_model);
    EXPECT_NE(std::string(e.what()).find("<unk>"), std::string::npos) << e.what();
  }
}

TEST(TokenizerErrors, FileErrorsNameThePath) {
  try {
    hades::Tokenizer::from_file("/nonexistent/dir/tokenizer.json");
    FAIL() << "no error";
  } catch (const hades::Error& e) {
    EXPECT_EQ(e.code(), hades::ErrorCode::not_found);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/tokenizer.json"), std::string::npos);
  }
}

std::string repeat(const std::string& text, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += text;
  return out;
}

// Nesting deep enough that a recursive walk (parsing, destroying, or the loader's own recursion
// through Sequence components) would overflow the stack is refused first.
TEST(TokenizerErrors, DeeplyNestedJson) {
  const int depth = 200'000;
  expect_error("{\"model\": " + repeat("[", depth) + repeat("]", depth) + "}",
               hades::ErrorCode::invalid_model, {"deep"});
}

TEST(TokenizerErrors, DeeplyNestedSequenceNormalizers) {
  const int depth = 100'000;
  Json tokenizer = valid_tokenizer();
  const std::string open = R"({"type": "Sequence", "normalizers": [)";
  const std::string normalizer =
      repeat(open, depth) + R"({"type": "Lowercase"})" + repeat("]}", depth);
  tokenizer["normalizer"] = "NESTED";
  std::string text = tokenizer.dump();
  text.replace(text.find("\"NESTED\""), 8, normalizer);
  expect_error(text, hades::ErrorCode::invalid_model, {"deep"});
}

// Found by fuzzing: a number beyond double is nlohmann's out_of_range, not a parse_error.
TEST(TokenizerErrors, NumberOutOfRange) {
  Json tokenizer = valid_tokenizer();
  tokenizer["model"]["max_input_chars_per_word"] = "HUGE";
  std::string text = tokenizer.dump();
  text.replace(text.find("\"HUGE\""), 6, "1e999");
  expect_error(text, hades::ErrorCode::invalid_model, {"not valid JSON"});
}

// The model's vocabulary is read outside the JSON tree (json_reader.hpp); it must mean what the
// tree would: a later duplicate key replaces an earlier one, and a bad entry is named.
TEST(TokenizerErrors, TheVocabularyReadsAsTheTreeWould) {
  const std::string text = valid_tokenizer().dump();  // keys sorted: "vocab" ends "model"
  const auto inserted = [&](std::string_view after, std::string_view what) {
    std::string t = text;
    t.insert(t.find(after) + after.size(), what);
    return t;
  };
  // A later "hello" wins.
  EXPECT_EQ(hades::Tokenizer::from_json(inserted("\"world\":5", ",\"hello\":6"), "t.json")
                .token_to_id("hello"),
            6);
  // A later "vocab" that is not an object replaces the valid one.
  expect_error(inserted("\"world\":5}", ",\"vocab\":[1,2]"), hades::ErrorCode::invalid_model,
               {"model.vocab: expected an object"});
  // A later "model" without a vocabulary replaces the one with it.
  std::string second_model = text;
  second_model.insert(second_model.rfind('}'),
                      R"(,"model":{"type":"WordPiece","unk_token":"[UNK]",)"
                      R"("continuing_subword_prefix":"##","max_input_chars_per_word":100})");
  expect_error(second_model, hades::ErrorCode::invalid_model, {"model.vocab: missing field"});
  // An entry whose id is a container is named.
  std::string nested = text;
  nested.replace(nested.find("\"hello\":4"), 9, R"("hello":{"a":[1,{"b":2}]})");
  expect_error(nested, hades::ErrorCode::invalid_model,
               {"model.vocab.hello: expected a non-negative integer"});
  // "vocab" outside the root's "model" stays in the tree (here an unknown field of a pre-tokenizer
  // the loader does not read) and does not replace the model's.
  std::string elsewhere = text;
  elsewhere.insert(elsewhere.find("\"type\":\"BertPreTokenizer\""), R"("vocab":{"x":1},)");
  EXPECT_EQ(hades::Tokenizer::from_json(elsewhere, "t.json").token_to_id("world"), 5);
}

}  // namespace
