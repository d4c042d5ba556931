// `hades serve`: the whole service in the foreground — lock, log, engine, socket, HTTP — until
// SIGTERM or SIGINT, then a drain and a clean exit (docs/operations.md).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>

#include "engine/runtime.hpp"
#include "server/api_key.hpp"
#include "server/preload.hpp"
#include "server/server_options.hpp"
#include "server/tcp_listener.hpp"

namespace hades::server {

struct ServeOptions {
  std::filesystem::path socket_path = "/tmp/hades_model_mgr.sock";
  std::filesystem::path log_path;  // empty: SOCKET.log
  bool log_to_stderr = true;
  runtime::EngineConfig engine;
  ServerOptions server;
  // After a stop signal: how long requests in flight may take to finish.
  std::chrono::milliseconds drain_timeout{30000};
  // The TCP listener beside the socket, off when empty; the same routes and limits.
  std::optional<ListenAddress> listen;
  // Set: TCP requests need it. Without one a non-loopback listen is refused unless `insecure`.
  std::shared_ptr<const ApiKey> api_key;
  bool insecure = false;
  // The model of OpenAI and TEI requests that name none (TEI clients never do); empty: none.
  std::string default_model;
  // Loaded in the background once the service accepts; /ready waits for them.
  std::vector<PreloadModel> preload;
  // After a stop signal, how long the service goes on serving with /ready at 503 before it stops
  // accepting, so that a load balancer takes it out of rotation first.
  std::chrono::milliseconds shutdown_delay{0};
};

// The version the service reports (/health, /v1/status).
const char* service_version() noexcept;

// Runs the service and returns once it has stopped cleanly after a signal: requests in flight
// answered, models unloaded, socket removed. Throws Error when it cannot start, notably
// conflict "already running (pid N) on SOCKET" when another daemon holds the socket. When the
// drain times out (or a second signal arrives) it removes its socket and exits the process with
// status 1 without waiting for the engine calls still running.
void serve(const ServeOptions& options);

}  // namespace hades::server
