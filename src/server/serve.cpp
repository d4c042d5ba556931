#include "server/serve.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "core/version.hpp"
#include "hades/error.hpp"
#include "server/http_server.hpp"
#include "server/lifecycle.hpp"
#include "server/log.hpp"
#include "server/router.hpp"

namespace hades::server {
namespace {

using Clock = std::chrono::steady_clock;

std::string describe_limits(const runtime::EngineConfig& engine, const std::string& device) {
  return "device " + device + ", max_models " + std::to_string(engine.max_models) +
         ", max_memory " +
         (engine.max_memory_bytes ? std::to_string(*engine.max_memory_bytes) + " bytes" : "none");
}

std::string allowed_uids_note(const ServerOptions& server) {
  std::string uids;
  for (const uid_t uid : server.allowed_uids) {
    if (!uids.empty()) uids += ',';
    uids += std::to_string(uid);
  }
  return "the socket serves only uids " + uids + " (--allowed-uids, HADES_ALLOWED_UIDS)";
}

// Waits for the requests in flight, giving up at the drain timeout or on a second signal.
bool drain_requests(HttpServer& server, ShutdownSignals& signals, Clock::time_point deadline,
                    Logger& log) {
  const size_t in_flight = server.gauges().requests_in_flight;
  log.info("stopped accepting; waiting for " + std::to_string(in_flight) + " request(s) in flight");
  while (
      !server.wait_until_idle(std::min(deadline, Clock::now() + std::chrono::milliseconds(100)))) {
    if (Clock::now() >= deadline) {
      log.error("drain timed out with " + std::to_string(server.gauges().requests_in_flight) +
                " request(s) still in flight");
      return false;
    }
    if (signals.wait(std::chrono::milliseconds(0))) {
      log.warn("second stop signal: not waiting for the " +
               std::to_string(server.gauges().requests_in_flight) + " request(s) in flight");
      return false;
    }
  }
  return true;
}

// The TCP listener, when asked for. An address others can reach needs the API key, or the
// operator's explicit --insecure.
std::optional<TcpListening> open_tcp_listener(const ServeOptions& options, Logger& log) {
  if (!options.listen) return std::nullopt;
  TcpListening tcp = listen_on_tcp(*options.listen);
  if (!tcp.loopback && !options.api_key && !options.insecure) {
    throw Error(ErrorCode::invalid_argument,
                "refusing to listen on " + tcp.address +
                    ", reachable from other machines, without an API key: set HADES_API_KEY or "
                    "--api-key-file, or pass --insecure to serve it open");
  }
  if (!options.api_key)
    log.warn("the TCP listener " + tcp.address + " takes requests without a key");
  return tcp;
}

// Loads the preloaded models one after another, in the background: the service answers (and
// /ready says what it waits for) meanwhile. A failed load is logged and shows in /ready.
std::thread start_preloads(runtime::Engine& engine, const std::vector<PreloadModel>& preload,
                           PreloadStatus& status, Logger& log) {
  return std::thread([&engine, &preload, &status, &log] {
    for (size_t i = 0; i < preload.size(); ++i) {
      const PreloadModel& model = preload[i];
      try {
        const runtime::LoadedModel info = engine.load_model(model.model, model.options);
        status.loaded(i);
        log.info("preloaded " + model.model + " (" + info.dtype + ", " +
                 std::to_string(info.memory_bytes) + " bytes)");
      } catch (const Error& e) {
        status.failed(i, std::string(error_code_name(e.code())) + ": " + e.what());
        log.error("cannot preload " + model.model + " [" + std::string(error_code_name(e.code())) +
                  "]: " + e.what());
      }
    }
  });
}

// After the stop signal: /ready turns 503 at once, and the service goes on serving for the
// shutdown delay (a second signal cuts it short) before the drain.
void announce_shutdown(Router& router, ShutdownSignals& signals, std::chrono::milliseconds delay,
                       Logger& log) {
  router.set_draining();
  if (delay <= std::chrono::milliseconds::zero()) return;
  log.info("not ready; serving " + std::to_string(delay.count()) + " ms more before the drain");
  if (signals.wait(delay)) log.warn("second stop signal: draining now");
}

void run(const ServeOptions& options, ShutdownSignals& signals, Logger& log) {
  auto engine = std::make_unique<runtime::Engine>(options.engine);
  engine->set_eviction_log([&log](const std::string& message) { log.info(message); });
  const runtime::EngineStats stats = engine->stats();
  if (!stats.device_note.empty()) log.info(stats.device_note);
  std::optional<TcpListening> tcp = open_tcp_listener(options, log);
  const auto preload_status = std::make_shared<PreloadStatus>(options.preload);
  ServiceInfo info{.version = service_version(),
                   .socket_path = options.socket_path.string(),
                   .api_key = options.api_key != nullptr,
                   .default_model = options.default_model,
                   .preload = preload_status,
                   .pid = static_cast<long>(::getpid()),
                   .limits = options.server};
  if (tcp) info.tcp_addresses.push_back(tcp->address);
  Router router(*engine, log, std::move(info));
  ListeningSocket socket = listen_on_socket(options.socket_path, log);
  std::vector<Listener> listeners;
  listeners.push_back(Listener{.fd = std::move(socket.fd), .family = AF_UNIX, .api_key = nullptr});
  if (tcp) {
    listeners.push_back(
        Listener{.fd = std::move(tcp->fd), .family = tcp->family, .api_key = options.api_key});
  }
  if (!options.server.allowed_uids.empty()) log.info(allowed_uids_note(options.server));
  HttpServer server(router, log, options.server, std::move(listeners));
  server.start();
  log.info("ready: accepting on " + options.socket_path.string() +
           (tcp ? " and " + tcp->address + (options.api_key ? " (API key required)" : "") : "") +
           " (" + describe_limits(options.engine, stats.device) + ")");

  std::thread preloads = start_preloads(*engine, options.preload, *preload_status, log);

  const int signal_number = signals.wait().value_or(SIGTERM);
  log.info(std::string(strsignal(signal_number)) + ": shutting down");
  announce_shutdown(router, signals, options.shutdown_delay, log);
  const Clock::time_point deadline = Clock::now() + options.drain_timeout;
  server.begin_shutdown();
  if (!drain_requests(server, signals, deadline, log)) {
    // Worker threads are inside engine calls that cannot be interrupted; the engine cannot be
    // destroyed under them. Leave without them, but leave no socket behind.
    socket.file.remove();
    log.error("exiting with status 1 without unloading");
    std::_Exit(1);
  }
  engine->drain(std::chrono::duration_cast<std::chrono::milliseconds>(
      std::max(deadline - Clock::now(), Clock::duration::zero())));
  preloads.join();  // a load under way finishes; the draining engine refuses the next ones
  server.stop();
  const size_t models = engine->get_loaded_models().size();
  engine.reset();
  log.info("unloaded " + std::to_string(models) + " model(s)");
  socket.file.remove();
  log.info("stopped");
}

}  // namespace

const char* service_version() noexcept {
  return kVersion;
}

void serve(const ServeOptions& options) {
  prepare_process();
  ShutdownSignals signals;  // before any thread starts
  const DaemonLock lock = DaemonLock::acquire(options.socket_path);
  Logger log(options.log_path.empty() ? log_path_for(options.socket_path) : options.log_path,
             options.log_to_stderr);
  log.info(std::string("hades ") + service_version() + " starting (pid " +
           std::to_string(::getpid()) + ")");
  try {
    run(options, signals, log);
  } catch (const Error& e) {
    log.error(std::string("cannot serve [") + std::string(error_code_name(e.code())) +
              "]: " + e.what());
    throw;
  } catch (const std::exception& e) {
    log.error(std::string("cannot serve: ") + e.what());
    throw;
  }
}

}  // namespace hades::server
