// The routes of the protocol (docs/protocol.md) behind one handler skeleton: match the route,
// parse and validate the JSON body, call the engine, serialize the result; any hades::Error
// becomes the protocol's error body with the status http_status() gives its code. Every answer,
// refusals by the HTTP layer included, is counted in the metrics.
//
// The router knows nothing of sockets: the HTTP layer hands it a method, a target and a body.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/runtime.hpp"
#include "hades/error.hpp"
#include "server/log.hpp"
#include "server/metrics.hpp"
#include "server/preload.hpp"
#include "server/requests.hpp"
#include "server/server_options.hpp"

namespace hades::server {

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::optional<int> retry_after_seconds;  // sent as Retry-After (429 overloaded)
  std::string allow;  // sent as Allow (405 method_not_allowed): the methods the route takes
};

// What the service says about itself in /health and /v1/status.
struct ServiceInfo {
  std::string version;
  std::string socket_path;
  std::vector<std::string> tcp_addresses;  // where the TCP listener is bound, if it is
  bool api_key = false;                    // whether TCP requests need the API key
  std::string default_model;               // the model of TEI and OpenAI requests that name none
  std::shared_ptr<const PreloadStatus> preload;  // the models /ready waits for; may be null
  long pid = 0;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  ServerOptions limits;
};

class Router {
 public:
  Router(runtime::Engine& engine, Logger& log, ServiceInfo info);

  // From now on /ready answers 503: the service is about to stop (the first step of a drain).
  void set_draining() { draining_ = true; }

  // The HTTP layer's gauges (in-flight requests, connections), read by /metrics and /v1/status.
  void set_gauge_source(std::function<ServerGauges()> source) { gauges_ = std::move(source); }

  // Whether the route METHOD TARGET names may wait on the engine (loads, inference): such
  // requests run on the worker pool and count against the in-flight limit; the others (health,
  // status, listings, metrics) answer at once.
  bool is_blocking(std::string_view method, std::string_view target) const;

  // Whether a request to METHOD TARGET on a listener with an API key must carry it: all do but
  // the probes of orchestrators and monitors (/health, /metrics), and requests no route takes.
  bool needs_key(std::string_view method, std::string_view target) const;

  // The skeleton every request goes through.
  // CANCELLED, when given, is set by the HTTP layer once the client has closed its connection.
  HttpReply handle(std::string_view method, std::string_view target, std::string_view body,
                   const runtime::CancelFlag& cancelled = {});

  // The answer to a request the HTTP layer refuses before routing (overloaded, shutting down, too
  // large), counted like any other.
  HttpReply refuse(std::string_view method, std::string_view target, const Error& error);

  // The API whose shapes a route's answers take: hades's own, OpenAI's, or TEI's.
  enum class Dialect { hades, openai, tei };

  // An error reply: DIALECT's body, the code's status, Retry-After when overloaded.
  HttpReply error_reply(const Error& error, Dialect dialect = Dialect::hades) const;

  Metrics& metrics() { return metrics_; }

  // How a route answers, and who may call it (the columns of the route table).
  enum class Answer { at_once, blocking };  // blocking: may wait on the engine
  enum class Access { open, key };          // key: needs the API key where one is set

 private:
  struct Route {
    std::string_view method;
    std::string_view path;
    Answer answer;
    Access access;
    Dialect dialect;
    HttpReply (Router::*run)(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  };
  static const Route* find(std::string_view method, std::string_view target);
  static Dialect dialect_of(const Route* route);
  static Error no_route_error(std::string_view method, std::string_view target);
  static std::string allowed_methods(std::string_view target);
  void record(const Route* route, const HttpReply& reply,
              std::chrono::steady_clock::time_point start);
  double uptime_seconds() const;

  HttpReply health(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  HttpReply ready(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  HttpReply status(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  HttpReply models(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  HttpReply load(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  HttpReply classify(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  HttpReply rerank(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  HttpReply token_classify(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  HttpReply chunk(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  HttpReply unload(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  HttpReply embed(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  HttpReply tokenize(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  HttpReply metrics_text(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  // Other servers' APIs (router_compat.cpp).
  HttpReply openai_embeddings(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  HttpReply tei_root(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  HttpReply tei_embed(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  HttpReply tei_rerank(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  HttpReply tei_predict(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  HttpReply tei_tokenize(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  HttpReply tei_decode(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  HttpReply tei_info(const nlohmann::json& body, const runtime::CancelFlag& cancelled);
  RequestLimits request_limits() const {
    return RequestLimits{.max_inputs = info_.limits.max_inputs};
  }

  static const Route kRoutes[];

  runtime::Engine& engine_;
  Logger& log_;
  ServiceInfo info_;
  Metrics metrics_;
  std::function<ServerGauges()> gauges_ = [] { return ServerGauges{}; };
  std::atomic<bool> draining_{false};
};

// The path of a request target, without its query string.
std::string_view target_path(std::string_view target);

}  // namespace hades::server
