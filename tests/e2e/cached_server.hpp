// What the e2e tests of the model families share: a real server over a Hugging Face cache that the
// test lays out (models loaded by id from it, offline), what `GET /v1/models` lists, and the check
// that MiniLM, loaded beside, still embeds.
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
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace hades::test {

// GET /v1/models as id -> {model_type, kind}.
using ModelListing = std::map<std::string, std::pair<std::string, std::string>>;

inline ModelListing list_models(const std::filesystem::path& socket) {
  // Kept in a variable: a loop over .at() of the temporary would read a destroyed object.
  const nlohmann::json models = http(socket, "GET", "/v1/models").json().at("models");
  ModelListing listed;
  for (const nlohmann::json& m : models) {
    listed[m.at("id").get<std::string>()] = {m.at("model_type").get<std::string>(),
                                             m.at("kind").get<std::string>()};
  }
  return listed;
}

// MiniLM, loaded at MINILM, still embeds into its 384 dimensions.
inline void expect_minilm_embeds(const std::filesystem::path& socket, const std::string& minilm) {
  const HttpResponse reply =
      post_json(socket, "/v1/embed", {{"model", minilm}, {"inputs", {"still embedding"}}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.json().at("embeddings").at(0).size(), 384U);
}

// A server whose HF_HUB_CACHE holds the test's models under their ids; it must still answer
// /health when the test ends.
class CachedModelsServer : public ::testing::Test {
 protected:
  // MODELS: id -> folder, copied into the cache before the server starts.
  void start(const std::vector<std::pair<std::string, std::filesystem::path>>& models,
             ServeOptions options = {}) {
    for (const auto& [id, folder] : models) add_to_cache(cache_.path(), id, folder);
    // Set in this process: the first of two values of a variable wins in the child.
    ::setenv("HF_HUB_CACHE", cache_.path().c_str(), 1);
    ::setenv("HF_HUB_OFFLINE", "1", 1);
    server_ = std::make_unique<ServerProcess>(dir_.socket(), std::move(options));
    ASSERT_TRUE(server_->wait_ready()) << server_->output();
  }
  void TearDown() override {
    if (server_) {
      EXPECT_EQ(http(socket(), "GET", "/health").status, 200) << server_->output();
    }
    server_.reset();
    ::setenv("HF_HUB_CACHE", HADES_TEST_HF_CACHE, 1);
  }

  std::filesystem::path socket() const { return dir_.socket(); }
  HttpResponse load(const std::string& model) const {
    return post_json(socket(), "/v1/models/load", {{"model", model}});
  }

  TempDir cache_;
  SocketDir dir_;
  std::unique_ptr<ServerProcess> server_;
};

}  // namespace hades::test
