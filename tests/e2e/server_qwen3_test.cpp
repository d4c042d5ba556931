// Qwen3-Embedding through the real service next to MiniLM (issue 25): the tiny Qwen3 embedder saved
// by sentence-transformers 6 (last-token pooling, Normalize, Qwen3-Embedding's query prompt, the
// Qwen2-style tokenizer) loads by folder and by id from a Hugging Face cache laid out here, embeds
// through /v1/embed as SentenceTransformer.encode does (the fixture's reference, with and without
// the query prompt), and `GET /v1/models` names its type "qwen3". Hostile Qwen3 configs fail naming
// config.json and the field while the service keeps serving.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cached_models_server.hpp"
#include "support/compare.hpp"
#include "support/model_folder.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace hades::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

constexpr const char* kEmbedderId = "hades-test/qwen3-embedding";

fs::path embedder_dir() {
  return data_dir() / "models" / "tiny-st6-qwen3";
}

json reference() {
  std::ifstream in(embedder_dir() / "reference.json");
  return json::parse(in);
}

class ServerQwen3 : public CachedModelsServer {
 protected:
  void SetUp() override { start({{kEmbedderId, embedder_dir()}}); }
  HttpResponse embed(const json& body) const { return post_json(socket(), "/v1/embed", body); }
};

TEST_F(ServerQwen3, EmbedsBesideMiniLmByFolderAndById) {
  const json ref = reference();
  const json& texts = ref.at("texts");
  ASSERT_EQ(load(minilm_dir().string()).status, 200);
  for (const std::string& model : {embedder_dir().string(), std::string(kEmbedderId)}) {
    SCOPED_TRACE(model);
    ASSERT_EQ(load(model).status, 200) << server_->output();
    expect_embeddings(embed({{"model", model}, {"inputs", texts}}), ref.at("embeddings"));
    expect_embeddings(embed({{"model", model}, {"inputs", texts}, {"prompt_name", "query"}}),
                      ref.at("embeddings_prompt_query"));
  }
  expect_minilm_embeds();
  const std::pair<std::string, std::string> qwen3 = {"qwen3", "embedding"};
  EXPECT_EQ(listed_models(), (std::map<std::string, std::pair<std::string, std::string>>{
                                 {minilm_dir().string(), {"bert", "embedding"}},
                                 {embedder_dir().string(), qwen3},
                                 {kEmbedderId, qwen3},
                             }));
}

TEST_F(ServerQwen3, HostileConfigsFailNamingTheFieldAndTheServiceKeepsServing) {
  const std::vector<std::pair<std::string, std::function<void(ordered_json&)>>> cases = {
      {"num_attention_heads", [](ordered_json& c) { c.erase("num_attention_heads"); }},
      {"intermediate_size", [](ordered_json& c) { c["intermediate_size"] = int64_t{1} << 40; }},
      {"num_key_value_heads", [](ordered_json& c) { c["num_key_value_heads"] = 3; }},
      {"hidden_size", [](ordered_json& c) { c["hidden_size"] = "32"; }},
  };
  for (const auto& [field, edit] : cases) {
    SCOPED_TRACE(field);
    const ModelFolder folder = ModelFolder::qwen3();
    folder.edit_json("config.json", edit);
    const HttpResponse reply = load(folder.path().string());
    EXPECT_EQ(reply.error_code(), "invalid_model") << reply.body;
    EXPECT_NE(reply.body.find("config.json"), std::string::npos) << reply.body;
    EXPECT_NE(reply.body.find(field), std::string::npos) << reply.body;
  }
  const ModelFolder good = ModelFolder::qwen3();
  const HttpResponse reply =
      embed({{"model", good.path().string()}, {"inputs", {"Bonjour", "Привет"}}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.json().at("embeddings").at(1).size(), 32U);
}

}  // namespace
}  // namespace hades::test
