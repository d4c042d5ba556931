// The seed's usage, end to end on a real daemon: through HaystackModelEngine (start → status →
// load → list → embed → unload → health → restart → stop), through the RAII scope (also left by
// an exception), and through the `hades` verbs with their exit codes and JSON shapes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "client_support.hpp"
#include "hades/engine.hpp"

namespace hades {
namespace {

namespace fs = std::filesystem;

using test::kMiniLmId;
using test::ServiceSandbox;

std::set<std::string> ids(const std::vector<LoadedModel>& models) {
  std::set<std::string> out;
  for (const LoadedModel& m : models) out.insert(m.id);
  return out;
}

class ClientSeedUsage : public ::testing::Test {
 protected:
  void SetUp() override { test::use_test_hf_cache(); }
  ServiceSandbox sandbox_;
};

TEST_F(ClientSeedUsage, EngineStartStatusLoadListUnloadHealthRestartStop) {
  HaystackModelEngine engine(sandbox_.options());
  const StartResult started = engine.start();
  EXPECT_FALSE(started.already_running);
  ASSERT_GT(started.pid, 0);
  EXPECT_TRUE(engine.start().already_running);  // a second start finds it

  const ServiceStatus status = engine.status();
  EXPECT_TRUE(status.running);
  EXPECT_EQ(status.pid, started.pid);
  EXPECT_EQ(status.socket, sandbox_.socket());
  EXPECT_FALSE(status.version.empty());
  EXPECT_EQ(status.device, "cpu");
  EXPECT_TRUE(status.models.empty());
  EXPECT_TRUE(status.limits.count("max_models")) << "limits are reported";

  // Two models: MiniLM by id from the Hugging Face cache, and the same files by folder path.
  const std::string folder = test::minilm_copy(sandbox_.dir() / "minilm-copy");
  const LoadedModel by_id = engine.load_model(kMiniLmId);
  EXPECT_EQ(by_id.id, kMiniLmId);
  EXPECT_EQ(by_id.state, "ready");
  EXPECT_GT(by_id.memory_bytes, 80u << 20);
  EXPECT_EQ(by_id.dimension, 384);
  LoadModelOptions pinned;
  pinned.pin = true;
  const LoadedModel by_path = engine.load_model(folder, pinned);
  EXPECT_TRUE(by_path.pinned);
  EXPECT_EQ(ids(engine.get_loaded_models()), (std::set<std::string>{kMiniLmId, folder}));

  const auto golden = test::minilm_golden();
  const EmbeddingResult e = engine.embed(kMiniLmId, {golden[2].text, golden[3].text});
  ASSERT_EQ(e.embeddings.size(), 2u);
  EXPECT_LE(test::max_abs_diff(e.embeddings[0], golden[2].embedding), 1e-5f);
  EXPECT_LE(test::max_abs_diff(e.embeddings[1], golden[3].embedding), 1e-5f);
  const TokenizationResult t = engine.tokenize(folder, {golden[3].text});
  ASSERT_EQ(t.encodings.size(), 1u);
  EXPECT_EQ(t.encodings[0].ids, golden[3].input_ids);

  engine.unload_model(kMiniLmId);
  EXPECT_EQ(ids(engine.get_loaded_models()), (std::set<std::string>{folder}));
  try {
    engine.unload_model(kMiniLmId);
    ADD_FAILURE() << "unloading twice succeeded";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::model_not_found);
  }
  const HealthStatus health = engine.health_check();
  EXPECT_TRUE(health.healthy) << health.message;
  EXPECT_EQ(health.status, "ok");

  const StartResult restarted = engine.restart();
  EXPECT_FALSE(restarted.already_running);
  EXPECT_NE(restarted.pid, started.pid);
  EXPECT_FALSE(client::process_alive(started.pid));
  EXPECT_TRUE(engine.get_loaded_models().empty()) << "a restart begins with no models";

  const StopResult stopped = engine.stop();
  EXPECT_TRUE(stopped.was_running);
  EXPECT_EQ(stopped.pid, restarted.pid);
  EXPECT_FALSE(client::process_alive(restarted.pid));
  EXPECT_FALSE(engine.status().running);
  EXPECT_FALSE(fs::exists(sandbox_.socket())) << "the daemon removes its socket";
  EXPECT_FALSE(engine.stop().was_running) << "stopping a stopped service succeeds";
}

TEST_F(ClientSeedUsage, ScopeStopsTheServiceAlsoOnAnException) {
  int64_t pid = 0;
  {
    ServiceScope scope(sandbox_.options());
    pid = scope.started().pid;
    EXPECT_EQ(scope->load_model(kMiniLmId).state, "ready");
    EXPECT_EQ(scope->get_loaded_models().size(), 1u);
  }
  EXPECT_FALSE(client::process_alive(pid));
  EXPECT_TRUE(test::daemons_of(sandbox_.socket()).empty());

  try {
    ServiceScope scope(sandbox_.options());
    pid = scope.started().pid;
    scope->load_model("no-such-org/no-such-model");  // throws model_not_found
    ADD_FAILURE() << "loaded a model that does not exist";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::model_not_found);
    EXPECT_NE(std::string(e.what()).find("Model not found: no-such-org/no-such-model"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(client::process_alive(pid)) << "the scope stopped the service while unwinding";

  // A scope that found the service running leaves it running when asked to.
  HaystackModelEngine engine(sandbox_.options());
  const StartResult outer = engine.start();
  { ServiceScope scope(engine, {.stop_only_if_started = true}); }
  EXPECT_TRUE(client::process_alive(outer.pid));
  engine.stop();
}

TEST_F(ClientSeedUsage, CliVerbsWithExitCodesAndJson) {
  const std::string socket = sandbox_.socket();
  auto cli = [&](std::vector<std::string> args, const std::string& input = "") {
    args.push_back("--socket");
    args.push_back(socket);
    return test::run_hades(args, sandbox_, input);
  };
  auto json_of = [](const test::RunResult& r) {
    return nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  };

  test::RunResult r = cli({"status"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("not running"), std::string::npos);
  r = cli({"status", "--json"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(json_of(r)["running"], false);

  r = cli({"start"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("started (pid "), std::string::npos) << r.out;
  r = cli({"start"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("already running (pid "), std::string::npos) << r.out;

  r = cli({"load", kMiniLmId, "--pin", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json_of(r)["model"]["id"], kMiniLmId);
  EXPECT_EQ(json_of(r)["model"]["pinned"], true);

  r = cli({"list", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto list = json_of(r);
  ASSERT_EQ(list["models"].size(), 1u) << r.out;
  for (const char* key : {"id", "state", "device", "memory_bytes", "pinned"}) {
    EXPECT_TRUE(list["models"][0].contains(key)) << key;
  }
  r = cli({"list"});
  EXPECT_NE(r.out.find("MODEL"), std::string::npos);
  EXPECT_NE(r.out.find(kMiniLmId), std::string::npos);

  r = cli({"status", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto status = json_of(r);
  EXPECT_EQ(status["running"], true);
  EXPECT_GT(status["pid"].get<int64_t>(), 0);
  EXPECT_EQ(status["socket"], socket);
  EXPECT_EQ(status["models"].size(), 1u);
  r = cli({"status"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* word : {"pid", "socket", "uptime", "version", "device", "limits", "models"}) {
    EXPECT_NE(r.out.find(word), std::string::npos) << word << " in\n" << r.out;
  }

  const auto golden = test::minilm_golden();
  r = cli({"embed", kMiniLmId, "-", "--json"}, golden[2].text + "\n" + golden[3].text + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto embedded = json_of(r);
  EXPECT_EQ(embedded["model"], kMiniLmId);
  ASSERT_EQ(embedded["embeddings"].size(), 2u);
  EXPECT_LE(
      test::max_abs_diff(embedded["embeddings"][1].get<std::vector<float>>(), golden[3].embedding),
      1e-5f);
  r = cli({"embed", kMiniLmId, "one", "two"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("2 embeddings of 384 dimensions"), std::string::npos) << r.out;

  r = cli({"tokenize", kMiniLmId, golden[3].text, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json_of(r)["encodings"][0]["ids"].get<std::vector<int64_t>>(), golden[3].input_ids);

  r = cli({"health"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = cli({"load", "no-such-org/no-such-model"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("[model_not_found]"), std::string::npos) << r.err;
  r = cli({"unload", kMiniLmId});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = cli({"restart"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = cli({"stop"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("stopped (pid "), std::string::npos);
  r = cli({"stop"});
  EXPECT_EQ(r.exit_code, 0) << "stop when not running succeeds";
  r = cli({"health"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Connection refused"), std::string::npos) << r.err;
  EXPECT_TRUE(test::daemons_of(socket).empty());
}

TEST_F(ClientSeedUsage, ModelServiceManagerIsAnAliasOfHades) {
  const fs::path script = fs::path(HADES_TEST_DATA_DIR).parent_path().parent_path() / "scripts" /
                          "model_service_manager";
  const std::string command = "HADES_BIN=" + std::string(HADES_BINARY) + " " + script.string() +
                              " status --socket " + sandbox_.socket() + " > /dev/null";
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3) << "status of a service that is not running";
}

}  // namespace
}  // namespace hades
