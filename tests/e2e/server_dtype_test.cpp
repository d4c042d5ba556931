// The load request's `dtype` through the real `hades serve`: an int8 load answers and lists its
// dtype, embeds close to the in-process fp32 model, keeps its dtype for loads without one, and a
// load asking for another dtype is 409 conflict naming the loaded one; bf16 on a CPU without it is
// 400 invalid_argument naming what the CPU lacks.
#include <memory>
#include <string>
#include <vector>

#include "compute/backend.hpp"
#include "e2e/server_harness.hpp"
#include "models/embedding_model.hpp"
#include "support/compare.hpp"
#include "support/paths.hpp"

namespace hades::test {
namespace {

using nlohmann::json;

TEST(ServerDtype, Int8RoundTripsThroughTheService) {
  SocketDir dir;
  ServerProcess server(dir.socket(), ServeOptions{});
  ASSERT_TRUE(server.wait_ready()) << server.output();
  const std::string model = minilm_dir().string();

  const HttpResponse load =
      post_json(dir.socket(), "/v1/models/load", {{"model", model}, {"dtype", "int8"}});
  ASSERT_EQ(load.status, 200) << load.body;
  EXPECT_EQ(load.json()["model"]["dtype"], "int8");
  const HttpResponse list = http(dir.socket(), "GET", "/v1/models");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.json()["models"][0]["dtype"], "int8");
  const HttpResponse again = post_json(dir.socket(), "/v1/models/load", {{"model", model}});
  EXPECT_EQ(again.json()["model"]["dtype"], "int8");

  const std::vector<std::string> texts = {"The cat sits outside.", "A man plays guitar."};
  const HttpResponse embed =
      post_json(dir.socket(), "/v1/embed", {{"model", model}, {"inputs", texts}});
  ASSERT_EQ(embed.status, 200) << embed.body;
  const Embeddings fp32 = EmbeddingModel::load(minilm_dir())->embed(texts);
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto row = embed.json()["embeddings"][i].get<std::vector<float>>();
    EXPECT_GT(cosine(row, fp32.row(static_cast<int64_t>(i))), 0.99) << texts[i];
  }

  const HttpResponse other =
      post_json(dir.socket(), "/v1/models/load", {{"model", model}, {"dtype", "fp32"}});
  EXPECT_EQ(other.status, 409) << other.body;
  EXPECT_NE(other.body.find("loaded in int8"), std::string::npos) << other.body;

  const std::string lack = cpu_precision_unavailable(LinearPrecision::bf16);
  if (!lack.empty()) {
    post_json(dir.socket(), "/v1/models/unload", {{"model", model}});
    const HttpResponse bf16 =
        post_json(dir.socket(), "/v1/models/load", {{"model", model}, {"dtype", "bf16"}});
    EXPECT_EQ(bf16.status, 400) << bf16.body;
    EXPECT_EQ(bf16.json()["error"]["code"], "invalid_argument");
    EXPECT_EQ(bf16.json()["error"]["message"], lack);
  }
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0) << server.output();
}

}  // namespace
}  // namespace hades::test
