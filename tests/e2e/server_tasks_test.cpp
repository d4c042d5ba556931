// The classifier routes end to end on a real server: /v1/chunk equal to chonky (the fixture's
// cuts), /v1/token-classify, /v1/classify and /v1/rerank, with a chunking model loaded next to an
// embedding model (the seed's "multiple model types"), and their bad input.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "server_harness.hpp"
#include "support/paths.hpp"

namespace hades::test {
namespace {

using nlohmann::json;

class ServerTasks : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<SocketDir>();
    server_ = std::make_unique<ServerProcess>(dir_->socket());
    ASSERT_TRUE(server_->wait_ready()) << server_->output();
  }
  static void TearDownTestSuite() {
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait_exit(), 0) << server_->output();
    server_.reset();
    dir_.reset();
  }
  void TearDown() override {
    EXPECT_EQ(http(socket(), "GET", "/health").status, 200) << server_->output();
  }

  static std::filesystem::path socket() { return dir_->socket(); }
  static std::string chunker() {
    return (data_dir() / "models" / "tiny-distilbert-chonky").string();
  }
  static HttpResponse post(const std::string& route, const json& body) {
    return http(socket(), "POST", route, body.dump());
  }

  static std::unique_ptr<SocketDir> dir_;
  static std::unique_ptr<ServerProcess> server_;
};

std::unique_ptr<SocketDir> ServerTasks::dir_;
std::unique_ptr<ServerProcess> ServerTasks::server_;

TEST_F(ServerTasks, ChunkBesideAnEmbedderEqualsChonky) {
  ASSERT_EQ(post("/v1/models/load", {{"model", minilm_dir().string()}}).status, 200);
  std::ifstream in(data_dir() / "chunk" / "reference.json");
  const json reference = json::parse(in);
  std::vector<std::string> texts;
  for (const auto& c : reference.at("cases")) texts.push_back(c.at("text").get<std::string>());
  const HttpResponse r = post("/v1/chunk", {{"model", chunker()}, {"inputs", texts}});
  ASSERT_EQ(r.status, 200) << r.body;
  const json results = r.json().at("results");
  ASSERT_EQ(results.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<std::pair<int64_t, int64_t>> spans;
    std::string joined;
    for (const auto& chunk : results[i].at("chunks")) {
      spans.emplace_back(chunk.at("start").get<int64_t>(), chunk.at("end").get<int64_t>());
      joined += chunk.at("text").get<std::string>();
    }
    EXPECT_EQ(
        spans,
        (reference.at("cases")[i].at("spans").get<std::vector<std::pair<int64_t, int64_t>>>()));
    EXPECT_EQ(joined, texts[i]);
  }
  const json models = http(socket(), "GET", "/v1/models").json().at("models");
  std::set<std::string> kinds;
  for (const auto& m : models) kinds.insert(m.at("kind").get<std::string>());
  EXPECT_EQ(kinds, (std::set<std::string>{"embedding", "token-classification"}));
  EXPECT_EQ(
      post("/v1/embed", {{"model", minilm_dir().string()}, {"inputs", {"still embedding"}}}).status,
      200);
}

TEST_F(ServerTasks, TokenClassifyReturnsSeparatorEntities) {
  const HttpResponse r =
      post("/v1/token-classify",
           {{"model", chunker()}, {"inputs", {"One sentence. Another one here."}}});
  ASSERT_EQ(r.status, 200) << r.body;
  const json body = r.json();
  for (const auto& e : body.at("results").at(0)) {
    EXPECT_EQ(e.at("label"), "separator");
    EXPECT_LT(e.at("start").get<int64_t>(), e.at("end").get<int64_t>());
  }
}

TEST_F(ServerTasks, BadInputGetsClearErrors) {
  EXPECT_EQ(post("/v1/chunk", {{"model", chunker()}, {"inputs", json::array()}}).error_code(),
            "invalid_argument");
  EXPECT_EQ(post("/v1/chunk", {{"model", chunker()}, {"inputs", {"x"}}, {"max_length", "big"}})
                .error_code(),
            "invalid_argument");
  const HttpResponse no_head =
      post("/v1/chunk", {{"model", minilm_dir().string()}, {"inputs", {"x"}}});
  EXPECT_EQ(no_head.status, 422);
  EXPECT_EQ(no_head.error_code(), "unsupported");
  const HttpResponse wrong_kind =
      post("/v1/rerank", {{"model", chunker()}, {"query", "q"}, {"documents", {"d"}}});
  EXPECT_EQ(wrong_kind.error_code(), "unsupported");
  const HttpResponse bad_utf8 = http(socket(), "POST", "/v1/chunk",
                                     "{\"model\": \"" + chunker() + "\", \"inputs\": [\"\xff\"]}");
  EXPECT_GE(bad_utf8.status, 400);
  EXPECT_EQ(post("/v1/classify", {{"model", chunker()}, {"inputs", {"a"}}, {"pairs", {"b", "c"}}})
                .error_code(),
            "invalid_argument");
}

}  // namespace
}  // namespace hades::test
