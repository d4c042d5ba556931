// Models by id through the real program against a local fake hub: `hades pull` (progress, JSON
// events, errors) and `hades serve` loading by id (one download for concurrent loads, the
// `downloading` state, errors through the HTTP API and the C++ client, back-off after a failure).
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <thread>

#include "hades/client.hpp"
#include "server_harness.hpp"
#include "support/fake_hub.hpp"
#include "support/temp_dir.hpp"

namespace hades {
namespace {

namespace fs = std::filesystem;
using test::FakeHub;

constexpr const char* kModel = "hades-test/chonky";
constexpr const char* kWeightsSha256 =
    "99171024a94ee10d46d1287635a7a04df0c02dec11181de25ee0f5d2722ddd99";

struct HadesRun {
  int status = -1;
  std::string out;
  std::string err;
};

// `ENV hades ARGS`, its stdout and stderr in files (so, not a terminal).
HadesRun run_hades(const fs::path& dir, const std::string& env, const std::string& args) {
  const fs::path out = dir / "run.out";
  const fs::path err = dir / "run.err";
  const std::string command = "env " + env + " " + HADES_BINARY + " " + args + " >" + out.string() +
                              " 2>" + err.string() + " </dev/null";
  const int raw = std::system(command.c_str());
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, test::slurp(out), test::slurp(err)};
}

// ctest runs tests offline (HF_HUB_OFFLINE=1); the services started here talk to the fake hub.
// Set here rather than only in the child's added variables, as the first of two values wins.
void go_online() {
  ::setenv("HF_HUB_OFFLINE", "0", 1);
}

std::string hub_env(const FakeHub& hub, const fs::path& cache) {
  return "HF_ENDPOINT=" + hub.endpoint() + " HF_HUB_CACHE=" + cache.string() +
         " HF_TOKEN= HF_HUB_OFFLINE=0";
}

TEST(HubCli, PullFillsTheCacheAndSaysSoInPlainLines) {
  test::TempDir dir;
  FakeHub hub(dir.path(), {FakeHub::fixture(kModel, "tiny-distilbert-chonky")});
  const HadesRun run =
      run_hades(dir.path(), hub_env(hub, dir.path() / "cache"), "pull hades-test/chonky");
  ASSERT_EQ(run.status, 0) << run.err;
  const fs::path snapshot = run.out.substr(0, run.out.find('\n'));
  EXPECT_TRUE(fs::exists(snapshot / "model.safetensors")) << run.out;
  EXPECT_NE(run.err.find("pulling hades-test/chonky"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("model.safetensors ("), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find('\r'), std::string::npos) << "no bar redrawn when not on a terminal";
}

TEST(HubCli, PullPrintsJsonEvents) {
  test::TempDir dir;
  FakeHub hub(dir.path(), {FakeHub::fixture(kModel, "tiny-distilbert-chonky")},
              {"--slow-bps", "3000000"});
  const HadesRun run =
      run_hades(dir.path(), hub_env(hub, dir.path() / "cache"), "pull --json hades-test/chonky");
  ASSERT_EQ(run.status, 0) << run.err;
  std::istringstream lines(run.out);
  std::vector<nlohmann::json> events;
  for (std::string line; std::getline(lines, line);) events.push_back(nlohmann::json::parse(line));
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.front()["event"], "start");
  EXPECT_GT(events.front()["total_bytes"].get<uint64_t>(), 990080u);
  EXPECT_EQ(events.back()["event"], "ready");
  EXPECT_TRUE(fs::exists(fs::path(events.back()["path"].get<std::string>()) / "config.json"));
  const auto progress = std::count_if(events.begin(), events.end(),
                                      [](const auto& e) { return e["event"] == "progress"; });
  EXPECT_GE(progress, 1);
}

TEST(HubCli, PullErrorsAreActionable) {
  test::TempDir dir;
  FakeHub hub(dir.path(), {FakeHub::fixture("hades-test/gated", "tiny-distilbert-chonky")},
              {"--gated", "hades-test/gated"});
  const std::string env = hub_env(hub, dir.path() / "cache");
  HadesRun run = run_hades(dir.path(), env, "pull hades-test/missing");
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.err.find("[model_not_found]: Model not found: hades-test/missing"),
            std::string::npos)
      << run.err;
  run = run_hades(dir.path(), env, "pull hades-test/gated");
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.err.find("[access_denied]"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("HF_TOKEN"), std::string::npos) << run.err;
  run = run_hades(dir.path(), env + " HF_HUB_OFFLINE=1", "pull hades-test/gated");
  EXPECT_NE(run.err.find("offline mode is on"), std::string::npos) << run.err;
  run = run_hades(
      dir.path(),
      "HF_HUB_OFFLINE=0 HF_ENDPOINT=http://127.0.0.1:1 HF_HUB_CACHE=" + dir.path().string(),
      "pull hades-test/chonky");
  EXPECT_NE(run.err.find("[network_error]"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("not in the cache"), std::string::npos) << run.err;
}

TEST(HubService, TwoConcurrentLoadsDownloadOnceAndShowProgress) {
  go_online();
  test::SocketDir sockets;
  test::TempDir dir;
  FakeHub hub(dir.path(), {FakeHub::fixture(kModel, "tiny-distilbert-chonky")},
              {"--slow-bps", "700000"});
  test::ServeOptions options;
  options.env = {{"HF_ENDPOINT", hub.endpoint()},
                 {"HF_HUB_CACHE", (dir.path() / "c").string()},
                 {"HF_HUB_OFFLINE", "0"}};
  test::ServerProcess server(sockets.socket(), options);
  ASSERT_TRUE(server.wait_ready()) << server.output();
  std::vector<int> statuses(2, 0);
  std::vector<std::thread> loads;
  for (int i = 0; i < 2; ++i) {
    loads.emplace_back([&, i] {
      statuses[static_cast<size_t>(i)] =
          test::post_json(sockets.socket(), "/v1/models/load", {{"model", kModel}}).status;
    });
  }
  double seen_progress = -1;
  test::eventually(
      [&] {
        const auto list =
            nlohmann::json::parse(test::http(sockets.socket(), "GET", "/v1/models").body);
        for (const auto& m : list["models"]) {
          if (m["state"] == "downloading") seen_progress = m["progress"].get<double>();
        }
        return seen_progress > 0.1;
      },
      std::chrono::seconds(20));
  for (std::thread& t : loads) t.join();
  EXPECT_EQ(statuses, (std::vector<int>{200, 200}));
  EXPECT_GT(seen_progress, 0.1);
  EXPECT_LT(seen_progress, 1.0);
  EXPECT_EQ(hub.requests_matching("GET", kWeightsSha256).size(), 1u);
  std::printf("two concurrent loads: %zu GET of the weights, progress seen %.2f\n",
              hub.requests_matching("GET", kWeightsSha256).size(), seen_progress);
}

TEST(HubService, ErrorsReachTheClientAndTheServiceStaysUp) {
  go_online();
  test::SocketDir sockets;
  test::TempDir dir;
  FakeHub hub(dir.path(), {FakeHub::fixture("hades-test/gated", "tiny-distilbert-chonky")},
              {"--gated", "hades-test/gated", "--corrupt", "model.safetensors", "--model",
               FakeHub::fixture("hades-test/corrupt", "tiny-bert-h32-a2-l2-gelu")});
  test::ServeOptions options;
  options.env = {{"HF_ENDPOINT", hub.endpoint()},
                 {"HF_HUB_CACHE", (dir.path() / "c").string()},
                 {"HF_HUB_OFFLINE", "0"},
                 {"HF_TOKEN", ""}};
  test::ServerProcess server(sockets.socket(), options);
  ASSERT_TRUE(server.wait_ready()) << server.output();

  auto answer =
      test::post_json(sockets.socket(), "/v1/models/load", {{"model", "hades-test/missing"}});
  EXPECT_EQ(answer.status, 404);
  EXPECT_NE(answer.body.find("\"model_not_found\""), std::string::npos) << answer.body;
  answer = test::post_json(sockets.socket(), "/v1/models/load", {{"model", "hades-test/gated"}});
  EXPECT_EQ(answer.status, 403);
  EXPECT_NE(answer.body.find("\"access_denied\""), std::string::npos) << answer.body;
  EXPECT_NE(answer.body.find("HF_TOKEN"), std::string::npos) << answer.body;

  ClientOptions client_options;
  client_options.socket_path = sockets.socket().string();
  client_options.autostart = false;
  ModelClient client(client_options);
  try {
    client.load_model("hades-test/missing");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::model_not_found);
    EXPECT_NE(std::string(e.what()).find("Model not found: hades-test/missing"), std::string::npos);
  }
  try {
    client.load_model("hades-test/corrupt");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos) << e.what();
  }
  // The failure is remembered with its reason; a retry at once does not ask the hub again.
  const size_t asked = hub.requests().size();
  EXPECT_THROW(client.load_model("hades-test/corrupt"), Error);
  EXPECT_EQ(hub.requests().size(), asked);
  bool failed_listed = false;
  for (const LoadedModel& m : client.get_loaded_models()) {
    if (m.id == "hades-test/corrupt") failed_listed = m.state == "failed" && !m.error.empty();
  }
  EXPECT_TRUE(failed_listed);
  EXPECT_EQ(test::http(sockets.socket(), "GET", "/health").status, 200);
}

}  // namespace
}  // namespace hades
