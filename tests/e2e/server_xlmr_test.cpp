// XLM-RoBERTa through the real service next to MiniLM (issue 25): a multilingual-e5-style embedder
// saved by sentence-transformers 6 and an XLM-R sequence classifier, both with the Unigram
// tokenizer, load by folder and by id from a Hugging Face cache laid out here, embed and classify
// through the routes as sentence-transformers and transformers do (the fixtures' references), and
// `GET /v1/models` names each model's type and task.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cached_server.hpp"
#include "support/compare.hpp"
#include "support/paths.hpp"

namespace hades::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kEmbedderId = "hades-test/xlmr-e5";
constexpr const char* kClassifierId = "hades-test/xlmr-seqcls";

fs::path fixture(const std::string& name) {
  return data_dir() / "models" / name;
}
fs::path embedder_dir() {
  return fixture("tiny-st6-xlmr-e5");
}
fs::path classifier_dir() {
  return fixture("tiny-xlmr-h16-seqcls-spm");
}

json reference(const fs::path& dir) {
  std::ifstream in(dir / "reference.json");
  return json::parse(in);
}

class ServerXlmRoberta : public CachedModelServer {
 protected:
  void SetUp() override {
    start({{kEmbedderId, embedder_dir()}, {kClassifierId, classifier_dir()}});
  }
};

void expect_embeddings(const HttpResponse& reply, const json& expected) {
  ASSERT_EQ(reply.status, 200) << reply.body;
  const json got = reply.json().at("embeddings");
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_LE(max_abs_diff(got[i].get<std::vector<float>>(), expected[i].get<std::vector<float>>()),
              1e-4f)
        << "text " << i;
  }
}

// Each label's score is the softmax of transformers' logits.
void expect_classes(const HttpResponse& reply, const json& ref) {
  ASSERT_EQ(reply.status, 200) << reply.body;
  const json results = reply.json().at("results");
  ASSERT_EQ(results.size(), ref.at("logits").size());
  for (size_t i = 0; i < results.size(); ++i) {
    const auto logits = ref.at("logits")[i].get<std::vector<double>>();
    double total = 0;
    for (const double l : logits) total += std::exp(l);
    std::map<std::string, double> scores;
    for (const json& s : results[i].at("scores")) {
      scores[s.at("label").get<std::string>()] = s.at("score").get<double>();
    }
    ASSERT_EQ(scores.size(), logits.size()) << results[i];
    for (size_t k = 0; k < logits.size(); ++k) {
      const std::string label = ref.at("id2label").at(std::to_string(k)).get<std::string>();
      EXPECT_NEAR(scores[label], std::exp(logits[k]) / total, 1e-4) << "text " << i << label;
    }
  }
}

TEST_F(ServerXlmRoberta, EmbedsAndClassifiesBesideMiniLmByFolderAndById) {
  const json embedder_ref = reference(embedder_dir());
  const json classifier_ref = reference(classifier_dir());
  const json& texts = embedder_ref.at("texts");
  ASSERT_EQ(load(minilm_dir().string()).status, 200);
  for (const std::string& model : {embedder_dir().string(), std::string(kEmbedderId)}) {
    SCOPED_TRACE(model);
    ASSERT_EQ(load(model).status, 200) << server_->output();
    expect_embeddings(post_json(socket(), "/v1/embed", {{"model", model}, {"inputs", texts}}),
                      embedder_ref.at("embeddings"));
    expect_embeddings(post_json(socket(), "/v1/embed",
                                {{"model", model}, {"inputs", texts}, {"prompt_name", "query"}}),
                      embedder_ref.at("embeddings_prompt_query"));
  }
  for (const std::string& model : {std::string(kClassifierId), classifier_dir().string()}) {
    SCOPED_TRACE(model);
    ASSERT_EQ(load(model).status, 200) << server_->output();
    expect_classes(post_json(socket(), "/v1/classify", {{"model", model}, {"inputs", texts}}),
                   classifier_ref);
  }
  expect_minilm_embeds();
  const std::pair<std::string, std::string> xlmr_embedding = {"xlm-roberta", "embedding"};
  const std::pair<std::string, std::string> xlmr_classifier = {"xlm-roberta",
                                                               "sequence-classification"};
  EXPECT_EQ(listed_models(), (std::map<std::string, std::pair<std::string, std::string>>{
                                 {minilm_dir().string(), {"bert", "embedding"}},
                                 {embedder_dir().string(), xlmr_embedding},
                                 {kEmbedderId, xlmr_embedding},
                                 {classifier_dir().string(), xlmr_classifier},
                                 {kClassifierId, xlmr_classifier},
                             }));
}

}  // namespace
}  // namespace hades::test
