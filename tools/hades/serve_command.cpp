// `hades serve`: the service in the foreground until SIGTERM/SIGINT (`hades start` runs the same
// detached). Settings come from the environment as the seed names them (HADES_MODEL_MGR_SOCKET,
// HADES_MAX_MODELS, HADES_MAX_MEMORY, HADES_DEFAULT_DEVICE) and as hades adds them (HADES_LISTEN,
// HADES_API_KEY, ...); a flag overrides its variable.
#include <malloc.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "commands.hpp"
#include "engine/runtime.hpp"
#include "hades/error.hpp"
#include "hub/downloader.hpp"
#include "server/peer_credentials.hpp"
#include "server/serve.hpp"

namespace hades::cli {
namespace {

constexpr const char* kDefaultSocket = "/tmp/hades_model_mgr.sock";

struct ServeArgs {
  std::string socket;
  std::string log_file;
  bool quiet = false;
  size_t max_models = 0;
  std::string max_memory;
  std::string device;
  std::string max_body;
  size_t max_inputs = 0;
  size_t max_in_flight = 0;
  size_t max_connections = 0;
  size_t workers = 0;
  int64_t max_batch_tokens = 0;
  std::string max_queue_delay;
  double read_timeout_s = 0;
  double drain_timeout_s = 0;
  std::string listen;
  std::string api_key_file;
  bool insecure = false;
  std::string default_model;
  std::string preload;
  double shutdown_delay_s = 0;
  std::string allowed_uids;
};

// A variable that is set must say something: an empty one is an error naming it.
std::optional<std::string> environment_value(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  if (*value == '\0') {
    throw Error(ErrorCode::invalid_argument,
                std::string(name) + " is set but empty; unset it or give it a value");
  }
  return std::string(value);
}

// --listen, else HADES_LISTEN; --api-key-file, else HADES_API_KEY.
void read_tcp_settings(const ServeArgs& args, server::ServeOptions& options) {
  if (!args.listen.empty()) {
    options.listen = server::parse_listen_address(args.listen, "--listen");
  } else if (const auto listen = environment_value("HADES_LISTEN")) {
    options.listen = server::parse_listen_address(*listen, "HADES_LISTEN");
  }
  if (!args.api_key_file.empty()) {
    options.api_key =
        std::make_shared<server::ApiKey>(server::ApiKey::from_file(args.api_key_file));
  } else if (const auto key = environment_value("HADES_API_KEY")) {
    options.api_key =
        std::make_shared<server::ApiKey>(server::ApiKey::from_text(*key, "HADES_API_KEY"));
  }
  options.insecure = args.insecure;
  if (!args.default_model.empty()) {
    options.default_model = args.default_model;
  } else if (const auto model = environment_value("HADES_DEFAULT_MODEL")) {
    options.default_model = *model;
  }
  if (!args.preload.empty()) {
    options.preload = server::parse_preload_list(args.preload, "--preload");
  } else if (const auto preload = environment_value("HADES_PRELOAD")) {
    options.preload = server::parse_preload_list(*preload, "HADES_PRELOAD");
  }
  // A folder is named absolutely, as the clients send folders: the daemon's folder is not ours.
  std::error_code ignored;
  if (std::filesystem::is_directory(options.default_model, ignored)) {
    options.default_model = std::filesystem::absolute(options.default_model).lexically_normal();
  }
}

std::filesystem::path socket_path(const std::string& flag) {
  std::string path = flag;
  if (path.empty()) {
    const char* variable = std::getenv("HADES_MODEL_MGR_SOCKET");
    if (variable != nullptr && *variable == '\0') {
      throw Error(ErrorCode::invalid_argument,
                  "HADES_MODEL_MGR_SOCKET is set but empty; unset it or name a socket path");
    }
    path = variable != nullptr ? variable : kDefaultSocket;
  }
  // Absolute, so that status reports where the socket really is whatever the daemon's folder.
  return std::filesystem::absolute(path).lexically_normal();
}

std::chrono::milliseconds seconds_to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

server::ServeOptions serve_options(const ServeArgs& args, const CLI::App& command) {
  const auto given = [&](const char* flag) { return command.count(flag) > 0; };
  server::ServeOptions options;
  options.socket_path = socket_path(args.socket);
  options.log_path = args.log_file;
  options.log_to_stderr = !args.quiet;
  options.engine = runtime::engine_config_from_environment();
  // Read once: the hub's settings (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE, the cache) are the
  // service's for its whole life, as its other settings are.
  options.engine.resolve_model = [hub = hub_settings_from_environment()](
                                     const std::string& id,
                                     const runtime::EngineConfig::DownloadProgress& progress) {
    return resolve_model(
        id,
        [&progress](const DownloadEvent& event) {
          if (progress) progress(event.done_bytes, event.total_bytes);
        },
        hub);
  };
  if (given("--max-models")) options.engine.max_models = args.max_models;
  if (given("--max-memory"))
    options.engine.max_memory_bytes = runtime::parse_byte_size(args.max_memory, "--max-memory");
  if (given("--device")) options.engine.default_device = args.device;
  if (given("--max-batch-tokens")) options.engine.max_batch_tokens = args.max_batch_tokens;
  if (given("--max-queue-delay"))
    options.engine.max_queue_delay =
        runtime::parse_duration_ms(args.max_queue_delay, "--max-queue-delay");
  if (given("--max-body"))
    options.server.max_body_bytes = runtime::parse_byte_size(args.max_body, "--max-body");
  if (given("--max-inputs")) options.server.max_inputs = args.max_inputs;
  if (given("--max-in-flight")) options.server.max_in_flight = args.max_in_flight;
  if (given("--max-connections")) options.server.max_connections = args.max_connections;
  if (given("--workers")) options.server.worker_threads = args.workers;
  if (given("--read-timeout")) options.server.read_timeout = seconds_to_ms(args.read_timeout_s);
  if (given("--drain-timeout")) options.drain_timeout = seconds_to_ms(args.drain_timeout_s);
  if (given("--shutdown-delay")) options.shutdown_delay = seconds_to_ms(args.shutdown_delay_s);
  if (!args.allowed_uids.empty()) {
    options.server.allowed_uids = server::parse_uid_list(args.allowed_uids, "--allowed-uids");
  } else if (const auto uids = environment_value("HADES_ALLOWED_UIDS")) {
    options.server.allowed_uids = server::parse_uid_list(*uids, "HADES_ALLOWED_UIDS");
  }
  read_tcp_settings(args, options);
  return options;
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto* serve = app.add_subcommand(
      "serve", "Run the service in the foreground until SIGTERM or SIGINT (Ctrl-C)");
  auto args = std::make_shared<ServeArgs>();
  serve->add_option(
      "--socket", args->socket,
      "socket path (default: $HADES_MODEL_MGR_SOCKET, else /tmp/hades_model_mgr.sock)");
  serve->add_option("--log-file", args->log_file, "log file (default: SOCKET.log)");
  serve->add_flag("--quiet", args->quiet, "log to the log file only, not to stderr");
  serve
      ->add_option("--max-models", args->max_models,
                   "models kept loaded (default: $HADES_MAX_MODELS, else 3)")
      ->check(CLI::PositiveNumber);
  serve->add_option(
      "--max-memory", args->max_memory,
      "byte budget of loaded weights, e.g. 4GiB (default: $HADES_MAX_MEMORY, else none)");
  serve->add_option(
      "--device", args->device,
      "default device (default: $HADES_DEFAULT_DEVICE, else cuda:0, which falls back to cpu)");
  serve
      ->add_option("--max-batch-tokens", args->max_batch_tokens,
                   "token budget of one executor batch (4096)")
      ->check(CLI::PositiveNumber);
  serve->add_option("--max-queue-delay", args->max_queue_delay,
                    "longest estimated wait for the queued work before an embed request is "
                    "refused with 429, e.g. 500ms, 2s, 0 for none (default: "
                    "$HADES_MAX_QUEUE_DELAY, else 500ms)");
  serve->add_option("--max-body", args->max_body, "largest request body (16MiB)");
  serve->add_option("--max-inputs", args->max_inputs, "texts per request (1024)")
      ->check(CLI::PositiveNumber);
  serve
      ->add_option("--max-in-flight", args->max_in_flight,
                   "engine requests at once before 429 (512)")
      ->check(CLI::PositiveNumber);
  serve
      ->add_option("--max-connections", args->max_connections, "open connections before 429 (1024)")
      ->check(CLI::PositiveNumber);
  serve->add_option("--workers", args->workers, "threads running engine calls (64)")
      ->check(CLI::PositiveNumber);
  serve
      ->add_option("--read-timeout", args->read_timeout_s,
                   "seconds a client has to send a request (30)")
      ->check(CLI::PositiveNumber);
  serve
      ->add_option("--drain-timeout", args->drain_timeout_s,
                   "seconds requests in flight get to finish after SIGTERM (30)")
      ->check(CLI::PositiveNumber);
  serve->add_option("--listen", args->listen,
                    "also serve over TCP on HOST:PORT or [IPV6]:PORT (default: $HADES_LISTEN, "
                    "else no TCP)");
  serve->add_option("--api-key-file", args->api_key_file,
                    "a file whose first line is the key TCP requests must send as Authorization: "
                    "Bearer KEY (default: $HADES_API_KEY)");
  serve->add_option("--default-model", args->default_model,
                    "the model of OpenAI and TEI requests that name none (default: "
                    "$HADES_DEFAULT_MODEL, else none)");
  serve->add_option("--preload", args->preload,
                    "models to load at start, "
                    "MODEL[?dtype=D&pin&keep_alive=T&default_prompt_name=P][,MODEL...]; /ready "
                    "waits for them (default: $HADES_PRELOAD)");
  serve
      ->add_option("--shutdown-delay", args->shutdown_delay_s,
                   "seconds the service keeps serving with /ready at 503 after SIGTERM, before "
                   "the drain (0)")
      ->check(CLI::NonNegativeNumber);
  serve->add_option("--allowed-uids", args->allowed_uids,
                    "only these user ids, UID[,UID...], may connect on the socket; others are "
                    "closed unread (default: $HADES_ALLOWED_UIDS, else any the socket's mode "
                    "lets in)");
  serve->add_flag("--insecure", args->insecure,
                  "allow a TCP listener reachable from other machines without an API key");
  serve->callback([args, serve] {
    // glibc gives each thread that allocates its own arena and keeps freed memory there: with
    // dozens of request threads, a burst of requests left the peak RSS at twice the weights.
    // Two arenas measured the same throughput at half the peak (bench/compare.py).
    if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
    server::serve(serve_options(*args, *serve));
  });
}

}  // namespace hades::cli
