// What the server e2e tests share: a short private temp folder for the socket, the real
// `hades serve` as a child process that is always reaped, and a small HTTP/1.1 client over the
// Unix socket (raw bytes, so that tests can send what no well-behaved client would).
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace hades::test {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Generous: these tests share two cores with whatever else runs.
constexpr auto kStartTimeout = 60s;
constexpr auto kExitTimeout = 60s;
constexpr int kIoTimeoutSeconds = 120;

// Lays FOLDER out as model ID in a Hugging Face cache, as huggingface_hub writes it: refs/main
// names the snapshot that holds the files.
inline void add_to_hf_cache(const std::filesystem::path& cache, const std::string& id,
                            const std::filesystem::path& folder) {
  constexpr const char* kCommit = "0123456789abcdef0123456789abcdef01234567";
  std::string repo = "models--" + id;
  repo.replace(repo.find('/'), 1, "--");
  const std::filesystem::path snapshot = cache / repo / "snapshots" / kCommit;
  std::filesystem::create_directories(snapshot);
  std::filesystem::copy(folder, snapshot, std::filesystem::copy_options::recursive);
  std::filesystem::create_directories(cache / repo / "refs");
  std::ofstream(cache / repo / "refs" / "main") << kCommit;
}

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The resident set of process PID in KiB (VmRSS of /proc/PID/status), or -1.
inline int64_t rss_kib(long pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  int64_t value = 0;
  while (status >> key) {
    if (key == "VmRSS:") {
      status >> value;
      return value;
    }
    status.ignore(1 << 16, '\n');
  }
  return -1;
}

// Polls CONDITION every 10 ms until it holds or TIMEOUT passes.
template <typename Condition>
bool eventually(Condition&& condition, std::chrono::milliseconds timeout = 60s) {
  const auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// A fresh folder under /tmp with a short name: a socket path must fit in 107 bytes.
class SocketDir {
 public:
  SocketDir() {
    char pattern[] = "/tmp/hades-e2e-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  SocketDir(const SocketDir&) = delete;
  SocketDir& operator=(const SocketDir&) = delete;
  ~SocketDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path socket() const { return path_ / "s.sock"; }

 private:
  std::filesystem::path path_;
};

// A connected AF_UNIX stream socket, or -1.
inline int connect_unix(const std::filesystem::path& socket) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket.c_str(), sizeof(address.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  const timeval timeout{kIoTimeoutSeconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  return fd;
}

struct HttpResponse {
  int status = 0;  // 0: no response (the connection closed or timed out first)
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  nlohmann::json json() const { return nlohmann::json::parse(body); }
  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  std::string error_code() const {
    const auto j = nlohmann::json::parse(body, nullptr, false);
    return j.is_object() && j.contains("error") ? j["error"].value("code", "") : "";
  }
};

inline std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// One client connection; requests on it are kept alive unless the server closes.
class HttpConnection {
 public:
  explicit HttpConnection(const std::filesystem::path& socket) : fd_(connect_unix(socket)) {}
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;
  ~HttpConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return fd_ >= 0; }

  // Sends BYTES as they are; false when the peer stopped reading (EPIPE) or another error.
  bool send_raw(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  HttpResponse request(const std::string& method, const std::string& target,
                       const std::string& body = "", const std::string& extra_headers = "") {
    std::string head = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers;
    if (method == "POST") {
      head += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
              "\r\n";
    }
    send_raw(head + "\r\n" + body);  // on failure, the server's answer may still be there to read
    return read_response();
  }

  HttpResponse read_response() {
    HttpResponse response;
    size_t header_end = std::string::npos;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return response;
    }
    parse_head(buffer_.substr(0, header_end), response);
    buffer_.erase(0, header_end + 4);
    const std::string length = response.header("content-length");
    if (response.status / 100 == 1) return response;  // interim: no body
    if (length.empty()) {
      while (fill()) {
      }
      response.body = std::move(buffer_);
      buffer_.clear();
      return response;
    }
    const size_t size = std::stoul(length);
    while (buffer_.size() < size) {
      if (!fill()) return HttpResponse{};
    }
    response.body = buffer_.substr(0, size);
    buffer_.erase(0, size);
    return response;
  }

  // True when the server closes the connection (EOF) before sending anything more, within the
  // socket's receive timeout.
  bool closed_by_server() {
    char byte;
    const ssize_t n = ::recv(fd_, &byte, 1, 0);
    return n == 0;
  }

 private:
  bool fill() {
    char chunk[65536];
    for (;;) {
      const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buffer_.append(chunk, static_cast<size_t>(n));
      return true;
    }
  }

  static void parse_head(const std::string& head, HttpResponse& response) {
    size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    if (status_line.size() >= 12) response.status = std::stoi(status_line.substr(9, 3));
    while (line_end != std::string::npos) {
      const size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line = head.substr(start, line_end - start);
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      response.headers[lower(line.substr(0, colon))] =
          line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }

  int fd_;
  std::string buffer_;
};

// One request on its own connection.
inline HttpResponse http(const std::filesystem::path& socket, const std::string& method,
                         const std::string& target, const std::string& body = "") {
  HttpConnection connection(socket);
  if (!connection.connected()) return {};
  return connection.request(method, target, body, "Connection: close\r\n");
}

inline HttpResponse post_json(const std::filesystem::path& socket, const std::string& target,
                              const nlohmann::json& body) {
  return http(socket, "POST", target, body.dump());
}

enum class Stdio { log_file, dev_null, closed };

struct ServeOptions {
  std::vector<std::string> args;                         // after `serve`
  std::vector<std::pair<std::string, std::string>> env;  // added to this process's
  Stdio stdio = Stdio::log_file;
  bool pass_socket = true;  // add --socket SOCKET
};

// `hades serve --socket SOCKET ...` as a child process. The destructor stops it (SIGTERM, then
// SIGKILL) and reaps it; PR_SET_PDEATHSIG kills it if the test process dies first. Start these
// from the test's main thread: the death signal follows the thread that forked.
class ServerProcess {
 public:
  ServerProcess(const std::filesystem::path& socket, const ServeOptions& options = {})
      : socket_(socket), output_(socket.string() + "." + std::to_string(next_id()) + ".out") {
    std::vector<std::string> args = {HADES_BINARY, "serve"};
    if (options.pass_socket) {
      args.push_back("--socket");
      args.push_back(socket.string());
    }
    args.insert(args.end(), options.args.begin(), options.args.end());
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    for (const auto& [name, value] : options.env) env.push_back(name + "=" + value);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    for (auto& e : env) envp.push_back(e.data());
    argv.push_back(nullptr);
    envp.push_back(nullptr);
    const std::string output = output_.string();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {  // only async-signal-safe calls from here to exec
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (options.stdio == Stdio::closed) {
        ::close(0);
        ::close(1);
        ::close(2);
      } else {
        const int in = ::open("/dev/null", O_RDONLY);
        const int out = options.stdio == Stdio::dev_null
                            ? ::open("/dev/null", O_WRONLY)
                            : ::open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        ::dup2(in, 0);
        ::dup2(out, 1);
        ::dup2(out, 2);
      }
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() {
    if (!exit_status_ && pid_ > 0) {
      ::kill(pid_, SIGTERM);
      if (!wait_exit(30s)) {
        ::kill(pid_, SIGKILL);
        wait_exit(30s);
      }
    }
  }

  pid_t pid() const { return pid_; }
  const std::filesystem::path& socket() const { return socket_; }
  // What it wrote to stdout and stderr (Stdio::log_file).
  std::string output() const { return slurp(output_); }

  // Waits until the socket accepts; false when the process exits first or TIMEOUT passes.
  bool wait_ready(std::chrono::milliseconds timeout = kStartTimeout) {
    return eventually(
               [&] {
                 if (exited()) return true;
                 const int fd = connect_unix(socket_);
                 if (fd < 0) return false;
                 ::close(fd);
                 return true;
               },
               timeout) &&
           !exited();
  }

  void signal(int signal_number) { ::kill(pid_, signal_number); }

  // The exit status (128 + N when killed by signal N), or nullopt when still running at TIMEOUT.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = kExitTimeout) {
    eventually([&] { return exited(); }, timeout);
    return exit_status_;
  }

  bool exited() {
    if (exit_status_) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }

 private:
  static int next_id() {
    static int id = 0;
    return id++;
  }

  std::filesystem::path socket_;
  std::filesystem::path output_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
};

}  // namespace hades::test
