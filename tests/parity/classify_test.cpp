// Classifier parity through the tokenizer, for BERT's own heads (tests/data/models/tiny-bertcls-*,
// tools/fixtures/gen_bert_head_fixtures.py): sequence classification of texts and of text pairs
// against transformers, cross-encoder reranking against sentence-transformers' CrossEncoder, and
// token classification against transformers' "ner" pipeline (aggregation_strategy="simple").
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "models/classifier_model.hpp"
#include "support/compare.hpp"
#include "support/paths.hpp"

namespace hades {
namespace {

using nlohmann::json;
using test::max_abs_diff;

struct Fixture {
  std::unique_ptr<ClassifierModel> model;
  json cases;
};

Fixture load(const std::string& kind) {
  const auto dir = test::data_dir() / "models" / ("tiny-bertcls-h32-a2-l2-" + kind);
  std::ifstream in(dir / "reference.json");
  return {ClassifierModel::load(dir), json::parse(in).at("text_cases")};
}

float score_of(const runtime::Classification& c, const std::string& label) {
  for (const runtime::ClassScore& s : c.scores) {
    if (s.label == label) return s.score;
  }
  ADD_FAILURE() << "no score for label " << label;
  return -1.0f;
}

TEST(ClassifyParity, SequenceClassificationOfTextsAndPairsEqualsTransformers) {
  const Fixture f = load("seqcls");
  ASSERT_GE(f.cases.size(), 5u);
  for (const json& c : f.cases) {
    const std::vector<std::string> text = {c.at("text").get<std::string>()};
    const std::vector<std::string> pair =
        c.contains("pair") ? std::vector<std::string>{c.at("pair").get<std::string>()}
                           : std::vector<std::string>{};
    const runtime::Classification got = f.model->classify(text, pair).at(0);
    EXPECT_LE(max_abs_diff(got.logits, c.at("logits").get<std::vector<float>>()), 1e-5f) << text[0];
    const auto expected = c.at("probabilities").get<std::vector<float>>();
    for (size_t l = 0; l < expected.size(); ++l) {
      EXPECT_NEAR(score_of(got, f.model->labels().at(l)), expected[l], 1e-6f) << text[0];
    }
  }
}

TEST(ClassifyParity, OneBatchOfTextsEqualsEachAlone) {
  const Fixture f = load("seqcls");
  std::vector<std::string> texts;
  for (const json& c : f.cases) texts.push_back(c.at("text").get<std::string>());
  const std::vector<runtime::Classification> batch = f.model->classify(texts);
  ASSERT_EQ(batch.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const runtime::Classification alone = f.model->classify({&texts[i], 1}).at(0);
    EXPECT_LE(max_abs_diff(batch[i].logits, alone.logits), 1e-6f) << texts[i];
  }
}

TEST(ClassifyParity, RerankScoresEqualSentenceTransformersCrossEncoder) {
  const Fixture f = load("rerank");
  std::vector<std::string> queries, documents;
  std::vector<float> expected;
  for (const json& c : f.cases) {
    queries.push_back(c.at("text").get<std::string>());
    documents.push_back(c.at("pair").get<std::string>());
    expected.push_back(c.at("score").get<float>());
  }
  const std::vector<runtime::Classification> got = f.model->classify(queries, documents);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i].logits.at(0), f.cases[i].at("logits").at(0).get<float>(), 1e-5f);
    EXPECT_NEAR(got[i].scores.at(0).score, expected[i], 1e-6f) << documents[i];
  }
  const auto order = [](const std::vector<float>& scores) {
    std::vector<size_t> idx(scores.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(),
                     [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    return idx;
  };
  std::vector<float> ours;
  for (const runtime::Classification& c : got) ours.push_back(c.scores.at(0).score);
  EXPECT_EQ(order(ours), order(expected));
}

TEST(ClassifyParity, TokenClassificationEqualsTheNerPipeline) {
  const Fixture f = load("tokcls");
  int entities = 0;
  for (const json& c : f.cases) {
    const std::string text = c.at("text").get<std::string>();
    const std::vector<runtime::EntitySpan> got = f.model->token_classify(text);
    const json& expected = c.at("entities");
    ASSERT_EQ(got.size(), expected.size()) << text;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].label, expected[i].at("label").get<std::string>()) << text;
      EXPECT_EQ(got[i].start, expected[i].at("start").get<int64_t>()) << text;
      EXPECT_EQ(got[i].end, expected[i].at("end").get<int64_t>()) << text;
      EXPECT_NEAR(got[i].score, expected[i].at("score").get<float>(), 1e-5f) << text;
      ++entities;
    }
  }
  EXPECT_GT(entities, 3);
}

}  // namespace
}  // namespace hades
