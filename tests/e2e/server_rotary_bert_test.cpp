// NomicBert and GTE through the real service next to MiniLM (issue 25): the sentence-transformers 6
// folders of both families load by folder and by id from a Hugging Face cache laid out here, embed
// through the route as sentence-transformers does (the fixtures' references, nomic's prompts
// included), GTE also as published (model_type "new" with auto_map to Alibaba-NLP/new-impl), and
// `GET /v1/models` names each model's type; a hostile config is refused with the file and field
// named while the server stays up.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "cached_models_server.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace hades::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kNomicId = "hades-test/nomic-embed";
constexpr const char* kGteId = "hades-test/gte-v1.5";

fs::path fixture(const std::string& name) {
  return data_dir() / "models" / name;
}

json read_json(const fs::path& path) {
  std::ifstream in(path);
  return json::parse(in);
}

void write_json(const fs::path& path, const json& value) {
  std::ofstream(path) << value.dump(2);
}

// GTE's folder with its config.json as the published gte-*-v1.5 checkpoints spell it.
void write_published_gte(const fs::path& folder) {
  fs::copy(fixture("tiny-st6-gte"), folder, fs::copy_options::recursive);
  json config = read_json(folder / "config.json");
  config["model_type"] = "new";
  config["architectures"] = {"NewModel"};
  config["auto_map"] = {{"AutoConfig", "Alibaba-NLP/new-impl--configuration.NewConfig"},
                        {"AutoModel", "Alibaba-NLP/new-impl--modeling.NewModel"}};
  config["rope_theta"] = config.at("rope_parameters").at("rope_theta");
  config.erase("rope_parameters");
  config["position_embedding_type"] = "rope";
  write_json(folder / "config.json", config);
}

class ServerRotaryBert : public CachedModelsServer {
 protected:
  void SetUp() override {
    write_published_gte(published_gte_.path());
    start({{kNomicId, fixture("tiny-st6-nomic")}, {kGteId, published_gte_.path()}});
  }

  TempDir published_gte_;
};

TEST_F(ServerRotaryBert, EmbedsBesideMiniLmByFolderAndById) {
  ASSERT_EQ(load(minilm_dir().string()).status, 200);
  const std::map<std::string, std::string> folders = {
      {fixture("tiny-st6-nomic").string(), "tiny-st6-nomic"},
      {kNomicId, "tiny-st6-nomic"},
      {fixture("tiny-st6-gte").string(), "tiny-st6-gte"},
      {kGteId, "tiny-st6-gte"},
  };
  for (const auto& [model, name] : folders) {
    SCOPED_TRACE(model);
    const json ref = read_json(fixture(name) / "reference.json");
    ASSERT_EQ(load(model).status, 200) << server_->output();
    const json& texts = ref.at("texts");
    expect_embeddings(post_json(socket(), "/v1/embed", {{"model", model}, {"inputs", texts}}),
                      ref.at("embeddings"));
    if (!ref.contains("embeddings_prompt_query")) continue;
    expect_embeddings(post_json(socket(), "/v1/embed",
                                {{"model", model}, {"inputs", texts}, {"prompt_name", "query"}}),
                      ref.at("embeddings_prompt_query"));
  }
  expect_minilm_embeds();
  const auto embedding = [](const std::string& type) {
    return std::pair<std::string, std::string>{type, "embedding"};
  };
  EXPECT_EQ(listed_models(), (std::map<std::string, std::pair<std::string, std::string>>{
                                 {minilm_dir().string(), embedding("bert")},
                                 {fixture("tiny-st6-nomic").string(), embedding("nomic_bert")},
                                 {kNomicId, embedding("nomic_bert")},
                                 {fixture("tiny-st6-gte").string(), embedding("gte")},
                                 {kGteId, embedding("new")},
                             }));
}

TEST_F(ServerRotaryBert, HostileConfigIsRefusedNamingFileAndField) {
  TempDir folder;
  fs::copy(fixture("tiny-st6-nomic"), folder.path(), fs::copy_options::recursive);
  json config = read_json(folder.path() / "config.json");
  config["num_experts"] = 8;  // nomic-embed-text-v2-moe's layers, which hades does not run
  write_json(folder.path() / "config.json", config);
  const HttpResponse reply = load(folder.path().string());
  EXPECT_NE(reply.status, 200);
  EXPECT_NE(reply.body.find("config.json"), std::string::npos) << reply.body;
  EXPECT_NE(reply.body.find("num_experts"), std::string::npos) << reply.body;
  ASSERT_EQ(load(fixture("tiny-st6-nomic").string()).status, 200) << server_->output();
}

}  // namespace
}  // namespace hades::test
