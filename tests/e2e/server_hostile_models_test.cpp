// Hostile model folders through the real service (issue 7): each load fails with the error the
// engine gives (code and a message naming the file), and the service stays up, keeps serving the
// model it already had, and does not grow. The failures themselves are checked in detail by
// tests/unit/model_hostile_files_test.cpp; here the point is the process around them.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "server_harness.hpp"
#include "support/model_folder.hpp"
#include "support/paths.hpp"

namespace hades::test {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

struct HostileCase {
  std::string name;
  std::function<void(const ModelFolder&)> craft;
  std::string error_code;
  std::string file;  // the file the message must name
};

std::vector<HostileCase> hostile_cases() {
  return {
      {"header length beyond the file",
       [](const ModelFolder& f) { set_header_length(f, 50'000'000); }, "invalid_model",
       "model.safetensors"},
      {"header length wrapping around",
       [](const ModelFolder& f) { set_header_length(f, UINT64_MAX - 4); }, "invalid_model",
       "model.safetensors"},
      {"offsets past the end",
       [](const ModelFolder& f) {
         f.edit_header([](ordered_json& h) {
           h["embeddings.word_embeddings.weight"]["data_offsets"][1] = 1ull << 40;
         });
       },
       "invalid_model", "model.safetensors"},
      {"shape times dtype overflowing",
       [](const ModelFolder& f) {
         f.edit_header([](ordered_json& h) {
           h["embeddings.word_embeddings.weight"]["shape"] = {1ull << 31, 1ull << 31, 4};
         });
       },
       "invalid_model", "model.safetensors"},
      {"config needing terabytes",
       [](const ModelFolder& f) {
         f.edit_json("config.json",
                     [](ordered_json& c) { c["num_hidden_layers"] = 1'000'000'000; });
       },
       "invalid_model", "config.json"},
      {"vocabulary not UTF-8",
       [](const ModelFolder& f) {
         std::string text = f.read("tokenizer.json");
         text.replace(text.find("\"[unused1]\"") + 1, 9, "\xff\xfe[bad]\xc0");
         f.write("tokenizer.json", text);
       },
       "invalid_model", "tokenizer.json"},
      {"config.json a symlink loop",
       [](const ModelFolder& f) {
         std::filesystem::remove(f.path() / "config.json");
         std::filesystem::create_symlink(f.path() / "config.json", f.path() / "config.json");
       },
       "", "config.json"},
  };
}

class ServerHostileModels : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.wait_ready()) << server_.output();
    const HttpResponse load = post_json(socket(), "/v1/models/load", {{"model", good_model()}});
    ASSERT_EQ(load.status, 200) << load.body;
    expect_good_model_serves();
  }

  const std::filesystem::path& socket() const { return server_.socket(); }
  static std::string good_model() {
    return (data_dir() / "models" / "tiny-distilbert-chonky").string();
  }
  void expect_good_model_serves() const {
    const HttpResponse reply = post_json(socket(), "/v1/token-classify",
                                         {{"model", good_model()}, {"inputs", {"Some text."}}});
    EXPECT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(http(socket(), "GET", "/health").status, 200);
  }
  long pid() const { return http(socket(), "GET", "/v1/status").json().at("pid").get<long>(); }

  SocketDir dir_;
  ServerProcess server_{dir_.socket()};
};

TEST_F(ServerHostileModels, EachLoadFailsPreciselyAndTheServiceKeepsServing) {
  for (const HostileCase& c : hostile_cases()) {
    SCOPED_TRACE(c.name);
    const ModelFolder folder;
    c.craft(folder);
    const HttpResponse reply =
        post_json(socket(), "/v1/models/load", {{"model", folder.path().string()}});
    EXPECT_GE(reply.status, 400) << reply.body;
    if (!c.error_code.empty()) {
      EXPECT_EQ(reply.error_code(), c.error_code) << reply.body;
    }
    EXPECT_NE(reply.body.find(c.file), std::string::npos) << reply.body;
    expect_good_model_serves();
  }
  // The good model is the one ready; each hostile folder is listed as failed, with its reason.
  const json models = http(socket(), "GET", "/v1/models").json().at("models");
  EXPECT_EQ(models.size(), hostile_cases().size() + 1) << models;
  for (const json& model : models) {
    const bool good = model.at("id") == good_model();
    EXPECT_EQ(model.at("state"), good ? "ready" : "failed") << model;
    if (!good) {
      EXPECT_FALSE(model.at("error").get<std::string>().empty()) << model;
    }
  }
}

// XLM-RoBERTa and RoBERTa configs (issue 25): a missing field, a size that would need terabytes,
// a value of the wrong type, a padding id that leaves no position. Each load fails naming
// config.json and the field; a good model of the family loads after them and both models serve.
TEST_F(ServerHostileModels, RobertaFamilyConfigsFailNamingTheFieldAndTheServiceKeepsServing) {
  const std::vector<std::pair<std::string, std::function<void(ordered_json&)>>> cases = {
      {"num_attention_heads", [](ordered_json& c) { c.erase("num_attention_heads"); }},
      {"intermediate_size", [](ordered_json& c) { c["intermediate_size"] = int64_t{1} << 40; }},
      {"hidden_size", [](ordered_json& c) { c["hidden_size"] = "16"; }},
      {"pad_token_id", [](ordered_json& c) { c["pad_token_id"] = 33; }},
  };
  for (const auto make_folder : {&ModelFolder::xlm_roberta, &ModelFolder::roberta}) {
    for (const auto& [field, edit] : cases) {
      SCOPED_TRACE(field);
      const ModelFolder folder = make_folder();
      folder.edit_json("config.json", edit);
      const HttpResponse reply =
          post_json(socket(), "/v1/models/load", {{"model", folder.path().string()}});
      EXPECT_EQ(reply.error_code(), "invalid_model") << reply.body;
      EXPECT_NE(reply.body.find("config.json"), std::string::npos) << reply.body;
      EXPECT_NE(reply.body.find(field), std::string::npos) << reply.body;
      expect_good_model_serves();
    }
    const ModelFolder good = make_folder();
    const HttpResponse embed =
        post_json(socket(), "/v1/embed",
                  {{"model", good.path().string()}, {"inputs", {"Bonjour", "Привет"}}});
    ASSERT_EQ(embed.status, 200) << embed.body;
    EXPECT_EQ(embed.json().at("embeddings").at(1).size(), 16U);
    expect_good_model_serves();
  }
}

TEST_F(ServerHostileModels, FailedLoadsKeepTheServiceMemoryFlat) {
  const std::vector<HostileCase> cases = hostile_cases();
  std::vector<std::unique_ptr<ModelFolder>> folders;
  for (const HostileCase& c : cases) {
    folders.push_back(std::make_unique<ModelFolder>());
    c.craft(*folders.back());
  }
  const auto fail_all = [&] {
    for (const auto& folder : folders) {
      post_json(socket(), "/v1/models/load", {{"model", folder->path().string()}});
    }
  };
  fail_all();  // warm up: allocator arenas, failure records
  const long service = pid();
  const int64_t before = rss_kib(service);
  for (int round = 0; round < 10; ++round) fail_all();
  const int64_t after = rss_kib(service);
  std::printf("service RSS: %lld KiB before, %lld KiB after %zu failed loads\n",
              static_cast<long long>(before), static_cast<long long>(after), 10 * folders.size());
  EXPECT_LT(after - before, 8 * 1024);
  expect_good_model_serves();
}

// The catastrophic pattern is only seen when it runs: the request fails fast, input_invalid, and
// the service goes on serving its other model.
TEST_F(ServerHostileModels, CatastrophicRegexFailsTheRequestNotTheService) {
  const ModelFolder folder;
  folder.edit_json("tokenizer.json", [](ordered_json& t) {
    t["pre_tokenizer"] = {{"type", "Split"},
                          {"pattern", {{"Regex", "(a|aa)+$"}}},
                          {"behavior", "Isolated"},
                          {"invert", false}};
  });
  const std::string model = folder.path().string();
  ASSERT_EQ(post_json(socket(), "/v1/models/load", {{"model", model}}).status, 200);
  const auto start = Clock::now();
  const HttpResponse reply = post_json(
      socket(), "/v1/embed", {{"model", model}, {"inputs", {std::string(4000, 'a') + "!"}}});
  EXPECT_EQ(reply.status, 422) << reply.body;
  EXPECT_EQ(reply.error_code(), "input_invalid") << reply.body;
  EXPECT_NE(reply.body.find("tokenizer.json"), std::string::npos) << reply.body;
  EXPECT_LT(Clock::now() - start, 10s);
  expect_good_model_serves();
}

}  // namespace
}  // namespace hades::test
