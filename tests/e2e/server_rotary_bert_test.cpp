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

#include "server_harness.hpp"
#include "support/compare.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace hades::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kNomicId = "hades-test/nomic-embed";
constexpr const char* kGteId = "hades-test/gte-v1.5";
constexpr const char* kCommit = "0123456789abcdef0123456789abcdef01234567";

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

// The cache layout huggingface_hub writes: refs/main names the snapshot that holds the files.
fs::path add_to_cache(const fs::path& cache, const std::string& id, const fs::path& folder) {
  std::string repo = "models--" + id;
  repo.replace(repo.find('/'), 1, "--");
  const fs::path snapshot = cache / repo / "snapshots" / kCommit;
  fs::create_directories(snapshot);
  fs::copy(folder, snapshot, fs::copy_options::recursive);
  fs::create_directories(cache / repo / "refs");
  std::ofstream(cache / repo / "refs" / "main") << kCommit;
  return snapshot;
}

// GTE's config.json as the published gte-*-v1.5 checkpoints spell it.
void to_published_gte(const fs::path& folder) {
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

class ServerRotaryBert : public ::testing::Test {
 protected:
  void SetUp() override {
    add_to_cache(cache_.path(), kNomicId, fixture("tiny-st6-nomic"));
    to_published_gte(add_to_cache(cache_.path(), kGteId, fixture("tiny-st6-gte")));
    // Set in this process: the first of two values of a variable wins in the child.
    ::setenv("HF_HUB_CACHE", cache_.path().c_str(), 1);
    ::setenv("HF_HUB_OFFLINE", "1", 1);
    server_ =
        std::make_unique<ServerProcess>(dir_.socket(), ServeOptions{.args = {"--max-models", "8"}});
    ASSERT_TRUE(server_->wait_ready()) << server_->output();
  }
  void TearDown() override {
    EXPECT_EQ(http(socket(), "GET", "/health").status, 200) << server_->output();
    server_.reset();
    ::setenv("HF_HUB_CACHE", HADES_TEST_HF_CACHE, 1);
  }

  fs::path socket() const { return dir_.socket(); }
  HttpResponse load(const std::string& model) const {
    return post_json(socket(), "/v1/models/load", {{"model", model}});
  }

  TempDir cache_;
  SocketDir dir_;
  std::unique_ptr<ServerProcess> server_;
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
  const HttpResponse minilm = post_json(
      socket(), "/v1/embed", {{"model", minilm_dir().string()}, {"inputs", {"still embedding"}}});
  ASSERT_EQ(minilm.status, 200) << minilm.body;
  EXPECT_EQ(minilm.json().at("embeddings").at(0).size(), 384U);

  std::map<std::string, std::string> listed;
  const json models = http(socket(), "GET", "/v1/models").json().at("models");
  for (const json& m : models) {
    listed[m.at("id").get<std::string>()] = m.at("model_type").get<std::string>();
  }
  EXPECT_EQ(listed, (std::map<std::string, std::string>{
                        {minilm_dir().string(), "bert"},
                        {fixture("tiny-st6-nomic").string(), "nomic_bert"},
                        {kNomicId, "nomic_bert"},
                        {fixture("tiny-st6-gte").string(), "gte"},
                        {kGteId, "new"},
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
