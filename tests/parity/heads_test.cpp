// Model parity for the tiny random ModernBERT, DistilBERT, BERT-classifier, XLM-RoBERTa, RoBERTa,
// mmBERT, NomicBert and GTE configurations (tests/data/models, made by
// tools/fixtures/gen_encoder_fixtures.py, gen_bert_head_fixtures.py, gen_xlmr_fixtures.py,
// gen_roberta_fixtures.py, gen_mmbert_fixtures.py and gen_rotary_bert_fixtures.py with
// transformers): last hidden states of the base models and logits of the token- and
// sequence-classification heads, within 1e-4 of transformers, for sequences shorter and longer
// than ModernBERT's local window (NomicBert's and GTE's up to 700 tokens, in both tensor-name and
// config dialects), XLM-R's with padding ids inside (RoBERTa's positions skip them); a batch equals
// each alone. Where a case also has its text (mmBERT's), the folder's tokenizer gives its ids.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "models/encoder.hpp"
#include "models/registry.hpp"
#include "support/compare.hpp"
#include "support/paths.hpp"
#include "tokenizer/tokenizer.hpp"

namespace hades {
namespace {

using test::max_abs_diff;

struct Case {
  std::vector<int32_t> ids;
  std::vector<float> expected;  // last_hidden_state or logits, flattened
};

nlohmann::json read_reference(const std::filesystem::path& dir) {
  std::ifstream in(dir / "reference.json");
  return nlohmann::json::parse(in);
}

std::vector<float> flatten(const nlohmann::json& value) {
  std::vector<float> out;
  if (value.is_number()) {
    out.push_back(value.get<float>());
  } else {
    for (const auto& v : value) {
      const std::vector<float> part = flatten(v);
      out.insert(out.end(), part.begin(), part.end());
    }
  }
  return out;
}

std::vector<Case> read_cases(const std::filesystem::path& dir) {
  std::vector<Case> cases;
  const nlohmann::json reference = read_reference(dir);
  for (const auto& c : reference.at("cases")) {
    const bool logits = c.contains("logits");
    cases.push_back({c.at("input_ids").get<std::vector<int32_t>>(),
                     flatten(logits ? c.at("logits") : c.at("last_hidden_state"))});
  }
  return cases;
}

// What the model computes for one ragged batch: logits when it has a head, else hidden states.
std::vector<float> run(const ModelParts& parts, const RaggedBatch& batch) {
  const EncoderOutput out = parts.encoder->forward(batch);
  return parts.head ? parts.head->logits(out.hidden, batch) : out.hidden;
}

std::vector<std::filesystem::path> models() {
  std::vector<std::filesystem::path> dirs;
  for (const auto& entry : std::filesystem::directory_iterator(test::data_dir() / "models")) {
    const std::string name = entry.path().filename().string();
    const bool family = name.rfind("tiny-modernbert-", 0) == 0 ||
                        name.rfind("tiny-distilbert-", 0) == 0 ||
                        name.rfind("tiny-bertcls-", 0) == 0 || name.rfind("tiny-xlmr-", 0) == 0 ||
                        name.rfind("tiny-mmbert-", 0) == 0 || name.rfind("tiny-nomic-", 0) == 0 ||
                        name.rfind("tiny-gte-", 0) == 0 || name.rfind("tiny-roberta-", 0) == 0;
    if (family && std::filesystem::exists(entry.path() / "reference.json"))
      dirs.push_back(entry.path());
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

class EncoderParity : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(EncoderParity, EachSequenceAloneMatchesTransformers) {
  const ModelParts parts = load_model_parts(GetParam(), cpu_backend());
  float worst = 0.0f;
  for (const Case& c : read_cases(GetParam())) {
    const std::vector<int32_t> cu = {0, static_cast<int32_t>(c.ids.size())};
    const float diff = max_abs_diff(run(parts, {c.ids, {}, cu}), c.expected);
    EXPECT_LE(diff, 1e-4f) << "length " << c.ids.size();
    worst = std::max(worst, diff);
  }
  ASSERT_FALSE(read_cases(GetParam()).empty());
  std::printf("%s: max abs diff %.3g\n", GetParam().filename().c_str(), worst);
}

TEST_P(EncoderParity, OneRaggedBatchEqualsEachSequenceAlone) {
  const ModelParts parts = load_model_parts(GetParam(), cpu_backend());
  std::vector<Case> cases = read_cases(GetParam());
  test::repeat_cases(cases, 2 * kMaxGroupTokens);  // several groups of sequences
  std::vector<int32_t> ids, cu = {0};
  for (const Case& c : cases) {
    ids.insert(ids.end(), c.ids.begin(), c.ids.end());
    cu.push_back(static_cast<int32_t>(ids.size()));
  }
  ASSERT_GT(group_sequences(cu).size(), 2u);
  const std::vector<float> batch = run(parts, {ids, {}, cu});
  size_t offset = 0;
  for (const Case& c : cases) {
    const std::vector<int32_t> one = {0, static_cast<int32_t>(c.ids.size())};
    const std::vector<float> alone = run(parts, {c.ids, {}, one});
    const std::span<const float> part(batch.data() + offset, alone.size());
    EXPECT_LE(max_abs_diff(part, alone), 1e-5f) << "length " << c.ids.size();
    offset += alone.size();
  }
  EXPECT_EQ(offset, batch.size());
}

TEST_P(EncoderParity, LabelsComeFromTheConfig) {
  const ModelParts parts = load_model_parts(GetParam(), cpu_backend());
  const nlohmann::json ref = read_reference(GetParam());
  if (!ref.contains("id2label")) {
    EXPECT_EQ(parts.task, ModelTask::base);
    return;
  }
  EXPECT_NE(parts.task, ModelTask::base);
  ASSERT_EQ(parts.labels.size(), ref.at("id2label").size());
  EXPECT_EQ(parts.head->num_labels(), static_cast<int64_t>(parts.labels.size()));
  for (const auto& [id, label] : ref.at("id2label").items()) {
    EXPECT_EQ(parts.labels.at(std::stoul(id)), label.get<std::string>());
  }
}

TEST_P(EncoderParity, TheFoldersTokenizerGivesTheIdsOfEachText) {
  const nlohmann::json ref = read_reference(GetParam());
  const auto texts = std::count_if(ref.at("cases").begin(), ref.at("cases").end(),
                                   [](const nlohmann::json& c) { return c.contains("text"); });
  if (texts == 0) GTEST_SKIP() << "the cases hold ids only";
  const Tokenizer tokenizer = Tokenizer::from_file(GetParam() / "tokenizer.json");
  for (const auto& c : ref.at("cases")) {
    const std::string text = c.at("text").get<std::string>();
    EXPECT_EQ(tokenizer.encode(text).ids, c.at("input_ids").get<std::vector<int32_t>>()) << text;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, EncoderParity, ::testing::ValuesIn(models()),
                         test::folder_test_name<testing::TestParamInfo<std::filesystem::path>>);

}  // namespace
}  // namespace hades
