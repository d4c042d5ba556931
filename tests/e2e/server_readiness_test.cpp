// Readiness and model lifetimes for orchestrators, on the real daemon: /ready waits for the
// preloaded models and turns 503 the moment a stop signal arrives, while /health stays the
// liveness check; a model's keep-alive unloads it after its last request, never during one.
#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "e2e/server_harness.hpp"
#include "support/paths.hpp"

namespace hades::test {
namespace {

using nlohmann::json;

std::string tiny_model(const char* name) {
  return (data_dir() / "models" / name).string();
}

bool listed(const std::filesystem::path& socket, const std::string& model) {
  const json models = http(socket, "GET", "/v1/models").json().at("models");
  return std::any_of(models.begin(), models.end(),
                     [&](const json& m) { return m.at("id") == model; });
}

TEST(ServerReadiness, ReadyOnlyOnceThePreloadsHaveLoaded) {
  SocketDir dir;
  const std::string good = tiny_model("tiny-bertcls-h32-a2-l2-rerank");
  const std::string missing = (dir.path() / "no-such-model").string();
  ServerProcess server(dir.socket(), {.args = {"--preload", minilm_dir().string() + "?dtype=int8," +
                                                                good + "?pin"}});
  ASSERT_TRUE(server.wait_ready()) << server.output();
  EXPECT_EQ(http(dir.socket(), "GET", "/health").status, 200);
  ASSERT_TRUE(eventually([&] { return http(dir.socket(), "GET", "/ready").status == 200; }))
      << http(dir.socket(), "GET", "/ready").body;
  // Ready means loaded, with the options each preload named.
  const json models = http(dir.socket(), "GET", "/v1/models").json().at("models");
  ASSERT_EQ(models.size(), 2u);
  for (const json& m : models) {
    EXPECT_EQ(m.at("state"), "ready");
    EXPECT_EQ(m.at("dtype"), m.at("id") == good ? "fp32" : "int8");
    EXPECT_EQ(m.at("pinned"), m.at("id") == good);
  }

  // A preload that cannot load keeps the service out of rotation, saying why; it stays alive.
  SocketDir other;
  ServerProcess failing(other.socket(), {.args = {"--preload", good + "," + missing}});
  ASSERT_TRUE(failing.wait_ready()) << failing.output();
  ASSERT_TRUE(eventually([&] {
    return http(other.socket(), "GET", "/ready").body.find("failed to load") != std::string::npos;
  }));
  const HttpResponse ready = http(other.socket(), "GET", "/ready");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find(missing), std::string::npos) << ready.body;
  EXPECT_EQ(http(other.socket(), "GET", "/health").status, 200);
}

TEST(ServerReadiness, StopSignalTurnsReadyOffBeforeTheDrain) {
  SocketDir dir;
  ServerProcess server(dir.socket(), {.args = {"--shutdown-delay", "30"}});
  ASSERT_TRUE(server.wait_ready()) << server.output();
  const std::string model = minilm_dir().string();
  ASSERT_EQ(post_json(dir.socket(), "/v1/models/load", {{"model", model}}).status, 200);
  ASSERT_EQ(http(dir.socket(), "GET", "/ready").status, 200);
  std::string text;
  for (int i = 0; i < 120; ++i) text += "serving embeddings over a socket ";
  HttpResponse in_flight;
  std::atomic<bool> done{false};
  std::thread client([&] {
    in_flight = post_json(dir.socket(), "/v1/embed",
                          {{"model", model}, {"inputs", std::vector<std::string>(64, text)}});
    done = true;
  });
  ASSERT_TRUE(eventually([&] {
    return http(dir.socket(), "GET", "/metrics").body.find("hades_http_requests_in_flight 2\n") !=
           std::string::npos;
  }));
  server.signal(SIGTERM);
  // Not ready at once, while the request still runs and other requests are still served.
  ASSERT_TRUE(eventually([&] { return http(dir.socket(), "GET", "/ready").status == 503; }));
  EXPECT_FALSE(done) << "the request finished before /ready turned 503";
  EXPECT_NE(http(dir.socket(), "GET", "/ready").body.find("shutting down"), std::string::npos);
  EXPECT_EQ(http(dir.socket(), "GET", "/health").status, 200);
  client.join();
  EXPECT_EQ(in_flight.status, 200) << in_flight.body;
  server.signal(SIGTERM);  // a second signal ends the delay
  EXPECT_EQ(server.wait_exit(), 0) << server.output();
}

TEST(ServerReadiness, KeepAliveUnloadsAfterTheLastRequestNeverDuringOne) {
  SocketDir dir;
  ServerProcess server(dir.socket());
  ASSERT_TRUE(server.wait_ready()) << server.output();
  const std::string model = minilm_dir().string();
  const HttpResponse loaded =
      post_json(dir.socket(), "/v1/models/load", {{"model", model}, {"keep_alive", 1}});
  ASSERT_EQ(loaded.status, 200) << loaded.body;
  EXPECT_EQ(loaded.json().at("model").at("keep_alive"), 1.0);
  // A request longer than the keep-alive: the model stays while it runs.
  std::string text;
  for (int i = 0; i < 120; ++i) text += "serving embeddings over a socket ";
  HttpResponse long_request;
  std::atomic<bool> done{false};
  std::thread client([&] {
    long_request = post_json(dir.socket(), "/v1/embed",
                             {{"model", model}, {"inputs", std::vector<std::string>(128, text)}});
    done = true;
  });
  bool stayed = true;
  while (!done && stayed) {
    stayed = listed(dir.socket(), model);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  client.join();
  EXPECT_EQ(long_request.status, 200) << long_request.body;
  EXPECT_TRUE(stayed);
  ASSERT_TRUE(eventually([&] { return !listed(dir.socket(), model); }, std::chrono::seconds(60)));
  EXPECT_GE(http(dir.socket(), "GET", "/v1/status").json().at("stats").at("expirations"), 1);
  // Pinned or forever (-1), a model stays.
  ASSERT_EQ(
      post_json(dir.socket(), "/v1/models/load", {{"model", model}, {"keep_alive", "-1"}}).status,
      200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_TRUE(listed(dir.socket(), model));
  EXPECT_EQ(
      post_json(dir.socket(), "/v1/models/load", {{"model", model}, {"keep_alive", "5x"}}).status,
      400);
}

}  // namespace
}  // namespace hades::test
