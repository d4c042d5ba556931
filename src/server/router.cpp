#include "server/router.hpp"

#include <algorithm>
#include <new>

#include "server/compat_responses.hpp"
#include "server/http_status.hpp"
#include "server/json_text.hpp"
#include "server/requests.hpp"
#include "server/responses.hpp"

namespace hades::server {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

HttpReply json_reply(const json& body) {
  return HttpReply{.body = dump_lenient(body)};
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string describe(std::string_view method, std::string_view target) {
  return std::string(method) + " " + std::string(target_path(target));
}

}  // namespace

using Answer = Router::Answer;
using Access = Router::Access;
using Dialect = Router::Dialect;
// Every route, once. The OpenAI and TEI routes are translations onto the same engine calls.
const Router::Route Router::kRoutes[] = {
    {"GET", "/health", Answer::at_once, Access::open, Dialect::hades, &Router::health},
    {"GET", "/ready", Answer::at_once, Access::open, Dialect::hades, &Router::ready},
    {"GET", "/v1/status", Answer::at_once, Access::key, Dialect::hades, &Router::status},
    {"GET", "/v1/models", Answer::at_once, Access::key, Dialect::hades, &Router::models},
    {"POST", "/v1/models/load", Answer::blocking, Access::key, Dialect::hades, &Router::load},
    {"POST", "/v1/models/unload", Answer::blocking, Access::key, Dialect::hades, &Router::unload},
    {"POST", "/v1/embed", Answer::blocking, Access::key, Dialect::hades, &Router::embed},
    {"POST", "/v1/tokenize", Answer::blocking, Access::key, Dialect::hades, &Router::tokenize},
    {"POST", "/v1/classify", Answer::blocking, Access::key, Dialect::hades, &Router::classify},
    {"POST", "/v1/rerank", Answer::blocking, Access::key, Dialect::hades, &Router::rerank},
    {"POST", "/v1/token-classify", Answer::blocking, Access::key, Dialect::hades,
     &Router::token_classify},
    {"POST", "/v1/chunk", Answer::blocking, Access::key, Dialect::hades, &Router::chunk},
    {"GET", "/metrics", Answer::at_once, Access::open, Dialect::hades, &Router::metrics_text},
    {"POST", "/v1/embeddings", Answer::blocking, Access::key, Dialect::openai,
     &Router::openai_embeddings},
    {"POST", "/", Answer::blocking, Access::key, Dialect::tei, &Router::tei_root},
    {"POST", "/embed", Answer::blocking, Access::key, Dialect::tei, &Router::tei_embed},
    {"POST", "/rerank", Answer::blocking, Access::key, Dialect::tei, &Router::tei_rerank},
    {"POST", "/predict", Answer::blocking, Access::key, Dialect::tei, &Router::tei_predict},
    {"POST", "/tokenize", Answer::blocking, Access::key, Dialect::tei, &Router::tei_tokenize},
    {"POST", "/decode", Answer::blocking, Access::key, Dialect::tei, &Router::tei_decode},
    {"GET", "/info", Answer::blocking, Access::key, Dialect::tei, &Router::tei_info},
};

Router::Dialect Router::dialect_of(const Route* route) {
  return route == nullptr ? Dialect::hades : route->dialect;
}

std::string_view target_path(std::string_view target) {
  return target.substr(0, target.find('?'));
}

Router::Router(runtime::Engine& engine, Logger& log, ServiceInfo info)
    : engine_(engine), log_(log), info_(std::move(info)) {}

const Router::Route* Router::find(std::string_view method, std::string_view target) {
  const std::string_view path = target_path(target);
  for (const Route& route : kRoutes) {
    if (route.method == method && route.path == path) return &route;
  }
  return nullptr;
}

std::string Router::allowed_methods(std::string_view target) {
  std::string methods;
  for (const Route& route : kRoutes) {
    if (route.path != target_path(target)) continue;
    methods += (methods.empty() ? "" : ", ") + std::string(route.method);
  }
  return methods;
}

// For a request no route takes: method_not_allowed where its path takes other methods (RFC 9110
// §15.5.6), saying which; not_found where no route has its path.
Error Router::no_route_error(std::string_view method, std::string_view target) {
  const std::string allowed = allowed_methods(target);
  if (allowed.empty()) return Error(ErrorCode::not_found, "no route " + describe(method, target));
  return Error(ErrorCode::method_not_allowed,
               "no route " + describe(method, target) + " (use " + allowed + ")");
}

bool Router::is_blocking(std::string_view method, std::string_view target) const {
  const Route* route = find(method, target);
  return route != nullptr && route->answer == Answer::blocking;
}

bool Router::needs_key(std::string_view method, std::string_view target) const {
  const Route* route = find(method, target);
  return route == nullptr || route->access == Access::key;
}

HttpReply Router::error_reply(const Error& error, Dialect dialect) const {
  HttpReply reply{.status = http_status(error.code())};
  switch (dialect) {
    case Dialect::hades: reply.body = error_body(error.code(), error.what()); break;
    case Dialect::openai: reply.body = openai_error_body(error); break;
    case Dialect::tei: reply.body = tei_error_body(error); break;
  }
  if (error.code() == ErrorCode::overloaded) {
    reply.retry_after_seconds = info_.limits.retry_after_seconds;
  }
  return reply;
}

HttpReply Router::handle(std::string_view method, std::string_view target, std::string_view body,
                         const runtime::CancelFlag& cancelled) {
  const Clock::time_point start = Clock::now();
  const Route* route = find(method, target);
  HttpReply reply;
  try {
    if (route == nullptr) throw no_route_error(method, target);
    const json request = route->method == "POST" ? parse_json_body(body) : json();
    reply = (this->*route->run)(request, cancelled);
  } catch (const Error& e) {
    reply = error_reply(e, dialect_of(route));
  } catch (const std::bad_alloc&) {
    reply = error_reply(Error(ErrorCode::out_of_memory, "the server ran out of memory"),
                        dialect_of(route));
  } catch (const std::exception& e) {
    reply = error_reply(Error(ErrorCode::internal, e.what()), dialect_of(route));
  }
  if (reply.status == http_status(ErrorCode::method_not_allowed)) {
    reply.allow = allowed_methods(target);
  }
  // Errors are logged with their body; successes are only counted (a busy service would drown
  // its log otherwise).
  if (reply.status >= 400) {
    log_.write(reply.status >= 500 ? LogLevel::error : LogLevel::info,
               describe(method, target) + " -> " + std::to_string(reply.status) + " " + reply.body);
  }
  record(route, reply, start);
  return reply;
}

HttpReply Router::refuse(std::string_view method, std::string_view target, const Error& error) {
  const Clock::time_point start = Clock::now();
  const Route* route = find(method, target);
  HttpReply reply = error_reply(error, dialect_of(route));
  record(route, reply, start);
  return reply;
}

void Router::record(const Route* route, const HttpReply& reply, Clock::time_point start) {
  metrics_.record(route == nullptr ? "unmatched" : route->path, reply.status, Clock::now() - start);
}

double Router::uptime_seconds() const {
  return seconds_since(info_.started);
}

HttpReply Router::health(const json&, const runtime::CancelFlag&) {
  return json_reply(
      {{"status", "ok"}, {"version", info_.version}, {"uptime_seconds", uptime_seconds()}});
}

// Readiness for orchestrators: 503 with the reason until every preloaded model is ready, and from
// the moment a stop signal arrives; /health stays the liveness check.
HttpReply Router::ready(const json&, const runtime::CancelFlag&) {
  std::vector<std::string> waiting;
  if (draining_) waiting.emplace_back("the service is shutting down");
  std::vector<std::string> preload;
  if (info_.preload) {
    preload = info_.preload->models();
    for (std::string& reason : info_.preload->waiting()) waiting.push_back(std::move(reason));
  }
  json body = {{"ready", waiting.empty()}, {"preload", preload}};
  if (!waiting.empty()) body["reasons"] = waiting;
  return HttpReply{.status = waiting.empty() ? 200 : 503, .body = dump_lenient(body)};
}

HttpReply Router::status(const json&, const runtime::CancelFlag&) {
  const runtime::EngineStats stats = engine_.stats();
  const runtime::EngineConfig& config = engine_.config();
  const ServerGauges gauges = gauges_();
  const ServerOptions& o = info_.limits;
  json models = json::array();
  for (const runtime::LoadedModel& info : engine_.get_loaded_models())
    models.push_back(model_info_json(info));
  const json limits = {
      {"max_models", config.max_models},
      {"max_memory_bytes",
       config.max_memory_bytes ? json(*config.max_memory_bytes) : json(nullptr)},
      {"max_batch_tokens", config.max_batch_tokens},
      {"max_queued_requests", config.max_queued_requests},
      {"max_queue_delay_ms", config.max_queue_delay.count()},
      {"max_body_bytes", o.max_body_bytes},
      {"max_header_bytes", o.max_header_bytes},
      {"max_inputs", o.max_inputs},
      {"max_in_flight", o.max_in_flight},
      {"max_connections", o.max_connections},
      {"read_timeout_ms", o.read_timeout.count()},
      {"write_timeout_ms", o.write_timeout.count()},
  };
  const json server_stats = {
      {"requests", metrics_.requests_total()},
      {"requests_in_flight", gauges.requests_in_flight},
      {"connections", gauges.connections},
      {"batches", stats.batches},
      {"batched_requests", stats.batched_requests},
      {"mean_batch_requests", stats.mean_batch_requests()},
      {"queued_jobs", stats.queued_jobs},
      {"queued_seconds", stats.queued_seconds},
      {"rejected_requests", stats.rejected_requests},
      {"dropped_jobs", stats.dropped_jobs},
      {"evictions", stats.evictions},
      {"expirations", stats.expirations},
      {"loads", stats.loads},
      {"load_failures", stats.load_failures},
      {"resident_bytes", stats.resident_bytes},
  };
  return json_reply({{"running", true},
                     {"pid", info_.pid},
                     {"socket", info_.socket_path},
                     {"tcp", {{"addresses", info_.tcp_addresses}, {"api_key", info_.api_key}}},
                     {"version", info_.version},
                     {"uptime_seconds", uptime_seconds()},
                     {"device", stats.device},
                     {"device_note", stats.device_note},
                     {"limits", limits},
                     {"models", models},
                     {"stats", server_stats}});
}

HttpReply Router::models(const json&, const runtime::CancelFlag&) {
  json models = json::array();
  json data = json::array();  // OpenAI's list of models, beside hades's own
  for (const runtime::LoadedModel& info : engine_.get_loaded_models()) {
    models.push_back(model_info_json(info));
    if (info.state == runtime::ModelState::failed) continue;
    data.push_back({{"id", info.id}, {"object", "model"}, {"created", 0}, {"owned_by", "hades"}});
  }
  return json_reply({{"models", models}, {"object", "list"}, {"data", data}});
}

HttpReply Router::load(const json& body, const runtime::CancelFlag&) {
  const LoadRequest request = parse_load_request(body);
  const Clock::time_point start = Clock::now();
  const runtime::LoadedModel info = engine_.load_model(request.model, request.options);
  log_.info("model " + request.model + " ready on " + info.device + " (" +
            std::to_string(info.memory_bytes) + " bytes" + (info.pinned ? ", pinned" : "") +
            "; request took " + std::to_string(seconds_since(start)) + " s)");
  return json_reply({{"model", model_info_json(info)}});
}

HttpReply Router::unload(const json& body, const runtime::CancelFlag&) {
  const std::string model = parse_unload_request(body);
  engine_.unload_model(model);
  log_.info("model " + model + " unloaded");
  return json_reply({{"model", model}, {"unloaded", true}});
}

HttpReply Router::embed(const json& body, const runtime::CancelFlag& cancelled) {
  runtime::EmbedRequest request =
      parse_embed_request(body, RequestLimits{.max_inputs = info_.limits.max_inputs});
  request.cancelled = cancelled;
  return HttpReply{.body = embed_response_body(engine_.embed(request))};
}

HttpReply Router::tokenize(const json& body, const runtime::CancelFlag&) {
  const runtime::TokenizeRequest request =
      parse_tokenize_request(body, RequestLimits{.max_inputs = info_.limits.max_inputs});
  return HttpReply{.body = tokenize_response_body(engine_.tokenize(request))};
}

HttpReply Router::classify(const json& body, const runtime::CancelFlag& cancelled) {
  runtime::ClassifyRequest request =
      parse_classify_request(body, RequestLimits{.max_inputs = info_.limits.max_inputs});
  request.cancelled = cancelled;
  return HttpReply{.body = classify_response_body(engine_.classify(request))};
}

HttpReply Router::rerank(const json& body, const runtime::CancelFlag& cancelled) {
  RerankRequest request =
      parse_rerank_request(body, RequestLimits{.max_inputs = info_.limits.max_inputs});
  request.pairs.cancelled = cancelled;
  return HttpReply{.body = rerank_response_body(engine_.classify(request.pairs), request)};
}

HttpReply Router::token_classify(const json& body, const runtime::CancelFlag& cancelled) {
  runtime::TokenClassifyRequest request =
      parse_token_classify_request(body, RequestLimits{.max_inputs = info_.limits.max_inputs});
  request.cancelled = cancelled;
  return HttpReply{.body = token_classify_response_body(engine_.token_classify(request))};
}

HttpReply Router::chunk(const json& body, const runtime::CancelFlag& cancelled) {
  runtime::ChunkRequest request =
      parse_chunk_request(body, RequestLimits{.max_inputs = info_.limits.max_inputs});
  request.cancelled = cancelled;
  return HttpReply{.body = chunk_response_body(engine_.chunk(request))};
}

HttpReply Router::metrics_text(const json&, const runtime::CancelFlag&) {
  ServerGauges gauges = gauges_();
  gauges.uptime_seconds = uptime_seconds();
  return HttpReply{.content_type = "text/plain; version=0.0.4; charset=utf-8",
                   .body = metrics_.render(gauges, engine_.stats(), engine_.get_loaded_models())};
}

}  // namespace hades::server
