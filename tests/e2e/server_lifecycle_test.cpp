// The daemon's life on the machine (docs/operations.md): one server per socket, private socket,
// stale sockets replaced and live ones never removed, clean drain on SIGTERM, environment errors.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "e2e/server_harness.hpp"
#include "support/paths.hpp"

namespace hades::test {
namespace {

using nlohmann::json;

ino_t inode_of(const std::filesystem::path& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// A listening socket bound at PATH by this test process (not a hades, holds no lock).
class ForeignListener {
 public:
  explicit ForeignListener(const std::filesystem::path& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(fd_, 8) != 0) {
      throw std::runtime_error("cannot listen on " + path.string());
    }
  }
  ForeignListener(const ForeignListener&) = delete;
  ForeignListener& operator=(const ForeignListener&) = delete;
  ~ForeignListener() { close(); }
  // Closing without unlinking leaves exactly what a killed daemon leaves: a stale socket file.
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

TEST(ServerLifecycle, SocketIsPrivateAndFilesSitBesideIt) {
  SocketDir dir;
  ServerProcess server(dir.socket());
  ASSERT_TRUE(server.wait_ready()) << server.output();
  struct stat st {};
  ASSERT_EQ(::stat(dir.socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_uid, ::geteuid());
  EXPECT_EQ(slurp(dir.socket().string() + ".lock"), std::to_string(server.pid()) + "\n");
  EXPECT_TRUE(eventually(
      [&] { return slurp(dir.socket().string() + ".log").find("ready") != std::string::npos; }));
  EXPECT_NE(server.output().find("ready"), std::string::npos);  // and on stderr under serve

  server.signal(SIGINT);
  EXPECT_EQ(server.wait_exit(), 0) << server.output();
  EXPECT_FALSE(std::filesystem::exists(dir.socket()));
  EXPECT_EQ(slurp(dir.socket().string() + ".lock"), "");  // no dead pid left behind
}

TEST(ServerLifecycle, SecondServeIsRefusedAndLeavesTheLiveSocket) {
  SocketDir dir;
  ServerProcess first(dir.socket());
  ASSERT_TRUE(first.wait_ready()) << first.output();
  const ino_t inode = inode_of(dir.socket());

  ServerProcess second(dir.socket());
  EXPECT_EQ(second.wait_exit(), 1);
  EXPECT_NE(second.output().find("already running (pid " + std::to_string(first.pid()) + ")"),
            std::string::npos)
      << second.output();
  EXPECT_EQ(inode_of(dir.socket()), inode);
  EXPECT_EQ(http(dir.socket(), "GET", "/v1/status").json()["pid"], first.pid());
}

TEST(ServerLifecycle, RacingServesGiveExactlyOneServer) {
  SocketDir dir;
  std::vector<std::unique_ptr<ServerProcess>> racers;
  for (int i = 0; i < 8; ++i) racers.push_back(std::make_unique<ServerProcess>(dir.socket()));
  const auto exited = [&] {
    return std::count_if(racers.begin(), racers.end(), [](auto& r) { return r->exited(); });
  };
  ASSERT_TRUE(eventually([&] { return http(dir.socket(), "GET", "/health").status == 200; }));
  ASSERT_TRUE(eventually([&] { return exited() >= 7; }));
  EXPECT_EQ(exited(), 7);
  const pid_t winner = http(dir.socket(), "GET", "/v1/status").json()["pid"];
  for (auto& racer : racers) {
    if (racer->pid() == winner) {
      EXPECT_FALSE(racer->exited());
      continue;
    }
    EXPECT_EQ(racer->wait_exit(), 1);
    EXPECT_NE(racer->output().find("already running (pid " + std::to_string(winner) + ")"),
              std::string::npos)
        << racer->output();
  }
}

TEST(ServerLifecycle, StaleSocketOfAKilledServerIsReplaced) {
  SocketDir dir;
  {
    ServerProcess killed(dir.socket());
    ASSERT_TRUE(killed.wait_ready()) << killed.output();
    killed.signal(SIGKILL);
    EXPECT_EQ(killed.wait_exit(), 128 + SIGKILL);
  }
  ASSERT_TRUE(std::filesystem::exists(dir.socket()));  // left behind
  ServerProcess server(dir.socket());
  ASSERT_TRUE(server.wait_ready()) << server.output();
  EXPECT_EQ(http(dir.socket(), "GET", "/health").status, 200);
  EXPECT_NE(slurp(dir.socket().string() + ".log").find("removed the stale socket"),
            std::string::npos);
}

TEST(ServerLifecycle, LiveSocketOfAnotherProgramIsNeverRemoved) {
  SocketDir dir;
  ForeignListener listener(dir.socket());
  const ino_t inode = inode_of(dir.socket());
  ServerProcess server(dir.socket());
  EXPECT_EQ(server.wait_exit(), 1);
  EXPECT_NE(server.output().find("already running (pid " + std::to_string(::getpid()) + ")"),
            std::string::npos)
      << server.output();
  EXPECT_EQ(inode_of(dir.socket()), inode);
}

TEST(ServerLifecycle, PathThatIsNotASocketIsRefused) {
  SocketDir dir;
  { std::ofstream(dir.socket()) << "precious"; }
  ServerProcess server(dir.socket());
  EXPECT_EQ(server.wait_exit(), 1);
  EXPECT_NE(server.output().find("is not a socket"), std::string::npos) << server.output();
  EXPECT_EQ(slurp(dir.socket()), "precious");
}

TEST(ServerLifecycle, SocketOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file to another user";
  SocketDir dir;
  { ForeignListener stale(dir.socket()); }
  ASSERT_EQ(::chown(dir.socket().c_str(), 65534, 65534), 0);
  ServerProcess server(dir.socket());
  EXPECT_EQ(server.wait_exit(), 1);
  const std::string out = server.output();
  EXPECT_NE(out.find(dir.socket().string()), std::string::npos) << out;
  EXPECT_NE(out.find("uid 65534"), std::string::npos) << out;
  EXPECT_TRUE(std::filesystem::exists(dir.socket()));
}

TEST(ServerLifecycle, SigtermAnswersEveryRequestInFlightThenExits) {
  SocketDir dir;
  ServerProcess server(dir.socket());
  ASSERT_TRUE(server.wait_ready()) << server.output();
  const std::string model = minilm_dir().string();
  ASSERT_EQ(post_json(dir.socket(), "/v1/models/load", {{"model", model}}).status, 200);

  // Requests long enough (8 texts of 256 tokens each) to still run when the signal comes.
  std::string text;
  for (int i = 0; i < 120; ++i) text += "serving embeddings over a socket ";
  const json request = {{"model", model}, {"inputs", std::vector<std::string>(8, text)}};
  constexpr int kClients = 4;
  std::vector<HttpResponse> responses(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] { responses[i] = post_json(dir.socket(), "/v1/embed", request); });
  }
  // Wait until every request has been read by the server (the gauge counts the scrape itself).
  const bool all_in_flight = eventually([&] {
    const std::string metrics = http(dir.socket(), "GET", "/metrics").body;
    return metrics.find("hades_http_requests_in_flight " + std::to_string(kClients + 1) + "\n") !=
           std::string::npos;
  });
  server.signal(SIGTERM);
  for (std::thread& t : clients) t.join();
  EXPECT_TRUE(all_in_flight);
  for (const HttpResponse& r : responses) {
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["embeddings"].size(), 8u);
  }
  EXPECT_EQ(server.wait_exit(), 0) << server.output();
  EXPECT_FALSE(std::filesystem::exists(dir.socket()));
  const std::string log = slurp(dir.socket().string() + ".log");
  EXPECT_NE(log.find("unloaded 1 model(s)"), std::string::npos) << log;
  EXPECT_NE(log.find("stopped"), std::string::npos) << log;
}

TEST(ServerLifecycle, RunsWithStdioClosed) {
  SocketDir dir;
  ServerProcess server(dir.socket(), ServeOptions{.stdio = Stdio::closed});
  ASSERT_TRUE(server.wait_ready());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(http(dir.socket(), "GET", "/health").status, 200);
  EXPECT_EQ(http(dir.socket(), "GET", "/nowhere").status, 404);  // logs an error line
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0);
  EXPECT_NE(slurp(dir.socket().string() + ".log").find("stopped"), std::string::npos);
}

TEST(ServerLifecycle, SocketFromTheEnvironment) {
  SocketDir dir;
  ServerProcess server(dir.socket(),
                       ServeOptions{.env = {{"HADES_MODEL_MGR_SOCKET", dir.socket().string()}},
                                    .stdio = Stdio::dev_null,
                                    .pass_socket = false});
  ASSERT_TRUE(server.wait_ready());
  EXPECT_EQ(http(dir.socket(), "GET", "/v1/status").json()["socket"], dir.socket().string());
}

TEST(ServerLifecycle, InvalidEnvironmentNamesTheVariable) {
  SocketDir dir;
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"HADES_MAX_MODELS", "many"},
                                                        {"HADES_MAX_MEMORY", "4 parsecs"},
                                                        {"HADES_DEFAULT_DEVICE", "tpu:0"},
                                                        {"HADES_ALLOWED_UIDS", "root"}}) {
    SCOPED_TRACE(name);
    ServerProcess server(dir.socket(), ServeOptions{.env = {{name, value}}});
    EXPECT_EQ(server.wait_exit(), 1);
    EXPECT_NE(server.output().find(name), std::string::npos) << server.output();
    EXPECT_FALSE(std::filesystem::exists(dir.socket()));
  }
}

// With allowed uids, a peer whose uid is not listed has its connection closed unread (and
// logged), while the server goes on serving; listed, it is served.
TEST(ServerLifecycle, AllowedUidsCloseConnectionsFromOtherUids) {
  const std::string me = std::to_string(::getuid());
  const std::string other = std::to_string(::getuid() + 1);
  {
    SocketDir dir;
    ServerProcess server(dir.socket(), ServeOptions{.env = {{"HADES_ALLOWED_UIDS", other}}});
    ASSERT_TRUE(server.wait_ready()) << server.output();
    EXPECT_EQ(http(dir.socket(), "GET", "/health").status, 0);  // no answer: closed
    HttpConnection refused(dir.socket());
    EXPECT_TRUE(refused.closed_by_server());
    EXPECT_TRUE(eventually([&] {
      return server.output().find("closed a connection on the socket from uid " + me) !=
             std::string::npos;
    })) << server.output();
    server.signal(SIGTERM);
    EXPECT_EQ(server.wait_exit(), 0) << server.output();
  }
  SocketDir dir;
  ServerProcess server(dir.socket(), ServeOptions{.args = {"--allowed-uids", other + "," + me}});
  ASSERT_TRUE(server.wait_ready()) << server.output();
  EXPECT_EQ(http(dir.socket(), "GET", "/health").status, 200);
}

TEST(ServerLifecycle, SlowClientIsCutOffAtTheReadTimeout) {
  SocketDir dir;
  ServerProcess server(dir.socket(), ServeOptions{.args = {"--read-timeout", "1"}});
  ASSERT_TRUE(server.wait_ready()) << server.output();
  HttpConnection idle(dir.socket());
  HttpConnection slow(dir.socket());
  ASSERT_TRUE(slow.send_raw("POST /v1/embed HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"mo"));
  const auto start = Clock::now();
  EXPECT_TRUE(idle.closed_by_server());
  EXPECT_TRUE(slow.closed_by_server());
  EXPECT_LT(Clock::now() - start, 30s);
  EXPECT_EQ(http(dir.socket(), "GET", "/health").status, 200);
}

TEST(ServerLifecycle, OverloadIsAnswered429WithRetryAfter) {
  SocketDir dir;
  ServerProcess server(dir.socket(), ServeOptions{.args = {"--max-in-flight", "1"}});
  ASSERT_TRUE(server.wait_ready()) << server.output();
  const std::string model = minilm_dir().string();
  ASSERT_EQ(post_json(dir.socket(), "/v1/models/load", {{"model", model}}).status, 200);
  std::string text;
  for (int i = 0; i < 120; ++i) text += "keeping the only slot busy ";
  const json slow = {{"model", model}, {"inputs", std::vector<std::string>(16, text)}};
  // The slow request holds the one slot; a second engine request meanwhile is refused. Retried
  // in case the slow one finishes before the second arrives on a very slow machine.
  HttpResponse refused;
  for (int attempt = 0; attempt < 5 && refused.status != 429; ++attempt) {
    std::atomic<bool> done{false};
    std::thread busy([&] {
      post_json(dir.socket(), "/v1/embed", slow);
      done = true;
    });
    eventually([&] {
      return done ||
             http(dir.socket(), "GET", "/metrics").body.find("hades_http_requests_in_flight 2\n") !=
                 std::string::npos;
    });
    refused = post_json(dir.socket(), "/v1/tokenize", {{"model", model}, {"inputs", "x"}});
    busy.join();
  }
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(refused.error_code(), "overloaded");
  EXPECT_EQ(refused.header("retry-after"), "1");
  EXPECT_EQ(post_json(dir.socket(), "/v1/tokenize", {{"model", model}, {"inputs", "x"}}).status,
            200);
}

}  // namespace
}  // namespace hades::test
