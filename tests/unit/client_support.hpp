// Helpers of the client unit tests: environment variables set for one scope, and a scripted
// HTTP server on a Unix socket that answers as a test says (split writes, closes, silence).
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace hades::test {

// Sets (or, with nullopt, unsets) NAME for the life of the object, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// What the fake server does with one request.
struct FakeAnswer {
  std::string bytes;         // written as they are; empty: close without answering
  size_t write_step = 0;     // >0: written STEP bytes at a time, with a pause between
  bool close_after = false;  // close the connection after answering (without saying so)
  int delay_ms = 0;          // wait this long before answering
};

inline std::string http_answer(int status, const std::string& body,
                               const std::string& extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" +
         extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// A server on a Unix socket; each request (headers and Content-Length body) goes to the handler.
class FakeServer {
 public:
  using Handler = std::function<FakeAnswer(const std::string& request)>;

  FakeServer(const std::string& path, Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    ::unlink(path.c_str());
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(listen_fd_, 64) != 0) {
      throw std::runtime_error("fake server: cannot listen on " + path);
    }
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~FakeServer() {
    stop_ = true;
    accept_thread_.join();
    for (std::thread& t : connection_threads_) t.join();
    ::close(listen_fd_);
  }
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  int connections() const { return connections_; }
  int requests() const { return requests_; }

 private:
  bool wait_readable(int fd) {
    while (!stop_) {
      pollfd entry{fd, POLLIN, 0};
      if (::poll(&entry, 1, 20) > 0) return true;
    }
    return false;
  }

  void accept_loop() {
    while (wait_readable(listen_fd_)) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++connections_;
      connection_threads_.emplace_back([this, fd] { serve(fd); });
    }
  }

  // One request from FD into REQUEST; false when the peer closed first.
  bool read_request(int fd, std::string& buffer, std::string& request) {
    for (;;) {
      const size_t head_end = buffer.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        size_t length = 0;
        const size_t at = buffer.find("Content-Length: ");
        if (at != std::string::npos && at < head_end) length = std::stoul(buffer.substr(at + 16));
        if (buffer.size() >= head_end + 4 + length) {
          request = buffer.substr(0, head_end + 4 + length);
          buffer.erase(0, head_end + 4 + length);
          return true;
        }
      }
      if (!wait_readable(fd)) return false;
      char chunk[4096];
      const ssize_t got = ::recv(fd, chunk, sizeof(chunk), 0);
      if (got <= 0) return false;
      buffer.append(chunk, static_cast<size_t>(got));
    }
  }

  void serve(int fd) {
    std::string buffer, request;
    while (read_request(fd, buffer, request)) {
      ++requests_;
      const FakeAnswer answer = handler_(request);
      if (answer.delay_ms > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(answer.delay_ms));
      if (answer.bytes.empty()) break;
      const size_t step = answer.write_step == 0 ? answer.bytes.size() : answer.write_step;
      for (size_t i = 0; i < answer.bytes.size(); i += step) {
        const size_t n = std::min(step, answer.bytes.size() - i);
        if (::send(fd, answer.bytes.data() + i, n, MSG_NOSIGNAL) < 0) break;
        if (answer.write_step != 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      if (answer.close_after) break;
    }
    ::close(fd);
  }

  Handler handler_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::thread accept_thread_;
  std::vector<std::thread> connection_threads_;  // touched by the accept thread only
};

}  // namespace hades::test
