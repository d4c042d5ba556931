// A `hades serve` for the model-family e2e tests: offline, with a Hugging Face cache laid out in
// the test that holds the given models under their ids, room for eight loaded models, and its
// health checked when the test ends.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "server_harness.hpp"
#include "support/compare.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace hades::test {

class CachedModelsServer : public ::testing::Test {
 protected:
  // Lays out MODELS (id, folder) in the cache and starts the service on it.
  void start(const std::vector<std::pair<std::string, std::filesystem::path>>& models) {
    for (const auto& [id, folder] : models) add_to_cache(cache_.path(), id, folder);
    // Set in this process: the first of two values of a variable wins in the child.
    ::setenv("HF_HUB_CACHE", cache_.path().c_str(), 1);
    ::setenv("HF_HUB_OFFLINE", "1", 1);
    // MiniLM and the family's models stay loaded together (the default keeps fewer).
    server_ =
        std::make_unique<ServerProcess>(dir_.socket(), ServeOptions{.args = {"--max-models", "8"}});
    ASSERT_TRUE(server_->wait_ready()) << server_->output();
  }
  void TearDown() override {
    if (server_ != nullptr) {
      EXPECT_EQ(http(socket(), "GET", "/health").status, 200) << server_->output();
    }
    server_.reset();
    ::setenv("HF_HUB_CACHE", HADES_TEST_HF_CACHE, 1);
  }

  std::filesystem::path socket() const { return dir_.socket(); }
  HttpResponse load(const std::string& model) const {
    return post_json(socket(), "/v1/models/load", {{"model", model}});
  }

  // MiniLM still embeds beside the family's models.
  void expect_minilm_embeds() const {
    const HttpResponse reply = post_json(
        socket(), "/v1/embed", {{"model", minilm_dir().string()}, {"inputs", {"still embedding"}}});
    ASSERT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(reply.json().at("embeddings").at(0).size(), 384U);
  }

  // GET /v1/models as id → (model_type, kind).
  std::map<std::string, std::pair<std::string, std::string>> listed_models() const {
    std::map<std::string, std::pair<std::string, std::string>> listed;
    const nlohmann::json models = http(socket(), "GET", "/v1/models").json().at("models");
    for (const nlohmann::json& m : models) {
      listed[m.at("id").get<std::string>()] = {m.at("model_type").get<std::string>(),
                                               m.at("kind").get<std::string>()};
    }
    return listed;
  }

  TempDir cache_;
  SocketDir dir_;
  std::unique_ptr<ServerProcess> server_;
};

// An /v1/embed reply whose rows are each within 1e-4 of EXPECTED's.
inline void expect_embeddings(const HttpResponse& reply, const nlohmann::json& expected) {
  ASSERT_EQ(reply.status, 200) << reply.body;
  const nlohmann::json got = reply.json().at("embeddings");
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_LE(max_abs_diff(got[i].get<std::vector<float>>(), expected[i].get<std::vector<float>>()),
              1e-4f)
        << "text " << i;
  }
}

}  // namespace hades::test
