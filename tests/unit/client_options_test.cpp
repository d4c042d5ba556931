// Client settings from the environment, the protocol's JSON, and the process and lock probes that
// service management stands on.
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <string>
#include <thread>

#include "client/service.hpp"
#include "client/wire.hpp"
#include "client_support.hpp"
#include "hades/client.hpp"
#include "support/temp_dir.hpp"

namespace hades {
namespace {

using test::ScopedEnv;

void expect_invalid(const std::function<void()>& call, const std::string& names) {
  try {
    call();
    ADD_FAILURE() << "accepted; expected an error naming " << names;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find(names), std::string::npos) << e.what();
  }
}

TEST(ClientOptions, DefaultsAreTheSeeds) {
  const ScopedEnv socket("HADES_MODEL_MGR_SOCKET", std::nullopt);
  const ScopedEnv autostart("HADES_RUNTIME_AUTOSTART", std::nullopt);
  const ClientOptions o = resolve_client_options();
  EXPECT_EQ(o.socket_path, "/tmp/hades_model_mgr.sock");
  EXPECT_EQ(o.autostart, true);
}

TEST(ClientOptions, EnvironmentIsReadAndChecked) {
  {
    const ScopedEnv socket("HADES_MODEL_MGR_SOCKET", "/tmp/other.sock");
    const ScopedEnv autostart("HADES_RUNTIME_AUTOSTART", "0");
    const ClientOptions o = resolve_client_options();
    EXPECT_EQ(o.socket_path, "/tmp/other.sock");
    EXPECT_EQ(o.autostart, false);
  }
  for (const char* bad : {"", "yes", "2", "true", " 1"}) {
    const ScopedEnv autostart("HADES_RUNTIME_AUTOSTART", bad);
    expect_invalid([] { resolve_client_options(); }, "HADES_RUNTIME_AUTOSTART");
  }
  for (const std::string& bad : {std::string(), "/tmp/" + std::string(200, 'x')}) {
    const ScopedEnv socket("HADES_MODEL_MGR_SOCKET", bad);
    expect_invalid([] { resolve_client_options(); }, "HADES_MODEL_MGR_SOCKET");
  }
}

TEST(ClientOptions, ExplicitValuesWinAndRelativePathsBecomeAbsolute) {
  const ScopedEnv autostart("HADES_RUNTIME_AUTOSTART", "nonsense");
  ClientOptions given;
  given.socket_path = "relative/s.sock";
  given.autostart = true;
  const ClientOptions o = resolve_client_options(given);
  EXPECT_EQ(o.socket_path, (std::filesystem::current_path() / "relative/s.sock").string());
  ClientOptions bad;
  bad.autostart = true;
  bad.request_timeout = std::chrono::milliseconds(0);
  expect_invalid([&] { resolve_client_options(bad); }, "request_timeout");
}

TEST(ClientOptions, TheHadesProgramIsFoundOrNamed) {
  {
    const ScopedEnv bin("HADES_BIN", "/nonexistent/hades");
    expect_invalid([] { client::find_hades_binary(""); }, "HADES_BIN");
  }
  {
    const ScopedEnv bin("HADES_BIN", "/bin/sh");
    EXPECT_EQ(client::find_hades_binary(""), "/bin/sh");
  }
  test::TempDir dir;
  const std::string not_a_program = (dir.path() / "hades.txt").string();
  test::write_file(not_a_program, "text");
  std::filesystem::permissions(not_a_program, std::filesystem::perms::owner_read);
  expect_invalid([&] { client::find_hades_binary(not_a_program); }, not_a_program);
  const ScopedEnv bin("HADES_BIN", std::nullopt);
  // Without HADES_BIN the build's own binary is found (tests/ has no hades beside it), or, in a
  // build that has not linked it yet, the error says how to name it.
  try {
    EXPECT_EQ(client::find_hades_binary("").filename(), "hades");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::not_found);
    EXPECT_NE(std::string(e.what()).find("set HADES_BIN"), std::string::npos) << e.what();
  }
}

TEST(ClientWire, EveryCodeNameMapsBack) {
  for (int i = 0; i <= static_cast<int>(ErrorCode::internal); ++i) {
    const auto code = static_cast<ErrorCode>(i);
    EXPECT_EQ(client::error_code_from_name(error_code_name(code)), code);
  }
  EXPECT_FALSE(client::error_code_from_name("no_such_code").has_value());
}

TEST(ClientWire, StatusAnswersAreReadLeniently) {
  const ServiceStatus status = client::parse_status(
      R"({"running":true,"pid":42,"socket":"/tmp/s","version":"0.1.0","uptime_seconds":3.5,)"
      R"("device":"cpu","device_note":"no CUDA","limits":{"max_models":3,"max_memory":null},)"
      R"("stats":{"batches":10,"batched_requests":25},"models":[{"id":"a","state":"failed",)"
      R"("error":"bad file","unknown_field":[1,2]}],"future_field":{}})");
  EXPECT_TRUE(status.running);
  EXPECT_EQ(status.pid, 42);
  EXPECT_EQ(status.device_note, "no CUDA");
  EXPECT_EQ(status.limits.at("max_models"), "3");
  EXPECT_EQ(status.limits.at("max_memory"), "null");
  EXPECT_EQ(status.stats.at("batched_requests"), "25");
  ASSERT_EQ(status.models.size(), 1u);
  EXPECT_EQ(status.models[0].state, "failed");
  EXPECT_EQ(status.models[0].error, "bad file");
}

TEST(ClientWire, DownloadProgressAndHubErrorsAreRead) {
  const std::vector<LoadedModel> models =
      client::parse_models(R"({"models":[{"id":"org/m","state":"downloading","progress":0.25,)"
                           R"("downloaded_bytes":250,"total_bytes":1000}]})");
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0].state, "downloading");
  EXPECT_DOUBLE_EQ(models[0].progress, 0.25);
  EXPECT_EQ(models[0].downloaded_bytes, 250u);
  EXPECT_EQ(models[0].total_bytes, 1000u);
  // Without an error body, the status alone names the code.
  EXPECT_EQ(client::error_from_response({403, {}, "<html>"}, "load").code(),
            ErrorCode::access_denied);
  EXPECT_EQ(client::error_from_response({502, {}, ""}, "load").code(), ErrorCode::network_error);
}

TEST(ClientWire, ClassifierAnswersAreRead) {
  const ClassificationResult classified = client::parse_classification(
      R"({"model":"m","results":[{"label":"pos","score":0.75,)"
      R"("scores":[{"label":"pos","score":0.75},{"label":"neg","score":0.25}]}]})");
  ASSERT_EQ(classified.results.size(), 1u);
  EXPECT_EQ(classified.results[0].scores.at(1).label, "neg");
  const RerankResult ranked = client::parse_rerank(
      R"({"model":"m","results":[{"index":1,"score":0.9},{"index":0,"score":0.1}]})");
  ASSERT_EQ(ranked.results.size(), 2u);
  EXPECT_EQ(ranked.results[0].index, 1u);
  const ChunkingResult chunked = client::parse_chunking(
      R"({"model":"m","results":[{"chunks":[{"text":"a b","start":0,"end":3,"score":0.5},)"
      R"({"text":"","start":3,"end":3,"score":0}],"windows":1,"tokens":2}]})");
  ASSERT_EQ(chunked.results.at(0).chunks.size(), 2u);
  EXPECT_EQ(chunked.results[0].chunks[0].text, "a b");
  EXPECT_EQ(chunked.results[0].tokens, 2);
  const TokenClassificationResult spans = client::parse_token_classification(
      R"({"model":"m","results":[[{"label":"separator","score":0.6,"start":2,"end":4}],[]]})");
  ASSERT_EQ(spans.entities.size(), 2u);
  EXPECT_EQ(spans.entities[0].at(0).end, 4);
  EXPECT_THROW(client::parse_chunking(R"({"model":"m","results":[{"chunks":[{"text":5}]}]})"),
               Error);
}

TEST(ClientWire, AnswersOfTheWrongShapeAreIoErrors) {
  for (const char* body : {"not json", "[1,2]", R"({"pid":"forty-two"})"}) {
    try {
      client::parse_status(body);
      ADD_FAILURE() << body;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::io_error) << body;
    }
  }
  EXPECT_THROW(client::parse_embedding(R"({"model":"m"})"), Error);
}

TEST(ClientService, LockHoldersAreFoundInProcLocks) {
  test::TempDir dir;
  const std::string path = (dir.path() / "s.sock.lock").string();
  EXPECT_FALSE(client::lock_holder_pid(path).has_value());  // no file
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  EXPECT_FALSE(client::lock_holder_pid(path).has_value());  // nobody holds it
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  EXPECT_EQ(client::lock_holder_pid(path), ::getpid());
  ::close(fd);
  EXPECT_FALSE(client::lock_holder_pid(path).has_value());
}

TEST(ClientService, ExitedProcessesAreNotAliveEvenUnreaped) {
  EXPECT_TRUE(client::process_alive(::getpid()));
  const pid_t child = ::fork();
  if (child == 0) _exit(0);
  // Unreaped, the child is a zombie: kill(pid, 0) still succeeds, yet it has exited.
  for (int i = 0; i < 500 && client::process_alive(child); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_FALSE(client::process_alive(child));
  ::waitpid(child, nullptr, 0);
  EXPECT_FALSE(client::process_alive(child));
  EXPECT_FALSE(client::process_alive(0));
  EXPECT_FALSE(client::process_alive(-1));
}

// A process whose main thread has exited while another thread runs on is alive: its main thread
// is a zombie, as it is for a moment while SIGKILL takes down a multithreaded daemon that still
// holds its listening socket.
TEST(ClientService, AProcessIsAliveWhileAnyOfItsThreadsRuns) {
  const pid_t child = ::fork();
  if (child == 0) {
    std::thread([] {
      for (;;) ::pause();
    }).detach();
    // The exit system call ends this thread alone (pthread_exit would unwind into gtest).
    ::syscall(SYS_exit, 0);
  }
  ASSERT_GT(child, 0);
  // Wait until the child's main thread has become a zombie, leaving its second thread.
  const std::string leader = "/proc/" + std::to_string(child) + "/stat";
  bool leader_exited = false;
  for (int i = 0; i < 1000 && !leader_exited; ++i) {
    std::ifstream stat(leader);
    std::string text;
    std::getline(stat, text);
    const size_t name_end = text.rfind(')');
    leader_exited =
        name_end != std::string::npos && name_end + 2 < text.size() && text[name_end + 2] == 'Z';
    if (!leader_exited) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const bool alive_with_one_thread = client::process_alive(child);
  // Killed whatever happened above, so that a failure leaves no child behind.
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  ::waitpid(child, nullptr, 0);
  ASSERT_TRUE(leader_exited);
  EXPECT_TRUE(alive_with_one_thread) << "its second thread still ran";
  EXPECT_FALSE(client::process_alive(child));
}

}  // namespace
}  // namespace hades
