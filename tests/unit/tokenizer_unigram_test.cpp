// The SentencePiece pieces of tokenizer.json on small hand-made files: the Unigram model's
// segmentation, a hand-built precompiled_charsmap, Metaspace's options, and the errors that
// hostile files (a broken charsmap above all) must give.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "hades/error.hpp"
#include "support/expect_error.hpp"
#include "tokenizer/tokenizer.hpp"

namespace {

using Json = nlohmann::json;
using hades::test::expect_error;

// A charsmap blob: the trie's units after their 4-byte size, then the normalized strings.
std::string charsmap_blob(const std::vector<uint32_t>& units, const std::string& normalized) {
  std::string blob;
  const auto put = [&](uint32_t v) {
    for (int k = 0; k < 4; ++k) blob.push_back(static_cast<char>((v >> (8 * k)) & 0xFF));
  };
  put(static_cast<uint32_t>(4 * units.size()));
  for (const uint32_t u : units) put(u);
  return blob + normalized;
}

std::string base64(const std::string& bytes) {
  static constexpr char kDigits[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t group = 0;
    for (size_t k = 0; k < 3; ++k) {
      const auto b = i + k < bytes.size() ? static_cast<unsigned char>(bytes[i + k]) : 0u;
      group = (group << 8) | b;
    }
    const size_t chars = std::min<size_t>(bytes.size() - i, 3) + 1;
    for (size_t k = 0; k < 4; ++k) {
      out.push_back(k < chars ? kDigits[(group >> (18 - 6 * k)) & 0x3F] : '=');
    }
  }
  return out;
}

// A double array in which 'a' (97) leads to a leaf whose value is 0: "a" becomes the first
// normalized string. The root's offset is 0, so byte c is looked for at unit c; unit 97 has label
// 97, the leaf bit and offset 1, so its value sits at unit 97 ^ 1 = 96.
std::vector<uint32_t> units_mapping_a() {
  std::vector<uint32_t> units(128, 0);
  units[97] = 97u | (1u << 8) | (1u << 10);
  units[96] = 0;  // value: offset 0 of the normalized strings
  return units;
}

Json unigram_tokenizer(const std::string& charsmap) {
  Json j = Json::parse(R"({
    "version": "1.0",
    "added_tokens": [
      {"id": 0, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false,
       "normalized": false, "special": true},
      {"id": 1, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false,
       "normalized": false, "special": true},
      {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false,
       "normalized": false, "special": true}],
    "normalizer": null,
    "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
                      "split": true},
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "</s>", "type_id": 0}}],
      "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
               {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}},
               {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
      "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]},
                         "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}},
    "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
                "split": true},
    "model": {"type": "Unigram", "unk_id": 1, "byte_fallback": false,
              "vocab": [["<s>", 0.0], ["<unk>", 0.0], ["</s>", 0.0], ["\u2581", -2.0],
                        ["\u2581A", -3.0], ["b", -2.5], ["\u2581Ab", -4.0], ["A", -2.0],
                        ["\u2581c", -3.5], ["c", -1.0]]}
  })");
  j["normalizer"] = {{"type", "Precompiled"}, {"precompiled_charsmap", charsmap}};
  return j;
}

hades::Tokenizer load(const Json& j) {
  return hades::Tokenizer::from_json(j.dump(), "my/tokenizer.json");
}

TEST(Unigram, ViterbiPicksTheBestScoringSegmentation) {
  const auto tokenizer = load(unigram_tokenizer(base64(charsmap_blob(units_mapping_a(), "A"))));
  // "ab" is normalized to "Ab", then "▁Ab": the one piece "▁Ab" (-4) beats "▁A" + "b" (-5.5)
  // and "▁" + "A" + "b" (-6.5).
  auto e = tokenizer.encode("ab", false);
  EXPECT_EQ(e.tokens, (std::vector<std::string>{"\u2581Ab"}));
  EXPECT_EQ(e.offsets, (std::vector<std::pair<int64_t, int64_t>>{{0, 2}}));
  // "c": "▁" + "c" (-3) beats "▁c" (-3.5). Unknown characters next to each other are one <unk>
  // whose token is their text.
  e = tokenizer.encode("c xyb", true);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{0, 3, 9, 3, 1, 5, 2}));
  EXPECT_EQ(e.tokens,
            (std::vector<std::string>{"<s>", "\u2581", "c", "\u2581", "xy", "b", "</s>"}));
  EXPECT_EQ(e.offsets[4], (std::pair<int64_t, int64_t>{2, 4}));
  // Special tokens skipped; the first token's "▁" dropped, the others' become spaces.
  EXPECT_EQ(tokenizer.decode(e.ids), "c b");
  EXPECT_EQ(tokenizer.decode({4, 5, 3, 9}, false), "Ab c");
  EXPECT_EQ(tokenizer.vocab_size(), 10u);
  EXPECT_EQ(tokenizer.id_to_token(6), "\u2581Ab");
}

TEST(Unigram, MetaspaceSchemes) {
  Json j = unigram_tokenizer(base64(charsmap_blob(units_mapping_a(), "A")));
  j["pre_tokenizer"]["prepend_scheme"] = "never";
  j["decoder"]["prepend_scheme"] = "never";
  auto tokenizer = load(j);
  EXPECT_EQ(tokenizer.encode("c c", false).tokens, (std::vector<std::string>{"c", "\u2581", "c"}));
  EXPECT_EQ(tokenizer.decode({3, 9}), " c");
  j["pre_tokenizer"]["split"] = false;
  j["pre_tokenizer"]["prepend_scheme"] = "first";
  tokenizer = load(j);
  EXPECT_EQ(tokenizer.encode("c c", false).tokens,
            (std::vector<std::string>{"\u2581", "c", "\u2581", "c"}));
  // The legacy spelling: add_prefix_space false must come with "never".
  j["pre_tokenizer"] = {
      {"type", "Metaspace"}, {"replacement", "\u2581"}, {"add_prefix_space", false}};
  expect_error([&] { load(j); }, hades::ErrorCode::invalid_model,
               {"pre_tokenizer.add_prefix_space: ", "prepend_scheme"});
  j["pre_tokenizer"]["prepend_scheme"] = "never";
  EXPECT_EQ(load(j).encode("c", false).tokens, (std::vector<std::string>{"c"}));
  j["pre_tokenizer"]["replacement"] = "ab";
  expect_error([&] { load(j); }, hades::ErrorCode::invalid_model,
               {"pre_tokenizer.replacement: expected one character"});
  j["pre_tokenizer"]["replacement"] = "\u2581";
  j["pre_tokenizer"]["prepend_scheme"] = "sometimes";
  expect_error([&] { load(j); }, hades::ErrorCode::invalid_model,
               {"pre_tokenizer.prepend_scheme: ", "'sometimes'"});
}

TEST(Unigram, HostileModels) {
  const std::string charsmap = base64(charsmap_blob(units_mapping_a(), "A"));
  Json j = unigram_tokenizer(charsmap);
  j["model"]["unk_id"] = 10;
  expect_error([&] { load(j); }, hades::ErrorCode::invalid_model,
               {"my/tokenizer.json: model.unk_id: ", "not below the 10 pieces"});
  j["model"]["vocab"] = Json::array();
  expect_error([&] { load(j); }, hades::ErrorCode::invalid_model, {"model.vocab: ", "empty"});
  j["model"]["vocab"] = Json::array({Json::array({"a", "high"})});
  expect_error([&] { load(j); }, hades::ErrorCode::invalid_model,
               {"model.vocab[0]: expected [piece, score]"});
  j = unigram_tokenizer(charsmap);
  j["model"].erase("vocab");
  expect_error([&] { load(j); }, hades::ErrorCode::invalid_model, {"model.vocab: missing field"});
  // Without unk_id, a character that no piece covers fails the encode, as in HF.
  j = unigram_tokenizer(charsmap);
  j["model"]["unk_id"] = nullptr;
  const auto tokenizer = load(j);
  EXPECT_EQ(tokenizer.encode("c", false).tokens, (std::vector<std::string>{"\u2581", "c"}));
  expect_error([&] { tokenizer.encode("x"); }, hades::ErrorCode::invalid_model, {"unk_id"});
}

void expect_charsmap_error(const std::string& charsmap, std::string_view part) {
  expect_error([&] { load(unigram_tokenizer(charsmap)).encode("ab c"); },
               hades::ErrorCode::invalid_model,
               {"my/tokenizer.json: normalizer.precompiled_charsmap: ", part});
}

TEST(Unigram, HostileCharsmaps) {
  expect_charsmap_error("AAAA=", "base64");
  expect_charsmap_error("AA=A", "base64");
  expect_charsmap_error("AAA*", "base64");
  expect_charsmap_error("AB==", "trailing bits");
  expect_charsmap_error("", "shorter than its 4-byte header");
  expect_charsmap_error(base64(std::string("\x10\0\0\0\0\0\0\0", 8)), "announces a trie of 16");
  expect_charsmap_error(base64(charsmap_blob({}, "A")), "the trie is empty");
  expect_charsmap_error(base64(charsmap_blob(units_mapping_a(), "\xC3")), "not valid UTF-8");
  // The root's offset sends every byte outside the array.
  expect_charsmap_error(base64(charsmap_blob({1000u << 10}, "A")), "unit");
  // A leaf whose value points past the normalized strings, or inside a character.
  std::vector<uint32_t> units = units_mapping_a();
  units[96] = 7;
  expect_charsmap_error(base64(charsmap_blob(units, "A")), "replacement starts at byte 7");
  units[96] = 1;
  expect_charsmap_error(base64(charsmap_blob(units, "\u00e9")), "replacement starts at byte 1");
  // A size that is not a multiple of 4: the extra bytes belong to the normalized strings (HF).
  std::string blob = charsmap_blob(units_mapping_a(), "A");
  blob[0] = static_cast<char>(blob[0] + 1);
  EXPECT_EQ(load(unigram_tokenizer(base64(blob))).encode("a", false).tokens,
            (std::vector<std::string>{"\u2581A"}));
}

}  // namespace
