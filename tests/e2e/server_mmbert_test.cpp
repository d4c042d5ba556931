// mmBERT through the real service next to MiniLM (issue 25): the tiny chonky-like mmBERT token
// classifier (ModernBERT layers, the Gemma-style BPE tokenizer with byte fallback) loads by folder
// and by id from a Hugging Face cache laid out here, tokenizes as `tokenizers` does, chunks
// multilingual text as chonky's ParagraphSplitter cuts it (tests/data/chunk/reference-mmbert.json),
// and `GET /v1/models` names its type "modernbert".
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cached_models_server.hpp"
#include "support/paths.hpp"

namespace hades::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Spans = std::vector<std::pair<int64_t, int64_t>>;

constexpr const char* kChunkerId = "hades-test/mmbert-chonky";

fs::path chunker_dir() {
  return data_dir() / "models" / "tiny-mmbert-chonky";
}

json read_json(const fs::path& path) {
  std::ifstream in(path);
  return json::parse(in);
}

class ServerMmBert : public CachedModelsServer {
 protected:
  void SetUp() override { start({{kChunkerId, chunker_dir()}}); }
};

// The chunks of each text have chonky's spans and concatenate to the text.
void expect_chonky_chunks(const HttpResponse& reply, const json& cases) {
  ASSERT_EQ(reply.status, 200) << reply.body;
  const json results = reply.json().at("results");
  ASSERT_EQ(results.size(), cases.size());
  for (size_t i = 0; i < results.size(); ++i) {
    const json& expected = cases[i];
    Spans spans;
    std::string joined;
    for (const json& chunk : results[i].at("chunks")) {
      spans.emplace_back(chunk.at("start").get<int64_t>(), chunk.at("end").get<int64_t>());
      joined += chunk.at("text").get<std::string>();
    }
    const std::string name = expected.at("name").get<std::string>();
    EXPECT_EQ(spans, expected.at("spans").get<Spans>()) << name;
    EXPECT_EQ(joined, expected.at("text").get<std::string>()) << name;
    EXPECT_EQ(results[i].at("windows"), expected.at("window_count")) << name;
  }
}

TEST_F(ServerMmBert, ChunksAsChonkyBesideMiniLmByFolderAndById) {
  const json cases = read_json(data_dir() / "chunk" / "reference-mmbert.json").at("cases");
  json texts = json::array();
  for (const json& c : cases) texts.push_back(c.at("text"));
  const json model_cases = read_json(chunker_dir() / "reference.json").at("cases");
  json short_texts = json::array();
  for (const json& c : model_cases) short_texts.push_back(c.at("text"));

  ASSERT_EQ(post_json(socket(), "/v1/models/load", {{"model", minilm_dir().string()}}).status, 200);
  for (const std::string& model : {chunker_dir().string(), std::string(kChunkerId)}) {
    SCOPED_TRACE(model);
    ASSERT_EQ(load(model).status, 200) << server_->output();
    expect_chonky_chunks(post_json(socket(), "/v1/chunk", {{"model", model}, {"inputs", texts}}),
                         cases);
    const HttpResponse tokenized =
        post_json(socket(), "/v1/tokenize", {{"model", model}, {"inputs", short_texts}});
    ASSERT_EQ(tokenized.status, 200) << tokenized.body;
    const json encodings = tokenized.json().at("encodings");
    ASSERT_EQ(encodings.size(), model_cases.size());
    for (size_t i = 0; i < encodings.size(); ++i) {
      EXPECT_EQ(encodings[i].at("ids"), model_cases[i].at("input_ids")) << short_texts[i];
    }
  }
  expect_minilm_embeds();
  const std::pair<std::string, std::string> mmbert = {"modernbert", "token-classification"};
  EXPECT_EQ(listed_models(), (std::map<std::string, std::pair<std::string, std::string>>{
                                 {minilm_dir().string(), {"bert", "embedding"}},
                                 {chunker_dir().string(), mmbert},
                                 {kChunkerId, mmbert},
                             }));
}

}  // namespace
}  // namespace hades::test
