// The classifier tasks through HaystackModelEngine's typed methods and the `hades` verbs, on a real
// daemon: classify (texts and pairs) and rerank with BERT classifiers, token classification and
// chonky chunking with a DistilBERT chunker, the chunk options (clean-up, snapping) included. The
// answers must equal the in-process references in tests/data.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "client_support.hpp"
#include "hades/engine.hpp"

namespace hades {
namespace {

using nlohmann::json;
using test::ServiceSandbox;

std::string model_dir(const std::string& name) {
  return (test::data_dir() / "models" / name).string();
}

json text_cases(const std::string& name) {
  std::ifstream in(test::data_dir() / "models" / name / "reference.json");
  return json::parse(in).at("text_cases");
}

class ClientTasks : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = std::make_unique<HaystackModelEngine>(sandbox_.options());
    ASSERT_GT(engine_->start().pid, 0);
  }
  void TearDown() override {
    EXPECT_TRUE(engine_->health_check().healthy) << sandbox_.log();
    engine_->stop();
  }
  ServiceSandbox sandbox_;
  std::unique_ptr<HaystackModelEngine> engine_;
};

TEST_F(ClientTasks, ClassifyAndRerankEqualTheReferences) {
  const std::string classifier = model_dir("tiny-bertcls-h32-a2-l2-seqcls");
  const json cases = text_cases("tiny-bertcls-h32-a2-l2-seqcls");
  const std::vector<std::string> texts = {cases[0].at("text"), cases[1].at("text")};
  const ClassificationResult classified = engine_->classify(classifier, texts);
  ASSERT_EQ(classified.results.size(), 2u);
  for (size_t i = 0; i < texts.size(); ++i) {
    const Classification& c = classified.results[i];
    ASSERT_EQ(c.scores.size(), 3u);
    EXPECT_EQ(c.label, c.scores.front().label);
    const auto probabilities = cases[i].at("probabilities").get<std::vector<float>>();
    EXPECT_NEAR(c.score, *std::max_element(probabilities.begin(), probabilities.end()), 1e-6f);
  }

  const std::string reranker = model_dir("tiny-bertcls-h32-a2-l2-rerank");
  const json pairs = text_cases("tiny-bertcls-h32-a2-l2-rerank");
  std::vector<std::string> documents;
  for (const json& c : pairs) documents.push_back(c.at("pair"));
  const RerankResult ranked = engine_->rerank(reranker, pairs[0].at("text"), documents);
  ASSERT_EQ(ranked.results.size(), documents.size());
  for (size_t i = 0; i < ranked.results.size(); ++i) {
    const RerankHit& hit = ranked.results[i];
    EXPECT_NEAR(hit.score, pairs[hit.index].at("score").get<float>(), 1e-6f);
    if (i > 0) {
      EXPECT_GE(ranked.results[i - 1].score, hit.score);
    }
  }
  // Raw scores are the cross-encoder's logits, as CrossEncoder.predict gives them unactivated.
  const RerankResult raw =
      engine_->rerank(reranker, pairs[0].at("text"), documents, {.raw_scores = true});
  ASSERT_EQ(raw.results.size(), documents.size());
  for (size_t i = 0; i < raw.results.size(); ++i) {
    EXPECT_EQ(raw.results[i].index, ranked.results[i].index);
    EXPECT_NEAR(raw.results[i].score, pairs[raw.results[i].index].at("logits")[0].get<float>(),
                1e-5f);
  }
  // The same through the verb, best first.
  const test::RunResult verb =
      test::run_hades({"rerank", reranker, pairs[0].at("text"), documents[0], documents[1],
                       "--json", "--raw-scores", "--socket", sandbox_.socket()},
                      sandbox_);
  ASSERT_EQ(verb.exit_code, 0) << verb.err;
  const json verb_results = json::parse(verb.out).at("results");
  ASSERT_EQ(verb_results.size(), 2u);
  for (const json& hit : verb_results) {
    EXPECT_NEAR(hit.at("score").get<float>(),
                pairs[hit.at("index").get<size_t>()].at("logits")[0].get<float>(), 1e-5f);
  }
}

TEST_F(ClientTasks, ChunkWithAndWithoutItsOptions) {
  const std::string chunker = model_dir("tiny-distilbert-chonky");
  std::ifstream in(test::data_dir() / "chunk" / "reference.json");
  const json reference = json::parse(in).at("cases").at(0);
  const std::string text = reference.at("text");
  const ChunkingResult faithful = engine_->chunk(chunker, {text});
  ASSERT_EQ(faithful.results.size(), 1u);
  std::vector<std::pair<int64_t, int64_t>> spans;
  for (const TextChunk& c : faithful.results[0].chunks) spans.emplace_back(c.start, c.end);
  EXPECT_EQ(spans, (reference.at("spans").get<std::vector<std::pair<int64_t, int64_t>>>()));
  EXPECT_EQ(faithful.results[0].windows, reference.at("window_count").get<int64_t>());

  const ChunkingResult snapped = engine_->chunk(chunker, {"<p>" + text + "</p>\n\n"},
                                                {.clean = "html", .snap_to_whitespace = true});
  std::string joined;
  for (const TextChunk& c : snapped.results.at(0).chunks) {
    joined += c.text;
    const bool at_space = c.text.empty() || c.end == static_cast<int64_t>(text.size()) ||
                          c.text.back() == ' ' || text[static_cast<size_t>(c.end)] == ' ';
    EXPECT_TRUE(at_space) << "a snapped cut inside a word at " << c.end;
  }
  EXPECT_EQ(joined, text);  // the fixture text is clean prose: html clean-up gives it back

  try {
    engine_->chunk(chunker, {text}, {.clean = "markdown"});
    FAIL() << "an unknown clean-up was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("clean"), std::string::npos) << e.what();
  }
  const TokenClassificationResult entities = engine_->token_classify(chunker, {text}, 64);
  ASSERT_EQ(entities.entities.size(), 1u);
  for (const EntitySpan& e : entities.entities[0]) EXPECT_EQ(e.label, "separator");
}

TEST_F(ClientTasks, ChunkVerbTakesTheOptions) {
  const std::string file = (sandbox_.dir() / "doc.html").string();
  std::ofstream(file) << "<html><body><p>First part.</p>\n<p>Second   part.</p></body></html>";
  const test::RunResult r =
      test::run_hades({"chunk", model_dir("tiny-distilbert-chonky"), file, "--clean", "html",
                       "--snap", "--json", "--socket", sandbox_.socket()},
                      sandbox_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string joined;
  const json answer = json::parse(r.out);  // kept: a range-for over a temporary's member dangles
  for (const json& c : answer.at("chunks")) joined += c.at("text").get<std::string>();
  EXPECT_EQ(joined, "First part. Second part.") << r.out;
  const test::RunResult bad = test::run_hades({"chunk", model_dir("tiny-distilbert-chonky"), file,
                                               "--clean", "md", "--socket", sandbox_.socket()},
                                              sandbox_);
  EXPECT_NE(bad.exit_code, 0);
}

// Rows of a reference against an EmbeddingResult, within 1e-5 (sentence-transformers' numbers).
void expect_rows(const EmbeddingResult& got, const json& expected) {
  ASSERT_EQ(got.embeddings.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto row = expected[i].get<std::vector<float>>();
    ASSERT_EQ(got.embeddings[i].size(), row.size());
    for (size_t j = 0; j < row.size(); ++j) {
      EXPECT_NEAR(got.embeddings[i][j], row[j], 1e-5f) << "input " << i << ", value " << j;
    }
  }
}

// The sentence-transformers 6 fixture: prompts {"query": "query: ", "document": ""}, no default,
// max_seq_length 24; its references come from SentenceTransformer.encode.
TEST_F(ClientTasks, ALoadsDefaultPromptAndLeftTruncation) {
  const std::string st6 = model_dir("tiny-st6-bert-mean-normalize");
  std::ifstream in(test::data_dir() / "models" / "tiny-st6-bert-mean-normalize" / "reference.json");
  const json reference = json::parse(in);
  const auto texts = reference.at("texts").get<std::vector<std::string>>();
  const test::RunResult load = test::run_hades(
      {"load", st6, "--default-prompt-name", "query", "--json", "--socket", sandbox_.socket()},
      sandbox_);
  ASSERT_EQ(load.exit_code, 0) << load.err;
  EXPECT_EQ(json::parse(load.out).at("model").at("default_prompt_name"), "query") << load.out;
  EXPECT_EQ(engine_->get_loaded_models().at(0).default_prompt_name, "query");
  expect_rows(engine_->embed(st6, texts), reference.at("embeddings_prompt_query"));
  expect_rows(engine_->embed(st6, texts, {.prompt_name = "document"}), reference.at("embeddings"));
  EXPECT_THROW(engine_->load_model(st6, {.default_prompt_name = "passage"}), Error);
  EXPECT_EQ(engine_->load_model(st6, {.default_prompt_name = "document"}).default_prompt_name,
            "document");

  std::ifstream left_in(test::data_dir() / "models" / "tiny-st6-bert-mean-normalize" /
                        "left_truncation.json");
  const json left = json::parse(left_in);
  expect_rows(engine_->embed(st6, left.at("texts").get<std::vector<std::string>>(),
                             {.truncation_direction = "left"}),
              left.at("embeddings"));
}

}  // namespace
}  // namespace hades
