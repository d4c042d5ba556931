// A real service whose Hugging Face cache is laid out by hand, for the e2e tests that load fixtures
// both by folder and by id.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "server_harness.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace hades::test {

// FOLDER's files as model ID in CACHE, in the layout huggingface_hub writes: refs/main names the
// snapshot that holds them.
inline void add_to_cache(const std::filesystem::path& cache, const std::string& id,
                         const std::filesystem::path& folder) {
  constexpr const char* kCommit = "0123456789abcdef0123456789abcdef01234567";
  std::string repo = "models--" + id;
  repo.replace(repo.find('/'), 1, "--");
  const std::filesystem::path snapshot = cache / repo / "snapshots" / kCommit;
  std::filesystem::create_directories(snapshot);
  std::filesystem::copy(folder, snapshot, std::filesystem::copy_options::recursive);
  std::filesystem::create_directories(cache / repo / "refs");
  std::ofstream(cache / repo / "refs" / "main") << kCommit;
}

// A test whose service (up to 8 models loaded at once) finds the models that start() puts in its
// cache by id, offline; the service must still answer /health when the test ends.
class CachedModelServer : public ::testing::Test {
 protected:
  // ID → FOLDER for each entry, then the service.
  void start(const std::vector<std::pair<std::string, std::filesystem::path>>& models) {
    for (const auto& [id, folder] : models) add_to_cache(cache_.path(), id, folder);
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

  std::filesystem::path socket() const { return dir_.socket(); }

  // MiniLM, loaded beside the models under test, still embeds.
  void expect_minilm_embeds() const {
    const HttpResponse minilm = post_json(
        socket(), "/v1/embed", {{"model", minilm_dir().string()}, {"inputs", {"still embedding"}}});
    ASSERT_EQ(minilm.status, 200) << minilm.body;
    EXPECT_EQ(minilm.json().at("embeddings").at(0).size(), 384U);
  }

  // GET /v1/models: each model's id → (model_type, kind).
  std::map<std::string, std::pair<std::string, std::string>> listed_models() const {
    std::map<std::string, std::pair<std::string, std::string>> listed;
    const nlohmann::json models = http(socket(), "GET", "/v1/models").json().at("models");
    for (const nlohmann::json& m : models) {
      listed[m.at("id").get<std::string>()] = {m.at("model_type").get<std::string>(),
                                               m.at("kind").get<std::string>()};
    }
    return listed;
  }
  HttpResponse load(const std::string& model) const {
    return post_json(socket(), "/v1/models/load", {{"model", model}});
  }

  TempDir cache_;
  SocketDir dir_;
  std::unique_ptr<ServerProcess> server_;
};

}  // namespace hades::test
