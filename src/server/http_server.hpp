// HTTP/1.1 over listening sockets (the Unix socket, and the TCP listener when asked for), on
// Boost.Beast/Asio.
//
// A few I/O threads run every socket operation asynchronously, so hundreds of idle or slow
// connections cost memory, not threads; each connection has a read timeout (a whole request, or
// the idle time of a kept-alive connection) and a write timeout. Requests whose route may wait on
// the engine run on a separate worker pool (the engine's calls block), and their replies are
// posted back to the connection. Limits (server_options.hpp) are checked before any work.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <vector>

#include "server/api_key.hpp"

#include "core/unique_fd.hpp"
#include "server/log.hpp"
#include "server/metrics.hpp"
#include "server/router.hpp"
#include "server/server_options.hpp"

namespace hades::server {

// A bound, listening stream socket the server accepts on.
struct Listener {
  UniqueFd fd;
  int family = AF_UNIX;  // AF_UNIX, AF_INET or AF_INET6
  // Set: every request but those to the routes the router keeps open must carry this key.
  std::shared_ptr<const ApiKey> api_key;
};

class HttpServer {
 public:
  // The server owns the LISTENERS from here.
  HttpServer(Router& router, Logger& log, const ServerOptions& options,
             std::vector<Listener> listeners);
  ~HttpServer();  // stops the threads if stop() was not called
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Starts the threads and accepting.
  void start();

  // Stops accepting and closes connections that are waiting for a request; requests that arrive
  // on open connections from now on are answered 503 shutting_down, with Connection: close.
  void begin_shutdown();

  // Waits until every request that was read has been answered, or DEADLINE. True when idle.
  bool wait_until_idle(std::chrono::steady_clock::time_point deadline);

  // Waits for the worker pool's calls to return, then stops the I/O threads and closes every
  // connection.
  void stop();

  ServerGauges gauges() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hades::server
