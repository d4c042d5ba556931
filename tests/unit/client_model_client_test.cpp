// ModelClient against a scripted server: answers in pieces, kept-alive connections the server
// closed, silence, `overloaded`, the service's errors, and no service at all.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>

#include "client_support.hpp"
#include "hades/client.hpp"
#include "hades/engine.hpp"
#include "support/temp_dir.hpp"

namespace hades {
namespace {

using test::FakeAnswer;
using test::FakeServer;
using test::http_answer;

const std::string kModels =
    R"({"models":[{"id":"m","state":"ready","device":"cpu","memory_bytes":1000,"pinned":true}]})";

class ClientTest : public ::testing::Test {
 protected:
  ClientOptions options() const {
    ClientOptions o;
    o.socket_path = (dir_.path() / "s.sock").string();
    o.autostart = false;
    o.control_timeout = std::chrono::milliseconds(2000);
    o.request_timeout = std::chrono::milliseconds(5000);
    return o;
  }
  std::string socket() const { return (dir_.path() / "s.sock").string(); }

  test::TempDir dir_;
};

// The exact text (and code) the brief promises a client that finds no service.
void expect_connection_refused(const std::function<void()>& call, const std::string& socket) {
  try {
    call();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::connection_refused);
    EXPECT_EQ(std::string(e.what()), "Connection refused: the service is not running at " + socket +
                                         " (start it with `hades start`)");
  }
}

TEST_F(ClientTest, ParsesModelsAndKeepsTheConnection) {
  FakeServer server(socket(),
                    [](const std::string&) { return FakeAnswer{http_answer(200, kModels)}; });
  ModelClient client(options());
  for (int i = 0; i < 5; ++i) {
    const auto models = client.get_loaded_models();
    ASSERT_EQ(models.size(), 1u);
    EXPECT_EQ(models[0].id, "m");
    EXPECT_EQ(models[0].memory_bytes, 1000u);
    EXPECT_TRUE(models[0].pinned);
  }
  EXPECT_EQ(server.requests(), 5);
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(ClientTest, LoadSendsTheDtypeAndReadsItBack) {
  std::string body;
  FakeServer server(socket(), [&body](const std::string& request) {
    body = request.substr(request.find("\r\n\r\n") + 4);
    return FakeAnswer{
        http_answer(200, R"({"model":{"id":"m","state":"ready","device":"cpu","dtype":"int8",)"
                         R"("kind":"embedding","model_type":"xlm-roberta"}})")};
  });
  ModelClient client(options());
  const LoadedModel model = client.load_model("m", {.dtype = "int8"});
  EXPECT_EQ(model.dtype, "int8");
  EXPECT_EQ(model.model_type, "xlm-roberta");
  EXPECT_EQ(model.kind, "embedding");
  EXPECT_NE(body.find(R"("dtype":"int8")"), std::string::npos) << body;
  client.load_model("m");
  EXPECT_EQ(body.find("dtype"), std::string::npos) << body;  // absent: the service decides
}

TEST_F(ClientTest, AnswersWrittenByteByByteAreReassembled) {
  FakeServer server(socket(), [](const std::string&) {
    return FakeAnswer{http_answer(200, R"({"status":"ok","version":"9.9","uptime_seconds":12.5})"),
                      /*write_step=*/1};
  });
  ModelClient client(options());
  const HealthStatus health = client.health();
  EXPECT_TRUE(health.healthy);
  EXPECT_EQ(health.version, "9.9");
  EXPECT_DOUBLE_EQ(health.uptime_seconds, 12.5);
}

TEST_F(ClientTest, ConnectionsTheServerClosedAreReplacedSilently) {
  // The server closes after each answer without saying so, as after a keep-alive timeout.
  FakeServer server(socket(), [](const std::string&) {
    FakeAnswer answer{http_answer(200, kModels)};
    answer.close_after = true;
    return answer;
  });
  ModelClient client(options());
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the close arrive
    EXPECT_EQ(client.get_loaded_models().size(), 1u);
  }
  EXPECT_EQ(server.requests(), 3);
  EXPECT_EQ(server.connections(), 3);
}

TEST_F(ClientTest, ServiceErrorsKeepTheirCodeAndMessage) {
  const std::pair<int, const char*> cases[] = {
      {400, "invalid_argument"}, {404, "model_not_found"}, {409, "conflict"},
      {413, "too_large"},        {422, "input_invalid"},   {422, "unsupported"},
      {500, "invalid_model"},    {507, "out_of_memory"},   {503, "shutting_down"},
      {503, "loading"},          {500, "internal"},        {404, "not_found"}};
  for (const auto& [status, code] : cases) {
    const std::string body =
        std::string(R"({"error":{"code":")") + code + R"(","message":"because )" + code + "\"}}";
    FakeServer server(socket(),
                      [&](const std::string&) { return FakeAnswer{http_answer(status, body)}; });
    ModelClient client(options());
    try {
      client.load_model("x");
      ADD_FAILURE() << code;
    } catch (const Error& e) {
      EXPECT_EQ(error_code_name(e.code()), code);
      EXPECT_EQ(std::string(e.what()), std::string("because ") + code);
    }
  }
}

TEST_F(ClientTest, AnswersWithoutAnErrorBodyMapTheirStatus) {
  FakeServer server(socket(), [](const std::string&) {
    return FakeAnswer{"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops"};
  });
  ModelClient client(options());
  try {
    client.get_loaded_models();
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::internal);
    EXPECT_NE(std::string(e.what()).find("HTTP 500"), std::string::npos) << e.what();
  }
}

TEST_F(ClientTest, OverloadedIsRetriedAfterRetryAfter) {
  std::atomic<int> calls{0};
  FakeServer server(socket(), [&](const std::string&) {
    if (calls++ < 2) {
      return FakeAnswer{http_answer(429, R"({"error":{"code":"overloaded","message":"busy"}})",
                                    "Retry-After: 0\r\n")};
    }
    return FakeAnswer{http_answer(200, kModels)};
  });
  ModelClient client(options());
  EXPECT_EQ(client.get_loaded_models().size(), 1u);
  EXPECT_EQ(calls.load(), 3);

  calls = 0;
  ClientOptions impatient = options();
  impatient.overloaded_retries = 1;
  ModelClient once(impatient);
  try {
    once.get_loaded_models();
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::overloaded);
  }
  EXPECT_EQ(calls.load(), 2);
}

TEST_F(ClientTest, ASilentServiceTimesOut) {
  FakeServer server(socket(), [](const std::string&) {
    FakeAnswer answer{http_answer(200, "{}")};
    answer.delay_ms = 1500;
    return answer;
  });
  ClientOptions o = options();
  o.control_timeout = std::chrono::milliseconds(200);
  ModelClient client(o);
  const auto begin = std::chrono::steady_clock::now();
  try {
    client.status();
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::io_error);
    EXPECT_NE(std::string(e.what()).find("timed out"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::milliseconds(1400));
}

TEST_F(ClientTest, RequestBodiesFollowTheProtocol) {
  std::string seen;
  std::mutex mutex;
  FakeServer server(socket(), [&](const std::string& request) {
    const std::lock_guard lock(mutex);
    seen = request.substr(request.find("\r\n\r\n") + 4);
    return FakeAnswer{http_answer(
        200, R"({"model":"m","embeddings":[[1,2],[3,4.5]],"dimension":2,"usage":{"tokens":7}})")};
  });
  ModelClient client(options());
  EmbeddingOptions embed_options;
  embed_options.normalize = false;
  embed_options.pooling = "cls";
  const EmbeddingResult e = client.embed("org/name", {"a", "b"}, embed_options);
  EXPECT_EQ(e.dimension, 2);
  EXPECT_EQ(e.tokens, 7);
  ASSERT_EQ(e.embeddings.size(), 2u);
  EXPECT_FLOAT_EQ(e.embeddings[1][1], 4.5f);
  const std::lock_guard lock(mutex);
  EXPECT_EQ(
      seen,
      R"({"inputs":["a","b"],"model":"org/name","normalize":false,"pooling":"cls","truncate":true})");
}

TEST_F(ClientTest, InvalidUtf8IsRefusedBeforeSending) {
  ModelClient client(options());
  try {
    client.embed("m", {"ok", std::string("\xff\xfe")});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::input_invalid);
  }
}

TEST_F(ClientTest, NoServiceIsConnectionRefused) {
  ModelClient client(options());
  expect_connection_refused([&] { client.get_loaded_models(); }, socket());
  expect_connection_refused([&] { client.health(); }, socket());
}

TEST_F(ClientTest, AStaleSocketFileIsConnectionRefused) {
  // A socket file nobody listens on, as a killed daemon leaves it.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket().c_str(), sizeof(address.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ::close(fd);
  ModelClient client(options());
  expect_connection_refused([&] { client.embed("m", {"x"}); }, socket());
}

TEST_F(ClientTest, EngineReportsANotRunningServiceWithoutThrowing) {
  HaystackModelEngine engine(options());
  const ServiceStatus status = engine.status();
  EXPECT_FALSE(status.running);
  EXPECT_EQ(status.socket, socket());
  const HealthStatus health = engine.health_check();
  EXPECT_FALSE(health.healthy);
  EXPECT_EQ(health.status, "not running");
  EXPECT_NE(health.message.find("Connection refused"), std::string::npos);
  const StopResult stopped = engine.stop();
  EXPECT_FALSE(stopped.was_running);
}

TEST_F(ClientTest, AutostartReportsWhyTheServiceDidNotStart) {
  // A stand-in for `hades` that fails as the real one does on a bad setting.
  const auto fake = dir_.path() / "fake-hades";
  test::write_file(fake,
                   "#!/bin/sh\necho 'hades: error [invalid_argument]: HADES_MAX_MODELS must be a "
                   "positive integer, got x' >&2\nexit 1\n");
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  ClientOptions o = options();
  o.autostart = true;
  o.hades_binary = fake.string();
  ModelClient client(o);
  try {
    client.get_loaded_models();
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("HADES_MAX_MODELS must be a positive integer"),
              std::string::npos)
        << e.what();
  }
  // health and status never start a service.
  expect_connection_refused([&] { client.health(); }, socket());
}

TEST_F(ClientTest, AutostartOffNeverSpawns) {
  ClientOptions o = options();
  o.hades_binary = "/nonexistent/hades";  // would be an invalid_argument if it were looked at
  ModelClient client(o);
  expect_connection_refused([&] { client.load_model("m"); }, socket());
}

}  // namespace
}  // namespace hades
