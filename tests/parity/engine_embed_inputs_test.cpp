// The engine's embed inputs and options beyond plain text, on the tiny sentence-transformers 6
// model (tests/data/models/tiny-st6-bert-mean-normalize, max_seq_length 24):
//  - truncation_direction left equals HF tokenizers' enable_truncation(direction="left") and
//    SentenceTransformer with truncation_side "left" (left_truncation.json, made by
//    tools/fixtures/gen_left_truncation_fixture.py);
//  - token ids (OpenAI's and TEI's token-id inputs) embed as the text they tokenize;
//  - a default prompt per load, and the config's default_prompt_name, as encode(prompt_name=).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "engine/runtime.hpp"
#include "hades/error.hpp"
#include "models/embedding_model.hpp"
#include "support/compare.hpp"
#include "support/expect_error.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace hades {
namespace {

using test::expect_error;
using test::max_abs_diff;
using Rows = std::vector<std::vector<float>>;

const std::filesystem::path& folder() {
  static const std::filesystem::path dir =
      test::data_dir() / "models" / "tiny-st6-bert-mean-normalize";
  return dir;
}

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

const nlohmann::json& reference() {
  static const nlohmann::json ref = read_json(folder() / "reference.json");
  return ref;
}

const nlohmann::json& left_truncation() {
  static const nlohmann::json ref = read_json(folder() / "left_truncation.json");
  return ref;
}

runtime::Engine make_engine() {
  runtime::EngineConfig config;
  config.default_device = "cpu";
  return runtime::Engine(config);
}

void expect_rows(const runtime::EmbeddingResult& got, const Rows& expected, float tolerance) {
  ASSERT_EQ(got.values.size(), expected.size() * expected[0].size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const std::span<const float> row(got.values.data() + i * expected[i].size(),
                                     expected[i].size());
    EXPECT_LE(max_abs_diff(row, expected[i]), tolerance) << "input " << i;
  }
}

std::vector<std::string> texts() {
  return reference().at("texts").get<std::vector<std::string>>();
}

TEST(EngineEmbedInputs, LeftTruncationEqualsTokenizersAndSentenceTransformers) {
  const auto fixture_texts = left_truncation().at("texts").get<std::vector<std::string>>();
  const auto ids = left_truncation().at("input_ids").get<std::vector<std::vector<int32_t>>>();
  const std::unique_ptr<EmbeddingModel> model = EmbeddingModel::load(folder());
  const std::vector<Encoding> left =
      model->tokenize(fixture_texts, true, TruncationDirection::left);
  const std::vector<Encoding> right = model->tokenize(fixture_texts, true);
  ASSERT_EQ(left.size(), ids.size());
  size_t differs = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(left[i].ids, ids[i]) << "text " << i;
    differs += left[i].ids != right[i].ids ? 1 : 0;
  }
  EXPECT_GE(differs, 2u);  // the long texts: the fixture tells the two ends apart

  runtime::Engine engine = make_engine();
  runtime::EmbedRequest request{.model = folder().string(), .inputs = fixture_texts};
  request.truncation_direction = TruncationDirection::left;
  expect_rows(engine.embed(request), left_truncation().at("embeddings").get<Rows>(), 1e-5f);
  runtime::TokenizeRequest tokenize{.model = folder().string(), .inputs = fixture_texts};
  tokenize.truncation_direction = TruncationDirection::left;
  const runtime::TokenizationResult tokens = engine.tokenize(tokenize);
  for (size_t i = 0; i < ids.size(); ++i)
    EXPECT_EQ(tokens.encodings[i].ids, ids[i]) << "text " << i;
}

TEST(EngineEmbedInputs, TokenIdsEmbedAsTheirText) {
  runtime::Engine engine = make_engine();
  const std::string model = folder().string();
  const runtime::TokenizationResult tokens = engine.tokenize({.model = model, .inputs = texts()});
  runtime::EmbedRequest by_ids{.model = model};
  for (const Encoding& e : tokens.encodings) by_ids.token_ids.push_back(e.ids);
  const runtime::EmbeddingResult from_ids = engine.embed(by_ids);
  const runtime::EmbeddingResult from_text = engine.embed({.model = model, .inputs = texts()});
  EXPECT_LE(max_abs_diff(from_ids.values, from_text.values), 1e-6f);
  EXPECT_EQ(from_ids.tokens, from_text.tokens);
  expect_rows(from_ids, reference().at("embeddings").get<Rows>(), 1e-5f);

  // With a prompt the ids are decoded and embedded as the prompt and their text, as TEI does.
  runtime::EmbedRequest prompted{.model = model, .token_ids = {by_ids.token_ids[0]}};
  prompted.prompt_name = "query";
  const Rows query_rows = reference().at("embeddings_prompt_query").get<Rows>();
  expect_rows(engine.embed(prompted), {query_rows[0]}, 1e-5f);
}

TEST(EngineEmbedInputs, TokenIdsAreCheckedAndCutAsAsked) {
  runtime::Engine engine = make_engine();
  const std::string model = folder().string();
  const int32_t vocab =
      static_cast<int32_t>(EmbeddingModel::load(folder())->tokenizer().vocab_size());
  runtime::EmbedRequest bad{.model = model, .token_ids = {{2, 40, 3}, {2, vocab, 3}}};
  expect_error([&] { engine.embed(bad); }, ErrorCode::input_invalid,
               {"input 1", "token id " + std::to_string(vocab), "vocabulary"});
  bad.token_ids = {{2, 40, 3}, {}};
  expect_error([&] { engine.embed(bad); }, ErrorCode::invalid_argument, {"input 1", "no token"});
  const runtime::EmbedRequest both{.model = model, .inputs = {"a"}, .token_ids = {{2, 3}}};
  expect_error([&] { engine.embed(both); }, ErrorCode::invalid_argument, {"not both"});

  // 30 ids for a 24-token model: refused unless truncation is asked for, then cut at that end.
  std::vector<int32_t> long_ids = {2};
  for (int32_t i = 0; i < 28; ++i) long_ids.push_back(300 + i);
  long_ids.push_back(3);
  runtime::EmbedRequest overlong{.model = model, .token_ids = {long_ids}, .truncate = false};
  expect_error([&] { engine.embed(overlong); }, ErrorCode::input_invalid,
               {"input 0 has 30 tokens", "at most 24"});
  overlong.truncate = true;
  overlong.truncation_direction = TruncationDirection::left;
  const runtime::EmbeddingResult cut = engine.embed(overlong);
  const runtime::EmbedRequest last{
      .model = model, .token_ids = {std::vector<int32_t>(long_ids.end() - 24, long_ids.end())}};
  EXPECT_EQ(cut.tokens, 24);
  EXPECT_LE(max_abs_diff(cut.values, engine.embed(last).values), 1e-6f);
}

TEST(EngineEmbedInputs, ALoadsDefaultPromptAppliesUntilARequestNamesItsOwn) {
  runtime::Engine engine = make_engine();
  const std::string model = folder().string();
  expect_error([&] { engine.load_model(model, {.default_prompt_name = "passage"}); },
               ErrorCode::invalid_argument, {"default_prompt_name 'passage'"});
  const runtime::LoadedModel info = engine.load_model(model, {.default_prompt_name = "query"});
  EXPECT_EQ(info.default_prompt_name, "query");
  EXPECT_EQ(engine.get_loaded_models().at(0).default_prompt_name, "query");

  runtime::EmbedRequest request{.model = model, .inputs = texts()};
  expect_rows(engine.embed(request), reference().at("embeddings_prompt_query").get<Rows>(), 1e-5f);
  request.prompt_name = "document";  // the empty prompt: as no prompt
  expect_rows(engine.embed(request), reference().at("embeddings").get<Rows>(), 1e-5f);
  request.prompt_name.reset();
  request.prompt = "";
  expect_rows(engine.embed(request), reference().at("embeddings").get<Rows>(), 1e-5f);
  // A load without the option leaves it as it was.
  EXPECT_EQ(engine.load_model(model).default_prompt_name, "query");
}

// sentence-transformers' encode() with no prompt uses default_prompt_name of
// config_sentence_transformers.json: the folder's own setting applies as encode(prompt_name=).
TEST(EngineEmbedInputs, TheConfigsDefaultPromptNameIsHonoured) {
  const test::TempDir dir;
  std::filesystem::copy(folder(), dir.path() / "model", std::filesystem::copy_options::recursive);
  const std::filesystem::path config = dir.path() / "model" / "config_sentence_transformers.json";
  nlohmann::json st = read_json(config);
  st["default_prompt_name"] = "query";
  test::write_file(config, st.dump());

  runtime::Engine engine = make_engine();
  const std::string model = (dir.path() / "model").string();
  EXPECT_EQ(engine.load_model(model).default_prompt_name, "query");
  expect_rows(engine.embed({.model = model, .inputs = texts()}),
              reference().at("embeddings_prompt_query").get<Rows>(), 1e-5f);
  EXPECT_FALSE(make_engine().load_model(folder().string()).default_prompt_name.has_value());
}

}  // namespace
}  // namespace hades
